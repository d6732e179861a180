"""Data for crescendo: `ArrayRegressionDataModule` over .npy arrays or a built-in dataset.

Submodules, one job each: `loading` (read + validate files), `builtin` (bundled datasets), `splits`
(feature_select, ensemble KFold), `transform` (column selection + scaler), `loaders` (in-memory
batches), `array` (the LightningDataModule).

The names are imported on first use, so the torch-free submodules (`splits`, `builtin`) can be read
by the config checks without importing torch and Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ArrayRegressionDataModule": "crescendo.data.array",
    "BUILTINS": "crescendo.data.builtin",
    "load_builtin": "crescendo.data.builtin",
    "TensorBatches": "crescendo.data.loaders",
    "EnsembleSplit": "crescendo.data.splits",
    "member_rows": "crescendo.data.splits",
    "parse_ensemble_split": "crescendo.data.splits",
    "select_columns": "crescendo.data.splits",
    "InputTransform": "crescendo.data.transform",
}

__all__ = ["BUILTINS", "ArrayRegressionDataModule", "EnsembleSplit", "InputTransform", "TensorBatches",
           "load_builtin", "member_rows", "parse_ensemble_split", "select_columns"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'crescendo.data' has no attribute {name!r}")
