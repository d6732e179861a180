"""Override grammar → Optuna distributions, and the checks that run before any trial."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from crescendo.errors import ConfigError
from hydra_plugins.crescendo_sweeper._grammar import make_parser
from hydra_plugins.crescendo_sweeper._space import parse_search_space


@pytest.fixture
def cfg():
    cfg = OmegaConf.create(
        {
            "model": {
                "batch_norm": False,
                "architecture": 3,
                "dropout": 0.0,
                "activation": {"_target_": "torch.nn.ReLU"},
                "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.001},
                "name": "mlp",
                "scheduler": None,
            },
            "data": {"batch_size": 64},
        }
    )
    OmegaConf.set_struct(cfg, True)
    return cfg


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model.architecture=choice(3, 6, 9)", CategoricalDistribution([3, 6, 9])),
        ("model.architecture=3,6", CategoricalDistribution([3, 6])),
        ("model.batch_norm=choice(True, False)", CategoricalDistribution([True, False])),
        ("model.name=choice(a, 'b c')", CategoricalDistribution(["a", "b c"])),
        ("model.architecture=choice(3, [64, 32])", CategoricalDistribution([3, "[64,32]"])),
        ("model.optimizer.lr=interval(0.001, 0.01)", FloatDistribution(0.001, 0.01)),
        ("model.optimizer.lr=tag(log, interval(1e-5, 1e-2))", FloatDistribution(1e-5, 1e-2, log=True)),
        ("data.batch_size=interval(16, 256)", IntDistribution(16, 256)),
        ("data.batch_size=tag(log, interval(16, 256))", IntDistribution(16, 256, log=True)),
        # a float key searched with int bounds still samples floats
        ("model.dropout=interval(0, 1)", FloatDistribution(0.0, 1.0)),
        # range: stop excluded, as in Python and Hydra's basic sweeper
        ("data.batch_size=range(32, 257, 32)", IntDistribution(32, 256, step=32)),
        ("data.batch_size=range(1, 5)", IntDistribution(1, 4)),
        ("data.batch_size=tag(log, range(1, 100))", IntDistribution(1, 99, log=True)),
        ("model.dropout=range(0.0, 0.5, 0.1)", FloatDistribution(0.0, 0.4, step=0.1)),
        ("model.dropout=range(0.1, 0.4, 0.1)", FloatDistribution(0.1, 0.3, step=0.1)),
        ("data.batch_size=range(10, 0, -3)", IntDistribution(1, 10, step=3)),
        ("model.scheduler=choice(a, b)", CategoricalDistribution(["a", "b"])),  # null key: anything goes
        ("+model.new_key=interval(1, 3)", IntDistribution(1, 3)),
        ("++model.dropout=interval(0.1, 0.2)", FloatDistribution(0.1, 0.2)),
    ],
)
def test_grammar_to_distribution(cfg, override, expected):
    space = parse_search_space([override], {}, cfg)
    assert len(space.params) == 1
    assert space.params[0].distribution == expected


def test_plain_values_stay_fixed_and_params_merge_with_command_line(cfg):
    space = parse_search_space(
        ["trainer_max=3", "model.optimizer.lr=interval(0.001, 0.01)"],
        {"model.optimizer.lr": "choice(0.1, 0.2)", "data.batch_size": "choice(32, 64)", "model.dropout": 0.25},
        config=None,
    )
    assert space.fixed == ["model.dropout=0.25", "trainer_max=3"]
    by_name = {p.name: p.distribution for p in space.params}
    assert by_name == {
        "model.optimizer.lr": FloatDistribution(0.001, 0.01),  # the command line wins
        "data.batch_size": CategoricalDistribution([32, 64]),
    }


@pytest.mark.parametrize(
    "value", ["True", "1", "a b", "it's", "relu", "x,y", "[1,2]", "${oc.env:HOME}", "null"]
)
def test_string_choices_round_trip_through_hydra(cfg, value):
    quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    space = parse_search_space([f"model.name=choice({quoted}, other)"], {}, cfg)
    param = space.params[0]
    assert param.distribution.choices[0] == value
    text = param.override(value).split("=", 1)[1]
    assert make_parser().parse_override(f"k={text}").value() == value


def test_overrides_of_a_trial(cfg):
    space = parse_search_space(
        [
            "model.architecture=choice(3, [64, 32])",
            "model.batch_norm=choice(true, false)",
            "model.optimizer.lr=tag(log, interval(1e-5, 1e-2))",
            "model.dropout=range(0.0, 0.5, 0.1)",
            "+model.new_key=choice(x)",
            "data.batch_size=4",
        ],
        {},
        cfg,
    )
    values = {
        "model.architecture": "[64,32]",
        "model.batch_norm": True,
        "model.optimizer.lr": 1e-05,
        "model.dropout": 0.30000000000000004,
        "model.new_key": "x",
    }
    assert space.overrides(values) == [
        "data.batch_size=4",
        "model.architecture=[64,32]",
        "model.batch_norm=True",
        "model.optimizer.lr=1e-05",
        "model.dropout=0.3",
        "+model.new_key=x",
    ]


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.batch_norm=choice(maybe, 1.5)", "model.batch_norm is a bool (False) and can only be true or false — got 'maybe', 1.5"),
        ("model.batch_norm=interval(0, 1)", "model.batch_norm is a bool"),
        ("model.optimizer.lr=interval(0.1, 0.01)", "the lower end is above the upper end — write interval(0.01, 0.1)"),
        ("model.optimizer.lr=choice(1,", "cannot parse 'model.optimizer.lr=choice(1,'"),
        ("model.optimizer.lr=interval(1)", "cannot parse"),
        ("model.optimizer.lr=tag(log, interval(0, 1))", "a log scale needs a lower end above 0"),
        ("model.optimizer.lr=tag(lgo, interval(0.1, 1))", "unknown tag lgo"),
        ("model.optimizer.lr=tag(log, choice(0.1, 1))", "'log' applies to interval(...) or range(...)"),
        ("data.batch_size=range(5, 1)", "the range is empty"),
        ("data.batch_size=tag(log, range(1, 100, 2))", "a log scale cannot have a step"),
        ("model.optimzer.lr=interval(0.1, 1)", "model.optimzer.lr is not a key of the config — check the spelling"),
        ("+model.dropout=choice(0.1, 0.2)", "+model.dropout adds a new key, but model.dropout exists already"),
        ("~model.dropout=choice(0.1, 0.2)", "a deletion (~model.dropout) cannot be searched"),
        ("model.activation=interval(0, 1)", "model.activation is a config node"),
        ("data.batch_size=choice(true, 32)", "data.batch_size is a number (64), not a bool"),
        ("model.name=glob(*)", "glob() is not supported"),
        ("model.optimizer.lr=interval(nan, 1)", "model.optimizer.lr=interval(nan, 1): the ends (and step) of a range must be finite"),
        ("model.optimizer.lr=interval(0, inf)", "must be finite numbers, not nan or inf"),
        ("data.batch_size=range(1, inf)", "must be finite numbers, not nan or inf"),
    ],
)
def test_bad_search_spaces_name_the_key_and_the_fix(cfg, override, message):
    with pytest.raises(ConfigError) as error:
        parse_search_space([override], {}, cfg)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_entry_in_sweeper_params_names_it(cfg):
    with pytest.raises(ConfigError, match=r"^hydra.sweeper.params.model.dropout: cannot parse"):
        parse_search_space([], {"model.dropout": "choice(0.1"}, cfg)


def test_int_key_with_float_bounds_is_allowed_with_a_note(cfg, capsys):
    space = parse_search_space(["data.batch_size=interval(16.0, 64.0)"], {}, cfg)
    assert space.params[0].distribution == FloatDistribution(16.0, 64.0)
    assert "data.batch_size holds an int (64)" in capsys.readouterr().err


def test_grid_enumerates_finite_spaces_and_rejects_intervals(cfg):
    space = parse_search_space(
        ["model.architecture=choice(3, 6)", "data.batch_size=range(16, 65, 16)", "model.dropout=range(0.1, 0.4, 0.1)"],
        {},
        cfg,
    )
    assert space.grid() == {
        "model.architecture": [3, 6],
        "data.batch_size": [16, 32, 48, 64],
        "model.dropout": [0.1, 0.2, 0.3],
    }
    space = parse_search_space(["model.optimizer.lr=interval(0.001, 0.01)"], {}, cfg)
    with pytest.raises(ConfigError, match="the grid sampler needs a finite set of values"):
        space.grid()


def test_command_line_syntax_check_names_the_override():
    from crescendo.overrides import check_override_syntax

    check_override_syntax(["-m", "--cfg", "job", "data=diabetes", "model.optimizer.lr=interval(0.001, 0.01)"])
    with pytest.raises(ConfigError, match=r"^model.optimizer.lr: cannot parse 'model.optimizer.lr=interval\(0.001': .* — write e.g."):
        check_override_syntax(["data=diabetes", "model.optimizer.lr=interval(0.001"])


def test_nested_sweeper_params_are_flattened_but_target_dicts_are_values(cfg):
    space = parse_search_space(
        [],
        {"model": {"optimizer": {"lr": "interval(0.001, 0.01)"}, "activation": {"_target_": "torch.nn.Tanh"}}},
        cfg,
    )
    assert [p.name for p in space.params] == ["model.optimizer.lr"]
    assert space.fixed == ["model.activation={_target_:torch.nn.Tanh}"]
