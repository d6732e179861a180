"""`write_report(obj, out_dir)`: a self-contained report.html next to its PNG figures.

The page opens offline: no script, no stylesheet or font from the network — one inline <style>,
and <img> tags pointing at PNG files in the same directory.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from crescendo.analysis._files import CONFIG_FILE, hide_password
from crescendo.analysis.ensemble import Ensemble
from crescendo.analysis.plots import Figure, learning_curves, member_curves, optuna_figures
from crescendo.analysis.run import Run
from crescendo.analysis.sweep import Sweep
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REPORT_FILE", "write_report"]

REPORT_FILE = "report.html"
#: how many of a search's best runs get learning curves
N_BEST_CURVES = 5
#: at most this many ensemble members get learning curves
N_MEMBER_CURVES = 10

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.key, th.key { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
p.note { color: #8a5a00; background: #fff8e6; padding: 0.5em 0.8em; border-left: 3px solid #e0a000; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
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
    path.write_text(page, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- pages


def _sweep_body(sweep: Sweep, directory: Path) -> tuple[str, list[str]]:
    from optuna.trial import TrialState

    study = sweep.study
    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    value_columns = sweep._value_columns(study)  # noqa: SLF001 - same module family
    names = [c.removeprefix("value_") if c != "value" else "objective" for c in value_columns]

    summary: list[tuple[str, Any]] = [
        ("directory", str(sweep.path)),
        ("study", study.study_name),
        ("storage", hide_password(sweep.storage)),
        ("direction", " / ".join(sweep.directions)),
        ("trials", ", ".join(f"{n} {s.name.lower()}" for s, n in counts.items() if n) or "none"),
    ]
    body = []
    if len(study.directions) == 1:
        try:
            best = sweep.best_trial
        except CrescendoError as error:
            summary.append(("best trial", str(error)))
        else:
            summary += [("best trial", f"#{best.number}"), ("best value", best.value)]
            summary += [(f"best {key}", value) for key, value in best.params.items()]
            run_dir = sweep._run_dir(best)  # noqa: SLF001
            summary.append(("best run", _shorten(run_dir, sweep.path) if run_dir else "(no run directory)"))
    body.append(_section("Summary", _key_value_table(summary)))

    for figure in optuna_figures(study, directory, names):
        body.append(_figure_section(figure))

    ranked = sweep.ranked_trials() if len(study.directions) == 1 else []
    labelled = []
    for trial in ranked:
        run_dir = sweep._run_dir(trial)  # noqa: SLF001
        if run_dir is not None:
            labelled.append((f"#{trial.number}", sweep._run_at(run_dir)))  # noqa: SLF001
        if len(labelled) == N_BEST_CURVES:
            break
    if labelled:
        curves = learning_curves(labelled, directory, title=f"Learning curves of the {len(labelled)} best runs")
    else:
        why = ("several objectives: no single ranking" if len(study.directions) > 1
               else "no complete trial with a run directory")
        curves = Figure("Learning curves of the best runs", note=f"not drawn: {why}")
    body.append(_figure_section(curves))

    table = sweep.trials
    if "run_dir" in table.columns:
        table["run_dir"] = [_shorten(v, sweep.path) for v in table["run_dir"]]
    table = table.drop(columns=[c for c in ("best_checkpoint",) if c in table.columns])
    if "error" in table.columns and table["error"].isna().all():
        table = table.drop(columns=["error"])
    body.append(_section(f"Trials ({len(table)})", _frame_table(table)))
    return f"Search {study.study_name} — {sweep.path.name}", body


def _run_body(run: Run, directory: Path, extra: Sequence[tuple[str, Any]] = ()) -> tuple[str, list[str]]:
    body = [_section("Summary", _key_value_table([*_run_summary(run), *extra]))]
    body.append(_figure_section(learning_curves([(run.path.name, run)], directory)))
    members = member_curves(run, directory)
    if members is not None:
        body.append(_figure_section(members))
    body.append(_config_section(run))
    return f"Run {run.path.name}", body


def _ensemble_body(ensemble: Ensemble, directory: Path) -> tuple[str, list[str]]:
    if len(ensemble.runs) == 1:  # one batched-ensemble run: its members trained together
        run = ensemble.runs[0]
        _, body = _run_body(run, directory, extra=[("ensemble members", ensemble.n_members)])
        return f"Ensemble {run.path.name}", body
    rows = []
    for run in ensemble.runs:
        rows.append({
            "member": run.path.name, "status": run.status, "objective": run.objective,
            "best_epoch": run.result.get("best_epoch"), "test_loss": run.result.get("test_loss"),
            "n_train": run.result.get("n_train"), "fit_seconds": run.result.get("fit_seconds"),
        })
    import pandas as pd

    where = str(ensemble.path) if ensemble.path else "(built from runs)"
    summary = [("directory", where), ("members", len(ensemble.runs)), ("monitor", ensemble.runs[0].monitor)]
    objectives = [run.objective for run in ensemble.runs if math.isfinite(run.objective)]
    if objectives:
        summary += [("mean objective", sum(objectives) / len(objectives)), ("best objective", min(objectives)
                    if ensemble.runs[0].mode == "min" else max(objectives))]
    body = [_section("Summary", _key_value_table(summary))]
    shown = ensemble.runs[:N_MEMBER_CURVES]
    title = "Learning curves of the members" + (f" (first {len(shown)})" if len(shown) < len(ensemble.runs) else "")
    body.append(_figure_section(learning_curves([(r.path.name, r) for r in shown], directory, title=title)))
    body.append(_section("Members", _frame_table(pd.DataFrame(rows))))
    body.append(_config_section(ensemble.runs[0], "Config of the first member"))
    return f"Ensemble {ensemble.path.name if ensemble.path else ''}".strip(), body


def _run_summary(run: Run) -> list[tuple[str, Any]]:
    result = run.result
    rows: list[tuple[str, Any]] = [("directory", str(run.path))]
    for key in ("status", "monitor", "mode", "objective", "best_epoch", "test_loss", "architecture",
                "input_dims", "output_dims", "n_train", "n_val", "n_test", "fit_seconds", "best_checkpoint",
                "error"):
        if result.get(key) is not None:
            rows.append((key, result[key]))
    for key, value in (result.get("metrics") or {}).items():
        if key != run.monitor and key != "fit_seconds":
            rows.append((f"at best epoch: {key}", value))
    try:
        config = run.config
    except CrescendoError:
        return rows
    from crescendo.analysis._files import select

    for key in ("data.data_dir", "data.builtin", "data.batch_size", "data.feature_select", "model._target_",
                "model.dropout", "model.batch_norm", "model.optimizer._target_", "model.optimizer.lr", "seed"):
        value = select(config, key)
        if value is not None:
            rows.append((key, value))
    return rows


def _config_section(run: Run, title: str = "Config") -> str:
    path = run.path / CONFIG_FILE
    if not path.is_file():
        return _section(title, _note(f"{run.path} has no {CONFIG_FILE}"))
    text = html.escape(path.read_text(encoding="utf-8", errors="replace"))
    return _section(title, f"<details><summary>{CONFIG_FILE} (resolved, as used)</summary><pre>{text}</pre></details>")


# ---------------------------------------------------------------------- HTML pieces


def _page(title: str, body: Sequence[str]) -> str:
    made = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"meta\">written by cr-report, {made}</p>\n"
        + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _section(title: str, content: str) -> str:
    return f"<section>\n<h2>{html.escape(title)}</h2>\n{content}\n</section>"


def _note(text: str) -> str:
    return f"<p class=\"note\">{html.escape(text)}</p>"


def _figure_section(figure: Figure) -> str:
    parts = []
    if figure.file:
        parts.append(f"<img src=\"{html.escape(figure.file)}\" alt=\"{html.escape(figure.title)}\">")
    if figure.note:
        parts.append(_note(figure.note))
    return _section(figure.title, "\n".join(parts))


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else ("" if math.isnan(value) else str(value))
    if value is None:
        return ""
    return str(value)


def _key_value_table(rows: Sequence[tuple[str, Any]]) -> str:
    cells = "\n".join(
        f"<tr><th class=\"key\">{html.escape(str(key))}</th><td class=\"key\">{html.escape(_format(value))}</td></tr>"
        for key, value in rows
    )
    return f"<table>\n{cells}\n</table>"


def _frame_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    lines = []
    for record in frame.itertuples(index=False):
        cells = "".join(f"<td>{html.escape(_format(_plain(v)))}</td>" for v in record)
        lines.append(f"<tr>{cells}</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(lines) + "\n</table>"


def _plain(value: Any) -> Any:
    """numpy scalars → Python; pandas' missing values → None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    try:
        import pandas as pd

        if not isinstance(value, (list, tuple, dict)) and pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _shorten(value: Any, base: Path) -> Any:
    """A path inside `base` shown relative to it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    try:
        return str(Path(str(value)).resolve().relative_to(base))
    except ValueError:
        return value
