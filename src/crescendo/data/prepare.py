"""What `ArrayRegressionDataModule.setup` computes from the data and its settings, cached per process.

A search trains many models on the same arrays in one process. Reading and validating the .npy files,
selecting columns, fitting the scaler and building the tensors cost ~9 ms a run on the seed data, for
the same result every time. The last result is kept, keyed by the data's identity (each file's path,
size and modification time, or the built-in name) and every setting that shapes it; a changed file
is a new key. Cached arrays and tensors are never modified: loaders index into them, and a copy to an
accelerator is a new tensor.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crescendo.data.builtin import load_builtin
from crescendo.data.loading import OPTIONAL_FILES, REQUIRED_FILES, Split, check_splits, load_array_dir
from crescendo.data.splits import EnsembleSplit, member_rows, select_columns
from crescendo.data.targets import TargetTransform
from crescendo.data.transform import InputTransform

__all__ = ["Prepared", "prepare"]

#: Data larger than this (all files together) is not kept after its run.
MAX_CACHED_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Prepared:
    """Every split as float32 tensors (inputs scaled, targets too with normalize_targets), the fitted
    transforms and the training rows used."""

    transform: InputTransform
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]
    train_rows: np.ndarray  # indices into the training rows (after a production merge) this run trains on
    member_train_rows: list[np.ndarray] | None  # a batched ensemble's rows, one array per member
    output_dims: int
    n_train: int
    n_val: int
    n_test: int
    target_transform: TargetTransform = field(default_factory=lambda: TargetTransform(None, None))


_cache: dict[Hashable, Prepared] = {}


def prepare(data_dir: str | None, builtin: str | None, feature_select: Any, production_mode: bool,
            ensemble: EnsembleSplit | None, n_members: int | None, normalize: bool,
            normalize_targets: bool = False) -> Prepared:
    """Load, validate, select, merge, split and scale (settings already checked), or reuse the last result."""
    source = _source_key(data_dir, builtin)
    key = None if source is None else (source, repr(feature_select), production_mode, ensemble, n_members, normalize,
                                       normalize_targets)
    if key is not None and key in _cache:
        return _cache[key]
    load: Callable[[], dict[str, Split]] = (
        (lambda: check_splits(load_builtin(builtin), label=lambda role, split: f"built-in {builtin} {role}_{split}"))
        if builtin is not None else (lambda: load_array_dir(data_dir)))
    prepared = _prepare(load(), feature_select, production_mode, ensemble, n_members, normalize, normalize_targets)
    _cache.clear()  # keep one dataset: a search uses one
    if key is not None:
        _cache[key] = prepared
    return prepared


def _prepare(splits: dict[str, Split], feature_select: Any, production_mode: bool, ensemble: EnsembleSplit | None,
             n_members: int | None, normalize: bool, normalize_targets: bool) -> Prepared:
    raw_input_dims = splits["train"].x.shape[1]
    columns = select_columns(feature_select, raw_input_dims)
    if columns is not None:
        splits = {name: Split(s.x[:, columns], s.y) for name, s in splits.items()}

    x_train, y_train = splits["train"]
    if production_mode:
        x_train = np.concatenate([s.x for s in splits.values()])
        y_train = np.concatenate([s.y for s in splits.values()])
    train_rows = np.arange(len(x_train))
    member_train_rows = None
    if ensemble is not None and n_members is not None:  # a batched ensemble: every member's split
        member_train_rows = [member_rows(len(x_train), dataclasses.replace(ensemble, index=k))
                             for k in range(n_members)]
    elif ensemble is not None:
        train_rows = member_rows(len(x_train), ensemble)
        x_train, y_train = x_train[train_rows], y_train[train_rows]

    transform = InputTransform.fit(x_train, raw_input_dims, columns, normalize)
    targets = TargetTransform.fit(y_train, normalize_targets)  # the training rows only, like the inputs
    arrays = {"train": (x_train, y_train)}
    arrays.update({name: (s.x, s.y) for name, s in splits.items() if name != "train"})
    tensors = {name: (_tensor(transform.scale_selected(x)), _tensor(targets.apply(y))) for name, (x, y) in arrays.items()}
    return Prepared(transform, tensors, train_rows, member_train_rows, int(y_train.shape[1]), len(x_train),
                    len(splits["val"].x), len(splits["test"].x) if "test" in splits else 0, targets)


def _source_key(data_dir: str | None, builtin: str | None) -> Hashable | None:
    """The data's identity, or None (not cached) when it cannot be told or is too large to keep."""
    if builtin is not None:
        return ("builtin", builtin)
    if data_dir is None or not str(data_dir).strip():
        return None
    directory = Path(data_dir).expanduser()
    files = []
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        try:
            stat = os.stat(directory / name)
        except OSError:
            files.append((name, None))
            continue
        files.append((name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    if sum(entry[1] for entry in files if entry[1] is not None) > MAX_CACHED_BYTES:
        return None
    return (str(directory.resolve()), tuple(files))


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
