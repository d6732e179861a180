"""`load(path)`: whatever a directory holds — a run, a search, or an ensemble."""

from __future__ import annotations

from pathlib import Path

from crescendo.analysis._files import (
    CONFIG_FILE,
    EXPECTED,
    MULTIRUN_FILE,
    RESULT_FILE,
    RESULTS_FILE,
    STUDY_FILE,
    TRIALS_FILE,
    member_dirs,
    select,
    sweep_config,
)
from crescendo.analysis.ensemble import Ensemble
from crescendo.analysis.original_run import FINAL_CONFIG, OriginalRun, is_original_run
from crescendo.analysis.original_sweep import (
    OriginalSweep,
    is_original_sweep,
    original_job_dirs,
)
from crescendo.analysis.run import Run
from crescendo.analysis.sweep import Sweep
from crescendo.errors import CrescendoError

__all__ = ["load"]

#: a file inside one of the directories `load` understands stands for its directory
_KNOWN_FILES = {RESULT_FILE, FINAL_CONFIG, CONFIG_FILE, RESULTS_FILE, TRIALS_FILE, STUDY_FILE, MULTIRUN_FILE}


def load(path: str | Path, data_dir: str | Path | None = None) -> Run | Sweep | Ensemble:
    """Open a results directory as what it holds.

    - a run directory (it has ``result.json``) → `Run`; a batched-ensemble run → `Ensemble`
    - a search directory (``optimization_results.yaml`` or ``study.db``, or a configured
      ``hydra.sweeper.storage``) → `Sweep`
    - a multirun directory without a study whose jobs are runs (e.g. KFold members from
      ``cr -m 'seed=range(5)' data.ensemble_split.enable=true 'data.ensemble_split.index=${seed}'``)
      → `Ensemble` of its complete runs
    - a run or a search the original Crescendo 0.0.4 wrote (final_config.yaml; a Hydra Optuna
      multirun of such runs) → `OriginalRun` / `OriginalSweep`, the same calls. 0.0.4 kept no input
      scaler: predicting refits it on the run's training data, at its data.data_dir or at `data_dir`

    Anything else raises `CrescendoError` naming the path and what was expected.
    """
    directory = Path(path).expanduser()
    if not directory.exists():
        raise CrescendoError(f"{directory}: no such file or directory — expected {EXPECTED}")
    if directory.is_file():
        if directory.name not in _KNOWN_FILES:
            raise CrescendoError(f"{directory}: is a file — expected {EXPECTED}")
        directory = directory.parent
    directory = directory.resolve()

    if is_original_run(directory):
        return OriginalRun(directory, data_dir=data_dir)
    if (directory / RESULT_FILE).is_file():
        run = Run(directory)
        return Ensemble([run], path=directory) if run.is_batched_ensemble else run
    config = sweep_config(directory)
    if is_original_sweep(directory):
        return _original_multirun(directory, data_dir)
    if (directory / RESULTS_FILE).is_file() or (directory / STUDY_FILE).is_file() \
            or select(config, "hydra.sweeper.storage"):
        return Sweep(directory)
    members = member_dirs(directory)
    if members and (directory / MULTIRUN_FILE).is_file():
        return Ensemble.from_multirun(directory)

    hint = ""
    if members:
        hint = (f" (it holds {len(members)} run directories but no {MULTIRUN_FILE}: load one of them, or "
                f"build Ensemble([...]) from the ones you mean)")
    elif (directory / ".hydra").is_dir():
        hint = f" (it has .hydra/ but no {RESULT_FILE}: the run did not finish)"
    raise CrescendoError(f"{directory}: holds no run, search or ensemble — expected {EXPECTED}{hint}")


def _original_multirun(directory: Path, data_dir: str | Path | None) -> Sweep | Ensemble:
    """0.0.4's multirun: a search (Hydra's Optuna sweeper) → `OriginalSweep`; any other sweep of runs
    (e.g. its KFold ensembles, ``cr -m data.ensemble_split.index=0,1,2``) → `Ensemble` of them."""
    jobs = original_job_dirs(directory)
    sweeper = str(select(sweep_config(directory) or sweep_config(jobs[0]), "hydra.sweeper._target_") or "")
    if (directory / RESULTS_FILE).is_file() or "optuna" in sweeper.lower():
        return OriginalSweep(directory, data_dir=data_dir)
    runs = [OriginalRun(job, data_dir=data_dir) for job in jobs]
    usable = [run for run in runs if run.has_checkpoint]
    if not usable:
        raise CrescendoError(f"{directory}: a Crescendo 0.0.4 multirun whose runs have no checkpoint — "
                             "expected checkpoints/epoch=NNNNNN.ckpt in its job directories")
    return Ensemble(usable, path=directory)
