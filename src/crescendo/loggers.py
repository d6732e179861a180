"""Lightning loggers with the file layout crescendo promises."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import CSVLogger


class EpochCSVLogger(CSVLogger):
    """A CSVLogger whose metrics.csv holds one row per epoch.

    Lightning logs an epoch's validation metrics and its training metrics in two calls at the same
    step, which CSVLogger writes as two half-empty rows; here the second call is merged into the
    first. Test metrics (logged after fit, at the last step) keep a row of their own.
    """

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
