"""Helpers shared by the tests: tiny regression arrays on disk and the `cr` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CR = str(Path(sys.executable).with_name("cr"))


def write_arrays(directory: Path, n_features: int = 5, n_targets: int = 2, rows=(48, 16, 12), seed: int = 0) -> Path:
    """Write a small learnable regression problem as X_/Y_{train,val,test}.npy (test skipped if rows[2] == 0)."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(n_features, n_targets))
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "val", "test"), rows):
        if n == 0:
            continue
        x = rng.normal(size=(n, n_features)).astype(np.float32)
        y = (1.0 / (1.0 + np.exp(-x @ weights))).astype(np.float32)  # targets in (0, 1)
        np.save(directory / f"X_{split}.npy", x)
        np.save(directory / f"Y_{split}.npy", y)
    return directory


def run_cr(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `cr` command the way a user would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([CR, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


class batches:
    """An in-memory loader of (x, y) batches in order, the last one short."""

    def __init__(self, x, y, size: int) -> None:
        self.x, self.y, self.size = x, y, size

    def __len__(self) -> int:
        return -(-len(self.x) // self.size)

    def __iter__(self):
        for i in range(0, len(self.x), self.size):
            yield self.x[i:i + self.size], self.y[i:i + self.size]


def make_trainer(tmp_path, **kwargs):
    """A quiet one-epoch CPU Trainer for model tests; keyword arguments override."""
    import logging

    import lightning as L

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    options = dict(
        max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    options.update(kwargs)
    return L.Trainer(**options)
