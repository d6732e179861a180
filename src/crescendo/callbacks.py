"""Small Lightning callbacks that `train` always adds."""

from __future__ import annotations

import math

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class BestEpochMetrics(Callback):
    """Remember every logged metric at the epoch whose monitored value is best.

    It follows ModelCheckpoint's rule (judge at the end of each validation; strictly better wins),
    so `best_epoch` is the epoch of checkpoints/best.ckpt and `metrics` are that epoch's values —
    what a multi-objective search must compare, not the last epoch's.
    """

    def __init__(self, monitor: str, mode: str) -> None:
        self.monitor = monitor
        self.mode = mode
        self.best_epoch: int | None = None
        self.best_value: float = math.nan
        self.metrics: dict[str, float] = {}

    def _is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_epoch is None:
            return True
        return value < self.best_value if self.mode == "min" else value > self.best_value

    def _consider(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if self._is_better(value):
            self.best_epoch = trainer.current_epoch
            self.best_value = value
            self.metrics = {name: float(metric) for name, metric in trainer.callback_metrics.items()}

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._consider(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # epochs without validation (production mode, check_val_every_n_epoch > 1) judge here
        if not trainer.val_dataloaders or trainer.limit_val_batches == 0:
            self._consider(trainer)
