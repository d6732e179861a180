"""`write_report(obj, out_dir)`: a self-contained report.html next to its PNG figures.

The page opens offline: no script, no stylesheet or font from the network — one inline <style>,
<img> tags pointing at PNG files in the same directory, and relative links to the runs. The figures
are the ones `Run.plot_learning_curves`, `Sweep.plot_history`, ... return (crescendo.analysis.plots),
saved at 150 dpi and shown at the page's full width; the summaries are crescendo.analysis.summary's.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crescendo.analysis import plots
from crescendo.analysis._files import CONFIG_FILE, atomic_write
from crescendo.analysis._html import Raw, escape, frame_table, href, key_value_table, link, plain
from crescendo.analysis.ensemble import Ensemble
from crescendo.analysis.run import Run
from crescendo.analysis.summary import ensemble_rows, member_values, run_rows, sweep_rows
from crescendo.analysis.sweep import Sweep
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["REPORT_FILE", "write_report"]

REPORT_FILE = "report.html"
#: how many of a search's best runs get learning curves
N_BEST_CURVES = 5
#: at most this many ensemble members get learning curves
N_MEMBER_CURVES = 10

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.key, th.key { text-align: left; }
tr.best td { background: #fff1b8; font-weight: 600; }
tr.pruned td { color: #666; } tr.fail td { color: #a40000; }
img { display: block; width: 100%; height: auto; border: 1px solid #eee; }
p.note { color: #8a5a00; background: #fff8e6; padding: 0.5em 0.8em; border-left: 3px solid #e0a000; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.meta { color: #666; font-size: 0.9em; }
"""


def write_report(obj: Run | Sweep | Ensemble | str | Path, out_dir: str | Path | None = None) -> Path:
    """Write report.html and its PNG figures for a run, a search or an ensemble; return the HTML path.

    `obj` may be a path (opened with `load`). `out_dir` defaults to ``<its directory>/report``.
    """
    if isinstance(obj, (str, Path)):
        from crescendo.analysis.loading import load

        obj = load(obj)
    if out_dir is None:
        base = obj.path if obj.path is not None else (obj.runs[0].path if isinstance(obj, Ensemble) else None)
        if base is None:
            raise CrescendoError("write_report needs out_dir for an ensemble built from runs")
        out_dir = Path(base) / "report"
    directory = Path(out_dir).expanduser().resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CrescendoError(f"{directory}: cannot create the report directory ({error.strerror})") from None

    if isinstance(obj, Sweep):
        title, body = _sweep_body(obj, directory)
    elif isinstance(obj, Ensemble):
        title, body = _ensemble_body(obj, directory)
    elif isinstance(obj, Run):
        title, body = _run_body(obj, directory)
    else:
        raise CrescendoError(f"write_report: cannot report on {type(obj).__name__}; pass a Run, Sweep or Ensemble")

    page = _page(title, body)
    path = directory / REPORT_FILE
    atomic_write(path, lambda temporary: Path(temporary).write_text(page, encoding="utf-8"), "-o")
    return path


# ---------------------------------------------------------------------- pages


def _sweep_body(sweep: Sweep, directory: Path) -> tuple[str, list[str]]:
    from optuna.trial import TrialState

    study = sweep.study
    metric = sweep.metric_names[0] + (" (first objective)" if len(study.directions) > 1 else "")
    body = [_section("Summary", key_value_table(_linked(sweep_rows(sweep, full=True), sweep.path, directory)))]

    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    listed = [f"#{t.number}: {t.user_attrs.get('error') or 'no reason recorded'}" for t in failed]
    failures = [f"failed trials (not plotted): {'; '.join(listed)}"] if listed else []
    body.append(_figure(f"Optimisation history of {metric}", sweep.plot_history, directory,
                        "optimization_history.png", failures))
    body.append(_figure(f"Parameter importances for {metric}", sweep.plot_importances, directory,
                        "param_importances.png"))
    body.append(_figure(f"Parallel coordinates, coloured by {metric}", lambda: plots.parallel_coordinates(sweep),
                        directory, "parallel_coordinate.png"))
    body.append(_figure(f"Slice plots of {metric}", lambda: plots.slices(sweep), directory, "slice.png"))
    if len(study.directions) in (2, 3):
        body.append(_figure("Pareto front", lambda: plots.pareto_front(sweep), directory, "pareto_front.png"))
    body.append(_figure("Learning curves of the best runs", lambda: sweep.plot_learning_curves(N_BEST_CURVES),
                        directory, "learning_curves.png"))
    body.append(_trials_section(sweep, directory))
    return f"Search {study.study_name} — {sweep.path.name}", body


def _trials_section(sweep: Sweep, directory: Path) -> str:
    """Every trial; the best one highlighted (★), each run dir a link to its report or directory."""
    study = sweep.study
    table = sweep.trials
    names = dict(zip(sweep._value_columns(study), sweep.metric_names))  # noqa: SLF001 - same package
    best = None
    if len(study.directions) == 1 and sweep.ranked_trials():
        best = sweep.best_trial.number
    numbers, states = list(table["number"]), list(table["state"])
    run_dirs = [plain(value) for value in table["run_dir"]]
    table = table.drop(columns=["best_checkpoint", "run_dir"]).rename(columns=names)
    if "error" in table.columns and table["error"].isna().all():
        table = table.drop(columns=["error"])
    table["run"] = run_dirs

    def row_class(i: int) -> str | None:
        return "best" if numbers[i] == best else str(states[i]).lower() if states[i] in ("PRUNED", "FAIL") else None

    cells = {"number": lambda i, v: escape(f"{v} ★" if v == best else v),
             "run": lambda i, v: _run_link(Path(v), sweep.path, directory) if v else ""}
    legend = "<p class=\"meta\">★ highlighted: the best trial. run: its report, or its directory.</p>" if best is not None else ""
    return _section(f"Trials ({len(table)})", legend + "<div class=\"wide\">"
                    + frame_table(table, row_class=row_class, cells=cells) + "</div>")


def _run_body(run: Run, directory: Path, extra: Sequence[tuple[str, Any]] = ()) -> tuple[str, list[str]]:
    body = [_section("Summary", key_value_table([*run_rows(run, full=True), *extra]))]
    body.append(_figure(f"Learning curves of run {run.path.name}", run.plot_learning_curves, directory,
                        "learning_curves.png"))
    if run.is_batched_ensemble:
        body.append(_figure("Validation loss per member", lambda: plots.member_curves(run), directory,
                            "member_curves.png"))
    body.append(_config_section(run))
    return f"Run {run.path.name}", body


def _ensemble_body(ensemble: Ensemble, directory: Path) -> tuple[str, list[str]]:
    members = member_values(ensemble)
    links = list(members["run_dir"])
    members = members.drop(columns=["run_dir"]).rename(columns={"value": ensemble.runs[0].monitor})
    members["run"] = links
    cells = {"run": lambda i, v: _run_link(Path(v), ensemble.path or directory, directory)}
    table = _section("Members", "<div class=\"wide\">" + frame_table(members, cells=cells) + "</div>")
    if len(ensemble.runs) == 1:  # one batched-ensemble run: its members trained together
        run = ensemble.runs[0]
        _, body = _run_body(run, directory, extra=[("ensemble members", len(members))])
        return f"Ensemble {run.path.name}", [*body[:-1], table, body[-1]]
    body = [_section("Summary", key_value_table(ensemble_rows(ensemble)))]
    body.append(_figure("Learning curves of the members", lambda: ensemble.plot_learning_curves(N_MEMBER_CURVES),
                        directory, "learning_curves.png"))
    body.append(table)
    body.append(_config_section(ensemble.runs[0], "Config of the first member"))
    return f"Ensemble {ensemble.path.name if ensemble.path else ''}".strip(), body


def _linked(rows: list[tuple[str, Any]], base: Path, directory: Path) -> list[tuple[str, Any]]:
    """The summary's best run as a link."""
    linked = []
    for key, value in rows:
        if key == "best run" and value and Path(str(value)).is_dir():
            value = Raw(_run_link(Path(str(value)), base, directory))
        linked.append((key, value))
    return linked


def _run_link(run_dir: Path, base: Path | None, directory: Path) -> str:
    """A link to the run's own report if it has one, else to its directory; shown relative to `base`."""
    report = run_dir / "report" / REPORT_FILE
    target = report if report.is_file() else run_dir
    try:
        shown = str(run_dir.relative_to(base)) if base is not None else str(run_dir)
    except ValueError:
        shown = str(run_dir)
    return link(href(target, directory), shown)


def _config_section(run: Run, title: str = "Config") -> str:
    path = run.path / CONFIG_FILE
    if not path.is_file():
        return _section(title, _note(f"{run.path} has no {CONFIG_FILE}"))
    text = escape(path.read_text(encoding="utf-8", errors="replace"))
    return _section(title, f"<details><summary>{CONFIG_FILE} (resolved, as used)</summary><pre>{text}</pre></details>")


# ---------------------------------------------------------------------- HTML pieces


def _figure(title: str, make: Callable[[], Figure], directory: Path, name: str, notes: Sequence[str] = ()) -> str:
    """A section with the figure `make()` returns saved as `name` — or the reason there is none."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", plots.PlotWarning)
        try:
            figure = make()
        except CrescendoError as error:  # NoPlot: why not; other: what went wrong
            return _section(title, "\n".join(_note(text) for text in [str(error), *notes]))
    figure.savefig(directory / name, dpi=plots.DPI, bbox_inches="tight", facecolor="white")
    problems = [str(w.message) for w in caught if issubclass(w.category, plots.PlotWarning)]
    image = f"<img src=\"{escape(name)}\" alt=\"{escape(title)}\">"
    return _section(title, "\n".join([image, *(_note(text) for text in [*notes, *problems])]))


def _page(title: str, body: Sequence[str]) -> str:
    made = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n<p class=\"meta\">written by cr-report, {made}</p>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _section(title: str, content: str) -> str:
    return f"<section>\n<h2>{escape(title)}</h2>\n{content}\n</section>"


def _note(text: str) -> str:
    return f"<p class=\"note\">{escape(text)}</p>"
