"""Plain `nn.Module` components used by crescendo's LightningModules."""

from crescendo.models.components.dense import DenseNetwork, dense_layers, make_activation

__all__ = ["DenseNetwork", "dense_layers", "make_activation"]
