"""Data for crescendo: `ArrayRegressionDataModule` over .npy arrays or a built-in dataset.

Submodules, one job each: `loading` (read + validate files), `builtin` (bundled datasets), `splits`
(feature_select, ensemble KFold), `transform` (column selection + scaler), `loaders` (in-memory
batches), `array` (the LightningDataModule).
"""

from crescendo.data.array import ArrayRegressionDataModule
from crescendo.data.builtin import BUILTINS, load_builtin
from crescendo.data.loaders import TensorBatches
from crescendo.data.splits import EnsembleSplit, member_rows, parse_ensemble_split, select_columns
from crescendo.data.transform import InputTransform

__all__ = [
    "BUILTINS",
    "ArrayRegressionDataModule",
    "EnsembleSplit",
    "InputTransform",
    "TensorBatches",
    "load_builtin",
    "member_rows",
    "parse_ensemble_split",
    "select_columns",
]
