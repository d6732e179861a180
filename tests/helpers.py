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


# ---------------------------------------------------------------------------------------------- callbacks
# Named by `_target_` in a composed config (tests/ is on sys.path); class-level records, since train()
# builds the instances.
import lightning.pytorch as _pl  # noqa: E402


class TrainerProbe(_pl.Callback):
    """Records, at the end of each fit, what a Lightning user could read off the trainer."""

    records: list[dict] = []

    def on_train_end(self, trainer, pl_module) -> None:
        bar = trainer.progress_bar_callback
        TrainerProbe.records.append({
            "global_step": trainer.global_step,
            "num_training_batches": trainer.num_training_batches,
            "automatic_optimization": pl_module.automatic_optimization,
            "bar": type(bar).__name__ if bar is not None else None,
            "bar_total": getattr(bar, "total_train_batches", None) if bar is not None else None,
        })


class CountingProgressBar(_pl.callbacks.TQDMProgressBar):
    """A progress bar that remembers its epoch total and how many batches it counted."""

    totals: list[int] = []
    counted: list[int] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        CountingProgressBar.totals.append(self.total_train_batches)
        CountingProgressBar.counted.append(0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        CountingProgressBar.counted[-1] += 1


class PruneAtEpoch(_pl.Callback):
    """Raises optuna.TrialPruned after validation of epoch `epoch`, as Optuna's pruning callback does."""

    def __init__(self, epoch: int = 2) -> None:
        self.epoch = epoch

    def on_validation_end(self, trainer, pl_module) -> None:
        import optuna

        if trainer.current_epoch == self.epoch:
            raise optuna.TrialPruned(f"pruned at epoch {self.epoch}")
