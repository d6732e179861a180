"""`MultilayerPerceptron`: the LightningModule `cr` trains.

Speed matters (the loop is benchmarked against plain PyTorch), so a step does only the math: no
`self.log` per step, no host sync. Each step adds ``loss.detach() * rows`` to an on-device sum;
the epoch-end hooks log the row-weighted mean once (``train/loss``, ``val/loss``, ``test/loss``)
and the training epoch end checks it is finite (`NonFiniteLossError` otherwise).

The criterion must return the batch MEAN (``reduction="mean"``, the torch default): the epoch
value is then the mean over all rows of the epoch, independent of the batch size.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable
from typing import IO, Any

import lightning as L
import torch
from torch import nn

from crescendo.errors import ConfigError, NonFiniteLossError
from crescendo.models.architecture import resolve_architecture
from crescendo.models.components import DenseNetwork

__all__ = ["MultilayerPerceptron"]


def _check_args(
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


class MultilayerPerceptron(L.LightningModule):
    """A fully connected regression network trained with a row-weighted epoch loss.

    Args:
        input_dims, output_dims: widths of the input and output (from the data).
        architecture: hidden widths — a list, an int N (linear ramp), or
            ``{neurons_range: [lo, hi], ramp_std}`` (see `crescendo.models.architecture`).
            Resolved once; the resolved list is what the hyperparameters and checkpoints keep.
        dropout: dropout probability after each hidden activation (0 = none).
        activation: hidden activation module (copied per layer); default ``nn.ReLU()``.
        last_activation: output activation module, or None for identity.
        batch_norm / last_batch_norm: BatchNorm1d after each hidden / the output Linear.
        optimizer: ``partial`` called with the parameters; default ``Adam(lr=1e-3)``.
        scheduler: ``partial`` called with the optimizer, or None. A ReduceLROnPlateau watches
            ``monitor``; any other scheduler steps once per epoch.
        criterion: loss module returning the batch mean; default ``nn.MSELoss()``.
        seed: seeds the random architecture draw (None = a fresh draw).
        monitor: the metric ReduceLROnPlateau watches.

    Checkpoints pickle the activation/criterion modules and the optimizer/scheduler partials, so
    they load with ``weights_only=False``; `load_from_checkpoint` here defaults to that.
    Only load checkpoints you trust.
    """

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        architecture: list[int] | int | dict = 3,
        dropout: float = 0.0,
        activation: nn.Module | None = None,
        last_activation: nn.Module | None = None,
        batch_norm: bool = False,
        last_batch_norm: bool = False,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer] | None = None,
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        criterion: nn.Module | None = None,
        seed: int | None = None,
        monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        _check_args(dropout, activation, last_activation, optimizer, scheduler, criterion, monitor)
        # Resolve first and save the RESOLVED widths as `architecture`, so that
        # load_from_checkpoint rebuilds this exact network even for a random architecture.
        architecture = resolve_architecture(architecture, input_dims, output_dims, seed)
        with warnings.catch_warnings():
            # activation/criterion modules are kept on purpose: they are needed to rebuild the net.
            warnings.filterwarnings("ignore", message=r".*is an instance of `nn.Module`")
            self.save_hyperparameters(logger=False)
        self.hidden_widths: list[int] = list(architecture)
        self.net = DenseNetwork(
            input_dims,
            self.hidden_widths,
            output_dims,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
            last_batch_norm=last_batch_norm,
            last_activation=last_activation,
        )
        self.criterion = criterion if criterion is not None else nn.MSELoss()
        # Epoch accumulators (on-device loss sums and python row counts), reset at epoch start.
        self._sums: dict[str, torch.Tensor] = {}
        self._rows: dict[str, int] = {}

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

    # ----------------------------------------------------------------------------- inference
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.net(x)

    # ----------------------------------------------------------------------------- epoch sums
    def _reset(self, stage: str) -> None:
        self._sums[stage] = torch.zeros((), device=self.device)
        self._rows[stage] = 0

    def _accumulate(self, stage: str, batch: Any) -> torch.Tensor:
        x, y = batch
        loss = self.criterion(self.net(x), y)
        rows = x.shape[0]
        total = self._sums.get(stage)
        if total is None:  # a step called outside a Trainer epoch (e.g. directly in a test)
            self._reset(stage)
            total = self._sums[stage]
        total.add_(loss.detach(), alpha=rows)
        self._rows[stage] += rows
        return loss

    def _epoch_mean(self, stage: str) -> torch.Tensor | None:
        """Row-weighted mean loss of the epoch (summed over processes), None if no rows ran."""
        total, rows = self._sums.get(stage), self._rows.get(stage, 0)
        if total is None:
            return None
        if self.trainer.world_size > 1:
            stats = torch.stack([total.float(), total.new_tensor(float(rows))])
            stats = self.trainer.strategy.reduce(stats, reduce_op="sum")
            total, rows = stats[0], int(stats[1].item())
        if rows == 0:
            return None
        return total / rows

    def _log_epoch(self, stage: str, mean: torch.Tensor | None) -> None:
        """Log ``<stage>/loss`` once for the epoch (already reduced over processes)."""
        if mean is not None:
            self.log(f"{stage}/loss", mean, on_step=False, on_epoch=True, prog_bar=False, batch_size=1)

    # ----------------------------------------------------------------------------- training
    def on_train_epoch_start(self) -> None:
        self._reset("train")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._accumulate("train", batch)

    # Lightning inspects training_step's signature every step to decide whether to pass
    # batch_idx; a precomputed __signature__ turns that into an attribute lookup.
    training_step.__signature__ = inspect.signature(training_step)  # type: ignore[attr-defined]

    def on_train_epoch_end(self) -> None:
        mean = self._epoch_mean("train")
        if mean is not None and not bool(torch.isfinite(mean)):
            raise NonFiniteLossError(
                f"train/loss is {mean.item()} at epoch {self.current_epoch}: training diverged "
                "(try a lower model.optimizer.lr, batch norm, or check the data for extreme values)"
            )
        self._log_epoch("train", mean)

    # ----------------------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self._reset("val")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._accumulate("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val", self._epoch_mean("val"))

    def on_test_epoch_start(self) -> None:
        self._reset("test")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._accumulate("test", batch)

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
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            config["monitor"] = self.hparams.monitor
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
    ) -> MultilayerPerceptron:
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
