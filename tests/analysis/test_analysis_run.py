"""`Run`: a run directory read back — config, result, metrics, model, predict from raw inputs, data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import DictConfig

from analysis_helpers import COLUMNS, N_FEATURES, N_TARGETS
from crescendo.analysis import Run, load
from crescendo.errors import CrescendoError, DataError
from crescendo.train import train
from helpers import write_arrays


@pytest.fixture(scope="module")
def best(search) -> Run:
    """The search's best run (trial 1..4 whichever won), read fresh for this module."""
    return load(search.path).best_run


def _standard_scaled(x_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """What the model saw: selected columns, scaled with the training rows' mean and (population) std."""
    selected = x_train[:, COLUMNS].astype(np.float64)
    return ((x[:, COLUMNS] - selected.mean(axis=0)) / selected.std(axis=0)).astype(np.float32)


def test_run_reads_what_the_run_wrote(best, search):
    assert best.path.is_dir() and best.path.parent == search.path
    assert isinstance(best.config, DictConfig)
    assert best.config.data.feature_select == "0:2,3:6" and best.config.trainer.max_epochs == 2
    assert best.result["status"] == "complete" and best.status == "complete"
    assert best.result["input_dims"] == len(COLUMNS) and best.result["output_dims"] == N_TARGETS
    assert best.objective == pytest.approx(best.result["objective"]) and best.monitor == "val/loss"

    metrics = best.metrics
    assert isinstance(metrics, pd.DataFrame)
    assert list(metrics["epoch"]) == [0, 1]  # one row per epoch; the test-loss row is not an epoch
    assert {"train/loss", "val/loss"} <= set(metrics.columns)
    assert metrics["val/loss"].min() == pytest.approx(best.objective, rel=1e-6)


def test_run_is_lazy_and_caches_the_model(search):
    run = Run(search.path / "0")
    _ = run.config, run.result, run.metrics
    assert run._models == {} and run._inputs is None  # nothing loaded before a model is asked for
    model = run.model()
    assert model is run.model() and not model.training
    assert next(model.parameters()).device == torch.device("cpu")
    assert model.hidden_widths == run.result["architecture"]


def test_predict_equals_the_model_on_scaled_selected_inputs(best, search):
    x_val, x_train = search.x("val"), search.x("train")
    predicted = best.predict(x_val)
    assert predicted.shape == (len(x_val), N_TARGETS) and predicted.dtype == np.float32
    with torch.no_grad():
        expected = best.model()(torch.from_numpy(_standard_scaled(x_train, x_val))).numpy()
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(best.transform_inputs(x_val), _standard_scaled(x_train, x_val), rtol=1e-5, atol=1e-5)
    assert best.raw_input_dims == N_FEATURES
    assert best.predict(x_val[:0]).shape == (0, N_TARGETS)


@pytest.mark.parametrize("shape", [(4, N_FEATURES - 1), (4, N_FEATURES + 3), (N_FEATURES,)])
def test_predict_rejects_inputs_of_the_wrong_shape(best, shape):
    with pytest.raises(DataError, match=rf"\(n, {N_FEATURES}\)"):
        best.predict(np.zeros(shape, dtype=np.float32))


def test_datamodule_rebuilds_the_data(best):
    module = best.datamodule()
    assert (module.n_train, module.n_val, module.n_test) == (
        best.result["n_train"], best.result["n_val"], best.result["n_test"])
    assert module.input_dims == len(COLUMNS)


def test_missing_checkpoint_is_a_clear_error(best, copy_tree):
    broken = Run(copy_tree(best.path))
    shutil.rmtree(broken.path / "checkpoints")
    assert broken.result["status"] == "complete"  # the files that remain still read
    with pytest.raises(CrescendoError, match=r"best checkpoint .*best\.ckpt is missing"):
        broken.model()
    with pytest.raises(CrescendoError, match=str(broken.path)):
        broken.predict(np.zeros((2, N_FEATURES)))


def test_a_failed_run_has_no_checkpoint(best, copy_tree):
    failed = copy_tree(best.path)
    record = json.loads((failed / "result.json").read_text())
    record.update(status="failed", best_checkpoint=None, error="NonFiniteLossError: train/loss is nan")
    (failed / "result.json").write_text(json.dumps(record))
    shutil.rmtree(failed / "checkpoints")
    with pytest.raises(CrescendoError, match=r"no best checkpoint .*'failed'.*NonFiniteLossError"):
        Run(failed).model()


def test_a_moved_run_predicts_the_same(best, search, copy_tree):
    moved = Run(copy_tree(best.path, "moved_run"))
    x = search.x("test")
    np.testing.assert_array_equal(moved.predict(x), best.predict(x))
    assert moved.best_checkpoint.parent.parent == moved.path


def test_a_moved_data_dir(compose_cfg, tmp_path):
    data = write_arrays(tmp_path / "data", n_features=4, n_targets=1, rows=(24, 8, 0), seed=5)
    cfg = compose_cfg(f"data.data_dir={data}", "trainer.max_epochs=1", "seed=0", "model.architecture=1", "data.batch_size=8",
                      run_dir=tmp_path / "run")
    train(cfg)
    run = Run(tmp_path / "run")
    x = np.load(data / "X_val.npy")
    before = run.predict(x)

    moved = tmp_path / "moved_data"
    data.rename(moved)
    fresh = Run(tmp_path / "run")
    np.testing.assert_array_equal(fresh.predict(x), before)  # the scaler comes from the checkpoint
    with pytest.raises(DataError, match=r"data_dir=NEW_DIR"):
        fresh.datamodule()
    module = fresh.datamodule(data_dir=moved)
    assert module.data_dir == str(moved) and module.n_val == 8 and module.n_train == 24
    np.testing.assert_allclose(module.transform_inputs(x), fresh.transform_inputs(x), rtol=1e-5, atol=1e-6)


def test_run_on_a_directory_without_result_json(tmp_path):
    (tmp_path / ".hydra").mkdir()
    with pytest.raises(CrescendoError, match=rf"{tmp_path}.*no result\.json.*not finished"):
        Run(tmp_path)
