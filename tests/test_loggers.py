"""The logger groups of Crescendo 0.0.4 (wandb, aim, comet, neptune, many_loggers): each composes, each
is checked for its packages before anything runs, and wandb logs offline into the run directory — read
back from wandb's own offline run file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pandas as pd
import pytest
from helpers import run_cr

from crescendo.checks import problems
from crescendo.checks.loggers import NEEDS, installed
from crescendo.train import train

CONF = Path(__import__("crescendo.conf", fromlist=["_"]).__file__).parent
GROUPS = sorted(path.stem for path in (CONF / "logger").glob("*.yaml"))


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """wandb's own files (settings, cache, artifacts) under tmp_path, no key, no mode from outside (a
    `cr` started here inherits them). Lightning's WandbLogger(offline=True) sets WANDB_MODE in this
    process; monkeypatch undoes that too."""
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb_home" / name.lower()))
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_the_original_groups_are_all_there():
    assert {"csv", "mlflow", "tensorboard", "wandb", "aim", "comet", "neptune", "many_loggers"} <= set(GROUPS)


@pytest.mark.parametrize("option", GROUPS)
def test_each_group_keeps_the_csv_log_and_passes_the_checks_when_its_packages_are_there(compose_cfg, option):
    cfg = compose_cfg(f"logger={option}")
    assert "csv" in cfg.logger  # metrics.csv is always written
    found = [str(p) for p in problems(cfg)]
    if option == "neptune":
        assert found == [("logger=neptune: Neptune's service has shut down (2026) and Lightning's NeptuneLogger is "
                          "now a stub that refuses to start — log with logger=wandb, logger=mlflow or "
                          "logger=tensorboard instead")]
        return
    expected = []
    for name, entry in cfg.logger.items():
        modules, _extra = NEEDS.get(entry._target_.rsplit(".", 1)[-1], ((), ""))
        if modules and not any(map(installed, modules)):
            expected.append(f"logger={name}: needs the {modules[0]} package")
    assert [text.split(" (or ")[0].split(" — ")[0] for text in found] == expected


def test_many_loggers_is_the_originals_csv_tensorboard_and_offline_wandb(compose_cfg):
    cfg = compose_cfg("logger=many_loggers")
    assert list(cfg.logger) == ["csv", "tensorboard", "wandb"] and cfg.logger.wandb.offline is True


@pytest.mark.parametrize(("option", "module", "extra"), [("aim", "aim", "aim"), ("comet", "comet_ml", "comet")])
def test_a_missing_extra_is_named_with_its_install_line(compose_cfg, option, module, extra):
    if installed(module):
        pytest.skip(f"{module} is installed here")
    assert [str(p) for p in problems(compose_cfg(f"logger={option}"))] == [
        f"logger={option}: needs the {module} package — pip install 'crescendo[{extra}]'"]


def test_a_logger_of_a_package_that_is_not_installed_is_named_by_its_key(compose_cfg):
    cfg = compose_cfg("+logger.mine._target_=no_such_package.Logger")
    assert [str(p) for p in problems(cfg)] == [
        ("logger.mine._target_=no_such_package.Logger: names a class in no_such_package, which is not installed — "
         "install the package that provides no_such_package, or fix the _target_")]


def test_wandb_cannot_upload_checkpoints_offline(compose_cfg):
    assert [str(p) for p in problems(compose_cfg("logger=wandb", "logger.wandb.log_model=true"))] == [
        ("logger.wandb.log_model=true: cannot upload checkpoints offline (logger.wandb.offline=true) — "
         "set logger.wandb.log_model=false, or logger.wandb.offline=false")]


def wandb_history(run_dir: Path) -> tuple[list[dict], int | None]:
    """The history rows and exit code in the run's offline wandb file (`run-<id>.wandb`), read with
    wandb's own record type: the file is a LevelDB-style log (32 KiB blocks of crc/length/type
    chunks) after the 7-byte ':W&B' header, each record a `wandb_internal_pb2.Record`."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data, position, parts = path.read_bytes(), 7, b""
    assert data[:4] == b":W&B"
    rows, exit_code = [], None
    while position + 7 <= len(data):
        room = 32768 - position % 32768
        if room < 7:  # a block's tail too short for a chunk header is padding
            position += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position:position + 7])
        chunk = data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (2, 3):  # first, middle
            parts = (b"" if kind == 2 else parts) + chunk
            continue
        if kind not in (1, 4):  # 1 full, 4 last
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk if kind == 1 else parts + chunk)
        if record.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in record.history.item})
        elif record.WhichOneof("record_type") == "exit":
            exit_code = record.exit.exit_code
    return rows, exit_code


def per_epoch(rows: list[dict], metric: str) -> dict[int, float]:
    return {row["epoch"]: row[metric] for row in rows if metric in row}


@pytest.mark.skipif(not installed("wandb"), reason="the dev extra installs wandb")
def test_wandb_logs_offline_into_the_run_dir_and_each_run_gets_its_own(compose_cfg, data_dir, tmp_path, wandb_env):
    runs = [tmp_path / "first", tmp_path / "second"]
    for run_dir in runs:  # two runs in one process, as a search's trials are: the second must not reuse the first
        cfg = compose_cfg(f"data.data_dir={data_dir}", "logger=wandb", "trainer.max_epochs=2", "seed=0",
                          run_dir=run_dir)
        assert train(cfg).status == "complete"
    for run_dir in runs:
        rows, exit_code = wandb_history(run_dir)
        csv = pd.read_csv(run_dir / "metrics.csv").dropna(subset=["val/loss"]).set_index("epoch")
        for metric in ("train/loss", "val/loss"):
            assert per_epoch(rows, metric) == pytest.approx(csv[metric].to_dict())  # the same numbers, per epoch
        assert sorted(per_epoch(rows, "val/loss")) == [0, 1]
        steps = {row["epoch"]: row["trainer/global_step"] for row in rows if "val/loss" in row}
        assert steps == csv["step"].to_dict()  # the same step axis
        assert any("test/loss" in row for row in rows)
        assert exit_code == 0  # finished when train returned, not at interpreter exit
    assert len({next(run.glob("wandb/offline-run-*")).name for run in runs}) == 2


@pytest.mark.slow
@pytest.mark.skipif(not installed("wandb"), reason="the dev extra installs wandb")
def test_a_search_with_many_loggers_gives_each_trial_its_offline_wandb_run(data_dir, tmp_path, wandb_env):
    sweep = tmp_path / "sweep"
    proc = run_cr("data=regression", f"+data.data_dir={data_dir}", "logger=many_loggers", "hparams_search=optuna",
                  "hydra.sweeper.n_trials=2", "model.optimizer.lr=interval(0.001, 0.01)", "trainer.max_epochs=2",
                  f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # the environment wandb_env made
    assert proc.returncode == 0, proc.stderr
    trials = sorted(path.parent for path in sweep.glob("*/result.json"))
    assert len(trials) == 2
    for trial in trials:
        rows, exit_code = wandb_history(trial)
        assert sorted(per_epoch(rows, "val/loss")) == [0, 1] and exit_code == 0
        assert list((trial / "tensorboard").rglob("events.out.tfevents.*"))
        assert (trial / "metrics.csv").is_file()
    assert "wandb: Tracking run" not in proc.stdout + proc.stderr  # quiet=true in a search: wandb stays quiet


@pytest.mark.skipif(not installed("wandb"), reason="the dev extra installs wandb")
def test_a_run_lightning_refuses_at_fit_start_leaves_no_wandb_or_tensorboard_run(compose_cfg, data_dir, tmp_path,
                                                                               wandb_env):
    from crescendo.errors import ConfigError

    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)  # what Hydra made before the task ran: kept
    cfg = compose_cfg(f"data.data_dir={data_dir}", "logger=many_loggers", "+trainer.limit_train_batches=0.001",
                      run_dir=run_dir)
    with pytest.raises(ConfigError, match="limit_train_batches"):
        train(cfg)
    assert sorted(path.name for path in run_dir.iterdir()) == [".hydra"]
