"""train(cfg) on composed configs: the run directory contract and the objective's meaning."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from omegaconf import OmegaConf

from crescendo.train import TrainResult, train
from helpers import write_arrays

RESULT_KEYS = {
    "objective", "monitor", "mode", "best_epoch", "best_checkpoint", "status", "input_dims",
    "output_dims", "architecture", "fit_seconds", "n_train", "n_val", "n_test", "test_loss",
}


def test_train_writes_the_run_directory(compose_cfg, data_dir, tmp_path):
    cfg = compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=3", "model.architecture=2", "seed=1")
    result = train(cfg)
    run_dir = tmp_path / "run"

    assert isinstance(result, TrainResult) and result.status == "complete"
    record = json.loads((run_dir / "result.json").read_text())
    assert RESULT_KEYS <= set(record)
    assert (record["input_dims"], record["output_dims"]) == (5, 2)
    assert (record["n_train"], record["n_val"], record["n_test"]) == (48, 16, 12)
    assert record["architecture"] == result.architecture and len(record["architecture"]) == 2
    assert record["best_checkpoint"] == "checkpoints/best.ckpt"
    assert (run_dir / "checkpoints/best.ckpt").is_file() and (run_dir / "checkpoints/last.ckpt").is_file()
    assert record["test_loss"] is not None and record["fit_seconds"] > 0

    saved = OmegaConf.load(run_dir / "config.yaml")
    assert saved.data.data_dir == str(data_dir)
    assert "${" not in (run_dir / "config.yaml").read_text()  # resolved, as used

    metrics = pd.read_csv(run_dir / "metrics.csv")
    per_epoch = metrics.dropna(subset=["val/loss"])
    assert list(per_epoch["epoch"]) == [0, 1, 2]  # one row per epoch
    assert per_epoch["train/loss"].notna().all()


def test_objective_is_the_best_epoch_not_the_last(compose_cfg, data_dir, tmp_path):
    # a learning rate this high makes the validation loss jump around, so best != last is likely;
    # either way the objective must be the minimum over epochs and best_epoch must point at it
    cfg = compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=6", "model.optimizer.lr=0.3", "seed=3")
    result = train(cfg)
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv").dropna(subset=["val/loss"])
    assert result.objective == pytest.approx(metrics["val/loss"].min(), rel=1e-6)
    assert result.best_epoch == int(metrics.loc[metrics["val/loss"].idxmin(), "epoch"])
    assert result.metrics["val/loss"] == pytest.approx(result.objective)
    best_row = metrics.loc[metrics["val/loss"].idxmin()]
    assert result.metrics["train/loss"] == pytest.approx(best_row["train/loss"])  # the best epoch's, not the last's


def test_same_seed_same_objective(compose_cfg, data_dir, tmp_path):
    args = (f"data.data_dir={data_dir}", "trainer.max_epochs=2", "seed=7", "model.dropout=0.1")
    first = train(compose_cfg(*args, run_dir=tmp_path / "a"))
    second = train(compose_cfg(*args, run_dir=tmp_path / "b"))
    assert first.objective == second.objective
    third = train(compose_cfg(*args[:-2], "seed=8", "model.dropout=0.1", run_dir=tmp_path / "c"))
    assert third.objective != first.objective


def test_diabetes_trains_without_any_file(compose_cfg):
    result = train(compose_cfg("data=diabetes", "trainer.max_epochs=1", "seed=0"))
    assert (result.input_dims, result.output_dims) == (10, 1)
    assert result.n_train + result.n_val + result.n_test == 442


def test_int_architecture_ramps_from_input_to_output(compose_cfg, tmp_path):
    data = write_arrays(tmp_path / "wide", n_features=40, n_targets=4)
    result = train(compose_cfg(f"data.data_dir={data}", "trainer.max_epochs=1", "model.architecture=3"))
    assert result.architecture == [31, 22, 13]


def test_production_mode_monitors_training_loss(compose_cfg, data_dir):
    result = train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=2", "data.production_mode=true"))
    assert result.monitor == "train/loss"
    assert result.n_train == 48 + 16 + 12


def test_fast_dev_run_debug_preset(compose_cfg, data_dir):
    result = train(compose_cfg(f"data.data_dir={data_dir}", "debug=fast_dev_run"))
    assert result.status == "complete"


def test_cpu_threads_auto_uses_one_thread_for_small_steps(compose_cfg, data_dir):
    import torch

    from crescendo.errors import ConfigError

    before = torch.get_num_threads()
    try:
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "cpu_threads=2"))
        assert torch.get_num_threads() == 2
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1"))  # auto: a tiny model
        assert torch.get_num_threads() == 1
        with pytest.raises(ConfigError, match="cpu_threads"):
            train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "cpu_threads=0"))
    finally:
        torch.set_num_threads(before)


def test_a_big_step_after_a_small_one_gets_its_threads_back(compose_cfg, data_dir, monkeypatch):
    # the trials of a search share a process: auto's 1 thread for a small trial must not stick
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # this process's share of the cores
    try:
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1"))
        assert torch.get_num_threads() == 1
        # 5 -> 2000 -> 2000 -> 2 parameters x 48 rows is above the small-step bound
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "model.architecture=[2000,2000]"))
        assert torch.get_num_threads() == 2
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1"))
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "cpu_threads=null"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_debug_limit_preset_runs_on_the_builtin_data(compose_cfg):
    result = train(compose_cfg("data=diabetes", "debug=limit", "seed=0"))
    assert result.status == "complete"


def test_a_trainer_setting_lightning_refuses_at_fit_start_is_a_config_error(compose_cfg, tmp_path):
    from crescendo.errors import ConfigError

    data = write_arrays(tmp_path / "data")  # 16 val rows in batches of 8: a tenth of 2 batches is none
    with pytest.raises(ConfigError, match=r"trainer: You requested to check 0.1 of the `val_dataloader`.*fix that trainer"):
        train(compose_cfg(f"data.data_dir={data}", "data.batch_size=8", "+trainer.limit_val_batches=0.1"))
    run_dir = tmp_path / "run"
    assert not any((run_dir / name).exists() for name in ("config.yaml", "result.json", "metrics.csv", "hparams.yaml"))


def test_lightning_advertisements_are_dropped_but_its_other_info_stays(compose_cfg, data_dir, caplog):
    import logging

    with caplog.at_level(logging.INFO):
        train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "quiet=false",
                          "trainer.enable_progress_bar=false"))
    messages = [record.getMessage() for record in caplog.records]
    assert any("GPU available" in m for m in messages)
    assert not any("Tip:" in m for m in messages)
