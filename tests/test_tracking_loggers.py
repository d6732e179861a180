"""logger=mlflow and logger=tensorboard, read back with the libraries' own readers (no mocks).

MLflow: a real SQLite tracking store, read with `mlflow.MlflowClient`. TensorBoard: the run's event
files, read with tensorboard's `EventAccumulator` (the hparams plugin's data and the scalars).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from helpers import run_cr, write_arrays
from lightning.pytorch.callbacks import Callback

from crescendo.mlflow_store import run_name_for
from crescendo.train import train

mlflow = pytest.importorskip("mlflow")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
plugin_data_pb2 = pytest.importorskip("tensorboard.plugins.hparams.plugin_data_pb2")


def _runs(store: Path, experiment: str = "train") -> list:
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment} in {store}"
    return client.search_runs([found.experiment_id], max_results=100)


def _tensorboard(directory: Path) -> tuple[dict, dict]:
    """(hparams of the run's session, {scalar tag: [(step, value)]}) from the event files in `directory`."""
    events = event_accumulator.EventAccumulator(str(directory), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    hparams = {key: value.number_value if value.HasField("number_value") else value.string_value
               for key, value in start.hparams.items()}
    scalars = {tag: [(event.step, event.value) for event in events.Scalars(tag)]
               for tag in events.Tags()["scalars"]}
    return hparams, scalars


def test_mlflow_run_in_a_local_sqlite_store(compose_cfg, data_dir, tmp_path):
    root = tmp_path / "results"
    cfg = compose_cfg(f"data.data_dir={data_dir}", "logger=mlflow", f"paths.root_dir={root}", "trainer.max_epochs=3",
                      "model.architecture=[7,5]", "model.optimizer.lr=0.004", "data.batch_size=16", "seed=2")
    result = train(cfg)

    assert (root / "mlflow.db").is_file() and (tmp_path / "run" / "metrics.csv").is_file()  # the CSV log beside it
    [run] = _runs(root / "mlflow.db")
    params = run.data.params
    assert params["model/optimizer/lr"] == "0.004"
    assert params["model/architecture"] == "[7, 5]"
    assert params["data/batch_size"] == "16" and params["seed"] == "2" and params["trainer/max_epochs"] == "3"
    assert "batch_size" not in params  # once: not the data module's own hparams a second time
    assert run.info.status == "FINISHED"
    assert run.info.run_name == run_name_for(result.run_dir)  # the run directory, relative to cwd when inside it
    assert run.data.tags["crescendo.run_dir"] == result.run_dir
    assert run.info.artifact_uri.startswith((root / "mlartifacts").as_uri()) or \
        run.info.artifact_uri.startswith(str(root / "mlartifacts"))
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    history = client.get_metric_history(run.info.run_id, "val/loss")
    assert sorted(m.step for m in history) == sorted({m.step for m in history}) and len(history) == 3  # per epoch
    assert min(m.value for m in history) == pytest.approx(result.objective, rel=1e-5)


def test_tensorboard_gets_hparams_once_with_the_objective(compose_cfg, data_dir, tmp_path):
    cfg = compose_cfg(f"data.data_dir={data_dir}", "logger=tensorboard", "trainer.max_epochs=3",
                      "model.optimizer.lr=0.003", "model.architecture=2", "seed=4")
    result = train(cfg)

    hparams, scalars = _tensorboard(tmp_path / "run" / "tensorboard")
    assert hparams["model/optimizer/lr"] == pytest.approx(0.003)
    assert hparams["model/architecture"] == pytest.approx(2) and hparams["seed"] == pytest.approx(4)
    assert "data/batch_size" in hparams and "trainer/max_epochs" in hparams and "batch_size" not in hparams
    assert len(scalars["val/loss"]) == 3 and len(scalars["train/loss"]) == 3  # per epoch
    [(_, hp_metric)] = scalars["hp_metric"]  # once, and not Lightning's -1 placeholder
    assert hp_metric == pytest.approx(result.objective, rel=1e-5) and hp_metric != -1


class PruneAtEpoch(Callback):
    """Stop the run as Optuna's pruning callback does: `optuna.TrialPruned` at validation end of `epoch`."""

    def __init__(self, epoch: int = 1) -> None:
        self.epoch = epoch

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch and not trainer.sanity_checking:
            import optuna

            raise optuna.TrialPruned(f"pruned at epoch {self.epoch}")


def test_a_pruned_run_ends_killed_in_mlflow_and_reports_what_it_reached(compose_cfg, data_dir, tmp_path):
    root = tmp_path / "results"
    cfg = compose_cfg(f"data.data_dir={data_dir}", "logger=[mlflow,tensorboard]", f"paths.root_dir={root}",
                      "trainer.max_epochs=4", "seed=5", "+callbacks.prune._target_=test_tracking_loggers.PruneAtEpoch")
    result = train(cfg)

    assert result.status == "pruned" and result.best_epoch == 0
    [run] = _runs(root / "mlflow.db")
    assert run.info.status == "KILLED"  # stopped on purpose, not FAILED
    assert run.data.params["model/optimizer/lr"] == "0.001"
    _, scalars = _tensorboard(tmp_path / "run" / "tensorboard")
    [(_, hp_metric)] = scalars["hp_metric"]
    assert hp_metric == pytest.approx(result.objective, rel=1e-5)


@pytest.mark.slow
def test_a_search_nests_its_trials_under_one_mlflow_run_per_study(tmp_path):
    data = write_arrays(tmp_path / "data")
    root = tmp_path / "results"
    sweep = tmp_path / "sweep"
    proc = run_cr("hparams_search=optuna", "logger=mlflow", f"+data.data_dir={data}", f"paths.root_dir={root}",
                  "trainer.max_epochs=2", "model.optimizer.lr=choice(0.001, 0.004, 1e30)", "hydra.sweeper.sampler=grid",
                  "hydra.sweeper.n_trials=3", "hydra.sweeper.study_name=mlflow_study", f"hydra.sweep.dir={sweep}",
                  "seed=0", cwd=tmp_path)  # lr=1e30 diverges: that trial FAILs
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(sweep / "trials.csv") as f:
        trials = {int(row["number"]): row for row in csv.DictReader(f)}

    runs = _runs(root / "mlflow.db")
    [parent] = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert parent.data.tags["optuna.study_name"] == "mlflow_study" and parent.info.status == "FINISHED"
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1 == 3
    by_trial = {int(run.data.tags["optuna.trial_number"]): run for run in children}
    assert set(by_trial) == set(trials)
    for number, run in by_trial.items():
        assert run.data.tags["optuna.study_name"] == "mlflow_study"
        assert run.data.tags["optuna.trial_state"] == trials[number]["state"]
        lr = float(run.data.params["model/optimizer/lr"])
        assert lr == pytest.approx(float(trials[number]["model.optimizer.lr"]))
        assert trials[number]["state"] == ("FAIL" if lr > 1 else "COMPLETE")
        assert run.info.status == ("FAILED" if lr > 1 else "FINISHED")
        assert run.info.run_name.endswith(f"sweep/{number}")  # named after its run directory
        assert Path(run.data.tags["crescendo.run_dir"]) == Path(trials[number]["run_dir"])
        if lr < 1:
            assert run.data.metrics["val/loss"] > 0 and not math.isnan(run.data.metrics["val/loss"])
    assert sorted(row["state"] for row in trials.values()) == ["COMPLETE", "COMPLETE", "FAIL"]
    best = min((row for row in trials.values() if row["state"] == "COMPLETE"), key=lambda row: float(row["value"]))
    assert parent.data.tags["optuna.best_trial"] == best["number"]


def test_a_resumed_study_reuses_its_parent_run(tmp_path):
    from hydra_plugins.crescendo_sweeper._mlflow import (
        MlflowStudy,
        close_study_run,
        open_study_run,
        record_trial_state,
        trial_overrides,
    )

    store = tmp_path / "mlflow.db"
    study = MlflowStudy(f"sqlite:///{store}", "train", str(tmp_path / "mlartifacts"))
    first = open_study_run(study, "s", "sqlite:///study.db", str(tmp_path / "sweep1"))
    client = mlflow.MlflowClient(study.tracking_uri)
    experiment_id = client.get_run(first.parent_run_id).info.experiment_id
    trial = client.create_run(experiment_id, tags={"mlflow.parentRunId": first.parent_run_id,
                                                   "optuna.study_name": "s", "optuna.trial_number": "0"})
    record_trial_state(first, 0, "PRUNED")
    close_study_run(first, "KILLED")
    assert client.get_run(trial.info.run_id).data.tags["optuna.trial_state"] == "PRUNED"
    assert client.get_run(first.parent_run_id).info.status == "KILLED"

    again = open_study_run(study, "s", "sqlite:///study.db", str(tmp_path / "sweep2"))
    other = open_study_run(study, "another", "sqlite:///study.db", str(tmp_path / "sweep3"))
    assert again.parent_run_id == first.parent_run_id != other.parent_run_id
    assert client.get_run(again.parent_run_id).info.status == "RUNNING"
    assert trial_overrides(again, "s", 4) == [
        f"++logger.mlflow.tags={{mlflow.parentRunId:'{first.parent_run_id}',optuna.study_name:'s',optuna.trial_number:'4'}}"]


@pytest.mark.slow
def test_a_remote_tracking_server_by_uri(tmp_path, data_dir):
    """`logger.mlflow.tracking_uri=http://…`: a real `mlflow server`; nothing is written to a local store."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        work = tmp_path / "work"
        work.mkdir()
        proc = run_cr("logger=mlflow", f"logger.mlflow.tracking_uri={uri}", f"+data.data_dir={data_dir}",
                      "trainer.max_epochs=2", "model.optimizer.lr=0.002", "quiet=true", cwd=work)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        client = mlflow.MlflowClient(uri)
        [run] = client.search_runs([client.get_experiment_by_name("train").experiment_id])
        assert run.info.status == "FINISHED" and run.data.params["model/optimizer/lr"] == "0.002"
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # the server's choice
        assert len(client.get_metric_history(run.info.run_id, "val/loss")) == 2
        assert not (work / "results" / "mlflow.db").exists() and not (work / "results" / "mlartifacts").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_unreachable_tracking_server_is_one_line_and_no_run_dir(tmp_path, data_dir):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # MLflow's own retries (defaults kept) would take about 4 minutes: the timeout fails the test then
    proc = run_cr("logger=mlflow", f"logger.mlflow.tracking_uri=http://127.0.0.1:{port}", f"+data.data_dir={data_dir}",
                  "trainer.max_epochs=1", "quiet=true", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cr: error:")]
    assert len(errors) == 1 and errors[0].startswith(
        f"cr: error: logger.mlflow.tracking_uri=http://127.0.0.1:{port}: cannot open the MLflow tracking store "
        f"(nothing answers at 127.0.0.1:{port}: Connection refused) — start the tracking server"), errors
    assert "Traceback" not in proc.stderr
    assert not any((tmp_path / "results" / "train" / "runs").glob("*"))  # no half-made run dir


def test_a_search_with_an_unreachable_tracking_server_is_one_line_before_its_study(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = run_cr("data=diabetes", "logger=mlflow", f"logger.mlflow.tracking_uri=http://127.0.0.1:{port}",
                  "hparams_search=optuna", "model.optimizer.lr=interval(0.001, 0.01)", "trainer.max_epochs=1",
                  f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("cr: error:")]
    assert len(errors) == 1 and f"nothing answers at 127.0.0.1:{port}" in errors[0], errors
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "sweep").exists()  # found before the study opened
