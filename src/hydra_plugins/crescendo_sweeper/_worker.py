"""A worker's loop: ask → launch → tell, one trial at a time, until the study holds `n_trials` finished
trials. Per trial it costs one sampling, one job launch (in-process with the crescendo launcher), one
tell, one read of the study and one rewrite of the two small results files.

The job returns a typed `crescendo.result.TrainResult`; `outcome_of` says what it means for the study
(a pruned run is a result with status "pruned", not an exception).

Ctrl-C and SIGTERM never cut an ask or a tell in half (`_signals.deferred_signals`); a trial they stop
is recorded as interrupted and does not count, so running the same command again finishes the study.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from omegaconf import OmegaConf
from optuna.trial import TrialState

from crescendo.errors import DataError
from crescendo.result import TrainResult
from hydra_plugins.crescendo_sweeper._console import trial_line
from hydra_plugins.crescendo_sweeper._ledger import ERROR, Counts, Ledger, Outcome
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
               queued_only: bool = False) -> int:
    """Run trials until the study is full; returns how many this worker ran. `queued_only`: only the
    trials queued for workers (the parallel start-up), none asked anew. Raises SearchAborted, SearchStopped."""
    n_run = 0
    trials = None  # the study as read after the last tell
    with _quiet_launcher(), stop_on_signals():
        while True:
            lock = file_lock(plan.sweep_dir / ASK_LOCK) if queued_only else contextlib.nullcontext()
            with lock, deferred_signals():  # a signal here waits until the study is consistent
                asked = ledger.next_trial(plan.space.distributions, queued_only=queued_only,
                                          stop_requested=stop_requested, trials=None if queued_only else trials)
                if asked is not None and stop_requested():
                    ledger.record_interrupted(*asked)
                    asked = None
            if asked is None:
                return n_run
            trial, beat = asked
            outcome, seconds = _run_job(ledger, plan, launcher, writer, trial, beat)
            with deferred_signals():
                try:
                    ledger.tell(trial, outcome)
                except optuna.exceptions.UpdateFinishedTrialError:
                    print(f"cr: warning: trial #{trial.number} was failed by another worker while it ran (no heartbeat "
                          "for longer than the grace period); its retry counts instead", file=sys.stderr, flush=True)
                    trials = None
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
             beat: Any) -> tuple[Outcome, float]:
    """Launch the trial's job; a Ctrl-C, SIGTERM or exit inside it is recorded before it propagates."""
    overrides = plan.overrides_for(trial.number, trial.params)
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


def launch(launcher: Any, overrides: Sequence[str], number: int) -> tuple[JobReturn, float]:
    """Run the job of trial `number` (Hydra job number = trial number); returns it and its seconds."""
    started = time.perf_counter()
    try:
        job = launcher.launch([list(overrides)], initial_job_idx=number)[0]
    except HydraException as error:  # these values do not compose
        job = JobReturn(status=JobStatus.FAILED, _return_value=error)
    return job, time.perf_counter() - started


def outcome_of(job: JobReturn, objectives: Sequence[str] | None) -> Outcome:
    """What the job's return means: complete with its values, pruned, or failed (and why)."""
    run_dir = _run_dir(job)
    if job.status != JobStatus.COMPLETED:
        error = getattr(job, "_return_value", None)  # JobReturn.return_value re-raises it
        checkpoint = recorded_checkpoint(run_dir)  # a run that failed after training began kept its best
        if isinstance(error, optuna.TrialPruned):  # a task that raises it, as Optuna's examples do
            return Outcome(TrialState.PRUNED, run_dir=run_dir, checkpoint=checkpoint)
        return Outcome(TrialState.FAIL, run_dir=run_dir, checkpoint=checkpoint, error=_error_text(error),
                       exception=error, abort=str(error) if isinstance(error, DataError) else None)

    result = job.return_value
    if not isinstance(result, TrainResult):
        return Outcome(TrialState.FAIL, run_dir=run_dir,
                       error=f"the task returned {type(result).__name__}, not a crescendo.result.TrainResult")
    run_dir = str(result.run_dir) if result.run_dir else run_dir
    common = {"run_dir": run_dir, "checkpoint": result.best_checkpoint,
              "metrics": {str(k): _float_or_none(v) for k, v in result.metrics.items()}}
    if result.status == "pruned":
        return Outcome(TrialState.PRUNED, **common)
    if result.status != "complete":
        return Outcome(TrialState.FAIL, error=result.error or f"the run ended with status '{result.status}'", **common)
    if objectives:
        missing = [name for name in objectives if name not in result.metrics]
        if missing:
            message = (f"hydra.sweeper.objectives: {', '.join(missing)} not among the run's metrics "
                       f"({', '.join(map(str, result.metrics)) or 'none'})")
            return Outcome(TrialState.FAIL, error=message, abort=message, **common)
        values = [_float_or_none(result.metrics[name]) for name in objectives]
    else:
        values = [_float_or_none(result.objective)]
    bad = [v for v in values if v is None or not math.isfinite(v)]
    if bad:
        return Outcome(TrialState.FAIL, error=f"objective is {bad[0]}", **common)
    return Outcome(TrialState.COMPLETE, values=tuple(float(v) for v in values), **common)  # type: ignore[arg-type]


def recorded_checkpoint(run_dir: str | None) -> str | None:
    """The best checkpoint a run that raised recorded in its result.json (`crescendo.train` writes it
    before re-raising a failure), as an absolute path; None when there is none."""
    if not run_dir:
        return None
    try:
        record = json.loads((Path(run_dir) / "result.json").read_text())
    except (OSError, ValueError):
        return None
    best = record.get("best_checkpoint") if isinstance(record, dict) else None
    path = Path(run_dir) / best if isinstance(best, str) and best else None
    return str(path.resolve()) if path is not None and path.is_file() else None


def _run_dir(job: JobReturn) -> str | None:
    hydra_cfg = getattr(job, "hydra_cfg", None)
    if hydra_cfg is not None:
        output_dir = OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None)
        if output_dir:
            return str(output_dir)
    return getattr(job, "working_dir", None)


def _error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {message}" if message else type(error).__name__
    return "the job failed"


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
