"""The run's hyperparameters, handed to every logger once through Lightning's `log_hyperparams`.

Lightning logs the hyperparameters the module and data module saved (`save_hyperparameters`); ours
save theirs for checkpoints only (`logger=False`), because what describes a run is its resolved config:
the model with its optimizer, the data, the trainer, the seed. Loggers flatten the nested mapping
themselves (``model/optimizer/lr``, ``model/architecture``, ``data/batch_size``).

A logger whose `log_hyperparams` takes `metrics` (TensorBoard) gets them once the objective is known
(the end of fit, or when the run is pruned or fails), with ``hp_metric`` = the best value of `monitor`,
so its hparams view compares runs by what the run kept; the others (MLflow, CSV) get them when fit
starts, so a running or crashed run is described too.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from crescendo.callbacks import BestEpochMetrics
from crescendo.models.legacy_keys import model_node

__all__ = ["HP_METRIC", "LogHyperparams", "run_hyperparams"]

#: the metric TensorBoard's hparams view shows for each run (Lightning's name for it)
HP_METRIC = "hp_metric"
_RUN_KEYS = ("seed", "monitor", "mode")
_GROUPS = ("model", "data", "trainer")


def run_hyperparams(cfg: DictConfig) -> dict[str, Any]:
    """The run's resolved hyperparameters, nested: seed, monitor, mode, model (optimizer included), data, trainer."""
    params: dict[str, Any] = {key: OmegaConf.select(cfg, key, default=None) for key in _RUN_KEYS}
    for group in _GROUPS:
        node = cfg.get(group)
        if node is None:
            continue
        if group == "model":
            node = model_node(node)  # what was built: 0.0.4's spellings are not settings of their own
        params[group] = OmegaConf.to_container(node, resolve=True)
    return params


def takes_metrics(logger: Any) -> bool:
    """Whether the logger's `log_hyperparams` accepts `metrics` (TensorBoard's does; MLflow's, CSV's do not)."""
    try:
        return "metrics" in inspect.signature(logger.log_hyperparams).parameters
    except (TypeError, ValueError):
        return False


class LogHyperparams(Callback):
    """Hand `params` to each of the trainer's loggers once: at fit start, or with the objective at the end."""

    def __init__(self, params: dict[str, Any], monitor: str, best_epoch: BestEpochMetrics) -> None:
        self.params = params
        self.monitor = monitor
        self.best_epoch = best_epoch
        self._logged: set[int] = set()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, with_metrics=False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, with_metrics=True)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        # a pruned run is a result, and a failed one is worth comparing too: what they reached
        self._log(trainer, with_metrics=True)

    def _log(self, trainer: pl.Trainer, with_metrics: bool) -> None:
        if trainer.global_rank != 0:
            return
        for logger in trainer.loggers:
            if id(logger) in self._logged or takes_metrics(logger) != with_metrics:
                continue
            self._logged.add(id(logger))
            if with_metrics:
                logger.log_hyperparams(self.params, metrics={HP_METRIC: self.best_value(trainer)})
            else:
                logger.log_hyperparams(self.params)
            logger.save()

    def best_value(self, trainer: pl.Trainer) -> float:
        """The best value of `monitor` so far, read as `train` reads the objective (the kept checkpoint's)."""
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.monitor == self.monitor \
                    and callback.best_model_score is not None:
                return float(callback.best_model_score)
        value = self.best_epoch.best_value
        return value if math.isfinite(value) else math.nan
