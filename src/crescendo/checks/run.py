"""The run's own top-level keys: seed, mode, monitor, batches_per_call, cpu_threads.

Each is read by `crescendo.train` (seed_everything, the checkpoint and best-epoch callbacks, the step
blocks, torch's thread count); the rules say what those accept.
"""

from __future__ import annotations

import difflib
from typing import Any

from crescendo.checks._problem import ABSENT, Problem, is_int, read, type_name, whole

#: seed_everything's range (numpy's seeds are 32-bit)
MAX_SEED = 2**32 - 1

#: what crescendo's models log once per epoch (`crescendo.models.base.EpochLossModule`, the ensemble)
MODEL_METRICS = {
    "crescendo.models.mlp.MultilayerPerceptron": ("train/loss", "val/loss"),
    "crescendo.models.MultilayerPerceptron": ("train/loss", "val/loss"),
    "crescendo.models.ensemble.BatchedEnsemble": ("train/loss", "val/loss", "val/loss_of_mean"),
}


def run_problems(cfg: Any) -> list[Problem]:
    return [*seed(read(cfg, "seed")), *mode(read(cfg, "mode")), *monitor(cfg),
            *batches_per_call(read(cfg, "batches_per_call")), *cpu_threads(read(cfg, "cpu_threads"))]


def seed(value: Any) -> list[Problem]:
    if value is ABSENT or value is None or (is_int(value) and 0 <= value <= MAX_SEED):
        return []
    return [Problem("seed", value, f"must be an int in [0, {MAX_SEED}] or null (unseeded)"
                    + ("" if is_int(value) else f", not {type_name(value)}"), "set e.g. seed=42, or seed=null")]


def mode(value: Any) -> list[Problem]:
    if value is ABSENT or value in ("min", "max"):
        return []
    return [Problem("mode", value, "must be min or max", "use mode=min or mode=max")]


def batches_per_call(value: Any) -> list[Problem]:
    if value == "auto":
        return []
    return whole("batches_per_call", value, 1, "use auto, or an int ≥ 1 (1 = one batch per step)")


def cpu_threads(value: Any) -> list[Problem]:
    if value is None or value == "auto":
        return []
    return whole("cpu_threads", value, 1, "use auto, null (all cores) or an int ≥ 1")


def logged_metrics(cfg: Any) -> tuple[str, ...] | None:
    """The metric names the configured model logs, or None for a model that is not crescendo's."""
    names = MODEL_METRICS.get(str(read(cfg, "model._target_")))
    if names is None:
        return None
    members = read(cfg, "model.n_members")
    if is_int(members) and 0 < members <= 1000:
        names = (*names, *(f"val/loss_member_{k}" for k in range(members)))
    return names


def monitor(cfg: Any) -> list[Problem]:
    value = read(cfg, "monitor")
    if value is ABSENT:
        return []
    if not isinstance(value, str) or not value:
        return [Problem("monitor", value, "must be the name of a logged metric", "use e.g. monitor=val/loss")]
    names = logged_metrics(cfg)
    if names is None or value in names:
        return []
    close = difflib.get_close_matches(value, names, n=1)
    fix = f"did you mean monitor={close[0]}?" if close else f"use monitor={names[1]}"
    shown = ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")
    return [Problem("monitor", value, f"must be a metric the model logs ({shown})", fix)]

