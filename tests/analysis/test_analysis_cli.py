"""`cr-predict` and `cr-report` as a user runs them (subprocesses), and their one-line errors."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from analysis_helpers import N_FEATURES, N_TARGETS, assert_offline_html, assert_one_line_error, assert_real_png, run_tool
from crescendo.analysis import load
from crescendo.analysis.cli import predict_main, report_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def x_file(search, tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "X.npy"
    np.save(path, search.x("val"))
    return path


def test_predict_with_the_best_run_of_a_search(search, x_file, tmp_path):
    out = tmp_path / "out" / "Y.npy"
    done = run_tool("cr-predict", search.path, x_file, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cr-predict: wrote") and "Traceback" not in done.stderr
    expected = load(search.path).best_run.predict(np.load(x_file))
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)


def test_predict_with_the_k_best_as_an_ensemble(search, x_file, tmp_path):
    done = run_tool("cr-predict", search.path, x_file, "-o", "Y.npy", "--ensemble", "3", "--std", "S.npy",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    mean, std = load(search.path).ensemble(3).predict_stats(np.load(x_file))
    np.testing.assert_allclose(np.load(tmp_path / "Y.npy"), mean, rtol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "S.npy"), std, rtol=1e-4, atol=1e-7)
    assert np.load(tmp_path / "S.npy").shape == (16, N_TARGETS)


def test_predict_with_a_run_and_an_ensemble_dir(search, kfold, x_file, tmp_path, monkeypatch, capsys):
    run_dir = search.path / "2"
    monkeypatch.chdir(tmp_path)
    predict_main([str(run_dir), str(x_file), "-o", "run.npy"])  # in-process: the same entry point
    assert capsys.readouterr().out.startswith("cr-predict: wrote run.npy (16, 2) from run")
    np.testing.assert_allclose(np.load(tmp_path / "run.npy"), load(run_dir).predict(np.load(x_file)), rtol=1e-6)

    done = run_tool("cr-predict", kfold.path, x_file, "-o", "ens.npy", "--std", "ens_std.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    mean, std = load(kfold.path).predict_stats(np.load(x_file))
    np.testing.assert_allclose(np.load(tmp_path / "ens.npy"), mean, rtol=1e-5)
    assert (np.load(tmp_path / "ens_std.npy") > 0).all()


PREDICT_ERRORS = [
    (["{nowhere}", "{x}", "-o", "Y.npy"], ["nowhere", "no such file or directory", "expected a run"]),
    (["{run}", "{wide}", "-o", "Y.npy"], [f"(n, {N_FEATURES})"]),
    (["{run}", "{missing_x}", "-o", "Y.npy"], ["missing_x.npy: no such file"]),
    (["{run}", "{x}", "-o", "Y.npy", "--std", "S.npy"], ["--std needs an ensemble"]),
    (["{run}", "{x}", "-o", "Y.npy", "--ensemble", "2"], ["--ensemble K picks", "a single run"]),
    (["{search}", "{x}", "-o", "Y.npy", "--ensemble", "9"], ["9 best runs", "only 4"]),
    (["{search}", "{x}", "-o", "Y.npy", "--ensemble", "0"], ["--ensemble", "at least 1"]),
    (["{search}", "{x}", "-o", "Y.npy", "--ensemble", "two"], ["--ensemble", "'two' is not a whole number"]),
    (["{search}", "{x}"], ["-o"]),
    (["{search}", "{not_npy}", "-o", "Y.npy"], ["not_npy.npy: cannot be read as a .npy array"]),
]
ERROR_IDS = ["no-path", "wrong-width", "no-x", "std-on-run", "ensemble-on-run", "too-many", "k-zero", "k-word",
             "no-output", "not-npy"]


def _error_paths(search, x_file, tmp_path) -> dict:
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((3, N_FEATURES + 2)))
    (tmp_path / "not_npy.npy").write_text("1,2,3\n")
    return {"nowhere": tmp_path / "nowhere", "x": x_file, "wide": wide, "missing_x": tmp_path / "missing_x.npy",
            "run": search.path / "0", "search": search.path, "not_npy": tmp_path / "not_npy.npy"}


@pytest.mark.parametrize(("args", "expected"), PREDICT_ERRORS, ids=ERROR_IDS)
def test_predict_errors_are_one_line(search, x_file, tmp_path, monkeypatch, capsys, args, expected):
    """Every error case, through the console-script function in this process (no start-up cost)."""
    monkeypatch.chdir(tmp_path)
    paths = _error_paths(search, x_file, tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        predict_main([a.format(**paths) for a in args])
    captured = capsys.readouterr()
    done = subprocess.CompletedProcess(args, exit_info.value.code, captured.out, captured.err)
    assert_one_line_error(done, "cr-predict", *expected)
    assert not (tmp_path / "Y.npy").exists()


@pytest.mark.parametrize("case", ["no-path", "wrong-width"])
def test_predict_errors_from_the_installed_command(search, x_file, tmp_path, case):
    args, expected = PREDICT_ERRORS[ERROR_IDS.index(case)]
    paths = _error_paths(search, x_file, tmp_path)
    done = run_tool("cr-predict", *[a.format(**paths) for a in args], cwd=tmp_path)
    assert_one_line_error(done, "cr-predict", *expected)


def test_report_of_a_search(search, tmp_path):
    out = tmp_path / "report"
    done = run_tool("cr-report", search.path, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = out / "report.html"
    assert f"wrote {page}" in done.stdout
    images = assert_offline_html(page)
    names = {image.name for image in images}
    assert {"optimization_history.png", "param_importances.png", "parallel_coordinate.png", "slice.png",
            "learning_curves.png"} <= names
    for image in images:
        assert_real_png(image)
    text = page.read_text()
    assert "Learning curves of the 4 best runs" in text  # 5 best, but the search has 4
    assert text.count("<td>COMPLETE</td>") == 4  # the trials table
    assert "model.optimizer.lr" in text and "model.architecture" in text


def test_report_of_a_run_and_of_an_ensemble(search, kfold, tmp_path):
    # a subprocess for the run, the entry point in-process for the ensemble
    done = run_tool("cr-report", search.path / "1", cwd=tmp_path)  # default: <run>/report
    assert done.returncode == 0, done.stderr
    page = search.path / "1" / "report" / "report.html"
    try:
        images = assert_offline_html(page)
        assert [image.name for image in images] == ["learning_curves.png"]
        assert_real_png(images[0])
        text = page.read_text()
        assert "objective" in text and "best_epoch" in text and "config.yaml" in text
    finally:  # leave the shared search as it was
        import shutil

        shutil.rmtree(search.path / "1" / "report")

    report_main([str(kfold.path), "-o", str(tmp_path / "ens")])  # in-process: the same entry point
    images = assert_offline_html(tmp_path / "ens" / "report.html")
    assert [image.name for image in images] == ["learning_curves.png"]
    assert_real_png(images[0])
    assert (tmp_path / "ens" / "report.html").read_text().count("<td>complete</td>") == 3


def test_report_errors_are_one_line(tmp_path, capsys):
    assert_one_line_error(run_tool("cr-report", tmp_path / "nowhere", cwd=tmp_path), "cr-report", "nowhere")
    with pytest.raises(SystemExit) as exit_info:
        report_main([])
    done = subprocess.CompletedProcess([], exit_info.value.code, "", capsys.readouterr().err)
    assert_one_line_error(done, "cr-report", "PATH")


def test_help_is_fast_and_names_the_options(tmp_path):
    done = run_tool("cr-predict", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "--ensemble K" in done.stdout and "--std STD.npy" in done.stdout
    done = run_tool("cr-report", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "-o DIR" in done.stdout
