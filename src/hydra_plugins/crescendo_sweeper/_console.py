"""What a search prints: the header, one line per finished trial, and the summary at the end."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from crescendo.search.storage import JOURNAL_SCHEME, hide_password
from hydra_plugins.crescendo_sweeper._counts import ERROR, SURPLUS, Counts
from hydra_plugins.crescendo_sweeper._results import RESULTS_FILE, TRIALS_FILE, ResultsWriter, trial_seconds
from hydra_plugins.crescendo_sweeper._space import describe

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from hydra_plugins.crescendo_sweeper._plan import SearchPlan


def print_header(plan: "SearchPlan", counts: Counts, monitor: str | None, n_workers: int, threads: int) -> None:
    """`Search 'train': 20 trials; tpe sampler (seed 0), median pruner; minimize val/loss`, the space, the study."""
    seed = "" if plan.seed is None else f" (seed {plan.seed})"
    what = "/".join(plan.objectives) if plan.objectives else (monitor or "the objective")
    resumed = f", resuming: {counts.finished} done" if counts.finished else ""
    workers = f"; {n_workers} workers × {threads} CPU thread(s)" if n_workers > 1 else ""
    print(f"Search '{plan.study_name}': {plan.n_trials} trials{resumed}; {plan.sampler} sampler{seed}, "
          f"{plan.pruner} pruner; {'/'.join(plan.directions)} {what}{workers}", flush=True)
    for p in plan.space.params:
        print(f"  {p.name}: {describe(p.distribution)}")
    print(f"  study: {hide_password(plan.storage_url)}", flush=True)


def print_startup(seconds: float, queued: int, workers: int) -> None:
    """Process start-up (the imports), shown on its own so that no trial's seconds include it."""
    if seconds >= 0.01:
        print(f"  start-up: {seconds:.2f}s (imports)", flush=True)
    if queued:
        print(f"  the first {queued} trials (random draws the pruner cannot stop) run {workers} at a time; "
              "then one at a time", flush=True)


def print_summary(trials: Sequence["FrozenTrial"], writer: ResultsWriter, plan: "SearchPlan") -> None:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    console.print(summary_table(trials, writer))
    doc = writer.summary(trials)
    if doc["best_trial"] is not None:
        console.print(f"best: trial #{doc['best_trial']} value={doc['best_value']:.6g}")
        console.print(f"  run dir: {doc['best_run_dir']}")
        if doc["best_checkpoint"]:
            console.print(f"  checkpoint: {doc['best_checkpoint']}")
    elif "pareto_front" in doc:
        console.print(f"Pareto front: trials {', '.join(str(t['trial']) for t in doc['pareto_front'])}")
    console.print(f"results: {plan.sweep_dir / RESULTS_FILE}, {plan.sweep_dir / TRIALS_FILE}")
    if doc["n_fail"]:
        console.print(f"failures: {writer.failures_log}")
    url = plan.storage_url
    url = url[len(JOURNAL_SCHEME):] if url.startswith(JOURNAL_SCHEME) else url  # the dashboard opens a journal file by path
    console.print(f"dashboard: optuna-dashboard {hide_password(url)}")
    if plan.mlflow is not None:  # the study's parent run, its trials nested under it
        uri = hide_password(plan.mlflow.tracking_uri)
        where = f"mlflow ui --backend-store-uri {uri}" if uri.startswith("sqlite:") else uri
        console.print(f"mlflow: {where} (experiment '{plan.mlflow.experiment_name}', run 'study {plan.study_name}')")


def _value_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def trial_line(trial: "FrozenTrial", position: int, n_trials: int, best: "FrozenTrial | None", seconds: float) -> str:
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
    params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
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
