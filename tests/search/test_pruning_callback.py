"""The pruning callback inside a real Lightning fit, and how a job finds its trial from its config."""

from __future__ import annotations

import optuna
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch import LightningModule, Trainer
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from crescendo.search.pruning import OptunaPruning


class TinyModel(LightningModule):
    """Logs train/loss = epoch number at the end of each training epoch (like crescendo's MLP)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", float(self.current_epoch))

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", 10.0 + self.current_epoch)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader() -> DataLoader:
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(32, 3, generator=g), torch.randn(32, 1, generator=g)), batch_size=16)


def fit(callback: OptunaPruning, epochs: int = 3, validate: bool = True) -> None:
    trainer = Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=2,
        accelerator="cpu",
    )
    trainer.fit(TinyModel(), loader(), loader() if validate else None)


def test_reports_every_epoch_and_skips_the_sanity_check():
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    fit(OptunaPruning(trial=trial, monitor="val/loss"))
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 10.0, 1: 11.0, 2: 12.0}


def test_a_pruned_trial_stops_at_once():
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=10.5))
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        fit(OptunaPruning(trial=trial, monitor="val/loss"), epochs=5)
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 10.0, 1: 11.0}


@pytest.mark.parametrize("validate", [True, False])
def test_a_metric_logged_at_train_epoch_end_is_reported_for_its_own_epoch(validate):
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    fit(OptunaPruning(trial=trial, monitor="train/loss"), validate=validate)
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 0.0, 1: 1.0, 2: 2.0}


def test_several_objectives_report_nothing():
    study = optuna.create_study(directions=["minimize", "minimize"])
    trial = study.ask()
    fit(OptunaPruning(trial=trial, monitor="val/loss"))
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {}


def callback_node(storage: str, number: int) -> dict:
    """The entry the sweeper adds to a trial's config (hydra_plugins.crescendo_sweeper._plan)."""
    return {"_target_": "crescendo.search.pruning.OptunaPruning", "storage": storage, "study_name": "s",
            "trial_number": number, "monitor": "val/loss",
            "pruner": {"_target_": "optuna.pruners.ThresholdPruner", "upper": 10.5}}


def test_a_run_finds_its_trial_from_its_config(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s")
    study.ask()
    second = study.ask()
    callback = instantiate(OmegaConf.create(callback_node(storage, second.number)))
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):  # the node's pruner decides
        fit(callback, epochs=5)
    assert optuna.load_study(study_name="s", storage=storage).trials[1].intermediate_values == {0: 10.0, 1: 11.0}
    assert study.trials[0].intermediate_values == {}


def test_a_finished_trial_is_left_alone_with_a_warning(tmp_path):
    # a trial's saved config run again as a single run: it trains and reports nothing
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s")
    study.tell(study.ask(), 1.0)
    callback = instantiate(OmegaConf.create(callback_node(storage, 0)))
    with pytest.warns(UserWarning, match="trial #0 of study 's' is COMPLETE, not running"):
        fit(callback, epochs=3)
    assert optuna.load_study(study_name="s", storage=storage).trials[0].intermediate_values == {}


def test_the_last_epoch_is_reported_but_not_pruned():
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=11.5))
    trial = study.ask()
    fit(OptunaPruning(trial=trial, monitor="val/loss"), epochs=3)  # epoch 2 reports 12.0 > 11.5, but it is the last
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 10.0, 1: 11.0, 2: 12.0}


def test_per_epoch_reports_to_sqlite_do_not_sync_the_disk(tmp_path):
    """Each report is one small transaction; in WAL mode with synchronous=NORMAL it does not fsync."""
    from crescendo.search.storage import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    optuna.create_study(storage=storage, study_name="s")
    with storage._backend.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
