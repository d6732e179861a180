"""`MultilayerPerceptron`: the LightningModule `cr` trains.

The training-loop machinery (on-device epoch sums logged once per epoch as ``train/loss``,
``val/loss``, ``test/loss``, the non-finite check, optimizers, checkpoint loading) lives in
`crescendo.models.base.EpochLossModule`, shared with the batched ensemble; this module builds the
network and computes the batch loss.

The criterion must return the batch MEAN (``reduction="mean"``, the torch default): the epoch
value is then the mean over all rows of the epoch, independent of the batch size.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from crescendo.models.architecture import resolve_architecture
from crescendo.models.base import EpochLossModule
from crescendo.models.base import check_model_args as _check_args
from crescendo.models.components import DenseNetwork

__all__ = ["MultilayerPerceptron"]


class MultilayerPerceptron(EpochLossModule):
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
        batches_per_call: batches per Lightning step call (1 = automatic optimization); see
            `EpochLossModule`. Not a hyperparameter: checkpoints load with the default, 1.

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
        batches_per_call: int = 1,
    ) -> None:
        super().__init__(batches_per_call=batches_per_call)
        _check_args(dropout, activation, last_activation, optimizer, scheduler, criterion, monitor)
        # Resolve first and save the RESOLVED widths as `architecture`, so that
        # load_from_checkpoint rebuilds this exact network even for a random architecture.
        architecture = resolve_architecture(architecture, input_dims, output_dims, seed)
        with warnings.catch_warnings():
            # activation/criterion modules are kept on purpose: they are needed to rebuild the net.
            warnings.filterwarnings("ignore", message=r".*is an instance of `nn.Module`")
            self.save_hyperparameters(ignore=["batches_per_call"], logger=False)
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

    # ----------------------------------------------------------------------------- inference
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.net(x)

    # ----------------------------------------------------------------------------- loss
    def _accumulate(self, stage: str, batch: Any) -> torch.Tensor:
        x, y = batch
        loss = self.criterion(self.net(x), y)
        self._add(stage, loss.detach(), x.shape[0])
        return loss
