"""What a Lightning user can observe holds under the defaults (blocks of batches included): step callbacks
and loggers see every optimizer step, the progress bar counts batches, metrics.csv has one row per epoch,
a pruned run is a result."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from crescendo.train import train
from helpers import CountingProgressBar, TrainerProbe, write_arrays

# 48 training rows in batches of 8: 6 optimizer steps an epoch
STEPS_AN_EPOCH = 6


@pytest.fixture
def small(tmp_path: Path) -> tuple[str, ...]:
    data = write_arrays(tmp_path / "data")
    return (f"data.data_dir={data}", "data.batch_size=8", "trainer.max_epochs=2", "seed=0")


@pytest.fixture(autouse=True)
def _clear_records():
    TrainerProbe.records.clear()
    CountingProgressBar.totals.clear()
    CountingProgressBar.counted.clear()


PROBE = "+callbacks.probe={_target_: helpers.TrainerProbe}"


@pytest.mark.parametrize("quiet", [True, False])
def test_a_step_interval_learning_rate_monitor_logs_every_optimizer_step(compose_cfg, small, tmp_path, quiet):
    train(compose_cfg(*small, f"quiet={quiet}", "trainer.log_every_n_steps=1", PROBE,
                      "+callbacks.lrm={_target_: lightning.pytorch.callbacks.LearningRateMonitor, "
                      "logging_interval: step}"))
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    lr_rows = metrics.dropna(subset=["lr-Adam"])
    assert list(lr_rows["step"]) == list(range(2 * STEPS_AN_EPOCH))
    assert TrainerProbe.records[-1]["global_step"] == 2 * STEPS_AN_EPOCH
    # the epoch rows are still one per epoch
    assert list(metrics.dropna(subset=["val/loss"])["epoch"]) == [0, 1]


@pytest.mark.parametrize("target", ["lightning.pytorch.callbacks.ModelCheckpoint",
                                    "crescendo.callbacks.BufferedModelCheckpoint"])
def test_a_step_checkpoint_saves_at_every_optimizer_step(compose_cfg, small, tmp_path, target):
    steps_dir = tmp_path / "steps"
    train(compose_cfg(*small, f"+callbacks.steps={{_target_: {target}, every_n_train_steps: 1, save_top_k: -1, "
                              f"dirpath: {steps_dir}, filename: '{{step}}', enable_version_counter: false}}"))
    saved = sorted(int(path.stem.split("=")[1]) for path in steps_dir.glob("*.ckpt"))
    assert saved == list(range(1, 2 * STEPS_AN_EPOCH + 1))
    assert torch.load(steps_dir / "step=7.ckpt", weights_only=False)["global_step"] == 7


def test_a_showing_progress_bar_counts_batches(compose_cfg, small):
    # a single run is not quiet: its bar must count the epoch's batches, one by one
    train(compose_cfg(*small, "quiet=false", "callbacks.progress_bar={_target_: helpers.CountingProgressBar}", PROBE))
    assert CountingProgressBar.totals == [STEPS_AN_EPOCH, STEPS_AN_EPOCH]
    assert CountingProgressBar.counted == [STEPS_AN_EPOCH, STEPS_AN_EPOCH]
    (record,) = TrainerProbe.records
    assert record["automatic_optimization"] and record["global_step"] == 2 * STEPS_AN_EPOCH


def test_the_default_rich_progress_bar_counts_batches(compose_cfg, small):
    train(compose_cfg(*small, "quiet=false", PROBE))
    (record,) = TrainerProbe.records
    assert record["bar"] == "RichProgressBar"
    assert record["bar_total"] == record["num_training_batches"] == STEPS_AN_EPOCH


def test_a_quiet_run_trains_in_blocks_with_the_same_step_count(compose_cfg, small):
    train(compose_cfg(*small, PROBE))
    (record,) = TrainerProbe.records
    assert record["bar"] is None and not record["automatic_optimization"]
    assert record["global_step"] == 2 * STEPS_AN_EPOCH


@pytest.mark.parametrize("batches_per_call", [1, 16])
def test_metrics_csv_has_one_row_per_epoch_over_250_epochs(compose_cfg, tmp_path, batches_per_call):
    # 3 steps an epoch: CSVLogger's own flush every 100 steps falls on epochs 99 and 199
    data = write_arrays(tmp_path / "data", rows=(48, 16, 12))
    train(compose_cfg(f"data.data_dir={data}", "data.batch_size=16", "trainer.max_epochs=250",
                      "model.architecture=[4]", f"batches_per_call={batches_per_call}"))
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    fit_rows, test_rows = metrics[metrics["test/loss"].isna()], metrics[metrics["test/loss"].notna()]
    assert list(fit_rows["epoch"]) == list(range(250))
    assert fit_rows[["train/loss", "val/loss"]].notna().all().all()
    assert list(fit_rows["step"]) == [3 * epoch + 2 for epoch in range(250)]
    assert len(test_rows) == 1 and test_rows[["train/loss", "val/loss"]].isna().all().all()


def test_a_pruned_run_returns_its_result(compose_cfg, small, tmp_path):
    result = train(compose_cfg(*small, "trainer.max_epochs=6", "+callbacks.prune={_target_: helpers.PruneAtEpoch, epoch: 2}"))
    assert result.status == "pruned" and result.error is None and result.test_loss is None
    assert result.best_epoch in (0, 1) and result.metrics["val/loss"] == result.objective
    assert "train/loss" in result.metrics
    best = torch.load(result.best_checkpoint, weights_only=False)
    assert best["epoch"] == result.best_epoch
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["status"] == "pruned" and record["best_checkpoint"] == "checkpoints/best.ckpt"
    assert record["objective"] == result.objective
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(metrics.dropna(subset=["train/loss"])["epoch"]) == [0, 1]
