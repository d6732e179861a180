"""The search space, from Hydra's override grammar.

    key=choice(a, b, c)  or  key=a,b,c     CategoricalDistribution
    key=interval(lo, hi)                   FloatDistribution; IntDistribution when both ends are ints
    key=tag(log, interval(lo, hi))         the same on a log scale (lo > 0)
    key=range(start, stop[, step])         IntDistribution (FloatDistribution for float bounds) with
                                           that step; as in Python and Hydra, `stop` is excluded
    key=value                              fixed: passed unchanged to every trial

The same strings work on the command line and as `hydra.sweeper.params` entries (command line wins).
`parse_search_space` checks everything before a trial runs and raises one `ConfigError` per problem,
naming the key and the fix: bad syntax, `lo > hi`, an empty range, an unknown key, a value the key
cannot take (checked against the type of the value the composed config holds now).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

from crescendo.errors import ConfigError

if TYPE_CHECKING:
    from hydra.core.config_loader import ConfigLoader
    from hydra.core.override_parser.types import Override
    from omegaconf import DictConfig
    from optuna.distributions import BaseDistribution

EXAMPLES = (
    "key=choice(a, b), key=interval(0.001, 0.1), key=tag(log, interval(1e-5, 1e-2)), key=range(1, 10, 2)"
)
_MISSING = object()


@dataclass(frozen=True)
class SearchParam:
    """One searched key: its Optuna name and distribution, and how to write a value as an override."""

    name: str  # the config key (or config group), the Optuna parameter name
    key_element: str  # as written before '=', with any +/++ prefix and @package
    distribution: "BaseDistribution"
    spec: str  # the sweep as written, for messages
    # categorical: (optuna value, override text) pairs; the text round-trips through Hydra's parser
    choice_texts: tuple[tuple[Any, str], ...] = ()

    def override(self, value: Any) -> str:
        if self.choice_texts:
            for choice, text in self.choice_texts:
                if type(choice) is type(value) and choice == value:
                    return f"{self.key_element}={text}"
        if isinstance(value, float) and getattr(self.distribution, "step", None) not in (None, 1):
            value = float(f"{value:.12g}")  # 0.30000000000000004 on a 0.1 grid is written 0.3
        return f"{self.key_element}={_number_text(value)}"


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
                grid[p.name] = [_decimal_add(d.low, i, d.step) for i in range(n)]
            else:
                raise ConfigError(
                    f"{p.name}={p.spec}: the grid sampler needs a finite set of values — "
                    f"use choice(...) or range(start, stop, step) instead of an interval"
                )
        return grid


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float (1e-05, 0.0031)
    return str(value)


def _decimal_add(low: float, i: int, step: float) -> float:
    return float(Decimal(repr(low)) + i * Decimal(repr(step)))


def _typed_interval(start: int | float, end: int | float) -> Any:
    """Hydra's `interval` turns both ends into floats; keep ints so interval(1, 5) samples ints."""
    from hydra.core.override_parser.types import IntervalSweep

    return IntervalSweep(start=start, end=end)


# Hydra checks arguments against the annotations; give it real types, not postponed strings
_typed_interval.__annotations__ = {"start": Union[int, float], "end": Union[int, float], "return": Any}


def make_parser(config_loader: "ConfigLoader | None" = None) -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser, create_functions

    functions = create_functions()
    functions.definitions.pop("interval")
    functions.functions.pop("interval")
    functions.register(name="interval", func=_typed_interval)
    return OverridesParser(functions=functions, config_loader=config_loader)


def _value_text(value: Any) -> str:
    from hydra.core.override_parser.types import Override

    if isinstance(value, str):
        return value
    return Override._get_value_element_as_str(value)


def check_override_syntax(arguments: Sequence[str]) -> None:
    """Raise ConfigError naming the first command-line override Hydra's grammar cannot parse.

    For `cr` to call before Hydra, whose own message ("no viable alternative at input
    'interval(0.001'") names neither the key nor the fix. Flags (`-m`, `--cfg job`) are skipped.
    """
    parser = None
    for text in arguments:
        if text.startswith("-") or "=" not in text:
            continue
        parser = parser or make_parser()
        try:
            parser.parse_override(text)
        except Exception as error:
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            key = text.split("=", 1)[0].lstrip("+~") or text
            raise ConfigError(f"{key}: cannot parse '{text}': {detail} — write e.g. {EXAMPLES}") from None


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
    for key, value in _flatten(params or {}):
        entries.append((f"hydra.sweeper.params.{key}", f"{key}={_value_text(value)}"))
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
        param = _param_from_override(override)
        if config is not None:
            param = _check_against_config(param, override, config, config_loader)
        space.params.append(param)
    return space


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


def _param_from_override(override: "Override") -> SearchParam:
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    key = override.key_or_group if override.package is None else f"{override.key_or_group}@{override.package}"
    spec = override.get_value_string() if override.input_line is None else override.input_line.split("=", 1)[1]
    where = f"{override.get_key_element()}={spec}"
    if override.is_delete():
        raise ConfigError(f"{where}: a deletion (~{key}) cannot be searched — drop the '~'")
    value = override.value()
    tags = set(getattr(value, "tags", None) or ())
    unknown = tags - {"log"}
    if unknown:
        raise ConfigError(f"{where}: unknown tag {', '.join(sorted(unknown))} — the only tag understood is 'log'")
    log = "log" in tags

    if isinstance(value, ChoiceSweep):
        if log:
            raise ConfigError(f"{where}: 'log' applies to interval(...) or range(...), not to choice(...)")
        choice_texts: list[tuple[Any, str]] = []
        for raw in override.sweep_iterator():
            encoded = raw if isinstance(raw, (str, int, float, bool)) else _value_text(raw)
            if any(type(c) is type(encoded) and c == encoded for c, _ in choice_texts):
                continue
            choice_texts.append((encoded, _round_trip_text(raw)))
        distribution: BaseDistribution = CategoricalDistribution([c for c, _ in choice_texts])
        return SearchParam(key, override.get_key_element(), distribution, spec, tuple(choice_texts))

    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        is_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop, step))
        if step == 0:
            raise ConfigError(f"{where}: the step of a range cannot be 0")
        # count with exact decimals: range(0.1, 0.4, 0.1) is 0.1, 0.2, 0.3 (Hydra's floats add a 0.4)
        d_start, d_stop, d_step = (Decimal(repr(v)) for v in (start, stop, step))
        n = max(0, math.ceil((d_stop - d_start) / d_step))
        if n == 0:
            raise ConfigError(
                f"{where}: the range is empty — range(start, stop, step) counts from start up to "
                f"(not including) stop, so start must be below stop for a positive step"
            )
        ends = [d_start, d_start + (n - 1) * d_step]
        low, high, d_step = min(ends), max(ends), abs(d_step)
        if log and d_step != 1:
            raise ConfigError(f"{where}: a log scale cannot have a step — use tag(log, interval({low}, {high}))")
        if is_int:
            distribution = IntDistribution(int(low), int(high), log=log, step=int(d_step))
        else:
            distribution = FloatDistribution(float(low), float(high), log=log, step=None if log else float(d_step))
        return SearchParam(key, override.get_key_element(), distribution, spec)

    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        if low > high:
            raise ConfigError(f"{where}: the lower end is above the upper end — write interval({high}, {low})")
        if log and low <= 0:
            raise ConfigError(f"{where}: a log scale needs a lower end above 0, e.g. tag(log, interval(1e-5, {high}))")
        if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
            distribution = IntDistribution(low, high, log=log)
        else:
            distribution = FloatDistribution(float(low), float(high), log=log)
        return SearchParam(key, override.get_key_element(), distribution, spec)

    raise ConfigError(f"{where}: this sweep cannot be searched — write e.g. {EXAMPLES} (glob() is not supported)")


def _round_trip_text(raw: Any) -> str:
    """Override text for a choice value that Hydra reads back as the same value ('True' stays a str)."""
    from hydra.core.override_parser.types import Override

    text = Override._get_value_element_as_str(raw)
    if isinstance(raw, str):
        try:
            back = make_parser().parse_rule(text, "value")
        except Exception:
            back = _MISSING
        if not (isinstance(back, str) and back == raw):
            escaped = raw.replace("\\", "\\\\").replace("'", "\\'")
            text = f"'{escaped}'"
    return text


# ---------------------------------------------------------------------------- checks against config


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
    return repr(value) if isinstance(value, str) else _value_text(value)


def _check_against_config(
    param: SearchParam, override: "Override", config: "DictConfig", config_loader: "ConfigLoader | None"
) -> SearchParam:
    """Raise ConfigError if the key is unknown or cannot take the values; return the param, with an
    int interval made a float one when the key holds a float (dropout=interval(0, 1) means floats)."""
    from omegaconf import OmegaConf
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    key = override.key_or_group
    where = f"{param.key_element}={param.spec}"
    existing = OmegaConf.select(config, key, default=_MISSING, throw_on_resolution_failure=False)

    if override.is_add() or override.is_force_add():
        if override.is_add() and existing is not _MISSING:
            raise ConfigError(
                f"{where}: +{key} adds a new key, but {key} exists already — drop the '+' "
                f"(or write ++{key} to add or override)"
            )
        return param

    options: list[str] = []
    if config_loader is not None and (existing is _MISSING or _kind(existing) == "node"):
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

    if existing is _MISSING:
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

