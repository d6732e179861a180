"""data.normalize_targets: targets standard-scaled on the training rows, the scaler kept with the model,
predictions mapped back to the targets' units everywhere (Run.predict, cr-predict, the exported model),
and every logged or reported loss in the units the model trains in (result.json's `loss_units`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from crescendo.analysis import Run, raw_input_model
from crescendo.analysis.cli import predict_main
from crescendo.data import ArrayRegressionDataModule
from crescendo.errors import DataError
from crescendo.train import train

pytestmark = pytest.mark.filterwarnings("ignore:data.batch_size")


def _scaled_targets(data_dir, y_name: str) -> np.ndarray:
    y_train = np.load(data_dir / "Y_train.npy").astype(np.float64)
    return StandardScaler().fit(y_train).transform(np.load(data_dir / f"{y_name}.npy").astype(np.float64))


def _targets_with_units(data_dir) -> None:
    """Targets far from 0 and 1 (like diabetes's 25–346): scaling them changes the losses' numbers."""
    for split in ("train", "val", "test"):
        y = np.load(data_dir / f"Y_{split}.npy")
        np.save(data_dir / f"Y_{split}.npy", (y * np.array([300.0, 5.0]) + np.array([100.0, -2.0])).astype(np.float32))


def test_targets_scaled_with_the_training_rows_only(data_dir):
    _targets_with_units(data_dir)
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), normalize_targets=True)
    dm.setup()
    _, y_train = dm._tensors["train"]
    _, y_val = dm._tensors["val"]
    np.testing.assert_allclose(y_train.numpy().mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y_train.numpy().std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(y_val.numpy(), _scaled_targets(data_dir, "Y_val"), rtol=1e-5, atol=1e-5)
    state = dm.state_dict()
    assert state["normalize_targets"] is True and len(state["target_mean"]) == 2
    restored = ArrayRegressionDataModule()
    restored.load_state_dict(state)  # what predict does, with no data files
    y_raw = np.load(data_dir / "Y_val.npy")
    np.testing.assert_allclose(restored.inverse_transform_targets(y_val.numpy()), y_raw, rtol=1e-5, atol=1e-4)


def test_resuming_with_the_other_setting_is_refused(data_dir):
    """A checkpoint's target scaler restored next to data set up without one (Lightning restores after
    setup when resuming): training would continue in other units."""
    trained = ArrayRegressionDataModule(data_dir=str(data_dir), normalize_targets=True)
    trained.setup()
    other = ArrayRegressionDataModule(data_dir=str(data_dir))  # the same files: prepare's cache must not mix them
    other.setup()
    assert not np.array_equal(other._tensors["train"][1].numpy(), trained._tensors["train"][1].numpy())
    with pytest.raises(DataError, match="trained with data.normalize_targets=true but this run sets false"):
        other.load_state_dict(trained.state_dict())


def test_off_by_default_targets_as_loaded(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir))
    dm.setup()
    np.testing.assert_array_equal(dm._tensors["val"][1].numpy(), np.load(data_dir / "Y_val.npy").astype(np.float32))
    assert dm.state_dict()["normalize_targets"] is False and dm.state_dict()["target_mean"] is None
    y = np.ones((3, 2), dtype=np.float32) * 7
    np.testing.assert_array_equal(dm.inverse_transform_targets(y), y)


def test_diabetes_scales_its_targets_regression_does_not(compose_cfg):
    assert compose_cfg("data=diabetes").data.normalize_targets is True
    assert compose_cfg("data=regression").data.normalize_targets is False


def _mse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((prediction.astype(np.float64) - target) ** 2))


@pytest.mark.parametrize("normalize", [True, False])
def test_predict_raw_units_and_losses_in_training_units(normalize, data_dir, compose_cfg, tmp_path):
    """The best epoch's val/loss is the MSE of the kept model in the units it trains in; predict (and
    cr-predict, and the exported model) answer in the targets' own units."""
    _targets_with_units(data_dir)
    cfg = compose_cfg(f"data.data_dir={data_dir}", f"data.normalize_targets={str(normalize).lower()}",
                      "trainer.max_epochs=2", "seed=0", "data.batch_size=64")
    result = train(cfg)
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    run = Run(result.run_dir)
    x_val, y_val = np.load(data_dir / "X_val.npy"), np.load(data_dir / "Y_val.npy").astype(np.float64)
    predicted = run.predict(x_val)
    assert predicted.dtype == np.float32 and predicted.shape == y_val.shape
    if normalize:
        assert record["loss_units"] == run.loss_units == "standardized targets"
        scaler = StandardScaler().fit(np.load(data_dir / "Y_train.npy").astype(np.float64))
        np.testing.assert_allclose(record["target_scaler"]["mean"], scaler.mean_)
        np.testing.assert_allclose(record["target_scaler"]["scale"], scaler.scale_)
        in_training_units = _mse((predicted - scaler.mean_) / scaler.scale_, (y_val - scaler.mean_) / scaler.scale_)
        assert float(predicted[:, 0].mean()) > 50  # the targets' units (100–400), not standardised (~0)
    else:
        assert record["loss_units"] == run.loss_units == "targets" and record["target_scaler"] is None
        in_training_units = _mse(predicted, y_val)
    assert in_training_units == pytest.approx(result.metrics["val/loss"], rel=1e-4)
    assert result.objective == pytest.approx(result.metrics["val/loss"])

    # the model the network alone gives, mapped back by the checkpoint's scaler
    network = run.model()(torch.from_numpy(run.transform_inputs(x_val))).detach().numpy()
    expected = network * np.array(record["target_scaler"]["scale"]) + record["target_scaler"]["mean"] \
        if normalize else network
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-4)
    # the exported model's module and cr-predict give the same numbers
    exported = raw_input_model(run)(torch.from_numpy(x_val.astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(exported, predicted, rtol=1e-6, atol=1e-5)
    np.save(tmp_path / "X.npy", x_val)
    predict_main([result.run_dir, str(tmp_path / "X.npy"), "-o", str(tmp_path / "Y.npy")])
    np.testing.assert_array_equal(np.load(tmp_path / "Y.npy"), predicted)


def test_batched_ensemble_members_in_target_units(data_dir, compose_cfg):
    _targets_with_units(data_dir)
    cfg = compose_cfg(f"data.data_dir={data_dir}", "data.normalize_targets=true", "model=mlp_ensemble",
                      "model.n_members=2", "trainer.max_epochs=1", "seed=0")
    run = Run(train(cfg).run_dir)
    x_val = np.load(data_dir / "X_val.npy")
    members = run.predict_members(x_val)
    assert members.shape == (2, len(x_val), 2)
    np.testing.assert_allclose(members.mean(axis=0), run.predict(x_val), rtol=1e-4, atol=1e-3)
    assert float(np.abs(members[..., 0]).mean()) > 10  # raw units (targets around 100–400), not ~1


def test_diabetes_predict_takes_unscaled_inputs(compose_cfg):
    """The README's promise: diabetes runs take sklearn's `load_diabetes(scaled=False)` X and answer in
    its target units."""
    from sklearn.datasets import load_diabetes

    run = Run(train(compose_cfg("data=diabetes", "trainer.max_epochs=1", "seed=0")).run_dir)
    assert run.loss_units == "standardized targets"
    x, _ = load_diabetes(return_X_y=True, scaled=False)
    predicted = run.predict(x)
    assert predicted.shape == (len(x), 1)
    assert 25 < float(predicted.mean()) < 350  # the targets' own range (25–346), not standardised


def test_learning_curves_name_the_units(data_dir, compose_cfg):
    import matplotlib

    matplotlib.use("Agg")
    cfg = compose_cfg(f"data.data_dir={data_dir}", "data.normalize_targets=true", "trainer.max_epochs=1", "seed=0")
    figure = Run(train(cfg).run_dir).plot_learning_curves()
    assert figure.axes[0].get_ylabel().endswith("(in standardized targets)")
