"""The ledger's counts and asks, on an in-memory study: what counts toward n_trials under retries,
surplus, interruptions and queued trials; and the typed outcomes of jobs."""

from __future__ import annotations

import math

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from crescendo.errors import DataError
from crescendo.result import TrainResult
from hydra_plugins.crescendo_sweeper._ledger import CHECKPOINT, METRICS, RUN_DIR, SURPLUS, Counts, Ledger, Outcome
from hydra_plugins.crescendo_sweeper._worker import outcome_of

SPACE = {"x": FloatDistribution(0.0, 1.0)}


@pytest.fixture
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))


def finish(ledger: Ledger, state: TrialState = TrialState.COMPLETE) -> optuna.Trial:
    trial, beat = ledger.next_trial(SPACE)
    beat.join()
    ledger.tell(trial, Outcome(state, values=(0.5,) if state == TrialState.COMPLETE else ()))
    return trial


def test_asks_until_the_study_holds_n_trials_of_any_finished_state(study):
    ledger = Ledger(study, n_trials=3)
    finish(ledger)
    finish(ledger, TrialState.PRUNED)
    finish(ledger, TrialState.FAIL)
    assert ledger.next_trial(SPACE) is None
    counts = ledger.counts()
    assert (counts.complete, counts.pruned, counts.fail, counts.finished) == (1, 1, 1, 3)


def test_interrupted_trials_do_not_count(study):
    ledger = Ledger(study, n_trials=2)
    trial, beat = ledger.next_trial(SPACE)
    ledger.record_interrupted(trial, beat, run_dir="/somewhere")
    assert ledger.counts().finished == 0 and ledger.counts().interrupted == 1
    finish(ledger)
    finish(ledger)
    assert ledger.next_trial(SPACE) is None
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert study.trials[0].user_attrs[RUN_DIR] == "/somewhere"


def test_a_trial_asked_when_the_study_is_full_is_surplus_and_never_counts(study):
    full = Ledger(study, n_trials=1)
    other = Ledger(study, n_trials=1)
    first, beat = full.next_trial(SPACE)  # holds the only place
    assert other.ask(SPACE) is None  # another worker asked at the same moment: given up
    beat.join()
    surplus = study.trials[1]
    assert surplus.state == TrialState.FAIL and surplus.user_attrs[SURPLUS]
    full.tell(first, Outcome(TrialState.COMPLETE, values=(1.0,)))
    assert Counts.of(study.trials).finished == 1 and full.next_trial(SPACE) is None


def test_queued_trials_run_first_in_order_and_queued_only_stops_when_none_is_left(study):
    ledger = Ledger(study, n_trials=5)
    ledger.enqueue([{"x": 0.1}, {"x": 0.2}])
    assert ledger.counts().waiting == 2 and ledger.counts().holding == 2
    for expected in (0.1, 0.2):
        trial, beat = ledger.next_trial(SPACE, queued_only=True)
        beat.join()
        assert trial.params == {"x": expected}
        ledger.tell(trial, Outcome(TrialState.COMPLETE, values=(expected,)))
    assert ledger.next_trial(SPACE, queued_only=True) is None
    assert ledger.next_trial(SPACE) is not None  # the rest are asked anew


def test_tell_records_run_dir_checkpoint_and_metrics_of_a_pruned_trial(study):
    ledger = Ledger(study, n_trials=1)
    trial, beat = ledger.next_trial(SPACE)
    beat.join()
    ledger.tell(trial, Outcome(TrialState.PRUNED, run_dir="/runs/0", checkpoint="/runs/0/checkpoints/best.ckpt",
                               metrics={"val/loss": 0.3}))
    frozen = study.trials[0]
    assert frozen.state == TrialState.PRUNED
    assert (frozen.user_attrs[RUN_DIR], frozen.user_attrs[CHECKPOINT]) == ("/runs/0", "/runs/0/checkpoints/best.ckpt")
    assert frozen.user_attrs[METRICS] == {"val/loss": 0.3}


def result(status: str = "complete", objective: float = 0.25, **metrics: float) -> TrainResult:
    return TrainResult(objective=objective, monitor="val/loss", mode="min", status=status, run_dir="/runs/3",
                       best_checkpoint="/runs/3/checkpoints/best.ckpt", metrics={"val/loss": objective, **metrics})


@pytest.mark.parametrize(
    "job, objectives, expected",
    [
        (JobReturn(status=JobStatus.COMPLETED, _return_value=result()), None,
         Outcome(TrialState.COMPLETE, values=(0.25,), run_dir="/runs/3", checkpoint="/runs/3/checkpoints/best.ckpt",
                 metrics={"val/loss": 0.25})),
        (JobReturn(status=JobStatus.COMPLETED, _return_value=result("pruned")), None,
         Outcome(TrialState.PRUNED, run_dir="/runs/3", checkpoint="/runs/3/checkpoints/best.ckpt",
                 metrics={"val/loss": 0.25})),
        (JobReturn(status=JobStatus.COMPLETED, _return_value=result(size=3.0)), ["val/loss", "size"],
         Outcome(TrialState.COMPLETE, values=(0.25, 3.0), run_dir="/runs/3",
                 checkpoint="/runs/3/checkpoints/best.ckpt", metrics={"val/loss": 0.25, "size": 3.0})),
    ],
)
def test_outcome_of_a_typed_result(job, objectives, expected):
    assert outcome_of(job, objectives) == expected


def test_outcomes_of_failures():
    nan = outcome_of(JobReturn(status=JobStatus.COMPLETED, _return_value=result(objective=math.nan)), None)
    assert nan.state == TrialState.FAIL and nan.error == "objective is nan" and nan.abort is None
    missing = outcome_of(JobReturn(status=JobStatus.COMPLETED, _return_value=result()), ["fit_seconds"])
    assert missing.state == TrialState.FAIL and "fit_seconds not among the run's metrics" in missing.abort
    untyped = outcome_of(JobReturn(status=JobStatus.COMPLETED, _return_value=0.5), None)
    assert untyped.state == TrialState.FAIL and "not a crescendo.result.TrainResult" in untyped.error
    data = outcome_of(JobReturn(status=JobStatus.FAILED, _return_value=DataError("no X_train.npy")), None)
    assert data.state == TrialState.FAIL and data.abort == "no X_train.npy"
    crash = outcome_of(JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError("boom\nmore")), None)
    assert crash.error == "RuntimeError: boom" and crash.abort is None and isinstance(crash.exception, RuntimeError)


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    """Optuna's stale rule needs a heartbeat; a trial asked by a worker killed before its first one has
    none (and no `worker` attr): after the grace period the ledger fails it and queues its retry."""
    import time

    from crescendo.search.storage import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=1, grace_period=1, max_retry=1)
    study = optuna.create_study(storage=storage, study_name="s")
    orphan = study.ask(SPACE)  # what a worker killed right after ask leaves behind
    ledger = Ledger(study, n_trials=2, grace_period=1)
    ledger.fail_stale_trials()
    assert ledger.trials()[0].state == TrialState.RUNNING  # not yet: it may still be starting
    time.sleep(1.2)
    ledger.fail_stale_trials()
    trials = ledger.trials()
    assert trials[0].state == TrialState.FAIL
    assert [t.state for t in trials[1:]] == [TrialState.WAITING] and trials[1].params == orphan.params
    assert ledger.counts().retried == 1  # the retry counts in its place
