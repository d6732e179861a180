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


def test_predict_reads_and_writes_npy_npz_and_csv(search, tmp_path, monkeypatch, capsys):
    """Spectra kept as CSV (with or without a header) or .npz work as they are; -o defaults to beside X."""
    x = search.x("val")
    expected = load(search.path).best_run.predict(x)
    monkeypatch.chdir(tmp_path)

    header = ",".join(f"E{i}" for i in range(N_FEATURES))  # e.g. energies as column names
    np.savetxt(tmp_path / "X.csv", x, delimiter=",", header=header, comments="", fmt="%.9g")
    predict_main([str(search.path), "X.csv"])  # no -o: X.pred.csv
    out = capsys.readouterr().out
    assert "wrote X.pred.csv (16, 2)" in out and "header row skipped" in out
    lines = (tmp_path / "X.pred.csv").read_text().splitlines()
    assert lines[0] == "y0,y1" and len(lines) == len(x) + 1
    np.testing.assert_allclose(np.loadtxt(tmp_path / "X.pred.csv", delimiter=",", skiprows=1), expected, rtol=1e-6)

    np.savetxt(tmp_path / "plain.csv", x, delimiter=",", fmt="%.9g")  # no header: every row is data
    predict_main([str(search.path), "plain.csv", "-o", "Y.npz", "--ensemble", "2", "--std", "S.csv"])
    mean, std = load(search.path).ensemble(2).predict_stats(x)
    with np.load(tmp_path / "Y.npz") as written:
        assert written.files == ["y"]
        np.testing.assert_allclose(written["y"], mean, rtol=1e-6)
    assert (tmp_path / "S.csv").read_text().startswith("std0,std1\n")
    np.testing.assert_allclose(np.loadtxt(tmp_path / "S.csv", delimiter=",", skiprows=1), std, rtol=1e-5, atol=1e-7)

    np.savez(tmp_path / "inputs.npz", x=x, energies=np.arange(N_FEATURES))
    predict_main([str(search.path), "inputs.npz", "--key", "x"])  # no -o: inputs.pred.npz
    with np.load(tmp_path / "inputs.pred.npz") as written:
        np.testing.assert_allclose(written["y"], expected, rtol=1e-6)
    assert not list(tmp_path.glob(".*"))  # no temporary files left


PREDICT_ERRORS = [
    (["{nowhere}", "{x}", "-o", "Y.npy"], ["nowhere", "no such file or directory", "expected a run"]),
    (["{run}", "{wide}", "-o", "Y.npy"], [f"(n, {N_FEATURES})"]),
    (["{run}", "{missing_x}", "-o", "Y.npy"], ["missing_x.npy: no such file"]),
    (["{run}", "{x}", "-o", "Y.npy", "--std", "S.npy"], ["--std needs an ensemble"]),
    (["{run}", "{x}", "-o", "Y.npy", "--ensemble", "2"], ["--ensemble K picks", "a single run"]),
    (["{search}", "{x}", "-o", "Y.npy", "--ensemble", "9"], ["9 best runs", "only 4"]),
    (["{search}", "{x}", "-o", "Y.npy", "--ensemble", "0"], ["--ensemble", "at least 1"]),
    (["{search}", "{x}", "-o", "Y.npy", "--ensemble", "two"], ["--ensemble", "'two' is not a whole number"]),
    (["{search}", "{not_npy}", "-o", "Y.npy"], ["not_npy.npy: is not a .npy file"]),
    (["{search}", "{txt}", "-o", "Y.npy"], ["X.txt: unknown file type ('.txt')", ".npy, .npz or .csv"]),
    (["{search}", "{x}", "-o", "Y.txt"], ["-o Y.txt: unknown file type ('.txt') — write .npy, .npz or .csv"]),
    (["{search}", "{x}", "-o", "Y.npy", "--std", "S.h5"], ["--std S.h5: unknown file type ('.h5') — write .npy, .npz or .csv"]),
    (["{search}", "{ragged}", "-o", "Y.npy"], ["ragged.csv: line 3 has 5 cells but line 1 has 6"]),
    (["{search}", "{word}", "-o", "Y.npy"], ["word.csv: line 3, column 2 (b) holds 'oops', not a number"]),
    (["{search}", "{x}", "-o", "{x}"], ["is the input file"]),
    (["{search}", "{x}", "--key", "x"], ["--key x", "a .npy file"]),
    (["{search}", "{two}", "-o", "Y.npy"], ["two.npz: holds 2 arrays (a, b)", "--key NAME"]),
]
ERROR_IDS = ["no-path", "wrong-width", "no-x", "std-on-run", "ensemble-on-run", "too-many", "k-zero", "k-word",
             "not-npy", "x-suffix", "o-suffix", "std-suffix", "ragged-csv", "word-in-csv", "o-is-x", "key-on-npy",
             "npz-two"]


def _error_paths(search, x_file, tmp_path) -> dict:
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((3, N_FEATURES + 2)))
    (tmp_path / "not_npy.npy").write_text("1,2,3\n")
    (tmp_path / "X.txt").write_text("1,2,3\n")
    row = ",".join(["1"] * N_FEATURES)
    (tmp_path / "ragged.csv").write_text(f"{row}\n{row}\n1,2,3,4,5\n")
    (tmp_path / "word.csv").write_text(",".join("abcdef"[:N_FEATURES]) + f"\n{row}\n1,oops,3,4,5,6\n")
    np.savez(tmp_path / "two.npz", a=np.zeros((2, N_FEATURES)), b=np.zeros((2, N_FEATURES)))
    return {"nowhere": tmp_path / "nowhere", "x": x_file, "wide": wide, "missing_x": tmp_path / "missing_x.npy",
            "run": search.path / "0", "search": search.path, "not_npy": tmp_path / "not_npy.npy",
            "txt": tmp_path / "X.txt", "ragged": tmp_path / "ragged.csv", "word": tmp_path / "word.csv",
            "two": tmp_path / "two.npz"}


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
    assert not (tmp_path / "Y.npy").exists() and not (tmp_path / "Y.txt").exists()
    assert not list(tmp_path.glob(".*.tmp")) and not list(x_file.parent.glob("*.pred.*"))  # nothing half-written


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
    assert "Learning curves of the best runs" in text and "Optimisation history of val/loss" in text
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
        assert "best val/loss (objective, min)" in text and "best epoch" in text and "config.yaml" in text
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
    done = run_tool("cr-export", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "-o FILE" in done.stdout and ".pt2" in done.stdout and ".onnx" in done.stdout
    done = run_tool("cr-predict", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "--ensemble K" in done.stdout and "--std STD" in done.stdout
    assert ".npz" in done.stdout and ".csv" in done.stdout
    done = run_tool("cr-report", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "-o DIR" in done.stdout
