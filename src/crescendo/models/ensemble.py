"""`BatchedEnsemble`: K independent MLPs trained together in one batched pass (`model=mlp_ensemble`).

The K members share the architecture (one resolved `model.architecture`) but nothing else: each has
its own initialisation, batch-norm statistics and dropout masks. Their parameters are stacked
(`crescendo.models.components.batched`), so a training step is ONE forward, ONE backward and ONE
optimiser step for all of them.

Independence, exactly: the loss back-propagated is the SUM over members of each member's own batch
mean loss, so member k's gradient is the gradient of its own loss alone. Element-wise optimisers
(SGD, Adam, AdamW, Adagrad, RMSprop, with or without ``fused``) then update every member exactly as
if it trained alone. What couples members is what looks at all parameters or at one metric:
gradient clipping by global norm (``trainer.gradient_clip_val``), ReduceLROnPlateau and early stopping
(they watch the members' mean ``val/loss``), and the kept checkpoint (best mean ``val/loss``).

Data, two ways (the data module decides; see `ArrayRegressionDataModule` ``n_members``):

* ``(x, y)`` with ``x`` of shape ``(n, in)``: every member trains on the same batch (the default,
  ``data.ensemble_split.enable=false``; members differ by their initialisation).
* ``(x, y)`` with ``x`` of shape ``(K, n, in)`` and ``y`` ``(K, n, targets)``: member k's batch is
  ``x[k]``, drawn (and shuffled) from its own KFold split of the training rows
  (``data.ensemble_split.enable=true``). Validation and test batches are always shared.

Logged once per epoch: ``train/loss``, ``val/loss`` and ``test/loss`` — the members' mean loss (what
`monitor` watches by default) — plus ``val/loss_member_{k}`` / ``test/loss_member_{k}`` for each
member and ``val/loss_of_mean`` / ``test/loss_of_mean``, the loss of the ensemble's mean prediction.

Prediction: ``model(x)`` is the members' mean ``(n, targets)`` (so the module drops in wherever a
single model does); ``model.predict_members(x)`` is every member, ``(K, n, targets)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from crescendo.errors import ConfigError
from crescendo.models.architecture import resolve_architecture
from crescendo.models.base import EpochLossModule, check_model_args
from crescendo.models.components.batched import BatchedDenseNetwork

__all__ = ["BatchedEnsemble"]


class BatchedEnsemble(EpochLossModule):
    """K multilayer perceptrons with stacked parameters, trained together.

    Args: those of `MultilayerPerceptron`, plus
        n_members: K, the number of members (>= 1).

    Attributes: ``n_members`` (K), ``hidden_widths`` (each member's resolved hidden widths),
    ``net`` (a `BatchedDenseNetwork`).

    The criterion is applied to each member's ``(n, targets)`` output separately (``torch.vmap``
    over the members, or a loop if the criterion cannot be vmapped) and must return that member's
    batch mean, as for the MLP.
    """

    def __init__(
        self,
        input_dims: int,
        output_dims: int,
        n_members: int = 5,
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
        check_model_args(dropout, activation, last_activation, optimizer, scheduler, criterion, monitor)
        if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 1:
            raise ConfigError(f"model.n_members: {n_members!r} is not an int >= 1 — set e.g. model.n_members=5")
        # the RESOLVED widths are saved, so load_from_checkpoint rebuilds this exact network
        architecture = resolve_architecture(architecture, input_dims, output_dims, seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*is an instance of `nn.Module`")
            self.save_hyperparameters(ignore=["batches_per_call"], logger=False)
        self.n_members = int(n_members)
        self.hidden_widths: list[int] = list(architecture)
        self.net = BatchedDenseNetwork(
            self.n_members,
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
        self._vmap_criterion = True  # switched off for good if the criterion cannot be vmapped

    # ----------------------------------------------------------------------------- inference
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The ensemble's prediction: the members' mean, ``(n, targets)``."""
        return self.net(x).mean(dim=0)

    def predict_members(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's prediction, ``(K, n, targets)``, for inputs ``(n, input_dims)``.

        Like ``forward`` it runs in the module's current mode: call ``model.eval()`` first (dropout
        off, batch-norm running statistics), and wrap it in ``torch.no_grad()`` when predicting.
        """
        return self.net(x)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """``trainer.predict`` yields every member, ``(K, n, targets)`` per batch (join on dim 1)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.net(x)

    # ----------------------------------------------------------------------------- members as MLPs
    def member(self, k: int) -> Any:
        """Member k as a stand-alone `MultilayerPerceptron` (a copy, same hyperparameters)."""
        from crescendo.models.mlp import MultilayerPerceptron

        hparams = {key: value for key, value in self.hparams.items() if key != "n_members"}
        hparams["architecture"] = list(self.hidden_widths)
        mlp = MultilayerPerceptron(**hparams)
        self.net.copy_member_to(self._check_member(k), mlp.net)
        mlp.train(self.training)
        return mlp.to(self.device)

    def load_member(self, k: int, mlp: nn.Module) -> None:
        """Set member k's parameters and buffers from a `MultilayerPerceptron` of the same shape."""
        net = getattr(mlp, "net", mlp)
        self.net.copy_member_from(self._check_member(k), net)

    def _check_member(self, k: int) -> int:
        if not 0 <= k < self.n_members:
            raise IndexError(f"member {k} out of range: the ensemble has members 0..{self.n_members - 1}")
        return k

    # ----------------------------------------------------------------------------- loss
    def _member_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's batch-mean loss, ``(K,)``: y is shared ``(n, t)`` or per member ``(K, n, t)``."""
        shared = y.dim() == out.dim() - 1
        if self._vmap_criterion:
            try:
                return torch.vmap(self.criterion, in_dims=(0, None if shared else 0))(out, y)
            except Exception:  # noqa: BLE001 - e.g. data-dependent control flow; the loop below is exact
                self._vmap_criterion = False
        return torch.stack([self.criterion(out[k], y if shared else y[k]) for k in range(self.n_members)])

    def _accumulate(self, stage: str, batch: Any) -> torch.Tensor:
        x, y = batch
        out = self.net(x)
        losses = self._member_losses(out, y)
        rows = x.shape[-2]
        if stage == "train":
            self._add(stage, losses.detach(), rows)
        else:  # evaluation batches are shared: also score the ensemble's mean prediction
            of_mean = self.criterion(out.mean(dim=0), y)
            self._add(stage, torch.cat([losses.detach(), of_mean.detach().reshape(1)]), rows)
        # the sum of the members' own mean losses: member k's gradient is its own loss's gradient
        return losses.sum()

    def _log_epoch(self, stage: str, mean: torch.Tensor | None) -> None:
        """``<stage>/loss`` = the members' mean; per member and the mean prediction's loss for val/test."""
        if mean is None:
            return
        members = mean[: self.n_members]
        options = dict(on_step=False, on_epoch=True, prog_bar=False, batch_size=1)
        self.log(f"{stage}/loss", members.mean(), **options)
        if stage == "train":
            return
        for k in range(self.n_members):
            self.log(f"{stage}/loss_member_{k}", members[k], **options)
        if mean.numel() > self.n_members:
            self.log(f"{stage}/loss_of_mean", mean[self.n_members], **options)

    # ----------------------------------------------------------------------------- optimizers
    def configure_optimizers(self) -> Any:
        try:
            return super().configure_optimizers()
        except TypeError as error:
            if "fused" not in str(error):
                raise
            name = getattr(self.hparams.get("optimizer"), "func", None)
            raise ConfigError(
                f"model.optimizer.fused: {getattr(name, '__name__', 'this optimizer')} has no fused "
                "implementation — drop it with ~model.optimizer.fused (fused exists for Adam, AdamW, "
                "SGD and Adagrad)"
            ) from None
