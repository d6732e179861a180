"""The figures of runs and searches, as matplotlib Figures — the one implementation behind both
`Run.plot_learning_curves` / `Sweep.plot_history` / ... in a notebook and the PNGs of `cr-report`.

Learning curves are drawn with matplotlib's object API (no pyplot: nothing global is touched). The
search plots are Optuna's own (`optuna.visualization.matplotlib`), drawn inside an rc_context so its
ggplot style does not leak into the caller's session, then detached from pyplot so a notebook shows
each figure once, as the returned value. Every axis names its metric.

A figure that cannot be drawn raises `NoPlot` with the reason (the report prints it where the plot
would be); problems with some of several runs are warnings, and the figure shows the others.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    # the package's public names, for annotations only: Run/Sweep/Ensemble call this module lazily
    from crescendo.analysis import Run, Sweep

__all__ = ["DPI", "NoPlot", "PlotWarning", "learning_curves", "member_curves", "optimization_history", "parallel_coordinates",
           "param_importances", "pareto_front", "slices"]

#: resolution of the report's PNGs; the page shows them at its full width
DPI = 150
#: size (inches) of a one-axes figure; wide figures keep their width
FIGSIZE = (9.0, 5.0)


class NoPlot(CrescendoError):
    """Why a figure cannot be drawn (not enough trials, no metrics, ...)."""


class PlotWarning(UserWarning):
    """Part of a figure is missing (one run of several has no metrics); the report shows it as a note."""


# ---------------------------------------------------------------------- runs


def learning_curves(runs: Sequence[tuple[str, Run]], title: str = "Learning curves") -> Figure:
    """The logged losses per epoch of each (label, run): validation solid, training dashed, and a
    star at the best epoch on the run's monitor (the kept checkpoint, the objective)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=FIGSIZE)
    ax = fig.add_subplot()
    drawn, values, names, monitors, problems = 0, [], [], [], []
    units: list[str] = []
    for index, (label, run) in enumerate(runs):
        try:
            metrics = run.metrics
            if "epoch" not in metrics.columns:
                raise CrescendoError(f"{run.path}: metrics.csv has no epoch column")
        except CrescendoError as error:
            problems.append(f"{label}: {error}")
            warnings.warn(problems[-1], PlotWarning, stacklevel=2)
            continue
        color = f"C{index % 10}"
        for column in sorted(_main_columns(metrics, run.monitor), key=lambda c: (not c.startswith("val/"), c)):
            series = metrics[["epoch", column]].dropna()
            if series.empty:
                continue
            style = "--" if column.startswith("train/") else "-"
            ax.plot(series["epoch"], series[column], style, color=color, marker="o", markersize=3,
                    label=f"{label} {column}" if len(runs) > 1 else column)
            values.extend(float(v) for v in series[column])
            if column not in names:
                names.append(column)
            drawn += 1
        best_epoch, objective = run.result.get("best_epoch"), run.result.get("objective")
        if best_epoch is not None and objective is not None and math.isfinite(float(objective)):
            ax.plot([best_epoch], [objective], "*", color=color, markersize=14, markeredgecolor="black")
        if run.monitor not in monitors:
            monitors.append(run.monitor)
        if run.loss_units not in units:
            units.append(run.loss_units)
    if not drawn:
        raise NoPlot("no learning curve to draw — " + ("; ".join(problems) or "no metrics were logged"))
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 10:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    # losses are in the units the models trained in: say so when targets were standardised
    ax.set_ylabel(", ".join(names) + ("" if units in ([], ["targets"]) else f" (in {' / '.join(units)})"))
    ax.set_title(f"{title}\nsolid: validation, dashed: training, ★: best epoch on {', '.join(monitors)}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.set_layout_engine("tight")
    return fig


def _main_columns(metrics: Any, monitor: str) -> list[str]:
    """The losses worth a line per run: train/loss, val/loss and the monitor (not per-member losses)."""
    logged = [c for c in metrics.columns if c not in ("epoch", "step") and not c.startswith("test/")]
    main = [c for c in logged if c in ("train/loss", "val/loss", monitor)]
    return main or logged


def member_curves(run: Run) -> Figure:
    """A batched-ensemble run's validation loss per member, and of the members' mean prediction."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    metrics = run.metrics
    members = sorted((c for c in metrics.columns if c.startswith("val/loss_member_")),
                     key=lambda c: int(c.rsplit("_", 1)[1]) if c.rsplit("_", 1)[1].isdigit() else 0)
    if not members or "epoch" not in metrics.columns:
        raise NoPlot(f"{run.path}: logged no per-member losses (val/loss_member_k) — not a batched ensemble")
    fig = Figure(figsize=FIGSIZE)
    ax = fig.add_subplot()
    for column in members:
        series = metrics[["epoch", column]].dropna()
        ax.plot(series["epoch"], series[column], "-", linewidth=1, alpha=0.7, marker="o", markersize=2,
                label=column)
    for column, style, meaning in (("val/loss", "k--", "members' mean loss"),
                                   ("val/loss_of_mean", "k-", "loss of the mean prediction")):
        if column in metrics.columns:
            series = metrics[["epoch", column]].dropna()
            ax.plot(series["epoch"], series[column], style, linewidth=2, label=f"{column} ({meaning})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("val/loss per member")
    ax.set_title("Validation loss per member")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.set_layout_engine("tight")
    return fig


# ---------------------------------------------------------------------- searches


def optimization_history(sweep: Sweep) -> Figure:
    """Optuna's history of the (first) objective, with pruned trials added at their last reported
    value (×), which Optuna's plot leaves out."""
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as ovm

    study, name, target = _target(sweep)
    pruned = [(t.number, _last_value(t)) for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))]
    pruned = [(number, value) for number, value in pruned if value is not None and math.isfinite(value)]
    if not _complete(study) and not pruned:
        raise NoPlot("no complete or pruned trial yet — nothing to plot")

    def add_pruned(ax: Axes) -> None:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers
        if pruned:
            ax.scatter([n for n, _ in pruned], [v for _, v in pruned], marker="x", s=45, color="#7f7f7f",
                       zorder=3, label=f"pruned ({name} at its last epoch)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))

    return _optuna(lambda: ovm.plot_optimization_history(study, target=target, target_name=name), add_pruned)


def param_importances(sweep: Sweep) -> Figure:
    """Optuna's parameter importances (fANOVA) for the (first) objective."""
    from optuna.visualization import matplotlib as ovm

    study, name, target = _target(sweep)
    complete = _complete(study)
    params = _params(complete)
    if len(complete) < 2:
        raise NoPlot(f"not computed: parameter importances need at least 2 complete trials, "
                     f"the search has {len(complete)}")
    if len(params) < 2:
        searched = f" ({params[0]})" if params else ""
        raise NoPlot(f"not computed: only one parameter was searched{searched}, so its importance is 1 "
                     "by definition — search two or more keys to compare them")

    def label(ax: Axes) -> None:
        ax.set_xlabel(f"importance for {name}")

    return _optuna(lambda: ovm.plot_param_importances(study, target=target, target_name=name), label)


def parallel_coordinates(sweep: Sweep) -> Figure:
    """Optuna's parallel coordinates of the complete trials, coloured by the (first) objective."""
    from optuna.visualization import matplotlib as ovm

    study, name, target = _target(sweep)
    _need_complete(study)
    return _optuna(lambda: ovm.plot_parallel_coordinate(study, target=target, target_name=name))


def slices(sweep: Sweep) -> Figure:
    """Optuna's slice plots: the (first) objective against each searched parameter."""
    from optuna.visualization import matplotlib as ovm

    study, name, target = _target(sweep)
    _need_complete(study)
    return _optuna(lambda: ovm.plot_slice(study, target=target, target_name=name))


def pareto_front(sweep: Sweep) -> Figure:
    """Optuna's Pareto front of a search with 2 or 3 objectives."""
    from optuna.visualization import matplotlib as ovm

    study = sweep.study
    if len(study.directions) not in (2, 3):
        raise NoPlot(f"a Pareto front needs 2 or 3 objectives, the search has {len(study.directions)}")
    _need_complete(study)
    return _optuna(lambda: ovm.plot_pareto_front(study, target_names=sweep.metric_names))


def _target(sweep: Sweep) -> tuple[Any, str, Callable[[Any], float] | None]:
    """The study, the plotted metric's name, and Optuna's `target` (the first of several objectives)."""
    study = sweep.study
    names = sweep.metric_names
    if len(study.directions) > 1:
        return study, f"{names[0]} (first objective)", lambda trial: trial.values[0]
    return study, names[0], None


def _complete(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _need_complete(study: Any) -> None:
    if not _complete(study):
        raise NoPlot("no complete trial yet — nothing to plot")


def _params(trials: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for trial in trials:
        names.extend(p for p in trial.params if p not in names)
    return names


def _last_value(trial: Any) -> float | None:
    """A pruned trial's value: Optuna records its last intermediate value (if it reported one)."""
    if trial.values:
        return float(trial.values[0])
    if trial.intermediate_values:
        return float(trial.intermediate_values[max(trial.intermediate_values)])
    return None


def _optuna(make: Callable[[], Any], finish: Callable[[Axes], None] | None = None) -> Figure:
    """Run one of Optuna's matplotlib plots without touching the caller's pyplot state; return its
    figure sized for a full-width page, closed in pyplot (shown once in a notebook, as the value)."""
    import matplotlib
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        with matplotlib.rc_context(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning, layout chatter
            try:
                axes = make()
            except CrescendoError:
                raise
            except Exception as error:  # noqa: BLE001 - said where the figure would be
                raise NoPlot(f"could not be drawn: {type(error).__name__}: {error}") from error
            ax = axes.ravel()[0] if hasattr(axes, "ravel") else axes
            if finish is not None:
                finish(ax)
            fig = ax.figure
            width, height = fig.get_size_inches()
            fig.set_size_inches(max(width, FIGSIZE[0]), max(height, FIGSIZE[1]))
            return fig
    finally:  # every figure Optuna opened here leaves pyplot's registry; the returned one lives on
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
