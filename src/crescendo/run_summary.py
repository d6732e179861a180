"""The few lines a single run ends with: where it is and what it reached.

Lightning's progress bar and its "`Trainer.fit` stopped" line say neither where the run directory is
nor what the objective was; a user should not have to open result.json to find out. A search's trials
print nothing of this (they are quiet): the sweeper prints one line per trial and its own summary.
"""

from __future__ import annotations

import math

from crescendo.result import TrainResult


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def summary_lines(result: TrainResult) -> list[str]:
    """`run dir: DIR`, the best epoch and objective, the test loss, the best checkpoint, early stopping."""
    status = "" if result.status == "complete" else f" ({result.status})"
    lines = [f"run dir: {result.run_dir}{status}"]
    if result.best_epoch is not None:
        lines.append(f"  best epoch: {result.best_epoch}  objective {result.monitor}={_number(result.objective)} "
                     f"({result.mode})")
    else:
        lines.append(f"  no epoch logged {result.monitor}: no objective")
    if result.test_loss is not None:
        lines.append(f"  test/loss: {_number(result.test_loss)} (best checkpoint on the test split)")
    if result.best_checkpoint:
        lines.append(f"  best checkpoint: {result.best_checkpoint}")
    stopped = result.early_stopping
    if stopped:
        why = str(stopped.get("message") or stopped.get("reason") or "").replace(" Signaling Trainer to stop.", "")
        lines.append(f"  early stopping: stopped at epoch {stopped['stopped_epoch']} ({why})")
    return lines


def print_summary(result: TrainResult) -> None:
    print("\n".join(summary_lines(result)), flush=True)
