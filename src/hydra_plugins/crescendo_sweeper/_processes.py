"""The machine side of search workers: cores, fork, processes per trial, the modules loaded once
before forking, forking the workers (or one before the set-up, to import meanwhile) and waiting for
them, and the file lock they share."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

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


def check_devices_for_search(cfg: DictConfig, params: Sequence[Any]) -> None:
    """Trials that run on this machine need its accelerator: a missing GPU is one error before the
    study opens, not a failure per trial. `params`: the searched keys (a searched trainer.accelerator's
    every choice is checked). A CPU search imports nothing here."""
    from crescendo.devices import check_accelerator

    searched = [choice for p in params if p.name == "trainer.accelerator"
                for choice in getattr(p.distribution, "choices", ())]
    for accelerator in [OmegaConf.select(cfg, "trainer.accelerator", default=None), *searched]:
        check_accelerator({"trainer": {"accelerator": accelerator}})


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


def needs_preload(modules: Sequence[str]) -> bool:
    """Whether importing `modules` is still to be done (a fresh `cr` process, not a test session)."""
    return any(name not in sys.modules for name in modules)


def run_workers(body: Callable[[int], int], n_workers: int) -> int:
    """Fork `n_workers` processes that each run `body(index)` and exit with its code; wait for them.

    Returns the exit code of the whole (see `wait_for`).
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    _flush()
    workers = []
    for index in range(n_workers):
        process = context.Process(target=_worker_entry, args=(body, index), name=f"cr-worker-{index}", daemon=False)
        process.start()
        workers.append(process)
    return wait_for(workers)


class PreforkedWorker:
    """A worker forked before the search's set-up (plan, checks, study): it imports the trials' modules
    (torch and Lightning take seconds) on the other core while the set-up runs here, then runs what
    `hand_over` sends it, or leaves on `cancel`. Both are serial work in one process: the import lock
    and the GIL keep them from overlapping in threads.

    `body(message, import_seconds)` runs in the worker and returns its exit code.
    """

    def __init__(self, preload: Sequence[str], body: Callable[[Any, float], int]) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._receive, self._send = context.Pipe(duplex=False)
        _flush()
        self.process = context.Process(target=_preforked_entry, args=(tuple(preload), body, self._receive),
                                       name="cr-worker-0", daemon=False)
        self.process.start()
        self._receive.close()
        self._handed_over = False

    def hand_over(self, message: Any) -> int:
        """Send the work and wait for the worker; returns its exit code (see `wait_for`)."""
        _flush()
        self._send.send(message)
        self._send.close()
        self._handed_over = True
        return wait_for([self.process])

    def cancel(self) -> None:
        """The set-up failed or stopped: the worker has written nothing; end it and reap it."""
        if self._handed_over:
            return
        self._handed_over = True
        with contextlib.suppress(OSError):
            self._send.close()  # the worker reads EOF and leaves
        self.process.join(timeout=1)
        if self.process.is_alive():  # still importing
            self.process.kill()
            self.process.join()


def _preforked_entry(preload: tuple[str, ...], body: Callable[[Any, float], int], receive: Any) -> None:
    from hydra_plugins.crescendo_sweeper._signals import die_with_parent, exit_now

    die_with_parent()
    # Ctrl-C during the set-up is the parent's to handle (it cancels this worker, which wrote nothing)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seconds = preload_modules(preload)
    try:
        message = receive.recv()
    except (EOFError, OSError):
        exit_now(0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        code = body(message, seconds)
    except BaseException:  # a bug: show it, as the command itself would
        import traceback

        traceback.print_exc()
    finally:
        exit_now(code)


def wait_for(workers: Sequence[Any]) -> int:
    """Wait for started worker processes; returns the exit code of the whole.

    One worker's abort (a nonzero code other than INTERRUPTED_CODE) stops the others with SIGTERM (they
    record their trials as interrupted); a killed worker is reported, its trial is retried once its
    heartbeat expires.
    """
    from multiprocessing.connection import wait

    from hydra_plugins.crescendo_sweeper._signals import signals_ignored

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


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


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
