"""The sweeper end to end on the tiny test app (fake_app.py), in this process: fast, no torch."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import optuna
import pytest
import yaml
from fake_app import objective_of, run_search  # noqa: F401  (objective_of documents the target)
from optuna.trial import TrialState

BASE = ["hparams_search=optuna", "x=interval(0.0, 1.0)", "y=choice(a, b, c)"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def read_results(sweep: Path) -> dict:
    return yaml.safe_load((sweep / "optimization_results.yaml").read_text())


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def test_search_writes_study_results_and_run_dirs(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    study = run_search([*BASE, "hydra.sweeper.n_trials=3", "seed=0"], sweep)

    assert states(study) == ["COMPLETE"] * 3
    assert (sweep / "study.db").is_file()
    results = read_results(sweep)
    best = min(study.trials, key=lambda t: t.value)
    assert results["best_trial"] == best.number
    assert results["best_value"] == pytest.approx(best.value)
    assert results["best_params"] == best.params
    assert results["direction"] == "minimize"
    assert (results["n_complete"], results["n_pruned"], results["n_fail"]) == (3, 0, 0)
    # the best run dir is the job's dir inside the sweep dir, and holds its checkpoint
    assert Path(results["best_run_dir"]) == sweep / str(best.number)
    assert Path(results["best_checkpoint"]).is_file()
    assert Path(results["best_checkpoint"]).parent.parent == Path(results["best_run_dir"])
    assert (Path(results["best_run_dir"]) / ".hydra" / "config.yaml").is_file()

    rows = read_csv(sweep / "trials.csv")
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["number", "state", "value", "x", "y", "seconds", "run_dir", "best_checkpoint", "error"]
    assert float(rows[best.number]["value"]) == pytest.approx(best.value)

    out = capsys.readouterr().out
    assert "[1/3] #0 COMPLETE value=" in out and "[3/3] #2 COMPLETE" in out
    assert f"optuna-dashboard sqlite:///{sweep / 'study.db'}" in out


def test_the_run_seed_seeds_the_sampler(tmp_path, capsys):
    first = run_search([*BASE, "hydra.sweeper.n_trials=3", "seed=7"], tmp_path / "a")
    second = run_search([*BASE, "hydra.sweeper.n_trials=3", "seed=7"], tmp_path / "b")
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    assert "tpe sampler (seed 7)" in capsys.readouterr().out


def test_job_config_has_the_sampled_values(tmp_path):
    sweep = tmp_path / "sweep"
    study = run_search([*BASE, "hydra.sweeper.n_trials=2", "n=7"], sweep)
    for trial in study.trials:
        config = yaml.safe_load((sweep / str(trial.number) / ".hydra" / "config.yaml").read_text())
        assert config["x"] == pytest.approx(trial.params["x"])
        assert config["y"] == trial.params["y"]
        assert config["n"] == 7
        overrides = yaml.safe_load((sweep / str(trial.number) / ".hydra" / "overrides.yaml").read_text())
        assert "n=7" in overrides and f"y={trial.params['y']}" in overrides
        assert trial.value == pytest.approx((trial.params["x"] - 0.3) ** 2 + {"a": 0, "b": 0.5, "c": 1}[trial.params["y"]] + 0.07)


def test_failing_and_nan_trials_fail_while_the_rest_complete(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    study = run_search([*BASE, "hydra.sweeper.n_trials=4", "fail_on=[1]", "nan_on=[2]"], sweep)
    assert states(study) == ["COMPLETE", "FAIL", "FAIL", "COMPLETE"]
    assert study.trials[1].user_attrs["error"] == "RuntimeError: boom in job 1"
    assert study.trials[2].user_attrs["error"] == "objective is nan"
    rows = read_csv(sweep / "trials.csv")
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "FAIL", "COMPLETE"]
    assert rows[1]["error"] == "RuntimeError: boom in job 1" and rows[1]["value"] == ""
    results = read_results(sweep)
    assert (results["n_complete"], results["n_fail"]) == (2, 2)
    assert results["best_trial"] in (0, 3)
    assert "boom in job 1" in (sweep / "failures.log").read_text()
    assert "Traceback" in (sweep / "failures.log").read_text()


def test_values_that_do_not_compose_fail_that_trial_only(tmp_path):
    # opt=b has no key lr: trials that pick b cannot set opt.lr and fail; the search goes on
    study = run_search(
        ["hparams_search=optuna", "opt=choice(a, b)", "opt.lr=interval(0.01, 0.1)", "hydra.sweeper.n_trials=6",
         "hydra.sweeper.max_failure_rate=1.0", "seed=2"],
        tmp_path / "sweep",
    )
    by_choice = {t.params["opt"]: t for t in study.trials}
    assert set(by_choice) == {"a", "b"}
    assert all(t.state == (TrialState.COMPLETE if t.params["opt"] == "a" else TrialState.FAIL) for t in study.trials)
    assert "Could not override 'opt.lr'" in by_choice["b"].user_attrs["error"]


def test_ctrl_c_records_the_trial_and_a_rerun_does_not_count_it(tmp_path):
    sweep = tmp_path / "sweep"
    with pytest.raises(KeyboardInterrupt):
        run_search([*BASE, "hydra.sweeper.n_trials=3", "interrupt_on=[1]"], sweep)
    rows = read_csv(sweep / "trials.csv")
    assert [(r["state"], r["error"]) for r in rows] == [("COMPLETE", ""), ("FAIL", "interrupted")]
    study = run_search([*BASE, "hydra.sweeper.n_trials=3"], sweep)
    assert states(study) == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert read_results(sweep)["n_fail"] == 0


def test_too_many_failures_abort_with_a_clear_message(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, "hydra.sweeper.n_trials=6", "hydra.sweeper.max_failure_rate=0.3", "fail_on=[0,1,2,3,4,5]"], sweep)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("cr: error: hydra.sweeper.max_failure_rate=0.3: 2 of 6 trials failed")
    assert [r["state"] for r in read_csv(sweep / "trials.csv")] == ["FAIL", "FAIL"]


def test_data_error_aborts_the_search_at_once(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, "hydra.sweeper.n_trials=5", "data_error_on=[1]"], sweep)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "cr: error: data.data_dir: /nowhere has no X_train.npy\n"
    assert [r["state"] for r in read_csv(sweep / "trials.csv")] == ["COMPLETE", "FAIL"]


def test_pruning_really_prunes(tmp_path):
    # median pruner judging from the first complete trial and from the first epoch on: jobs 1 and 2
    # report a loss far above trial 0's and are stopped at their first report; job 3 reports the
    # same curve as trial 0 and completes
    sweep = tmp_path / "sweep"
    study = run_search(
        [
            "hparams_search=optuna",
            "y=choice(a)",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.pruner=median",
            "+hydra.sweeper.pruner_kwargs.n_startup_trials=1",
            "+hydra.sweeper.pruner_kwargs.n_warmup_steps=0",
            "bad_on=[1,2]",
        ],
        sweep,
    )
    assert states(study) == ["COMPLETE", "PRUNED", "PRUNED", "COMPLETE"]
    pruned = study.trials[1]
    assert list(pruned.intermediate_values) == [0]  # stopped after its first epoch
    assert read_results(sweep)["n_pruned"] == 2
    assert [r["state"] for r in read_csv(sweep / "trials.csv")] == ["COMPLETE", "PRUNED", "PRUNED", "COMPLETE"]


def test_resume_continues_the_study_without_duplicates(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    args = [*BASE, "hydra.sweeper.n_trials=3", "seed=3"]
    run_search(args, sweep)
    study = run_search([*BASE, "hydra.sweeper.n_trials=5", "seed=3"], sweep)
    numbers = [t.number for t in study.trials]
    assert numbers == [0, 1, 2, 3, 4]
    assert states(study) == ["COMPLETE"] * 5
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3", "4"]
    # the resumed sampler does not replay the first run's draws
    assert len({t.params["x"] for t in study.trials}) == 5
    assert "resuming: 3 done" in capsys.readouterr().out
    # a third run has nothing left to do
    study = run_search([*BASE, "hydra.sweeper.n_trials=5", "seed=3"], sweep)
    assert len(study.trials) == 5
    assert read_results(sweep)["n_complete"] == 5


def test_resume_with_another_direction_is_refused(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=1"], sweep)
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, "hydra.sweeper.n_trials=2", "hydra.sweeper.direction=maximize"], sweep)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "was created to minimize, this search asks maximize" in err


def test_resume_with_another_search_space_is_refused(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_search([*BASE, "hydra.sweeper.n_trials=1"], sweep)
    with pytest.raises(SystemExit):
        run_search(["hparams_search=optuna", "x=choice(0.1, 0.2)", "y=choice(a, b, c)", "hydra.sweeper.n_trials=2"], sweep)
    assert "x: float [0.0, 1.0] → choice(0.1, 0.2)" in capsys.readouterr().err


def test_maximize_picks_the_largest(tmp_path):
    sweep = tmp_path / "sweep"
    study = run_search([*BASE, "hydra.sweeper.n_trials=4", "hydra.sweeper.direction=maximize"], sweep)
    largest = max(study.trials, key=lambda t: t.value)
    results = read_results(sweep)
    assert results["direction"] == "maximize"
    assert results["best_trial"] == largest.number == study.best_trial.number
    assert results["best_value"] == pytest.approx(largest.value)


def test_several_objectives_write_the_pareto_front(tmp_path):
    sweep = tmp_path / "sweep"
    study = run_search(
        [
            "hparams_search=optuna",
            "x=interval(0.0, 1.0)",
            "n=range(1, 10)",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.direction=[minimize,minimize]",
            "hydra.sweeper.objectives=[val/loss,size]",
        ],
        sweep,
    )
    assert all(len(t.values) == 2 for t in study.trials)
    results = read_results(sweep)
    assert results["best_trial"] is None
    front = {p["trial"] for p in results["pareto_front"]}
    assert front == {t.number for t in study.best_trials}
    assert set(results["pareto_front"][0]["values"]) == {"val/loss", "size"}
    assert list(read_csv(sweep / "trials.csv")[0])[:4] == ["number", "state", "value_val/loss", "value_size"]


def test_search_space_from_sweeper_params(tmp_path):
    sweep = tmp_path / "sweep"
    study = run_search(
        ["hparams_search=optuna", "hydra.sweeper.n_trials=2", "+hydra.sweeper.params.x='tag(log, interval(0.01, 1))'", "+hydra.sweeper.params.n=5"],
        sweep,
    )
    assert set(study.trials[0].distributions) == {"x"}
    config = yaml.safe_load((sweep / "0" / ".hydra" / "config.yaml").read_text())
    assert config["n"] == 5
    # nested keys, as the command line writes them
    study = run_search(
        ["hparams_search=optuna", "hydra.sweeper.n_trials=1", "+hydra.sweeper.params.opt.lr='interval(0.01, 0.1)'"],
        tmp_path / "nested",
    )
    assert set(study.trials[0].distributions) == {"opt.lr"}


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes", "gp", "qmc", "nsga2"])
def test_each_sampler_runs_a_search(tmp_path, sampler, capsys):
    sweep = tmp_path / "sweep"
    if sampler == "cmaes" and importlib.util.find_spec("cmaes") is None:  # an optional package
        with pytest.raises(SystemExit):
            run_search([*BASE, "hydra.sweeper.sampler=cmaes"], sweep)
        assert "hydra.sweeper.sampler=cmaes needs the 'cmaes' package: pip install cmaes" in capsys.readouterr().err
        return
    study = run_search(
        ["hparams_search=optuna", "x=interval(0.0, 1.0)", "n=interval(1, 9)", "y=choice(a, b)",
         "hydra.sweeper.n_trials=3", f"hydra.sweeper.sampler={sampler}", "seed=1"],
        sweep,
    )
    assert states(study) == ["COMPLETE"] * 3
    assert type(study.sampler).__name__.lower().startswith(sampler[:3] if sampler != "nsga2" else "nsgaii")


def test_grid_sampler_covers_the_grid_and_stops(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    study = run_search(
        ["hparams_search=optuna", "y=choice(a, b)", "n=range(1, 3)", "hydra.sweeper.n_trials=10", "hydra.sweeper.sampler=grid"],
        sweep,
    )
    assert sorted((t.params["y"], t.params["n"]) for t in study.trials) == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert "the grid has 4 points; running 4 trials instead of 10" in capsys.readouterr().out


def test_grid_sampler_rejects_intervals(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, "hydra.sweeper.sampler=grid"], tmp_path / "sweep")
    assert exit_.value.code == 2
    assert "x=interval(0.0, 1.0): the grid sampler needs a finite set of values" in capsys.readouterr().err


@pytest.mark.parametrize("pruner", ["none", "median", "percentile", "hyperband", "successive_halving"])
def test_each_pruner_runs_a_search(tmp_path, pruner):
    study = run_search([*BASE, "hydra.sweeper.n_trials=3", f"hydra.sweeper.pruner={pruner}", "bad_on=[2]"], tmp_path / "s")
    assert len(study.trials) == 3
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)


@pytest.mark.parametrize(
    "args, message",
    [
        (["x=interval(1.0, 0.0)"], "cr: error: x=interval(1.0, 0.0): the lower end is above the upper end"),
        (["xx=interval(0.0, 1.0)"], "cr: error: xx=interval(0.0, 1.0): xx is not a key of the config"),
        (["flag=choice(maybe, 1.5)"], "cr: error: flag=choice(maybe, 1.5): flag is a bool (False)"),
        (["+hydra.sweeper.params.x='choice(1,'"], "cr: error: hydra.sweeper.params.x: cannot parse 'x=choice(1,'"),
        (["hydra.sweeper.sampler=tpee"], "cr: error: hydra.sweeper.sampler=tpee: unknown sampler — choose one of tpe, random"),
        (["hydra.sweeper.pruner=medain"], "cr: error: hydra.sweeper.pruner=medain: unknown pruner"),
        (["+hydra.sweeper.pruner_kwargs.warmup=3"], "cr: error: hydra.sweeper.pruner_kwargs: got an unexpected keyword argument 'warmup'"),
        (["hydra.sweeper.direction=down"], "cr: error: hydra.sweeper.direction=down: each direction is minimize or maximize"),
        (["hydra.sweeper.direction=[minimize,maximize]"], "several directions need hydra.sweeper.objectives"),
        (["hydra.sweeper.n_trials=0"], "cr: error: hydra.sweeper.n_trials=0: must be a whole number ≥ 1"),
        (["hydra.sweeper.storage=nosuchdb://x"], "cr: error: hydra.sweeper.storage=nosuchdb://x: unknown database kind 'nosuchdb'"),
        (["data=choice(nope)"], "cr: error: data=choice(nope): data is not a key of the config"),
    ],
)
def test_bad_input_exits_2_before_any_trial(tmp_path, capsys, args, message):
    sweep = tmp_path / "sweep"
    with pytest.raises(SystemExit) as exit_:
        run_search([*BASE, *args], sweep)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("cr: error: ") and message in err, err
    assert err.count("\n") == 1
    assert not any(p.name.isdigit() for p in sweep.iterdir()) if sweep.exists() else True


def test_nothing_to_search_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_search(["hparams_search=optuna", "x=0.5"], tmp_path / "sweep")
    assert "nothing to search" in capsys.readouterr().err


def test_explicit_storage_and_study_name(tmp_path):
    db = tmp_path / "elsewhere.db"
    run_search([*BASE, "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.study_name=mine"], tmp_path / "a")
    study = run_search([*BASE, "hydra.sweeper.n_trials=3", f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.study_name=mine"], tmp_path / "b")
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert optuna.load_study(study_name="mine", storage=f"sqlite:///{db}").trials[2].user_attrs["run_dir"] == str(tmp_path / "b" / "2")
    assert not (tmp_path / "a" / "study.db").exists()


def test_plugin_discovery():
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    from hydra_plugins.crescendo_sweeper.launcher import CrescendoLauncher
    from hydra_plugins.crescendo_sweeper.sweeper import CrescendoSweeper

    assert CrescendoSweeper in Plugins.instance().discover(Sweeper)
    assert CrescendoLauncher in Plugins.instance().discover(Launcher)


def test_plugin_modules_do_not_import_optuna():
    import subprocess
    import sys

    code = (
        "import sys; from hydra.core.plugins import Plugins; from hydra.plugins.sweeper import Sweeper; "
        "Plugins.instance().discover(Sweeper); import hydra_plugins.crescendo_sweeper.config, "
        "hydra_plugins.crescendo_sweeper.sweeper, hydra_plugins.crescendo_sweeper.launcher, crescendo.search; "
        "print('optuna' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
