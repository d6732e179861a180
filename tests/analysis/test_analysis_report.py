"""`write_report` in-process: what a search report says when a plot cannot be drawn."""

from __future__ import annotations

import matplotlib
import pytest
from optuna.trial import TrialState

from analysis_helpers import assert_offline_html, assert_real_png, fake_sweep
from crescendo.analysis import Sweep, load, write_report
from crescendo.errors import CrescendoError


def test_one_complete_trial_says_why_there_are_no_importances(search, tmp_path):
    runs = load(search.path).runs
    directory = fake_sweep(tmp_path / "one", runs[:2], [0.3, None], states=[TrialState.COMPLETE, TrialState.FAIL])
    page = write_report(Sweep(directory), tmp_path / "out")
    text = page.read_text()
    assert "parameter importances need at least 2 complete trials, the search has 1" in text
    files = {image.name for image in assert_offline_html(page)}
    assert "param_importances.png" not in files and "optimization_history.png" in files
    for image in assert_offline_html(page):
        assert_real_png(image)


def test_one_parameter_says_why_there_are_no_importances(search, tmp_path):
    runs = load(search.path).runs
    page = write_report(Sweep(fake_sweep(tmp_path / "lr", runs, [0.4, 0.3, 0.2, 0.5])), tmp_path / "out")
    text = page.read_text()
    assert "only one parameter was searched (model.optimizer.lr)" in text
    images = assert_offline_html(page)
    assert {i.name for i in images} == {"optimization_history.png", "parallel_coordinate.png", "slice.png",
                                        "learning_curves.png"}
    for image in images:
        assert_real_png(image)


def test_no_complete_trial_draws_nothing_and_says_so(search, tmp_path):
    directory = fake_sweep(tmp_path / "none", [], [None, None], states=[TrialState.FAIL, TrialState.PRUNED])
    page = write_report(directory, tmp_path / "out")  # a path works too
    text = page.read_text()
    assert text.count("no complete trial yet") >= 3 and "need at least 2 complete trials" in text
    assert assert_offline_html(page) == []


def test_two_objectives_plot_the_first_and_the_pareto_front(search, tmp_path):
    runs = load(search.path).runs
    params = [{"model.optimizer.lr": 0.002 + 0.001 * i, "model.dropout": 0.1 * i} for i in range(4)]
    directory = fake_sweep(tmp_path / "multi", runs, [[0.1, 4.0], [0.2, 3.0], [0.3, 1.0], [0.4, 2.0]],
                           direction=["minimize", "minimize"], params=params)
    page = write_report(Sweep(directory), tmp_path / "out")
    images = assert_offline_html(page)
    assert "pareto_front.png" in {i.name for i in images}
    assert "no single ranking" in page.read_text()
    for image in images:
        assert_real_png(image)


def test_the_report_leaves_pyplot_style_alone(search, tmp_path):
    before = dict(matplotlib.rcParams)
    write_report(load(search.path), tmp_path / "out")
    assert dict(matplotlib.rcParams) == before  # Optuna's ggplot style did not leak


def test_report_into_an_unwritable_place(search, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CrescendoError, match="cannot create the report directory"):
        write_report(load(search.path / "0"), blocker / "sub")

