"""`train(cfg) -> TrainResult`: one training run, from a composed config to a run directory.

Read it top to bottom: data → model → trainer → fit → test → result. The config is never
modified; values that come from the data (input and output widths, the effective monitor) are
passed as arguments when the objects are built.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from omegaconf import DictConfig

from crescendo._lightning_private import entry_points_read_once
from crescendo.batch_blocks import decide_batches_per_call
from crescendo.build import build, build_callbacks, build_loggers, resolve_once
from crescendo.callbacks import BestEpochMetrics, RandomState, early_stopping_record
from crescendo.checks import check
from crescendo.devices import check_accelerator, compile_model
from crescendo.errors import ConfigError, NonFiniteLossError
from crescendo.extras import apply_extras, run_tags
from crescendo.lightning_console import quiet_lightning
from crescendo.loggers import finish_wandb_runs
from crescendo.hparams import LogHyperparams, run_hyperparams
from crescendo.models.legacy_keys import model_node, scheduler_monitor
from crescendo.result import LOSS_UNITS, TrainResult, effective_monitor
from crescendo.resume import check_checkpoint_fits, checkpoint_path, read_checkpoint
from crescendo.run_dir import save_resolved_config, save_result

log = logging.getLogger(__name__)

def train(cfg: DictConfig) -> TrainResult:
    """Fit the configured model on the configured data and write the run directory.

    Returns the result with status "complete", or "pruned" when Optuna stopped the run (a result, with
    the best value and checkpoint it had reached); a failure is recorded in result.json and raised.
    """
    loggers: list[Any] = []  # filled once built: a wandb run they started is finished however the run ends
    try:
        result = _train(cfg, loggers)
    except BaseException:
        finish_wandb_runs(loggers, failed=True)
        raise
    finish_wandb_runs(loggers, failed=result.status == "failed")
    return result


def _train(cfg: DictConfig, loggers: list[Any]) -> TrainResult:
    """`train`'s body; the loggers it builds are appended to `loggers` for the caller to close."""
    started = time.perf_counter()
    check(cfg)  # every key against what its object accepts, before the run dir, data or any object exists
    check_accelerator(cfg)
    _freeze_long_lived_objects()
    run_dir = Path(cfg.paths.output_dir)
    existed = set(run_dir.iterdir()) if run_dir.is_dir() else set()  # Hydra's files, or a reused dir's
    resume_from = checkpoint_path(cfg.get("ckpt_path"), run_dir)
    resumed = None if resume_from is None else read_checkpoint(cfg.ckpt_path, resume_from)
    apply_extras(cfg, run_dir)
    quiet = bool(cfg.get("quiet", False))
    quiet_lightning(quiet)
    cfg = resolve_once(cfg)  # every interpolation once, not at every read (see crescendo.build)
    # decided from the config before any data is read or object built, and passed to both constructors
    batches_per_call = decide_batches_per_call(cfg)
    blocks = {"batches_per_call": batches_per_call} if batches_per_call > 1 else {}
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)

    datamodule = build(cfg.data, _convert_="all", **blocks)
    datamodule.setup("fit")  # every data check happens here, before any model exists
    monitor = _effective_monitor(cfg, datamodule)
    mode = str(cfg.get("mode", "min"))

    # Crescendo 0.0.4's model keys are checked (crescendo.checks) and go no further than here
    scheduler_watches = scheduler_monitor(cfg.model, str(cfg.get("monitor", "val/loss")),
                                          bool(getattr(datamodule, "production_mode", False)))
    model = build(model_node(cfg.model), input_dims=datamodule.input_dims, output_dims=datamodule.output_dims,
                  monitor=scheduler_watches, **blocks)
    if resumed is not None:  # before the trainer exists or anything is written into the run dir
        check_checkpoint_fits(cfg.ckpt_path, resumed, model)
        del resumed  # Lightning reads the file again in fit
    if cfg.get("compile", False):
        compile_model(model)
    best_epoch = BestEpochMetrics(monitor, mode, run_dir=str(run_dir.resolve()))
    _set_cpu_threads(cfg.get("cpu_threads", "auto"), model, datamodule)
    # the random generators travel with each checkpoint, so a resumed run draws what this one would have
    callbacks = _build_callbacks(cfg, monitor, mode, quiet) + [best_epoch, RandomState()]
    loggers.extend(build_loggers(cfg, run_tags(cfg)))
    if loggers:  # each logger gets the resolved config once (after best_epoch: it reads the best value)
        callbacks.append(LogHyperparams(run_hyperparams(cfg), monitor, best_epoch))
    trainer_kwargs: dict[str, Any] = {"callbacks": callbacks, "logger": list(loggers) or False}
    if quiet:
        trainer_kwargs.update(enable_progress_bar=False, enable_model_summary=False)
    with entry_points_read_once():
        trainer: pl.Trainer = build(cfg.trainer, **trainer_kwargs)

    run_dir.mkdir(parents=True, exist_ok=True)
    save_resolved_config(cfg, run_dir)
    setup_seconds = time.perf_counter() - started

    result = TrainResult(
        objective=math.nan,
        monitor=monitor,
        mode=mode,
        status="failed",
        run_dir=str(run_dir.resolve()),
        best_checkpoint=None,
        best_epoch=None,
        input_dims=datamodule.input_dims,
        output_dims=datamodule.output_dims,
        architecture=list(model.hidden_widths),
        fit_seconds=0.0,
        n_train=datamodule.n_train,
        n_val=datamodule.n_val,
        n_test=datamodule.n_test,
        tags=run_tags(cfg),
        **_loss_units(datamodule),
    )
    fit_started = time.perf_counter()
    try:
        # ckpt_path: Lightning restores weights, optimizer, schedulers, loops and callbacks' states (our
        # own checkpoint: its hyperparameters hold modules and partials, hence weights_only=False)
        trainer.fit(model, datamodule=datamodule, ckpt_path=None if resume_from is None else str(resume_from),
                    weights_only=False)
    except Exception as error:  # recorded in result.json, then re-raised for the caller (the sweeper: FAIL)
        if _is_pruned(error):  # a result, not a failure: what it had reached, and its checkpoint
            result.status = "pruned"
            _read_best(result, trainer, best_epoch)
            _finish(result, trainer, best_epoch, fit_started, setup_seconds, started)
            return result
        if isinstance(error, MisconfigurationException) and trainer.global_step == 0:
            # Lightning checks some trainer settings against the data only when fit starts (a limit
            # that rounds to no batch): a config error like ours — one message, no half-made run
            finish_wandb_runs(loggers, failed=True)  # before its files are removed
            _discard_unstarted_run(run_dir, existed)
            raise ConfigError(f"trainer: {error} — fix that trainer.* key (cr --cfg job shows them)") from None
        if isinstance(error, ConfigError) and trainer.global_step == 0:
            # e.g. a logger whose store cannot be opened: nothing was trained
            finish_wandb_runs(loggers, failed=True)
            _discard_unstarted_run(run_dir, existed)
            raise
        result.error = f"{type(error).__name__}: {error}"
        _finish(result, trainer, best_epoch, fit_started, setup_seconds, started)
        raise
    result.fit_seconds = time.perf_counter() - fit_started
    # read now: testing the best checkpoint restores the callbacks' states of that (earlier) epoch
    result.early_stopping = early_stopping_record(trainer)

    _read_best(result, trainer, best_epoch)
    if not math.isfinite(result.objective):
        result.error = f"the monitored metric {monitor} is {result.objective}; nothing was learned"
        _finish(result, trainer, best_epoch, fit_started, setup_seconds, started)
        raise NonFiniteLossError(result.error)

    test_started = time.perf_counter()
    # production mode trains on the test rows, so a test loss would not be held out: skip it
    if cfg.get("test", True) and datamodule.n_test > 0 and not datamodule.production_mode and not trainer.interrupted:
        result.test_loss = _test_best(trainer, model, datamodule, result.best_checkpoint)
    result.status = "complete"
    result.timings["test_seconds"] = time.perf_counter() - test_started
    _finish(result, trainer, best_epoch, fit_started, setup_seconds, started, fit_done=True)
    return result


def _loss_units(datamodule: Any) -> dict[str, Any]:
    """The units of every logged loss: standardized targets when the data module scaled them."""
    targets = getattr(datamodule, "target_transform", None)
    if targets is None or not targets.active:
        return {}
    return {"loss_units": LOSS_UNITS[True],
            "target_scaler": {"mean": [float(v) for v in targets.mean], "scale": [float(v) for v in targets.scale]}}


def _is_pruned(error: BaseException) -> bool:
    """Whether Optuna stopped the run (`optuna.TrialPruned`); a plain run never imports Optuna for this."""
    optuna = sys.modules.get("optuna")
    return optuna is not None and isinstance(error, optuna.TrialPruned)


def _discard_unstarted_run(run_dir: Path, existed: set[Path]) -> None:
    """Remove what this run wrote before training began: its config, the loggers' first files and
    folders (metrics.csv, hparams.yaml, a TensorBoard or wandb run) — everything that was not there."""
    for entry in run_dir.iterdir() if run_dir.is_dir() else ():
        if entry not in existed:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


_frozen = False


def _freeze_long_lived_objects() -> None:
    """Move what exists at the first run of this process (the imported modules: torch, Lightning,
    Hydra — millions of objects) out of the garbage collector's sight, once.

    A training loop allocates many short-lived Python objects; each full collection walked that
    whole heap, about 5% of a small model's fit (benchmarks/fit_overhead.py). Objects created later,
    each run's included, are collected as usual.
    """
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


# below this many multiply-adds per training step (parameters × batch rows), a second CPU thread
# saves nothing and costs a lot when the other core is busy (OpenMP threads wait on each other:
# steps 10-100x slower on a loaded 2-core machine, measured)
_SMALL_STEP_WORK = 5e7


def _set_cpu_threads(setting: Any, model: pl.LightningModule, datamodule: Any) -> None:
    """cpu_threads: an int, null (torch's default: all cores), or auto (1 thread for small steps).

    Set for every run, not only changed: the trials of a search share a process, and a big trial
    after a small one must get its threads back.
    """
    if setting is None:
        torch.set_num_threads(_thread_share())
        return
    if setting == "auto":
        batch = getattr(datamodule, "effective_batch_size", None) or 1
        work = sum(parameter.numel() for parameter in model.parameters()) * batch
        torch.set_num_threads(1 if work < _SMALL_STEP_WORK else _thread_share())
        return
    torch.set_num_threads(int(setting))  # an int >= 1: `crescendo.checks` refused anything else


#: torch's own thread count, read before any run changes it
_TORCH_DEFAULT_THREADS = torch.get_num_threads()


def _thread_share() -> int:
    """The threads this process may use: OMP_NUM_THREADS when set (a search worker's share of the
    cores, or the user's own limit), else torch's default."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else _TORCH_DEFAULT_THREADS


def _effective_monitor(cfg: DictConfig, datamodule: Any) -> str:
    """In production mode there is no held-out data: watch the training loss instead."""
    return effective_monitor(str(cfg.get("monitor", "val/loss")), bool(getattr(datamodule, "production_mode", False)))


def _build_callbacks(cfg: DictConfig, monitor: str, mode: str, quiet: bool) -> list[Callback]:
    """Instantiate `cfg.callbacks` (null entries dropped); a search's pruning callback is one of them."""
    show_progress = not quiet and bool(cfg.trainer.get("enable_progress_bar", True))
    return build_callbacks(cfg, monitor, mode, show_progress)


def _read_best(result: TrainResult, trainer: pl.Trainer, best_epoch: BestEpochMetrics) -> None:
    """The objective is the BEST epoch's monitored value: the epoch whose checkpoint is kept."""
    result.best_epoch = best_epoch.best_epoch
    result.objective = best_epoch.best_value
    checkpoint = next((callback for callback in trainer.checkpoint_callbacks
                       if isinstance(callback, ModelCheckpoint) and callback.monitor == result.monitor), None)
    if checkpoint is not None and checkpoint.best_model_path:
        result.best_checkpoint = str(Path(checkpoint.best_model_path).resolve())
        result.objective = float(checkpoint.best_model_score)


def _test_best(trainer: pl.Trainer, model: pl.LightningModule, datamodule: Any, best: str | None) -> float | None:
    """Evaluate the kept (best) checkpoint on the test split."""
    # our own checkpoint, written moments ago: its hyperparameters hold modules and partials
    outcome = trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=False)
    value = outcome[0].get("test/loss") if outcome else None
    return None if value is None else float(value)


def _finish(
    result: TrainResult,
    trainer: pl.Trainer,
    best_epoch: BestEpochMetrics,
    fit_started: float,
    setup_seconds: float,
    started: float,
    fit_done: bool = False,
) -> None:
    """Fill timings and named metrics, then write result.json."""
    if not fit_done:
        result.fit_seconds = time.perf_counter() - fit_started
    result.timings.update(setup_seconds=setup_seconds, fit_seconds=result.fit_seconds,
                          total_seconds=time.perf_counter() - started)
    result.metrics = {name: value for name, value in best_epoch.metrics.items() if not name.startswith("test/")}
    if math.isfinite(result.objective):
        result.metrics[result.monitor] = result.objective
    if result.test_loss is not None:
        result.metrics["test/loss"] = result.test_loss
    result.metrics["fit_seconds"] = result.fit_seconds
    if not fit_done:  # a run that stopped in fit (pruned, failed): its callbacks are as fit left them
        result.early_stopping = early_stopping_record(trainer)
    save_result(result.to_json(), Path(result.run_dir))
