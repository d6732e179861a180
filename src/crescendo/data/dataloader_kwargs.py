"""The original Crescendo 0.0.4's `dataloader_kwargs` mapping, read as a second spelling of our own keys.

0.0.4 configs and notebooks write `data.dataloader_kwargs.{batch_size, num_workers, pin_memory,
drop_last}`; ours are `data.batch_size`, `data.num_workers`, `data.pin_memory`, `data.drop_last`. They
are ONE setting each, spelled two ways: giving both with different values is an error naming both
keys, never a silent pick. In the packaged config our keys follow the 0.0.4 spelling when only that is
given (`batch_size: ${oc.select:data.dataloader_kwargs.batch_size,64}`), so a composed config, the
saved run config and a search trial all carry one value.

Pure (no torch): the config checks and the sweeper read `SPELLINGS` before torch is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: 0.0.4's key inside `dataloader_kwargs` → our own key in `data`, with our default
DEFAULTS: dict[str, Any] = {"batch_size": 64, "num_workers": 0, "pin_memory": False, "drop_last": False}

#: full config key of each 0.0.4 spelling → our full key (the search and the checks use it)
SPELLINGS: dict[str, str] = {f"data.dataloader_kwargs.{name}": f"data.{name}" for name in DEFAULTS}


def conflict(name: str, ours: Any, theirs: Any) -> tuple[str, Any, str, str]:
    """(key, value, what, fix) for both spellings of `name` given with different values."""
    return (f"data.dataloader_kwargs.{name}", theirs,
            (f"must equal data.{name}={_show(ours)}: both spell one setting (data.dataloader_kwargs is the "
             "original Crescendo 0.0.4's spelling)"),
            f"give only one of data.{name} and data.dataloader_kwargs.{name}")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


#: a keyword argument the caller did not give (None is a value: `num_workers=None` is allowed)
UNSET: Any = _Unset()


def merge(ours: Mapping[str, Any], dataloader_kwargs: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """The four settings from our keyword arguments (`UNSET`: not given) and a 0.0.4 `dataloader_kwargs`,
    and the problems: unknown keys in `dataloader_kwargs`, one setting given both ways with different
    values (`key=value: what — fix` each). A setting given by neither takes our default; on a conflict
    ours is kept (the caller raises the problems before using it)."""
    given = dict(dataloader_kwargs or {})
    problems = []
    unknown = sorted(set(map(str, given)) - set(DEFAULTS))
    if unknown:
        problems.append(f"data.dataloader_kwargs: unknown key(s) {', '.join(unknown)} — allowed: "
                        f"{', '.join(DEFAULTS)} (batches come from in-memory tensors, not a torch DataLoader)")
    settings = {}
    for name, default in DEFAULTS.items():
        mine, theirs = ours.get(name, UNSET), given.get(name)
        if mine is not UNSET and theirs is not None and mine != theirs:
            key, value, what, fix = conflict(name, mine, theirs)
            problems.append(f"{key}={_show(value)}: {what} — {fix}")
        settings[name] = mine if mine is not UNSET else (theirs if theirs is not None else default)
    return settings, problems


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
