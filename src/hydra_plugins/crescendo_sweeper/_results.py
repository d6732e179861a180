"""What a search leaves in its sweep directory.

- `optimization_results.yaml`: the study's best trial (whatever the direction; for several objectives
  the Pareto front), its params, run dir and checkpoint, and the trial counts.
- `trials.csv`: one row per trial — number, state, value (`value_<objective>` with several), one
  column per searched key (named by the key), seconds, run_dir, best_checkpoint, error.

Both are rewritten atomically (temporary file + rename) after every trial, so a crash or Ctrl-C
never leaves a half-written file and no finished trial is ever missing from them; the temporary copy
of a writer killed before its rename is removed by the next write (tests/scale/test_scale_kills.py). Only the standard
library, PyYAML (Hydra's own dependency) and Optuna's trial objects are used: no pandas.
"""

from __future__ import annotations

import csv
import io
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import yaml

from crescendo.search.storage import hide_password
from hydra_plugins.crescendo_sweeper._counts import CHECKPOINT, ERROR, RUN_DIR, SURPLUS, Counts, retried_numbers

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

RESULTS_FILE = "optimization_results.yaml"
TRIALS_FILE = "trials.csv"
FAILURES_LOG = "failures.log"


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    """YAML-friendly: numpy scalars and the like become Python numbers; NaN stays a float."""
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def best_trial(trials: Sequence["FrozenTrial"], direction: str) -> "FrozenTrial | None":
    """The complete trial with the best value: the smallest when minimizing, the largest when maximizing."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    if not done:
        return None
    pick = max if direction == "maximize" else min
    return pick(done, key=lambda t: t.values[0])


def pareto_front(trials: Sequence["FrozenTrial"], directions: Sequence[str]) -> list["FrozenTrial"]:
    """Complete trials no other complete trial dominates (several objectives)."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    sign = [1.0 if d == "minimize" else -1.0 for d in directions]

    def key(t: "FrozenTrial") -> list[float]:
        return [s * v for s, v in zip(sign, t.values)]

    front = []
    for t in done:
        kt = key(t)
        dominated = any(
            all(a <= b for a, b in zip(ko, kt)) and any(a < b for a, b in zip(ko, kt))
            for ko in (key(o) for o in done if o is not t)
        )
        if not dominated:
            front.append(t)
    return sorted(front, key=lambda t: t.number)


def trial_seconds(trial: "FrozenTrial") -> float | None:
    if trial.datetime_start and trial.datetime_complete:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return None


@dataclass
class ResultsWriter:
    """Writes the two results files of one sweep directory; remembers rows of finished trials."""

    sweep_dir: Path
    study_name: str
    storage: str
    directions: list[str]
    objectives: list[str] | None
    param_names: list[str]
    n_trials: int
    loss_units: str = "targets"  # what the objective's losses are measured in (data.normalize_targets)
    _rows: dict[int, list[Any]] = field(default_factory=dict)

    @property
    def value_columns(self) -> list[str]:
        if len(self.directions) == 1:
            return ["value"]
        names = self.objectives or [str(i) for i in range(len(self.directions))]
        return [f"value_{n}" for n in names]

    def _param_columns(self, trials: Sequence["FrozenTrial"]) -> list[str]:
        columns = list(self.param_names)
        for t in trials:  # keys searched by earlier runs of the same study
            columns.extend(k for k in t.params if k not in columns)
        return columns

    @property
    def failures_log(self) -> Path:
        return self.sweep_dir / FAILURES_LOG

    def log_failure(self, number: int, error: str, exception: BaseException | None) -> None:
        """Append a failed trial's reason, with the traceback when there is one, to failures.log."""
        text = f"--- trial {number}: {error}\n"
        if exception is not None:
            text += "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        with open(self.failures_log, "a") as stream:
            stream.write(text + "\n")

    def write(self, trials: Sequence["FrozenTrial"]) -> None:
        """Rewrite both files (the caller holds the results lock: no other write is under way)."""
        for name in (TRIALS_FILE, RESULTS_FILE):  # temporary copies of a writer that was killed mid-write
            for stale in self.sweep_dir.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)
        self.write_trials_csv(trials)
        self.write_summary(trials)

    def write_trials_csv(self, trials: Sequence["FrozenTrial"]) -> None:
        params = self._param_columns(trials)
        if params != getattr(self, "_columns", None):
            self._rows.clear()
            self._columns = params
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number", "state", *self.value_columns, *params, "seconds", RUN_DIR, CHECKPOINT, ERROR])
        n_values = len(self.value_columns)
        retried = retried_numbers(trials)
        for t in trials:
            if t.user_attrs.get(SURPLUS):
                continue
            row = self._rows.get(t.number)
            if row is None:
                error = t.user_attrs.get(ERROR, "")
                if t.number in retried and t.state.name == "FAIL":
                    error = f"its worker stopped (no heartbeat); retried as #{retried[t.number]}"
                values = list(t.values) if t.values else [None] * n_values
                seconds = trial_seconds(t)
                row = [
                    t.number,
                    t.state.name,
                    *["" if v is None else repr(float(v)) for v in values[:n_values]],
                    *[_csv_value(t.params.get(p, "")) for p in params],
                    "" if seconds is None else f"{seconds:.3f}",
                    t.user_attrs.get(RUN_DIR, ""),
                    t.user_attrs.get(CHECKPOINT) or "",
                    error,
                ]
                if t.state.is_finished() and not (t.state.name == "FAIL" and t.user_attrs.get(ERROR) is None):
                    self._rows[t.number] = row
            writer.writerow(row)
        atomic_write(self.sweep_dir / TRIALS_FILE, out.getvalue())

    def summary(self, trials: Sequence["FrozenTrial"]) -> dict[str, Any]:
        counts = Counts.of(trials)
        single = len(self.directions) == 1
        doc: dict[str, Any] = {
            "study_name": self.study_name,
            "storage": hide_password(self.storage),
            "direction": self.directions[0] if single else list(self.directions),
            "objectives": self.objectives,
            "loss_units": self.loss_units,
            "n_trials": self.n_trials,
            "n_complete": counts.complete,
            "n_pruned": counts.pruned,
            "n_fail": counts.fail,
        }
        if single:
            best = best_trial(trials, self.directions[0])
            doc.update(
                best_trial=None if best is None else best.number,
                best_value=None if best is None else _plain(best.values[0]),
                best_params=None if best is None else {k: _plain(v) for k, v in best.params.items()},
                best_run_dir=None if best is None else best.user_attrs.get(RUN_DIR),
                best_checkpoint=None if best is None else best.user_attrs.get(CHECKPOINT),
            )
        else:
            doc.update(best_trial=None, best_value=None, best_params=None, best_run_dir=None, best_checkpoint=None)
            doc["pareto_front"] = [
                {
                    "trial": t.number,
                    "values": dict(zip(self.objectives or range(len(t.values)), map(_plain, t.values))),
                    "params": {k: _plain(v) for k, v in t.params.items()},
                    "run_dir": t.user_attrs.get(RUN_DIR),
                    "checkpoint": t.user_attrs.get(CHECKPOINT),
                }
                for t in pareto_front(trials, self.directions)
            ]
        return doc

    def write_summary(self, trials: Sequence["FrozenTrial"]) -> None:
        text = yaml.safe_dump(self.summary(trials), sort_keys=False, default_flow_style=False)
        atomic_write(self.sweep_dir / RESULTS_FILE, text)


def _csv_value(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value
