"""n_jobs worker processes, exactly n_trials, heartbeats and retries — on the sweeper's fake app, in this
process (the workers are forked from it): fast, no torch training."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import optuna
import pytest
import yaml
from fake_app import run_search
from optuna.trial import TrialState
from scale_helpers import check_exactly, load_trials

BASE = ["hparams_search=optuna", "x=interval(0.0, 1.0)", "y=choice(a, b, c)"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_two_workers_are_asynchronous(tmp_path, capfd):
    # trial 1 sleeps 3 s; while it runs, the other worker goes on with trial after trial
    sweep = tmp_path / "sweep"
    run_search(
        [*BASE, "hydra.sweeper.n_trials=10", "hydra.sweeper.n_jobs=2", "sleep_on=[1]", "sleep_seconds=3",
         "every_job_sleeps=0.1", "seed=0", "hydra.sweeper.pruner=none"],
        sweep,
    )
    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "fake")
    check_exactly(trials, 10, run_dir_file=None)
    slow = trials[1]
    meanwhile = [t for t in trials if t.number != 1 and t.datetime_start >= slow.datetime_start
                 and t.datetime_complete <= slow.datetime_complete]
    assert len(meanwhile) >= 5, [(t.number, t.datetime_start, t.datetime_complete) for t in trials]
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2 and all(w.rsplit(":", 1)[1] != str(os.getpid()) for w in workers)
    out = capfd.readouterr().out  # the workers print to the inherited file descriptor
    assert "2 workers" in out and "[10/10]" in out
    assert len(read_csv(sweep / "trials.csv")) == 10
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["n_complete"] == 10 and Path(results["best_run_dir"]).is_dir()


def test_many_workers_finish_exactly_n_trials(tmp_path):
    sweep = tmp_path / "sweep"
    # pruner=none: with 7 trials the median pruner may legitimately prune one, and this test is about counting
    run_search([*BASE, "hydra.sweeper.n_trials=7", "hydra.sweeper.n_jobs=3", "every_job_sleeps=0.05",
                "hydra.sweeper.pruner=none"], sweep)
    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "fake")
    check_exactly(trials, 7, run_dir_file=None)
    rows = read_csv(sweep / "trials.csv")
    assert len(rows) == 7 and all(r["state"] == "COMPLETE" for r in rows)  # surplus trials are not listed


def test_a_resumed_study_runs_only_the_missing_trials_with_workers(tmp_path):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=3", "hydra.sweeper.n_jobs=2"], sweep)
    run_search([*BASE, "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=2"], sweep)
    check_exactly(load_trials(f"sqlite:///{sweep / 'study.db'}", "fake"), 6, run_dir_file=None)


def test_a_data_error_in_one_worker_stops_the_search(tmp_path, capfd):
    sweep = tmp_path / "sweep"
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, "hydra.sweeper.n_trials=8", "hydra.sweeper.n_jobs=2", "data_error_on=[2]",
                    "every_job_sleeps=0.2"], sweep)
    assert exit_.value.code == 2
    assert "cr: error: data.data_dir: /nowhere has no X_train.npy" in capfd.readouterr().err
    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "fake")
    assert not any(t.state == TrialState.RUNNING for t in trials)
    assert len(trials) < 8


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_trial_of_a_dead_worker_is_failed_and_retried(tmp_path, kind, capsys):
    """A worker that died left trial 1 RUNNING; once its heartbeat is older than grace_period the next
    search fails it and runs its parameters again, and the retry counts in its place."""
    from crescendo.search.storage import open_storage
    from hydra_plugins.crescendo_sweeper import _ledger as results

    storage = f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite" else f"journal://{tmp_path / 'study.log'}"
    sweep = tmp_path / "sweep"
    settings = [f"hydra.sweeper.storage={storage}", "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=2"]
    run_search([*BASE, "hydra.sweeper.n_trials=1", *settings], sweep)
    # a "dead worker": asks trial 1, beats once, vanishes
    study = optuna.load_study(study_name="fake", storage=open_storage(storage, heartbeat_interval=1, grace_period=2))
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0),
                      "y": optuna.distributions.CategoricalDistribution(["a", "b", "c"])})
    study._storage.record_heartbeat(dead._trial_id)
    dead_params = dict(dead.params)
    started = time.monotonic()
    run_search([*BASE, "hydra.sweeper.n_trials=4", *settings], sweep)
    trials = load_trials(storage, "fake")
    check_exactly(trials, 4, run_dir_file=None)
    assert trials[1].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert len(retries) == 1 and retries[0].params == dead_params and retries[0].state == TrialState.COMPLETE
    assert time.monotonic() - started < 30
    rows = {r["number"]: r for r in read_csv(sweep / "trials.csv")}
    assert rows["1"]["error"] == f"its worker stopped (no heartbeat); retried as #{retries[0].number}"
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["n_fail"] == 0
    assert results.Counts.of(trials).retried == 1


def test_surplus_rule_lets_the_lowest_numbers_run():
    from hydra_plugins.crescendo_sweeper import _ledger as results
    from hydra_plugins.crescendo_sweeper._ledger import is_surplus as _is_surplus

    def trial(number, state, **attrs):
        system = attrs.pop("system", {})
        return optuna.trial.FrozenTrial(
            number=number, state=state, value=1.0 if state == TrialState.COMPLETE else None, values=None,
            datetime_start=None, datetime_complete=None, params={}, distributions={}, user_attrs=attrs,
            system_attrs=system, intermediate_values={}, trial_id=number,
        )

    C, R, F, W = TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING
    trials = [trial(0, C), trial(1, R), trial(2, F, interrupted=True), trial(3, R), trial(4, R)]
    assert not _is_surplus(3, trials, 3) and _is_surplus(4, trials, 3)
    # trial 1 died and was retried as 5: it no longer holds a place, the retry does
    trials = [trial(0, C), trial(1, F), trial(2, C), trial(3, R), trial(4, W, system={"retry_history": [1]}),
              trial(5, R)]
    assert _is_surplus(5, trials, 4) and not _is_surplus(5, trials, 5)
    counts = results.Counts.of(trials)
    assert (counts.finished, counts.running, counts.waiting, counts.retried, counts.holding) == (2, 2, 1, 1, 5)
    assert not _is_surplus(2, [trial(0, C), trial(1, F, surplus=True), trial(2, R)], 2)


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "hydra.sweeper.n_jobs=0: must be a whole number ≥ 1 (trials at once) or auto"),
        ("-1", "hydra.sweeper.n_jobs=-1: must be a whole number ≥ 1"),
        ("many", "hydra.sweeper.n_jobs=many: must be a whole number ≥ 1"),
    ],
)
def test_bad_n_jobs(tmp_path, capsys, value, message):
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, f"hydra.sweeper.n_jobs={value}"], tmp_path / "sweep")
    assert exit_.value.code == 2
    assert f"cr: error: {message}" in capsys.readouterr().err


def test_auto_is_one_worker_per_core_for_cpu_training_in_this_process(monkeypatch):
    from omegaconf import OmegaConf

    from hydra_plugins.crescendo_sweeper import _plan

    monkeypatch.setattr(_plan, "cores", lambda: 8)
    cpu = OmegaConf.create({"trainer": {"accelerator": "cpu", "devices": 1}})
    assert _plan._n_jobs("auto", cpu, in_process=True) == 8
    assert _plan._n_jobs("auto", cpu, in_process=False) == 1  # submitit: the jobs run elsewhere, say how many
    assert _plan._n_jobs("auto", OmegaConf.create({"trainer": {"accelerator": "gpu"}}), in_process=True) == 1
    ddp = OmegaConf.create({"trainer": {"accelerator": "cpu", "devices": 2, "strategy": "ddp"}})
    assert _plan._n_jobs("auto", ddp, in_process=True) == 4
    assert _plan._n_jobs(3, cpu, in_process=True) == 3


def test_auto_without_a_cpu_trainer_runs_in_this_process(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=auto"], sweep)
    assert "workers" not in capsys.readouterr().out
    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "fake")
    assert {t.user_attrs["worker"].rsplit(":", 1)[1] for t in trials} == {str(os.getpid())}


@pytest.mark.parametrize("pruner, n_parallel", [("none", 4), ("median", 3)])
def test_parallel_start_up_is_the_serial_search_trial_for_trial(tmp_path, capsys, monkeypatch, pruner, n_parallel):
    """The first trials — random draws of the sampler's start-up that the pruner cannot stop (none: all
    4; median: its 3 start-up trials) — run in 2 forked workers, then the search goes on here. Trial
    for trial (parameters, states, values) it is the serial search with the same seed."""
    from hydra_plugins.crescendo_sweeper import _plan

    monkeypatch.setattr(_plan, "cores", lambda: 2)
    args = [*BASE, "+trainer.accelerator=cpu", "hydra.sweeper.n_trials=8", "seed=5", "bad_on=[5,6]",
            f"hydra.sweeper.pruner={pruner}", "+hydra.sweeper.sampler_kwargs.n_startup_trials=4"]
    if pruner == "median":
        args += ["+hydra.sweeper.pruner_kwargs.n_startup_trials=3", "+hydra.sweeper.pruner_kwargs.n_warmup_steps=0"]
    parallel = run_search(args, tmp_path / "parallel")
    out = capsys.readouterr().out
    serial = run_search([*args, "hydra.sweeper.parallel_startup=false"], tmp_path / "serial")

    def record(study):
        return [(t.number, t.params, t.state, t.value, t.intermediate_values) for t in study.trials]

    assert record(parallel) == record(serial)
    if pruner == "median":
        assert {parallel.trials[5].state, parallel.trials[6].state} == {TrialState.PRUNED}
    workers = [t.user_attrs["worker"].rsplit(":", 1)[1] for t in parallel.trials]
    assert len(set(workers[:n_parallel])) == 2 and str(os.getpid()) not in workers[:n_parallel]
    assert set(workers[n_parallel:]) == {str(os.getpid())}
    assert f"the first {n_parallel} trials (random draws the pruner cannot stop) run 2 at a time" in out
    check_exactly(parallel.trials, 8, run_dir_file=None)


def test_a_killed_start_up_worker_leaves_queued_trials_that_a_rerun_finishes(tmp_path, monkeypatch):
    from hydra_plugins.crescendo_sweeper import _plan

    monkeypatch.setattr(_plan, "cores", lambda: 2)
    sweep = tmp_path / "sweep"
    args = [*BASE, "+trainer.accelerator=cpu", "hydra.sweeper.n_trials=6", "seed=1",
            "+hydra.sweeper.sampler_kwargs.n_startup_trials=4"]
    with pytest.raises(SystemExit) as exit_:  # Ctrl-C reached both workers' jobs
        run_search([*args, "interrupt_on=[0,1,2,3]"], sweep)
    assert exit_.value.code == 130
    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "fake")
    assert {t.state for t in trials} == {TrialState.FAIL, TrialState.WAITING}
    assert all(t.user_attrs.get("interrupted") for t in trials if t.state == TrialState.FAIL)
    study = run_search(args, sweep)
    check_exactly(study.trials, 6, run_dir_file=None)
