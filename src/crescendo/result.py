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


@dataclass
class TrainResult:
    """The outcome of one run: a test, a notebook or the sweeper reads it; result.json stores it.

    `objective` is the monitored value of the best epoch (the epoch of `best_checkpoint`), also for a
    pruned run (the best it had reached). `metrics` holds every logged metric of that epoch, plus
    `test/loss` and `fit_seconds`.
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
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)  # the run's `tags`

    def to_json(self) -> dict[str, Any]:
        """result.json's content: checkpoint paths relative to the run dir, so a run can be moved."""
        record = asdict(self)
        if self.best_checkpoint:
            record["best_checkpoint"] = _relative_to(self.best_checkpoint, self.run_dir)
        last = Path(self.run_dir) / "checkpoints/last.ckpt"
        record["last_checkpoint"] = "checkpoints/last.ckpt" if last.exists() else None
        return record


def _relative_to(path: str, directory: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(directory).resolve()))
    except ValueError:
        return path
