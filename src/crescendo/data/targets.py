"""The target scaler (`data.normalize_targets`): standard scaling of Y fitted on the training rows.

Targets in their own units (diabetes: 25–346) make losses read like 5451 and the first steps of a
small network chase the scale instead of the pattern. With `normalize_targets` the model trains on
(Y - mean) / scale, the mean and scale fitted by scikit-learn's StandardScaler on the training rows
only (like the input scaler), and every prediction is mapped back: `Run.predict`, cr-predict and the
model cr-export writes give targets in their own units. The losses Lightning logs stay the loss of
the model as trained — in standardised target units — see `LOSS_UNITS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crescendo.errors import DataError


@dataclass(frozen=True)
class TargetTransform:
    """Y → (Y - mean) / scale for training; `invert` maps predictions back. None mean: identity."""

    mean: np.ndarray | None  # float64 (targets,)
    scale: np.ndarray | None

    @property
    def active(self) -> bool:
        return self.mean is not None

    @classmethod
    def fit(cls, y_train: np.ndarray, normalize: bool) -> TargetTransform:
        """Fit on the training targets (StandardScaler: a constant target keeps scale 1)."""
        if not normalize:
            return cls(None, None)
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(np.asarray(y_train, dtype=np.float64))
        return cls(np.asarray(scaler.mean_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64))

    def apply(self, y: np.ndarray) -> np.ndarray:
        """Targets as the model trains on them, float32."""
        if self.mean is None:
            return np.asarray(y, dtype=np.float32)
        return ((np.asarray(y, dtype=np.float64) - self.mean) / self.scale).astype(np.float32)

    def invert(self, y: np.ndarray) -> np.ndarray:
        """Model outputs (..., targets) back in the targets' own units, float32 (computed in float64)."""
        if self.mean is None:
            return np.asarray(y, dtype=np.float32)
        return (np.asarray(y, dtype=np.float64) * self.scale + self.mean).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        """Plain Python values (checkpoints load with weights_only=True)."""
        return {
            "normalize_targets": self.active,
            "target_mean": None if self.mean is None else [float(v) for v in self.mean],
            "target_scale": None if self.scale is None else [float(v) for v in self.scale],
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> TargetTransform:
        """A checkpoint written before targets could be scaled has no entries: the identity."""
        mean, scale = state.get("target_mean"), state.get("target_scale")
        if (mean is None) != (scale is None):
            raise DataError("the data module state in this checkpoint has a target mean or scale but not both — "
                            "it was not written by crescendo's ArrayRegressionDataModule")
        if mean is None:
            return cls(None, None)
        return cls(np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64))

    def same_as(self, other: TargetTransform) -> bool:
        if self.active != other.active:
            return False
        return not self.active or (self.mean.shape == other.mean.shape and np.allclose(self.mean, other.mean)
                                   and np.allclose(self.scale, other.scale))
