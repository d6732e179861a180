"""Read and validate regression arrays, before any model exists.

Pure functions on NumPy arrays (no torch). Each problem raises one `DataError` whose message names
the file and says the fix, so `cr` can print it on one line. Arrays come back as float32, X 2-D and
Y 2-D (a 1-D Y becomes one column).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from crescendo.errors import DataError

REQUIRED_FILES = ("X_train.npy", "Y_train.npy", "X_val.npy", "Y_val.npy")
OPTIONAL_FILES = ("X_test.npy", "Y_test.npy")
SPLITS = ("train", "val", "test")
_EXPECTED = "expected X_train.npy Y_train.npy X_val.npy Y_val.npy (X_test.npy Y_test.npy optional)"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_NUMERIC_KINDS = "biuf"  # bool, signed/unsigned int, float


class Split(NamedTuple):
    """One split's inputs and targets (float32, X (n, features), Y (n, targets))."""

    x: np.ndarray
    y: np.ndarray


def load_array_dir(data_dir: str | Path | None) -> dict[str, Split]:
    """Load and validate train/val(/test) arrays from `data_dir`; returns {"train", "val"[, "test"]}."""
    directory = _check_data_dir(data_dir)
    present = {name: (directory / name).is_file() for name in REQUIRED_FILES + OPTIONAL_FILES}
    missing = [name for name in REQUIRED_FILES if not present[name]]
    if missing:
        raise DataError(f"data.data_dir: {directory} has no {', '.join(missing)} — {_EXPECTED}")
    has_x_test, has_y_test = present["X_test.npy"], present["Y_test.npy"]
    if has_x_test != has_y_test:
        have, lack = ("X_test.npy", "Y_test.npy") if has_x_test else ("Y_test.npy", "X_test.npy")
        raise DataError(
            f"data.data_dir: {directory} has {have} but no {lack} — provide both test files or neither"
        )
    names = ("train", "val", "test") if has_x_test else ("train", "val")
    raw = {
        split: (load_npy(directory / f"X_{split}.npy"), load_npy(directory / f"Y_{split}.npy"))
        for split in names
    }
    return check_splits(raw, label=lambda role, split: str(directory / f"{role}_{split}.npy"))


def _check_data_dir(data_dir: str | Path | None) -> Path:
    """Resolve `data_dir` or explain how to set it."""
    if data_dir is None or str(data_dir).strip() == "":
        raise DataError(
            "data.data_dir is not set — pass data.data_dir=DIR or +data.data_dir=DIR "
            "(DIR holding X_train.npy Y_train.npy X_val.npy Y_val.npy), or use the built-in data=diabetes"
        )
    directory = Path(data_dir).expanduser()
    if not directory.exists():
        raise DataError(
            f"data.data_dir: {directory} does not exist — pass data.data_dir=DIR with an existing "
            f"directory ({_EXPECTED})"
        )
    if not directory.is_dir():
        raise DataError(
            f"data.data_dir: {directory} is not a directory — pass the directory that holds the "
            f".npy files ({_EXPECTED})"
        )
    return directory


def load_npy(path: Path) -> np.ndarray:
    """Read one .npy file safely (allow_pickle=False), turning every failure into a DataError."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or exc}) — check its permissions") from exc
    if magic.startswith(_ZIP_MAGIC):
        raise DataError(
            f"{path} is an .npz archive, not a single array — save each array with np.save(path, array)"
        )
    if magic != _NPY_MAGIC:
        raise DataError(
            f"{path} is not a .npy file (no NumPy header; it may be corrupt, truncated, or pickled) — "
            "re-save it with np.save(path, array)"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                f"{path} holds Python objects (dtype=object, stored with pickle), which crescendo does not "
                "load (allow_pickle=False) — convert it to numbers first, e.g. "
                "np.save(path, np.asarray(array, dtype=np.float32))"
            ) from exc
        raise DataError(f"{path} cannot be read as a .npy array ({exc}) — it may be truncated or corrupt; "
                        "re-save it with np.save(path, array)") from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} cannot be read as a .npy array ({exc}) — it may be truncated or corrupt; "
                        "re-save it with np.save(path, array)") from exc
    return array


def check_array(array: np.ndarray, name: str, role: str) -> np.ndarray:
    """Validate one array (`role` "X" or "Y") and return it as a 2-D float32 array.

    Checks, in order: numeric dtype, at least one value, dimensionality (X 2-D; Y 1-D or 2-D), and that
    every value is finite once in float32.
    """
    array = np.asarray(array)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise DataError(
            f"{name} holds non-numeric values (dtype {array.dtype}) — save it as a numeric array, "
            "e.g. np.save(path, array.astype(np.float32))"
        )
    if array.size == 0:
        raise DataError(f"{name} is empty (shape {array.shape}) — it needs at least one row with values")
    if role == "X" and array.ndim != 2:
        raise DataError(
            f"{name} has shape {array.shape} but X must be 2-D (rows, features) — "
            + ("reshape it with X.reshape(-1, 1) for one feature" if array.ndim < 2
               else "flatten each row, e.g. X.reshape(len(X), -1)")
        )
    if role == "Y" and array.ndim not in (1, 2):
        raise DataError(
            f"{name} has shape {array.shape} but Y must be 1-D (rows,) or 2-D (rows, targets) — "
            "flatten each row, e.g. Y.reshape(len(Y), -1)"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.asarray(array, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        n_nan = int(np.isnan(values).sum())
        n_inf = int(values.size - finite.sum()) - n_nan
        parts = [f"{n_nan} NaN"] if n_nan else []
        if n_inf:
            parts.append(f"{n_inf} infinite (or beyond float32 range)")
        raise DataError(
            f"{name} holds {' and '.join(parts)} values out of {values.size} — remove or impute them "
            "before training"
        )
    return values.reshape(-1, 1) if values.ndim == 1 else values


def check_splits(
    raw: dict[str, tuple[np.ndarray, np.ndarray]], label: Callable[[str, str], str]
) -> dict[str, Split]:
    """Validate every split and their agreement; `label(role, split)` names an array in messages."""
    splits = {
        split: Split(check_array(x, label("X", split), "X"), check_array(y, label("Y", split), "Y"))
        for split, (x, y) in raw.items()
    }
    for split, (x, y) in splits.items():
        if len(x) != len(y):
            raise DataError(
                f"{label('X', split)} has {len(x)} rows but {label('Y', split)} has {len(y)} — "
                f"row i of X_{split} must be the inputs for row i of Y_{split}"
            )
    first = next(iter(splits))
    for split, (x, y) in splits.items():
        if x.shape[1] != splits[first].x.shape[1]:
            raise DataError(
                f"{label('X', split)} has {x.shape[1]} features but {label('X', first)} has "
                f"{splits[first].x.shape[1]} — every split needs the same feature columns"
            )
        if y.shape[1] != splits[first].y.shape[1]:
            raise DataError(
                f"{label('Y', split)} has {y.shape[1]} targets but {label('Y', first)} has "
                f"{splits[first].y.shape[1]} — every split needs the same target columns"
            )
    return splits
