"""crescendo's models: `MultilayerPerceptron` (a LightningModule) and the pieces behind it.

- `crescendo.models.architecture.resolve_architecture`: `model.architecture` → hidden widths.
- `crescendo.models.components`: plain `nn.Module` building blocks (no Lightning).
- `crescendo.models.mlp.MultilayerPerceptron`: the module `cr` trains (`model=mlp`).
"""

from crescendo.models.architecture import resolve_architecture
from crescendo.models.components import DenseNetwork, dense_layers
from crescendo.models.mlp import MultilayerPerceptron

__all__ = ["DenseNetwork", "MultilayerPerceptron", "dense_layers", "resolve_architecture"]
