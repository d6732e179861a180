"""The original Crescendo 0.0.4's top-level run keys on the good path: ckpt_path (resume), compile, tags,
extras, debug=default|profiler, trainer=mps (refused where there is no MPS; the bad-input table has
the other refusals)."""

from __future__ import annotations

import io
import json
import subprocess
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from crescendo.checks import check
from crescendo.errors import ConfigError
from crescendo.extras import ask_for_tags
from crescendo.train import train
from helpers import CR

# a seeded run that draws random numbers every epoch (shuffled batches, dropout) and keeps scheduler
# and optimizer state (Adam's moments, a StepLR halving the rate each epoch)
SEEDED = ("seed=5", "data.batch_size=8", "model.dropout=0.2",
          "model.scheduler={_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 1, gamma: 0.5}")


def _val_losses(run_dir: Path) -> list[float]:
    metrics = pd.read_csv(run_dir / "metrics.csv").dropna(subset=["val/loss"])
    return list(metrics["val/loss"])


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]


def _assert_same_weights(a: Path, b: Path) -> None:
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.allclose(first[key], second[key], rtol=0, atol=1e-6), key


@pytest.mark.parametrize(("blocks", "model"), [("auto", "mlp"), ("1", "mlp"), ("auto", "mlp_ensemble")])
def test_a_run_resumed_from_its_last_checkpoint_is_the_uninterrupted_run(compose_cfg, data_dir, tmp_path, blocks, model):
    # quiet runs train in step blocks (auto = 16); 1 = Lightning's loop; the ensemble draws per member
    common = (f"data.data_dir={data_dir}", *SEEDED, f"batches_per_call={blocks}", f"model={model}")
    full = train(compose_cfg(*common, "trainer.max_epochs=4", run_dir=tmp_path / "full"))
    stopped = tmp_path / "stopped"
    train(compose_cfg(*common, "trainer.max_epochs=2", run_dir=stopped))
    resumed = train(compose_cfg(*common, "trainer.max_epochs=4", "ckpt_path=last", run_dir=stopped))

    # metrics.csv continues: epochs 0-1 from the first part, 2-3 from the resumed part
    assert _val_losses(stopped) == pytest.approx(_val_losses(tmp_path / "full"), rel=0, abs=1e-6)
    assert len(_val_losses(stopped)) == 4
    _assert_same_weights(stopped / "checkpoints/last.ckpt", tmp_path / "full/checkpoints/last.ckpt")
    _assert_same_weights(stopped / "checkpoints/best.ckpt", tmp_path / "full/checkpoints/best.ckpt")
    # the best so far came with the checkpoint: the same best epoch, objective and metrics
    assert (resumed.best_epoch, resumed.status) == (full.best_epoch, "complete")
    assert resumed.objective == pytest.approx(full.objective, rel=0, abs=1e-6)
    assert resumed.metrics["train/loss"] == pytest.approx(full.metrics["train/loss"], rel=0, abs=1e-6)
    assert resumed.test_loss == pytest.approx(full.test_loss, rel=0, abs=1e-6)


def test_a_run_that_failed_mid_training_resumes_from_the_checkpoint_it_kept(compose_cfg, data_dir, tmp_path):
    # the failure comes in epoch 2's end, before that epoch's checkpoint: last.ckpt (written on the
    # exception) holds epoch 1, and the resumed run trains epochs 2-3 as the uninterrupted run did
    common = (f"data.data_dir={data_dir}", *SEEDED, "trainer.max_epochs=4")
    train(compose_cfg(*common, run_dir=tmp_path / "full"))
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="failed on purpose at epoch 2"):
        train(compose_cfg(*common, "+callbacks.fail={_target_: lifecycle_callbacks.FailAtEpoch, epoch: 2}",
                          run_dir=crashed))
    assert json.loads((crashed / "result.json").read_text())["status"] == "failed"
    resumed = train(compose_cfg(*common, "ckpt_path=last", run_dir=crashed))
    assert resumed.status == "complete"
    assert _val_losses(crashed) == pytest.approx(_val_losses(tmp_path / "full"), rel=0, abs=1e-6)
    _assert_same_weights(crashed / "checkpoints/last.ckpt", tmp_path / "full/checkpoints/last.ckpt")


def test_a_checkpoint_file_continues_into_a_new_run_directory(compose_cfg, data_dir, tmp_path):
    common = (f"data.data_dir={data_dir}", *SEEDED)
    train(compose_cfg(*common, "trainer.max_epochs=4", run_dir=tmp_path / "full"))
    train(compose_cfg(*common, "trainer.max_epochs=2", run_dir=tmp_path / "first"))
    checkpoint = tmp_path / "first/checkpoints/last.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning: "The dirpath has changed ... won't be reloaded"
        result = train(compose_cfg(*common, "trainer.max_epochs=4", f"ckpt_path={checkpoint}", run_dir=tmp_path / "next"))
    # the new run holds epochs 2-3, trained as the uninterrupted run trained them
    assert _val_losses(tmp_path / "next") == pytest.approx(_val_losses(tmp_path / "full")[2:], rel=0, abs=1e-6)
    _assert_same_weights(tmp_path / "next/checkpoints/last.ckpt", tmp_path / "full/checkpoints/last.ckpt")
    # as Lightning's ModelCheckpoint does for another directory, the best so far starts afresh there
    assert result.best_epoch in (2, 3) and Path(result.best_checkpoint).parent == tmp_path / "next/checkpoints"


@pytest.mark.slow
def test_cr_resumes_with_the_originals_plus_spelling(data_dir, tmp_path):
    run_dir = tmp_path / "run"
    base = [CR, "data=regression", f"data.data_dir={data_dir}", "seed=1", "quiet=true", f"hydra.run.dir={run_dir}"]
    first = subprocess.run([*base, "trainer.max_epochs=2"], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*base, "trainer.max_epochs=3", f"+ckpt_path={run_dir}/checkpoints/last.ckpt"],
                            check=False, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    metrics = pd.read_csv(run_dir / "metrics.csv").dropna(subset=["val/loss"])
    assert list(metrics["epoch"]) == [0, 1, 2]
    assert json.loads((run_dir / "result.json").read_text())["status"] == "complete"


def test_compile_trains_and_its_checkpoint_loads_uncompiled(compose_cfg, data_dir, tmp_path):
    result = train(compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "compile=true", "seed=0"))
    assert result.status == "complete"
    from crescendo.models.mlp import MultilayerPerceptron

    model = MultilayerPerceptron.load_from_checkpoint(result.best_checkpoint, map_location="cpu")
    assert not any("_orig_mod" in key for key in model.state_dict())


def test_compile_without_a_cxx_compiler_is_a_config_error(compose_cfg, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    with pytest.raises(ConfigError, match=r"compile=true: needs a C\+\+ compiler .* — install one"):
        check(compose_cfg("data=diabetes", "compile=true"))


def test_tags_reach_result_json_and_mlflow(compose_cfg, data_dir, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    cfg = compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "logger=mlflow", "tags=[dev, baseline]",
                      f"paths.root_dir={tmp_path}")
    result = train(cfg)
    assert json.loads((Path(result.run_dir) / "result.json").read_text())["tags"] == ["dev", "baseline"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")  # logger=mlflow's default store
    experiment = client.get_experiment_by_name("train")
    (run,) = client.search_runs([experiment.experiment_id])
    assert {"dev", "baseline"} <= set(run.data.tags)


def test_print_config_and_ignore_warnings(compose_cfg, data_dir, tmp_path, capsys):
    cfg = compose_cfg(f"data.data_dir={data_dir}", "trainer.max_epochs=1", "extras.print_config=true",
                      "extras.ignore_warnings=true")
    with warnings.catch_warnings():  # ignore_warnings changes the process's filters: keep them to this test
        result = train(cfg)
        assert ("ignore", None, Warning, None, 0) in warnings.filters  # every warning, from anywhere
    printed = capsys.readouterr().out
    assert "CONFIG" in printed and "max_epochs: 1" in printed
    assert "max_epochs: 1" in (Path(result.run_dir) / "config_tree.log").read_text()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_enforce_tags_asks_at_a_terminal(compose_cfg):
    cfg = compose_cfg("data=diabetes", "extras.enforce_tags=true")
    shown = io.StringIO()
    ask_for_tags(cfg, stdin=_Terminal("exp1, cpu\n"), stdout=shown)
    assert list(cfg.tags) == ["exp1", "cpu"] and "Enter comma-separated tags" in shown.getvalue()
    check(cfg)  # tags given: nothing to refuse
    piped = compose_cfg("data=diabetes", "extras.enforce_tags=true")
    ask_for_tags(piped, stdin=io.StringIO("ignored\n"))  # not a terminal: no question, the check refuses
    with pytest.raises(ConfigError, match=r"tags=\[\]: must name at least one tag when extras.enforce_tags=true"):
        check(piped)


def test_debug_profiler_writes_its_report_in_the_run_dir(compose_cfg, data_dir, tmp_path):
    result = train(compose_cfg(f"data.data_dir={data_dir}", "debug=profiler"))
    report = Path(result.run_dir) / "fit-profiler.txt"
    assert result.status == "complete" and "run_training_epoch" in report.read_text()


def test_debug_default_trains_one_epoch_with_anomaly_detection(compose_cfg, data_dir):
    cfg = compose_cfg(f"data.data_dir={data_dir}", "debug=default")
    assert cfg.task_name == "debug" and cfg.trainer.detect_anomaly is True
    result = train(cfg)
    assert result.status == "complete" and _val_losses(Path(result.run_dir)) and len(_val_losses(Path(result.run_dir))) == 1


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS: trainer=mps trains")
def test_trainer_mps_names_trainer_cpu_where_there_is_no_mps(compose_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"trainer.accelerator=mps: this machine has no Apple silicon GPU .* use trainer=cpu"):
        train(compose_cfg("data=diabetes", "trainer=mps"))
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_cr_without_a_terminal_refuses_to_run_without_tags(tmp_path):
    proc = subprocess.run([CR, "data=diabetes", "extras.enforce_tags=true", f"hydra.run.dir={tmp_path / 'run'}"],
                          check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("cr: error: tags=[]: must name at least one tag"), proc.stderr
    assert "Enter comma-separated tags" not in proc.stdout and not (tmp_path / "run").exists()
