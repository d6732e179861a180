"""The machine side of parallel search workers: cores, fork, processes per trial, the modules loaded
once before forking, and the file lock the workers share for the results files."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator, Sequence

from omegaconf import DictConfig, OmegaConf

from crescendo.errors import ConfigError

log = logging.getLogger(__name__)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def processes_per_trial(cfg: DictConfig) -> int:
    """A DDP trial runs one process per device."""
    strategy = str(OmegaConf.select(cfg, "trainer.strategy", default="") or "").lower()
    devices = OmegaConf.select(cfg, "trainer.devices", default=1)
    if "ddp" in strategy and isinstance(devices, int) and devices > 1:
        return devices
    return 1


def check_trainer_for_search(cfg: DictConfig) -> None:
    strategy = str(OmegaConf.select(cfg, "trainer.strategy", default="") or "").lower()
    if "ddp" in strategy and "spawn" not in strategy and "fork" not in strategy and processes_per_trial(cfg) > 1:
        raise ConfigError(
            f"trainer.strategy={strategy}: a DDP trial inside a search is not supported (Lightning starts the other "
            f"ranks by re-running the whole command) — search with one process per trial (hydra.sweeper.n_jobs) "
            f"and train the chosen config with DDP as a single run (cr trainer=ddp ...)"
        )


def preload_modules(modules: Sequence[str]) -> None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a job that needs it reports the problem itself
            log.debug("preloading %s failed: %s", name, error)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: one worker only
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
