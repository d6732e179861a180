"""One problem of a config, and the small readers every rule uses.

A rule reads a key of the composed config and returns `Problem`s: the key, the value it holds, what is
wrong as a predicate ("must be an int ≥ 1, not a string") and the fix. A problem prints as the house's
`key=value: what — fix`; in a search the same problem names the searched spec instead
(`data.batch_size=choice(0, 32): the value 0 must be …`), so both come from one rule.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

#: strings written without quotes on the command line
_BARE = re.compile(r"[\w./:+\-@~*$]+")
#: a key the config does not have (distinct from null)
ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "<absent>"})()


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    what: str  # a predicate: "must be …"
    fix: str

    def __str__(self) -> str:
        return f"{self.key}={show(self.value)}: {self.what} — {self.fix}"


def show(value: Any) -> str:
    """A value as it is written on the command line (strings bare, null/true/false in YAML's words)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if _BARE.fullmatch(text) else repr(text)


def read(cfg: Any, key: str, *, resolve: bool = True) -> Any:
    """The value at `key` as plain Python (containers converted), or `ABSENT`.

    A value whose interpolation cannot be resolved here (it may name Hydra's run-time state) is
    `ABSENT` too: a rule checks only what it can read. `resolve=False` leaves a container's
    interpolations as text (a resolver's first parse costs ~20 ms; skip it where the value is unused).
    """
    if isinstance(cfg, dict):  # a plain, resolved config (a search checks many values this way)
        for part in key.split("."):
            if not isinstance(cfg, dict) or part not in cfg:
                return ABSENT
            cfg = cfg[part]
        return cfg
    try:
        value = OmegaConf.select(cfg, key, default=ABSENT, throw_on_resolution_failure=True)
        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=resolve)
    except Exception:  # noqa: BLE001 - an unresolvable interpolation: not ours to judge
        return ABSENT
    return value


def plain(cfg: Any) -> dict:
    """A DictConfig as a plain dict, resolved, for many checks of one config (`read` is then a dict
    lookup). A value that cannot be resolved here (it names Hydra's run-time state, like
    paths.output_dir in a search's own process) is left out, so no rule reads it."""
    out = {}
    for key in cfg:
        try:
            value = cfg[key]
            if OmegaConf.is_dict(value):
                value = plain(value)
            elif OmegaConf.is_config(value):
                value = OmegaConf.to_container(value, resolve=True)
        except Exception:  # noqa: BLE001 - unresolvable here: not ours to judge
            value = ABSENT
        if value is not ABSENT:
            out[key] = value
    return out


def type_name(value: Any) -> str:
    """The kind of a value in the user's words (a string, a list, a bool ...)."""
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole(key: str, value: Any, lowest: int, fix: str, *, nullable: bool = False) -> list[Problem]:
    """`value` must be an int ≥ `lowest` (or null)."""
    if value is ABSENT or (nullable and value is None) or (is_int(value) and value >= lowest):
        return []
    expected = f"an int ≥ {lowest}" + (" or null" if nullable else "")
    return [Problem(key, value, f"must be {expected}" + _not(value, is_int(value)), fix)]


def number(key: str, value: Any, fix: str, *, above: float | None = None, at_least: float | None = None,
           below: float | None = None, nullable: bool = False) -> list[Problem]:
    """`value` must be a finite number in the given bounds (or null)."""
    if value is ABSENT or (nullable and value is None):
        return []
    bounds = [f"> {above:g}" if above is not None else "", f"≥ {at_least:g}" if at_least is not None else "",
              f"< {below:g}" if below is not None else ""]
    expected = "a number " + " and ".join(b for b in bounds if b) + (" or null" if nullable else "")
    ok = is_number(value) and (above is None or value > above) and (at_least is None or value >= at_least) \
        and (below is None or value < below)
    return [] if ok else [Problem(key, value, f"must be {expected.strip()}" + _not(value, is_number(value)), fix)]


def flag(key: str, value: Any, fix: str, *, nullable: bool = False) -> list[Problem]:
    """`value` must be true or false (or null)."""
    if value is ABSENT or isinstance(value, bool) or (nullable and value is None):
        return []
    return [Problem(key, value, "must be true or false" + (" or null" if nullable else "") + _not(value, False), fix)]


def _not(value: Any, right_type: bool) -> str:
    """", not a string" when the type is wrong; nothing when only the size is."""
    return "" if right_type else f", not {type_name(value)}"
