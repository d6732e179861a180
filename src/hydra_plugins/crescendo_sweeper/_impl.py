"""The Optuna work of the crescendo sweeper (imported only when a search starts).

One worker runs the loop `ask → launch the job → tell` until the study holds `n_trials` finished
trials; the study lives in the storage, so the count includes earlier runs (resume) and, later,
other workers on the same storage. Per trial the loop costs one sampling, one job launch (Hydra
composes the job's config and runs it; in-process with the basic launcher), one tell and one
rewrite of the two small results files.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from crescendo.errors import ConfigError, DataError, exit_with
from crescendo.search import active_trial, results
from crescendo.search.factories import PRUNERS, SAMPLERS, make_pruner, make_sampler
from crescendo.search.results import Counts, ResultsWriter
from crescendo.search.space import SearchSpace, describe, parse_search_space
from crescendo.search.storage import open_storage, refresh

log = logging.getLogger(__name__)

FAILURES_LOG = "failures.log"
_DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}


@dataclass
class _Plan:
    """Everything checked before the first trial runs."""

    space: SearchSpace
    directions: list[str]
    objectives: list[str] | None
    n_trials: int
    storage_url: str
    study_name: str
    sweep_dir: Path
    pruner_name: str
    pruner_kwargs: dict[str, Any]


class _SearchAborted(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class CrescendoSearch:
    def __init__(
        self,
        n_trials: int = 20,
        n_jobs: int = 1,
        sampler: str = "tpe",
        sampler_kwargs: Any = None,
        seed: int | None = None,
        pruner: str = "median",
        pruner_kwargs: Any = None,
        direction: Any = "minimize",
        objectives: Any = None,
        storage: str | None = None,
        study_name: str | None = None,
        max_failure_rate: float = 0.5,
        params: Any = None,
    ) -> None:
        def plain(value: Any) -> Any:
            return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.sampler_name = sampler
        self.sampler_kwargs = dict(plain(sampler_kwargs) or {})
        self.seed = seed
        self.pruner_name = pruner
        self.pruner_kwargs = dict(plain(pruner_kwargs) or {})
        self.direction = plain(direction)
        self.objectives = plain(objectives)
        self.storage = storage
        self.study_name = study_name
        self.max_failure_rate = max_failure_rate
        self.params = dict(plain(params) or {})

        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.study: optuna.Study | None = None

    # ------------------------------------------------------------------ Hydra's sweeper lifecycle

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> optuna.Study:
        assert self.config is not None and self.hydra_context is not None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        try:
            plan = self._plan(arguments)
            study = self._open_study(plan)
            self._check_composes(plan)
        except ConfigError as error:
            exit_with(error)
        self.study = study
        try:
            self._run(study, plan)
        except _SearchAborted as aborted:
            exit_with(str(aborted), code=aborted.code)
        return study

    # ------------------------------------------------------------------ checks before any trial

    def _plan(self, arguments: Sequence[str]) -> _Plan:
        cfg = self.config
        assert cfg is not None and self.hydra_context is not None
        if not isinstance(self.n_trials, int) or self.n_trials < 1:
            raise ConfigError(f"hydra.sweeper.n_trials={self.n_trials}: must be a whole number ≥ 1")
        if self.n_jobs != 1:
            raise ConfigError(
                f"hydra.sweeper.n_jobs={self.n_jobs}: parallel trials in one command are not available "
                f"yet — use n_jobs=1"
            )
        if not 0.0 <= float(self.max_failure_rate) <= 1.0:
            raise ConfigError(
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate}: must be between 0 and 1 (1 = never abort)"
            )
        if str(self.sampler_name).lower() not in SAMPLERS:
            raise ConfigError(
                f"hydra.sweeper.sampler={self.sampler_name}: unknown sampler — choose one of {', '.join(SAMPLERS)}"
            )
        if str(self.pruner_name).lower() not in PRUNERS:
            raise ConfigError(
                f"hydra.sweeper.pruner={self.pruner_name}: unknown pruner — choose one of {', '.join(PRUNERS)}"
            )
        directions, objectives = self._directions()

        space = parse_search_space(arguments, self.params, cfg, self.hydra_context.config_loader)
        if not space.params:
            raise ConfigError(
                "nothing to search: give at least one key a range, e.g. 'model.optimizer.lr=interval(0.0001, 0.01)' "
                "or data.batch_size=choice(32,64) (on the command line or in hydra.sweeper.params)"
            )

        sweep_dir = Path(str(cfg.hydra.sweep.dir)).absolute()
        storage_url = self.storage or f"sqlite:///{sweep_dir / 'study.db'}"
        study_name = self.study_name or OmegaConf.select(cfg, "task_name", default=None) or cfg.hydra.job.name

        pruner_name = str(self.pruner_name).lower()
        if len(directions) > 1 and pruner_name != "none":
            print(f"cr: note: pruning needs a single objective; pruner={pruner_name} is off for this search")
            pruner_name = "none"
        n_trials = self.n_trials
        if str(self.sampler_name).lower() == "grid":
            grid = space.grid()
            size = math.prod(len(v) for v in grid.values())
            if size < n_trials:
                print(f"cr: note: the grid has {size} points; running {size} trials instead of {n_trials}")
                n_trials = size
        return _Plan(
            space=space,
            directions=directions,
            objectives=objectives,
            n_trials=n_trials,
            storage_url=storage_url,
            study_name=str(study_name),
            sweep_dir=sweep_dir,
            pruner_name=pruner_name,
            pruner_kwargs=self.pruner_kwargs,
        )

    def _directions(self) -> tuple[list[str], list[str] | None]:
        raw = self.direction
        given = [raw] if isinstance(raw, str) else list(raw or [])
        directions = []
        for d in given:
            if str(d).lower() not in _DIRECTIONS:
                raise ConfigError(f"hydra.sweeper.direction={raw}: each direction is minimize or maximize")
            directions.append(_DIRECTIONS[str(d).lower()])
        if not directions:
            raise ConfigError("hydra.sweeper.direction is empty: write minimize or maximize")
        objectives = self.objectives
        if objectives is not None:
            objectives = [objectives] if isinstance(objectives, str) else [str(o) for o in objectives]
            if len(directions) == 1 and len(objectives) > 1:
                directions = directions * len(objectives)
            if len(objectives) != len(directions):
                raise ConfigError(
                    f"hydra.sweeper.objectives={objectives}: {len(objectives)} names for {len(directions)} "
                    f"directions — give one direction per objective"
                )
        elif len(directions) > 1:
            raise ConfigError(
                f"hydra.sweeper.direction=[{','.join(directions)}]: several directions need hydra.sweeper.objectives, "
                f"one metric name per direction, e.g. objectives=[val/loss,fit_seconds]"
            )
        return directions, objectives

    def _open_study(self, plan: _Plan) -> optuna.Study:
        plan.sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            storage = open_storage(plan.storage_url)
            study = optuna.create_study(
                storage=storage,
                study_name=plan.study_name,
                directions=plan.directions,
                load_if_exists=True,
                pruner=make_pruner(plan.pruner_name, plan.pruner_kwargs),
            )
        except ConfigError:
            raise
        except Exception as error:
            raise ConfigError(
                f"hydra.sweeper.storage={results.hide_password(plan.storage_url)}: cannot open the study "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}) — use an Optuna "
                f"storage URL such as sqlite:///path/study.db or postgresql://user@host/db"
            ) from None
        stored = [d.name.lower() for d in study.directions]
        if stored != plan.directions:
            raise ConfigError(
                f"hydra.sweeper.study_name={plan.study_name}: the study in {results.hide_password(plan.storage_url)} "
                f"was created to {'/'.join(stored)}, this search asks {'/'.join(plan.directions)} — use another "
                f"study_name (or storage), or the same direction"
            )
        existing = study.get_trials(deepcopy=False)
        _check_same_space(existing, plan)
        # a resumed study must not replay the random draws of its first run: offset the seed
        seed = None if self.seed is None else int(self.seed) + len(existing)
        grid = plan.space.grid() if str(self.sampler_name).lower() == "grid" else None
        study.sampler = make_sampler(
            self.sampler_name, seed, self.sampler_kwargs, grid=grid, n_objectives=len(plan.directions)
        )
        return study

    def _check_composes(self, plan: _Plan) -> None:
        """Compose one job's config (first choice / lower end of each key) to catch what Hydra rejects."""
        from optuna.distributions import CategoricalDistribution

        assert self.hydra_context is not None and self.config is not None
        values = {
            p.name: p.distribution.choices[0] if isinstance(p.distribution, CategoricalDistribution) else p.distribution.low
            for p in plan.space.params
        }
        overrides = plan.space.overrides(values)
        try:
            self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        except Exception as error:
            raise ConfigError(
                f"a trial's config cannot be composed ({' '.join(overrides)}): {str(error).strip()}"
            ) from None

    # ------------------------------------------------------------------ the loop

    def _run(self, study: optuna.Study, plan: _Plan) -> None:
        writer = ResultsWriter(
            sweep_dir=plan.sweep_dir,
            study_name=plan.study_name,
            storage=plan.storage_url,
            directions=plan.directions,
            objectives=plan.objectives,
            param_names=[p.name for p in plan.space.params],
            n_trials=plan.n_trials,
        )
        OmegaConf.save(self.config, plan.sweep_dir / "multirun.yaml")
        trials = study.get_trials(deepcopy=False)
        counts = Counts.of(trials)
        self._print_header(study, plan, counts)
        single = len(plan.directions) == 1
        best = results.best_trial(trials, plan.directions[0]) if single else None
        n_this_run = 0
        with self._search_environment(plan), _quiet_launcher():
            while counts.finished < plan.n_trials:
                trial = study.ask(plan.space.distributions)
                overrides = plan.space.overrides(trial.params)
                tic = time.perf_counter()
                try:
                    active_trial.set_active_trial(trial)
                    job = self.launcher.launch([overrides], initial_job_idx=trial.number)[0]
                except HydraException as error:  # these values do not compose (checked for the first)
                    job = JobReturn(status=JobStatus.FAILED, _return_value=error)
                except BaseException as error:  # Ctrl-C or an exit inside the job: record, then leave
                    interrupted = isinstance(error, KeyboardInterrupt)
                    trial.set_user_attr(results.ERROR, "interrupted" if interrupted else f"{type(error).__name__}: {error}")
                    if interrupted:
                        trial.set_user_attr(results.INTERRUPTED, True)
                    study.tell(trial, state=TrialState.FAIL)
                    refresh(study._storage)
                    writer.write(study.get_trials(deepcopy=False))
                    raise
                finally:
                    active_trial.set_active_trial(None)
                seconds = time.perf_counter() - tic
                abort = self._tell(study, trial, job, plan)
                n_this_run += 1

                refresh(study._storage)  # one read of the study per trial (see storage.py)
                trials = study.get_trials(deepcopy=False)
                counts = Counts.of(trials)
                writer.write(trials)
                frozen = _find(trials, trial.number)
                if single:
                    best = results.best_trial(trials, plan.directions[0])
                print(
                    results.trial_line(
                        frozen, counts.finished, plan.n_trials, best, seconds, _short_overrides(frozen.params)
                    ),
                    flush=True,
                )
                if frozen.state == TrialState.FAIL:
                    self._log_failure(plan, frozen, job)
                if abort is not None:
                    raise _SearchAborted(abort, code=2)
                if counts.fail > self.max_failure_rate * plan.n_trials:
                    raise _SearchAborted(
                        f"hydra.sweeper.max_failure_rate={self.max_failure_rate}: {counts.fail} of "
                        f"{plan.n_trials} trials failed; last: {frozen.user_attrs.get(results.ERROR, '?')} — "
                        f"see {plan.sweep_dir / FAILURES_LOG}; fix the cause or raise max_failure_rate",
                        code=1,
                    )
        writer.write(trials)
        self._print_summary(trials, writer, plan, n_this_run)

    def _tell(self, study: optuna.Study, trial: optuna.Trial, job: JobReturn, plan: _Plan) -> str | None:
        """Record the job's outcome; return a message when the whole search must stop."""
        run_dir = _job_run_dir(job)
        if run_dir:
            trial.set_user_attr(results.RUN_DIR, run_dir)
        if job.status != JobStatus.COMPLETED:
            error = getattr(job, "_return_value", None)
            if isinstance(error, optuna.TrialPruned):
                study.tell(trial, state=TrialState.PRUNED)
                return None
            trial.set_user_attr(results.ERROR, _error_text(error))
            study.tell(trial, state=TrialState.FAIL)
            if isinstance(error, DataError):  # the same data in every trial: it would fail them all
                return str(error)
            return None

        result = job.return_value
        status = str(getattr(result, "status", "complete") or "complete").lower()
        if getattr(result, "run_dir", None) and str(result.run_dir) != run_dir:
            run_dir = str(result.run_dir)
            trial.set_user_attr(results.RUN_DIR, run_dir)
        checkpoint = getattr(result, "best_checkpoint", None)
        if checkpoint:
            if run_dir and not os.path.isabs(str(checkpoint)):
                checkpoint = os.path.join(run_dir, str(checkpoint))
            trial.set_user_attr(results.CHECKPOINT, str(checkpoint))
        metrics = getattr(result, "metrics", None)
        if isinstance(metrics, dict) and metrics:
            trial.set_user_attr(results.METRICS, {str(k): _float_or_none(v) for k, v in metrics.items()})
        if status == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
            return None
        if status == "failed":
            trial.set_user_attr(results.ERROR, "the run reported status 'failed'")
            study.tell(trial, state=TrialState.FAIL)
            return None

        try:
            values = _objective_values(result, plan.objectives)
        except _MissingMetric as missing:
            trial.set_user_attr(results.ERROR, str(missing))
            study.tell(trial, state=TrialState.FAIL)
            return str(missing)
        bad = [v for v in values if v is None or not math.isfinite(v)]
        if bad:
            trial.set_user_attr(results.ERROR, f"objective is {bad[0]}")
            study.tell(trial, state=TrialState.FAIL)
            return None
        study.tell(trial, values if len(values) > 1 else values[0])
        return None

    # ------------------------------------------------------------------ output

    def _print_header(self, study: optuna.Study, plan: _Plan, counts: Counts) -> None:
        seed = "" if self.seed is None else f" (seed {self.seed})"
        monitor = OmegaConf.select(self.config, "monitor", default=None) if self.config is not None else None
        what = "/".join(plan.objectives) if plan.objectives else (str(monitor) if monitor else "the objective")
        resumed = f", resuming: {counts.finished} done" if counts.finished else ""
        print(
            f"Search '{plan.study_name}': {plan.n_trials} trials{resumed}; {str(self.sampler_name).lower()} sampler{seed}, "
            f"{plan.pruner_name} pruner; {'/'.join(plan.directions)} {what}",
            flush=True,
        )
        for p in plan.space.params:
            print(f"  {p.name}: {describe(p.distribution)}")
        print(f"  study: {results.hide_password(plan.storage_url)}", flush=True)

    def _print_summary(self, trials: Sequence[Any], writer: ResultsWriter, plan: _Plan, n_this_run: int) -> None:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=True)
        console.print(results.summary_table(trials, writer))
        doc = writer.summary(trials)
        if doc["best_trial"] is not None:
            console.print(f"best: trial #{doc['best_trial']} value={doc['best_value']:.6g}")
            console.print(f"  run dir: {doc['best_run_dir']}")
            if doc["best_checkpoint"]:
                console.print(f"  checkpoint: {doc['best_checkpoint']}")
        elif "pareto_front" in doc:
            console.print(f"Pareto front: trials {', '.join(str(t['trial']) for t in doc['pareto_front'])}")
        console.print(f"results: {plan.sweep_dir / results.RESULTS_FILE}, {plan.sweep_dir / results.TRIALS_FILE}")
        if doc["n_fail"]:
            console.print(f"failures: {plan.sweep_dir / FAILURES_LOG}")
        console.print(f"dashboard: optuna-dashboard {results.hide_password(plan.storage_url)}")

    def _log_failure(self, plan: _Plan, trial: Any, job: JobReturn) -> None:
        error = getattr(job, "_return_value", None)
        text = f"--- trial {trial.number}: {trial.user_attrs.get(results.ERROR, '')}\n"
        if isinstance(error, BaseException):
            text += "".join(traceback.format_exception(type(error), error, error.__traceback__))
        with open(plan.sweep_dir / FAILURES_LOG, "a") as f:
            f.write(text + "\n")

    @contextlib.contextmanager
    def _search_environment(self, plan: _Plan) -> Iterator[None]:
        """Let a job launched in another process (submitit) find its trial: see active_trial."""
        old = os.environ.get(active_trial.ENV_VAR)
        os.environ[active_trial.ENV_VAR] = active_trial.search_environment(
            plan.storage_url, plan.study_name, plan.pruner_name, plan.pruner_kwargs
        )
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(active_trial.ENV_VAR, None)
            else:
                os.environ[active_trial.ENV_VAR] = old


# ---------------------------------------------------------------------- helpers


class _MissingMetric(Exception):
    pass


def _objective_values(result: Any, objectives: list[str] | None) -> list[float | None]:
    if objectives:
        metrics = getattr(result, "metrics", None)
        if metrics is None and isinstance(result, dict):
            metrics = result
        metrics = metrics or {}
        missing = [o for o in objectives if o not in metrics]
        if missing:
            raise _MissingMetric(
                f"hydra.sweeper.objectives: {', '.join(missing)} not among the run's metrics "
                f"({', '.join(map(str, metrics)) or 'none'})"
            )
        return [_float_or_none(metrics[o]) for o in objectives]
    value = getattr(result, "objective", result)
    return [_float_or_none(value)]


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _error_text(error: Any) -> str:
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {message}" if message else type(error).__name__
    return "the job failed"


def _job_run_dir(job: JobReturn) -> str | None:
    hydra_cfg = getattr(job, "hydra_cfg", None)
    if hydra_cfg is not None:
        output_dir = OmegaConf.select(hydra_cfg, "hydra.runtime.output_dir", default=None)
        if output_dir:
            return str(output_dir)
    return getattr(job, "working_dir", None)


def _find(trials: Sequence[Any], number: int) -> Any:
    if number < len(trials) and trials[number].number == number:
        return trials[number]
    return next(t for t in trials if t.number == number)


def _short_overrides(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _check_same_space(existing: Sequence[Any], plan: _Plan) -> None:
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


@contextlib.contextmanager
def _quiet_launcher() -> Iterator[None]:
    """The basic launcher logs two lines per job; the sweeper prints its own line per trial."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return False

    names = ["hydra._internal.core_plugins.basic_launcher"]
    drop = _Drop()
    for name in names:
        logging.getLogger(name).addFilter(drop)
    try:
        yield
    finally:
        for name in names:
            logging.getLogger(name).removeFilter(drop)
