"""Pure functions choosing columns and rows: `feature_select` parsing and the KFold ensemble split.

Config mistakes raise `ConfigError` naming the `data.*` key, so they read the same from the command
line as from Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crescendo.errors import ConfigError

_RANGE = re.compile(r"^\s*(\d*)\s*(:?)\s*(\d*)\s*$")
_FEATURE_SELECT_HELP = (
    'use comma-separated column ranges start:stop (0-based, stop excluded, as in Python slices), '
    'e.g. data.feature_select="0:100,150:200"; a single column is written "7"'
)


def parse_feature_select(spec: str | int | Sequence[str | int] | None) -> list[tuple[int, int | None]] | None:
    """Parse `data.feature_select` into (start, stop) ranges; stop None means "to the last column".

    Accepts a string "0:100,150:200", a single int, or a list of such pieces (Hydra may hand over
    either). None or "" selects every column. Only the syntax is checked here; `select_columns`
    checks the ranges against the data.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    if isinstance(spec, bool):
        raise ConfigError(f"data.feature_select: {spec!r} is not a column range — {_FEATURE_SELECT_HELP}")
    if isinstance(spec, (int, np.integer)):
        pieces = [str(spec)]
    elif isinstance(spec, str):
        pieces = spec.split(",")
    elif isinstance(spec, Sequence) or hasattr(spec, "__iter__"):
        pieces = [piece for item in spec for piece in str(item).split(",")]
    else:
        raise ConfigError(f"data.feature_select: {spec!r} is not a column range — {_FEATURE_SELECT_HELP}")
    ranges: list[tuple[int, int | None]] = []
    for piece in pieces:
        match = _RANGE.match(piece)
        if match is None or not (match[1] or match[3]) or (not match[2] and not match[1]):
            raise ConfigError(f"data.feature_select: cannot read {piece.strip()!r} in {spec!r} — "
                              f"{_FEATURE_SELECT_HELP}")
        start = int(match[1]) if match[1] else 0
        if not match[2]:  # a single column
            ranges.append((start, start + 1))
        else:
            ranges.append((start, int(match[3]) if match[3] else None))
    return ranges


def select_columns(spec: str | int | Sequence[str | int] | None, n_features: int) -> np.ndarray | None:
    """Column indices chosen by `data.feature_select` for data with `n_features` columns.

    Returns None when every column is kept. Columns come in the order written; a range that is empty,
    reaches past the last column, or overlaps another raises ConfigError.
    """
    ranges = parse_feature_select(spec)
    if ranges is None:
        return None
    columns: list[np.ndarray] = []
    for start, stop in ranges:
        written = f"{start}:{'' if stop is None else stop}"
        stop = n_features if stop is None else stop
        if stop > n_features or start >= n_features:
            raise ConfigError(
                f"data.feature_select: range {written} is out of range for data with {n_features} features "
                f"(columns 0 to {n_features - 1}) — {_FEATURE_SELECT_HELP}"
            )
        if start >= stop:
            raise ConfigError(
                f"data.feature_select: range {written} selects no columns (start must be below stop) — "
                f"{_FEATURE_SELECT_HELP}"
            )
        columns.append(np.arange(start, stop))
    selected = np.concatenate(columns)
    unique, counts = np.unique(selected, return_counts=True)
    if (counts > 1).any():
        repeated = unique[counts > 1]
        shown = ", ".join(str(c) for c in repeated[:5]) + (", …" if len(repeated) > 5 else "")
        raise ConfigError(
            f"data.feature_select: {spec!r} selects column(s) {shown} more than once — make the ranges disjoint"
        )
    return selected


@dataclass(frozen=True)
class EnsembleSplit:
    """Which KFold member this run is: it trains on every train row outside fold `index`."""

    index: int
    n_splits: int
    shuffle: bool
    random_state: int | None


_ENSEMBLE_KEYS = ("enable", "index", "n_splits", "shuffle", "random_state")


def parse_ensemble_split(cfg: Mapping[str, Any] | None) -> EnsembleSplit | None:
    """Validate `data.ensemble_split`; None when absent or `enable` is false.

    Defaults: n_splits 5, shuffle true, random_state 0. With shuffle, random_state must be an int so
    every member (a separate run) draws the same folds.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping) and not hasattr(cfg, "keys"):
        raise ConfigError(
            f"data.ensemble_split: expected a mapping with keys {', '.join(_ENSEMBLE_KEYS)}, got {cfg!r}"
        )
    values = {str(key): cfg[key] for key in cfg.keys()}
    unknown = sorted(set(values) - set(_ENSEMBLE_KEYS))
    if unknown:
        raise ConfigError(
            f"data.ensemble_split: unknown key(s) {', '.join(unknown)} — allowed: {', '.join(_ENSEMBLE_KEYS)}"
        )
    if not values.get("enable", False):
        return None
    n_splits = values.get("n_splits", 5)
    if not _is_int(n_splits) or n_splits < 2:
        raise ConfigError(f"data.ensemble_split.n_splits: {n_splits!r} is not an int >= 2 — set the number "
                          "of ensemble members, e.g. data.ensemble_split.n_splits=5")
    index = values.get("index")
    if not _is_int(index) or not 0 <= index < n_splits:
        raise ConfigError(f"data.ensemble_split.index: {index!r} is not an int in [0, {n_splits}) — each "
                          f"member sets its own index 0..{n_splits - 1}")
    shuffle = values.get("shuffle", True)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ConfigError(f"data.ensemble_split.shuffle: {shuffle!r} is not true or false")
    random_state = values.get("random_state", 0)
    if shuffle and not _is_int(random_state):
        raise ConfigError(
            f"data.ensemble_split.random_state: {random_state!r} is not an int — with shuffle=true every "
            "member must use the same int seed so their folds agree"
        )
    return EnsembleSplit(int(index), int(n_splits), bool(shuffle), int(random_state) if shuffle else None)


def member_rows(n_rows: int, split: EnsembleSplit) -> np.ndarray:
    """Sorted row indices (of `n_rows` train rows) that ensemble member `split.index` trains on.

    sklearn's KFold: the held-out folds of the members are disjoint and together cover every row.
    """
    from sklearn.model_selection import KFold

    if split.n_splits > n_rows:
        raise ConfigError(
            f"data.ensemble_split.n_splits: {split.n_splits} folds need at least {split.n_splits} training "
            f"rows, the data has {n_rows} — lower n_splits"
        )
    kfold = KFold(n_splits=split.n_splits, shuffle=split.shuffle, random_state=split.random_state)
    for member, (train_rows, _) in enumerate(kfold.split(np.empty((n_rows, 0)))):
        if member == split.index:
            return np.sort(train_rows)
    raise AssertionError("unreachable: index was validated against n_splits")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
