"""Built-in datasets that need no download, so `cr data=diabetes` works on any machine.

Each loader returns raw (X, Y) arrays per split; the data module validates and scales them exactly
as it does arrays read from a directory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from crescendo.errors import ConfigError

#: Seed of the fixed 80/10/10 split, so every run (and every trial of a search) sees the same rows.
SPLIT_SEED = 0


def diabetes() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's bundled diabetes data (442 rows, 10 features → 1 target), split 80/10/10.

    Loaded unscaled (`scaled=False`): input scaling is the data module's job (`normalize_inputs`).
    Split sizes: train 353, val 44, test 45.
    """
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    x, y = load_diabetes(return_X_y=True, scaled=False)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.2, random_state=SPLIT_SEED)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=SPLIT_SEED)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


BUILTINS: dict[str, Callable[[], dict[str, tuple[np.ndarray, np.ndarray]]]] = {"diabetes": diabetes}


def load_builtin(name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Raw splits of the built-in dataset `name`; an unknown name raises ConfigError listing the choices."""
    try:
        loader = BUILTINS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"data.builtin: unknown built-in dataset {name!r} — choose one of {', '.join(sorted(BUILTINS))}"
        ) from None
    return loader()
