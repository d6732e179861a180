"""Crescendo 0.0.4's `model.*` keys that our models do not take, accepted so its commands run unchanged.

* ``input_dims`` / ``output_dims``: 0.0.4 wrote ``auto`` = from the data, which is what we always do;
  ``auto`` is the only value (a number could only disagree with the data).
* ``print_every``: 0.0.4 logged a line every N epochs; ignored (Lightning's progress bar and the run's
  ``metrics.csv`` say the same each epoch). An int ≥ 1 or null.
* ``lr_scheduler_kwargs``: 0.0.4's Lightning scheduler settings ``{monitor, interval, frequency}``.
  ``monitor`` is the metric a ReduceLROnPlateau watches (``val/loss`` → ``train/loss`` in production
  mode, as 0.0.4 did); ``interval: epoch`` and ``frequency: 1`` are what our models do, the only values.

They are not in the packaged config (Hydra's own `instantiate` must build it): `cr` accepts them with or
without `+` (crescendo.overrides), and `model_node` strips them before the model is built; `crescendo.checks.model` checks them.
Torch-free (the checking stage imports it).
"""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import DictConfig, open_dict

__all__ = ["KEYS", "SCHEDULER_KEYS", "model_node", "scheduler_monitor"]

KEYS = ("input_dims", "output_dims", "print_every", "lr_scheduler_kwargs")
#: each 0.0.4 scheduler key and the values we run (None: any metric name)
SCHEDULER_KEYS: dict[str, tuple[Any, ...] | None] = {"monitor": None, "interval": ("epoch",), "frequency": (1,)}


def model_node(node: DictConfig) -> DictConfig:
    """A copy of `model` without 0.0.4's keys (the caller's config keeps them, as the user wrote them)."""
    if not any(key in node for key in KEYS):
        return node
    stripped = copy.deepcopy(node)
    with open_dict(stripped):
        for key in KEYS:
            stripped.pop(key, None)
    return stripped


def scheduler_monitor(node: Any, run_monitor: str, production_mode: bool) -> str:
    """The metric the scheduler watches: `lr_scheduler_kwargs.monitor` when given, else the run's
    monitor; in production mode (no held-out data) its training counterpart."""
    kwargs = node.get("lr_scheduler_kwargs") if hasattr(node, "get") else None
    monitor = str((kwargs or {}).get("monitor") or run_monitor)
    if production_mode and monitor.startswith("val/"):
        return "train/" + monitor.split("/", 1)[1]
    return monitor
