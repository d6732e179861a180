"""Lightning loggers with the file layout crescendo promises."""

from __future__ import annotations

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
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[str, Any] | None = None  # the newest row's metrics, "step" included
        self._held_step: int | None = None

    @rank_zero_only  # under DDP the other ranks hold a dummy experiment (and write nothing)
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if self._held is not None and _continues(self._held, self._held_step, metrics, step):
            self._held.update(metrics)
            return
        self._release()
        self._held, self._held_step = dict(metrics), step

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._release()
        super().finalize(status)

    def _release(self) -> None:
        """Hand the held row to CSVLogger (which writes it at its next save)."""
        if self._held is not None:
            held, step = self._held, self._held_step
            self._held = self._held_step = None
            super().log_metrics(held, step)


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
