"""Small Lightning callbacks that `train` always adds."""

from __future__ import annotations

import math
import time
from typing import Any
from weakref import WeakKeyDictionary

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.model_helpers import is_overridden

from crescendo._lightning_private import CheckpointFileHooks, callbacks_state, current_hook, dump_checkpoint


class BestEpochMetrics(Callback):
    """Remember every logged metric at the epoch whose monitored value is best.

    It follows ModelCheckpoint's rule (one judgement per epoch; strictly better wins), so
    `best_epoch` is the epoch of checkpoints/best.ckpt and `metrics` are that epoch's values — what
    a multi-objective search must compare, not the last epoch's.
    """

    def __init__(self, monitor: str, mode: str, run_dir: str | None = None) -> None:
        self.monitor = monitor
        self.mode = mode
        self.run_dir = run_dir
        self.best_epoch: int | None = None
        self.best_value: float = math.nan
        self.metrics: dict[str, float] = {}
        self._judged_epoch = -1
        self._trainer: pl.Trainer | None = None

    def _is_better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_epoch is None:
            return True
        return value < self.best_value if self.mode == "min" else value > self.best_value

    def _judge_completed_epoch(self, trainer: pl.Trainer) -> None:
        # by the time the next epoch starts (or training ends) every metric of the epoch that
        # just finished is in callback_metrics, the training loss included
        self._judge(trainer, trainer.current_epoch - 1)

    def _judge(self, trainer: pl.Trainer, epoch: int) -> None:
        if epoch < 0 or epoch == self._judged_epoch or self.monitor not in trainer.callback_metrics:
            return
        self._judged_epoch = epoch
        value = float(trainer.callback_metrics[self.monitor])
        if self._is_better(value):
            self.best_epoch = epoch
            self.best_value = value
            self.metrics = {name: float(metric) for name, metric in trainer.callback_metrics.items()}

    # ------------------------------------------------------------------ resuming (ckpt_path)
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        """The best so far, the epoch being checkpointed included: a checkpoint is taken at the end of
        an epoch, before the next epoch's start would judge it, and a resumed run starts after it."""
        judged = BestEpochMetrics(self.monitor, self.mode, self.run_dir)
        judged.best_epoch, judged.best_value, judged.metrics = self.best_epoch, self.best_value, dict(self.metrics)
        judged._judged_epoch = self._judged_epoch
        if self._trainer is not None:
            judged._judge(self._trainer, self._trainer.current_epoch)
        return {"run_dir": self.run_dir, "best_epoch": judged.best_epoch, "best_value": judged.best_value,
                "metrics": judged.metrics, "judged_epoch": judged._judged_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue the best so far of the same run directory; a checkpoint from another run starts
        afresh, as Lightning's ModelCheckpoint does when its dirpath changed (best.ckpt and this
        callback keep agreeing on the best epoch)."""
        if state_dict.get("run_dir") != self.run_dir:
            return
        self.best_epoch, self.best_value = state_dict["best_epoch"], float(state_dict["best_value"])
        self.metrics = dict(state_dict["metrics"])
        self._judged_epoch = int(state_dict["judged_epoch"])

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._judge_completed_epoch(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._judge_completed_epoch(trainer)


class BufferedModelCheckpoint(CheckpointFileHooks):
    """ModelCheckpoint that holds small checkpoints in memory and writes them when it matters.

    A small model improves almost every epoch, and serialising each new best (and each epoch's
    last) costs ~10 ms — a third of Lightning's own cost in a short search trial. Here each save
    takes a CPU snapshot; the files are written when training ends (or fails, or is pruned), and at
    least every `write_every_seconds` during a long run, so a crash loses no more than that. A
    checkpoint larger than `buffer_max_bytes` (a big model) is written at once, as Lightning does.
    The files and their contents are exactly ModelCheckpoint's.

    Best and last are usually saved in the same hook at the same step, where only the callbacks'
    states differ between the two checkpoints: the second save reuses the first one's copy and takes
    the callbacks' states anew (unless a callback or the module writes into checkpoints itself).
    """

    def __init__(self, *args: Any, write_every_seconds: float = 30.0, buffer_max_bytes: int = 64 * 2**20,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_every_seconds = write_every_seconds
        self.buffer_max_bytes = buffer_max_bytes
        self._pending: dict[str, dict[str, Any]] = {}
        self._last_write = time.monotonic()

    def write_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        moment = (trainer.global_step, trainer.current_epoch, current_hook(trainer), self.save_weights_only)
        shared = _same_moment_saves.get(trainer)
        if shared is not None and shared[0] == moment and _reusable(trainer, self.save_weights_only):
            self._pending[filepath] = {**shared[1], "callbacks": _snapshot(callbacks_state(trainer))}
        else:
            checkpoint = dump_checkpoint(trainer, self.save_weights_only)
            if _model_and_optimizer_bytes(checkpoint) > self.buffer_max_bytes:
                _same_moment_saves.pop(trainer, None)
                trainer.strategy.save_checkpoint(checkpoint, filepath)
                trainer.strategy.barrier("BufferedModelCheckpoint.write_checkpoint")
            else:  # training goes on changing the live tensors and callback states: keep a copy of those
                fresh = _fresh_sections(trainer)
                copied = {key: value if key in fresh else _snapshot(value) for key, value in checkpoint.items()}
                self._pending[filepath] = copied
                _same_moment_saves[trainer] = (moment, copied)
        if time.monotonic() - self._last_write >= self.write_every_seconds:
            self.write_pending(trainer)

    def delete_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        self._pending.pop(filepath, None)
        super().delete_checkpoint(trainer, filepath)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any, **kwargs: Any) -> None:
        # ModelCheckpoint checks its step and time triggers after every batch; without either
        # configured (our default) there is nothing to check, and this runs hundreds of times an epoch
        if self.saves_on_train_steps:
            super().on_train_batch_end(trainer, pl_module, *args, **kwargs)

    def write_pending(self, trainer: pl.Trainer) -> None:
        """Write every buffered checkpoint to its file."""
        for filepath, checkpoint in self._pending.items():
            trainer.strategy.save_checkpoint(checkpoint, filepath)
        self._pending.clear()
        self._last_write = time.monotonic()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self.write_pending(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        # a pruned, diverged or interrupted run keeps the checkpoints it had earned
        super().on_exception(trainer, pl_module, exception)  # saves one more only with save_on_exception=True
        self.write_pending(trainer)


#: per trainer, the moment (step, epoch, hook, weights_only) of the last buffered save and its copy
_same_moment_saves: WeakKeyDictionary[pl.Trainer, tuple[tuple[Any, ...], dict[str, Any]]] = WeakKeyDictionary()


def _reusable(trainer: pl.Trainer, weights_only: bool) -> bool:
    """Whether a second save at the same moment may take the first one's copy with fresh callback
    states: a full checkpoint, and no callback or module hook that writes into checkpoints."""
    return not weights_only and not is_overridden("on_save_checkpoint", trainer.lightning_module) and not any(
        is_overridden("on_save_checkpoint", callback, parent=Callback) for callback in trainer.callbacks)


def _fresh_sections(trainer: pl.Trainer) -> frozenset[str]:
    """Checkpoint sections every dump builds anew and nothing changes afterwards, so a buffered
    checkpoint keeps them as they are (walking them cost more than the rest of a small save): the
    loops' progress (Lightning builds it from its counters; tests/test_lightning_private.py checks)
    and crescendo's data module state (fresh lists of floats from its frozen input transform)."""
    from crescendo.data.array import ArrayRegressionDataModule

    datamodule = trainer.datamodule
    if isinstance(datamodule, ArrayRegressionDataModule) and \
            type(datamodule).state_dict is ArrayRegressionDataModule.state_dict:
        return frozenset(("loops", ArrayRegressionDataModule.__qualname__))
    return frozenset(("loops",))


def _model_and_optimizer_bytes(checkpoint: dict[str, Any]) -> int:
    """The size of what makes a checkpoint big: the weights and the optimizer state."""
    total = sum(t.numel() * t.element_size() for t in (checkpoint.get("state_dict") or {}).values()
                if isinstance(t, torch.Tensor))
    for optimizer in checkpoint.get("optimizer_states") or ():
        for state in (optimizer.get("state") or {}).values():
            total += sum(t.numel() * t.element_size() for t in state.values() if isinstance(t, torch.Tensor))
    return total


def _snapshot(value: Any) -> Any:
    """Copy containers and tensors (to the CPU); share every other leaf, which training never mutates."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone() if value.device.type == "cpu" else value.detach().to("cpu")
    if isinstance(value, dict):
        copied = {key: _snapshot(item) for key, item in value.items()}
        return copied if type(value) is dict else type(value)(copied)
    if isinstance(value, list):
        return [_snapshot(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_snapshot(item) for item in value)
    return value


class RandomState(Callback):
    """The random generators' state (Python's, NumPy's, torch's CPU and CUDA) at the moment a checkpoint
    is taken, restored when a run resumes from it (`ckpt_path`).

    Lightning's checkpoint restores weights, optimizers, loops and callbacks but not the generators:
    a resumed seeded run would reseed and draw epoch 0's shuffle again. With them, a run stopped after
    epoch N and resumed draws what the uninterrupted run drew (training rows' order, dropout masks).

    best.ckpt and last.ckpt are taken in the same hook at the same step: the second takes the first's
    state (reading NumPy's costs ~50 µs) unless torch's generator moved in between.
    """

    def __init__(self) -> None:
        self._trainer: pl.Trainer | None = None
        self._last: tuple[tuple[Any, ...], dict[str, Any]] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        import random
        from array import array

        import numpy as np

        trainer, torch_state = self._trainer, torch.get_rng_state()
        moment = None if trainer is None else (trainer.global_step, trainer.current_epoch, current_hook(trainer))
        if moment is not None and self._last is not None and self._last[0] == moment \
                and torch.equal(self._last[1]["torch"], torch_state):
            return self._last[1]
        # Python's state is 625 ints: as bytes it is one leaf for a buffered checkpoint's copy (~20 µs, not ~500)
        version, internal, gauss = random.getstate()
        state: dict[str, Any] = {"python": (version, array("Q", internal).tobytes(), gauss),
                                 "numpy": np.random.get_state(), "torch": torch_state}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        self._last = None if moment is None else (moment, state)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        import random
        from array import array

        import numpy as np

        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(array("Q", internal)), gauss))
        np.random.set_state(state_dict["numpy"])
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


def early_stopping_record(trainer: pl.Trainer) -> dict[str, Any] | None:
    """What Lightning's EarlyStopping did, from its documented attributes (`stopped_epoch`,
    `stopping_reason`, `stopping_reason_message`): None unless one of them stopped the run."""
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping) and callback.stopping_reason != EarlyStoppingReason.NOT_STOPPED:
            best = float(callback.best_score)
            return {"stopped_epoch": int(callback.stopped_epoch), "monitor": callback.monitor,
                    "reason": callback.stopping_reason.name.lower(), "message": callback.stopping_reason_message,
                    "patience": int(callback.patience), "best_score": best if math.isfinite(best) else None}
    return None
