"""`OriginalSweep`: a search directory written by the original Crescendo 0.0.4, read as a `Sweep`.

0.0.4 searched with Hydra's own Optuna sweeper (`hydra_plugins.hydra_optuna_sweeper`), which kept its
study in memory: on disk there are only ``multirun.yaml``, ``optimization_results.yaml`` (best params,
best value; 0.0.4 added ``best_model``) and one 0.0.4 run directory per trial. The study is rebuilt in
memory from those runs — each trial COMPLETE with the value 0.0.4 returned to the sweeper (the run's
last val/loss) and the searched values from its ``.hydra/overrides.yaml`` — so `Sweep`'s calls (best
run, ranked runs, ensemble(k), trials table, plots) work on it unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crescendo.analysis._files import natural_key, read_yaml, select, sweep_config
from crescendo.analysis.original_run import OriginalRun, is_original_run
from crescendo.analysis.run import Run
from crescendo.analysis.sweep import RUN_DIR_ATTR, Sweep
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["OriginalSweep", "is_original_sweep", "original_job_dirs"]

_SEARCH_FUNCTIONS = ("choice(", "interval(", "range(", "tag(")


def original_job_dirs(directory: Path) -> list[Path]:
    """The job directories of a 0.0.4 multirun (each with final_config.yaml), in job order."""
    if not directory.is_dir():
        return []
    return sorted((child for child in directory.iterdir() if child.is_dir() and is_original_run(child)),
                  key=natural_key)


def is_original_sweep(directory: Path) -> bool:
    """A 0.0.4 multirun: job directories 0.0.4 wrote, and no study of ours (no study.db, no result.json)."""
    return not (directory / "study.db").is_file() and bool(original_job_dirs(directory))


class OriginalSweep(Sweep):
    """A 0.0.4 search directory with `Sweep`'s calls; the study is rebuilt in memory from its runs.

    `data_dir` and `use_checkpoint` are passed to every `OriginalRun` (0.0.4's runs need their
    training data to predict from raw inputs: their checkpoints hold no scaler).
    """

    def __init__(self, path: str | Path, data_dir: str | Path | None = None,
                 use_checkpoint: str = "best_epoch") -> None:
        self.path = Path(path).expanduser().resolve()
        jobs = original_job_dirs(self.path)
        if not jobs:
            raise CrescendoError(f"{self.path}: not a Crescendo 0.0.4 search directory — it holds no job "
                                 "directory with final_config.yaml")
        self.summary: dict[str, Any] = {}
        if (self.path / "optimization_results.yaml").is_file():
            self.summary = read_yaml(self.path / "optimization_results.yaml") or {}
        # Hydra's Optuna sweeper writes no multirun.yaml: its settings are in every job's .hydra/hydra.yaml
        self._config = sweep_config(self.path) or sweep_config(jobs[0])
        self._jobs = jobs
        self._study: optuna.Study | None = None
        self._runs: dict[str, Run] = {
            str(job.resolve()): OriginalRun(job, data_dir=data_dir, use_checkpoint=use_checkpoint) for job in jobs}

    def __repr__(self) -> str:
        return f"OriginalSweep({str(self.path)!r}, trials={len(self._jobs)})"

    @property
    def storage(self) -> str:
        """0.0.4's studies were in memory: the rebuilt one is too."""
        return "in memory (rebuilt from the Crescendo 0.0.4 runs)"

    @property
    def study_name(self) -> str | None:
        return str(select(self._config, "hydra.sweeper.study_name") or select(self._config, "task_name") or "0.0.4")

    @property
    def study(self) -> optuna.Study:
        """An in-memory `optuna.Study`: one COMPLETE trial per 0.0.4 run (FAIL when it left no checkpoint)."""
        if self._study is None:
            self._study = self._rebuild()
        return self._study

    def _rebuild(self) -> optuna.Study:
        import optuna
        from optuna.distributions import CategoricalDistribution
        from optuna.trial import TrialState, create_trial

        direction = str(select(self._config, "hydra.sweeper.direction") or "minimize")
        if direction not in ("minimize", "maximize"):
            direction = "minimize"
        keys = self._searched_keys()
        params = {str(job.resolve()): _overrides(job, keys) for job in self._jobs}
        choices: dict[str, list[Any]] = {key: [] for key in keys}
        for values in params.values():
            for key, value in values.items():
                if value not in choices[key]:
                    choices[key].append(value)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction=direction, study_name=self.study_name)
        for key, run in self._runs.items():
            value = run.objective
            complete = run.has_checkpoint and math.isfinite(value)
            trial_params = params[key]
            study.add_trial(create_trial(
                state=TrialState.COMPLETE if complete else TrialState.FAIL,
                value=value if complete else None,
                params=trial_params,
                distributions={k: CategoricalDistribution(choices[k]) for k in trial_params},
                user_attrs={RUN_DIR_ATTR: key},
            ))
        return study

    def _searched_keys(self) -> list[str]:
        """The keys the search varied: hydra.sweeper.params, optimization_results.yaml's best_params, and
        command-line overrides with a search function."""
        keys = list((select(self._config, "hydra.sweeper.params") or {}).keys())
        keys += [key for key in (self.summary.get("best_params") or {}) if key not in keys]
        for override in select(self._config, "hydra.overrides.task") or []:
            key, _, value = str(override).partition("=")
            key = key.lstrip("+~")
            if value.startswith(_SEARCH_FUNCTIONS) and key not in keys:
                keys.append(key)
        return keys

    def _run_dir(self, trial: FrozenTrial) -> Path | None:
        recorded = trial.user_attrs.get(RUN_DIR_ATTR)
        return Path(recorded) if recorded and recorded in self._runs else None

    def _run_at(self, run_dir: Path) -> Run:
        return self._runs[str(run_dir)]

    @property
    def best_model(self) -> Path | None:
        """0.0.4's own pick (optimization_results.yaml's best_model), moved here if the search moved."""
        recorded = self.summary.get("best_model")
        if not recorded:
            return None
        name = Path(str(recorded)).name
        return self.path / name if (self.path / name).is_dir() else Path(str(recorded))


def _overrides(job: Path, keys: list[str]) -> dict[str, Any]:
    """The searched keys' values in a job's .hydra/overrides.yaml (YAML-parsed: 0.01 is a float)."""
    import yaml

    path = job / ".hydra" / "overrides.yaml"
    found: dict[str, Any] = {}
    if not path.is_file():
        return found
    for override in read_yaml(path) or []:
        key, _, text = str(override).partition("=")
        key = key.lstrip("+~")
        if key in keys:
            try:
                found[key] = yaml.safe_load(text)
            except yaml.YAMLError:
                found[key] = text
            if not isinstance(found[key], (int, float, str, bool)) and found[key] is not None:
                found[key] = text
    return found

