"""`cr-export`: the best model as one file that takes RAW inputs (feature selection and scaler built in).

Every file is loaded back the way a user without crescendo would — torch alone for .pt2, onnxruntime
alone for .onnx, in a fresh process that checks crescendo was never imported — and must give what
`predict` gives on raw inputs, for other row counts than the 3 rows the graph was traced with.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from analysis_helpers import COLUMNS, N_FEATURES, N_TARGETS, assert_one_line_error, run_tool
from crescendo.analysis import Ensemble, export_model, load, raw_input_model
from crescendo.analysis.cli import export_main

pytestmark = pytest.mark.slow

#: predictions from an exported file and from `predict` agree to this (float32 networks)
TOLERANCE = 1e-5

_LOAD_ALONE = """
import sys
import numpy as np
kind, model, inputs, outputs = sys.argv[1], sys.argv[2], sys.argv[3::2], sys.argv[4::2]
if kind == "pt2":
    import torch
    module = torch.export.load(model).module()
    predict = lambda x: module(torch.from_numpy(x)).detach().numpy()
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    predict = lambda x: session.run(None, {"x": x})[0]
    assert "torch" not in sys.modules, "onnxruntime alone must run the file"
for source, target in zip(inputs, outputs):
    np.save(target, predict(np.load(source).astype(np.float32)))
assert not [m for m in sys.modules if m.startswith(("crescendo", "lightning"))], "the file needed crescendo"
"""


def predict_alone(model_file, arrays: dict[str, np.ndarray], tmp_path) -> dict[str, np.ndarray]:
    """Run an exported file in a fresh Python with only torch (.pt2) or onnxruntime (.onnx)."""
    args = []
    for name, x in arrays.items():
        np.save(tmp_path / f"in_{name}.npy", x)
        args += [str(tmp_path / f"in_{name}.npy"), str(tmp_path / f"out_{name}.npy")]
    kind = model_file.suffix.lstrip(".")
    done = subprocess.run([sys.executable, "-c", _LOAD_ALONE, kind, str(model_file), *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return {name: np.load(tmp_path / f"out_{name}.npy") for name in arrays}


def raw_inputs(search) -> dict[str, np.ndarray]:
    """Raw rows of several counts (the export traced 3): all validation, all training, one row."""
    return {"val": search.x("val"), "train": search.x("train"), "one": search.x("test")[:1]}


def test_pt2_of_a_search_is_its_best_run_on_raw_inputs(search, tmp_path):
    """The installed command, as a user runs it; the file loads with torch alone."""
    best = load(search.path).best_run
    assert best.config.data.feature_select and best.config.data.normalize_inputs  # the wrapper has work to do
    done = run_tool("cr-export", search.path, "-o", "best.pt2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"from the best run of the search (trial #{best.path.name}" in done.stdout
    assert f"raw inputs (n, {N_FEATURES}) float32 -> (n, {N_TARGETS})" in done.stdout
    assert "torch.export.load('best.pt2').module()" in done.stdout

    arrays = raw_inputs(search)
    exported = predict_alone(tmp_path / "best.pt2", arrays, tmp_path)
    for name, x in arrays.items():
        assert exported[name].shape == (len(x), N_TARGETS)
        np.testing.assert_allclose(exported[name], best.predict(x), rtol=0, atol=TOLERANCE)
    # the network alone (what run.model() gives) expects selected, scaled inputs: not the same numbers
    import torch

    with torch.no_grad():
        network_on_selected = best.model()(torch.from_numpy(arrays["val"][:, COLUMNS])).numpy()
    assert np.abs(network_on_selected - exported["val"]).max() > 1e-3


def test_onnx_of_a_run_runs_in_onnxruntime(search, tmp_path, monkeypatch, capsys):
    import onnx

    run = load(search.path / "2")
    monkeypatch.chdir(tmp_path)
    export_main([str(run.path), "-o", "model.onnx"])
    assert "(ONNX) from run" in capsys.readouterr().out
    arrays = raw_inputs(search)
    exported = predict_alone(tmp_path / "model.onnx", arrays, tmp_path)
    for name, x in arrays.items():
        np.testing.assert_allclose(exported[name], run.predict(x), rtol=0, atol=TOLERANCE)
    metadata = {p.key: p.value for p in onnx.load(str(tmp_path / "model.onnx")).metadata_props}
    assert json.loads(metadata["crescendo"])["runs"] == [str(run.path)]
    assert not list(tmp_path.glob(".*"))  # no temporary file left beside it


def test_batched_ensemble_exports_its_mean_or_every_member(batched, tmp_path):
    import torch

    ensemble = load(batched.path)
    x = batched.x("val")
    mean, _ = ensemble.predict_stats(x)
    export_model(ensemble, tmp_path / "mean.pt2")
    export_model(ensemble, tmp_path / "members.pt2", members=True)
    with torch.no_grad():
        got_mean = torch.export.load(tmp_path / "mean.pt2").module()(torch.from_numpy(x[:7])).numpy()
        got_members = torch.export.load(tmp_path / "members.pt2").module()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got_mean, mean[:7], rtol=0, atol=TOLERANCE)
    assert got_members.shape == (3, len(x), N_TARGETS)
    np.testing.assert_allclose(got_members, ensemble.predict(x), rtol=0, atol=TOLERANCE)


def test_kfold_members_each_keep_their_scaler_in_onnx(kfold, tmp_path):
    import onnxruntime

    ensemble = load(kfold.path)
    assert isinstance(ensemble, Ensemble) and len(ensemble.runs) == 3
    export_model(ensemble, tmp_path / "kfold.onnx", members=True)
    session = onnxruntime.InferenceSession(str(tmp_path / "kfold.onnx"), providers=["CPUExecutionProvider"])
    x = kfold.x("train")[:5]
    np.testing.assert_allclose(session.run(None, {"x": x})[0], ensemble.predict(x), rtol=0, atol=TOLERANCE)
    module = raw_input_model(ensemble)  # the same wrapper, in memory: the members' mean
    import torch

    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), ensemble.predict_stats(x)[0],
                                   rtol=0, atol=TOLERANCE)


EXPORT_ERRORS = [
    (["{run}", "-o", "model.pt"], ["model.pt: unknown export format ('.pt')", ".pt2", ".onnx"]),
    (["{run}", "-o", "model"], ["unknown export format (no suffix)"]),
    (["{nowhere}", "-o", "model.pt2"], ["nowhere: no such file or directory", "expected a run"]),
    (["{run}", "-o", "model.pt2", "--members"], ["--members needs an ensemble", "single run"]),
    (["{run}", "-o", "model.pt2", "--ensemble", "2"], ["--ensemble K picks the K best runs of a search"]),
    (["{run}"], ["-o"]),
]


@pytest.mark.parametrize(("args", "expected"), EXPORT_ERRORS, ids=["pt", "no-suffix", "no-path", "members-of-run",
                                                                   "ensemble-of-run", "no-output"])
def test_export_errors_are_one_line_and_write_nothing(search, tmp_path, monkeypatch, capsys, args, expected):
    monkeypatch.chdir(tmp_path)
    paths = {"run": search.path / "0", "nowhere": tmp_path / "nowhere"}
    with pytest.raises(SystemExit) as exit_info:
        export_main([a.format(**paths) for a in args])
    done = subprocess.CompletedProcess(args, exit_info.value.code, "", capsys.readouterr().err)
    assert_one_line_error(done, "cr-export", *expected)
    assert list(tmp_path.iterdir()) == []


def test_onnx_without_the_extra_names_the_pip_install(search, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed: import fails
    with pytest.raises(SystemExit) as exit_info:
        export_main([str(search.path), "-o", str(tmp_path / "model.onnx")])
    done = subprocess.CompletedProcess([], exit_info.value.code, "", capsys.readouterr().err)
    assert_one_line_error(done, "cr-export", "needs onnxscript", "pip install 'crescendo[onnx]'")
    assert list(tmp_path.iterdir()) == []
