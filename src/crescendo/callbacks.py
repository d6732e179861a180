"""Small Lightning callbacks that `train` always adds."""

from __future__ import annotations

import math

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class BestEpochMetrics(Callback):
    """Remember every logged metric at the epoch whose monitored value is best.

    It follows ModelCheckpoint's rule (one judgement per epoch; strictly better wins), so
    `best_epoch` is the epoch of checkpoints/best.ckpt and `metrics` are that epoch's values — what
    a multi-objective search must compare, not the last epoch's.
    """

    def __init__(self, monitor: str, mode: str) -> None:
        self.monitor = monitor
        self.mode = mode
        self.best_epoch: int | None = None
        self.best_value: float = math.nan
        self.metrics: dict[str, float] = {}
        self._judged_epoch = -1

    def _is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_epoch is None:
            return True
        return value < self.best_value if self.mode == "min" else value > self.best_value

    def _judge_completed_epoch(self, trainer: pl.Trainer) -> None:
        # by the time the next epoch starts (or training ends) every metric of the epoch that
        # just finished is in callback_metrics, the training loss included
        epoch = trainer.current_epoch - 1
        if epoch < 0 or epoch == self._judged_epoch or self.monitor not in trainer.callback_metrics:
            return
        self._judged_epoch = epoch
        value = float(trainer.callback_metrics[self.monitor])
        if self._is_better(value):
            self.best_epoch = epoch
            self.best_value = value
            self.metrics = {name: float(metric) for name, metric in trainer.callback_metrics.items()}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._judge_completed_epoch(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._judge_completed_epoch(trainer)
