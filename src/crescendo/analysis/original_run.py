"""`OriginalRun`: a run directory written by the original Crescendo 0.0.4, read as a `Run`.

0.0.4 left ``final_config.yaml`` (the config with the widths filled in), ``.hydra/``,
``logs/version_0/metrics.csv`` (Lightning's CSVLogger) and ``checkpoints/`` (``epoch=NNNNNN.ckpt``,
the best epoch on val/loss, and ``last.ckpt``) — no result.json and no input scaler in its checkpoints.
So predicting from raw inputs refits 0.0.4's scaler the way 0.0.4 fitted it: on the run's training
rows, read from its ``data.data_dir`` (or the `data_dir` given when the data moved).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf, open_dict

from crescendo.analysis._files import read_config, read_metrics
from crescendo.analysis.run import Run
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from crescendo.data import ArrayRegressionDataModule

__all__ = ["FINAL_CONFIG", "ORIGINAL_METRICS", "USE_CHECKPOINT", "OriginalRun", "is_original_run"]

FINAL_CONFIG = "final_config.yaml"
ORIGINAL_METRICS = "logs/version_0"
#: 0.0.4's `use_checkpoint` values: the best epoch's checkpoint or last.ckpt
USE_CHECKPOINT = ("best_epoch", "last")


def is_original_run(path: Path) -> bool:
    """A directory 0.0.4 trained in: final_config.yaml and no result.json of ours."""
    return (path / FINAL_CONFIG).is_file() and not (path / "result.json").is_file()


class OriginalRun(Run):
    """A 0.0.4 run directory with `Run`'s reading and predicting calls.

    >>> run = OriginalRun("results/train/runs/2024-05-01_12-00-00", data_dir="data/")
    >>> run.metrics, run.result["objective"]      # 0.0.4's objective: the LAST epoch's val/loss
    >>> y = run.predict(X_raw)                    # raw inputs: 0.0.4's scaler is refit on X_train

    `result` is made up from what 0.0.4 wrote (status, objective, best_epoch, dims, checkpoint),
    so tables, plots and ensembles treat the run like one of ours.
    """

    def __init__(self, path: str | Path, data_dir: str | Path | None = None,
                 use_checkpoint: str = "best_epoch") -> None:
        self.path = Path(path).expanduser().resolve()
        if not (self.path / FINAL_CONFIG).is_file():
            raise CrescendoError(f"{self.path}: not a Crescendo 0.0.4 run directory, it has no {FINAL_CONFIG}")
        if use_checkpoint not in USE_CHECKPOINT:
            raise CrescendoError(f"use_checkpoint={use_checkpoint!r}: must be 'best_epoch' or 'last' — "
                                 "use_checkpoint='best_epoch' picks the best epoch's checkpoint")
        self.data_dir = None if data_dir is None else str(Path(data_dir).expanduser())
        self.use_checkpoint = use_checkpoint
        self._result: dict[str, Any] | None = None
        self._config: DictConfig | None = None
        self._metrics: pd.DataFrame | None = None
        self._models: dict[str, Any] = {}
        self._inputs: ArrayRegressionDataModule | None = None
        self._model_class = None

    def __repr__(self) -> str:
        return f"OriginalRun({str(self.path)!r}, objective={self.objective:.6g})"

    # ------------------------------------------------------------------ what 0.0.4 wrote
    @property
    def config(self) -> DictConfig:
        """final_config.yaml, with ``data.data_dir`` replaced by `data_dir` when one was given."""
        if self._config is None:
            config = read_config(self.path / FINAL_CONFIG)
            if self.data_dir is not None:
                with open_dict(config):
                    config.data.data_dir = self.data_dir
            self._config = config
        return self._config

    @property
    def metrics(self) -> pd.DataFrame:
        """logs/version_0/metrics.csv, one row per epoch (``epoch``, ``step``, ``train/loss``, ``val/loss``)."""
        if self._metrics is None:
            self._metrics = read_metrics(self.path / ORIGINAL_METRICS)
        return self._metrics.copy()

    @property
    def result(self) -> dict[str, Any]:
        """What result.json would say: status, objective (0.0.4's: the last epoch's val/loss), best_epoch,
        monitor, mode, dims, best_checkpoint, run_dir."""
        if self._result is None:
            self._result = self._made_up_result()
        return self._result

    def _made_up_result(self) -> dict[str, Any]:
        metrics = self.metrics
        losses = metrics["val/loss"].dropna() if "val/loss" in metrics else []
        best_epoch = None
        if len(losses):
            best_epoch = int(metrics.loc[losses.idxmin(), "epoch"]) if "epoch" in metrics else int(losses.idxmin())
        model = self.config.get("model") or {}
        checkpoint = self.best_checkpoint
        return {
            "status": "complete" if checkpoint is not None else "failed",
            "objective": float(losses.iloc[-1]) if len(losses) else math.nan,
            "monitor": "val/loss", "mode": "min", "best_epoch": best_epoch,
            "best_checkpoint": None if checkpoint is None else str(checkpoint),
            "input_dims": _int_or_none(model.get("input_dims")), "output_dims": _int_or_none(model.get("output_dims")),
            "architecture": list(model.get("architecture") or []) if not isinstance(model.get("architecture"), int)
            else model.get("architecture"),
            "run_dir": str(self.path), "written_by": "crescendo 0.0.4",
        }

    @property
    def best_checkpoint(self) -> Path | None:
        """The checkpoint `use_checkpoint` names: the best epoch's ``epoch=…ckpt`` or ``last.ckpt``."""
        folder = self.path / "checkpoints"
        if self.use_checkpoint == "last":
            last = folder / "last.ckpt"
            return last if last.is_file() else None
        epochs = sorted(p for p in folder.glob("*.ckpt") if not p.name.startswith("last"))
        return epochs[-1] if epochs else None

    def _checkpoint_or_raise(self) -> Path:
        checkpoint = self.best_checkpoint
        if checkpoint is None:
            which = "last.ckpt" if self.use_checkpoint == "last" else "epoch=NNNNNN.ckpt (the best epoch's)"
            raise CrescendoError(f"{self.path}: the Crescendo 0.0.4 run has no checkpoint to predict with — "
                                 f"expected checkpoints/{which}, as 0.0.4 saved it")
        return checkpoint

    # ------------------------------------------------------------------ the model
    @property
    def model_class(self) -> type:
        from crescendo.analysis.original_net import OriginalNetwork

        return OriginalNetwork

    @property
    def is_batched_ensemble(self) -> bool:
        return False

    def model(self, device: str | torch.device = "cpu") -> Any:
        """The checkpoint's network in 0.0.4's layout, in eval mode (it takes SCALED inputs)."""
        return self.model_at(self._checkpoint_or_raise(), device)

    def model_at(self, checkpoint: str | Path, device: str | torch.device = "cpu") -> Any:
        """The network of any checkpoint of this run (cached per checkpoint and device)."""
        import torch

        from crescendo.analysis.original_net import load_original_network

        key = f"{checkpoint}@{torch.device(device)}"
        if key not in self._models:
            model_config = OmegaConf.to_container(self.config.model, resolve=True)
            self._models[key] = load_original_network(checkpoint, model_config, device)
        return self._models[key]

    # ------------------------------------------------------------------ inputs
    @property
    def input_module(self) -> ArrayRegressionDataModule:
        """The run's data module, set up: 0.0.4's checkpoints hold no scaler, so it is refit on X_train."""
        if self._inputs is None:
            self._checkpoint_or_raise()  # nothing to predict with: say so before looking for the data
            self._inputs = self.datamodule(setup=True)
        return self._inputs

    @property
    def raw_input_dims(self) -> int:
        return int(self.input_module.state_dict()["raw_input_dims"])

    def datamodule(self, data_dir: str | Path | None = None, setup: bool = True) -> ArrayRegressionDataModule:
        """The run's data module (our ArrayRegressionDataModule with 0.0.4's data keys)."""
        from crescendo.data import ArrayRegressionDataModule

        data = OmegaConf.to_container(self.config.get("data") or {}, resolve=True)
        keys = ("data_dir", "normalize_inputs", "feature_select", "production_mode", "ensemble_split",
                "dataloader_kwargs")
        kwargs = {key: data[key] for key in keys if key in data}
        if data_dir is not None:
            kwargs["data_dir"] = str(Path(data_dir).expanduser())
        split = kwargs.get("ensemble_split")
        if isinstance(split, dict) and not split.get("enable"):
            kwargs["ensemble_split"] = None  # 0.0.4's disabled split may hold index: null
        if not kwargs.get("data_dir"):
            raise CrescendoError(f"{self.path / FINAL_CONFIG}: data.data_dir is not set — pass data_dir=DIR "
                                 "(the directory with X_train.npy ... that the run was trained on)")
        where = Path(str(kwargs["data_dir"]))
        if not where.is_dir():
            given = "the data_dir given" if data_dir is not None or self.data_dir is not None else "as recorded"
            raise CrescendoError(
                f"{self.path / FINAL_CONFIG}: data.data_dir={where} ({given}) is not a directory — a Crescendo "
                "0.0.4 run keeps no input scaler, so predicting refits it on the run's training data: put them "
                "back there, or pass their new place: load(PATH, data_dir=DIR) or Estimator(PATH, data_dir=DIR)")
        module = ArrayRegressionDataModule(**kwargs)
        if setup:
            module.setup()
        return module


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
