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
from collections.abc import Sequence
from typing import IO, Any

import lightning as L
import torch
from torch import nn

from crescendo.data.loaders import StepBlock
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

    Checkpoints pickle modules and partials held in the hyperparameters, so they load with
    ``weights_only=False``; `load_from_checkpoint` here defaults to that. Only load checkpoints you trust.
    """

    def __init__(self) -> None:
        super().__init__()
        # Epoch accumulators (on-device loss sums and python row counts), reset at epoch start.
        self._sums: dict[str, torch.Tensor] = {}
        self._rows: dict[str, int] = {}
        self._batches_this_epoch = 0  # optimizer steps so far this epoch (manual optimization)
        self._plateau_steps_due: list[tuple[Any, Any]] = []  # (scheduler, metric) for the next epoch start
        self._direct_steps = False  # manual steps straight on the torch optimizer (see on_train_start)

    # ----------------------------------------------------------------------------- loop speed
    # Lightning sets `_current_fx_name` twice around every hook call (about 40 times a step);
    # nn.Module.__setattr__ runs Parameter/Module isinstance checks each time. It is a plain
    # string attribute, so store it directly.
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Fast path for the ``(x, y)`` tensor batches of crescendo's loaders (``.to`` is a no-op
        when already there); anything else goes through Lightning's generic collection walk."""
        if type(batch) in (tuple, list) and all(isinstance(t, torch.Tensor) for t in batch):
            return type(batch)(t.to(device, non_blocking=True) for t in batch)
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
    def on_train_epoch_start(self) -> None:
        self._reset("train")
        self._batches_this_epoch = 0
        for scheduler, metric in self._plateau_steps_due:
            self.lr_scheduler_step(scheduler, metric)
        self._plateau_steps_due = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        if self.automatic_optimization:
            if isinstance(batch, StepBlock):
                raise RuntimeError("a StepBlock needs manual optimization: use crescendo.batch_blocks.apply_batches_per_call")
            return self._accumulate("train", batch)
        batches = _batches(batch)
        self._train_manually(batches, last_call=batch_idx + 1 == self.trainer.num_training_batches)
        # loggers' x axis: Lightning counts one step per call; count the optimizer steps, as it does one batch a step
        epoch_loop = self.trainer.fit_loop.epoch_loop
        if len(batches) > 1 and hasattr(epoch_loop, "_batches_that_stepped"):
            epoch_loop._batches_that_stepped += len(batches) - 1
        return None

    # Lightning inspects training_step's signature every step to decide whether to pass
    # batch_idx; a precomputed __signature__ turns that into an attribute lookup.
    training_step.__signature__ = inspect.signature(training_step)  # type: ignore[attr-defined]

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
        if not self.automatic_optimization:
            # Lightning steps plateau schedulers after the epoch-end checkpoints, which run after this
            # hook: take the metric now, step at the next epoch's start (a resumed run skips it, as Lightning does)
            self._plateau_steps_due = self._schedulers_due("epoch", self.current_epoch, plateau=True)

    # ----------------------------------------------------------------------------- manual optimization
    def _train_manually(self, batches: Sequence[Any], last_call: bool) -> None:
        """One optimizer step per batch, as Lightning's automatic loop does it (forward, zero_grad,
        backward, step), with its schedulers stepped where it would step them."""
        optimizer = self.optimizers()
        direct = self._direct_steps
        for batch in batches:
            loss = self._accumulate("train", batch)
            if direct:  # what the calls below come to when no hook, precision or strategy adds anything
                optimizer.optimizer.zero_grad()
                loss.backward()
                optimizer._on_before_step()  # the loop's step bookkeeping: global_step
                optimizer.optimizer.step()
                optimizer._on_after_step()
            else:
                optimizer.zero_grad()
                self.manual_backward(loss)
                optimizer.step()
            self._step_schedulers("step", self._batches_this_epoch, plateau=False)
            self._batches_this_epoch += 1
        if last_call:  # non-plateau epoch schedulers step before the epoch's validation, as in Lightning
            self._step_schedulers("epoch", self.current_epoch, plateau=False)

    def on_train_start(self) -> None:
        self._direct_steps = not self.automatic_optimization and _steps_need_no_lightning(self)

    def _step_schedulers(self, interval: str, index: int, *, plateau: bool) -> None:
        for scheduler, metric in self._schedulers_due(interval, index, plateau=plateau):
            self.lr_scheduler_step(scheduler, metric)

    def _schedulers_due(self, interval: str, index: int, *, plateau: bool) -> list[tuple[Any, Any]]:
        """(scheduler, metric) pairs Lightning's `_update_learning_rates` would step now — it skips
        them under manual optimization."""
        due: list[tuple[Any, Any]] = []
        for config in self.trainer.lr_scheduler_configs:
            # under manual optimization Lightning keeps no monitor: a plateau scheduler watches `monitor`
            is_plateau = isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
            if config.interval != interval or is_plateau != plateau or (index + 1) % config.frequency:
                continue
            metric = None
            if is_plateau:
                monitor = config.monitor or self.hparams.get("monitor")
                metric = self.trainer.callback_metrics.get(monitor)
                if metric is None:
                    raise ConfigError(
                        f"model.scheduler: ReduceLROnPlateau watches {monitor!r}, which is not logged; "
                        f"logged metrics: {sorted(self.trainer.callback_metrics)} — set monitor to one of them"
                    )
                metric = metric.clone() if isinstance(metric, torch.Tensor) else metric
            due.append((config.scheduler, metric))
        return due

    # ----------------------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self._reset("val")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        for item in _batches(batch):
            self._accumulate("val", item)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val", self._epoch_mean("val"))

    def on_test_epoch_start(self) -> None:
        self._reset("test")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        for item in _batches(batch):
            self._accumulate("test", item)

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
            config["monitor"] = self.hparams.monitor  # manual optimization: `_step_schedulers` uses it
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


def _batches(batch: Any) -> Sequence[Any]:
    """The batches of one step call: a `StepBlock`'s, or the single batch itself."""
    return batch if isinstance(batch, StepBlock) else (batch,)


#: the hooks Lightning's manual_backward / LightningOptimizer.step call around backward and step
_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def _steps_need_no_lightning(module: L.LightningModule) -> bool:
    """True when `manual_backward` + `LightningOptimizer.step` would only call ``loss.backward()`` and
    ``optimizer.step()``: full precision on one device, and no callback or module hook around them.
    Their dispatch then costs ~60 µs an optimizer step (5% of a small MLP's fit) for nothing."""
    from lightning.pytorch.plugins.precision import Precision
    from lightning.pytorch.strategies import SingleDeviceStrategy
    from lightning.pytorch.utilities.model_helpers import is_overridden

    trainer = module.trainer
    optimizer = module.optimizers()
    if type(trainer.precision_plugin) is not Precision or type(trainer.strategy) is not SingleDeviceStrategy:
        return False
    if not all(hasattr(optimizer, name) for name in ("_on_before_step", "_on_after_step", "optimizer")):
        return False  # a Lightning without the step bookkeeping this relies on
    if any(is_overridden(name, module) for name in (*_STEP_HOOKS, "backward")):
        return False
    return not any(is_overridden(name, callback, parent=L.Callback)
                   for callback in trainer.callbacks for name in _STEP_HOOKS)
