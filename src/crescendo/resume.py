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


def read_checkpoint(value: Any, path: Path) -> dict[str, Any]:
    """The checkpoint `ckpt_path` names, read before any data (a `ConfigError` when it is not a Lightning
    training checkpoint: Lightning would find that only inside fit, with a traceback)."""
    import torch

    from crescendo.errors import ConfigError

    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)  # our own checkpoints hold partials
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise ConfigError(f"ckpt_path={value}: {path} is not a checkpoint ({type(error).__name__}) — "
                          "give a .ckpt file that cr wrote, e.g. DIR/checkpoints/last.ckpt") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("state_dict"), dict) or "loops" not in saved:
        raise ConfigError(f"ckpt_path={value}: {path} is not a Lightning training checkpoint (no state_dict or loop "
                          "state) — give a .ckpt file that cr wrote, e.g. DIR/checkpoints/last.ckpt")
    return saved


def check_checkpoint_fits(value: Any, saved: dict[str, Any], model: Any) -> None:
    """Raise a `ConfigError` when the checkpoint's weights do not fit this run's model (another
    architecture, another model class): Lightning would find it only inside fit, after this run has
    rewritten its config, with a traceback. Hyperparameters that do not change the weights' shapes (the
    learning rate, dropout) may differ: resuming continues with the checkpoint's optimizer state."""
    from crescendo.errors import ConfigError

    expected = {key: tuple(tensor.shape) for key, tensor in model.state_dict().items()}
    found = {key: tuple(getattr(tensor, "shape", ())) for key, tensor in saved["state_dict"].items()}
    differences = [f"{key} missing" for key in expected if key not in found]
    differences += [f"{key} unexpected" for key in found if key not in expected]
    differences += [f"{key} {found[key]} vs {expected[key]}" for key in expected
                    if key in found and found[key] != expected[key]]
    if differences:
        shown = ", ".join(differences[:3]) + (f" (+{len(differences) - 3} more)" if len(differences) > 3 else "")
        raise ConfigError(f"ckpt_path={value}: the checkpoint's model does not match this run's model.* settings "
                          f"(weights: {shown}) — resume with the run's own model settings (its "
                          ".hydra/overrides.yaml), or train afresh without ckpt_path")
