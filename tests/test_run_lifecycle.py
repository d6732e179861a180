"""A single run's lifecycle as `cr` leaves it on disk: the user's bad input leaves no run directory
(exit 2), a failure after training started keeps its run directory with result.json saying
`status: failed` and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cr, write_arrays

TESTS = Path(__file__).parent


def _run_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("results/*/runs/*"))


@pytest.mark.parametrize(
    "overrides",
    [
        ["data.data_dir={tmp}/nowhere"],  # found by the data module, after Hydra made the run dir
        ["data.data_dir={tmp}/data", "trainer.max_epochz=1"],  # found by Hydra, before
        ["data.data_dir={tmp}/data", "model=mlpp"],
        ["data.data_dir={tmp}/data", "model.architecture=wide"],  # found when the model is built
        ["data.data_dir={tmp}/data", "+trainer.limit_train_batches=0.0001"],  # found by Lightning as fit starts
    ],
)
def test_bad_input_leaves_no_run_dir(tmp_path, overrides):
    write_arrays(tmp_path / "data")
    done = run_cr(*[o.format(tmp=tmp_path) for o in overrides], "trainer.max_epochs=1", "quiet=true", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("cr: error:") == 1, done.stderr
    assert not _run_dirs(tmp_path), [list(d.iterdir()) for d in _run_dirs(tmp_path)]


@pytest.mark.slow
def test_a_failure_inside_fit_keeps_the_run_with_its_reason(tmp_path):
    write_arrays(tmp_path / "data")
    done = run_cr(f"data.data_dir={tmp_path / 'data'}", "trainer.max_epochs=3", "quiet=true",
                  "+callbacks.fail._target_=lifecycle_callbacks.FailAtEpoch", "+callbacks.fail.epoch=1",
                  cwd=tmp_path, env={"PYTHONPATH": str(TESTS)})
    assert done.returncode == 1
    assert "RuntimeError: failed on purpose at epoch 1" in done.stderr  # not the user's input: a traceback
    (run_dir,) = _run_dirs(tmp_path)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "failed"
    assert result["error"] == "RuntimeError: failed on purpose at epoch 1"
    assert (run_dir / "config.yaml").is_file() and (run_dir / "metrics.csv").is_file()


@pytest.mark.slow
def test_a_non_finite_loss_keeps_the_run_with_its_reason(tmp_path):
    write_arrays(tmp_path / "data")
    done = run_cr(f"data.data_dir={tmp_path / 'data'}", "trainer.max_epochs=3", "quiet=true",
                  "model.optimizer.lr=1e12", "seed=0", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("cr: error:")]
    (run_dir,) = _run_dirs(tmp_path)
    assert "train/loss is " in line and str(run_dir) in line and line.count("model.optimizer.lr") == 1, line
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "failed"
    assert result["error"].startswith("NonFiniteLossError: train/loss is ")  # nan or inf
