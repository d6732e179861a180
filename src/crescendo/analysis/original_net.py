"""The original Crescendo 0.0.4's network, rebuilt to predict with the checkpoints it wrote.

0.0.4's `MultilayerPerceptron` ordered each layer ``Linear → activation → BatchNorm → Dropout``; ours
orders ``Linear → BatchNorm → activation``, so its weights only mean what they meant inside its own
layout. This module is that layout (same attribute names, so the checkpoint's ``state_dict`` loads
strictly) and nothing else: no training, only inference.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch import nn

from crescendo.errors import CrescendoError

__all__ = ["OriginalNetwork", "load_original_network"]


class _Layer(nn.Module):
    """0.0.4's ``FeedforwardLayer``: Linear, then activation, then BatchNorm, then Dropout."""

    def __init__(self, fan_in: int, fan_out: int, activation: nn.Module | None, dropout: float,
                 batch_norm: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(fan_in, fan_out)]
        if activation is not None:
            layers.append(copy.deepcopy(activation))
        if batch_norm:
            layers.append(nn.BatchNorm1d(fan_out))
        if dropout > 0.0:
            layers.append(nn.Dropout(p=dropout))
        self._layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._layers(x)


class _Network(nn.Module):
    """0.0.4's ``FeedForwardNeuralNetwork`` (its ``_layers`` name kept for the state dict's keys)."""

    def __init__(self, widths: Sequence[int], activation: nn.Module | None, last_activation: nn.Module | None,
                 dropout: float, batch_norm: bool, last_batch_norm: bool) -> None:
        super().__init__()
        layers = []
        last = len(widths) - 2
        for index, (fan_in, fan_out) in enumerate(pairwise(widths)):
            if index == last:
                layers.append(_Layer(fan_in, fan_out, last_activation, 0.0, last_batch_norm))
            else:
                layers.append(_Layer(fan_in, fan_out, activation, dropout, batch_norm))
        self._layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._layers(x)


class OriginalNetwork(nn.Module):
    """A 0.0.4 `MultilayerPerceptron`'s network (``self.net``), for inference on scaled inputs."""

    def __init__(self, input_dims: int, architecture: Sequence[int], output_dims: int, *,
                 activation: nn.Module | None = None, last_activation: nn.Module | None = None,
                 dropout: float = 0.0, batch_norm: bool = False, last_batch_norm: bool = False) -> None:
        super().__init__()
        self.input_dims, self.output_dims = int(input_dims), int(output_dims)
        self.hidden_widths = [int(w) for w in architecture]
        self.net = _Network([self.input_dims, *self.hidden_widths, self.output_dims], activation,
                            last_activation, float(dropout), bool(batch_norm), bool(last_batch_norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def load_original_network(checkpoint: str | Path, model_config: Mapping[str, Any],
                          device: str | torch.device = "cpu") -> OriginalNetwork:
    """The network of a 0.0.4 checkpoint, in eval mode on `device`.

    `model_config` is the run's ``model`` section of final_config.yaml (0.0.4 wrote the resolved
    widths there); the activations are built from it with Hydra's instantiate. The checkpoint's
    ``state_dict`` must match that layout exactly.
    """
    from hydra.utils import instantiate

    def module(key: str) -> nn.Module | None:
        node = model_config.get(key)
        return None if node is None else instantiate(node)

    try:
        network = OriginalNetwork(
            int(model_config["input_dims"]), list(model_config["architecture"]), int(model_config["output_dims"]),
            activation=module("activation"), last_activation=module("last_activation"),
            dropout=float(model_config.get("dropout") or 0.0), batch_norm=bool(model_config.get("batch_norm")),
            last_batch_norm=bool(model_config.get("last_batch_norm")))
    except (KeyError, TypeError, ValueError) as error:
        raise CrescendoError(f"{checkpoint}: the run's final_config.yaml does not describe a 0.0.4 "
                             f"MultilayerPerceptron ({type(error).__name__}: {error})") from None
    try:
        # 0.0.4's hyperparameters hold modules and partials: a full unpickle, as its own loader did
        state = torch.load(checkpoint, map_location=torch.device(device), weights_only=False)
        weights = {k: v for k, v in state["state_dict"].items() if k.startswith("net.")}
        network.load_state_dict(weights, strict=True)
    except Exception as error:  # a truncated file, or weights of another layout
        first = str(error).splitlines()[0] if str(error) else ""
        raise CrescendoError(f"{checkpoint}: cannot be read as a Crescendo 0.0.4 checkpoint of this run "
                             f"({type(error).__name__}: {first})") from error
    return network.to(device).eval()
