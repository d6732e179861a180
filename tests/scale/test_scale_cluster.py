"""SLURM through Hydra's submitit launcher (tested with submitit_local: each trial a separate job
process), and Lightning DDP on the CPU (two processes, one run directory written by rank 0)."""

from __future__ import annotations

import csv
import json

import pytest
from helpers import run_cr, write_arrays
from scale_helpers import check_exactly, load_trials


@pytest.mark.slow
def test_a_search_through_the_submitit_local_launcher(tmp_path):
    data = write_arrays(tmp_path / "data")
    sweep = tmp_path / "sweep"
    proc = run_cr(
        "data=regression", f"+data.data_dir={data}", "trainer.max_epochs=3", "hparams_search=optuna",
        "model.optimizer.lr=interval(0.001, 0.01)", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
        "hydra/launcher=submitit_local", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[2/2]" in proc.stdout
    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "train")
    check_exactly(trials, 2)
    # each job ran in its own submitit process and reported every epoch to the study from there
    # (CRESCENDO_SEARCH + hydra.job.num → its trial): the pruner saw the job's losses
    jobs = [p for p in (sweep / ".submitit").iterdir() if p.is_dir() and p.name.isdigit()]
    assert len(jobs) == 2 and all(list(j.glob("*_result.pkl")) for j in jobs)
    for t in trials:
        assert sorted(t.intermediate_values) == [0, 1, 2]
        assert min(t.intermediate_values.values()) == pytest.approx(t.value)


def test_only_rank_zero_writes_the_run_directory(tmp_path, monkeypatch):
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from crescendo.run_dir import save_result

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    save_result({"objective": 1.0}, tmp_path)
    assert not (tmp_path / "result.json").exists()
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    save_result({"objective": 1.0}, tmp_path)
    assert (tmp_path / "result.json").exists()


@pytest.mark.slow
def test_ddp_on_the_cpu_runs_two_processes_and_one_run_dir(tmp_path):
    data = write_arrays(tmp_path / "data", rows=(48, 16, 12))
    proc = run_cr("trainer=ddp_cpu", "data=regression", f"+data.data_dir={data}", "trainer.max_epochs=2",
                  "data.batch_size=8", "quiet=true", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = list((tmp_path / "results" / "train" / "runs").iterdir())
    assert len(runs) == 1  # rank 1 joined rank 0's run directory
    run = runs[0]
    assert (run / "train_ddp_process_1.log").is_file()  # rank 1 really ran
    result = json.loads((run / "result.json").read_text())
    assert result["status"] == "complete" and result["n_train"] == 48
    assert (run / result["best_checkpoint"]).is_file()
    # each rank trains on its own 24 of the 48 rows: 3 steps of 8 per epoch, not 6
    with open(run / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["train/loss"]]
    assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(0, 2), (1, 5)]


@pytest.mark.slow
def test_ddp_inside_a_search_is_refused_with_the_fix(tmp_path):
    proc = run_cr("trainer=ddp_cpu", "data=diabetes", "hparams_search=optuna", "model.optimizer.lr=interval(0.001, 0.01)",
                  f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("cr: error: trainer.strategy=ddp: a DDP trial inside a search is not supported")
