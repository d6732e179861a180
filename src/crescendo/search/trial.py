"""A run's own Optuna trial, opened from what its config names: storage URL, study name, trial number.

The sweeper writes these into the job's config (the pruning callback's entry, see
`crescendo.search.pruning`), so a job finds its trial the same way in the sweeper's process, in a
forked worker, or in a SLURM job on another machine: by reading its config, never a process global.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from crescendo.search.storage import shared_storage

if TYPE_CHECKING:  # optuna is imported only where a search runs
    import optuna


def open_trial(storage: str, study_name: str, trial_number: int, pruner: Any = None) -> "optuna.trial.Trial | None":
    """The RUNNING trial `trial_number` of the study, with `pruner` deciding `should_prune`.

    None, with a warning, when that trial is not running: the run was started again from a finished
    trial's saved config (it trains as a plain run and reports nothing).
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.load_study(study_name=study_name, storage=shared_storage(storage),
                                  pruner=pruner if pruner is not None else optuna.pruners.NopPruner())
    trial_id = _trial_id(study, int(trial_number))
    state = None if trial_id is None else study._storage.get_trial(trial_id).state
    if state != optuna.trial.TrialState.RUNNING:
        warnings.warn(
            f"trial #{trial_number} of study '{study_name}' is {state.name if state else 'missing'}, not running: "
            "this run reports nothing to it and is never pruned"
        )
        return None
    return optuna.trial.Trial(study, trial_id)


def _trial_id(study: "optuna.Study", number: int) -> int | None:
    try:
        return study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    except KeyError:
        return None
