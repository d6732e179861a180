"""Every private attribute of Lightning that crescendo touches, and nothing else.

Lightning has no public way to do these few things (keep the step count while stepping the torch
optimizer directly, count optimizer steps on the loggers' axis under blocks, buffer a checkpoint
instead of writing it at once). Keeping them here means one file to read when Lightning changes, and
tests/test_lightning_private.py fails when the installed Lightning renames or reshapes any of them.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from weakref import proxy

import lightning.fabric.utilities.registry as lightning_registry
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.trainer import call as lightning_call

__all__ = ["HOOK_NAME_ATTRIBUTE", "CheckpointFileHooks", "callbacks_state", "count_stepped_batches", "current_hook",
           "dump_checkpoint", "entry_points_read_once", "has_step_bookkeeping", "own_console_handler",
           "step_bookkeeping"]

#: The LightningModule attribute Lightning sets around every hook call (~40 times a step): a plain
#: string, so a module may store it without nn.Module.__setattr__'s Parameter/Module checks.
HOOK_NAME_ATTRIBUTE = "_current_fx_name"


def own_console_handler() -> logging.Handler | None:
    """The console handler `import lightning` puts on the `lightning` logger (``lightning._console``,
    "%(levelname)s: %(message)s"), whatever else is configured; None if this Lightning has none."""
    import lightning

    handler = getattr(lightning, "_console", None)
    return handler if isinstance(handler, logging.Handler) else None


def count_stepped_batches(trainer: pl.Trainer, extra: int) -> None:
    """Advance the loggers' step axis (``fit_loop.epoch_loop._batches_that_stepped``) by `extra` steps."""
    if extra:
        trainer.fit_loop.epoch_loop._batches_that_stepped += extra


def has_step_bookkeeping(optimizer: LightningOptimizer) -> bool:
    """Whether this Lightning keeps the manual loop's step count in ``LightningOptimizer._on_before_step``
    / ``_on_after_step`` (what `step_bookkeeping` returns)."""
    return all(hasattr(optimizer, name) for name in ("_on_before_step", "_on_after_step", "optimizer"))


def step_bookkeeping(optimizer: LightningOptimizer) -> tuple[Callable[[], None], Callable[[], None]]:
    """The calls `LightningOptimizer.step` makes around the torch step (the manual loop sets them for
    each step call: they count ``global_step``). Read them inside the step call, not before."""
    return optimizer._on_before_step, optimizer._on_after_step


def dump_checkpoint(trainer: pl.Trainer, weights_only: bool) -> dict[str, Any]:
    """The checkpoint dict `Trainer.save_checkpoint` would write, without writing it."""
    return trainer._checkpoint_connector.dump_checkpoint(weights_only)


def callbacks_state(trainer: pl.Trainer) -> dict[str, Any]:
    """The "callbacks" section `dump_checkpoint` writes: every callback's state_dict by state key."""
    return lightning_call._call_callbacks_state_dict(trainer)


def current_hook(trainer: pl.Trainer) -> str | None:
    """The name of the hook Lightning is running now (it keeps it on the LightningModule)."""
    return getattr(trainer.lightning_module, HOOK_NAME_ATTRIBUTE, None)


class CheckpointFileHooks(ModelCheckpoint):
    """ModelCheckpoint whose file writes and removals go through two public methods a subclass may
    override (`write_checkpoint`, `delete_checkpoint`); everything else is Lightning's.

    It overrides ModelCheckpoint's private ``_save_checkpoint`` (doing what it does, with the write
    replaced) and ``_remove_checkpoint``, and exposes ``_every_n_train_steps`` / ``_train_time_interval``
    as `saves_on_train_steps`.
    """

    def write_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """Write the checkpoint of this moment to `filepath` (Lightning: `Trainer.save_checkpoint`)."""
        trainer.save_checkpoint(filepath, self.save_weights_only)

    def delete_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        """Remove a checkpoint this callback no longer keeps."""
        super()._remove_checkpoint(trainer, filepath)

    @property
    def saves_on_train_steps(self) -> bool:
        """Whether it may save after a training batch (``every_n_train_steps`` or ``train_time_interval``)."""
        return self._every_n_train_steps >= 1 or self._train_time_interval is not None

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        self.write_checkpoint(trainer, filepath)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:  # notify loggers, as ModelCheckpoint does
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def _remove_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        self.delete_checkpoint(trainer, filepath)


@functools.lru_cache(maxsize=None)
def _entry_points_of(group: str) -> importlib.metadata.EntryPoints:
    return importlib.metadata.entry_points(group=group)


def _entry_points(**selection: Any) -> Any:
    group = selection.get("group")
    if set(selection) == {"group"} and isinstance(group, str):
        return _entry_points_of(group)
    return importlib.metadata.entry_points(**selection)


@contextmanager
def entry_points_read_once() -> Iterator[None]:
    """Within this context, Lightning's lookup of callback entry points (``Trainer.__init__`` →
    ``registry._load_external_callbacks`` → ``entry_points(group=...)``) reads the installed packages'
    metadata once per process instead of once per Trainer (~10 ms: a file read per installed package).
    The factories found are still called for every Trainer; a package installed while the process
    runs is not seen by its later Trainers."""
    original = lightning_registry.entry_points
    lightning_registry.entry_points = _entry_points
    try:
        yield
    finally:
        lightning_registry.entry_points = original
