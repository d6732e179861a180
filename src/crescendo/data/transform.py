"""The input transform fitted on the training rows: column selection, then standard scaling.

It is kept apart from the data module so that training (in `setup`) and prediction
(`transform_inputs`, possibly on a module restored from a checkpoint with no data on disk) run the
very same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crescendo.errors import DataError

STATE_FORMAT = 1


@dataclass(frozen=True)
class InputTransform:
    """raw X (n, raw_input_dims) → X[:, columns] → (X - mean) / scale, as float32."""

    raw_input_dims: int
    columns: np.ndarray | None  # None: every column, in order
    mean: np.ndarray | None  # float64 (input_dims,); None when normalize_inputs is false
    scale: np.ndarray | None

    @property
    def input_dims(self) -> int:
        return self.raw_input_dims if self.columns is None else len(self.columns)

    @classmethod
    def fit(cls, x_train: np.ndarray, raw_input_dims: int, columns: np.ndarray | None,
            normalize: bool) -> InputTransform:
        """Fit on already column-selected training inputs (StandardScaler: constant columns keep scale 1)."""
        if not normalize:
            return cls(raw_input_dims, columns, None, None)
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(x_train)
        return cls(raw_input_dims, columns, np.asarray(scaler.mean_, dtype=np.float64),
                   np.asarray(scaler.scale_, dtype=np.float64))

    def select(self, x_raw: np.ndarray) -> np.ndarray:
        return x_raw if self.columns is None else x_raw[:, self.columns]

    def scale_selected(self, x: np.ndarray) -> np.ndarray:
        """Scale inputs whose columns are already selected; float32 out."""
        if self.mean is None:
            return np.asarray(x, dtype=np.float32)
        return ((x - self.mean) / self.scale).astype(np.float32)

    def apply(self, x_raw: np.ndarray) -> np.ndarray:
        """Check raw inputs for prediction and transform them; wrong shape or values raise DataError."""
        x_raw = np.asarray(x_raw)
        if x_raw.ndim != 2 or x_raw.shape[1] != self.raw_input_dims:
            raise DataError(
                f"inputs to predict have shape {x_raw.shape} but the model expects (n, {self.raw_input_dims}): "
                f"rows of the {self.raw_input_dims} raw feature columns it was trained on (before feature_select)"
            )
        if x_raw.dtype.kind not in "biuf":
            raise DataError(f"inputs to predict hold non-numeric values (dtype {x_raw.dtype}) — pass numbers")
        x = self.select(x_raw).astype(np.float32, copy=False)
        n_bad = int(x.size - np.isfinite(x).sum())
        if n_bad:
            raise DataError(f"inputs to predict hold {n_bad} NaN or infinite values — remove or impute them")
        return self.scale_selected(x)

    def state_dict(self) -> dict[str, Any]:
        """Plain Python values only, so checkpoints load with torch.load(weights_only=True)."""
        return {
            "format": STATE_FORMAT,
            "raw_input_dims": int(self.raw_input_dims),
            "feature_columns": None if self.columns is None else [int(c) for c in self.columns],
            "scaler_mean": None if self.mean is None else [float(v) for v in self.mean],
            "scaler_scale": None if self.scale is None else [float(v) for v in self.scale],
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> InputTransform:
        try:
            columns, mean, scale = state["feature_columns"], state["scaler_mean"], state["scaler_scale"]
            return cls(
                int(state["raw_input_dims"]),
                None if columns is None else np.asarray(columns, dtype=np.int64),
                None if mean is None else np.asarray(mean, dtype=np.float64),
                None if scale is None else np.asarray(scale, dtype=np.float64),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"the data module state in this checkpoint is incomplete or malformed ({exc!r}) — "
                            "it was not written by crescendo's ArrayRegressionDataModule") from exc

    def same_as(self, other: InputTransform) -> bool:
        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            return (a is None) == (b is None) and (a is None or (a.shape == b.shape and np.allclose(a, b)))

        return self.raw_input_dims == other.raw_input_dims and same(self.columns, other.columns) and \
            same(self.mean, other.mean) and same(self.scale, other.scale)
