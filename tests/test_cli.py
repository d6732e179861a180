"""`cr` as a user types it: end-to-end runs, Hydra flags, and one clear line for bad input."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from helpers import run_cr, write_arrays


def _run_dirs(root):
    return sorted(root.glob("results/*/runs/*"))


@pytest.mark.slow
def test_seed_command_trains_end_to_end(tmp_path):
    data = write_arrays(tmp_path / "data", n_features=6, n_targets=3)
    done = run_cr(
        "model=mlp", "data=regression", f"+data.data_dir={data}", "trainer.max_epochs=2",
        "model.last_activation={_target_: torch.nn.Sigmoid}", "trainer.accelerator=cpu",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = _run_dirs(tmp_path)
    record = json.loads((run_dir / "result.json").read_text())
    assert record["status"] == "complete" and record["output_dims"] == 3
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file() and (run_dir / "metrics.csv").is_file()


def test_data_dir_without_plus_also_works(tmp_path):
    data = write_arrays(tmp_path / "data")
    done = run_cr(f"data.data_dir={data}", "trainer.max_epochs=1", "quiet=true", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(_run_dirs(tmp_path)) == 1


def test_help_answers_fast(tmp_path):
    started = time.perf_counter()
    done = run_cr("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "data: diabetes, regression" in done.stdout and "hparams_search" in done.stdout
    # a loose bound against importing torch at start-up (the README promises < 2 s on an idle machine)
    assert time.perf_counter() - started < 10


def test_cfg_job_prints_the_composed_config(tmp_path):
    done = run_cr("--cfg", "job", "model=mlp", "data=diabetes", cwd=tmp_path)
    assert done.returncode == 0
    assert "builtin: diabetes" in done.stdout and not _run_dirs(tmp_path)


BAD_INPUTS = [
    # (overrides, text the one-line message must contain)
    (["data.data_dir={tmp}/nowhere"], "nowhere"),
    (["data.data_dir={tmp}/data", "model.architecture=abc"], "model.architecture"),
    (["data.data_dir={tmp}/data", "data.batch_size=0"], "data.batch_size"),
    (["data.data_dir={tmp}/nan"], "X_train.npy"),
    (["data.data_dir={tmp}/missing_val"], "X_val.npy"),
]


@pytest.mark.parametrize(("overrides", "expected"), BAD_INPUTS)
def test_bad_input_is_one_clear_line(tmp_path, overrides, expected):
    write_arrays(tmp_path / "data")
    nan_dir = write_arrays(tmp_path / "nan")
    x = np.load(nan_dir / "X_train.npy")
    x[3, 1] = np.nan
    np.save(nan_dir / "X_train.npy", x)
    missing = write_arrays(tmp_path / "missing_val")
    (missing / "X_val.npy").unlink()

    done = run_cr(*[o.format(tmp=tmp_path) for o in overrides], "trainer.max_epochs=1", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (error_line,) = [line for line in done.stderr.splitlines() if line.startswith("cr: error:")]
    assert expected in error_line
    assert not _run_dirs(tmp_path), "a failed run must leave nothing half-written"


def test_unknown_group_option_lists_the_choices(tmp_path):
    done = run_cr("data=nope", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == "cr: error: data=nope: no such option — choose one of diabetes, regression\n"


def test_unknown_key_names_it(tmp_path):
    done = run_cr("model.nonsense=1", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("cr: error: model.nonsense: not a key of the config — model's keys are ")
    assert done.stderr.endswith(" (to add a new key write +model.nonsense=1)\n")
