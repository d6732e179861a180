"""experiment=crescendo_0_0_4 composes to the original Crescendo 0.0.4's defaults (its packaged
configs, quoted below), for a run and for a search; experiment=example is 0.0.4's example, ported."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

# 0.0.4's configs: model/common_model.yaml + mlp.yaml, trainer/default.yaml, callbacks/default.yaml,
# data/common_data.yaml, hparams_search/optuna.yaml — the values that differ from ours
ORIGINAL = {
    "model.batch_norm": True,
    "model.architecture": [7, 5, 3],
    "model.scheduler._target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
    "model.scheduler._partial_": True,
    "model.scheduler.mode": "min",
    "model.scheduler.factor": 0.95,
    "model.scheduler.patience": 10,
    "trainer.min_epochs": 5,
    "trainer.max_epochs": 10,
    "callbacks.early_stopping._target_": "lightning.pytorch.callbacks.EarlyStopping",
    "callbacks.early_stopping.patience": 50,
    "callbacks.early_stopping.monitor": "val/loss",
    "callbacks.early_stopping.mode": "min",
    "data.drop_last": True,
    "data.dataloader_kwargs.drop_last": True,
    "data.batch_size": 64,
    "data.ensemble_split.n_splits": 20,
    "data.ensemble_split.random_state": 42,
    "seed": None,  # 0.0.4's -1: unseeded
}
ORIGINAL_SEARCH = {
    "hydra.sweeper.seed": 1234,
    "hydra.sweeper.sampler._target_": "optuna.samplers.TPESampler",
    "hydra.sweeper.sampler.n_startup_trials": 5,
    "hydra.sweeper.pruner": "none",
    "hydra.sweeper.direction": "minimize",
}


def compose(*overrides: str, hydra: bool = False):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module("crescendo.conf", version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides), return_hydra_config=hydra)


def value(cfg, key: str):
    found = OmegaConf.select(cfg, key, throw_on_missing=True)
    return OmegaConf.to_container(found, resolve=True) if OmegaConf.is_config(found) else found


@pytest.mark.parametrize("key", sorted(ORIGINAL))
def test_a_run_composes_to_the_originals_defaults(key):
    cfg = compose("experiment=crescendo_0_0_4", "data=regression")
    assert value(cfg, key) == ORIGINAL[key]


def test_the_defaults_differ_without_it():
    """The experiment is what makes them equal: each key differs in our own defaults (or is absent)."""
    cfg = compose("data=regression")
    same = [key for key in ORIGINAL if key != "seed" and OmegaConf.select(cfg, key, default="absent") == ORIGINAL[key]]
    assert same == ["data.batch_size"]  # 64 both; the rest is the experiment's doing


@pytest.mark.parametrize("key", sorted(ORIGINAL_SEARCH))
def test_a_search_composes_to_the_originals_sampler_and_no_pruner(key):
    cfg = compose("experiment=crescendo_0_0_4", "data=regression", "hparams_search=optuna", "seed=7", hydra=True)
    assert value(cfg, key) == ORIGINAL_SEARCH[key]
    assert value(cfg, "seed") == 7  # the run's seed stays the user's; the sampler's is 0.0.4's 1234


def test_the_experiment_is_still_a_single_run_and_checks_pass():
    from crescendo.checks import check

    overrides = ("experiment=crescendo_0_0_4", "data=regression", "+data.data_dir=/tmp/x")
    assert not str(compose(*overrides, hydra=True).hydra.mode).endswith("MULTIRUN")
    check(compose(*overrides))


def test_the_example_experiment_is_the_originals_example_on_our_mlp():
    from crescendo.checks import check

    cfg = compose("experiment=example")
    assert cfg.seed == 12345 and cfg.trainer.min_epochs == cfg.trainer.max_epochs == 10
    assert cfg.trainer.gradient_clip_val == 0.5 and cfg.model.optimizer.lr == 0.002
    assert list(cfg.model.architecture) == [128, 256, 64] and cfg.data.batch_size == 64
    assert cfg.data.builtin == "diabetes"
    check(cfg)


@pytest.mark.slow
def test_a_search_with_the_experiment_runs(tmp_path):
    """The experiment's sweeper settings are ones the sweeper accepts: a real 2-trial search trains."""
    import yaml
    from helpers import run_cr

    done = run_cr("experiment=crescendo_0_0_4", "data=diabetes", "hparams_search=optuna", "hydra.sweeper.n_trials=2",
                  "model.optimizer.lr=interval(0.001, 0.01)", "trainer.max_epochs=2", "trainer.min_epochs=1",
                  f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = yaml.safe_load((tmp_path / "sweep" / "multirun.yaml").read_text())["hydra"]["sweeper"]
    assert recorded["seed"] == 1234 and recorded["pruner"] == "none" and recorded["sampler"]["n_startup_trials"] == 5
    job = yaml.safe_load((tmp_path / "sweep" / "0" / "config.yaml").read_text())
    assert job["model"]["batch_norm"] is True and job["data"]["drop_last"] is True
