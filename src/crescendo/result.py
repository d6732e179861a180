"""`TrainResult`: what one run returns to its caller and writes to result.json.

It lives apart from `crescendo.train` so that whoever reads results (the sweeper, a test app standing
in for `cr`) can type-check them without importing torch or Lightning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: the states a run ends in; a pruned run is a result like the others, not an exception
STATUSES = ("complete", "pruned", "failed")
#: result.json's `loss_units` by data.normalize_targets: the units every logged and reported loss is in
LOSS_UNITS = {True: "standardized targets", False: "targets"}


@dataclass
class TrainResult:
    """The outcome of one run: a test, a notebook or the sweeper reads it; result.json stores it.

    `objective` is the monitored value of the best epoch (the epoch of `best_checkpoint`), also for a
    pruned run (the best it had reached). `metrics` holds every logged metric of that epoch, plus
    `test/loss` and `fit_seconds`. Every loss (objective, metrics, test_loss) is in `loss_units`: the
    units the model trains in — "standardized targets" with data.normalize_targets (`target_scaler`
    holds the mean and scale per target to convert: an MSE times scale² is in squared target units),
    else "targets".
    """

    objective: float
    monitor: str
    mode: str
    status: str  # one of STATUSES
    run_dir: str
    best_checkpoint: str | None = None
    best_epoch: int | None = None
    input_dims: int = 0
    output_dims: int = 0
    architecture: list[int] = field(default_factory=list)
    fit_seconds: float = 0.0
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    test_loss: float | None = None
    error: str | None = None
    # Lightning's EarlyStopping, when it stopped the run: stopped_epoch, monitor, reason, message,
    # patience, best_score (crescendo.callbacks.early_stopping_record); None when it did not
    early_stopping: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)  # the run's `tags`
    loss_units: str = "targets"
    target_scaler: dict[str, list[float]] | None = None  # {"mean": [...], "scale": [...]} per target

    def to_json(self) -> dict[str, Any]:
        """result.json's content: checkpoint paths relative to the run dir, so a run can be moved."""
        record = asdict(self)
        if self.best_checkpoint:
            record["best_checkpoint"] = _relative_to(self.best_checkpoint, self.run_dir)
        last = Path(self.run_dir) / "checkpoints/last.ckpt"
        record["last_checkpoint"] = "checkpoints/last.ckpt" if last.exists() else None
        return record


def effective_monitor(monitor: str, production_mode: bool) -> str:
    """The metric a run watches: in production mode there is no held-out data, so a `val/` monitor
    becomes its training counterpart (what `crescendo.train` and a search's metric name use)."""
    if production_mode and monitor.startswith("val/"):
        return "train/" + monitor.split("/", 1)[1]
    return monitor


def _relative_to(path: str, directory: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(directory).resolve()))
    except ValueError:
        return path
