"""Ctrl-C and SIGTERM in a search: an ask or a tell is never cut in half, and a stopped trial is
recorded as interrupted (FAIL, never counted toward n_trials), so re-running the command finishes
the study (`_ledger.Ledger.record_interrupted`). Also how a forked worker dies with its `cr` process
and leaves without Python's teardown."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any, Iterator


class SearchStopped(BaseException):
    """Ctrl-C or SIGTERM reached a search worker. Not a KeyboardInterrupt: Lightning turns that into
    sys.exit(1) inside fit; this passes through, and the worker records its trial as interrupted."""


def die_with_parent() -> None:
    """Linux: a worker gets SIGTERM (and records its trial as interrupted) when the `cr` process dies."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent is already gone
            os.kill(os.getpid(), signal.SIGTERM)


def exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_SIGNALS: dict[str, Any] = {"deferred": 0, "pending": None}


def raise_stopped(signum: int, frame: Any) -> None:
    if _SIGNALS["deferred"]:
        _SIGNALS["pending"] = signum  # raised when the database work in progress is done
        return
    raise SearchStopped(signal.Signals(signum).name)


def stop_requested() -> bool:
    return _SIGNALS["pending"] is not None


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Ctrl-C / SIGTERM inside this block take effect at its end: an ask or a tell is never cut in half."""
    _SIGNALS["deferred"] += 1
    try:
        yield
    finally:
        _SIGNALS["deferred"] -= 1
    if not _SIGNALS["deferred"] and _SIGNALS["pending"] is not None:
        signum, _SIGNALS["pending"] = _SIGNALS["pending"], None
        raise SearchStopped(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise SearchStopped (in the main thread; elsewhere nothing changes)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _SIGNALS.update(deferred=0, pending=None)
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, raise_stopped)
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
