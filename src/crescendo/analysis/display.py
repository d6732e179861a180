"""Rich display in Jupyter: `Run`, `Sweep` and `Ensemble` show as a compact summary table.

The rows are `crescendo.analysis.summary`'s (the report's summary says the same). A display must
never break a notebook cell: if something cannot be read, it returns None and Jupyter falls back
to the plain repr.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from crescendo.analysis._html import escape, frame_table, key_value_table
from crescendo.analysis.summary import ensemble_rows, member_values, run_rows, sweep_rows

if TYPE_CHECKING:
    # the package's public names, for annotations only: Run/Sweep/Ensemble call this module lazily
    from crescendo.analysis import Ensemble, Run, Sweep

__all__ = ["ensemble_html", "run_html", "sweep_html"]


def _safe(build: Callable[[], str]) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build()
    except Exception:  # noqa: BLE001 - a display never raises; the plain repr is shown instead
        return None


def _box(kind: str, name: str, content: str) -> str:
    return f"<div class=\"crescendo\"><strong>{escape(kind)}</strong> {escape(name)}\n{content}\n</div>"


def run_html(run: Run) -> str | None:
    return _safe(lambda: _box("Run", run.path.name, key_value_table(run_rows(run))))


def sweep_html(sweep: Sweep) -> str | None:
    return _safe(lambda: _box("Sweep", sweep.path.name, key_value_table(sweep_rows(sweep))))


def ensemble_html(ensemble: Ensemble) -> str | None:
    def build() -> str:
        members = member_values(ensemble).drop(columns=["run_dir"])
        members = members.rename(columns={"value": ensemble.runs[0].monitor})
        name = ensemble.path.name if ensemble.path else ""
        return _box("Ensemble", name, key_value_table(ensemble_rows(ensemble)) + "\n" + frame_table(members))

    return _safe(build)
