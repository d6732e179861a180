"""`Ensemble`: KFold members of a `cr -m` multirun (and hand-picked runs) predicting together."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from analysis_helpers import N_FEATURES, N_TARGETS
from crescendo.analysis import Ensemble, Run, load
from crescendo.errors import CrescendoError


@pytest.fixture(scope="module")
def members(kfold) -> Ensemble:
    return load(kfold.path)


def test_kfold_multirun_loads_as_an_ensemble(members, kfold):
    assert isinstance(members, Ensemble) and members.path == kfold.path
    assert len(members.runs) == 3 and members.members is members.runs and members.n_members == 3
    assert [run.config.data.ensemble_split.index for run in members.runs] == [0, 1, 2]
    assert all(run.result["n_train"] == 20 for run in members.runs)  # 2 of 3 folds of 30 rows


def test_members_predict_with_their_own_scalers(members, kfold):
    x = kfold.x("val")
    predictions = members.predict(x)
    assert predictions.shape == (3, len(x), N_TARGETS) and predictions.dtype == np.float32
    for index, run in enumerate(members.runs):
        np.testing.assert_array_equal(predictions[index], run.predict(x))
    scaled = [run.transform_inputs(x) for run in members.runs]
    assert not np.allclose(scaled[0], scaled[1])  # each fold fitted its own scaler

    mean, std = members.predict_stats(x)
    assert mean.shape == std.shape == (len(x), N_TARGETS)
    assert (std > 0).all()
    np.testing.assert_allclose(mean, predictions.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, predictions.std(axis=0), rtol=1e-6)


def test_ensemble_from_runs_and_paths(members, kfold):
    built = Ensemble([members.runs[0], str(members.runs[2].path)])
    assert built.path is None and built.n_members == 2
    assert built.predict(kfold.x("val")).shape == (2, 12, N_TARGETS)
    one = Ensemble([members.runs[1]])
    _, std = one.predict_stats(kfold.x("val"))
    assert (std == 0).all()


def test_wrong_input_width_names_the_shape(members):
    with pytest.raises(CrescendoError, match=rf"\(n, {N_FEATURES}\)"):
        members.predict(np.ones((3, N_FEATURES + 1)))


def test_failed_members_are_left_out_with_a_warning(kfold, copy_tree):
    directory = copy_tree(kfold.path)
    record = json.loads((directory / "2" / "result.json").read_text())
    record.update(status="failed", best_checkpoint=None)
    (directory / "2" / "result.json").write_text(json.dumps(record))
    shutil.rmtree(directory / "2" / "checkpoints")
    with pytest.warns(UserWarning, match=r"members 2 did not complete"):
        ensemble = load(directory)
    assert [run.path.name for run in ensemble.runs] == ["0", "1"]


def test_ensemble_errors(members, kfold, copy_tree, tmp_path):
    with pytest.raises(CrescendoError, match="at least one run"):
        Ensemble([])
    broken = copy_tree(members.runs[0].path, "no_ckpt")
    shutil.rmtree(broken / "checkpoints")
    with pytest.raises(CrescendoError, match=rf"{broken}.*no best checkpoint"):
        Ensemble([members.runs[1], broken])
    other = copy_tree(members.runs[0].path, "three_targets")
    record = json.loads((other / "result.json").read_text())
    (other / "result.json").write_text(json.dumps({**record, "output_dims": 3}))
    with pytest.raises(CrescendoError, match=r"different numbers of targets \(\[2, 3\]\)"):
        Ensemble([members.runs[0], Run(other)])
    empty = tmp_path / "empty_multirun"
    (empty / "0" / ".hydra").mkdir(parents=True)
    with pytest.raises(CrescendoError, match="no complete member run"):
        Ensemble.from_multirun(empty)


def test_a_batched_ensemble_run_loads_as_an_ensemble(batched, tmp_path, monkeypatch, capsys):
    import torch

    from analysis_helpers import assert_offline_html, assert_real_png
    from crescendo.analysis import write_report
    from crescendo.analysis.cli import predict_main

    run_dir, x = batched.path, batched.x("val")
    ensemble = load(run_dir)
    assert isinstance(ensemble, Ensemble) and ensemble.path == run_dir.resolve()
    assert len(ensemble.runs) == 1 and ensemble.n_members == 3 and ensemble.runs[0].is_batched_ensemble

    predictions = ensemble.predict(x)
    assert predictions.shape == (3, len(x), N_TARGETS)
    run = ensemble.runs[0]
    with torch.no_grad():
        expected = run.model().predict_members(torch.from_numpy(run.transform_inputs(x))).numpy()
    np.testing.assert_allclose(predictions, expected, rtol=1e-6)
    mean, std = ensemble.predict_stats(x)
    assert mean.shape == std.shape == (len(x), N_TARGETS) and (std > 0).all()
    np.testing.assert_allclose(run.predict(x), mean, rtol=1e-5, atol=1e-6)  # the model's forward is the mean

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "X.npy", x)
    predict_main([str(run_dir), "X.npy", "-o", "Y.npy", "--std", "S.npy"])
    assert "3 ensemble members" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(tmp_path / "S.npy"), std, rtol=1e-5)

    page = write_report(ensemble, tmp_path / "report")
    images = assert_offline_html(page)
    assert {image.name for image in images} == {"learning_curves.png", "member_curves.png"}
    for image in images:
        assert_real_png(image)
