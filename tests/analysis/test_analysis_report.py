"""`write_report` in-process: what a report says — metric names, pruned and failed trials, the best trial,
links to runs, rounded numbers, full-width figures — and what it says when a plot cannot be drawn."""

from __future__ import annotations

import re

import matplotlib
import pytest
from optuna.trial import TrialState

from analysis_helpers import assert_offline_html, assert_real_png, fake_sweep, links
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



# ---------------------------------------------------------------------- what the report says


def _table_after(text: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of cell texts of the first table after an <h2> starting with `heading`."""
    part = text[text.index(f"<h2>{heading}"):]
    table = part[part.index("<table"):part.index("</table>")]
    header = re.findall(r"<th>([^<]*)</th>", table)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table)[1:]]
    return header, rows


def _significant(cell: str) -> int:
    mantissa = cell.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def test_a_search_report_names_its_metric_links_runs_and_highlights_the_best(search, copy_tree):
    copied = copy_tree(search.path)
    write_report(load(copied / "2"))  # run 2 has its own report: the trials table links to it
    sweep = load(copied)
    assert sweep.metric_names == ["val/loss"]  # no metric names in the study: the search's monitor
    page = write_report(sweep)  # default place: <search>/report/
    text = page.read_text()
    images = assert_offline_html(page)
    for title in ("Optimisation history of val/loss", "Parameter importances for val/loss",
                  "Parallel coordinates, coloured by val/loss", "Slice plots of val/loss"):
        assert f"<h2>{title}</h2>" in text
    assert "best val/loss</th>" in text and "val/loss (minimize)" in text

    best = sweep.best_trial.number
    assert re.findall(r'<tr class="best"><td>(\d+) ★</td>', text) == [str(best)]
    found = links(page)
    assert found["2"] == (copied / "2" / "report" / "report.html").resolve()  # its report
    assert found["0"] == (copied / "0").resolve()  # no report: its directory
    assert 'href="../0/"' in text  # relative: the search can be moved with its report

    header, rows = _table_after(text, "Trials")
    assert header[:3] == ["number", "state", "val/loss"] and header[-2:] == ["seconds", "run"]
    seconds = [row[header.index("seconds")] for row in rows]
    assert all(re.fullmatch(r"\d+\.\d\d", cell) for cell in seconds), seconds
    for column in ("val/loss", "model.optimizer.lr"):
        cells = [row[header.index(column)] for row in rows]
        assert all(_significant(cell) <= 6 for cell in cells), cells  # not 0.005903948646972072

    assert "img { display: block; width: 100%" in text  # full content width
    import matplotlib.image

    from crescendo.analysis.plots import DPI

    assert DPI >= 150
    for image in images:  # drawn for the ~1100 px it is shown at, not stretched from 600
        assert matplotlib.image.imread(image).shape[1] >= 1000, image.name


def test_pruned_trials_are_plotted_and_failed_ones_listed(search, tmp_path):
    runs = load(search.path).runs
    directory = fake_sweep(
        tmp_path / "mixed", runs, [0.4, 0.9, 0.3, None],
        states=[TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE, TrialState.FAIL],
        intermediate=[{0: 0.5, 1: 0.4}, {0: 1.0, 1: 0.9}, {0: 0.35, 1: 0.3}, None],
        errors=[None, None, None, "val/mae became NaN at epoch 1"], metric_names=["val/mae"],
    )
    sweep = Sweep(directory)
    assert sweep.metric_names == ["val/mae"]  # the study's own names come first
    figure = sweep.plot_history()
    ax = figure.axes[0]
    assert ax.get_ylabel() == "val/mae"
    pruned = [c for c in ax.collections if "pruned" in str(c.get_label())]
    assert len(pruned) == 1 and pruned[0].get_offsets().tolist() == [[1.0, 0.9]]
    assert any("pruned" in t.get_text() for t in ax.get_legend().get_texts())

    page = write_report(sweep, tmp_path / "out")
    text = page.read_text()
    assert "failed trials (not plotted): #3: val/mae became NaN at epoch 1" in text
    assert "<h2>Optimisation history of val/mae</h2>" in text and "best val/mae</th>" in text
    assert '<tr class="pruned"><td>1</td>' in text and '<tr class="fail"><td>3</td>' in text
    assert '<tr class="best"><td>2 ★</td>' in text
    assert "2 complete, 1 pruned, 1 fail" in text
    assert_offline_html(page)
