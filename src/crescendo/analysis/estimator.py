"""`Estimator`: the original Crescendo 0.0.4's name for one trained run, as a thin face over `Run`.

Notebooks written for 0.0.4 call ``Estimator(results_dir, data_dir=…, use_checkpoint=…)`` and read
``X_val``, ``metrics``, ``best_checkpoint``, ``predict``…; those calls work here, on run directories
of this package and of 0.0.4. The new call is `crescendo.analysis.load(path)` (a `Run`).

One difference: **`predict` takes RAW inputs here** (unscaled, as loaded — all raw columns, or the
columns `feature_select` keeps, as `X_val` holds them) and applies the run's own feature selection and
input scaler. 0.0.4's `predict` passed its input straight to the network, so it expected `X_*_scaled`;
pass `X_val` (not `X_val_scaled`) here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from crescendo.analysis._files import read_yaml
from crescendo.analysis.original_run import USE_CHECKPOINT, OriginalRun
from crescendo.analysis.roots import open_run, run_dirs
from crescendo.analysis.run import Run, _forward
from crescendo.errors import CrescendoError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from crescendo.data import ArrayRegressionDataModule

__all__ = ["Estimator"]


class Estimator:
    """0.0.4's `Estimator(results_dir, data_dir=None, verbose=True, use_checkpoint="best_epoch")`.

    New call: ``load(results_dir)`` → `Run` (`Run.predict`, `Run.metrics`, `Run.datamodule()`); the
    underlying run is `self.run`. `predict(x)` takes RAW inputs (see the module doc).
    """

    def __init__(self, results_dir: str | Path, data_dir: str | Path | None = None, verbose: bool = True,
                 use_checkpoint: str = "best_epoch") -> None:
        if use_checkpoint not in USE_CHECKPOINT:
            raise CrescendoError(f"use_checkpoint={use_checkpoint!r}: must be 'best_epoch' or 'last' — "
                                 "use_checkpoint='best_epoch' picks the best epoch's checkpoint")
        self._results_dir = str(results_dir)
        self._data_dir = None if data_dir is None else str(data_dir)
        self._verbose = verbose
        self._use_checkpoint = use_checkpoint
        self.run: Run = open_run(results_dir, data_dir=data_dir, use_checkpoint=use_checkpoint)

    @classmethod
    def from_root(cls, root: str | Path, verbose: bool = True, **kwargs: Any) -> Estimator:
        """The one run under `root` (0.0.4: the one final_config.yaml). New call: ``load(run_dir)``."""
        found = run_dirs(root)
        if len(found) != 1:
            raise CrescendoError(
                f"{root}: holds {len(found)} run directories — Estimator.from_root needs exactly one; use "
                "ModelSet.from_root / HPTunedSet.from_root for several" if found
                else f"{root}: holds no run directory (result.json, or 0.0.4's final_config.yaml)")
        if verbose:
            print(f"Found run directory {found[0]}")
        return cls(str(found[0]), verbose=verbose, **kwargs)

    def __repr__(self) -> str:
        return f"Estimator({self._results_dir!r}, use_checkpoint={self._use_checkpoint!r})"

    # ------------------------------------------------------------------ what the run wrote
    @property
    def results_dir(self) -> str:
        return self._results_dir

    def _hydra_file(self, name: str) -> Any:
        return read_yaml(self.run.path / ".hydra" / name)

    @cached_property
    def hydra_config(self) -> dict:
        """.hydra/config.yaml as a dict (new call: `Run.config`, the resolved config)."""
        return self._hydra_file("config.yaml")

    @cached_property
    def hydra_internal_config(self) -> dict:
        """.hydra/hydra.yaml as a dict."""
        return self._hydra_file("hydra.yaml")

    @cached_property
    def hydra_overrides(self) -> list:
        """.hydra/overrides.yaml as a list of override strings."""
        return self._hydra_file("overrides.yaml")

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """One row per epoch (new call: `Run.metrics`). 0.0.4 returned Lightning's raw metrics.csv, with
        train and val values on separate rows; ``metrics["val/loss"].dropna()`` reads the same either way."""
        return self.run.metrics

    @cached_property
    def config(self) -> DictConfig:
        """The run's config (0.0.4: final_config.yaml; ours: config.yaml), ``data.data_dir`` replaced by
        `data_dir` when one was given."""
        config = self.run.config
        if self._data_dir is not None and not isinstance(self.run, OriginalRun):
            config = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
            with open_dict(config):
                config.data.data_dir = self._data_dir
        return config

    @cached_property
    def best_checkpoint(self) -> str | None:
        """The checkpoint `use_checkpoint` picks: the best epoch's, or the last one (None if missing)."""
        if self._use_checkpoint == "last" and not isinstance(self.run, OriginalRun):
            path: Path | None = self.run.path / "checkpoints" / "last.ckpt"
        else:
            path = self.run.best_checkpoint
        return str(path) if path is not None and path.is_file() else None

    # ------------------------------------------------------------------ model and data
    def get_model(self, checkpoint: str | Path | None = None) -> Any:
        """The model of `checkpoint` (default: `best_checkpoint`), in eval mode. New call: `Run.model()`."""
        if checkpoint is None:
            checkpoint = self.best_checkpoint
        if checkpoint is None:
            raise CrescendoError(f"{self.run.path}: has no {self._use_checkpoint} checkpoint in checkpoints/")
        key = str(checkpoint)
        models = self.__dict__.setdefault("_models", {})
        if key not in models:
            models[key] = self.run.model_at(checkpoint)
        return models[key]

    def get_datamodule(self) -> ArrayRegressionDataModule:
        """The run's data module, not set up (its X_*/Y_* read lazily). New call: `Run.datamodule()`."""
        if "_datamodule" not in self.__dict__:
            self.__dict__["_datamodule"] = self.run.datamodule(data_dir=self._data_dir, setup=False)
        return self.__dict__["_datamodule"]

    @property
    def X_train(self) -> np.ndarray:
        return self.get_datamodule().X_train

    @property
    def X_train_scaled(self) -> np.ndarray:
        return self.get_datamodule().X_train_scaled

    @property
    def X_val(self) -> np.ndarray:
        return self.get_datamodule().X_val

    @property
    def X_val_scaled(self) -> np.ndarray:
        return self.get_datamodule().X_val_scaled

    @property
    def X_test(self) -> np.ndarray:
        return self.get_datamodule().X_test

    @property
    def X_test_scaled(self) -> np.ndarray:
        return self.get_datamodule().X_test_scaled

    @property
    def Y_train(self) -> np.ndarray:
        return self.get_datamodule().Y_train

    @property
    def Y_val(self) -> np.ndarray:
        return self.get_datamodule().Y_val

    @property
    def Y_test(self) -> np.ndarray:
        return self.get_datamodule().Y_test

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions (n, targets) from UNSCALED inputs — e.g. `X_val`, not `X_val_scaled` as in 0.0.4:
        the run's input scaler is applied first. Raw columns (before ``feature_select``) are selected
        too; columns already selected, as `X_val` gives them, are only scaled. New call: `Run.predict(x)`
        (raw columns only)."""
        return _forward(self.get_model(), self._model_inputs(x), "cpu")

    def _model_inputs(self, x: np.ndarray) -> np.ndarray:
        from crescendo.data.transform import InputTransform

        x = np.asarray(x)
        transform = InputTransform.from_state_dict(self.run.input_module.state_dict())
        already_selected = (transform.columns is not None and x.ndim == 2
                            and x.shape[1] == transform.input_dims != transform.raw_input_dims)
        if not already_selected:
            return self.run.transform_inputs(x)
        if x.dtype.kind not in "biuf" or not np.isfinite(x).all():
            raise DataError("inputs to predict hold non-numeric, NaN or infinite values — remove or impute them")
        return transform.scale_selected(x.astype(np.float32))
