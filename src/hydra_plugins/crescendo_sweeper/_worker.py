"""A worker's loop: ask → launch → tell, one trial at a time, until the study holds `n_trials` finished
trials. Per trial it costs one sampling, one job launch (in-process with the crescendo launcher), one
tell, one read of the study and one rewrite of the two small results files.

Ctrl-C and SIGTERM never cut an ask or a tell in half (`_signals.deferred_signals`); a trial they stop
is recorded as interrupted and does not count, so running the same command again finishes the study.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, Iterator

import optuna
from optuna.trial import TrialState

from hydra_plugins.crescendo_sweeper._console import trial_line
from hydra_plugins.crescendo_sweeper._jobs import Outcome, launch, outcome_of
from hydra_plugins.crescendo_sweeper._ledger import ERROR, Counts, Ledger
from hydra_plugins.crescendo_sweeper._plan import SearchPlan
from hydra_plugins.crescendo_sweeper._processes import file_lock
from hydra_plugins.crescendo_sweeper._results import ResultsWriter, best_trial
from hydra_plugins.crescendo_sweeper._signals import SearchStopped, deferred_signals, stop_on_signals, stop_requested

RESULTS_LOCK = ".results.lock"
ASK_LOCK = ".ask.lock"


class SearchAborted(Exception):
    """The search must stop (too many failures, or a failure every trial would share): exit `code`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def write_results(ledger: Ledger, writer: ResultsWriter) -> list[Any]:
    """Re-read the study and rewrite the results files; workers take turns (a lock file), so the files
    always come from the newest read. Returns the trials read."""
    with file_lock(writer.sweep_dir / RESULTS_LOCK):
        trials = ledger.trials()
        writer.write(trials)
    return trials


def run_trials(ledger: Ledger, plan: SearchPlan, launcher: Any, writer: ResultsWriter, *,
               queued_only: bool = False, prune: bool = True) -> int:
    """Run trials until the study is full; returns how many this worker ran. `queued_only`: only the
    trials queued for workers (the parallel start-up), none asked anew; `prune=False`: never pruned.
    Raises SearchAborted, SearchStopped."""
    n_run = 0
    with _quiet_launcher(), stop_on_signals():
        while True:
            lock = file_lock(plan.sweep_dir / ASK_LOCK) if queued_only else contextlib.nullcontext()
            with lock, deferred_signals():  # a signal here waits until the study is consistent
                asked = ledger.next_trial(plan.space.distributions, queued_only=queued_only,
                                          stop_requested=stop_requested)
                if asked is not None and stop_requested():
                    ledger.record_interrupted(*asked)
                    asked = None
            if asked is None:
                return n_run
            trial, beat = asked
            outcome, seconds = _run_job(ledger, plan, launcher, writer, trial, beat, prune)
            with deferred_signals():
                try:
                    ledger.tell(trial, outcome)
                except optuna.exceptions.UpdateFinishedTrialError:
                    print(f"cr: warning: trial #{trial.number} was failed by another worker while it ran (no heartbeat "
                          "for longer than the grace period); its retry counts instead", file=sys.stderr, flush=True)
                    continue
                n_run += 1
                trials = write_results(ledger, writer)
                counts = Counts.of(trials)
                frozen = ledger.trial(trial.number, trials)
                best = best_trial(trials, plan.directions[0]) if len(plan.directions) == 1 else None
                print(trial_line(frozen, counts.finished, plan.n_trials, best, seconds), flush=True)
                if frozen.state == TrialState.FAIL:
                    writer.log_failure(frozen.number, frozen.user_attrs.get(ERROR, ""), outcome.exception)
            if outcome.abort is not None:
                raise SearchAborted(outcome.abort, code=2)
            if counts.fail > plan.max_failure_rate * plan.n_trials:
                raise SearchAborted(
                    f"hydra.sweeper.max_failure_rate={plan.max_failure_rate}: {counts.fail} of {plan.n_trials} trials "
                    f"failed; last: {frozen.user_attrs.get(ERROR, '?')} — see {writer.failures_log}; fix the cause or "
                    "raise max_failure_rate", code=1)


def _run_job(ledger: Ledger, plan: SearchPlan, launcher: Any, writer: ResultsWriter, trial: optuna.Trial,
             beat: Any, prune: bool) -> tuple[Outcome, float]:
    """Launch the trial's job; a Ctrl-C, SIGTERM or exit inside it is recorded before it propagates."""
    overrides = plan.overrides_for(trial.number, trial.params, prune=prune)
    try:
        job, seconds = launch(launcher, overrides, trial.number)
    except BaseException as error:
        with deferred_signals():
            beat.join()
            if isinstance(error, (KeyboardInterrupt, SearchStopped)):
                ledger.record_interrupted(trial)
            else:
                ledger.record_failure(trial, error)
            with contextlib.suppress(Exception):
                write_results(ledger, writer)
        raise
    beat.join()
    return outcome_of(job, plan.objectives), seconds


@contextlib.contextmanager
def _quiet_launcher() -> Iterator[None]:
    """Hydra's basic launcher logs two lines per job; the sweeper prints its own line per trial."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return False

    logger = logging.getLogger("hydra._internal.core_plugins.basic_launcher")
    drop = _Drop()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
