"""The search grammar: Hydra's override syntax read as Optuna distributions.

    key=choice(a, b, c)  or  key=a,b,c     CategoricalDistribution
    key=interval(lo, hi)                   FloatDistribution; IntDistribution when both ends are ints
    key=tag(log, interval(lo, hi))         the same on a log scale (lo > 0)
    key=range(start, stop[, step])         IntDistribution (FloatDistribution for float bounds) with
                                           that step; as in Python and Hydra, `stop` is excluded
    key=value                              fixed: passed unchanged to every trial

`cr` checks the syntax of its command line before Hydra does (`crescendo.overrides`); this module
turns the searched keys into distributions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Union

from crescendo.errors import ConfigError
from crescendo.overrides import EXAMPLES

if TYPE_CHECKING:
    from hydra.core.config_loader import ConfigLoader
    from hydra.core.override_parser.types import Override
    from optuna.distributions import BaseDistribution

MISSING = object()


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


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float (1e-05, 0.0031)
    return str(value)


def decimal_add(low: float, i: int, step: float) -> float:
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


def value_text(value: Any) -> str:
    from hydra.core.override_parser.types import Override

    if isinstance(value, str):
        return value
    return Override._get_value_element_as_str(value)


def param_from_override(override: "Override") -> SearchParam:
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
            encoded = raw if isinstance(raw, (str, int, float, bool)) else value_text(raw)
            if any(type(c) is type(encoded) and c == encoded for c, _ in choice_texts):
                continue
            choice_texts.append((encoded, _round_trip_text(raw)))
        distribution: BaseDistribution = CategoricalDistribution([c for c, _ in choice_texts])
        return SearchParam(key, override.get_key_element(), distribution, spec, tuple(choice_texts))

    if isinstance(value, (RangeSweep, IntervalSweep)):
        bounds = (value.start, value.stop, value.step) if isinstance(value, RangeSweep) else (value.start, value.end)
        if any(isinstance(v, float) and not math.isfinite(v) for v in bounds):
            raise ConfigError(f"{where}: the ends (and step) of a range must be finite numbers, not nan or inf — "
                              "write e.g. interval(0.001, 0.1)")
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
            back = MISSING
        if not (isinstance(back, str) and back == raw):
            escaped = raw.replace("\\", "\\\\").replace("'", "\\'")
            text = f"'{escaped}'"
    return text


# ---------------------------------------------------------------------------- checks against config

