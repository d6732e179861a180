"""The study's record: the only code that reads or writes trial attributes, decides what counts toward
`n_trials`, gives up surplus trials, fails dead workers' trials, and refreshes the storage cache.

What counts: COMPLETE, PRUNED and FAIL trials count toward n_trials; a trial stopped by Ctrl-C (FAIL
with the `interrupted` attr), a surplus trial and a trial retried after its worker died do not.
RUNNING and WAITING trials (a queued retry, or a start-up trial queued for a worker) hold a place
among the n_trials: a worker asks only while the trials that count or will count are fewer.

Surplus: two workers can still ask at the same moment, so after asking a worker re-reads the study and
gives up its trial (FAIL with the `surplus` attr, never run, never counted) when n_trials trials that
hold a place are numbered below it. Trial numbers are assigned atomically by every storage, so of the
trials asked at once, the lowest numbers run.

Dead workers: a running trial carries a heartbeat (crescendo.search.storage); once it expires, the
next worker that looks fails the trial and Optuna queues a retry with the same parameters
(`retry_history`), which counts in its place.
"""

from __future__ import annotations

import copy
import datetime
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import optuna
from optuna.trial import TrialState

from crescendo.search.storage import refresh
from hydra_plugins.crescendo_sweeper._counts import (  # noqa: F401 - the ledger's vocabulary, re-exported
    CHECKPOINT,
    ERROR,
    INTERRUPTED,
    METRICS,
    RETRY_HISTORY,
    RUN_DIR,
    SURPLUS,
    WORKER,
    Counts,
    is_surplus,
    not_counted,
    retried_numbers,
    surplus_count,
)

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, as the study records it."""

    state: TrialState
    values: tuple[float, ...] = ()
    run_dir: str | None = None
    checkpoint: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    abort: str | None = None  # the whole search must stop: every trial would fail the same way
    exception: BaseException | None = None  # its traceback goes to failures.log


def worker_id() -> str:
    """host:pid of this process: the `worker` attr of the trials it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Ledger:
    """One worker's view of the study: ask for a trial that has a place, record how it ended."""

    def __init__(self, study: optuna.Study, n_trials: int, grace_period: float | None = None) -> None:
        self.study = study
        self.n_trials = n_trials
        self.grace_period = grace_period  # seconds without a heartbeat after which a trial is dead
        self.worker = worker_id()

    # ------------------------------------------------------------------ reading
    def trials(self) -> list["FrozenTrial"]:
        """Every trial, read from the storage once (the cache is refreshed first)."""
        refresh(self.study._storage)
        return self.study.get_trials(deepcopy=False)

    def counts(self) -> Counts:
        return Counts.of(self.trials())

    def trial(self, number: int, trials: Sequence["FrozenTrial"] | None = None) -> "FrozenTrial":
        trials = self.trials() if trials is None else trials
        if number < len(trials) and trials[number].number == number:
            return trials[number]
        return next(t for t in trials if t.number == number)

    # ------------------------------------------------------------------ asking
    def fail_stale_trials(self) -> None:
        """Fail running trials whose worker died and queue their retries (Optuna's callback): those whose
        heartbeat expired, and those asked by a worker that died before its first heartbeat (no
        `worker` attr, started more than a grace period ago), which Optuna's rule never sees."""
        from optuna.storages._heartbeat import is_heartbeat_enabled

        storage = self.study._storage
        if not is_heartbeat_enabled(storage):
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(self.study)
            if self.grace_period is None:
                return
            cutoff = datetime.datetime.now() - datetime.timedelta(seconds=self.grace_period)
            callback = storage.get_heartbeat_stale_trial_callback()
            for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if WORKER in trial.user_attrs or trial.datetime_start is None or trial.datetime_start > cutoff:
                    continue
                try:
                    failed = storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
                except optuna.exceptions.UpdateFinishedTrialError:
                    continue  # another worker got there first
                if failed and callback is not None:
                    callback(self.study, copy.deepcopy(storage.get_trial(trial._trial_id)))

    def next_trial(
        self,
        distributions: dict[str, Any],
        *,
        queued_only: bool = False,
        stop_requested: Callable[[], bool] = lambda: False,
        trials: Sequence["FrozenTrial"] | None = None,
    ) -> tuple[optuna.Trial, Any] | None:
        """The next trial that has a place among n_trials, with its heartbeat running; None once the
        study holds n_trials finished trials (or, `queued_only`, once no queued trial is left).
        Waits while other workers run the last trials: a dead worker's trial is retried here.

        `trials`: the study as this worker read it just now (after its last tell); with no trial
        running elsewhere nothing can have gone stale since, and that read is used as is."""
        pause, waited_since, noted = 0.05, None, False
        while True:
            if trials is None or any(t.state == TrialState.RUNNING for t in trials):
                self.fail_stale_trials()
                trials = self.trials()
            counts = Counts.of(trials)
            if counts.finished >= self.n_trials or stop_requested() or (queued_only and not counts.waiting):
                return None
            if counts.waiting == 0 and counts.holding >= self.n_trials:
                waited_since = waited_since or time.monotonic()
                if not noted and time.monotonic() - waited_since > 5:
                    self._note_waiting(trials)
                    noted = True
                time.sleep(pause)
                pause = min(1.0, pause * 2)
                trials = None
                continue
            asked = self.ask(distributions, not_counted_below=counts.interrupted + counts.retried + surplus_count(trials))
            if asked is not None:
                return asked
            trials = None

    def _note_waiting(self, trials: Sequence["FrozenTrial"]) -> None:
        from optuna.storages._heartbeat import is_heartbeat_enabled

        if not is_heartbeat_enabled(self.study._storage):
            return
        running = ", ".join(f"#{t.number}" for t in trials if t.state == TrialState.RUNNING)
        print(f"  waiting for trial(s) {running} running elsewhere (a trial whose heartbeat stops is retried here)",
              flush=True)

    def ask(self, distributions: dict[str, Any], not_counted_below: int = 0) -> tuple[optuna.Trial, Any] | None:
        """A trial with its heartbeat running, or None when it turned out surplus (given up: ask again).

        `not_counted_below`: trials known not to count (they only become more): trial numbers are
        dense, so while `number - not_counted_below < n_trials` fewer than n_trials trials below it can
        hold a place, and the study need not be read again to know it is not surplus."""
        from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled

        trial = self.study.ask(distributions)
        storage = self.study._storage
        try:
            if is_heartbeat_enabled(storage):  # before the `worker` attr: a trial with one has a heartbeat
                storage.record_heartbeat(trial._trial_id)
            trial.set_user_attr(WORKER, self.worker)
        except BaseException:  # stopped between ask and launch: the trial never ran
            self.record_interrupted(trial)
            raise
        beat = get_heartbeat_thread(trial._trial_id, storage)
        beat.start()
        try:
            if trial.number - not_counted_below < self.n_trials or not is_surplus(trial.number, self.trials(),
                                                                                 self.n_trials):
                return trial, beat
            trial.set_user_attr(SURPLUS, True)
        except BaseException:  # stopped between ask and launch: the trial never ran
            self.record_interrupted(trial, beat)
            raise
        beat.join()
        self.study.tell(trial, state=TrialState.FAIL)
        return None

    def enqueue(self, params: Sequence[dict[str, Any]]) -> None:
        """Queue trials with fixed parameters (WAITING); the next asks run them in this order."""
        for values in params:
            self.study.enqueue_trial(values, skip_if_exists=False)

    # ------------------------------------------------------------------ recording
    def tell(self, trial: optuna.Trial, outcome: "Outcome") -> None:
        """Record the job's outcome: its run dir, checkpoint, metrics and error, then its state."""
        for key, value in ((RUN_DIR, outcome.run_dir), (CHECKPOINT, outcome.checkpoint),
                           (METRICS, outcome.metrics or None), (ERROR, outcome.error)):
            if value is not None:
                trial.set_user_attr(key, value)
        if outcome.state == TrialState.COMPLETE:
            values = list(outcome.values or ())
            self.study.tell(trial, values if len(values) > 1 else values[0])
        else:
            self.study.tell(trial, state=outcome.state)

    def record_interrupted(self, trial: optuna.Trial, beat: Any = None, run_dir: str | None = None) -> None:
        """A trial stopped by Ctrl-C / SIGTERM: FAIL with `interrupted` (never counted toward n_trials)."""
        from hydra_plugins.crescendo_sweeper._signals import deferred_signals

        with deferred_signals():
            if beat is not None:
                beat.join()
            try:
                if run_dir:
                    trial.set_user_attr(RUN_DIR, run_dir)
                trial.set_user_attr(ERROR, "interrupted")
                trial.set_user_attr(INTERRUPTED, True)
                self.study.tell(trial, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001 - the storage is gone too; the heartbeat will expire
                pass

    def record_failure(self, trial: optuna.Trial, error: BaseException) -> None:
        """The job stopped the process (an exit inside it): FAIL with the reason."""
        try:
            trial.set_user_attr(ERROR, f"{type(error).__name__}: {error}")
            self.study.tell(trial, state=TrialState.FAIL)
        except Exception:  # noqa: BLE001 - already recorded elsewhere, or the storage is gone
            pass
