"""What a search leaves in its sweep directory, and what it prints.

- `optimization_results.yaml`: the study's best trial (whatever the direction; for several objectives
  the Pareto front), its params, run dir and checkpoint, and the trial counts.
- `trials.csv`: one row per trial — number, state, value (`value_<objective>` with several), one
  column per searched key (named by the key), seconds, run_dir, best_checkpoint, error.

Both are rewritten atomically (temporary file + rename) after every trial, so a crash or Ctrl-C
never leaves a half-written file and no finished trial is ever missing from them. Only the standard
library, PyYAML (Hydra's own dependency) and Optuna's trial objects are used: no pandas.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import yaml

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

RESULTS_FILE = "optimization_results.yaml"
TRIALS_FILE = "trials.csv"

# user attrs the sweeper sets on every trial
RUN_DIR = "run_dir"
CHECKPOINT = "best_checkpoint"
ERROR = "error"
METRICS = "metrics"
INTERRUPTED = "interrupted"
WORKER = "worker"  # host:pid of the process that ran the trial
SURPLUS = "surplus"  # asked after the study was full (several workers at its end): never run, not counted
# system attr Optuna's RetryHeartbeatStaleTrialCallback sets on a retry: the stale trials it replaces
RETRY_HISTORY = "retry_history"


def hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


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


def retried_numbers(trials: Sequence["FrozenTrial"]) -> dict[int, int]:
    """{number of a trial whose worker died (heartbeat expired): number of the trial that retried it}."""
    retried: dict[int, int] = {}
    for t in trials:
        history = t.system_attrs.get(RETRY_HISTORY)
        if history:
            retried[int(history[-1])] = t.number
    return retried


def not_counted(trial: "FrozenTrial", retried: Any) -> bool:
    """Trials that never count toward n_trials: stopped by Ctrl-C, surplus, or retried after their
    worker died (the retry counts instead)."""
    from optuna.trial import TrialState

    return bool(
        trial.user_attrs.get(INTERRUPTED)
        or trial.user_attrs.get(SURPLUS)
        or (trial.state == TrialState.FAIL and trial.number in retried)
    )


@dataclass
class Counts:
    """Trials by state. COMPLETE, PRUNED and FAIL count toward n_trials; a trial stopped by Ctrl-C
    (FAIL with the `interrupted` attr), a surplus trial and a trial retried after its worker died do not.
    RUNNING and WAITING (a queued retry) trials hold a place among the n_trials."""

    complete: int = 0
    pruned: int = 0
    fail: int = 0
    running: int = 0
    waiting: int = 0
    interrupted: int = 0
    retried: int = 0

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.fail

    @property
    def holding(self) -> int:
        """Trials that count or will count toward n_trials once they finish."""
        return self.finished + self.running + self.waiting

    @classmethod
    def of(cls, trials: Sequence["FrozenTrial"]) -> "Counts":
        from optuna.trial import TrialState

        retried = retried_numbers(trials)
        c = cls()
        for t in trials:
            if t.user_attrs.get(INTERRUPTED):
                c.interrupted += 1
            elif t.user_attrs.get(SURPLUS):
                continue
            elif t.state == TrialState.COMPLETE:
                c.complete += 1
            elif t.state == TrialState.PRUNED:
                c.pruned += 1
            elif t.state == TrialState.FAIL:
                if t.number in retried:
                    c.retried += 1
                else:
                    c.fail += 1
            elif t.state == TrialState.RUNNING:
                c.running += 1
            elif t.state == TrialState.WAITING:
                c.waiting += 1
        return c


def holds_place(trial: "FrozenTrial", retried: Any) -> bool:
    """Counts, or will count once finished, toward n_trials (see Counts)."""
    return not not_counted(trial, retried)


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


def _value_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if math.isfinite(value) else str(value)


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

    def write(self, trials: Sequence["FrozenTrial"]) -> None:
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


def trial_line(
    trial: "FrozenTrial", position: int, n_trials: int, best: "FrozenTrial | None", seconds: float, params: str
) -> str:
    """`[ 3/20] #2 COMPLETE value=0.0123 best=0.0101 (#1) 0.42s  model.optimizer.lr=0.0031 ...`"""
    width = len(str(n_trials))
    head = f"[{position:>{width}}/{n_trials}] #{trial.number} {trial.state.name}"
    if trial.state.name == "PRUNED" and trial.last_step is not None:
        head += f" at epoch {trial.last_step}"
    if trial.values:
        head += " value=" + ",".join(_value_text(v) for v in trial.values)
    if best is not None:
        head += f" best={_value_text(best.values[0])} (#{best.number})"
    head += f" {seconds:.2f}s"
    error = trial.user_attrs.get(ERROR)
    if error and trial.state.name == "FAIL":
        head += f"  {error}"
    return f"{head}  {params}" if params else head


def summary_table(
    trials: Sequence["FrozenTrial"], writer: ResultsWriter, limit: int = 10
) -> Any:
    """A rich Table: the best `limit` complete trials first, then pruned and failed ones."""
    from optuna.trial import TrialState
    from rich.table import Table

    counts = Counts.of(trials)
    title = (
        f"study '{writer.study_name}': {counts.finished} trials — {counts.complete} complete, "
        f"{counts.pruned} pruned, {counts.fail} failed"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    for column in writer.value_columns:
        table.add_column(column, justify="right")
    params = writer._param_columns(trials)
    for header in short_names(params):
        table.add_column(header, justify="right")
    table.add_column("s", justify="right")

    sign = -1.0 if writer.directions[0] == "maximize" else 1.0
    complete = sorted(
        (t for t in trials if t.state == TrialState.COMPLETE and t.values), key=lambda t: sign * t.values[0]
    )
    others = [t for t in trials if t.state in (TrialState.PRUNED, TrialState.FAIL) and not t.user_attrs.get(SURPLUS)]
    shown = (complete + others)[:limit]
    for t in shown:
        seconds = trial_seconds(t)
        values = list(t.values) if t.values else [None] * len(writer.value_columns)
        table.add_row(
            str(t.number),
            t.state.name,
            *[_value_text(v) for v in values],
            *[_short(t.params.get(p, "")) for p in params],
            "" if seconds is None else f"{seconds:.2f}",
        )
    hidden = len(complete) + len(others) - len(shown)
    if hidden > 0:
        table.caption = f"{hidden} more in {TRIALS_FILE}"
        table.caption_justify = "left"
    return table


def short_names(keys: Sequence[str]) -> list[str]:
    """The shortest unique dotted suffixes: model.optimizer.lr → lr, unless another key ends in lr."""
    depth = {k: 1 for k in keys}
    while True:
        names = {k: ".".join(k.split(".")[-depth[k]:]) for k in keys}
        clashes = [k for k in keys if list(names.values()).count(names[k]) > 1 and depth[k] < len(k.split("."))]
        if not clashes:
            return [names[k] for k in keys]
        for k in clashes:
            depth[k] += 1


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
