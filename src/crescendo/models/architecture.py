"""Resolve `model.architecture` into a list of hidden-layer widths.

Three forms are accepted (plain Python values or the omegaconf containers Hydra passes):

* a list/tuple of ints ``[256, 128, 64]``: the hidden widths as written (each >= 1);
* an int ``N >= 0``: N hidden layers whose widths ramp linearly from ``input_dims`` to
  ``output_dims`` — ``N + 2`` evenly spaced points from input to output, the N interior ones,
  truncated to ints (at least 1), as Crescendo 0.0.4 did: 6 layers from 200 to 36 are
  176, 153, 129, 106, 82, 59. ``N = 0`` is a linear model;
* a mapping ``{neurons_range: [lo, hi], ramp_std: s}`` (optionally ``ramp_rel_std: r``): a random
  depth drawn uniformly from ``lo..hi`` (inclusive), the linear ramp for that depth, plus Gaussian
  noise of standard deviation ``s`` NEURONS on each width (0.0.4's meaning), plus, when ``r > 0``,
  noise of standard deviation ``r`` times each width (relative: 0.1 = about ±10 %); then truncated
  to ints and clipped at 1.

The draws come from ``numpy.random.RandomState(seed)`` in 0.0.4's order — the depth
(``randint(lo, hi + 1)``), then the ``ramp_std`` noise (``normal(scale=s, size=depth)``), then
(ours only) the ``ramp_rel_std`` noise — which is what 0.0.4 drew from NumPy's global generator
right after ``seed_everything(seed)``. So with the same seed, data widths and no ``ramp_rel_std``
the widths are 0.0.4's. ``seed=None`` gives a fresh architecture each call.

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
    "Gaussian noise of std s >= 0 neurons on the ramp, drawn from `seed`, "
    "optional ramp_rel_std: r >= 0 adds noise of r times each width)"
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


def _truncate_widths(widths: np.ndarray) -> list[int]:
    """Towards zero (NumPy's ``astype(int)``, as 0.0.4), then at least 1."""
    return [max(1, int(w)) for w in widths.astype(np.int64)]


def random_ramp(
    lo: int,
    hi: int,
    ramp_std: float,
    input_dims: int,
    output_dims: int,
    seed: int | None = None,
    ramp_rel_std: float = 0.0,
) -> list[int]:
    """Random depth in ``lo..hi`` and Gaussian noise on the linear ramp, drawn in 0.0.4's order
    (see module doc) so that a seed gives 0.0.4's widths."""
    rng = np.random.RandomState(seed)
    depth = int(rng.randint(lo, hi + 1))
    ramp = linear_ramp(depth, input_dims, output_dims)
    noisy = ramp + rng.normal(scale=ramp_std, size=depth)
    if ramp_rel_std > 0:
        noisy = noisy + rng.normal(size=depth) * ramp_rel_std * ramp
    return _truncate_widths(noisy)


_REQUIRED = {"neurons_range", "ramp_std"}
_OPTIONAL = {"ramp_rel_std"}


def _is_std(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, (bool, np.bool_))
        and bool(np.isfinite(value))
        and value >= 0
    )


def architecture_problem(spec: Any) -> str | None:
    """Why `spec` is not a `model.architecture` value (None when it is one), without building anything:
    what `crescendo.checks` reports before a run or a search starts, and `resolve_architecture` raises."""
    spec = _to_plain(spec)
    if _is_int(spec):
        return "is a negative number of hidden layers" if spec < 0 else None
    if isinstance(spec, Mapping):
        keys = set(spec)
        if not _REQUIRED <= keys <= _REQUIRED | _OPTIONAL:
            missing = sorted(_REQUIRED - keys)
            extra = sorted(keys - _REQUIRED - _OPTIONAL, key=str)
            return "; ".join(
                part
                for part in (
                    f"is missing {', '.join(missing)}" if missing else "",
                    f"has unknown keys {', '.join(map(str, extra))}" if extra else "",
                )
                if part
            )
        rng_range = spec["neurons_range"]
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
        for key in ("ramp_std", "ramp_rel_std"):
            if key in spec and not _is_std(spec[key]):
                return f"needs {key} to be a finite number >= 0"
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
        return _truncate_widths(linear_ramp(int(spec), input_dims, output_dims))
    if isinstance(spec, Mapping):
        if seed is not None and (not _is_int(seed) or seed < 0):
            raise ConfigError(f"seed: {seed!r} is not an int >= 0 — expected an int >= 0 or null")
        lo, hi = (int(v) for v in spec["neurons_range"])
        return random_ramp(lo, hi, float(spec["ramp_std"]), input_dims, output_dims, seed,
                           float(spec.get("ramp_rel_std", 0.0)))
    return [int(v) for v in spec]
