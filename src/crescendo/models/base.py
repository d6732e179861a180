"""`EpochLossModule`: the training-loop machinery crescendo's LightningModules share.

Speed matters (the loop is benchmarked against plain PyTorch), so a step does only the math: no
`self.log` per step, no host sync. Each step adds ``loss.detach() * rows`` to an on-device sum;
the epoch-end hooks log the row-weighted mean once (``train/loss``, ``val/loss``, ``test/loss``)
and the training epoch end checks it is finite (`NonFiniteLossError` otherwise).

A subclass builds its network in ``__init__`` (calling ``save_hyperparameters``) and implements
``_accumulate(stage, batch) -> loss``: compute the loss, hand ``(loss.detach(), rows)`` to
`_add`, return the loss to back-propagate. The epoch sum may be a scalar or a vector (one entry
per ensemble member, say); `_log_epoch` decides how it is logged.

The criterion must return the batch MEAN (``reduction="mean"``, the torch default): the epoch
value is then the mean over all rows of the epoch, independent of the batch size.
"""

from __future__ import annotations

import inspect
from typing import IO, Any

import lightning as L
import torch
from torch import nn

from crescendo._lightning_private import HOOK_NAME_ATTRIBUTE
from crescendo.batch_blocks import BlockSteps, StepBlock, batches_of, block_size
from crescendo.errors import ConfigError, NonFiniteLossError

__all__ = ["EpochLossModule", "check_model_args"]


def check_model_args(
    dropout: Any,
    activation: Any,
    last_activation: Any,
    optimizer: Any,
    scheduler: Any,
    criterion: Any,
    monitor: Any,
) -> None:
    """Collect every bad constructor argument and raise one `ConfigError` naming the keys."""
    problems: list[str] = []

    def is_module(value: Any) -> bool:
        return isinstance(value, nn.Module) or (isinstance(value, type) and issubclass(value, nn.Module))

    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        problems.append(f"model.dropout: {dropout!r} is not a number in [0, 1)")
    for key, value in (("activation", activation), ("last_activation", last_activation)):
        if value is not None and not is_module(value):
            problems.append(
                f"model.{key}: {value!r} is not a torch module — use e.g. {{_target_: torch.nn.ReLU}}"
                + (" or null" if key == "last_activation" else "")
            )
    if optimizer is not None and not callable(optimizer):
        problems.append(
            f"model.optimizer: {optimizer!r} cannot be called with the parameters — "
            "use {_target_: torch.optim.Adam, _partial_: true, lr: 0.001}"
        )
    if scheduler is not None and not callable(scheduler):
        problems.append(
            f"model.scheduler: {scheduler!r} cannot be called with the optimizer — use "
            "{_target_: torch.optim.lr_scheduler.ReduceLROnPlateau, _partial_: true} or null"
        )
    if criterion is not None and not callable(criterion):
        problems.append(f"model.criterion: {criterion!r} is not callable — use e.g. {{_target_: torch.nn.MSELoss}}")
    if not isinstance(monitor, str) or not monitor:
        problems.append(f"monitor: {monitor!r} is not a metric name such as 'val/loss'")
    if problems:
        raise ConfigError("; ".join(problems))


class EpochLossModule(L.LightningModule):
    """A LightningModule whose losses are summed on device over the epoch and logged once.

    Hyperparameters it reads (saved by the subclass): ``optimizer`` (a partial called with the
    parameters; default ``Adam(lr=1e-3)``), ``scheduler`` (a partial called with the optimizer, or
    None; a ReduceLROnPlateau watches ``monitor``), ``monitor``.

    ``batches_per_call`` (a constructor argument, not a hyperparameter): 1 = Lightning's automatic
    optimization; K > 1 = the data module hands K batches per step call and the module trains them
    under manual optimization, one optimizer step each (`crescendo.batch_blocks`). The model and the
    data module get the same K from `train()`, decided from the config before either exists.

    Checkpoints pickle modules and partials held in the hyperparameters, so they load with
    ``weights_only=False``; `load_from_checkpoint` here defaults to that. Only load checkpoints you trust.
    """

    #: it takes ``batches_per_call`` (read by crescendo.batch_blocks without importing this module)
    accepts_batches_per_call = True

    def __init__(self, batches_per_call: int = 1) -> None:
        super().__init__()
        self.batches_per_call = block_size(batches_per_call)
        self.automatic_optimization = self.batches_per_call == 1
        #: what blocks need done by hand (steps, schedulers); None under automatic optimization
        self._block_steps = None if self.automatic_optimization else BlockSteps()
        # Epoch accumulators (on-device loss sums and python row counts), reset at epoch start.
        self._sums: dict[str, torch.Tensor] = {}
        self._rows: dict[str, int] = {}

    # ----------------------------------------------------------------------------- loop speed
    # Lightning sets its hook-name attribute twice around every hook call (about 40 times a step);
    # nn.Module.__setattr__ runs Parameter/Module isinstance checks each time. It is a plain
    # string attribute, so store it directly.
    def __setattr__(self, name: str, value: Any) -> None:
        if name == HOOK_NAME_ATTRIBUTE:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Fast path for the ``(x, y)`` tensor batches of crescendo's loaders (``.to`` is a no-op
        when already there); anything else goes through Lightning's generic collection walk."""
        if type(batch) in (tuple, list) and all(isinstance(t, torch.Tensor) for t in batch):
            return type(batch)(t.to(device, non_blocking=True) for t in batch)
        if type(batch) is StepBlock and all(type(b) in (tuple, list) and all(isinstance(t, torch.Tensor) for t in b)
                                            for b in batch):
            return StepBlock(type(b)(t.to(device, non_blocking=True) for t in b) for b in batch)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # ----------------------------------------------------------------------------- epoch sums
    def _accumulate(self, stage: str, batch: Any) -> torch.Tensor:
        """Compute the batch loss, `_add` it to the stage's epoch sum, return it (subclass)."""
        raise NotImplementedError

    def _reset(self, stage: str) -> None:
        self._sums.pop(stage, None)
        self._rows[stage] = 0

    def _add(self, stage: str, loss: torch.Tensor, rows: int) -> None:
        """Add a detached batch-mean loss (scalar or vector) weighted by its rows to the epoch sum."""
        total = self._sums.get(stage)
        if total is None:  # first batch of the epoch (or a step called outside a Trainer epoch)
            self._sums[stage] = loss * rows
            self._rows[stage] = rows
        else:
            total.add_(loss, alpha=rows)
            self._rows[stage] += rows

    def _epoch_mean(self, stage: str) -> torch.Tensor | None:
        """Row-weighted mean loss of the epoch (summed over processes), None if no rows ran."""
        total, rows = self._sums.get(stage), self._rows.get(stage, 0)
        if self.trainer.world_size > 1:
            # every rank takes part in the reduction, even one that ran no rows of this stage
            if total is None:
                return None
            flat = total.float().reshape(-1)
            stats = self.trainer.strategy.reduce(torch.cat([flat, flat.new_tensor([float(rows)])]),
                                                 reduce_op="sum")
            total, rows = stats[:-1].reshape(total.shape), int(stats[-1].item())
        if total is None or rows == 0:
            return None
        return total / rows

    def _log_epoch(self, stage: str, mean: torch.Tensor | None) -> None:
        """Log ``<stage>/loss`` once for the epoch (already reduced over processes)."""
        if mean is not None:
            self.log(f"{stage}/loss", mean, on_step=False, on_epoch=True, prog_bar=False, batch_size=1)

    # ----------------------------------------------------------------------------- training
    def on_train_start(self) -> None:
        if self._block_steps is not None:
            self._block_steps.on_train_start(self)

    def on_train_epoch_start(self) -> None:
        self._reset("train")
        if self._block_steps is not None:
            self._block_steps.on_train_epoch_start(self)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        if self._block_steps is None:
            if isinstance(batch, StepBlock):
                raise RuntimeError("a StepBlock needs a module built with the same batches_per_call as the data module")
            return self._accumulate("train", batch)
        self._block_steps.train(self, batch, batch_idx, self._train_loss)
        return None

    # Lightning inspects the step methods' signatures at every call to decide whether to pass
    # batch_idx / dataloader_idx; a precomputed __signature__ turns that into an attribute lookup.
    training_step.__signature__ = inspect.signature(training_step)  # type: ignore[attr-defined]

    def _train_loss(self, batch: Any) -> torch.Tensor:
        return self._accumulate("train", batch)

    def on_train_epoch_end(self) -> None:
        mean = self._epoch_mean("train")
        if mean is not None and not bool(torch.isfinite(mean).all()):
            if mean.dim() == 0:
                value = str(mean.item())
            else:
                bad = [str(k) for k in torch.nonzero(~torch.isfinite(mean)).flatten().tolist()]
                value = f"{mean.mean().item()} (not finite for member(s) {', '.join(bad)})"
            raise NonFiniteLossError(
                f"train/loss is {value} at epoch {self.current_epoch}: training diverged "
                "(try a lower model.optimizer.lr, batch norm, or check the data for extreme values)"
            )
        self._log_epoch("train", mean)
        if self._block_steps is not None:
            self._block_steps.on_train_epoch_end(self)

    # ----------------------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self._reset("val")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        for item in batches_of(batch):
            self._accumulate("val", item)

    validation_step.__signature__ = inspect.signature(validation_step)  # type: ignore[attr-defined]

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val", self._epoch_mean("val"))

    def on_test_epoch_start(self) -> None:
        self._reset("test")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        for item in batches_of(batch):
            self._accumulate("test", item)

    test_step.__signature__ = inspect.signature(test_step)  # type: ignore[attr-defined]

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test", self._epoch_mean("test"))

    # ----------------------------------------------------------------------------- optimizers
    def configure_optimizers(self) -> Any:
        make_optimizer = self.hparams.get("optimizer")
        if make_optimizer is None:
            optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
        else:
            optimizer = make_optimizer(self.parameters())
        make_scheduler = self.hparams.get("scheduler")
        if make_scheduler is None:
            return optimizer
        scheduler = make_scheduler(optimizer)
        config: dict[str, Any] = {"scheduler": scheduler, "interval": "epoch", "frequency": 1}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and self.automatic_optimization:
            config["monitor"] = self.hparams.monitor  # in blocks `BlockSteps` reads the monitor itself
        return {"optimizer": optimizer, "lr_scheduler": config}

    # ----------------------------------------------------------------------------- loading
    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: str | IO,
        map_location: Any = None,
        hparams_file: str | None = None,
        strict: bool | None = None,
        weights_only: bool | None = False,
        **kwargs: Any,
    ) -> Any:
        """Lightning's loader with ``weights_only=False`` by default: the hyperparameters hold
        modules and partials, which torch's ``weights_only=True`` unpickler refuses.
        Only load checkpoints you trust."""
        return super().load_from_checkpoint(
            checkpoint_path,
            map_location=map_location,
            hparams_file=hparams_file,
            strict=strict,
            weights_only=weights_only,
            **kwargs,
        )
