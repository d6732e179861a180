"""Hyperparameter search support used from inside a run.

The search itself is the Hydra sweeper in `hydra_plugins.crescendo_sweeper`; this package holds what
the training side and the sweeper share: the active trial, the pruning callback, the search-space
parsing, the sampler/pruner factories and the results files. Optuna is imported only when a trial is
active, so a plain `cr` run does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crescendo.search.active_trial import get_active_trial, set_active_trial

if TYPE_CHECKING:
    from lightning.pytorch import Callback

__all__ = ["get_active_trial", "set_active_trial", "trial_callbacks"]


def trial_callbacks(monitor: str) -> list["Callback"]:
    """Callbacks `train` adds to its Trainer: the pruning callback inside a trial, else none."""
    trial = get_active_trial()
    if trial is None:
        return []
    from crescendo.search.pruning import OptunaPruning

    return [OptunaPruning(trial, monitor)]
