"""The Hydra task behind `cr`: run `train`, and turn user errors into one line and an exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from crescendo.errors import CrescendoError, NonFiniteLossError, exit_with


def _in_search() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _remove_bookkeeping_only_dir(run_dir: Path) -> None:
    """Remove a run dir that holds nothing but Hydra's own files (.hydra/, *.log).

    Anything else in it — a user's files when hydra.run.dir points somewhere shared — keeps the
    directory alive: only what Hydra wrote for this run is removed.
    """
    if not run_dir.is_dir():
        return
    entries = list(run_dir.iterdir())
    if any(entry.name != ".hydra" and entry.suffix != ".log" for entry in entries):
        return
    for entry in entries:
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    run_dir.rmdir()


def run(cfg: DictConfig):  # -> crescendo.train.TrainResult
    """Train once; inside a search, let errors reach the sweeper, which records them per trial."""
    from crescendo.train import train

    try:
        return train(cfg)
    except CrescendoError as error:
        if _in_search():
            raise
        # a user error is found before anything is trained: leave no half-made run behind
        _remove_bookkeeping_only_dir(Path(cfg.paths.output_dir))
        exit_with(error)
    except NonFiniteLossError as error:
        if _in_search():
            raise
        exit_with(f"{error} (result.json records the failed run; try a lower model.optimizer.lr)", code=1)
