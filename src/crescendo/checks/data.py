"""`data.*`: what `ArrayRegressionDataModule` accepts, before any file is read.

The checks that need the files (missing, NaN, mismatched rows, column ranges past the last column)
stay in the data module's `setup()`; the pure parsers of `feature_select` and `ensemble_split` are the
data module's own, called here.
"""

from __future__ import annotations

from typing import Any

from crescendo.checks._problem import ABSENT, Problem, flag, read, whole
from crescendo.errors import ConfigError

DATA_MODULES = ("crescendo.data.ArrayRegressionDataModule", "crescendo.data.array.ArrayRegressionDataModule")


def data_problems(cfg: Any) -> list[Problem]:
    if str(read(cfg, "data._target_")) not in DATA_MODULES:
        return []
    from crescendo.data.builtin import BUILTINS

    found = loader_problems(cfg)
    for key in ("normalize_inputs", "normalize_targets", "production_mode"):
        found += flag(f"data.{key}", read(cfg, f"data.{key}"), f"use data.{key}=true or false")
    builtin, data_dir = read(cfg, "data.builtin"), read(cfg, "data.data_dir")
    if builtin not in (None, ABSENT) and builtin not in BUILTINS:
        found.append(Problem("data.builtin", builtin, f"must be a built-in dataset ({', '.join(sorted(BUILTINS))})",
                             "use data=diabetes, or data=regression data.data_dir=DIR for your own arrays"))
    elif builtin not in (None, ABSENT) and data_dir not in (None, ABSENT):
        found.append(Problem("data.data_dir", data_dir, f"cannot be used with the built-in data={builtin} "
                             "(it would be ignored)", "use data=regression data.data_dir=DIR to train on your "
                             f"arrays, or drop data.data_dir to train on {builtin}"))
    split = read(cfg, "data.ensemble_split", resolve=False)  # n_splits is an interpolation, read when enabled
    if isinstance(split, dict) and split.get("enable") not in (False, None):
        split = read(cfg, "data.ensemble_split")
    for key, value in (("feature_select", read(cfg, "data.feature_select")), ("ensemble_split", split)):
        if value not in (ABSENT, None):
            from crescendo.data import splits

            try:
                getattr(splits, f"parse_{key}")(value)
            except ConfigError as error:
                found.append(_from_error(str(error), value))
    return found


def loader_problems(cfg: Any) -> list[Problem]:
    """batch_size, num_workers, pin_memory, drop_last — each under the spelling the user gave: ours
    (`data.batch_size`) or the original Crescendo 0.0.4's (`data.dataloader_kwargs.batch_size`); both
    given with different values is one problem naming both keys."""
    from crescendo.data.dataloader_kwargs import DEFAULTS, conflict

    found: list[Problem] = []
    theirs_all = read(cfg, "data.dataloader_kwargs")
    theirs_all = theirs_all if isinstance(theirs_all, dict) else {}
    for unknown in sorted(set(map(str, theirs_all)) - set(DEFAULTS)):
        found.append(Problem(f"data.dataloader_kwargs.{unknown}", theirs_all[unknown], "is not a data loader setting",
                             "use data.dataloader_kwargs.{batch_size, num_workers, pin_memory, drop_last}"))
    for name in DEFAULTS:
        ours, theirs = read(cfg, f"data.{name}"), theirs_all.get(name)
        key, value = f"data.{name}", ours
        if theirs is not None:
            if ours not in (None, ABSENT) and ours != theirs:
                found.append(Problem(*conflict(name, ours, theirs)))
                continue
            key, value = f"data.dataloader_kwargs.{name}", theirs
        if name == "batch_size":
            found += whole(key, value, 1, f"set e.g. {key}=64")
        elif name == "num_workers":
            found += whole(key, value, 0, f"use {key}=0", nullable=True)
        else:
            found += flag(key, value, f"use {key}=true or false")
    return found


def _from_error(message: str, value: Any) -> Problem:
    """A parser's `key: what — fix` message as a Problem (the key as the parser named it)."""
    key, _, rest = message.partition(": ")
    what, _, fix = rest.partition(" — ")
    return Problem(key, value, what, fix or "see the README's config keys")
