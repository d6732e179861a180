"""Ensembles end to end: `train(cfg)` with `model=mlp_ensemble`, the KFold multirun through `cr`, a search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from crescendo.data import ArrayRegressionDataModule
from crescendo.models.ensemble import BatchedEnsemble
from crescendo.train import train
from helpers import run_cr, write_arrays


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    """One tiny batched-ensemble run through train(cfg): 3 members on their own KFold splits."""
    from hydra import compose, initialize_config_module

    root = tmp_path_factory.mktemp("ensemble_run")
    data = write_arrays(root / "data", rows=(30, 12, 9))
    with initialize_config_module("crescendo.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"data.data_dir={data}", f"paths.output_dir={root / 'run'}", "quiet=true", "seed=0",
            "model=mlp_ensemble", "model.n_members=3", "model.architecture=[6]", "model.batch_norm=true",
            "data.ensemble_split.enable=true", "data.batch_size=8", "trainer.max_epochs=2",
        ])
    assert cfg.data.ensemble_split.n_splits == 3 and cfg.data.n_members == 3  # both follow model.n_members
    return train(cfg), data


def test_train_writes_result_json_with_fit_seconds_and_members(ensemble_run):
    result, _ = ensemble_run
    record = json.loads((Path(result.run_dir) / "result.json").read_text())
    assert record["status"] == "complete" and record["fit_seconds"] > 0
    assert record["architecture"] == [6] and record["n_train"] == 30
    assert {f"val/loss_member_{k}" for k in range(3)} <= set(record["metrics"])
    assert record["metrics"]["val/loss"] == pytest.approx(
        np.mean([record["metrics"][f"val/loss_member_{k}"] for k in range(3)]), rel=1e-5)
    assert record["test_loss"] is not None


def test_run_dir_checkpoint_predicts_every_member(ensemble_run):
    result, data = ensemble_run
    checkpoint = Path(result.run_dir) / "checkpoints" / "best.ckpt"
    model = BatchedEnsemble.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    inputs = ArrayRegressionDataModule.from_checkpoint(checkpoint)
    x_raw = np.load(data / "X_val.npy")
    with torch.no_grad():
        members = model.predict_members(torch.from_numpy(inputs.transform_inputs(x_raw)))
    assert members.shape == (3, 12, 2)

    analysis = pytest.importorskip("crescendo.analysis")
    ensemble = analysis.load(result.run_dir)
    assert isinstance(ensemble, analysis.Ensemble) and ensemble.n_members == 3
    predictions = ensemble.predict(x_raw)
    assert np.allclose(predictions, members.numpy(), atol=1e-6)
    mean, std = ensemble.predict_stats(x_raw)
    assert mean.shape == std.shape == (12, 2) and (std > 0).all()


@pytest.mark.slow
def test_kfold_multirun_of_plain_mlps(tmp_path):
    """The README's multirun: one plain MLP per KFold split, each run on its own training rows."""
    data = write_arrays(tmp_path / "data", rows=(30, 12, 0))
    done = run_cr(
        "-m", "model=mlp", "data=regression", f"+data.data_dir={data}", "seed=range(3)",
        "data.ensemble_split.enable=true", "data.ensemble_split.n_splits=3", "data.ensemble_split.index=${seed}",
        "trainer.max_epochs=1", "quiet=true", "paths.root_dir=results",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (multirun,) = (tmp_path / "results" / "train" / "multiruns").iterdir()
    runs = sorted(p.parent for p in multirun.glob("*/result.json"))
    assert len(runs) == 3
    indices = []
    for run in runs:
        config = yaml.safe_load((run / "config.yaml").read_text())
        result = json.loads((run / "result.json").read_text())
        assert result["status"] == "complete" and result["n_train"] == 20
        assert config["data"]["ensemble_split"]["index"] == config["seed"]
        indices.append(config["seed"])
    assert sorted(indices) == [0, 1, 2]

    analysis = pytest.importorskip("crescendo.analysis")
    ensemble = analysis.load(multirun)
    assert ensemble.predict(np.load(data / "X_val.npy")).shape == (3, 12, 2)


@pytest.mark.slow
def test_batched_ensemble_inside_a_search(tmp_path):
    pytest.importorskip("hydra_plugins.crescendo_sweeper")
    data = write_arrays(tmp_path / "data", rows=(30, 12, 0))
    done = run_cr(
        "hparams_search=optuna", "model=mlp_ensemble", "model.n_members=2", f"data.data_dir={data}",
        "data.ensemble_split.enable=true", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", "seed=0",
        "model.optimizer.lr=interval(0.001, 0.01)", "paths.root_dir=results",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (sweep,) = (tmp_path / "results" / "train" / "multiruns").iterdir()
    results = [json.loads(p.read_text()) for p in sweep.glob("*/result.json")]
    assert len(results) == 2 and all(r["status"] == "complete" for r in results)
    assert all("val/loss_member_1" in r["metrics"] for r in results)
    assert (sweep / "optimization_results.yaml").is_file()
