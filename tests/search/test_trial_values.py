"""Every value a trial can take is checked before the first trial (`_values.check_trial_values`), by the
same rules a single run uses; all bad values come back in one error. No study, no training."""

from __future__ import annotations

import pytest

from crescendo.errors import ConfigError
from hydra_plugins.crescendo_sweeper._space import parse_search_space
from hydra_plugins.crescendo_sweeper._values import check_trial_values


def _check(compose_cfg, *searched: str, base: tuple[str, ...] = ()) -> str | None:
    cfg = compose_cfg("data=diabetes", *base)
    space = parse_search_space(list(searched), {}, cfg, None)
    try:
        check_trial_values(space, cfg)
    except ConfigError as error:
        return str(error)
    return None


@pytest.mark.parametrize("searched", [
    ["model.architecture=choice(3, 6, 9, 12, 15)", "data.batch_size=choice(32, 64, 128, 256)",
     "model.batch_norm=choice(True, False)", "model.optimizer.lr=interval(0.001, 0.01)"],
    ["model.optimizer.lr=tag(log, interval(1e-5, 1e-1))", "model.dropout=interval(0, 0.5)"],
    ["trainer.max_epochs=range(1, 4)", "model.architecture=choice(0, [64, 32])"],
    ["data=choice(regression, diabetes)"],  # a config-group sweep: checked against the group's options instead
])
def test_a_good_search_passes(compose_cfg, searched):
    assert _check(compose_cfg, *searched) is None


@pytest.mark.parametrize("searched, expected", [
    (["model.architecture=choice(abc, 3)"], "model.architecture=choice(abc, 3): the value abc has type str — expected"),
    (["data.batch_size=choice(0, 32)"], "data.batch_size=choice(0, 32): the value 0 must be an int ≥ 1 — set e.g."),
    (["data.batch_size=choice(32, 0, -1)"], "data.batch_size=choice(32, 0, -1): the values 0, -1 must be an int ≥ 1"),
    (["model.optimizer.lr=interval(-1, 1)"], "model.optimizer.lr=interval(-1, 1): the value -1.0 must be a number > 0"),
    (["model.optimizer.lr=interval(0, 0.1)"], "model.optimizer.lr=interval(0, 0.1): the value 0.0 must be a number > 0"),
    (["model.dropout=interval(0.5, 1.5)"], "model.dropout=interval(0.5, 1.5): the value 1.5 must be a number ≥ 0 and < 1"),
    (["trainer.max_epochs=range(0, 3)"], "trainer.max_epochs=range(0, 3): the value 0 must be ≥ 1: 0 epochs trains nothing"),
    (["model.architecture=choice(3, [64, 0])"], "model.architecture=choice(3, [64, 0]): the value [64, 0] has a hidden "
                                                "width below 1"),
    (["seed=choice(1, abc)"], "seed=choice(1, abc): the value abc must be an int in [0, 4294967295] or null"),
    (["monitor=choice(val/loss, val/lss)"], "monitor=choice(val/loss, val/lss): the value val/lss must be a metric the "
                                            "model logs"),
])
def test_every_value_a_trial_can_take_is_checked(compose_cfg, searched, expected):
    message = _check(compose_cfg, *searched)
    assert message is not None and message.startswith(expected), message


def test_all_bad_values_come_back_at_once(compose_cfg):
    message = _check(compose_cfg, "model.architecture=choice(abc, 3)", "data.batch_size=choice(0, 32)",
                     "model.optimizer.lr=interval(-1, 1)")
    parts = message.split("; ")
    assert [part.split(":")[0] for part in parts] == [
        "data.batch_size=choice(0, 32)", "model.architecture=choice(abc, 3)", "model.optimizer.lr=interval(-1, 1)"]


def test_a_value_that_breaks_another_key_names_both(compose_cfg):
    message = _check(compose_cfg, "trainer.max_epochs=choice(200, 5)", base=("trainer.min_epochs=100",))
    assert message == ("trainer.max_epochs=choice(200, 5): with trainer.max_epochs=5, trainer.min_epochs=100: must not "
                       "exceed trainer.max_epochs=5 — lower it or raise trainer.max_epochs to at least 100")


def test_the_searched_key_limits_the_other(compose_cfg):
    message = _check(compose_cfg, "trainer.min_epochs=choice(1, 50)", base=("trainer.max_epochs=10",))
    assert message.startswith("trainer.min_epochs=choice(1, 50): the value 50 must not exceed trainer.max_epochs=10")


def test_the_rest_of_the_config_is_checked_once(compose_cfg):
    message = _check(compose_cfg, "model.optimizer.lr=interval(0.001, 0.01)", "data.batch_size=choice(16, 32)",
                     base=("trainer.max_epochs=0",))
    assert message == "trainer.max_epochs=0: must be ≥ 1: 0 epochs trains nothing — set e.g. trainer.max_epochs=100"
