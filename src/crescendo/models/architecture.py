"""Resolve `model.architecture` into a list of hidden-layer widths.

Three forms are accepted (plain Python values or the omegaconf containers Hydra passes):

* a list/tuple of ints ``[256, 128, 64]``: the hidden widths as written (each >= 1);
* an int ``N >= 0``: N hidden layers whose widths ramp linearly from ``input_dims`` to
  ``output_dims`` — ``N + 2`` evenly spaced points from input to output, the N interior ones,
  rounded to ints (at least 1). ``N = 0`` is a linear model;
* a mapping ``{neurons_range: [lo, hi], ramp_std: s}``: a random depth drawn uniformly from
  ``lo..hi`` (inclusive), the linear ramp for that depth, then Gaussian noise on each width with
  standard deviation ``s`` times that width (``s`` is *relative*: 0.1 = about ±10 %), rounded and
  clipped to at least 1. The draws come from ``numpy.random.default_rng(seed)``: the same seed gives
  the same architecture; ``seed=None`` gives a fresh one each call.

The result is what a model builds and stores (`MultilayerPerceptron.hidden_widths`), so a random
architecture is drawn once and the checkpoint rebuilds exactly that network.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from crescendo.errors import ConfigError

__all__ = ["linear_ramp", "random_ramp", "resolve_architecture", "architecture_problem", "ACCEPTED_FORMS"]

KEY = "model.architecture"
ACCEPTED_FORMS = (
    "a list of hidden widths (ints >= 1, e.g. [256, 128, 64]); "
    "an int N >= 0 (N hidden layers ramping linearly from the input to the output width); "
    "or {neurons_range: [lo, hi], ramp_std: s} (random depth lo..hi with 0 <= lo <= hi, "
    "Gaussian noise of relative std s >= 0 on the ramp, drawn from `seed`)"
)


def _fail(spec: Any, why: str) -> ConfigError:
    return ConfigError(f"{KEY}: {spec!r} {why} — expected {ACCEPTED_FORMS}")


def _to_plain(spec: Any) -> Any:
    """omegaconf ListConfig/DictConfig → list/dict (resolved); anything else unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf always comes with hydra
        return spec
    if isinstance(spec, (DictConfig, ListConfig)):
        return OmegaConf.to_container(spec, resolve=True)
    return spec


def _is_int(value: Any) -> bool:
    """A real integer (python or numpy), not a bool and not a float."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_dims(input_dims: Any, output_dims: Any) -> tuple[int, int]:
    for name, value in (("input_dims", input_dims), ("output_dims", output_dims)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(input_dims), int(output_dims)


def linear_ramp(n_hidden: int, input_dims: int, output_dims: int) -> np.ndarray:
    """The N interior points of an ``N + 2``-point linear ramp from input to output width (floats)."""
    return np.linspace(input_dims, output_dims, n_hidden + 2, dtype=np.float64)[1:-1]


def _round_widths(widths: np.ndarray) -> list[int]:
    return [max(1, int(w)) for w in np.rint(widths)]


def random_ramp(
    lo: int, hi: int, ramp_std: float, input_dims: int, output_dims: int, seed: int | None = None
) -> list[int]:
    """Random depth in ``lo..hi`` and relative Gaussian noise on the linear ramp (see module doc)."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(lo, hi + 1))
    ramp = linear_ramp(depth, input_dims, output_dims)
    noisy = ramp + rng.normal(0.0, 1.0, size=depth) * ramp_std * ramp
    return _round_widths(noisy)


def architecture_problem(spec: Any) -> str | None:
    """Why `spec` is not a `model.architecture` value (None when it is one), without building anything:
    what `crescendo.checks` reports before a run or a search starts, and `resolve_architecture` raises."""
    spec = _to_plain(spec)
    if _is_int(spec):
        return "is a negative number of hidden layers" if spec < 0 else None
    if isinstance(spec, Mapping):
        keys = set(spec)
        if keys != {"neurons_range", "ramp_std"}:
            missing = sorted({"neurons_range", "ramp_std"} - keys)
            extra = sorted(keys - {"neurons_range", "ramp_std"}, key=str)
            return "; ".join(
                part
                for part in (
                    f"is missing {', '.join(missing)}" if missing else "",
                    f"has unknown keys {', '.join(map(str, extra))}" if extra else "",
                )
                if part
            )
        rng_range, ramp_std = spec["neurons_range"], spec["ramp_std"]
        if (
            isinstance(rng_range, (str, bytes))
            or not isinstance(rng_range, Sequence)
            or len(rng_range) != 2
            or not all(_is_int(v) for v in rng_range)
        ):
            return "needs neurons_range = [lo, hi], two ints"
        lo, hi = int(rng_range[0]), int(rng_range[1])
        if lo < 0 or lo > hi:
            return f"needs 0 <= lo <= hi in neurons_range, got [{lo}, {hi}]"
        if (
            not isinstance(ramp_std, numbers.Real)
            or isinstance(ramp_std, (bool, np.bool_))
            or not np.isfinite(ramp_std)
            or ramp_std < 0
        ):
            return "needs ramp_std to be a finite number >= 0"
        return None
    if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        if not all(_is_int(v) for v in spec):
            return "is a list whose entries are not all ints"
        if any(v < 1 for v in spec):
            return "has a hidden width below 1"
        return None
    return f"has type {type(spec).__name__}"


def resolve_architecture(
    spec: Any, input_dims: int, output_dims: int, seed: int | None = None
) -> list[int]:
    """Turn a `model.architecture` value into the list of hidden widths (possibly empty).

    Raises `ConfigError` naming `model.architecture` when ``spec`` has none of the accepted forms.
    """
    input_dims, output_dims = _check_dims(input_dims, output_dims)
    spec = _to_plain(spec)
    why = architecture_problem(spec)
    if why is not None:
        raise _fail(spec, why)
    if _is_int(spec):
        return _round_widths(linear_ramp(int(spec), input_dims, output_dims))
    if isinstance(spec, Mapping):
        if seed is not None and (not _is_int(seed) or seed < 0):
            raise ConfigError(f"seed: {seed!r} is not an int >= 0 — expected an int >= 0 or null")
        lo, hi = (int(v) for v in spec["neurons_range"])
        return random_ramp(lo, hi, float(spec["ramp_std"]), input_dims, output_dims, seed)
    return [int(v) for v in spec]
