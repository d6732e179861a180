"""Lightning loggers with the file layout crescendo promises."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only


class EpochCSVLogger(CSVLogger):
    """A CSVLogger whose metrics.csv holds one row per epoch.

    Lightning logs an epoch's validation metrics and its training metrics in two calls at the same
    step, which CSVLogger writes as two half-empty rows; here the second call is merged into the
    first. Test metrics (logged after fit, at the last step) keep a row of their own. Lightning
    saves after every call, so `save` holds the newest row back until the next call or `finalize`.
    """

    @rank_zero_only
    def save(self) -> None:
        held = self.experiment.metrics.pop() if self.experiment.metrics else None
        super().save()
        if held is not None:
            self.experiment.metrics.append(held)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            super().save()  # everything, the held-back row included

    @rank_zero_only  # under DDP the other ranks hold a dummy experiment (and write nothing)
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        rows = self.experiment.metrics
        if len(rows) < 2:
            return
        previous, latest = rows[-2], rows[-1]
        shared = {"step", "epoch"}
        new_keys = set(latest) - shared
        if (
            previous.get("step") == latest.get("step")
            and previous.get("epoch") == latest.get("epoch")
            and not new_keys & set(previous)
            and not any(key.startswith("test/") for key in set(previous) | new_keys)
        ):
            previous.update(latest)
            rows.pop()
