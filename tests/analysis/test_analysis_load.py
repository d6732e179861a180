"""`crescendo.analysis.load`: a run, a search or an ensemble — anything else is one clear error."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import crescendo.analysis as analysis
from crescendo.analysis import Ensemble, Run, Sweep, load
from crescendo.errors import CrescendoError


def test_public_api():
    assert set(analysis.__all__) >= {"load", "Run", "Sweep", "Ensemble"}
    for name in analysis.__all__:
        assert getattr(analysis, name) is not None


def test_importing_the_package_is_light():
    code = ("import sys, crescendo.analysis, crescendo.analysis.cli; "
            "heavy = [m for m in ('torch', 'lightning', 'optuna', 'matplotlib', 'pandas') if m in sys.modules]; "
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_load_tells_what_a_directory_holds(search, kfold):
    assert isinstance(load(search.path), Sweep)
    assert isinstance(load(str(search.path / "0")), Run)
    assert isinstance(load(search.path / "0" / "result.json"), Run)
    assert isinstance(load(search.path / "optimization_results.yaml"), Sweep)
    assert isinstance(load(kfold.path), Ensemble)
    assert isinstance(load(kfold.path / "1"), Run)


def test_a_search_without_its_results_file_is_still_a_sweep(search, copy_tree):
    copied = copy_tree(search.path)
    (copied / "optimization_results.yaml").unlink()
    (copied / "trials.csv").unlink()
    sweep = load(copied)
    assert isinstance(sweep, Sweep) and sweep.study.study_name == "train" and len(sweep.runs) == 4


def test_not_a_results_directory(tmp_path, kfold, copy_tree):
    with pytest.raises(CrescendoError, match=rf"{tmp_path / 'nowhere'}: no such file or directory — expected a run"):
        load(tmp_path / "nowhere")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CrescendoError, match=rf"{empty}: holds no run, search or ensemble — expected .*result\.json"):
        load(empty)

    unfinished = tmp_path / "unfinished"
    (unfinished / ".hydra").mkdir(parents=True)
    with pytest.raises(CrescendoError, match="did not finish"):
        load(unfinished)

    stray = tmp_path / "X.npy"
    stray.write_bytes(b"")
    with pytest.raises(CrescendoError, match=rf"{stray}: is a file — expected"):
        load(stray)

    runs_dir = copy_tree(kfold.path, "runs")
    (runs_dir / "multirun.yaml").unlink()  # like results/<task>/runs/: run dirs side by side
    with pytest.raises(CrescendoError, match=r"holds 3 run directories but no multirun\.yaml"):
        load(runs_dir)


def test_an_unfinished_search_without_study(search, copy_tree):
    copied = copy_tree(search.path, "broken")
    for name in ("optimization_results.yaml", "study.db", "trials.csv"):
        (copied / name).unlink()
    for child in ("0", "1", "2", "3"):
        shutil.rmtree(copied / child)
    with pytest.raises(CrescendoError, match=r"holds no run, search or ensemble"):
        load(copied)


def test_a_damaged_run_is_one_clear_error(kfold, copy_tree):
    import numpy as np

    from crescendo.errors import DataError

    runs = sorted(p for p in kfold.path.iterdir() if (p / "result.json").is_file())
    run_dir = copy_tree(runs[0], "damaged")
    run = load(run_dir)
    with pytest.raises(DataError, match=r"^inputs to predict have shape \(2, 1\) but the model expects"):
        run.predict(np.zeros((2, 1), np.float32))
    with pytest.raises(DataError, match=rf"^inputs to predict hold {run.raw_input_dims} NaN or infinite values"):
        run.predict(np.full((1, run.raw_input_dims), np.nan, np.float32))
    (run_dir / "checkpoints" / "best.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CrescendoError, match=rf"^{run_dir}/checkpoints/best.ckpt: cannot be read as a checkpoint"):
        load(run_dir).predict(np.zeros((2, run.raw_input_dims), np.float32))
    (run_dir / "result.json").write_text("{not json")
    with pytest.raises(CrescendoError, match=rf"^{run_dir}/result.json: cannot be read as JSON"):
        load(run_dir).result
