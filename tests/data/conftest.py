"""Tiny .npy directories for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_arrays(directory: Path, arrays: dict[str, np.ndarray]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(directory / name, array, allow_pickle=True)
    return directory


def tiny_arrays(n_train: int = 20, n_val: int = 7, n_test: int | None = 5, features: int = 4,
                targets: int | None = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Random X/Y per split; targets=None gives 1-D Y."""
    rng = np.random.default_rng(seed)
    sizes = {"train": n_train, "val": n_val} | ({"test": n_test} if n_test else {})
    arrays = {}
    for split, n in sizes.items():
        arrays[f"X_{split}.npy"] = rng.normal(3.0, 2.0, size=(n, features))
        arrays[f"Y_{split}.npy"] = rng.normal(size=(n,) if targets is None else (n, targets))
    return arrays


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_arrays(tmp_path / "data", tiny_arrays())


@pytest.fixture
def make_dir(tmp_path: Path):
    """make_dir(**overrides of tiny_arrays, replace={name: array or None}) -> directory."""
    counter = iter(range(1000))

    def make(replace: dict[str, np.ndarray | None] | None = None, **kwargs) -> Path:
        arrays = tiny_arrays(**kwargs)
        for name, array in (replace or {}).items():
            if array is None:
                arrays.pop(name)
            else:
                arrays[name] = array
        return write_arrays(tmp_path / f"d{next(counter)}", arrays)

    return make
