"""`trainer.*`: the keyword arguments of Lightning's Trainer that a run cannot do without.

Lightning checks some of these itself, but late and in its own words (`trainer.max_epochs=abc` is a
bare AssertionError from inside the Trainer; `max_epochs=0` trains nothing and ends in a "nothing was
learned" error). Only Lightning's own Trainer is checked: another `_target_` takes other arguments.
"""

from __future__ import annotations

import difflib
from typing import Any

from crescendo.checks._problem import ABSENT, Problem, flag, is_int, number, read, whole

TRAINERS = ("lightning.pytorch.Trainer", "lightning.Trainer", "pytorch_lightning.Trainer",
            "lightning.pytorch.trainer.trainer.Trainer")
#: Lightning's accelerator names (`Trainer(accelerator=...)`)
ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps", "tpu", "xla", "hpu")
_BOUND = "+trainer.max_time=00:01:00:00 (DD:HH:MM:SS) or +trainer.max_steps=N"


def trainer_problems(cfg: Any) -> list[Problem]:
    if str(read(cfg, "trainer._target_")) not in TRAINERS:
        return []
    get = {key: read(cfg, f"trainer.{key}") for key in (
        "max_epochs", "min_epochs", "max_steps", "max_time", "accelerator", "devices", "check_val_every_n_epoch",
        "num_sanity_val_steps", "log_every_n_steps", "accumulate_grad_batches", "gradient_clip_val",
        "enable_progress_bar", "enable_model_summary", "enable_checkpointing")}
    found = [*_epochs(get["max_epochs"], get["min_epochs"], get["max_steps"], get["max_time"]),
             *_accelerator(get["accelerator"]), *_devices(get["devices"]),
             *whole("trainer.max_steps", _unless(get["max_steps"], -1), 1, "use -1 (no limit) or the number of "
                    "optimizer steps, e.g. +trainer.max_steps=1000", nullable=True),
             *whole("trainer.check_val_every_n_epoch", get["check_val_every_n_epoch"], 1,
                    "validate every N epochs, e.g. trainer.check_val_every_n_epoch=1", nullable=True),
             *whole("trainer.num_sanity_val_steps", _unless(get["num_sanity_val_steps"], -1), 0,
                    "use 0 (none), -1 (all) or a number of batches", nullable=True),
             *whole("trainer.log_every_n_steps", get["log_every_n_steps"], 1, "e.g. trainer.log_every_n_steps=50",
                    nullable=True),
             *whole("trainer.accumulate_grad_batches", get["accumulate_grad_batches"], 1,
                    "use 1 (a step per batch) or more", nullable=True),
             *number("trainer.gradient_clip_val", get["gradient_clip_val"], "use null (no clipping) or e.g. 1.0",
                     at_least=0, nullable=True)]
    for key in ("enable_progress_bar", "enable_model_summary", "enable_checkpointing"):
        found += flag(f"trainer.{key}", get[key], f"use trainer.{key}=true or false", nullable=True)
    return found


def _unless(value: Any, allowed: Any) -> Any:
    """The value, or ABSENT when it is the one special value allowed besides the range."""
    return ABSENT if is_int(value) and value == allowed else value


def _epochs(max_epochs: Any, min_epochs: Any, max_steps: Any, max_time: Any) -> list[Problem]:
    key, fix = "trainer.max_epochs", "set e.g. trainer.max_epochs=100"
    if max_epochs is ABSENT or max_epochs is None:
        found = []
    elif not is_int(max_epochs):
        found = whole(key, max_epochs, 1, fix)
    elif max_epochs == 0:
        found = [Problem(key, 0, "must be ≥ 1: 0 epochs trains nothing", fix)]
    elif max_epochs == -1:
        bounded = (is_int(max_steps) and max_steps > 0) or max_time not in (None, ABSENT)
        found = [] if bounded else [Problem(key, -1, "trains forever unless trainer.max_time or trainer.max_steps "
                                            "bounds it", f"set a number of epochs, or add {_BOUND}")]
    else:
        found = whole(key, max_epochs, 1, fix + " (-1 trains until max_time or max_steps)")
    found += whole("trainer.min_epochs", min_epochs, 0, "set e.g. trainer.min_epochs=1", nullable=True)
    if is_int(min_epochs) and is_int(max_epochs) and max_epochs >= 1 and min_epochs > max_epochs:
        found.append(Problem("trainer.min_epochs", min_epochs, f"must not exceed trainer.max_epochs={max_epochs}",
                             f"lower it or raise trainer.max_epochs to at least {min_epochs}"))
    return found


def _accelerator(value: Any) -> list[Problem]:
    if value is ABSENT or value is None or (isinstance(value, str) and value.lower() in ACCELERATORS):
        return []
    if not isinstance(value, str):  # an Accelerator object from a _target_ node: Lightning's to judge
        return [] if isinstance(value, dict) else [
            Problem("trainer.accelerator", value, f"must be one of {', '.join(ACCELERATORS)}", "use e.g. "
                    "trainer.accelerator=cpu")]
    close = difflib.get_close_matches(value.lower(), ACCELERATORS, n=1)
    return [Problem("trainer.accelerator", value, f"must be one of {', '.join(ACCELERATORS)}",
                    f"did you mean trainer.accelerator={close[0]}?" if close else "use e.g. trainer.accelerator=cpu")]


def _devices(value: Any) -> list[Problem]:
    """An int ≥ 1, -1 (all), auto, a list of device indices, or their comma-separated string."""
    if value is ABSENT or value is None or value == "auto" or (is_int(value) and (value >= 1 or value == -1)):
        return []
    if isinstance(value, list) and value and all(is_int(v) and v >= 0 for v in value):
        return []
    if isinstance(value, str) and value.strip() not in ("0", "") and all(
            part.strip().isdigit() for part in value.rstrip(",").split(",")):
        return []
    return [Problem("trainer.devices", value, "must be an int ≥ 1, -1 (all), auto, or a list of device indices",
                    "use e.g. trainer.devices=1")]
