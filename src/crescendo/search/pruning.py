"""Pruning from inside training: report the monitored metric every epoch, stop when Optuna says so.

Follows optuna-integration's `PyTorchLightningPruningCallback` (report after validation, skip the
sanity check, raise `optuna.TrialPruned`), with differences that matter here:
- a monitor logged at the end of the training epoch (`train/loss` in production mode) is only up to
  date after the LightningModule's own `on_train_epoch_end`, which runs after the callbacks'; it is
  reported at the start of the next epoch (and at the end of fit for the last one) instead of being
  reported one epoch late or never;
- the last epoch is reported but never pruned: the run is done, stopping it would only lose it;
- a non-finite value is not reported: stopping a diverged run is the trainer's job (a FAIL, not a prune);
- a study with several objectives cannot prune (Optuna refuses `trial.report`), so nothing is reported.
DDP (one trial over several processes) is not handled yet.
"""

from __future__ import annotations

import math
import warnings

import lightning.pytorch as pl
import optuna


class OptunaPruning(pl.Callback):
    """Report `monitor` to `trial` once per epoch (step = epoch) and raise `optuna.TrialPruned`."""

    def __init__(self, trial: optuna.trial.Trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self._enabled = len(trial.study.directions) == 1
        # metrics named val*/ are fresh when validation ends; others when the module's epoch end ran
        self._after_validation = monitor.startswith("val")
        self._pending_epoch: int | None = None
        self._n_reported = 0

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._after_validation and not trainer.sanity_checking:
            self._report(trainer, pl_module.current_epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._after_validation:
            self._pending_epoch = pl_module.current_epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._report_pending(trainer)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._report_pending(trainer, prune=False)  # the run is over: record the value, keep the run
        if self._enabled and self._n_reported == 0 and trainer.current_epoch > 0:
            warnings.warn(f"pruning: '{self.monitor}' was never logged, so this trial could not be pruned")

    def _report_pending(self, trainer: pl.Trainer, prune: bool = True) -> None:
        if self._pending_epoch is not None:
            epoch, self._pending_epoch = self._pending_epoch, None
            self._report(trainer, epoch, prune)

    def _report(self, trainer: pl.Trainer, epoch: int, prune: bool = True) -> None:
        if not self._enabled:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        if not math.isfinite(value):
            return
        self.trial.report(value, step=epoch)
        self._n_reported += 1
        last_epoch = trainer.max_epochs is not None and trainer.max_epochs > 0 and epoch >= trainer.max_epochs - 1
        if prune and not last_epoch and self.trial.should_prune():  # pruning the last epoch saves nothing
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({self.monitor}={value:.6g})")
