"""What needs the machine itself: whether the chosen accelerator exists here, and `compile=true`.

Neither can be judged by `crescendo.checks` (torch-free, and run by a search's own process, which may
sit on a machine without the trials' GPUs); `train` calls them before any data is read, and a search
whose trials run in its own process checks the accelerator before its study opens. Importing this
module imports neither torch nor Lightning; asking about a GPU or MPS imports Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crescendo.errors import ConfigError

if TYPE_CHECKING:  # a search's own process checks the accelerator without importing torch for a CPU search
    from torch import nn

#: what `trainer.accelerator=<name>` needs, and the preset that runs on this machine instead
_NEEDS = {"mps": ("Apple silicon GPU (MPS)", "trainer=cpu (or trainer=gpu on a CUDA machine)"),
          "cuda": ("CUDA GPU", "trainer=cpu"),
          "gpu": ("GPU (CUDA or Apple MPS)", "trainer=cpu")}


def check_accelerator(cfg: Any) -> None:
    """Raise a `ConfigError` naming trainer=cpu when `trainer.accelerator` names a device this machine
    lacks (Lightning's own refusal comes from inside the Trainer's constructor, after the data is read)."""
    trainer = cfg.get("trainer") or {}
    accelerator = trainer.get("accelerator")
    if not isinstance(accelerator, str) or accelerator.lower() not in _NEEDS:
        return
    from lightning.pytorch.accelerators import CUDAAccelerator, MPSAccelerator

    name = accelerator.lower()
    available = {"mps": MPSAccelerator.is_available(), "cuda": CUDAAccelerator.is_available()}
    available["gpu"] = available["mps"] or available["cuda"]
    if not available[name]:
        needs, fix = _NEEDS[name]
        raise ConfigError(f"trainer.accelerator={accelerator}: this machine has no {needs} — use {fix}")


def compile_model(model: "nn.Module") -> None:
    """torch.compile each child module that holds parameters, in place (`nn.Module.compile`): the
    training step calls the network directly, not the LightningModule's forward, and in-place
    compilation keeps the state_dict's keys, so checkpoints load into an uncompiled model."""
    for child in model.children():
        if any(True for _ in child.parameters()):
            child.compile()


__all__ = ["check_accelerator", "compile_model"]
