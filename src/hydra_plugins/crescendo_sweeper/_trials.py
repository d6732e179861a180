"""Small pure helpers about trials: what a finished job means for its trial (values, error, run dir),
finding and placing trials among the study's, and a resumed study's search space."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Sequence

import optuna
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf

from crescendo.errors import ConfigError
from crescendo.search import results
from crescendo.search.space import describe

if TYPE_CHECKING:
    from hydra_plugins.crescendo_sweeper._impl import _Plan


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the running trials whose heartbeat expired and queue their retries (Optuna's callback)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if not is_heartbeat_enabled(study._storage):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


def is_surplus(number: int, trials: Sequence[Any], n_trials: int) -> bool:
    """Trial `number` is surplus when n_trials trials numbered below it hold a place (see the module doc)."""
    retried = results.retried_numbers(trials)
    below = sum(1 for t in trials if t.number < number and results.holds_place(t, retried))
    return below >= n_trials


class MissingMetric(Exception):
    pass


def objective_values(result: Any, objectives: list[str] | None) -> list[float | None]:
    if objectives:
        metrics = getattr(result, "metrics", None)
        if metrics is None and isinstance(result, dict):
            metrics = result
        metrics = metrics or {}
        missing = [o for o in objectives if o not in metrics]
        if missing:
            raise MissingMetric(
                f"hydra.sweeper.objectives: {', '.join(missing)} not among the run's metrics "
                f"({', '.join(map(str, metrics)) or 'none'})"
            )
        return [float_or_none(metrics[o]) for o in objectives]
    value = getattr(result, "objective", result)
    return [float_or_none(value)]


def float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {message}" if message else type(error).__name__
    return "the job failed"


def job_run_dir(job: JobReturn) -> str | None:
    hydra_cfg = getattr(job, "hydra_cfg", None)
    if hydra_cfg is not None:
        output_dir = OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None)
        if output_dir:
            return str(output_dir)
    return getattr(job, "working_dir", None)


def find_trial(trials: Sequence[Any], number: int) -> Any:
    if number < len(trials) and trials[number].number == number:
        return trials[number]
    return next(t for t in trials if t.number == number)


def short_overrides(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def check_same_space(existing: Sequence[Any], plan: _Plan) -> None:
    """A resumed study must search the same distributions under the same names (Optuna refuses others)."""
    from optuna.distributions import check_distribution_compatibility

    new = plan.space.distributions
    for trial in reversed(existing):
        for name, old in trial.distributions.items():
            if name in new:
                try:
                    check_distribution_compatibility(old, new[name])
                except ValueError:
                    raise ConfigError(
                        f"{name}: study '{plan.study_name}' searched it as {describe(old)}, this search as "
                        f"{describe(new[name])} — use another hydra.sweeper.study_name for a different search space"
                    ) from None
        if trial.distributions:
            return


def dashboard_url(url: str) -> str:
    if url.startswith("journal://"):
        return url[len("journal://"):]  # optuna-dashboard opens a journal file by its path
    return url
