"""The Optuna trial of the job running now, for the pruning callback inside `train`.

The sweeper and the job share one process with Hydra's basic launcher: the sweeper calls
`set_active_trial(trial)` just before it launches the job and `set_active_trial(None)` after.

A launcher that runs the job in another process (submitit: a local subprocess or a SLURM job) cannot
hand over the object. The sweeper then leaves a small description of the study in the environment
(`CRESCENDO_SEARCH`, inherited by subprocesses and exported by sbatch by default), and the job finds
its trial from it: same storage + study name, trial number = `hydra.job.num` (the sweeper launches
trial N as job N).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optuna is imported only where a search runs
    import optuna

ENV_VAR = "CRESCENDO_SEARCH"

_active: "optuna.trial.Trial | None" = None


def set_active_trial(trial: "optuna.trial.Trial | None") -> None:
    """Make `trial` the one that in-process jobs report to (None: no job is running)."""
    global _active
    _active = trial


def get_active_trial() -> "optuna.trial.Trial | None":
    """The trial of the job running now, or None outside a search."""
    if _active is not None:
        return _active
    if ENV_VAR in os.environ:
        return _trial_from_environment()
    return None


def search_environment(storage: str, study_name: str, pruner: str, pruner_kwargs: dict[str, Any]) -> str:
    """The value of CRESCENDO_SEARCH that lets a job in another process find its trial."""
    return json.dumps(
        {"storage": storage, "study_name": study_name, "pruner": pruner, "pruner_kwargs": pruner_kwargs}
    )


def _trial_from_environment() -> "optuna.trial.Trial | None":
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    number = HydraConfig.get().job.get("num")
    if number is None:
        return None
    import optuna

    from crescendo.search.factories import make_pruner
    from crescendo.search.storage import open_storage

    spec = json.loads(os.environ[ENV_VAR])
    study = optuna.load_study(
        study_name=spec["study_name"],
        storage=open_storage(spec["storage"]),  # the sweeper's worker records the heartbeats
        pruner=make_pruner(spec["pruner"], spec.get("pruner_kwargs") or {}),
    )
    study_id = study._study_id
    try:
        trial_id = study._storage.get_trial_id_from_study_id_trial_number(study_id, int(number))
    except KeyError:
        return None
    if study._storage.get_trial(trial_id).state != optuna.trial.TrialState.RUNNING:
        return None
    return optuna.trial.Trial(study, trial_id)
