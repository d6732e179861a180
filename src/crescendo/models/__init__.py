"""crescendo's models: `MultilayerPerceptron` (a LightningModule) and the pieces behind it.

- `crescendo.models.architecture.resolve_architecture`: `model.architecture` → hidden widths.
- `crescendo.models.components`: plain `nn.Module` building blocks (no Lightning).
- `crescendo.models.mlp.MultilayerPerceptron`: the module `cr` trains (`model=mlp`).

The names are imported on first use, so `crescendo.models.architecture` (numpy only) can be read by
the config checks without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DenseNetwork": "crescendo.models.components",
    "dense_layers": "crescendo.models.components",
    "MultilayerPerceptron": "crescendo.models.mlp",
    "resolve_architecture": "crescendo.models.architecture",
}

__all__ = ["DenseNetwork", "MultilayerPerceptron", "dense_layers", "resolve_architecture"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'crescendo.models' has no attribute {name!r}")
