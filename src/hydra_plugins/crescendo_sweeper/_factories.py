"""Samplers and pruners by name (`hydra.sweeper.sampler=tpe`, `hydra.sweeper.pruner=median`).

Each name maps to an Optuna class plus the keyword defaults crescendo uses; `sampler_kwargs` /
`pruner_kwargs` from the config are passed on top. A wrong name or keyword raises `ConfigError` naming
the key and the allowed values. `pruner_node` writes the same pruner as a Hydra node for the trial's
pruning callback, which builds it inside the run.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Mapping

from crescendo.errors import ConfigError

SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc", "grid", "nsga2")
#: Optuna's sampler classes by our names: a `hydra.sweeper.sampler` mapping's `_target_` names one of them
_SAMPLER_CLASSES = {"tpe": "TPESampler", "random": "RandomSampler", "cmaes": "CmaEsSampler", "gp": "GPSampler",
                    "qmc": "QMCSampler", "grid": "GridSampler", "nsga2": "NSGAIISampler"}
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")

# Defaults on top of Optuna's own. Pruning waits for 5 complete trials (a median of fewer is noise)
# and never acts on the first 2 epochs (losses of different learning rates cross early on).
PRUNER_DEFAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "median": {"n_startup_trials": 5, "n_warmup_steps": 2},
    "percentile": {"percentile": 25.0, "n_startup_trials": 5, "n_warmup_steps": 2},
    "hyperband": {"min_resource": 1, "reduction_factor": 3},
    "successive_halving": {"min_resource": 1, "reduction_factor": 3},
}
# samplers that fall back to independent sampling for categorical params would warn every trial
_QUIET_FALLBACK = {"warn_independent_sampling": False}


def sampler_spec(sampler: Any, kwargs: Mapping[str, Any] | None, seed: Any) -> tuple[str, dict[str, Any], Any]:
    """(name, kwargs, seed) from `hydra.sweeper.sampler` as a name (`tpe`) or as a mapping — Hydra's Optuna
    sweeper's and Crescendo 0.0.4's spelling, `{_target_: optuna.samplers.TPESampler, seed: 1, ...}`.
    A mapping's null entries mean the sampler's default; its seed and `hydra.sweeper.seed` must agree."""
    if not isinstance(sampler, Mapping):
        return str(sampler).lower(), dict(kwargs or {}), seed
    given = {str(k): v for k, v in sampler.items() if v is not None}
    target = str(given.pop("_target_", "optuna.samplers.TPESampler"))
    by_class = {f"optuna.samplers.{cls}": name for name, cls in _SAMPLER_CLASSES.items()}
    if target not in by_class:
        raise ConfigError(f"hydra.sweeper.sampler._target_={target}: not an Optuna sampler crescendo runs — use one "
                          f"of {', '.join(sorted(by_class))} (or hydra.sweeper.sampler={'|'.join(SAMPLERS)})")
    inner = given.pop("seed", None)
    if inner is not None and seed is not None and str(inner) != str(seed):
        raise ConfigError(f"hydra.sweeper.sampler.seed={inner}: differs from the search's seed {seed} "
                          "(hydra.sweeper.seed, which follows the run's `seed`) — give one of them, or the same value")
    return by_class[target], {**given, **dict(kwargs or {})}, seed if seed is not None else inner


def _construct(kind: str, name: str, cls: type, kwargs: Mapping[str, Any]) -> Any:
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as error:
        allowed = ", ".join(p for p in inspect.signature(cls).parameters if p != "self")
        raise ConfigError(
            f"hydra.sweeper.{kind}_kwargs: {error} for {kind} '{name}' ({cls.__name__}); it takes {allowed}"
        ) from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"hydra.sweeper.{kind}_kwargs for {kind} '{name}': {error}") from None


_PRUNER_CLASSES = {
    "none": "NopPruner",
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
}


def _pruner_class_and_kwargs(name: str, kwargs: Mapping[str, Any] | None) -> tuple[type, dict[str, Any]]:
    import optuna

    key = str(name).lower()
    if key not in _PRUNER_CLASSES:
        raise ConfigError(f"hydra.sweeper.pruner={name}: unknown pruner — choose one of {', '.join(PRUNERS)}")
    return getattr(optuna.pruners, _PRUNER_CLASSES[key]), {**PRUNER_DEFAULTS[key], **dict(kwargs or {})}


def make_pruner(name: str, kwargs: Mapping[str, Any] | None = None) -> Any:
    cls, merged = _pruner_class_and_kwargs(name, kwargs)
    return _construct("pruner", str(name).lower(), cls, merged)


def pruner_node(name: str, kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The pruner as a Hydra node (`_target_` + its arguments), checked by building it once."""
    cls, merged = _pruner_class_and_kwargs(name, kwargs)
    _construct("pruner", str(name).lower(), cls, merged)
    return {"_target_": f"optuna.pruners.{cls.__name__}", **merged}


#: samplers whose first trials are drawn at random, independently of every other trial's outcome
_STARTUP_SAMPLERS = {"tpe": "TPESampler", "gp": "GPSampler"}


def startup_trials(name: str, kwargs: Mapping[str, Any] | None = None) -> int:
    """How many of a study's first trials the sampler draws at random, independently of every other
    trial (its `n_startup_trials`, Optuna's default unless given); 0 for samplers whose every trial
    may depend on the others'."""
    import optuna

    key = str(name).lower()
    if key not in _STARTUP_SAMPLERS:
        return 0
    given = dict(kwargs or {}).get("n_startup_trials")
    if given is None:
        cls = getattr(optuna.samplers, _STARTUP_SAMPLERS[key])
        given = inspect.signature(cls).parameters["n_startup_trials"].default
    return max(0, int(given))


def make_sampler(
    name: str,
    seed: int | None,
    kwargs: Mapping[str, Any] | None = None,
    grid: Mapping[str, list[Any]] | None = None,
    n_objectives: int = 1,
) -> Any:
    """`grid`: the finite search space, needed (and checked by the caller) for the grid sampler."""
    import optuna

    key = str(name).lower()
    user = dict(kwargs or {})
    if key == "tpe":
        cls, defaults = optuna.samplers.TPESampler, {}
    elif key == "random":
        cls, defaults = optuna.samplers.RandomSampler, {}
    elif key == "cmaes":
        if n_objectives > 1:
            raise ConfigError(
                "hydra.sweeper.sampler=cmaes optimizes one objective; with several use nsga2, tpe or random"
            )
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ConfigError("hydra.sweeper.sampler=cmaes needs the 'cmaes' package: pip install cmaes") from None
        cls, defaults = optuna.samplers.CmaEsSampler, dict(_QUIET_FALLBACK)
    elif key == "gp":
        cls, defaults = optuna.samplers.GPSampler, dict(_QUIET_FALLBACK)
    elif key == "qmc":
        cls, defaults = optuna.samplers.QMCSampler, {**_QUIET_FALLBACK, "warn_asynchronous_seeding": False}
    elif key == "nsga2":
        cls, defaults = optuna.samplers.NSGAIISampler, {}
    elif key == "grid":
        assert grid is not None, "the caller checks that the grid sampler has a finite search space"
        cls, defaults = _grid_sampler_class(), {"search_space": dict(grid)}
    else:
        raise ConfigError(
            f"hydra.sweeper.sampler={name}: unknown sampler — choose one of {', '.join(SAMPLERS)}"
        )
    return _construct("sampler", key, cls, {**defaults, "seed": seed, **user})


@functools.cache
def _grid_sampler_class() -> type:
    import optuna

    class QuietGridSampler(optuna.samplers.GridSampler):
        """GridSampler that does not call `study.stop()` (only legal inside `study.optimize`);
        the sweeper stops by itself after min(n_trials, grid size) trials."""

        def after_trial(self, study, trial, state, values) -> None:  # noqa: ANN001
            return None

    return QuietGridSampler


def unprunable_trials(name: str, kwargs: Mapping[str, Any] | None = None) -> int | None:
    """How many of a study's first trials the pruner can never stop, whatever their order: a median or
    percentile pruner judges only once `n_startup_trials` trials are complete; None = every trial (no
    pruner); 0 for pruners whose rungs depend on the order trials reach them (hyperband, halving)."""
    key = str(name).lower()
    if key == "none":
        return None
    if key in ("median", "percentile"):
        return int({**PRUNER_DEFAULTS[key], **dict(kwargs or {})}.get("n_startup_trials", 5))
    return 0
