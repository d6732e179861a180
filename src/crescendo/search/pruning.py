"""Pruning from inside training: report the monitored metric every epoch, stop when Optuna says so.

A search adds this callback to each trial's config (`callbacks.optuna_pruning`), naming the study's
storage, its name, the trial number and the pruner; the run knows nothing else of the search:

    callbacks:
      optuna_pruning:
        _target_: crescendo.search.pruning.OptunaPruning
        storage: sqlite:////abs/sweep/study.db
        study_name: train
        trial_number: 7
        monitor: val/loss
        pruner: {_target_: optuna.pruners.MedianPruner, n_startup_trials: 5, n_warmup_steps: 2}

It follows optuna-integration's `PyTorchLightningPruningCallback` (report after validation, skip the
sanity check, raise `optuna.TrialPruned`, which `crescendo.train.train` turns into a result with
status "pruned"), with differences that matter here:
- a monitor logged at the end of the training epoch (`train/loss` in production mode) is only up to
  date after the LightningModule's own `on_train_epoch_end`, which runs after the callbacks'; it is
  reported at the start of the next epoch (and at the end of fit for the last one);
- the last epoch is reported but never pruned: the run is done, stopping it would only lose it;
- a non-finite value is not reported: stopping a diverged run is the trainer's job (a FAIL, not a prune);
- a study with several objectives cannot prune (Optuna refuses `trial.report`): nothing is reported.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import lightning.pytorch as pl


class OptunaPruning(pl.Callback):
    """Report `monitor` to trial `trial_number` of the study once per epoch (step = epoch); raise
    `optuna.TrialPruned` when the pruner says so.

    `trial` may be given instead of storage/study/number (an open `optuna.trial.Trial`, for tests and
    notebooks). The trial is opened when fit starts, not when the callback is built.
    """

    def __init__(
        self,
        storage: str | None = None,
        study_name: str | None = None,
        trial_number: int | None = None,
        monitor: str = "val/loss",
        pruner: Any = None,
        trial: Any = None,
    ) -> None:
        super().__init__()
        if trial is None and (storage is None or study_name is None or trial_number is None):
            raise ValueError("OptunaPruning needs a trial, or storage, study_name and trial_number")
        self.storage, self.study_name, self.trial_number = storage, study_name, trial_number
        self.monitor = monitor
        self.pruner = pruner
        self.trial = trial
        # metrics named val*/ are fresh when validation ends; others when the module's epoch end ran
        self._after_validation = monitor.startswith("val")
        self._pending_epoch: int | None = None
        self._n_reported = 0
        self._enabled = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.trial is None:
            from crescendo.search.trial import open_trial

            self.trial = open_trial(str(self.storage), str(self.study_name), int(self.trial_number), self.pruner)
        self._enabled = self.trial is not None and len(self.trial.study.directions) == 1

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
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({self.monitor}={value:.6g})")
