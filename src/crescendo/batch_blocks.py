"""Several batches per Lightning step call (`batches_per_call`): decided from the config, run by the module.

Lightning's per-step machinery (data fetching, a dozen hook dispatches, progress and logging
bookkeeping) costs about 0.3 ms a step on a CPU, as much as the math of a small MLP step. With
``batches_per_call: K`` the data module hands K consecutive batches (a `StepBlock`) to one
``training_step`` / ``validation_step`` call and the module trains on them under Lightning's manual
optimization: per batch ``zero_grad → loss → backward → optimizer.step`` — the same math, the same
RNG draws, the same ``global_step`` and logger step axis as the automatic loop (tests compare the
weights). Lightning leaves schedulers to the user under manual optimization, so `BlockSteps` steps
them where the automatic loop would.

What a block changes is visible only per batch: hooks such as ``on_train_batch_end`` run once per
block. So `decide_batches_per_call` reads the composed config, before any object exists, and picks
K > 1 only when nothing configured could observe that (see its docstring). Its answer is passed to the
data module's and the model's constructors (``batches_per_call=K``); nothing is changed afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from hydra.utils import get_class
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, ProgressBar
from lightning.pytorch.utilities.model_helpers import is_overridden

from crescendo import _lightning_private as private
from crescendo.errors import ConfigError

__all__ = ["DEFAULT_BATCHES_PER_CALL", "BlockSteps", "StepBlock", "batches_of", "block_size", "check_batches_per_call",
           "decide_batches_per_call"]

#: 16 batches a call leaves about 0.07 ms of Lightning overhead per optimizer step (0.3 ms at 1);
#: more gains little.
DEFAULT_BATCHES_PER_CALL = 16


class StepBlock(list):
    """Consecutive batches handed to ONE Lightning step call; the module runs one optimizer step per
    batch inside it. A list subclass so the module can tell a block from a plain ``(x, y)`` batch."""


def batches_of(batch: Any) -> Sequence[Any]:
    """The batches of one step call: a `StepBlock`'s, or the single batch itself."""
    return batch if isinstance(batch, StepBlock) else (batch,)


# ----------------------------------------------------------------------------------------- the decision
#: Callback hooks that run per batch or per optimizer step: a callback overriding one sees blocks.
PER_STEP_HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
                  "on_before_optimizer_step", "on_before_zero_grad", "on_validation_batch_start",
                  "on_validation_batch_end")
#: Module methods the automatic loop calls per batch, which manual optimization skips or calls per block.
_MODULE_PER_STEP = (*PER_STEP_HOOKS, "optimizer_step", "optimizer_zero_grad", "backward")
#: EpochLossModule methods a subclass must keep for blocks to train as one batch a step does.
_MODULE_BLOCK_METHODS = ("training_step", "validation_step", "test_step")

#: Trainer arguments that count batches or steps, or need automatic optimization, with the values that don't.
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "gradient_clip_val": (None, 0, 0.0),
    "accumulate_grad_batches": (None, 1),
    "max_steps": (None, -1),
    "fast_dev_run": (None, False, 0),
    "limit_train_batches": (None, 1.0),
    "limit_val_batches": (None, 1.0),
    "limit_test_batches": (None, 1.0),
    "val_check_interval": (None, 1.0),
    "overfit_batches": (None, 0, 0.0),
    "max_time": (None,),  # its Timer checks the clock after every batch
    "profiler": (None,),  # it counts and times every per-batch hook call
}


def check_batches_per_call(setting: Any) -> None:
    """The value alone: auto or an int >= 1 (the rule of `crescendo.checks`)."""
    from crescendo.checks.run import batches_per_call

    for problem in batches_per_call(setting):
        raise ConfigError(str(problem))


def block_size(value: Any) -> int:
    """A constructor's ``batches_per_call``: an int >= 1 (``auto`` is resolved before, by `decide_batches_per_call`)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"batches_per_call: {value!r} is not an int >= 1 (1 = one batch per step)")
    return int(value)


def decide_batches_per_call(cfg: Mapping[str, Any]) -> int:
    """The composed config (``batches_per_call``, ``trainer``, ``callbacks``, ``model._target_``,
    ``data._target_``, ``quiet``) → the number of batches one step call trains on.

    Blocks (K > 1) only when nothing could observe them:
    - no trainer setting counts batches or steps (`_NEUTRAL`);
    - no progress bar shows (``quiet`` or ``trainer.enable_progress_bar=false``): a bar counts batches;
    - no configured callback acts per batch or step — a class overriding a hook of `PER_STEP_HOOKS`,
      except where its settings show it won't: a ModelCheckpoint without ``every_n_train_steps`` /
      ``train_time_interval``, a LearningRateMonitor with ``logging_interval: epoch``;
    - the model is a crescendo EpochLossModule (hooks above untouched) and the data module crescendo's.
    Loggers do not force K = 1: our modules log once per epoch, and the logger step axis (optimizer
    steps) is kept exactly. Callback classes are resolved from ``_target_`` without building them.
    An explicit K > 1 with a conflict is a `ConfigError` naming every conflicting key and the fix.
    """
    setting = cfg.get("batches_per_call", "auto")
    check_batches_per_call(setting)
    if setting == 1:
        return 1
    conflicts = block_conflicts(cfg)
    if setting == "auto":
        return 1 if conflicts else DEFAULT_BATCHES_PER_CALL
    if conflicts:
        raise ConfigError(f"batches_per_call={setting} cannot be used with {'; '.join(conflicts)} — "
                          "set batches_per_call=1 (or auto, which picks 1 here)")
    return int(setting)


def block_conflicts(cfg: Mapping[str, Any]) -> list[str]:
    """Everything in the config that could observe blocks, one phrase each (trainer settings first)."""
    trainer = cfg.get("trainer") or {}
    found = [f"trainer.{key}={trainer.get(key)}" for key, neutral in _NEUTRAL.items()
             # an int 1 is one batch (limit_*), a float 1.0 all of them: compare types too
             if not any(trainer.get(key) == n and type(trainer.get(key)) is type(n) for n in neutral)]
    bar_shows = not cfg.get("quiet", False) and bool(trainer.get("enable_progress_bar", True))
    if bar_shows:
        found.append("a progress bar (it counts batches; it shows unless quiet=true or trainer.enable_progress_bar=false)")
    for name, node in (cfg.get("callbacks") or {}).items():
        if isinstance(node, Mapping) and node:
            found += [f"callbacks.{name} ({reason})" for reason in _callback_conflicts(node, bar_shows)]
        elif node:
            found.append(f"callbacks.{name} (not a callback config with a _target_)")
    found += _class_conflicts("model", cfg.get("model") or {}, _module_conflicts)
    found += _class_conflicts("data", cfg.get("data") or {}, _data_conflicts)
    return found


def _target_class(node: Mapping[str, Any]) -> tuple[type | None, str]:
    target = node.get("_target_")
    try:
        return get_class(str(target)), str(target)
    except Exception:  # noqa: BLE001 - not importable or not a class (a factory): its hooks are unknown
        return None, str(target)


def _callback_conflicts(node: Mapping[str, Any], bar_shows: bool) -> list[str]:
    cls, target = _target_class(node)
    if cls is None or not issubclass(cls, Callback):
        return [f"{target} is not a Callback class, so its per-step hooks are unknown before it is built"]
    hooks = {hook for hook in PER_STEP_HOOKS if is_overridden(hook, cls, parent=Callback)}
    if issubclass(cls, ProgressBar) and not bar_shows:
        hooks.clear()  # train() drops a progress bar that does not show
    if issubclass(cls, ModelCheckpoint) and not node.get("every_n_train_steps") and node.get("train_time_interval") is None:
        hooks.discard("on_train_batch_end")  # it saves per epoch only
    if issubclass(cls, LearningRateMonitor) and node.get("logging_interval") == "epoch":
        hooks.discard("on_train_batch_start")  # it logs per epoch only
    if not hooks:
        return []
    return [f"{cls.__name__} acts every batch or step: {', '.join(sorted(hooks))}"]


def _class_conflicts(key: str, node: Mapping[str, Any], check: Any) -> list[str]:
    cls, target = _target_class(node)
    reason = f"{key}._target_={target} is not importable" if cls is None else check(cls)
    return [reason] if reason else []


#: class attribute of the model and data classes that can take ``batches_per_call`` (crescendo's
#: EpochLossModule and ArrayRegressionDataModule): checked here without importing them
ACCEPTS_BLOCKS = "accepts_batches_per_call"


def _block_base(cls: type) -> type | None:
    """The class in `cls`'s MRO that declares it accepts blocks (None: it does not)."""
    return next((klass for klass in cls.__mro__ if vars(klass).get(ACCEPTS_BLOCKS)), None)


def _module_conflicts(cls: type) -> str | None:
    base = _block_base(cls)
    if base is None or not issubclass(cls, pl.LightningModule):
        return f"model {cls.__name__} (blocks need a crescendo EpochLossModule)"
    hooks = [name for name in _MODULE_PER_STEP if is_overridden(name, cls, parent=pl.LightningModule)]
    hooks += [name for name in _MODULE_BLOCK_METHODS if is_overridden(name, cls, parent=base)]
    return f"model {cls.__name__} overrides {', '.join(hooks)}" if hooks else None


def _data_conflicts(cls: type) -> str | None:
    if _block_base(cls) is None:
        return f"data module {cls.__name__} (blocks need crescendo's ArrayRegressionDataModule)"
    return None


# ----------------------------------------------------------------------------------------- the steps
class BlockSteps:
    """What a module trained in blocks does itself, as Lightning's automatic loop would do it: one
    optimizer step per batch, the step count, and the schedulers (stepped by the user under manual
    optimization, per Lightning's docs)."""

    def __init__(self) -> None:
        self.batches_this_epoch = 0  # optimizer steps so far this epoch
        self.plateau_due: list[tuple[Any, Any]] = []  # (scheduler, metric) for the next epoch start
        self.direct = False  # steps straight on the torch optimizer (see `steps_need_no_lightning`)

    def on_train_start(self, module: pl.LightningModule) -> None:
        self.direct = steps_need_no_lightning(module)

    def on_train_epoch_start(self, module: pl.LightningModule) -> None:
        self.batches_this_epoch = 0
        for scheduler, metric in self.plateau_due:
            module.lr_scheduler_step(scheduler, metric)
        self.plateau_due = []

    def on_train_epoch_end(self, module: pl.LightningModule) -> None:
        # Lightning steps plateau schedulers after the epoch-end checkpoints, which run after this hook:
        # take the metric now, step at the next epoch's start (a resumed run skips it, as Lightning does)
        self.plateau_due = _schedulers_due(module, "epoch", module.current_epoch, plateau=True)

    def train(self, module: pl.LightningModule, block: Any, batch_idx: int, loss_of: Any) -> None:
        """One optimizer step per batch of `block` (``loss_of(batch)`` → the loss), schedulers where
        Lightning steps them, and the loggers' step axis advanced by the extra steps."""
        optimizer = module.optimizers()
        trainer = module.trainer
        batches = batches_of(block)
        if self.direct:  # what the dispatching calls below come to when no hook, precision or strategy adds anything
            torch_optimizer = optimizer.optimizer
            before_step, after_step = private.step_bookkeeping(optimizer)
        for batch in batches:
            loss = loss_of(batch)
            if self.direct:
                torch_optimizer.zero_grad()
                loss.backward()
                before_step()  # the loop's step bookkeeping: global_step
                torch_optimizer.step()
                after_step()
            else:
                optimizer.zero_grad()
                module.manual_backward(loss)
                optimizer.step()
            self._step_schedulers(module, "step", self.batches_this_epoch)
            self.batches_this_epoch += 1
        if batch_idx + 1 == trainer.num_training_batches:  # non-plateau epoch schedulers step before validation
            self._step_schedulers(module, "epoch", module.current_epoch)
        # Lightning counts one step per call on the loggers' x axis; count optimizer steps, as one batch a step does
        private.count_stepped_batches(trainer, len(batches) - 1)

    @staticmethod
    def _step_schedulers(module: pl.LightningModule, interval: str, index: int) -> None:
        for scheduler, metric in _schedulers_due(module, interval, index, plateau=False):
            module.lr_scheduler_step(scheduler, metric)


def _schedulers_due(module: pl.LightningModule, interval: str, index: int, *, plateau: bool) -> list[tuple[Any, Any]]:
    """(scheduler, metric) pairs Lightning's automatic loop would step now."""
    due: list[tuple[Any, Any]] = []
    for config in module.trainer.lr_scheduler_configs:
        # under manual optimization Lightning keeps no monitor: a plateau scheduler watches `monitor`
        is_plateau = isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        if config.interval != interval or is_plateau != plateau or (index + 1) % config.frequency:
            continue
        metric = None
        if is_plateau:
            monitor = config.monitor or module.hparams.get("monitor")
            metric = module.trainer.callback_metrics.get(monitor)
            if metric is None:
                raise ConfigError(
                    f"model.scheduler: ReduceLROnPlateau watches {monitor!r}, which is not logged; "
                    f"logged metrics: {sorted(module.trainer.callback_metrics)} — set monitor to one of them"
                )
            metric = metric.clone() if isinstance(metric, torch.Tensor) else metric
        due.append((config.scheduler, metric))
    return due


#: the hooks Lightning's manual_backward / LightningOptimizer.step call around backward and step
_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def steps_need_no_lightning(module: pl.LightningModule) -> bool:
    """True when `manual_backward` + `LightningOptimizer.step` would only call ``loss.backward()`` and
    ``optimizer.step()``: full precision on one device, and no callback or module hook around them.
    Their dispatch then costs ~60 µs an optimizer step (5% of a small MLP's fit) for nothing."""
    from lightning.pytorch.plugins.precision import Precision
    from lightning.pytorch.strategies import SingleDeviceStrategy

    trainer = module.trainer
    if type(trainer.precision_plugin) is not Precision or type(trainer.strategy) is not SingleDeviceStrategy:
        return False
    if not private.has_step_bookkeeping(module.optimizers()):
        return False
    if any(is_overridden(name, module) for name in (*_STEP_HOOKS, "backward")):
        return False
    return not any(is_overridden(name, callback, parent=Callback)
                   for callback in trainer.callbacks for name in _STEP_HOOKS)
