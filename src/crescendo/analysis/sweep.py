"""`Sweep`: a search directory (`cr ... hparams_search=optuna`) read back through its Optuna study.

The study is the source of truth (trial states, values, params, run dirs in user attrs); the files
the sweeper writes next to it (optimization_results.yaml, trials.csv) name the study and serve as a
fallback for the trials table. Run directories recorded as absolute paths are looked up inside this
directory first, so a copied or moved search still finds its runs.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crescendo.analysis._files import (
    RESULT_FILE,
    RESULTS_FILE,
    STUDY_FILE,
    TRIALS_FILE,
    read_yaml,
    select,
    sweep_config,
)
from crescendo.analysis._study import load_study
from crescendo.analysis.ensemble import Ensemble
from crescendo.analysis.run import Run
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    from matplotlib.figure import Figure
    from optuna.trial import FrozenTrial

__all__ = ["Sweep"]

# user attrs the sweeper sets on every trial (crescendo.search.results)
RUN_DIR_ATTR = "run_dir"
CHECKPOINT_ATTR = "best_checkpoint"
ERROR_ATTR = "error"


class Sweep:
    """One search: its study, trials, runs and best run.

    >>> sweep = Sweep("results/train/multiruns/2025-01-01_12-00-00_000000")
    >>> sweep.best_value, sweep.best_params
    >>> sweep.best_run.predict(X_raw)
    >>> sweep.ensemble(5).predict_stats(X_raw)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_dir():
            raise CrescendoError(f"{self.path}: not a search directory (no such directory)")
        results = self.path / RESULTS_FILE
        self.summary: dict[str, Any] = {}
        if results.is_file():
            self.summary = read_yaml(results) or {}
        self._config = sweep_config(self.path)
        if not self.summary and not (self.path / STUDY_FILE).is_file() and not self._configured("storage"):
            raise CrescendoError(
                f"{self.path}: not a search directory — it has no {RESULTS_FILE}, no {STUDY_FILE} and no "
                "hydra.sweeper.storage in its multirun config"
            )
        self._study: optuna.Study | None = None
        self._runs: dict[str, Run] = {}

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, study={self.study_name!r})"

    def _repr_html_(self) -> str | None:
        """A notebook shows a search as a small table: trials by state, the best value, params and run."""
        from crescendo.analysis.display import sweep_html

        return sweep_html(self)

    # ------------------------------------------------------------------ the study
    def _configured(self, key: str) -> Any:
        value = select(self._config, f"hydra.sweeper.{key}")
        return value if value not in ("", None) else None

    @property
    def storage(self) -> str:
        """The study's storage URL: hydra.sweeper.storage if it was set, else this directory's study.db."""
        configured = self._configured("storage")
        if configured:
            return str(configured)
        local = self.path / STUDY_FILE
        if local.is_file():
            return f"sqlite:///{local}"
        recorded = self.summary.get("storage")
        if recorded and "***" not in str(recorded):
            return str(recorded)
        raise CrescendoError(
            f"{self.path}: cannot tell where the study is stored — there is no {STUDY_FILE} here and no "
            "hydra.sweeper.storage in the search's multirun.yaml"
        )

    @property
    def study_name(self) -> str | None:
        """The study's name as the sweeper recorded it (None: the storage's only study)."""
        for value in (self.summary.get("study_name"), self._configured("study_name"), select(self._config, "task_name")):
            if value:
                return str(value)
        return None

    @property
    def study(self) -> optuna.Study:
        """The `optuna.Study`, loaded from its storage on first access."""
        if self._study is None:
            self._study = load_study(self.path, self.storage, self.study_name)
        return self._study

    @property
    def directions(self) -> list[str]:
        """'minimize' / 'maximize', one per objective."""
        return [d.name.lower() for d in self.study.directions]

    @property
    def direction(self) -> str:
        """The direction of a single-objective search."""
        self._single("direction")
        return self.directions[0]

    @property
    def metric_names(self) -> list[str]:
        """The name of each objective: the study's metric names if the sweeper set them, else
        hydra.sweeper.objectives, else (one objective) the runs' `monitor`, e.g. ``["val/loss"]``."""
        count = len(self.study.directions)
        named = self.study.metric_names
        if named and len(named) == count:
            return [str(name) for name in named]
        objectives = self.summary.get("objectives") or self._configured("objectives")
        if isinstance(objectives, (list, tuple)) and len(objectives) == count:
            return [str(name) for name in objectives]
        if count > 1:
            return [f"objective {i}" for i in range(count)]
        monitor = select(self._config, "monitor")
        if not monitor:
            monitor = next((run.result.get("monitor") for run in self.runs[:1]), None)
        return [str(monitor) if monitor else "objective"]

    def _single(self, what: str) -> None:
        if len(self.study.directions) > 1:
            raise CrescendoError(
                f"{self.path}: the search has {len(self.study.directions)} objectives, so there is no single "
                f"{what} — use sweep.study.best_trials (the Pareto front) and sweep.run(trial)"
            )

    # ------------------------------------------------------------------ trials and runs
    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: number, state, value(s), one column per searched key, seconds, run_dir,
        best_checkpoint, error (trials.csv's columns, read from the study)."""
        import pandas as pd

        try:
            study = self.study
        except CrescendoError as error:
            csv = self.path / TRIALS_FILE
            if not csv.is_file():
                raise
            warnings.warn(f"{error}; reading {csv} instead", UserWarning, stacklevel=2)
            return pd.read_csv(csv)
        names = self._value_columns(study)
        rows = []
        for trial in study.get_trials(deepcopy=False):
            values = list(trial.values) if trial.values else [math.nan] * len(names)
            row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
            row.update(zip(names, values))
            row.update(trial.params)
            seconds = None
            if trial.datetime_start and trial.datetime_complete:
                seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
            run_dir = self._run_dir(trial)
            row.update(
                seconds=seconds,
                run_dir=str(run_dir) if run_dir else trial.user_attrs.get(RUN_DIR_ATTR),
                best_checkpoint=self._checkpoint(trial, run_dir),
                error=trial.user_attrs.get(ERROR_ATTR),
            )
            rows.append(row)
        columns = ["number", "state", *names, *self._param_names(study), "seconds", "run_dir", "best_checkpoint", "error"]
        return pd.DataFrame(rows, columns=columns)

    def _value_columns(self, study: optuna.Study) -> list[str]:
        if len(study.directions) == 1:
            return ["value"]
        objectives = self.summary.get("objectives") or self._configured("objectives")
        if isinstance(objectives, (list, tuple)) and len(objectives) == len(study.directions):
            return [f"value_{name}" for name in objectives]
        return [f"value_{i}" for i in range(len(study.directions))]

    @staticmethod
    def _param_names(study: optuna.Study) -> list[str]:
        names: list[str] = []
        for trial in study.get_trials(deepcopy=False):
            names.extend(name for name in trial.params if name not in names)
        return names

    def _run_dir(self, trial: FrozenTrial) -> Path | None:
        """The trial's run directory: found inside this search directory first (moved or copied
        searches), else where it was recorded; None when no result.json is there."""
        recorded = trial.user_attrs.get(RUN_DIR_ATTR)
        if not recorded:
            return None
        recorded_path = Path(str(recorded))
        parts = recorded_path.parts
        candidates = [self.path.joinpath(*parts[-depth:]) for depth in range(1, min(3, len(parts)) + 1)]
        candidates.append(recorded_path if recorded_path.is_absolute() else self.path / recorded_path)
        for candidate in candidates:
            if (candidate / RESULT_FILE).is_file():
                return candidate.resolve()
        return None

    def _checkpoint(self, trial: FrozenTrial, run_dir: Path | None) -> str | None:
        if run_dir is not None:
            checkpoint = self._run_at(run_dir).best_checkpoint
            if checkpoint is not None:
                return str(checkpoint)
        return trial.user_attrs.get(CHECKPOINT_ATTR)

    def _run_at(self, run_dir: Path) -> Run:
        key = str(run_dir)
        if key not in self._runs:
            self._runs[key] = Run(run_dir)
        return self._runs[key]

    def run(self, trial: int | FrozenTrial) -> Run:
        """The `Run` of one trial (by number or FrozenTrial)."""
        if isinstance(trial, int):
            matching = [t for t in self.study.get_trials(deepcopy=False) if t.number == trial]
            if not matching:
                raise CrescendoError(f"{self.path}: the study has no trial #{trial}")
            trial = matching[0]
        run_dir = self._run_dir(trial)
        if run_dir is None:
            recorded = trial.user_attrs.get(RUN_DIR_ATTR)
            where = f"recorded run dir {recorded} has no {RESULT_FILE}" if recorded else "no run dir was recorded"
            raise CrescendoError(f"{self.path}: trial #{trial.number} ({trial.state.name}) has no run — {where}")
        return self._run_at(run_dir)

    @property
    def runs(self) -> list[Run]:
        """A `Run` for every trial with a run directory (any state), in trial order."""
        found = []
        for trial in self.study.get_trials(deepcopy=False):
            run_dir = self._run_dir(trial)
            if run_dir is not None:
                found.append(self._run_at(run_dir))
        return found

    # ------------------------------------------------------------------ the best
    @property
    def best_trial(self) -> FrozenTrial:
        """The best COMPLETE trial in the study's direction."""
        self._single("best trial")
        ranked = self.ranked_trials()
        if not ranked:
            raise CrescendoError(f"{self.path}: the search has no complete trial yet, so no best trial")
        return ranked[0]

    @property
    def best_run(self) -> Run:
        """The best complete trial's `Run`."""
        return self.run(self.best_trial)

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's searched values, by config key."""
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        return float(self.best_trial.value)

    def ranked_trials(self) -> list[FrozenTrial]:
        """COMPLETE trials, best first (respecting the study's direction; ties by trial number)."""
        from optuna.trial import TrialState

        self._single("ranking")
        sign = -1.0 if self.direction == "maximize" else 1.0
        complete = [t for t in self.study.get_trials(deepcopy=False)
                    if t.state == TrialState.COMPLETE and t.values and math.isfinite(t.values[0])]
        return sorted(complete, key=lambda t: (sign * t.values[0], t.number))

    def best_runs(self, k: int) -> list[Run]:
        """The runs of the `k` best complete trials that have a checkpoint, best first."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CrescendoError(f"ensemble size k={k!r}: must be a whole number ≥ 1")
        chosen: list[Run] = []
        for trial in self.ranked_trials():
            run_dir = self._run_dir(trial)
            if run_dir is None:
                continue
            run = self._run_at(run_dir)
            if run.has_checkpoint:
                chosen.append(run)
            if len(chosen) == k:
                return chosen
        raise CrescendoError(
            f"{self.path}: asked for the {k} best runs but the search has only {len(chosen)} complete "
            f"trial{'s' if len(chosen) != 1 else ''} with a run directory and checkpoint — use k ≤ {len(chosen)}"
            if chosen else f"{self.path}: the search has no complete trial with a run directory and checkpoint"
        )

    def ensemble(self, k: int) -> Ensemble:
        """An `Ensemble` of the `k` best complete runs (best first)."""
        return Ensemble(self.best_runs(k), path=self.path)

    # ------------------------------------------------------------------ figures (the ones cr-report saves;
    # parallel coordinates and slices: crescendo.analysis.plots.parallel_coordinates(sweep) / slices(sweep))
    def plot_history(self) -> Figure:
        """Optuna's optimisation history of the objective, pruned trials marked (×)."""
        from crescendo.analysis.plots import optimization_history

        return optimization_history(self)

    def plot_importances(self) -> Figure:
        """Optuna's parameter importances; raises `NoPlot` saying why when they cannot be computed."""
        from crescendo.analysis.plots import param_importances

        return param_importances(self)

    def plot_learning_curves(self, k: int = 5) -> Figure:
        """Learning curves of the `k` best complete runs (fewer if the search has fewer)."""
        from crescendo.analysis.plots import NoPlot, learning_curves

        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CrescendoError(f"k={k!r}: must be a whole number ≥ 1")
        if len(self.study.directions) > 1:
            raise NoPlot("not drawn: several objectives, so no single ranking of the runs")
        labelled = []
        for trial in self.ranked_trials():
            run_dir = self._run_dir(trial)
            if run_dir is not None:
                labelled.append((f"#{trial.number}", self._run_at(run_dir)))
            if len(labelled) == k:
                break
        if not labelled:
            raise NoPlot("not drawn: no complete trial with a run directory")
        return learning_curves(labelled, title=f"Learning curves of the {len(labelled)} best runs")
