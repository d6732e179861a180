"""`ModelSet` and `HPTunedSet`: the original Crescendo 0.0.4's names for several runs, as thin faces.

New calls: ``load(sweep_dir)`` → `Sweep` (``best_run``: the best trial by the search's own
objective; ``ensemble(k)``), ``Ensemble([...])`` / ``Ensemble.from_root(root)`` for members.
`HPTunedSet.get_best_estimator(X, Y, metric)` keeps 0.0.4's meaning: it re-scores every candidate
on the data given, with RAW inputs (see `crescendo.analysis.estimator`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from crescendo.analysis.estimator import Estimator
from crescendo.analysis.roots import run_dirs
from crescendo.errors import CrescendoError

__all__ = ["HPTunedSet", "ModelSet", "SharedArrays", "same_arrays"]


class SharedArrays:
    """0.0.4's X_val/X_test/Y_val/Y_test of several estimators (a `ModelSet`, an `Ensemble`): the
    first estimator's arrays; the second must agree, as 0.0.4 asserted."""

    estimators: list[Estimator]

    def _shared(self, name: str) -> np.ndarray:
        estimators = self.estimators[:2]
        first = getattr(estimators[0], name)
        if len(estimators) > 1 and not same_arrays(first, getattr(estimators[1], name)):
            raise CrescendoError(f"{estimators[1].results_dir}: its {name} differs from "
                                 f"{estimators[0].results_dir}'s — the runs were not trained on the same data")
        return first

    @property
    def X_val(self) -> np.ndarray:
        return self._shared("X_val")

    @property
    def X_test(self) -> np.ndarray:
        return self._shared("X_test")

    @property
    def Y_val(self) -> np.ndarray:
        return self._shared("Y_val")

    @property
    def Y_test(self) -> np.ndarray:
        return self._shared("Y_test")


class ModelSet(SharedArrays):
    """0.0.4's `ModelSet(results_dirs, verbose=False, data_dir=None, use_checkpoint="best_epoch")`:
    one `Estimator` per run directory. New call: ``[load(d) for d in dirs]`` or ``Ensemble(dirs)``."""

    def __init__(self, results_dirs: Sequence[str | Path], verbose: bool = False,
                 data_dir: str | Path | None = None, use_checkpoint: str = "best_epoch") -> None:
        self._results_dirs = [str(d) for d in results_dirs]
        self._data_dir = data_dir
        self._verbose = verbose
        self._use_checkpoint = use_checkpoint

    @classmethod
    def from_root(cls, root: str | Path, **kwargs: Any) -> ModelSet:
        """Every run directory under `root` (ours or 0.0.4's), in path order."""
        found = run_dirs(root)
        if not found:
            raise CrescendoError(f"{root}: holds no run directory (result.json, or 0.0.4's final_config.yaml)")
        print(f"Found {len(found)} run directories (n_estimators=={len(found)})")
        return cls([str(d) for d in found], **kwargs)

    @cached_property
    def estimators(self) -> list[Estimator]:
        return [Estimator(d, data_dir=self._data_dir, verbose=self._verbose, use_checkpoint=self._use_checkpoint)
                for d in self._results_dirs]


class HPTunedSet(ModelSet):
    """0.0.4's `HPTunedSet`: the runs of a search. New call: ``load(sweep_dir)`` → `Sweep`, whose
    ``best_run`` is ranked by the objective the search recorded."""

    @property
    def X_val_scaled(self) -> np.ndarray:
        return self._shared("X_val_scaled")

    @property
    def X_test_scaled(self) -> np.ndarray:
        return self._shared("X_test_scaled")

    def get_best_estimator(self, X: np.ndarray | None = None, Y: np.ndarray | None = None,
                           metric: Callable[[np.ndarray, np.ndarray], float] | None = None) -> tuple[Estimator, float]:
        """(estimator, score) with the lowest ``metric(prediction, Y)`` on RAW inputs `X` — every
        candidate with a checkpoint is re-scored on the data given (default: X_val, Y_val, the mean
        squared error), as 0.0.4 did. Runs without a checkpoint (failed trials) are skipped."""
        if metric is None:
            def metric(prediction: np.ndarray, truth: np.ndarray) -> float:
                return float(np.mean((prediction - truth) ** 2))
        candidates = [e for e in self.estimators if e.best_checkpoint is not None]
        if not candidates:
            raise CrescendoError(f"{self._results_dirs[0] if self._results_dirs else 'the set'}: no run has a "
                                 "checkpoint to predict with")
        X = self.X_val if X is None else X
        Y = self.Y_val if Y is None else Y
        scores = [float(metric(estimator.predict(X), Y)) for estimator in candidates]
        best = int(np.nanargmin(scores))
        return candidates[best], scores[best]


def same_arrays(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, equal_nan=True))
