"""The machine side of parallel search workers: cores, fork, processes per trial, the modules loaded
once before forking, forking the workers and waiting for them, and the file lock they share."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

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


#: a worker's exit code after Ctrl-C / SIGTERM (as a shell reports a process stopped by SIGINT)
INTERRUPTED_CODE = 130


def preload_modules(modules: Sequence[str]) -> float:
    """Import `modules` (torch and Lightning take seconds) before the first trial, so no trial's time
    includes them and forked workers share them; returns the seconds it took."""
    import importlib

    started = time.perf_counter()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - a job that needs it reports the problem itself
            log.debug("preloading %s failed: %s", name, error)
    return time.perf_counter() - started


def run_workers(body: Callable[[int], int], n_workers: int) -> int:
    """Fork `n_workers` processes that each run `body(index)` and exit with its code; wait for them.

    Returns the exit code of the whole. One worker's abort (a nonzero code other than
    INTERRUPTED_CODE) stops the others with SIGTERM (they record their trials as interrupted); a
    killed worker is reported, its trial is retried once its heartbeat expires.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    from hydra_plugins.crescendo_sweeper._signals import signals_ignored

    context = multiprocessing.get_context("fork")
    sys.stdout.flush()
    sys.stderr.flush()
    workers = []
    for index in range(n_workers):
        process = context.Process(target=_worker_entry, args=(body, index), name=f"cr-worker-{index}", daemon=False)
        process.start()
        workers.append(process)
    alive = {p.sentinel: p for p in workers}
    code = 0
    try:
        while alive:
            for sentinel in wait(list(alive)):
                process = alive.pop(sentinel)
                process.join()
                exit_code = process.exitcode or 0
                if exit_code < 0:
                    print(f"cr: warning: worker {process.name} (pid {process.pid}) was killed by signal {-exit_code}; "
                          "its trial is retried once its heartbeat expires", file=sys.stderr, flush=True)
                elif exit_code == INTERRUPTED_CODE:
                    code = code or exit_code
                elif exit_code != 0 and code == 0:
                    code = exit_code  # an abort: stop the others
                    for other in alive.values():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(other.pid, signal.SIGTERM)
    except KeyboardInterrupt:  # Ctrl-C: the workers got it too; let them record their trials
        code = INTERRUPTED_CODE
        with signals_ignored():
            for process in alive.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
            for process in alive.values():
                process.join(timeout=60)
    if code == 0 and all((p.exitcode or 0) < 0 for p in workers):
        print("cr: error: every worker was killed; run the same command again to finish the study", file=sys.stderr)
        code = 1
    return code


def _worker_entry(body: Callable[[int], int], index: int) -> None:
    """A forked worker: dies with its parent, runs `body`, leaves without Python's teardown."""
    from hydra_plugins.crescendo_sweeper._signals import die_with_parent, exit_now

    die_with_parent()
    code = 1
    try:
        code = body(index)
    except BaseException:  # a bug: show it, as the command itself would
        import traceback

        traceback.print_exc()
    finally:
        exit_now(code)


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
