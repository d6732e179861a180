"""One trial's job: the override that tells the run its trial, the launch through Hydra's launcher, and
what the job's return means for the study (`Outcome`).

The run learns about its trial only through its composed config: the sweeper adds the pruning
callback's entry (`callbacks.optuna_pruning`: storage URL, study name, trial number, pruner) to the
job's overrides, so `.hydra/overrides.yaml` and config.yaml say exactly what the run reported to.
The job returns a typed `crescendo.result.TrainResult`; a pruned run is a result with status
"pruned", not an exception.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from omegaconf import OmegaConf
from optuna.trial import TrialState

from crescendo.errors import DataError
from crescendo.result import TrainResult

#: the config entry of the trial's pruning callback (a Lightning callback in `cr`'s callbacks group)
PRUNING_KEY = "callbacks.optuna_pruning"
PRUNING_TARGET = "crescendo.search.pruning.OptunaPruning"


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, as the study records it."""

    state: TrialState
    values: tuple[float, ...] = ()
    run_dir: str | None = None
    checkpoint: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    abort: str | None = None  # the whole search must stop: every trial would fail the same way
    exception: BaseException | None = None  # its traceback goes to failures.log


def pruning_override(storage: str, study_name: str, number: int, pruner: Mapping[str, Any],
                     monitor: str | None) -> str:
    """`++callbacks.optuna_pruning={...}`: the run's pruning callback, naming its trial."""
    node: dict[str, Any] = {"_target_": PRUNING_TARGET, "storage": storage, "study_name": study_name,
                            "trial_number": number}
    if monitor is not None:
        node["monitor"] = monitor
    node["pruner"] = dict(pruner)
    return f"++{PRUNING_KEY}={_hydra_value(node)}"


def _hydra_value(value: Any) -> str:
    """`value` in Hydra's override grammar (strings quoted, so URLs and `${...}` pass unchanged)."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{_hydra_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def launch(launcher: Any, overrides: Sequence[str], number: int) -> tuple[JobReturn, float]:
    """Run the job of trial `number` (Hydra job number = trial number); returns it and its seconds."""
    started = time.perf_counter()
    try:
        job = launcher.launch([list(overrides)], initial_job_idx=number)[0]
    except HydraException as error:  # these values do not compose
        job = JobReturn(status=JobStatus.FAILED, _return_value=error)
    return job, time.perf_counter() - started


def outcome_of(job: JobReturn, objectives: Sequence[str] | None) -> Outcome:
    """What the job's return means: complete with its values, pruned, or failed (and why)."""
    run_dir = _run_dir(job)
    if job.status != JobStatus.COMPLETED:
        error = getattr(job, "_return_value", None)  # JobReturn.return_value re-raises it
        if isinstance(error, optuna.TrialPruned):  # a task that raises it, as Optuna's examples do
            return Outcome(TrialState.PRUNED, run_dir=run_dir)
        return Outcome(TrialState.FAIL, run_dir=run_dir, error=_error_text(error), exception=error,
                       abort=str(error) if isinstance(error, DataError) else None)

    result = job.return_value
    if not isinstance(result, TrainResult):
        return Outcome(TrialState.FAIL, run_dir=run_dir,
                       error=f"the task returned {type(result).__name__}, not a crescendo.result.TrainResult")
    run_dir = str(result.run_dir) if result.run_dir else run_dir
    common = {"run_dir": run_dir, "checkpoint": result.best_checkpoint,
              "metrics": {str(k): _float_or_none(v) for k, v in result.metrics.items()}}
    if result.status == "pruned":
        return Outcome(TrialState.PRUNED, **common)
    if result.status != "complete":
        return Outcome(TrialState.FAIL, error=result.error or f"the run ended with status '{result.status}'", **common)
    if objectives:
        missing = [name for name in objectives if name not in result.metrics]
        if missing:
            message = (f"hydra.sweeper.objectives: {', '.join(missing)} not among the run's metrics "
                       f"({', '.join(map(str, result.metrics)) or 'none'})")
            return Outcome(TrialState.FAIL, error=message, abort=message, **common)
        values = [_float_or_none(result.metrics[name]) for name in objectives]
    else:
        values = [_float_or_none(result.objective)]
    bad = [v for v in values if v is None or not math.isfinite(v)]
    if bad:
        return Outcome(TrialState.FAIL, error=f"objective is {bad[0]}", **common)
    return Outcome(TrialState.COMPLETE, values=tuple(float(v) for v in values), **common)  # type: ignore[arg-type]


def _run_dir(job: JobReturn) -> str | None:
    hydra_cfg = getattr(job, "hydra_cfg", None)
    if hydra_cfg is not None:
        output_dir = OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None)
        if output_dir:
            return str(output_dir)
    return getattr(job, "working_dir", None)


def _error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {message}" if message else type(error).__name__
    return "the job failed"


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
