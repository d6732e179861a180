"""What counts toward `n_trials`, as pure rules over a list of trials (`_ledger.Ledger` applies them).

COMPLETE, PRUNED and FAIL trials count; a trial stopped by Ctrl-C (FAIL with the `interrupted`
attr), a surplus trial and a trial retried after its worker died do not. RUNNING and WAITING trials
(a queued retry, or a start-up trial queued for a worker) hold a place among the n_trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from optuna.trial import TrialState

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

# user attrs set on every trial
RUN_DIR = "run_dir"
CHECKPOINT = "best_checkpoint"
ERROR = "error"
METRICS = "metrics"
INTERRUPTED = "interrupted"
WORKER = "worker"  # host:pid of the process that ran the trial
SURPLUS = "surplus"  # asked after the study was full (several workers at its end): never run, not counted
# system attr Optuna's RetryHeartbeatStaleTrialCallback sets on a retry: the stale trials it replaces
RETRY_HISTORY = "retry_history"


def retried_numbers(trials: Sequence["FrozenTrial"]) -> dict[int, int]:
    """{number of a trial whose worker died (heartbeat expired): number of the trial that retried it}."""
    retried: dict[int, int] = {}
    for t in trials:
        history = t.system_attrs.get(RETRY_HISTORY)
        if history:
            retried[int(history[-1])] = t.number
    return retried


def not_counted(trial: "FrozenTrial", retried: dict[int, int]) -> bool:
    """Stopped by Ctrl-C, surplus, or retried after its worker died (the retry counts instead)."""
    return bool(
        trial.user_attrs.get(INTERRUPTED)
        or trial.user_attrs.get(SURPLUS)
        or (trial.state == TrialState.FAIL and trial.number in retried)
    )


@dataclass
class Counts:
    """Trials by state, as they count toward n_trials (see the module doc)."""

    complete: int = 0
    pruned: int = 0
    fail: int = 0
    running: int = 0
    waiting: int = 0
    interrupted: int = 0
    retried: int = 0

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.fail

    @property
    def holding(self) -> int:
        """Trials that count or will count toward n_trials once they finish."""
        return self.finished + self.running + self.waiting

    @classmethod
    def of(cls, trials: Sequence["FrozenTrial"]) -> "Counts":
        retried = retried_numbers(trials)
        c = cls()
        for t in trials:
            if t.user_attrs.get(INTERRUPTED):
                c.interrupted += 1
            elif t.user_attrs.get(SURPLUS):
                continue
            elif t.state == TrialState.COMPLETE:
                c.complete += 1
            elif t.state == TrialState.PRUNED:
                c.pruned += 1
            elif t.state == TrialState.FAIL:
                if t.number in retried:
                    c.retried += 1
                else:
                    c.fail += 1
            elif t.state == TrialState.RUNNING:
                c.running += 1
            elif t.state == TrialState.WAITING:
                c.waiting += 1
        return c


def surplus_count(trials: Sequence["FrozenTrial"]) -> int:
    return sum(1 for t in trials if t.user_attrs.get(SURPLUS) and not t.user_attrs.get(INTERRUPTED))


def is_surplus(number: int, trials: Sequence["FrozenTrial"], n_trials: int) -> bool:
    """Trial `number` is surplus when n_trials trials numbered below it hold a place."""
    retried = retried_numbers(trials)
    below = sum(1 for t in trials if t.number < number and not not_counted(t, retried))
    return below >= n_trials
