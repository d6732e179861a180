"""The original Crescendo 0.0.4's analysis calls (`Estimator`, `ModelSet`, `HPTunedSet`,
`Ensemble.from_root`) in a notebook-style script: on results this package wrote (the session's
search and KFold multirun) and on result directories 0.0.4 itself wrote (tests/analysis/crescendo_0_0_4,
made by scripts/make_0_0_4_fixture.sh: a run and a 2-trial Hydra Optuna search on tiny data, with
0.0.4's own predictions for the validation inputs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from crescendo.analysis import (
    Ensemble,
    Estimator,
    HPTunedSet,
    ModelSet,
    OriginalRun,
    OriginalSweep,
    Run,
    Sweep,
    load,
)
from crescendo.errors import CrescendoError

FIXTURE = Path(__file__).parent / "crescendo_0_0_4"


def mse(prediction: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((prediction - truth) ** 2))


def notebook(run_root: Path, search_root: Path, ensemble_root: Path, data_dir: Path | None) -> dict:
    """What a 0.0.4 notebook does, call for call; returns what it saw."""
    est = Estimator.from_root(run_root, data_dir=data_dir, verbose=False)
    assert isinstance(est.hydra_config, dict) and "model" in est.hydra_config
    assert isinstance(est.hydra_overrides, list)
    assert "val/loss" in est.metrics.columns and len(est.metrics) >= 1
    assert est.best_checkpoint.endswith(".ckpt") and Path(est.best_checkpoint).is_file()
    assert est.config.model._target_
    assert est.get_model() is est.get_model()  # loaded once
    assert est.get_datamodule() is est.get_datamodule()
    X, Y = est.X_val, est.Y_val
    assert est.X_train.shape[1] == X.shape[1] == est.X_test.shape[1] == est.X_val_scaled.shape[1]
    assert len(est.Y_train) == len(est.X_train) and len(est.Y_test) == len(est.X_test)
    assert np.allclose(est.X_train_scaled.mean(axis=0), 0, atol=1e-4)
    prediction = est.predict(X)  # unscaled inputs here (0.0.4 wanted X_val_scaled)
    assert prediction.shape == Y.shape and np.isfinite(prediction).all()

    last = Estimator(est.results_dir, data_dir=data_dir, use_checkpoint="last", verbose=False)
    assert Path(last.best_checkpoint).name == "last.ckpt"
    assert last.predict(X).shape == Y.shape

    tuned = HPTunedSet.from_root(search_root, data_dir=data_dir)
    assert len(tuned.estimators) >= 2
    best, score = tuned.get_best_estimator(tuned.X_val, tuned.Y_val, mse)
    scores = [mse(e.predict(tuned.X_val), tuned.Y_val) for e in tuned.estimators]
    assert score == pytest.approx(min(scores)) and best.results_dir == tuned.estimators[int(np.argmin(scores))].results_dir
    default_best, default_score = tuned.get_best_estimator()  # 0.0.4's defaults: X_val, Y_val, MSE
    assert default_score == pytest.approx(score) and default_best.results_dir == best.results_dir
    assert tuned.X_val_scaled.shape == tuned.X_val.shape and tuned.Y_test.shape[0] == tuned.X_test.shape[0]
    assert len(ModelSet.from_root(search_root, data_dir=data_dir).estimators) == len(tuned.estimators)

    ensemble = Ensemble.from_root(ensemble_root, data_dir=data_dir)
    members = ensemble.predict(ensemble.X_val)  # raw inputs (these runs select no features)
    assert members.shape[0] == len(ensemble.estimators) and members.shape[1:] == ensemble.Y_val.shape
    return {"estimator": est, "prediction": prediction, "best": best, "score": score, "ensemble": members}


def test_the_notebook_runs_on_results_of_this_package(search, kfold, tmp_path):
    one_run = tmp_path / "one"
    shutil.copytree(load(search.path).best_run.path, one_run / "run")
    seen = notebook(one_run, search.path, kfold.path, data_dir=None)
    # the faces answer what the new calls answer
    run = load(one_run / "run")
    assert isinstance(seen["estimator"].run, Run)
    x_raw = search.x("val")
    assert np.allclose(seen["prediction"], run.predict(x_raw), atol=1e-6)  # X_val is feature-selected: scaled only
    assert np.allclose(seen["estimator"].predict(x_raw), seen["prediction"], atol=1e-6)  # raw columns: selected too
    assert np.allclose(seen["ensemble"], load(kfold.path).predict(kfold.x("val")), atol=1e-6)
    sweep = load(search.path)
    assert seen["best"].results_dir in {str(r.path) for r in sweep.runs}


def test_estimator_says_what_is_wrong(search, tmp_path):
    run_dir = load(search.path).best_run.path
    with pytest.raises(CrescendoError, match="use_checkpoint='middle': must be 'best_epoch' or 'last'"):
        Estimator(run_dir, use_checkpoint="middle")
    with pytest.raises(CrescendoError, match="holds 4 run directories — Estimator.from_root needs exactly one"):
        Estimator.from_root(search.path)
    with pytest.raises(CrescendoError, match="holds no run directory"):
        HPTunedSet.from_root(tmp_path)


# ---------------------------------------------------------------------- directories 0.0.4 wrote
@pytest.fixture
def original(tmp_path) -> Path:
    """The committed 0.0.4 results, copied: their data_dir points where they were made, not here."""
    if not FIXTURE.is_dir():
        pytest.fail(f"{FIXTURE} is missing: run scripts/make_0_0_4_fixture.sh")
    target = tmp_path / "crescendo_0_0_4"
    shutil.copytree(FIXTURE, target)
    return target


def test_the_notebook_runs_on_results_crescendo_0_0_4_wrote(original):
    data = original / "data"
    seen = notebook(original / "run", original / "search", original / "search", data_dir=data)
    expected = np.load(original / "expected.npz")
    # 0.0.4's own Estimator.predict(X_val_scaled) on the same checkpoints
    assert np.allclose(seen["prediction"], expected["run_val"], atol=1e-5)
    assert isinstance(seen["estimator"].run, OriginalRun)


def test_load_opens_and_predicts_with_crescendo_0_0_4_directories(original):
    data, expected = original / "data", np.load(original / "expected.npz")
    x_val = np.load(data / "X_val.npy")
    run = load(next((original / "run").iterdir()), data_dir=data)
    assert isinstance(run, OriginalRun) and run.status == "complete"
    assert np.allclose(run.predict(x_val), expected["run_val"], atol=1e-5)
    assert run.result["objective"] == pytest.approx(float(run.metrics["val/loss"].dropna().iloc[-1]))
    sweep = load(next((original / "search").iterdir()), data_dir=data)
    assert isinstance(sweep, OriginalSweep) and isinstance(sweep, Sweep)
    assert len(sweep.trials) == 2 and set(sweep.trials["state"]) == {"COMPLETE"}
    assert "model.optimizer.lr" in sweep.best_params
    assert sweep.best_value == pytest.approx(float(expected["best_value"]), rel=1e-5)  # Hydra's sweeper's record
    assert np.allclose(sweep.best_run.predict(x_val), expected["best_val"], atol=1e-5)
    mean, std = sweep.ensemble(2).predict_stats(x_val)
    assert mean.shape == std.shape == expected["best_val"].shape


def test_a_0_0_4_run_whose_data_moved_names_the_fix(original):
    run = load(next((original / "run").iterdir()))  # its data_dir is where the fixture was made
    with pytest.raises(CrescendoError, match=r"final_config.yaml: data.data_dir=.* \(as recorded\) is not a directory "
                       r"— a Crescendo 0.0.4 run keeps no input scaler.*load\(PATH, data_dir=DIR\)"):
        run.predict(np.zeros((2, 3), np.float32))


def test_a_0_0_4_multirun_without_a_search_is_an_ensemble(original):
    """0.0.4's KFold ensembles were plain multiruns (Hydra's basic sweeper): load() gives an Ensemble."""
    multirun = next((original / "search").iterdir())
    (multirun / "optimization_results.yaml").unlink()
    for hydra_yaml in multirun.glob("*/.hydra/hydra.yaml"):
        text = hydra_yaml.read_text().replace("hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
                                              "hydra._internal.core_plugins.basic_sweeper.BasicSweeper")
        hydra_yaml.write_text(text)
    ensemble = load(multirun, data_dir=original / "data")
    assert isinstance(ensemble, Ensemble) and len(ensemble.runs) == 2
    expected = np.load(original / "expected.npz")
    x_val = np.load(original / "data" / "X_val.npy")
    members = ensemble.predict(x_val)
    assert members.shape == (2, *expected["best_val"].shape)
    assert any(np.allclose(member, expected["best_val"], atol=1e-5) for member in members)
