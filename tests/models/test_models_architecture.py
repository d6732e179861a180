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
        (4, 200, 36, [167, 134, 101, 68]),  # 167.2, 134.4, 101.6, 68.8 truncated, as 0.0.4
        (6, 200, 36, [176, 153, 129, 106, 82, 59]),  # 0.0.4's widths for architecture=6
        (2, 4, 16, [8, 12]),  # ramps up too
        (0, 10, 2, []),
        (2, 1, 1, [1, 1]),
    ],
)
def test_int_is_a_linear_ramp(n, input_dims, output_dims, expected):
    assert resolve_architecture(n, input_dims, output_dims) == expected
    assert resolve_architecture(np.int64(n), input_dims, output_dims) == expected


def _original_random_widths(seed, lo, hi, ramp_std, n_in, n_out):
    """Crescendo 0.0.4's random architecture, followed step by step: seed NumPy's global generator
    (what Lightning's seed_everything does), draw the depth with randint(lo, hi + 1), interpolate the
    ramp with np.interp at 1..N between (0, n_in) and (N + 1, n_out), add normal(scale=ramp_std)
    noise, truncate with astype(int), set widths <= 0 to 1."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        n = np.random.randint(low=lo, high=hi + 1)
        ramp = np.interp(np.linspace(1, n, n), [0, n + 1], [n_in, n_out])
        widths = (ramp + np.random.normal(scale=ramp_std, size=len(ramp))).astype(int)
        widths[widths <= 0] = 1
        return widths.tolist()
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    ("neurons_range", "ramp_std", "n_in", "n_out"),
    [([2, 5], 1.0, 200, 36), ([3, 10], 1.0, 8, 1), ([1, 4], 40.0, 50, 3), ([0, 2], 0.0, 10, 10)],
)
def test_seeded_random_architecture_is_the_originals(seed, neurons_range, ramp_std, n_in, n_out):
    spec = {"neurons_range": neurons_range, "ramp_std": ramp_std}
    expected = _original_random_widths(seed, *neurons_range, ramp_std, n_in, n_out)
    assert resolve_architecture(spec, n_in, n_out, seed=seed) == expected


def test_ramp_std_is_in_neurons_not_relative():
    # the example: 3 layers drawn from [2, 5] between 200 and 36 stay within a few neurons of
    # the ramp 159, 118, 77 (a relative std of 1.0 gave widths like 290, 157, 1)
    for seed in range(50):
        widths = resolve_architecture({"neurons_range": [3, 3], "ramp_std": 1.0}, 200, 36, seed=seed)
        assert all(abs(w - r) <= 5 for w, r in zip(widths, [159, 118, 77]))


def test_ramp_rel_std_adds_relative_noise_after_the_originals_draws():
    base = {"neurons_range": [3, 3], "ramp_std": 1.0}
    same = resolve_architecture({**base, "ramp_rel_std": 0.0}, 200, 36, seed=4)
    assert same == resolve_architecture(base, 200, 36, seed=4)
    spread = [resolve_architecture({**base, "ramp_rel_std": 0.3}, 200, 36, seed=s)[0] for s in range(40)]
    assert max(spread) - min(spread) > 40  # ±30 % of 159, far beyond ±1 neuron


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
        {"neurons_range": [1, 2], "ramp_std": 0.1, "ramp_rel_std": -0.1},
        {"neurons_range": [1, 2], "ramp_rel_std": 0.1},
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
