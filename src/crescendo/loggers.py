"""Lightning loggers with the file layout crescendo promises."""

from __future__ import annotations

import csv
import os
import time
from typing import Any

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only


class EpochCSVLogger(CSVLogger):
    """A CSVLogger whose metrics.csv holds one row per epoch.

    Lightning logs an epoch's validation metrics and its training metrics in two calls at the same
    step, which CSVLogger writes as two half-empty rows. Here the newest row is held back until a call
    that does not continue it arrives (another step or epoch, a key it already has, or a test metric),
    and only then handed to CSVLogger — so neither Lightning's save after every call nor CSVLogger's own
    flush every `flush_logs_every_n_steps` can write half a row. Test metrics (logged after fit, at
    the last step) keep a row of their own; `finalize` hands over the held row.

    Lightning calls `save` after every call, which reopened and appended to the file once an epoch
    (~0.2 ms, a tenth of a small model's epoch); here the file is written at most every
    `write_every_seconds`, and always at `finalize` (end of fit or test, and on any error).

    A run resumed in its own directory (`ckpt_path=last`) continues its metrics.csv: CSVLogger deletes
    the file it finds, so the rows of the epochs before the first one this run logs are read first and
    handed over again ahead of it (a fresh run starts at epoch 0 and keeps none, as CSVLogger does).
    """

    def __init__(self, *args: Any, write_every_seconds: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_every_seconds = write_every_seconds
        self._held: dict[str, Any] | None = None  # the newest row's metrics, "step" included
        self._held_step: int | None = None
        self._handed_over = False  # whether CSVLogger got a row (and so has a file to write)
        self._last_write = time.monotonic()
        self._earlier_rows: list[dict[str, Any]] | None = _read_rows(os.path.join(self.log_dir, "metrics.csv"))

    @rank_zero_only  # under DDP the other ranks hold a dummy experiment (and write nothing)
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if self._held is not None and _continues(self._held, self._held_step, metrics, step):
            self._held.update(metrics)
            return
        self._release()
        self._held, self._held_step = dict(metrics), step

    @rank_zero_only
    def save(self) -> None:
        if time.monotonic() - self._last_write >= self.write_every_seconds:
            self._write()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._release()
        self._write()

    def _write(self) -> None:
        if self._handed_over:
            super().save()
        self._last_write = time.monotonic()

    def _release(self) -> None:
        """Hand the held row to CSVLogger (which writes it at the next `_write`)."""
        if self._held is not None:
            held, step = self._held, self._held_step
            self._held = self._held_step = None
            self._handed_over = True
            self._hand_over_earlier_epochs(held.get("epoch"))
            super().log_metrics(held, step)

    def _hand_over_earlier_epochs(self, first_epoch: Any) -> None:
        """The previous metrics.csv's rows of epochs before `first_epoch`, once, before this run's first row."""
        rows, self._earlier_rows = self._earlier_rows, None
        if not rows or not isinstance(first_epoch, (int, float)):
            return
        for row in rows:
            if row.get("epoch", first_epoch) < first_epoch:
                step = row.pop("step", None)
                super().log_metrics(row, None if step is None else int(step))


def _continues(held: dict[str, Any], held_step: int | None, metrics: dict[str, Any], step: int | None) -> bool:
    """Whether `metrics` belong on the held row: same step and epoch, no key twice, no test metric."""
    keys = set(metrics) - {"epoch"}
    return (
        step is not None
        and step == held_step
        and metrics.get("epoch") == held.get("epoch")
        and not keys & set(held)
        and not any(key.startswith("test/") for key in keys | set(held))
    )


def _read_rows(path: str) -> list[dict[str, Any]] | None:
    """metrics.csv's rows as numbers (empty cells left out); None when there is no such file."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    parsed = []
    for row in rows:
        try:
            values = {key: float(value) for key, value in row.items() if key and value not in (None, "")}
        except ValueError:
            return None  # not a file this logger wrote: CSVLogger replaces it
        if "epoch" in values:
            values["epoch"] = int(values["epoch"])
        parsed.append(values)
    return parsed


def finish_wandb_runs(loggers: list[Any], failed: bool) -> None:
    """End the wandb run a run's `WandbLogger` started, as lightning-hydra-template's task wrapper does.

    Lightning's WandbLogger leaves the run open (wandb finishes it at exit), and a later WandbLogger in
    the same process reuses an open run: the trials of a search would all log into the first one.
    Finishing it here closes its files (the offline run is complete once `train` returns) and gives the
    next run its own. A failed run is marked failed (exit code 1), as wandb marks a crashed script.
    """
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is None or wandb.run is None:
        return
    from lightning.pytorch.loggers import WandbLogger

    if any(isinstance(logger, WandbLogger) for logger in loggers):
        wandb.finish(exit_code=1 if failed else 0)
