"""Hydra's own failures translated into one line (crescendo.hydra_errors), in-process: each error is
the real exception Hydra raises while composing the packaged config with those overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import initialize_config_module

from crescendo.errors import ConfigError, CrescendoError
from crescendo.hydra_errors import explain
from crescendo.outputs import check_writable_dir
from crescendo.overrides import check_override_syntax


def hydra_error(*overrides: str) -> BaseException:
    """The exception Hydra raises composing train.yaml with these overrides (as `cr` would, in search
    mode when a search is asked for)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    GlobalHydra.instance().clear()
    with initialize_config_module("crescendo.conf", version_base="1.3"):
        mode = RunMode.MULTIRUN if "hparams_search=optuna" in overrides else RunMode.RUN
        try:
            GlobalHydra.instance().hydra.compose_config("train", list(overrides), run_mode=mode)  # type: ignore[union-attr]
        except Exception as error:  # noqa: BLE001 - the test wants whatever Hydra raised
            return error
    raise AssertionError(f"{overrides} composed without an error")


def message(*overrides: str) -> str:
    found = explain(hydra_error(*overrides), list(overrides))
    assert isinstance(found, ConfigError)
    text = str(found)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.max_epochz=2", "trainer.max_epochz: not a key of the config — did you mean trainer.max_epochs? "
                                 "(to add a new key write +trainer.max_epochz=2)"),
        ("data.batch_sise=8", "did you mean data.batch_size?"),
        ("callbacks.model_checkpoint.monitr=x", "did you mean callbacks.model_checkpoint.monitor?"),
        ("logger.csv.nam=x", "did you mean logger.csv.name?"),
        ("paths.root_dirr=x", "did you mean paths.root_dir?"),
        ("model.foo=1", "model.foo: not a key of the config — model's keys are _target_, activation, architecture"),
    ],
)
def test_an_unknown_key_names_the_closest_one(override, expected):
    assert expected in message("data=diabetes", override)


def test_a_search_setting_outside_a_search_says_how_to_start_one():
    assert message("data=diabetes", "hydra.sweeper.n_trials=5") == (
        "hydra.sweeper.n_trials: the search's settings exist only in a search — add hparams_search=optuna")
    assert "did you mean hydra.sweeper.n_trials?" in message("data=diabetes", "hparams_search=optuna",
                                                             "hydra.sweeper.n_trails=5")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model=mlpp", "model=mlpp: no such option — choose one of mlp, mlp_ensemble, mlp_random_architecture "
                       "(closest: model=mlp)"),
        ("data=nope", "data=nope: no such option — choose one of diabetes, regression"),
        ("hparams_search=optuma", "hparams_search=optuma: no such option — choose one of optuna (closest: "
                                  "hparams_search=optuna)"),
        ("logger=tensorbord", "(closest: logger=tensorboard)"),
    ],
)
def test_a_missing_group_option_lists_the_options(override, expected):
    assert expected in message("data=diabetes", override)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("hydra.sweeper.n_trials=abc", "hydra.sweeper.n_trials=abc: hydra.sweeper.n_trials takes a whole number"),
        ("hydra.sweeper.n_trials=2.5", "hydra.sweeper.n_trials=2.5: hydra.sweeper.n_trials takes a whole number"),
        ("hydra.sweeper.max_failure_rate=most", "hydra.sweeper.max_failure_rate takes a number"),
        ("hydra.sweeper.parallel_startup=maybe", "hydra.sweeper.parallel_startup takes true or false"),
    ],
)
def test_a_typed_setting_names_its_type(override, expected):
    assert expected in message("data=diabetes", "hparams_search=optuna", override)


def test_the_real_reason_behind_requires_multirun_is_found():
    # Hydra fails to compose in search mode, falls back to a single run and blames the search range
    overrides = ["data=diabetes", "hparams_search=optuna", "model.optimizer.lr=interval(0.1, 0.2)",
                 "hydra.sweeper.n_trials=abc"]
    error = hydra_error(*overrides[:3], overrides[3])
    assert "requires --multirun" not in str(explain(error, overrides))
    from hydra.errors import ConfigCompositionException

    masked = ConfigCompositionException(f"Sweep parameters '{overrides[2]}' requires --multirun")
    assert "hydra.sweeper.n_trials takes a whole number" in str(explain(masked, overrides))
    alone = explain(masked, overrides[:1] + overrides[2:3])
    assert str(alone) == ("model.optimizer.lr=interval(0.1, 0.2): a search range needs a search — add "
                          "hparams_search=optuna, or give model.optimizer.lr one value")


def test_an_existing_key_with_a_plus_says_to_drop_it():
    assert message("data=diabetes", "+model.dropout=0.2") == (
        "model.dropout: is already in the config — drop the + to change it (model.dropout=VALUE)")


def test_a_missing_equals_sign_asks_for_a_value():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with pytest.raises(Exception) as raised:  # whatever Hydra's parser raises
        OverridesParser.create().parse_overrides(["trainer.max_epochs"])
    assert str(explain(raised.value, ["trainer.max_epochs"])) == (
        "trainer.max_epochs: 'trainer.max_epochs' has no value — write trainer.max_epochs=VALUE")


def test_bugs_and_crescendo_errors():
    assert explain(ZeroDivisionError("x"), []) is None
    assert explain(KeyError("x"), []) is None
    assert explain(FileNotFoundError("x"), []) is None  # no output dir was found bad first
    from omegaconf.errors import ValidationError

    assert explain(ValidationError("raised by our own code"), []) is None
    error = CrescendoError("data.data_dir: gone — fix it")
    assert explain(error, []) is error


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("+data.data_dir=/tmp/dätä", "data.data_dir: cannot parse '+data.data_dir=/tmp/dätä': token recognition "
                                     "error at: 'ä' — quote the value, in the shell: '+data.data_dir=\"/tmp/dätä\"'"),
        ("model.architecture=[64,32", "— balance the brackets, e.g. model.architecture=[64,32]"),
        ("model.architecture=[64,32]]", "— balance the brackets"),
        ("trainer.max_epochs='3", "— close the quote"),
        ("model.optimizer.lr=interval(0.001", "— write e.g. key=choice(a, b)"),
        ("=3", "'=3': no key before '=' — write key=value"),
    ],
)
def test_a_malformed_override_gets_the_fix_for_its_kind(override, expected):
    with pytest.raises(ConfigError) as raised:
        check_override_syntax(["data=diabetes", override])
    assert expected in str(raised.value)
    if "interval" not in override:
        assert "choice(" not in str(raised.value)


def test_a_quoted_non_ascii_path_parses():
    check_override_syntax(['+data.data_dir="/tmp/dätä"'])


def test_output_dirs_are_checked_without_making_them(tmp_path):
    check_writable_dir("hydra.run.dir", tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"^hydra.run.dir: .*/file/run cannot be made: .*/file is a file — "):
        check_writable_dir("hydra.run.dir", tmp_path / "file" / "run")
    with pytest.raises(ConfigError, match=r"^paths.root_dir: .*/file is a file — choose a directory"):
        check_writable_dir("paths.root_dir", tmp_path / "file")


def test_a_read_only_dir_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    # root is not stopped by the mode; /proc/sys is read-only for root too where it is mounted so
    readable_only = [p for p in (locked, Path("/proc/sys")) if p.is_dir() and not os.access(p, os.W_OK)]
    if not readable_only:
        pytest.skip("running as root without a read-only mount: mode 0o500 does not stop root's writes")
    with pytest.raises(ConfigError, match=rf"^hydra.sweep.dir: {readable_only[0]}/sweep would be made in "
                                          rf"{readable_only[0]}, which is not writable — "):
        check_writable_dir("hydra.sweep.dir", readable_only[0] / "sweep")


def test_hydra_flags_are_not_overrides():
    error = hydra_error("data=diabetes", "trainer.max_epochz=2")
    assert "did you mean trainer.max_epochs?" in str(explain(error, ["--cfg", "job", "-m", "data=diabetes",
                                                                      "trainer.max_epochz=2"]))
