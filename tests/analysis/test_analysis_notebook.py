"""In a notebook: Run, Sweep and Ensemble show as summary tables, and the report's figures are
methods that return matplotlib Figures — the same functions the report saves."""

from __future__ import annotations

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from crescendo.analysis import Run, load, write_report
from crescendo.analysis.plots import DPI, NoPlot
from crescendo.errors import CrescendoError


def test_a_run_shows_its_objective_epoch_dims_status_and_dir(search):
    run = load(search.path).best_run
    html = run._repr_html_()
    assert html.startswith('<div class="crescendo"><strong>Run</strong>') and "<table" in html
    for text in ("status", "complete", "best val/loss (objective, min)", f"{run.objective:.5g}", "best epoch",
                 "5 inputs (feature_select 0:2,3:6) → 2 targets", str(run.path)):
        assert text in html, text
    assert repr(run.objective) not in html  # rounded, not 0.2559058368206024


def test_a_sweep_shows_its_trials_by_state_and_its_best(search):
    sweep = load(search.path)
    html = sweep._repr_html_()
    best = sweep.best_trial
    for text in ("<strong>Sweep</strong>", "4 complete", "val/loss (minimize)", f"#{best.number}",
                 "best val/loss", f"{best.value:.5g}", "best model.optimizer.lr", "best model.architecture",
                 str(sweep.best_run.path)):
        assert text in html, text


def test_an_ensemble_shows_its_members_and_their_values(kfold, batched):
    ensemble = load(kfold.path)
    html = ensemble._repr_html_()
    assert "<strong>Ensemble</strong>" in html and "<th>val/loss</th>" in html
    for run in ensemble.runs:
        assert f"<td>{run.path.name}</td><td>{run.objective:.5g}</td>" in html
    batched_html = load(batched.path)._repr_html_()
    assert batched_html.count("<td>run #") == 3  # one row per member of the batched run


def test_a_display_that_cannot_read_its_run_falls_back_to_the_plain_repr(search, copy_tree):
    run = Run(copy_tree(search.path / "0"))
    (run.path / "result.json").write_text("{not json")
    assert run._repr_html_() is None  # Jupyter then shows repr(); the cell does not fail


def test_plot_methods_return_figures_and_leave_pyplot_alone(search, kfold):
    sweep = load(search.path)
    before = plt.get_fignums()
    history, importances = sweep.plot_history(), sweep.plot_importances()
    curves, run_curves = sweep.plot_learning_curves(2), sweep.best_run.plot_learning_curves()
    members = load(kfold.path).plot_learning_curves()
    assert all(isinstance(f, Figure) for f in (history, importances, curves, run_curves, members))
    assert plt.get_fignums() == before  # nothing left in pyplot: a notebook shows each figure once
    assert history.axes[0].get_ylabel() == "val/loss"
    assert importances.axes[0].get_xlabel() == "importance for val/loss"
    assert "Learning curves of the 2 best runs" in curves.axes[0].get_title()
    assert curves.axes[0].get_ylabel() == "val/loss, train/loss"
    assert len(members.axes[0].get_lines()) == 3 * 2 + 3  # val + train per member, a star each
    with pytest.raises(CrescendoError, match="k=0: must be a whole number"):
        sweep.plot_learning_curves(0)


def test_the_report_saves_exactly_the_figures_the_methods_return(search, tmp_path):
    sweep = load(search.path)
    write_report(sweep, tmp_path / "report")
    for figure, name in ((sweep.plot_history(), "optimization_history.png"),
                         (sweep.plot_learning_curves(5), "learning_curves.png")):
        figure.savefig(tmp_path / name, dpi=DPI, bbox_inches="tight", facecolor="white")
        mine, reported = matplotlib.image.imread(tmp_path / name), matplotlib.image.imread(tmp_path / "report" / name)
        assert mine.shape == reported.shape and np.array_equal(mine, reported), name


def test_importances_say_why_not(search, tmp_path):
    from analysis_helpers import fake_sweep

    from crescendo.analysis import Sweep

    runs = load(search.path).runs
    sweep = Sweep(fake_sweep(tmp_path / "lr_only", runs, [0.4, 0.3, 0.2, 0.5]))
    with pytest.raises(NoPlot, match=r"only one parameter was searched \(model.optimizer.lr\)"):
        sweep.plot_importances()
    assert sweep.metric_names == ["val/loss"]  # no multirun config here: the runs' monitor
