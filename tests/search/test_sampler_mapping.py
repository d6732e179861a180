"""`hydra.sweeper.sampler` as a mapping (Hydra's Optuna sweeper's and Crescendo 0.0.4's spelling) next to
our names: the same sampler, its arguments and seed, and one `cr: error` when two seeds disagree."""

from __future__ import annotations

import csv

import optuna
import pytest
from helpers import run_cr, write_arrays

from crescendo.errors import ConfigError
from hydra_plugins.crescendo_sweeper._factories import make_sampler, sampler_spec


def test_a_name_passes_unchanged():
    assert sampler_spec("TPE", {"n_startup_trials": 3}, 7) == ("tpe", {"n_startup_trials": 3}, 7)


def test_a_mapping_names_the_sampler_and_its_arguments():
    name, kwargs, seed = sampler_spec(
        {"_target_": "optuna.samplers.TPESampler", "seed": 1, "n_startup_trials": 5}, {}, None)
    assert (name, kwargs, seed) == ("tpe", {"n_startup_trials": 5}, 1)
    sampler = make_sampler(name, seed, kwargs)
    assert isinstance(sampler, optuna.samplers.TPESampler) and sampler._n_startup_trials == 5


def test_null_entries_mean_the_samplers_defaults():
    # the default mapping carries seed and n_startup_trials as null, so that `...sampler.seed=1` needs no +
    spec = {"_target_": "optuna.samplers.RandomSampler", "seed": None, "n_startup_trials": None}
    assert sampler_spec(spec, {}, 3) == ("random", {}, 3)
    assert isinstance(make_sampler("random", 3, {}), optuna.samplers.RandomSampler)


def test_the_same_seed_twice_is_fine_and_different_seeds_are_an_error():
    assert sampler_spec({"_target_": "optuna.samplers.TPESampler", "seed": 4}, {}, 4)[2] == 4
    with pytest.raises(ConfigError, match=r"hydra.sweeper.sampler.seed=1: differs from the search's seed 2"):
        sampler_spec({"_target_": "optuna.samplers.TPESampler", "seed": 1}, {}, 2)


def test_an_unknown_target_is_an_error_naming_the_choices():
    with pytest.raises(ConfigError, match=r"hydra.sweeper.sampler._target_=my.Sampler: .*optuna.samplers.TPESampler"):
        sampler_spec({"_target_": "my.Sampler"}, {}, None)


SEARCH = ("hparams_search=optuna", "trainer.max_epochs=1", "hydra.sweeper.n_trials=2",
          "model.optimizer.lr=interval(0.001, 0.01)")


def _lrs(sweep_dir) -> list[str]:
    with open(sweep_dir / "trials.csv") as handle:
        return [row["model.optimizer.lr"] for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_every_spelling_of_the_sampler_seed_searches_the_same_trials(tmp_path):
    data = write_arrays(tmp_path / "data")
    spellings = {
        "ours": ["hydra.sweeper.sampler=tpe", "hydra.sweeper.seed=1"],
        "key": ["hydra.sweeper.sampler.seed=1", "hydra.sweeper.sampler.n_startup_trials=5"],
        "mapping": ["hydra.sweeper.sampler={_target_: optuna.samplers.TPESampler, seed: 1, n_startup_trials: 5}"],
    }
    found = {}
    for name, overrides in spellings.items():
        done = run_cr(*SEARCH, f"data.data_dir={data}", *overrides, f"hydra.sweep.dir={tmp_path / name}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "tpe sampler (seed 1)" in done.stdout
        found[name] = _lrs(tmp_path / name)
    assert found["ours"] == found["key"] == found["mapping"] and len(found["ours"]) == 2


def test_two_different_seeds_are_one_error_and_nothing_written(tmp_path):
    data = write_arrays(tmp_path / "data")
    done = run_cr(*SEARCH, f"data.data_dir={data}", "seed=2", "hydra.sweeper.sampler.seed=1",
                  f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert done.returncode == 2
    expected = ("cr: error: hydra.sweeper.sampler.seed=1: differs from the search's seed 2 (hydra.sweeper.seed, "
                "which follows the run's `seed`) — give one of them, or the same value")
    assert done.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "sweep").exists()
