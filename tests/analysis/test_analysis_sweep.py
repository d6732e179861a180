"""`Sweep`: a search directory read back through its Optuna study."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from analysis_helpers import N_TARGETS, fake_sweep
from crescendo.analysis import Ensemble, Run, Sweep, load
from crescendo.errors import CrescendoError


@pytest.fixture(scope="module")
def sweep(search) -> Sweep:
    return load(search.path)


@pytest.fixture(scope="module")
def summary(search) -> dict:
    return yaml.safe_load((search.path / "optimization_results.yaml").read_text())


def test_sweep_attributes(sweep, search, summary):
    assert isinstance(sweep, Sweep) and sweep.path == search.path
    assert isinstance(sweep.study, optuna.Study) and sweep.study.study_name == summary["study_name"] == "train"
    assert sweep.storage == f"sqlite:///{search.path / 'study.db'}"
    assert sweep.direction == "minimize"

    trials = sweep.trials
    assert isinstance(trials, pd.DataFrame) and len(trials) == 4
    assert list(trials["number"]) == [0, 1, 2, 3] and set(trials["state"]) == {"COMPLETE"}
    assert {"value", "model.optimizer.lr", "model.architecture", "seconds", "run_dir", "best_checkpoint",
            "error"} <= set(trials.columns)
    assert trials["model.optimizer.lr"].between(0.001, 0.01).all()

    runs = sweep.runs
    assert len(runs) == 4 and all(isinstance(run, Run) for run in runs)
    assert [run.path.name for run in runs] == ["0", "1", "2", "3"]
    assert [run.objective for run in runs] == pytest.approx(list(trials["value"]), rel=1e-6)


def test_best_matches_the_results_file_and_the_direction(sweep, summary):
    values = sweep.trials["value"]
    assert sweep.best_value == pytest.approx(values.min()) == pytest.approx(summary["best_value"])
    assert sweep.best_params == summary["best_params"]
    assert str(sweep.best_run.path) == summary["best_run_dir"]
    assert sweep.best_run.objective == pytest.approx(sweep.best_value)
    assert sweep.best_trial.number == summary["best_trial"]


def test_ensemble_of_the_k_best(sweep, search):
    ensemble = sweep.ensemble(3)
    assert isinstance(ensemble, Ensemble) and len(ensemble.runs) == 3
    ranked = sweep.trials.sort_values("value")
    assert [run.path.name for run in ensemble.runs] == [str(n) for n in ranked["number"][:3]]

    x = search.x("val")
    predictions = ensemble.predict(x)
    assert predictions.shape == (3, len(x), N_TARGETS)
    mean, std = ensemble.predict_stats(x)
    assert mean.shape == std.shape == (len(x), N_TARGETS)
    assert (std > 0).all()
    np.testing.assert_allclose(mean, predictions.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(predictions[0], ensemble.runs[0].predict(x), rtol=1e-6)


@pytest.mark.parametrize("k", [0, -1, 5, 2.5, True])
def test_ensemble_of_impossible_size(sweep, k):
    with pytest.raises(CrescendoError, match=r"k|only 4"):
        sweep.ensemble(k)


def test_a_copied_search_uses_its_own_study_and_runs(sweep, search, copy_tree):
    copied = load(copy_tree(search.path, "copied_search"))
    assert isinstance(copied, Sweep) and copied.storage.endswith("copied_search/study.db")
    assert all(run.path.parent == copied.path for run in copied.runs)
    assert copied.best_run.path == copied.path / sweep.best_run.path.name
    x = search.x("test")
    np.testing.assert_array_equal(copied.best_run.predict(x), sweep.best_run.predict(x))


def test_maximize_study_ranks_the_largest_first(sweep, tmp_path):
    runs = sweep.runs
    fake = Sweep(fake_sweep(tmp_path / "max", runs, [0.1, 0.9, 0.5, 0.7], direction="maximize"))
    assert fake.direction == "maximize" and fake.best_value == 0.9
    assert fake.best_run.path == runs[1].path
    assert [r.path for r in fake.ensemble(3).runs] == [runs[1].path, runs[3].path, runs[2].path]


def test_ensemble_skips_pruned_and_failed_trials(sweep, tmp_path):
    runs = sweep.runs
    states = [TrialState.PRUNED, TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    fake = Sweep(fake_sweep(tmp_path / "mixed", runs, [0.0, 0.4, 0.0, 0.2], states=states))
    assert [r.path for r in fake.ensemble(2).runs] == [runs[3].path, runs[1].path]
    assert len(fake.runs) == 4  # every trial with a run dir
    with pytest.raises(CrescendoError, match=r"only 2 complete"):
        fake.ensemble(3)


def test_storage_and_study_name_from_the_sweep_config(sweep, tmp_path):
    elsewhere = fake_sweep(tmp_path / "db", sweep.runs, [0.3, 0.2], study_name="mine")
    directory = tmp_path / "sweep"
    directory.mkdir()
    (directory / "multirun.yaml").write_text(yaml.safe_dump({
        "task_name": "train",
        "hydra": {"sweeper": {"storage": f"sqlite:///{elsewhere / 'study.db'}", "study_name": "mine"}},
    }))
    loaded = load(directory)
    assert isinstance(loaded, Sweep) and loaded.study.study_name == "mine" and loaded.best_value == 0.2


def test_unknown_study_name_lists_the_studies(sweep, tmp_path):
    directory = fake_sweep(tmp_path / "s", sweep.runs, [0.3], study_name="real")
    (directory / "optimization_results.yaml").write_text(yaml.safe_dump({"study_name": "other"}))
    with pytest.raises(CrescendoError, match=r"no study 'other' — it holds 'real'"):
        Sweep(directory).study


def test_no_complete_trial_and_several_objectives(sweep, tmp_path):
    empty = Sweep(fake_sweep(tmp_path / "e", [], [None], states=[TrialState.FAIL]))
    with pytest.raises(CrescendoError, match="no complete trial"):
        empty.best_run
    assert empty.runs == [] and math.isnan(empty.trials["value"][0])

    multi = Sweep(fake_sweep(tmp_path / "m", sweep.runs, [[0.1, 2.0], [0.2, 1.0]],
                             direction=["minimize", "minimize"]))
    with pytest.raises(CrescendoError, match=r"2 objectives.*best_trials"):
        multi.best_run
    assert list(multi.trials.columns[2:4]) == ["value_0", "value_1"]


def test_sweep_dir_that_is_not_a_search(tmp_path):
    with pytest.raises(CrescendoError, match=rf"{tmp_path}: not a search directory"):
        Sweep(tmp_path)


def test_trials_fall_back_to_trials_csv_when_the_study_is_gone(search, copy_tree):
    copied = copy_tree(search.path, "no_study")
    (copied / "study.db").unlink()
    summary = yaml.safe_load((copied / "optimization_results.yaml").read_text())
    summary["storage"] = f"sqlite:///{copied / 'gone.db'}"
    (copied / "optimization_results.yaml").write_text(yaml.safe_dump(summary))
    sweep = load(copied)
    with pytest.raises(CrescendoError, match=r"gone\.db does not exist"):
        sweep.study
    with pytest.warns(UserWarning, match="reading .*trials.csv instead"):
        trials = sweep.trials
    assert list(trials["number"]) == [0, 1, 2, 3] and "model.optimizer.lr" in trials.columns
