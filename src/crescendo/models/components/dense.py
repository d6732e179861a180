"""Plain `nn.Module` building blocks for fully connected networks (no Lightning here).

`dense_layers` is the one place that decides the layer order; `DenseNetwork` wraps it in an
`nn.Sequential`. The `linear` and `norm` factories are parameters so that other layouts (e.g. a
batched ensemble with one weight tensor per member) can reuse the same ordering.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

from torch import nn

__all__ = ["DenseNetwork", "dense_layers", "make_activation"]


def make_activation(activation: nn.Module | type[nn.Module] | None, default: Callable[[], nn.Module] | None):
    """A fresh activation module: a deep copy of an instance, a new instance of a class,
    ``default()`` when ``activation`` is None (or None when there is no default)."""
    if activation is None:
        return default() if default is not None else None
    if isinstance(activation, nn.Module):
        return copy.deepcopy(activation)
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    raise TypeError(f"expected an nn.Module instance or class, got {activation!r}")


def dense_layers(
    widths: Sequence[int],
    *,
    activation: nn.Module | type[nn.Module] | None = None,
    dropout: float = 0.0,
    batch_norm: bool = False,
    last_batch_norm: bool = False,
    last_activation: nn.Module | type[nn.Module] | None = None,
    linear: Callable[[int, int], nn.Module] = nn.Linear,
    norm: Callable[[int], nn.Module] = nn.BatchNorm1d,
) -> list[nn.Module]:
    """Layers for ``widths = [input, *hidden, output]``.

    Each hidden layer: ``linear → [norm if batch_norm] → activation → [Dropout if dropout > 0]``
    (activation defaults to ReLU and is copied per layer, so a PReLU gets its own parameters).
    Output layer: ``linear → [norm if last_batch_norm] → [last_activation]`` (None = identity).
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths must be >= 2 ints >= 1 (input, ..., output), got {widths}")
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-2], widths[1:-1]):
        layers.append(linear(fan_in, fan_out))
        if batch_norm:
            layers.append(norm(fan_out))
        layers.append(make_activation(activation, nn.ReLU))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(linear(widths[-2], widths[-1]))
    if last_batch_norm:
        layers.append(norm(widths[-1]))
    last = make_activation(last_activation, None)
    if last is not None:
        layers.append(last)
    return layers


class DenseNetwork(nn.Sequential):
    """A multilayer perceptron as an `nn.Sequential` of `dense_layers(...)`."""

    def __init__(
        self,
        input_dims: int,
        hidden_widths: Sequence[int],
        output_dims: int,
        *,
        activation: nn.Module | type[nn.Module] | None = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        last_batch_norm: bool = False,
        last_activation: nn.Module | type[nn.Module] | None = None,
    ) -> None:
        super().__init__(
            *dense_layers(
                [input_dims, *hidden_widths, output_dims],
                activation=activation,
                dropout=dropout,
                batch_norm=batch_norm,
                last_batch_norm=last_batch_norm,
                last_activation=last_activation,
            )
        )
        self.input_dims = int(input_dims)
        self.hidden_widths = [int(w) for w in hidden_widths]
        self.output_dims = int(output_dims)
