"""A Lightning callback that fails a run after training has started, for the run-lifecycle tests
(`cr ... +callbacks.fail._target_=lifecycle_callbacks.FailAtEpoch`, with tests/ on PYTHONPATH)."""

from __future__ import annotations

import lightning.pytorch as pl


class FailAtEpoch(pl.Callback):
    """Raise at the end of training epoch `epoch`: a failure inside fit, after epochs were trained."""

    def __init__(self, epoch: int = 1) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError(f"failed on purpose at epoch {self.epoch}")
