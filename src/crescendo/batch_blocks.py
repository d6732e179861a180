"""Several batches per Lightning step call: the loop speed-up `train()` applies when it is safe.

Lightning's per-step machinery (data fetching, a dozen hook dispatches, progress and logging
bookkeeping) costs about 0.3 ms a step on a CPU, as much as the math of a small MLP step. With
``batches_per_call: K`` the data module hands K consecutive batches (a `StepBlock`) to one
``training_step`` / ``validation_step`` call and the module trains on them with Lightning's manual
optimization: per batch ``zero_grad → loss → manual_backward → optimizer.step`` — the same math, the
same RNG draws and the same ``global_step`` as the automatic loop (tests compare the weights).
Schedulers are stepped by the module as Lightning would (`EpochLossModule._step_schedulers`). When
nothing hooks into backward and step (full precision, one device, no callback or module overriding
``on_before_backward`` / ``on_after_backward`` / ``on_before_optimizer_step``), the steps go straight
to ``loss.backward()`` and the torch optimizer, with Lightning's step count kept.

What changes: the per-batch hooks (``on_train_batch_start/end``, the progress bar) run once per
block. So ``auto`` uses blocks only when nothing counts batches or needs the automatic loop; an
explicit K > 1 that conflicts with the trainer is a `ConfigError` naming the conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from crescendo.errors import ConfigError
from crescendo.models.base import EpochLossModule

__all__ = ["DEFAULT_BATCHES_PER_CALL", "apply_batches_per_call", "check_batches_per_call", "resolve_batches_per_call"]

#: 16 batches a call leaves about 0.07 ms of Lightning overhead per optimizer step (0.3 ms at 1);
#: more gains little and coarsens the per-block hooks further.
DEFAULT_BATCHES_PER_CALL = 16


def resolve_batches_per_call(setting: Any, trainer_settings: Mapping[str, Any], model: pl.LightningModule,
                             datamodule: Any) -> int:
    """`batches_per_call` (auto | int >= 1) → the number of batches one step call runs.

    `trainer_settings` are the Trainer's keyword arguments (``cfg.trainer``): deciding before the
    Trainer exists keeps a conflict's error message free of Lightning's start-up banner.
    """
    check_batches_per_call(setting)
    conflicts = _conflicts(trainer_settings, model, datamodule)
    if setting == "auto":
        return 1 if conflicts else DEFAULT_BATCHES_PER_CALL
    if setting > 1 and conflicts:
        raise ConfigError(
            f"batches_per_call={setting} cannot be used with {'; '.join(conflicts)} — "
            "set batches_per_call=1 (or auto, which picks 1 here)"
        )
    return setting


def check_batches_per_call(setting: Any) -> None:
    """The value alone: auto or an int >= 1."""
    if setting != "auto" and (isinstance(setting, bool) or not isinstance(setting, int) or setting < 1):
        raise ConfigError(f"batches_per_call: {setting!r} is not allowed; use auto, or an int >= 1 (1 = one batch per step)")


def apply_batches_per_call(batches_per_call: int, model: pl.LightningModule, datamodule: Any) -> None:
    """Switch model and data module to blocks together (before `Trainer.fit`); 1 leaves both alone."""
    if batches_per_call > 1:
        model.automatic_optimization = False
        datamodule.batches_per_call = batches_per_call


#: Trainer arguments that count batches or need automatic optimization, with the values that don't.
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
}


def _conflicts(trainer_settings: Mapping[str, Any], model: pl.LightningModule, datamodule: Any) -> list[str]:
    """What rules blocks out: settings that count batches, or need Lightning's automatic optimization."""
    found: list[str] = []
    if not isinstance(model, EpochLossModule) or not model.automatic_optimization:
        found.append(f"model {type(model).__name__} (blocks need a crescendo EpochLossModule with automatic optimization)")
    if not hasattr(datamodule, "batches_per_call"):
        found.append(f"data module {type(datamodule).__name__} (blocks need crescendo's ArrayRegressionDataModule)")
    for key, neutral in _NEUTRAL.items():
        value = trainer_settings.get(key)
        # an int 1 is one batch (limit_*), a float 1.0 all of them: compare types too
        if not any(value == n and type(value) is type(n) for n in neutral) and value is not None:
            found.append(f"trainer.{key}={value}")
    return found
