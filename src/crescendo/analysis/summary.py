"""What a run, a search or an ensemble amounts to, as (label, value) rows — shown by cr-report's
summary tables and by the notebook displays (`_repr_html_`), so both say the same thing.

Everything here reads result.json, config.yaml and the study only: no checkpoint is loaded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from crescendo.analysis._files import hide_password, select
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import pandas as pd

    # the package's public names, for annotations only: Run/Sweep/Ensemble call this module lazily
    from crescendo.analysis import Ensemble, Run, Sweep

Rows = list[tuple[str, Any]]

#: config keys shown in a run's full summary
CONFIG_KEYS = ("data.data_dir", "data.builtin", "data.batch_size", "data.feature_select", "model._target_",
               "model.dropout", "model.batch_norm", "model.optimizer._target_", "model.optimizer.lr", "seed")


def run_rows(run: Run, full: bool = False) -> Rows:
    """Status, the objective named by its metric, best epoch, dims, architecture, run dir (+ details)."""
    result = run.result
    rows: Rows = [("status", run.status),
                  (f"best {run.monitor} (objective, {run.mode})", run.objective),
                  ("loss units", run.loss_units),
                  ("best epoch", result.get("best_epoch")),
                  ("dims", _dims(run)),
                  ("architecture", result.get("architecture")),
                  ("run dir", str(run.path))]
    if result.get("error"):
        rows.append(("error", result["error"]))
    if not full:
        return [(key, value) for key, value in rows if value is not None]
    for key in ("test_loss", "n_train", "n_val", "n_test", "fit_seconds", "best_checkpoint"):
        rows.append((key, result.get(key)))
    for key, value in (result.get("metrics") or {}).items():
        if key not in (run.monitor, "fit_seconds"):
            rows.append((f"at the best epoch: {key}", value))
    if result.get("timings"):
        rows.append(("timings (seconds)", result["timings"]))
    try:
        config = run.config
    except CrescendoError:
        config = None
    rows += [(key, select(config, key)) for key in CONFIG_KEYS]
    return [(key, value) for key, value in rows if value is not None]


def _dims(run: Run) -> str | None:
    inputs, outputs = run.result.get("input_dims"), run.result.get("output_dims")
    if inputs is None or outputs is None:
        return None
    try:
        selected = select(run.config, "data.feature_select")
    except CrescendoError:
        selected = None
    where = f" (feature_select {selected})" if selected else ""
    return f"{inputs} inputs{where} → {outputs} targets"


def state_counts(sweep: Sweep) -> str:
    """'4 complete, 1 pruned, 1 fail' — the study's trials by state."""
    counts: dict[str, int] = {}
    for trial in sweep.study.get_trials(deepcopy=False):
        name = trial.state.name.lower()
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in counts.items()) or "none yet"


def sweep_rows(sweep: Sweep, full: bool = False) -> Rows:
    """Trials by state, the metric and direction, the best value, its params and its run."""
    study = sweep.study
    names = sweep.metric_names
    rows: Rows = [("search dir", str(sweep.path)), ("study", study.study_name)]
    if full:
        rows.append(("storage", hide_password(sweep.storage)))
    rows += [("metric", ", ".join(f"{name} ({direction})" for name, direction in zip(names, sweep.directions))),
             ("trials", state_counts(sweep))]
    if len(study.directions) > 1:
        rows.append(("best trials", f"{len(study.best_trials)} on the Pareto front (sweep.study.best_trials)"))
        return rows
    try:
        best = sweep.best_trial
    except CrescendoError as error:
        return [*rows, ("best trial", str(error))]
    rows += [("best trial", f"#{best.number}"), (f"best {names[0]}", best.value)]
    rows += [(f"best {key}", value) for key, value in best.params.items()]
    run_dir = sweep._run_dir(best)  # noqa: SLF001 - the same package's lookup
    rows.append(("best run", str(run_dir) if run_dir else "(no run directory)"))
    return rows


def ensemble_rows(ensemble: Ensemble) -> Rows:
    """Where the ensemble is, how many members, the metric and its mean and best over the members."""
    first = ensemble.runs[0]
    rows: Rows = [("ensemble", str(ensemble.path) if ensemble.path else "(built from runs)"),
                  ("runs", len(ensemble.runs)), ("members", _n_members(ensemble)),
                  ("metric", f"{first.monitor} ({first.mode})")]
    values = [v for v in member_values(ensemble)["value"] if v is not None and math.isfinite(v)]
    if values:
        best = min(values) if first.mode == "min" else max(values)
        rows += [(f"mean {first.monitor} of the members", sum(values) / len(values)),
                 (f"best {first.monitor} of a member", best)]
    return rows


def _n_members(ensemble: Ensemble) -> int:
    """Members without loading a checkpoint: a batched run's config names them (model.n_members)."""
    total = 0
    for run in ensemble.runs:
        count = select(run.config, "model.n_members") if run.is_batched_ensemble else 1
        total += int(count) if isinstance(count, int) else ensemble.n_members
    return total


def member_values(ensemble: Ensemble) -> pd.DataFrame:
    """One row per member: its name, the monitored value at its best epoch, its run's status and dir.

    A batched-ensemble run gives one row per member from its logged ``val/loss_member_k``."""
    import pandas as pd

    rows = []
    for run in ensemble.runs:
        metrics = run.result.get("metrics") or {}
        per_member = sorted((key for key in metrics if key.startswith("val/loss_member_")),
                            key=lambda key: int(key.rsplit("_", 1)[1]) if key.rsplit("_", 1)[1].isdigit() else 0)
        if run.is_batched_ensemble and per_member:
            rows += [{"member": f"{run.path.name} #{key.rsplit('_', 1)[1]}", "value": metrics[key],
                      "status": run.status, "best_epoch": run.result.get("best_epoch"), "run_dir": str(run.path)}
                     for key in per_member]
        else:
            rows.append({"member": run.path.name, "value": run.objective, "status": run.status,
                         "best_epoch": run.result.get("best_epoch"), "run_dir": str(run.path)})
    return pd.DataFrame(rows, columns=["member", "value", "status", "best_epoch", "run_dir"])
