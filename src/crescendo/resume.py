"""`ckpt_path`: continue a run from a Lightning checkpoint, exactly where it stopped.

Lightning's `Trainer.fit(ckpt_path=...)` restores the weights, the optimizer and scheduler states, the
loops' progress (epoch, global step, the loggers' step axis) and every callback's state (ModelCheckpoint's
best-so-far, EarlyStopping's patience). It does not restore the random number generators: a seeded run
resumed at epoch 2 would reseed and shuffle its training rows in epoch 0's order again.
`crescendo.callbacks.RandomState` keeps the generators in the checkpoint, so a resumed seeded run is
the uninterrupted run. This module is torch-free: `crescendo.checks` finds a missing file with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: `ckpt_path=last`: the run directory's own last checkpoint
LAST = "last"
#: where a run keeps it (callbacks.last_checkpoint in conf/callbacks/default.yaml)
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def checkpoint_path(value: Any, run_dir: str | Path | None) -> Path | None:
    """The checkpoint file `ckpt_path` names: None for null, `<run_dir>/checkpoints/last.ckpt` for
    `last`, else the path itself (`~` expanded, relative to the working directory)."""
    if value is None or value == "":
        return None
    if value == LAST:
        return None if run_dir is None else Path(run_dir) / LAST_CHECKPOINT
    return Path(str(value)).expanduser()


def missing_checkpoint(value: Any, run_dir: str | Path | None) -> tuple[str, str] | None:
    """(what, fix) when `ckpt_path` names no checkpoint file; None when it does (or cannot be judged
    here: `last` before the run directory is known)."""
    path = checkpoint_path(value, run_dir)
    if path is None or path.is_file():
        return None
    if value == LAST:
        return (f"{path} does not exist", ("point hydra.run.dir at the run to continue (e.g. "
                "hydra.run.dir=results/train/runs/<time>), or give the file: ckpt_path=DIR/checkpoints/last.ckpt"))
    if path.is_dir():
        return ("is a directory, not a checkpoint file", f"name the file, e.g. ckpt_path={path / LAST_CHECKPOINT}")
    return (f"{path.resolve()} does not exist", ("give an existing .ckpt file, e.g. "
            "ckpt_path=results/train/runs/<time>/checkpoints/last.ckpt"))
