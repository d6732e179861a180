"""A run's last.ckpt resumes with Lightning's own `trainer.fit(..., ckpt_path=...)`: the right epoch,
global_step, optimizer state and logger step axis, in blocks as one batch a step."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import torch

from crescendo.callbacks import BufferedModelCheckpoint
from crescendo.data import ArrayRegressionDataModule
from crescendo.loggers import EpochCSVLogger
from crescendo.models.mlp import MultilayerPerceptron
from crescendo.train import train
from helpers import write_arrays

STEPS_AN_EPOCH = 6  # 48 training rows in batches of 8


@pytest.mark.parametrize("batches_per_call", [1, 16])
def test_last_checkpoint_resumes_where_the_run_stopped(compose_cfg, tmp_path: Path, batches_per_call: int):
    data = write_arrays(tmp_path / "data")
    common = (f"data.data_dir={data}", "data.batch_size=8", "seed=0", f"batches_per_call={batches_per_call}",
              "model.architecture=[6]")
    train(compose_cfg(*common, "trainer.max_epochs=3", run_dir=tmp_path / "first"))
    whole = train(compose_cfg(*common, "trainer.max_epochs=6", run_dir=tmp_path / "whole"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    stopped = torch.load(last, weights_only=False)
    assert (stopped["epoch"], stopped["global_step"]) == (2, 3 * STEPS_AN_EPOCH)

    datamodule = ArrayRegressionDataModule(data_dir=str(data), batch_size=8, batches_per_call=batches_per_call)
    model = MultilayerPerceptron.load_from_checkpoint(last, batches_per_call=batches_per_call)
    resumed_dir = tmp_path / "resumed"
    trainer = L.Trainer(
        max_epochs=6, accelerator="cpu", num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False,
        logger=EpochCSVLogger(save_dir=resumed_dir, name="", version=""),
        callbacks=[BufferedModelCheckpoint(dirpath=resumed_dir / "checkpoints", filename="last", monitor=None)],
    )
    # our checkpoints hold modules and partials in their hyperparameters (see EpochLossModule)
    trainer.fit(model, datamodule=datamodule, ckpt_path=last, weights_only=False)

    assert (trainer.current_epoch, trainer.global_step) == (6, 6 * STEPS_AN_EPOCH)
    end = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert (end["epoch"], end["global_step"]) == (5, 6 * STEPS_AN_EPOCH)
    # the optimizer state came along: Adam counted the first run's steps too
    assert all(int(state["step"]) == 6 * STEPS_AN_EPOCH for state in end["optimizer_states"][0]["state"].values())

    # the resumed metrics.csv continues the epochs and the step axis of an uninterrupted run
    resumed = pd.read_csv(resumed_dir / "metrics.csv")
    uninterrupted = pd.read_csv(Path(whole.run_dir) / "metrics.csv").dropna(subset=["val/loss"])
    assert list(resumed["epoch"]) == [3, 4, 5]
    assert list(resumed["step"]) == list(uninterrupted["step"])[3:]
    assert resumed[["train/loss", "val/loss"]].notna().all().all()
