"""The original Crescendo 0.0.4's `data.dataloader_kwargs.{batch_size, num_workers, pin_memory,
drop_last}`: one setting each with our `data.batch_size` etc., on the command line (a single run and a
search's grammar), in the checking stage, and in what a run or a trial actually uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import run_cr

from crescendo.checks import problems
from crescendo.errors import ConfigError
from crescendo.overrides import normalize_overrides
from hydra_plugins.crescendo_sweeper._space import parse_search_space
from hydra_plugins.crescendo_sweeper._values import check_trial_values


def _compose(compose_cfg, *overrides: str):
    return compose_cfg(*normalize_overrides(list(overrides)))


def _messages(cfg) -> list[str]:
    return [str(p) for p in problems(cfg)]


@pytest.mark.parametrize("argument, expected", [
    ("data.dataloader_kwargs.batch_size=32", "++data.dataloader_kwargs.batch_size=32"),
    ("+data.dataloader_kwargs.drop_last=true", "++data.dataloader_kwargs.drop_last=true"),
    ("++data.dataloader_kwargs.pin_memory=true", "++data.dataloader_kwargs.pin_memory=true"),
    ("data.dataloader_kwargs.batch_size=choice(32, 64)", "++data.dataloader_kwargs.batch_size=choice(32, 64)"),
    ("data.batch_size=32", "data.batch_size=32"),
    ("data.dataloader_kwargsx=1", "data.dataloader_kwargsx=1"),
])
def test_the_command_line_accepts_the_original_spelling(argument, expected):
    assert normalize_overrides([argument]) == [expected]


@pytest.mark.parametrize("data", ["data=diabetes", "data=regression"])
def test_our_keys_follow_the_original_spelling(compose_cfg, data):
    cfg = _compose(compose_cfg, data, "data.dataloader_kwargs.batch_size=16", "data.dataloader_kwargs.num_workers=2",
                   "data.dataloader_kwargs.pin_memory=true", "data.dataloader_kwargs.drop_last=true")
    assert (cfg.data.batch_size, cfg.data.num_workers, cfg.data.pin_memory, cfg.data.drop_last) == (16, 2, True, True)
    default = _compose(compose_cfg, data)
    assert (default.data.num_workers, default.data.pin_memory, default.data.drop_last) == (0, False, False)
    assert default.data.batch_size == (32 if data == "data=diabetes" else 64)  # unchanged defaults
    assert "dataloader_kwargs" not in default.data


def test_the_same_value_both_ways_is_fine(compose_cfg):
    cfg = _compose(compose_cfg, "data=diabetes", "data.batch_size=16", "data.dataloader_kwargs.batch_size=16")
    assert _messages(cfg) == []


def test_different_values_both_ways_name_both_keys(compose_cfg):
    cfg = _compose(compose_cfg, "data=diabetes", "data.batch_size=16", "data.dataloader_kwargs.batch_size=32",
                   "data.drop_last=false", "data.dataloader_kwargs.drop_last=true")
    assert _messages(cfg) == [
        ("data.dataloader_kwargs.batch_size=32: must equal data.batch_size=16: both spell one setting "
        "(data.dataloader_kwargs is the original Crescendo 0.0.4's spelling) — give only one of data.batch_size "
        "and data.dataloader_kwargs.batch_size"),
        ("data.dataloader_kwargs.drop_last=true: must equal data.drop_last=false: both spell one setting "
        "(data.dataloader_kwargs is the original Crescendo 0.0.4's spelling) — give only one of data.drop_last "
        "and data.dataloader_kwargs.drop_last"),
    ]


def test_a_bad_value_is_named_as_the_user_spelled_it(compose_cfg):
    cfg = _compose(compose_cfg, "data=diabetes", "data.dataloader_kwargs.batch_size=0",
                   "data.dataloader_kwargs.pin_memory=maybe", "data.dataloader_kwargs.shuffle=true")
    assert _messages(cfg) == [
        ("data.dataloader_kwargs.shuffle=true: is not a data loader setting — use "
        "data.dataloader_kwargs.{batch_size, num_workers, pin_memory, drop_last}"),
        "data.dataloader_kwargs.batch_size=0: must be an int ≥ 1 — set e.g. data.dataloader_kwargs.batch_size=64",
        ("data.dataloader_kwargs.pin_memory=maybe: must be true or false, not a string — use "
        "data.dataloader_kwargs.pin_memory=true or false"),
    ]
    ours = _compose(compose_cfg, "data=diabetes", "data.batch_size=0", "data.drop_last=maybe")
    assert _messages(ours) == ["data.batch_size=0: must be an int ≥ 1 — set e.g. data.batch_size=64",
                               ("data.drop_last=maybe: must be true or false, not a string — use data.drop_last=true "
                               "or false")]


def _search(compose_cfg, *arguments: str) -> str | None:
    arguments = tuple(normalize_overrides(list(arguments)))
    cfg = compose_cfg("data=diabetes", *(a for a in arguments if "choice(" not in a))
    space = parse_search_space([a for a in arguments if "choice(" in a], {}, cfg, None)
    try:
        check_trial_values(space, cfg)
    except ConfigError as error:
        return str(error)
    return None


def test_a_search_over_the_original_spelling(compose_cfg):
    assert _search(compose_cfg, "data.dataloader_kwargs.batch_size=choice(32, 64, 128, 256)") is None
    assert _search(compose_cfg, "data.dataloader_kwargs.drop_last=choice(true, false)") is None
    assert _search(compose_cfg, "data.dataloader_kwargs.batch_size=choice(0, 64)").startswith(
        "++data.dataloader_kwargs.batch_size=choice(0, 64): the value 0 must be an int ≥ 1")
    # our key given as well: each searched value that differs from it is the conflict
    assert _search(compose_cfg, "data.batch_size=64", "data.dataloader_kwargs.batch_size=choice(32, 64)").startswith(
        "++data.dataloader_kwargs.batch_size=choice(32, 64): the value 32 must equal data.batch_size=64")


@pytest.mark.slow
def test_a_run_and_a_trial_use_the_value_given_the_original_way(tmp_path: Path):
    single = run_cr("data=diabetes", "data.dataloader_kwargs.batch_size=48", "data.dataloader_kwargs.drop_last=true",
                    "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}", "quiet=true", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["data"]["batch_size"] == 48 and config["data"]["drop_last"] is True
    assert json.loads((tmp_path / "run" / "result.json").read_text())["status"] == "complete"

    search = run_cr("data=diabetes", "hparams_search=optuna", "data.dataloader_kwargs.batch_size=choice(32, 64, 128, 256)",
                    "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                    cwd=tmp_path)
    assert search.returncode == 0, search.stderr
    for trial in ("0", "1"):
        used = yaml.safe_load((tmp_path / "sweep" / trial / "config.yaml").read_text())["data"]
        assert used["batch_size"] == used["dataloader_kwargs"]["batch_size"] in (32, 64, 128, 256)
    assert "data.dataloader_kwargs.batch_size" in (tmp_path / "sweep" / "trials.csv").read_text().splitlines()[0]
