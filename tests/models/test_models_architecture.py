"""`resolve_architecture`: the three accepted forms of `model.architecture` and every wrong one."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from crescendo.errors import ConfigError
from crescendo.models.architecture import linear_ramp, resolve_architecture


@pytest.mark.parametrize("spec", [[64, 32, 8], (64, 32, 8), OmegaConf.create([64, 32, 8]), np.array([64, 32, 8]).tolist()])
def test_list_is_taken_as_written(spec):
    assert resolve_architecture(spec, 10, 2) == [64, 32, 8]


def test_empty_list_is_a_linear_model():
    assert resolve_architecture([], 10, 2) == []


@pytest.mark.parametrize(
    ("n", "input_dims", "output_dims", "expected"),
    [
        (3, 10, 2, [8, 6, 4]),  # linspace(10, 2, 5) interior
        (4, 200, 36, [167, 134, 102, 69]),  # 167.2, 134.4, 101.6, 68.8
        (2, 4, 16, [8, 12]),  # ramps up too
        (0, 10, 2, []),
        (2, 1, 1, [1, 1]),
    ],
)
def test_int_is_a_linear_ramp(n, input_dims, output_dims, expected):
    assert resolve_architecture(n, input_dims, output_dims) == expected
    assert resolve_architecture(np.int64(n), input_dims, output_dims) == expected


def test_random_is_repeatable_and_in_range():
    spec = {"neurons_range": [2, 5], "ramp_std": 0.2}
    drawn = [resolve_architecture(spec, 100, 10, seed=s) for s in range(20)]
    assert drawn == [resolve_architecture(OmegaConf.create(spec), 100, 10, seed=s) for s in range(20)]
    assert {len(w) for w in drawn} <= {2, 3, 4, 5} and len({len(w) for w in drawn}) > 1
    assert all(w >= 1 for widths in drawn for w in widths)
    assert len({tuple(w) for w in drawn}) > 10  # different seeds, different networks
    unseeded = resolve_architecture(spec, 100, 10)
    assert 2 <= len(unseeded) <= 5


def test_random_without_noise_is_the_ramp_of_the_drawn_depth():
    widths = resolve_architecture({"neurons_range": [3, 3], "ramp_std": 0.0}, 10, 2, seed=1)
    assert widths == [8, 6, 4]
    assert np.allclose(linear_ramp(3, 10, 2), [8, 6, 4])


def test_random_widths_are_clipped_at_one():
    widths = resolve_architecture({"neurons_range": [4, 4], "ramp_std": 50.0}, 3, 1, seed=0)
    assert len(widths) == 4 and min(widths) >= 1


@pytest.mark.parametrize(
    "spec",
    [
        "3",
        "[64, 32]",
        3.0,
        True,
        None,
        -1,
        [64, 0],
        [64, -3],
        [64, 2.5],
        [64, True],
        ["64"],
        {"neurons_range": [3, 1], "ramp_std": 0.1},
        {"neurons_range": [-1, 2], "ramp_std": 0.1},
        {"neurons_range": [1, 2]},
        {"ramp_std": 0.1},
        {"neurons_range": [1, 2], "ramp_std": 0.1, "extra": 1},
        {"neurons_range": 3, "ramp_std": 0.1},
        {"neurons_range": [1, 2, 3], "ramp_std": 0.1},
        {"neurons_range": [1.0, 2], "ramp_std": 0.1},
        {"neurons_range": [1, 2], "ramp_std": -0.1},
        {"neurons_range": [1, 2], "ramp_std": "x"},
        {"neurons_range": [1, 2], "ramp_std": float("nan")},
        {"neurons_range": [1, 2], "ramp_std": True},
    ],
)
def test_wrong_values_raise_config_error(spec):
    with pytest.raises(ConfigError) as caught:
        resolve_architecture(spec, 10, 2, seed=0)
    message = str(caught.value)
    assert message.startswith("model.architecture: ")
    assert repr(spec) in message
    assert "list of hidden widths" in message and "an int N" in message and "neurons_range" in message


def test_omegaconf_wrong_values_raise_config_error():
    with pytest.raises(ConfigError, match="model.architecture"):
        resolve_architecture(OmegaConf.create({"neurons_range": [5, 1], "ramp_std": 0.1}), 10, 2)
    with pytest.raises(ConfigError, match="model.architecture"):
        resolve_architecture(OmegaConf.create([4, 0]), 10, 2)


def test_bad_seed_for_random_architecture():
    with pytest.raises(ConfigError, match="seed"):
        resolve_architecture({"neurons_range": [1, 2], "ramp_std": 0.1}, 10, 2, seed=-1)
