"""The pruning callback inside a real Lightning fit, and how a job finds its trial."""

from __future__ import annotations

import optuna
import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from crescendo.search import get_active_trial, set_active_trial, trial_callbacks
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
    fit(OptunaPruning(trial, "val/loss"))
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 10.0, 1: 11.0, 2: 12.0}


def test_a_pruned_trial_stops_at_once():
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=10.5))
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1"):
        fit(OptunaPruning(trial, "val/loss"), epochs=5)
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 10.0, 1: 11.0}


@pytest.mark.parametrize("validate", [True, False])
def test_a_metric_logged_at_train_epoch_end_is_reported_for_its_own_epoch(validate):
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    fit(OptunaPruning(trial, "train/loss"), validate=validate)
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 0.0, 1: 1.0, 2: 2.0}


def test_several_objectives_report_nothing():
    study = optuna.create_study(directions=["minimize", "minimize"])
    trial = study.ask()
    fit(OptunaPruning(trial, "val/loss"))
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {}


def test_trial_callbacks_only_inside_a_trial():
    assert trial_callbacks("val/loss") == []
    study = optuna.create_study()
    trial = study.ask()
    set_active_trial(trial)
    try:
        (callback,) = trial_callbacks("val/loss")
        assert isinstance(callback, OptunaPruning) and callback.trial is trial and callback.monitor == "val/loss"
    finally:
        set_active_trial(None)
    assert trial_callbacks("val/loss") == []


def test_a_job_in_another_process_finds_its_trial_from_the_environment(tmp_path, monkeypatch):
    from hydra.core.hydra_config import HydraConfig
    from hydra.conf import HydraConf
    from omegaconf import OmegaConf

    from crescendo.search.active_trial import ENV_VAR, search_environment

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s")
    study.ask()
    second = study.ask()
    monkeypatch.setenv(ENV_VAR, search_environment(storage, "s", "median", {"n_startup_trials": 0}))
    cfg = OmegaConf.create({"hydra": OmegaConf.structured(HydraConf)})
    cfg.hydra.job.num = 1
    saved = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(cfg)
    try:
        trial = get_active_trial()
        assert trial is not None and trial.number == second.number
        assert isinstance(trial.study.pruner, optuna.pruners.MedianPruner)
        trial.report(0.5, step=0)
    finally:
        HydraConfig.instance().cfg = saved
    assert optuna.load_study(study_name="s", storage=storage).trials[1].intermediate_values == {0: 0.5}


def test_the_last_epoch_is_reported_but_not_pruned():
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=11.5))
    trial = study.ask()
    fit(OptunaPruning(trial, "val/loss"), epochs=3)  # epoch 2 reports 12.0 > 11.5, but it is the last
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {0: 10.0, 1: 11.0, 2: 12.0}
