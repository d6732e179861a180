"""What a single `cr` run shows a user: `cr --version`, Lightning's INFO lines once, and the summary it
ends with (run dir, best epoch, objective, test loss, checkpoint, early stopping), which result.json
agrees with."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

from helpers import run_cr

from crescendo import __version__
from crescendo.result import TrainResult
from crescendo.run_summary import summary_lines
from crescendo.train import train


def test_version_names_crescendo_and_the_libraries_it_stands_on(tmp_path):
    done = run_cr("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith(f"crescendo {__version__} (")
    for name, dist in (("Hydra", "hydra-core"), ("Lightning", "lightning"), ("torch", "torch"), ("Optuna", "optuna")):
        assert f"{name} {metadata.version(dist)}" in line
    assert not done.stderr and not (tmp_path / "results").exists()


def test_version_imports_neither_torch_nor_lightning(tmp_path):
    probe = ("import sys; sys.argv = ['cr', '--version']\n"
             "from crescendo.cli import main\n"
             "main()\n"
             "print('heavy:', sorted(m for m in ('torch', 'lightning', 'optuna') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout


def test_summary_lines_say_where_the_run_is_and_what_it_reached():
    result = TrainResult(objective=0.125, monitor="val/loss", mode="min", status="complete", run_dir="/r/run",
                         best_checkpoint="/r/run/checkpoints/best.ckpt", best_epoch=4, test_loss=0.25,
                         early_stopping={"stopped_epoch": 7, "reason": "patience_exhausted",
                                         "message": "Monitored metric val/loss did not improve in the last 3 records. "
                                                    "Best score: 0.125. Signaling Trainer to stop."})
    assert summary_lines(result) == [
        "run dir: /r/run",
        "  best epoch: 4  objective val/loss=0.125 (min)",
        "  test/loss: 0.25 (best checkpoint on the test split)",
        "  best checkpoint: /r/run/checkpoints/best.ckpt",
        ("  early stopping: stopped at epoch 7 (Monitored metric val/loss did not improve in the last 3 records. "
         "Best score: 0.125.)"),
    ]
    pruned = TrainResult(objective=float("nan"), monitor="val/loss", mode="min", status="pruned", run_dir="/r/p")
    assert summary_lines(pruned) == ["run dir: /r/p (pruned)", "  no epoch logged val/loss: no objective"]


def test_result_json_records_no_early_stopping_when_none_fired(compose_cfg, data_dir, tmp_path):
    result = train(compose_cfg(f"data.data_dir={data_dir}", "data.batch_size=16", "trainer.max_epochs=2",
                               "callbacks=early_stopping"))
    assert result.early_stopping is None
    assert json.loads((tmp_path / "run" / "result.json").read_text())["early_stopping"] is None


def test_a_single_run_ends_with_its_summary_and_prints_lightning_lines_once(tmp_path):
    # a min_delta no epoch can beat: Lightning's EarlyStopping stops after epoch 1 with patience 1
    done = run_cr("data=diabetes", "trainer.max_epochs=6", "callbacks=early_stopping",
                  "callbacks.early_stopping.patience=1", "callbacks.early_stopping.min_delta=1e9",
                  "trainer.enable_progress_bar=false", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = sorted((tmp_path / "results" / "train" / "runs").iterdir())
    record = json.loads((run_dir / "result.json").read_text())
    stopped = record["early_stopping"]
    assert stopped["stopped_epoch"] == 1 and stopped["reason"] == "patience_exhausted"
    assert stopped["monitor"] == "val/loss" and stopped["patience"] == 1

    out = done.stdout
    summary = out[out.index(f"run dir: {run_dir}"):].splitlines()
    assert summary[0] == f"run dir: {run_dir}"
    assert summary[1] == f"  best epoch: {record['best_epoch']}  objective val/loss={record['objective']:.6g} (min)"
    assert summary[2] == f"  test/loss: {record['test_loss']:.6g} (best checkpoint on the test split)"
    assert summary[3] == f"  best checkpoint: {run_dir / record['best_checkpoint']}"
    assert summary[4].startswith("  early stopping: stopped at epoch 1 (Monitored metric val/loss did not improve")

    # Lightning's INFO lines: once on the console, and in Hydra's run log file
    console = done.stdout + done.stderr
    for line in ("GPU available: ", "Restoring states from the checkpoint path"):
        assert console.count(line) == 1, console
        assert (run_dir / "cli.log").read_text().count(line) == 1
    assert "Traceback" not in console

