"""The report's figures, written as PNG files.

Learning curves are drawn with matplotlib's object API (no pyplot, so no global backend is touched);
the search plots come from `optuna.visualization.matplotlib`, whose figures are closed once saved.
A figure that cannot be drawn is never replaced by a placeholder image: the functions return the
reason instead, and the report prints it where the plot would be.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import optuna

    from crescendo.analysis.run import Run

__all__ = ["Figure", "learning_curves", "member_curves", "optuna_figures"]

DPI = 100


@dataclass
class Figure:
    """A plot written to `file` (a name inside the report directory), or the reason there is none."""

    title: str
    file: str | None = None
    note: str | None = None


def _save(fig: Any, directory: Path, name: str) -> str:
    fig.savefig(directory / name, dpi=DPI, bbox_inches="tight", facecolor="white")
    return name


def learning_curves(runs: Sequence[tuple[str, Run]], directory: Path, name: str = "learning_curves.png",
                    title: str = "Learning curves") -> Figure:
    """Loss per epoch for each (label, run): validation solid, training dashed, best epoch starred."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(8, 4.8))
    ax = fig.add_subplot()
    colors = [f"C{i}" for i in range(10)]
    drawn, problems, values = 0, [], []
    for index, (label, run) in enumerate(runs):
        try:
            metrics = run.metrics
        except Exception as error:  # noqa: BLE001 - a run without metrics.csv is reported, not fatal
            problems.append(f"{label}: {error}")
            continue
        if "epoch" not in metrics.columns:
            problems.append(f"{label}: metrics.csv has no epoch column")
            continue
        color = colors[index % len(colors)]
        columns = _main_columns(metrics, run.monitor)
        for column in sorted(columns, key=lambda c: (not c.startswith("val/"), c)):
            series = metrics[["epoch", column]].dropna()
            if series.empty:
                continue
            style = "-" if column.startswith("val/") else "--"
            ax.plot(series["epoch"], series[column], style, color=color, marker="o", markersize=3,
                    label=f"{label} {column}")
            values.extend(float(v) for v in series[column])
            drawn += 1
        best_epoch, objective = run.result.get("best_epoch"), run.result.get("objective")
        if best_epoch is not None and objective is not None and math.isfinite(float(objective)):
            ax.plot([best_epoch], [objective], "*", color=color, markersize=12, markeredgecolor="black")
    if not drawn:
        return Figure(title, note="no learning curve to draw — " + ("; ".join(problems) or "no metrics were logged"))
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 10:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"{title}\nsolid: validation, dashed: training, ★: best epoch", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure = Figure(title, file=_save(fig, directory, name))
    if problems:
        figure.note = "; ".join(problems)
    return figure


def _main_columns(metrics: Any, monitor: str) -> list[str]:
    """The losses worth a line per run: train/loss, val/loss and the monitor (not per-member losses)."""
    logged = [c for c in metrics.columns if c not in ("epoch", "step") and not c.startswith("test/")]
    main = [c for c in logged if c in ("train/loss", "val/loss", monitor)]
    return main or logged


def member_curves(run: Run, directory: Path, name: str = "member_curves.png") -> Figure | None:
    """A batched-ensemble run's validation loss per member, and of the members' mean prediction;
    None when the run logged no per-member losses."""
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import MaxNLocator

    title = "Validation loss per member"
    try:
        metrics = run.metrics
    except Exception:  # noqa: BLE001 - reported by the main learning curves already
        return None
    members = sorted((c for c in metrics.columns if c.startswith("val/loss_member_")),
                     key=lambda c: int(c.rsplit("_", 1)[1]) if c.rsplit("_", 1)[1].isdigit() else 0)
    if not members or "epoch" not in metrics.columns:
        return None
    fig = MplFigure(figsize=(8, 4.8))
    ax = fig.add_subplot()
    for column in members:
        series = metrics[["epoch", column]].dropna()
        ax.plot(series["epoch"], series[column], "-", linewidth=1, alpha=0.7, marker="o", markersize=2,
                label=column.removeprefix("val/"))
    for column, style in (("val/loss", "k--"), ("val/loss_of_mean", "k-")):
        if column in metrics.columns:
            series = metrics[["epoch", column]].dropna()
            ax.plot(series["epoch"], series[column], style, linewidth=2, label=column.removeprefix("val/") + (
                " (members' mean loss)" if column == "val/loss" else " (loss of the mean prediction)"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.set_title(title, fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return Figure(title, file=_save(fig, directory, name))


def optuna_figures(study: optuna.Study, directory: Path, objective_names: Sequence[str]) -> list[Figure]:
    """Optimisation history, parameter importances, parallel coordinates and slice plots."""
    import matplotlib
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    params: list[str] = []
    for trial in complete:
        params.extend(p for p in trial.params if p not in params)
    multi = len(study.directions) > 1
    target: Callable[[Any], float] | None = (lambda t: t.values[0]) if multi else None
    target_name = objective_names[0] if objective_names else "Objective Value"
    kwargs = {"target": target, "target_name": target_name}
    for_first = f" (first objective, {target_name})" if multi else ""

    from optuna.visualization import matplotlib as ovm

    def draw(title: str, name: str, make: Callable[[], Any], reason: str | None) -> Figure:
        if reason:
            return Figure(title, note=reason)
        import matplotlib.pyplot as plt

        before = set(plt.get_fignums())
        try:  # rc_context: Optuna's plt.style.use("ggplot") must not leak into the caller's session
            with matplotlib.rc_context(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ExperimentalWarning, layout chatter
                try:
                    axes = make()
                except Exception as error:  # noqa: BLE001 - say why in the report
                    return Figure(title, note=f"could not be drawn: {type(error).__name__}: {error}")
                first = axes.ravel()[0] if hasattr(axes, "ravel") else axes
                return Figure(title, file=_save(first.figure, directory, name))
        finally:  # every figure Optuna opened here, saved or not
            for number in set(plt.get_fignums()) - before:
                plt.close(number)

    none_complete = None if complete else "no complete trial yet — nothing to plot"
    figures = [
        draw("Optimisation history" + for_first, "optimization_history.png",
             lambda: ovm.plot_optimization_history(study, **kwargs), none_complete),
        draw("Parameter importances" + for_first, "param_importances.png",
             lambda: ovm.plot_param_importances(study, **kwargs), _importance_reason(len(complete), params)),
        draw("Parallel coordinates" + for_first, "parallel_coordinate.png",
             lambda: ovm.plot_parallel_coordinate(study, **kwargs), none_complete),
        draw("Slice plots" + for_first, "slice.png",
             lambda: ovm.plot_slice(study, **kwargs), none_complete),
    ]
    if multi and len(study.directions) in (2, 3) and complete:
        figures.append(draw("Pareto front", "pareto_front.png",
                            lambda: ovm.plot_pareto_front(study, target_names=list(objective_names)), None))
    return figures


def _importance_reason(n_complete: int, params: list[str]) -> str | None:
    if n_complete < 2:
        return (f"not computed: parameter importances need at least 2 complete trials, "
                f"the search has {n_complete}")
    if len(params) < 2:
        searched = f" ({params[0]})" if params else ""
        return (f"not computed: only one parameter was searched{searched}, so its importance is 1 "
                "by definition — search two or more keys to compare them")
    return None
