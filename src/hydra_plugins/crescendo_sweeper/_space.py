"""The search space of one search: the searched keys (from the command line and
`hydra.sweeper.params`), the fixed overrides, and the checks of each key against the composed config.

`parse_search_space` checks everything before a trial runs and raises one `ConfigError` per problem,
naming the key and the fix: bad syntax, `lo > hi`, an empty range, an unknown key, a value the key
cannot take (checked against the type of the value the composed config holds now). The grammar
itself is in `_grammar`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from crescendo.errors import ConfigError
from crescendo.overrides import EXAMPLES, normalize_overrides
from hydra_plugins.crescendo_sweeper._grammar import (
    MISSING,
    SearchParam,
    decimal_add,
    make_parser,
    param_from_override,
    value_text,
)

if TYPE_CHECKING:
    from hydra.core.config_loader import ConfigLoader
    from hydra.core.override_parser.types import Override
    from omegaconf import DictConfig
    from optuna.distributions import BaseDistribution


@dataclass
class SearchSpace:
    params: list[SearchParam] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # overrides passed unchanged to every job

    @property
    def distributions(self) -> dict[str, "BaseDistribution"]:
        return {p.name: p.distribution for p in self.params}

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """The override list of one job: the fixed ones, then one per searched key."""
        return self.fixed + [p.override(values[p.name]) for p in self.params]

    def grid(self) -> dict[str, list[Any]]:
        """Every value of every key, for the grid sampler; continuous keys cannot be gridded."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        grid: dict[str, list[Any]] = {}
        for p in self.params:
            d = p.distribution
            if isinstance(d, CategoricalDistribution):
                grid[p.name] = list(d.choices)
            elif isinstance(d, IntDistribution) and not d.log:
                grid[p.name] = list(range(d.low, d.high + 1, d.step))
            elif isinstance(d, FloatDistribution) and d.step is not None:
                n = int(round((d.high - d.low) / d.step)) + 1
                grid[p.name] = [decimal_add(d.low, i, d.step) for i in range(n)]
            else:
                raise ConfigError(
                    f"{p.name}={p.spec}: the grid sampler needs a finite set of values — "
                    f"use choice(...) or range(start, stop, step) instead of an interval"
                )
        return grid


def parse_search_space(
    arguments: Sequence[str],
    params: Mapping[str, Any] | None = None,
    config: "DictConfig | None" = None,
    config_loader: "ConfigLoader | None" = None,
) -> SearchSpace:
    """Build the search space from `hydra.sweeper.params` and the command-line overrides.

    With `config` (the composed config of the search) every searched key is checked against it;
    with `config_loader`, config-group sweeps (`data=choice(a, b)`) are checked against the group's
    options.
    """
    parser = make_parser(config_loader)
    entries: list[tuple[str, str]] = []  # (where, override text)
    # a Trainer or optimizer keyword the config does not declare is added, as `cr` does on its command line
    target = None if config is None else _select_str(config, "model.optimizer._target_")
    for key, value in _flatten(params or {}):
        text, = normalize_overrides([f"{key}={value_text(value)}"], optimizer_target=target)
        entries.append((f"hydra.sweeper.params.{key}", text))
    entries.extend((f"'{text}'", text) for text in arguments)

    by_key: dict[str, tuple[str, "Override"]] = {}
    for where, text in entries:
        try:
            override = parser.parse_override(text)
        except Exception as error:  # Hydra raises HydraException / OverrideParseException
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(f"{where}: cannot parse '{text}': {detail} — write e.g. {EXAMPLES}") from None
        ident = override.key_or_group if override.package is None else f"{override.key_or_group}@{override.package}"
        by_key.pop(ident, None)  # a later entry (the command line) replaces an earlier one
        by_key[ident] = (where, override)

    space = SearchSpace()
    for where, override in by_key.values():
        if not override.is_sweep_override():
            space.fixed.append(override.input_line or f"{override.get_key_element()}={override.get_value_element_as_str()}")
            continue
        param = param_from_override(override)
        if config is not None:
            param = _check_against_config(param, override, config, config_loader)
        space.params.append(param)
    return space


def _select_str(config: "DictConfig", key: str) -> str | None:
    from omegaconf import OmegaConf

    value = OmegaConf.select(config, key, default=None, throw_on_resolution_failure=False)
    return value if isinstance(value, str) else None


def _flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """`{model: {optimizer: {lr: "interval(...)"}}}` (what `+hydra.sweeper.params.model.optimizer.lr=...`
    makes) → `model.optimizer.lr`; a dict with a `_target_` is a value, not more keys."""
    flat: list[tuple[str, Any]] = []
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and "_target_" not in value:
            flat.extend(_flatten(value, f"{name}."))
        else:
            flat.append((name, value))
    return flat


def _kind(value: Any) -> str:
    from omegaconf import DictConfig, ListConfig

    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (dict, list, DictConfig, ListConfig)):
        return "node"
    return "other"


def _show(value: Any) -> str:
    from omegaconf import OmegaConf

    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return repr(value) if isinstance(value, str) else value_text(value)


def _check_against_config(
    param: SearchParam, override: "Override", config: "DictConfig", config_loader: "ConfigLoader | None"
) -> SearchParam:
    """Raise ConfigError if the key is unknown or cannot take the values; return the param, with an
    int interval made a float one when the key holds a float (dropout=interval(0, 1) means floats)."""
    from omegaconf import OmegaConf
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    key = override.key_or_group
    where = f"{param.key_element}={param.spec}"
    if key == "data.normalize_targets":
        raise ConfigError(f"{where}: cannot be searched — it changes the units of every loss, so trials' "
                          f"{_select_str(config, 'monitor') or 'val/loss'} values could not be compared; give it "
                          "one value (data.normalize_targets=true or false)")
    existing = OmegaConf.select(config, key, default=MISSING, throw_on_resolution_failure=False)

    if override.is_add() or override.is_force_add():
        if override.is_add() and existing is not MISSING:
            raise ConfigError(
                f"{where}: +{key} adds a new key, but {key} exists already — drop the '+' "
                f"(or write ++{key} to add or override)"
            )
        _check_optimizer_keyword(key, where, config)
        return param

    options: list[str] = []
    if config_loader is not None and (existing is MISSING or _kind(existing) == "node"):
        try:
            options = list(config_loader.get_group_options(key))
        except Exception:
            options = []
    if options:  # a config-group sweep: data=choice(regression, diabetes)
        if not isinstance(param.distribution, CategoricalDistribution):
            raise ConfigError(f"{where}: {key} is a config group; pick options with choice({', '.join(options)})")
        bad = [c for c in param.distribution.choices if c not in options]
        if bad:
            raise ConfigError(
                f"{where}: no {', '.join(map(str, bad))} in config group {key} — options: {', '.join(options)}"
            )
        return param

    if existing is MISSING:
        raise ConfigError(
            f"{where}: {key} is not a key of the config — check the spelling (see `cr --cfg job`), "
            f"or write +{key}=... to add a new key"
        )
    if existing is None or existing == "???":
        return param

    kind = _kind(existing)
    is_categorical = isinstance(param.distribution, CategoricalDistribution)
    if kind == "bool":
        if not is_categorical:
            raise ConfigError(f"{where}: {key} is a bool ({_show(existing)}) — search it with choice(true, false)")
        bad = [c for c in param.distribution.choices if not isinstance(c, bool)]
        if bad:
            raise ConfigError(
                f"{where}: {key} is a bool ({_show(existing)}) and can only be true or false — "
                f"got {', '.join(_show(b) for b in bad)}; write choice(true, false)"
            )
    elif kind in ("number", "node"):
        if is_categorical:
            bad = [c for c in param.distribution.choices if isinstance(c, bool)]
            if bad:
                what = "a number" if kind == "number" else "a config node"
                raise ConfigError(
                    f"{where}: {key} is {what} ({_show(existing)}), not a bool — got "
                    f"{', '.join(_show(b) for b in bad)}"
                )
        elif kind == "node" and OmegaConf.is_dict(existing):
            raise ConfigError(
                f"{where}: {key} is a config node ({_show(existing)}), "
                f"not a number — search its fields (e.g. {key}.<field>=interval(...)) or choice({{...}}, {{...}})"
            )
        d = param.distribution
        if kind == "number" and isinstance(existing, float) and isinstance(d, IntDistribution) and "interval" in param.spec:
            param = replace(param, distribution=FloatDistribution(float(d.low), float(d.high), log=d.log))
        if kind == "number" and isinstance(existing, int) and not is_categorical:
            if isinstance(param.distribution, FloatDistribution):
                print(
                    f"cr: note: {key} holds an int ({existing}) but {param.spec} samples floats; "
                    f"write integer bounds to sample ints",
                    file=sys.stderr,
                )
    return param


def _check_optimizer_keyword(key: str, where: str, config: "DictConfig") -> None:
    """A searched keyword the configured torch.optim optimizer does not take (`cr` added it with '++')."""
    from crescendo.keywords import keyword_problem, table_keywords

    parent, _, name = key.rpartition(".")
    target = _select_str(config, "model.optimizer._target_")
    accepted = None if parent != "model.optimizer" or target is None else table_keywords(target)
    if accepted is not None and name not in accepted:
        what, fix = keyword_problem(name, target, accepted)
        raise ConfigError(f"{where}: {what} — {fix}")


def describe(distribution: "BaseDistribution") -> str:
    """A short human form of a distribution, for the search header."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    d = distribution
    if isinstance(d, CategoricalDistribution):
        return "choice(" + ", ".join(_show(c) for c in d.choices) + ")"
    if isinstance(d, (IntDistribution, FloatDistribution)):
        kind = "int" if isinstance(d, IntDistribution) else "float"
        extra = " log" if d.log else (f" step {d.step}" if d.step not in (None, 1) else "")
        return f"{kind} [{d.low}, {d.high}]{extra}"
    return repr(d)

