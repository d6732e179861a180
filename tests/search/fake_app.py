"""The task function of the test app and an in-process runner for searches (no subprocess)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from crescendo.errors import DataError
from crescendo.result import TrainResult
from crescendo.search.trial import open_trial

APP_DIR = Path(__file__).parent / "app"


def trial_of(cfg: DictConfig) -> Any:
    """The job's trial, from the pruning callback entry the sweeper adds to its config (as in `cr`)."""
    node = OmegaConf.select(cfg, "callbacks.optuna_pruning")
    if node is None:
        return None
    return open_trial(node.storage, node.study_name, node.trial_number, instantiate(node.pruner))


def objective_of(cfg: DictConfig) -> float:
    y_cost = {"a": 0.0, "b": 0.5, "c": 1.0}.get(str(cfg.y), 2.0)
    return (float(cfg.x) - 0.3) ** 2 + y_cost + 0.01 * float(cfg.n) + (0.1 if cfg.flag else 0.0)


def task(cfg: DictConfig) -> TrainResult:
    number = HydraConfig.get().job.num
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    value = objective_of(cfg)
    trial = trial_of(cfg)
    for epoch in range(int(cfg.epochs)):  # a loss curve that ends at `value`; bad_on jobs start far worse
        reported = value + (100.0 if number in cfg.bad_on else 1.0) / (epoch + 1)
        if trial is not None:
            trial.report(reported, step=epoch)
            if trial.should_prune():  # a pruned run is a result, as crescendo.train returns it
                return TrainResult(objective=reported, monitor="val/loss", mode="min", status="pruned",
                                   run_dir=str(run_dir), best_epoch=epoch, metrics={"val/loss": reported})
    time.sleep(float(cfg.sleep_seconds) if number in cfg.sleep_on else float(cfg.every_job_sleeps))
    if number in cfg.interrupt_on:
        raise KeyboardInterrupt
    if number in cfg.fail_on:
        raise RuntimeError(f"boom in job {number}")
    if number in cfg.data_error_on:
        raise DataError("data.data_dir: /nowhere has no X_train.npy")
    if number in cfg.nan_on:
        value = math.nan
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_text("fake")
    return TrainResult(
        objective=value,
        monitor="val/loss",
        mode="min",
        status="complete",
        run_dir=str(run_dir),
        best_checkpoint=str(checkpoint),
        metrics={"val/loss": value, "size": float(cfg.n)},
    )


def run_search(overrides: Sequence[str], sweep_dir: Path, task_function: Any = task) -> Any:
    """Run a multirun of the test app in this process; returns what the sweeper returns (the study)."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    hydra_ = Hydra.create_main_hydra2(task_name="fake", config_search_path=create_config_search_path(str(APP_DIR)))
    try:
        return hydra_.multirun(
            config_name="config",
            task_function=task_function,
            # nothing to import before the trials: they run in this process (no preforked worker), where
            # capsys and the tests' own state see them
            overrides=["hydra.sweeper.preload=[]", *overrides, f"hydra.sweep.dir={sweep_dir}"],
            with_log_configuration=False,
        )
    finally:
        GlobalHydra.instance().clear()
