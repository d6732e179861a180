"""The Optuna work of the crescendo sweeper (imported only when a search starts).

A worker runs the loop `ask → launch the job → tell` until the study holds `n_trials` finished
trials. The study lives in the storage, so the count includes earlier runs (resume) and every other
worker on the same storage: the `n_jobs` worker processes of this command (forked from it), and any
other `cr` command on any machine that names the same storage and study. Per trial the loop costs one
sampling, one job launch (in-process with the crescendo launcher), one tell, one read of the study and
one rewrite of the two small results files.

Exactly n_trials: a worker asks only while the trials that count or will count (finished, running,
queued retries) are fewer than n_trials; two workers can still ask at the same moment, so after asking
a worker re-reads the study and gives up its trial ("surplus": FAIL with the `surplus` attr, never run,
never counted) when n_trials trials that hold a place are numbered below it. Trial numbers are
assigned atomically by every storage, so of the trials asked at once, the lowest numbers run.

Dead workers: a running trial carries a heartbeat (crescendo.search.storage); once it expires, the
next worker that looks fails the trial and queues a retry with the same parameters, which counts in
its place. A worker with nothing to ask waits (polling) until the study is done, so a trial of a dead
worker is always retried by someone still running — or by re-running the same command.

Beside this module: `_signals` (Ctrl-C / SIGTERM), `_processes` (cores, fork, preload, file lock) and
`_trials` (pure helpers about trials and jobs).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
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
from crescendo.search.storage import close_connections, normalize_url, open_storage, refresh
from hydra_plugins.crescendo_sweeper._processes import (
    can_fork,
    check_trainer_for_search,
    cores,
    file_lock,
    preload_modules,
    processes_per_trial,
)
from hydra_plugins.crescendo_sweeper._signals import (
    SearchStopped,
    deferred_signals,
    die_with_parent,
    exit_now,
    record_interrupted,
    signals_ignored,
    stop_on_signals,
    stop_requested,
)
from hydra_plugins.crescendo_sweeper._trials import (
    MissingMetric,
    check_same_space,
    dashboard_url,
    error_text,
    fail_stale_trials,
    find_trial,
    float_or_none,
    is_surplus,
    job_run_dir,
    objective_values,
    short_overrides,
)

log = logging.getLogger(__name__)

FAILURES_LOG = "failures.log"
RESULTS_LOCK = ".results.lock"
_DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}
_IN_PROCESS_LAUNCHERS = ("CrescendoLauncher", "BasicLauncher")
_INTERRUPTED_CODE = 130


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
    n_jobs: int = 1
    in_process: bool = True
    heartbeat_interval: int | None = None
    grace_period: int | None = None
    max_retry: int | None = None
    preload: list[str] = field(default_factory=list)
    seed: int | None = None  # the sampler seed of worker 0 (already offset for a resumed study)


class _SearchAborted(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class CrescendoSearch:
    def __init__(
        self,
        n_trials: int = 20,
        n_jobs: Any = 1,
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
        heartbeat_interval: Any = 10,
        grace_period: Any = None,
        max_retry: Any = 2,
        preload: Any = None,
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
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.max_retry = max_retry
        self.preload = list(plain(preload) or [])

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
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"optuna(\.|$)")
        # ask/tell with heartbeats: the sweeper runs the heartbeat thread itself (see _next_trial)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
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
        if isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int) or self.n_trials < 1:
            raise ConfigError(f"hydra.sweeper.n_trials={self.n_trials}: must be a whole number ≥ 1")
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
        heartbeat = _optional_whole(self.heartbeat_interval, "hydra.sweeper.heartbeat_interval", 1,
                                    "seconds between a running trial's heartbeats; null switches them off")
        grace = _optional_whole(self.grace_period, "hydra.sweeper.grace_period", 1,
                                "seconds without a heartbeat before a trial counts as dead; null = 2 × heartbeat_interval")
        if heartbeat is not None and grace is not None and grace <= heartbeat:
            raise ConfigError(
                f"hydra.sweeper.grace_period={grace}: must be longer than heartbeat_interval={heartbeat} "
                f"(else live trials look dead) — e.g. grace_period={2 * heartbeat}"
            )
        max_retry = _optional_whole(self.max_retry, "hydra.sweeper.max_retry", 0,
                                    "how often a trial whose worker died is run again; null = always")
        launcher_target = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
        in_process = launcher_target.rsplit(".", 1)[-1] in _IN_PROCESS_LAUNCHERS
        n_jobs = self._n_jobs(cfg, in_process)
        check_trainer_for_search(cfg)
        directions, objectives = self._directions()

        space = parse_search_space(arguments, self.params, cfg, self.hydra_context.config_loader)
        if not space.params:
            raise ConfigError(
                "nothing to search: give at least one key a range, e.g. 'model.optimizer.lr=interval(0.0001, 0.01)' "
                "or data.batch_size=choice(32,64) (on the command line or in hydra.sweeper.params)"
            )

        sweep_dir = Path(str(cfg.hydra.sweep.dir)).absolute()
        storage_url = normalize_url(self.storage) if self.storage else f"sqlite:///{sweep_dir / 'study.db'}"
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
            n_jobs=n_jobs,
            in_process=in_process,
            heartbeat_interval=heartbeat,
            grace_period=grace,
            max_retry=max_retry,
            preload=[str(m) for m in self.preload],
        )

    def _n_jobs(self, cfg: DictConfig, in_process: bool) -> int:
        """`auto`: one worker per CPU core (per DDP process group) when trials train on the CPU in this
        process; else 1 (a GPU is not shared; a submitit launcher's jobs run elsewhere: set n_jobs)."""
        value = self.n_jobs
        if isinstance(value, str) and value.strip().lower() == "auto":
            accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="") or "").lower()
            if not in_process or accelerator != "cpu" or not can_fork():
                return 1
            return max(1, cores() // processes_per_trial(cfg))
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"hydra.sweeper.n_jobs={value}: must be a whole number ≥ 1 (trials at once) or auto "
                f"(one per CPU core for CPU training) — e.g. hydra.sweeper.n_jobs=2"
            )
        if value > 1 and in_process and not can_fork():
            print("cr: note: parallel workers need fork (Linux, macOS); running hydra.sweeper.n_jobs=1")
            return 1
        return value

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

    def _storage(self, plan: _Plan) -> Any:
        return open_storage(plan.storage_url, plan.heartbeat_interval, plan.grace_period, plan.max_retry)

    def _open_study(self, plan: _Plan) -> optuna.Study:
        if plan.storage_url == f"sqlite:///{plan.sweep_dir / 'study.db'}":
            plan.sweep_dir.mkdir(parents=True, exist_ok=True)
        storage = self._storage(plan)  # raises ConfigError naming the URL and the fix
        try:
            return self._load_checked_study(plan, storage)
        except BaseException:
            close_connections(storage)  # SQLite: no -wal/-shm files left beside a study this search refused
            raise

    def _load_checked_study(self, plan: _Plan, storage: Any) -> optuna.Study:
        try:
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
        check_same_space(existing, plan)
        # a resumed study must not replay the random draws of its first run: offset the seed
        plan.seed = None if self.seed is None else int(self.seed) + len(existing)
        study.sampler = self._sampler(plan, worker=0)
        plan.sweep_dir.mkdir(parents=True, exist_ok=True)
        return study

    def _sampler(self, plan: _Plan, worker: int) -> Any:
        """Worker k samples with seed + k: workers of one command never draw the same values."""
        grid = plan.space.grid() if str(self.sampler_name).lower() == "grid" else None
        seed = None if plan.seed is None else plan.seed + worker
        return make_sampler(self.sampler_name, seed, self.sampler_kwargs, grid=grid, n_objectives=len(plan.directions))

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

    # ------------------------------------------------------------------ the search

    def _writer(self, plan: _Plan) -> ResultsWriter:
        return ResultsWriter(
            sweep_dir=plan.sweep_dir,
            study_name=plan.study_name,
            storage=plan.storage_url,
            directions=plan.directions,
            objectives=plan.objectives,
            param_names=[p.name for p in plan.space.params],
            n_trials=plan.n_trials,
        )

    def _run(self, study: optuna.Study, plan: _Plan) -> None:
        writer = self._writer(plan)
        OmegaConf.save(self.config, plan.sweep_dir / "multirun.yaml")
        counts = Counts.of(study.get_trials(deepcopy=False))
        n_workers = max(1, min(plan.n_jobs, plan.n_trials - counts.holding))
        self._print_header(study, plan, counts, n_workers)
        interrupted = False
        if n_workers == 1:
            try:
                n_this_run = self._work(study, plan, writer, worker=0)
            except SearchStopped:
                n_this_run, interrupted = 0, True
        else:
            n_this_run, code = self._run_workers(study, plan, n_workers)
            interrupted = code == _INTERRUPTED_CODE
            if code not in (0, _INTERRUPTED_CODE):
                self._write_results(study, writer, plan)
                raise SystemExit(code)  # the worker printed why
        trials = self._write_results(study, writer, plan)
        close_connections(study._storage)  # SQLite: the last connection closed folds the WAL into study.db
        if interrupted:
            exit_with(
                "interrupted: the running trials are recorded as interrupted and do not count — run the same "
                "command again to finish the study",
                code=_INTERRUPTED_CODE,
            )
        self._print_summary(trials, writer, plan, n_this_run)

    def _work(self, study: optuna.Study, plan: _Plan, writer: ResultsWriter, worker: int) -> int:
        """The loop of one worker; returns how many trials it ran. Raises _SearchAborted, SearchStopped."""
        single = len(plan.directions) == 1
        n_this_run = 0
        with self._search_environment(plan), _quiet_launcher(), stop_on_signals():
            while True:
                with deferred_signals():  # a signal here waits until the study is consistent
                    asked = self._next_trial(study, plan)
                    if asked is not None and stop_requested():
                        record_interrupted(study, asked[0], asked[1])
                        asked = None
                if asked is None:
                    break
                trial, beat = asked
                job, seconds = self._launch(study, trial, plan, writer, beat)
                with deferred_signals():
                    try:
                        abort = self._tell(study, trial, job, plan)
                    except optuna.exceptions.UpdateFinishedTrialError:
                        print(
                            f"cr: warning: trial #{trial.number} was failed by another worker while it ran (no "
                            f"heartbeat for longer than the grace period); its retry counts instead",
                            file=sys.stderr,
                            flush=True,
                        )
                        continue
                    n_this_run += 1
                    trials = self._write_results(study, writer, plan)
                    counts = Counts.of(trials)
                    frozen = find_trial(trials, trial.number)
                    best = results.best_trial(trials, plan.directions[0]) if single else None
                    print(
                        results.trial_line(
                            frozen, counts.finished, plan.n_trials, best, seconds, short_overrides(frozen.params)
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
        return n_this_run

    def _next_trial(self, study: optuna.Study, plan: _Plan) -> tuple[optuna.Trial, Any] | None:
        """Ask for the next trial that has a place among n_trials (with its heartbeat running), or None
        once the study holds n_trials finished trials. Waits while other workers run the last ones."""
        from optuna.storages._heartbeat import get_heartbeat_thread

        waited_since: float | None = None
        noted = False
        pause = 0.05
        while True:
            fail_stale_trials(study)
            refresh(study._storage)
            trials = study.get_trials(deepcopy=False)
            counts = Counts.of(trials)
            if counts.finished >= plan.n_trials or stop_requested():
                return None
            if counts.waiting == 0 and counts.holding >= plan.n_trials:
                # the last trials run elsewhere: wait for them (a dead worker's trial is retried here)
                waited_since = waited_since or time.monotonic()
                if not noted and time.monotonic() - waited_since > 5 and plan.heartbeat_interval:
                    running = [t.number for t in trials if t.state == TrialState.RUNNING]
                    grace = plan.grace_period or 2 * plan.heartbeat_interval
                    print(
                        f"  waiting for trial(s) {', '.join(f'#{n}' for n in running)} running elsewhere "
                        f"(a trial without a heartbeat for {grace} s is retried here)",
                        flush=True,
                    )
                    noted = True
                time.sleep(pause)
                pause = min(1.0, pause * 2)
                continue
            trial = study.ask(plan.space.distributions)
            beat = get_heartbeat_thread(trial._trial_id, study._storage)
            beat.start()
            try:
                trial.set_user_attr(results.WORKER, _WORKER_ID)
                refresh(study._storage)
                if not is_surplus(trial.number, study.get_trials(deepcopy=False), plan.n_trials):
                    return trial, beat
                trial.set_user_attr(results.SURPLUS, True)
            except BaseException:  # stopped between ask and launch: the trial never ran
                record_interrupted(study, trial, beat)
                raise
            beat.join()
            study.tell(trial, state=TrialState.FAIL)

    def _launch(
        self, study: optuna.Study, trial: optuna.Trial, plan: _Plan, writer: ResultsWriter, beat: Any
    ) -> tuple[JobReturn, float]:
        overrides = plan.space.overrides(trial.params)
        tic = time.perf_counter()
        try:
            active_trial.set_active_trial(trial)
            job = self.launcher.launch([overrides], initial_job_idx=trial.number)[0]
        except HydraException as error:  # these values do not compose (checked for the first)
            job = JobReturn(status=JobStatus.FAILED, _return_value=error)
        except BaseException as error:  # Ctrl-C, SIGTERM or an exit inside the job: record, then leave
            with deferred_signals():
                beat.join()
                interrupted = isinstance(error, (KeyboardInterrupt, SearchStopped))
                with contextlib.suppress(Exception):
                    if interrupted:
                        record_interrupted(study, trial)
                    else:
                        trial.set_user_attr(results.ERROR, f"{type(error).__name__}: {error}")
                        study.tell(trial, state=TrialState.FAIL)
                    self._write_results(study, writer, plan)
            raise
        finally:
            active_trial.set_active_trial(None)
        beat.join()
        return job, time.perf_counter() - tic

    def _write_results(self, study: optuna.Study, writer: ResultsWriter, plan: _Plan) -> list[Any]:
        """Re-read the study and rewrite the results files; workers take turns (a lock file), so the
        files always come from the newest read."""
        with file_lock(plan.sweep_dir / RESULTS_LOCK):
            refresh(study._storage)  # one read of the study per trial (see storage.py)
            trials = study.get_trials(deepcopy=False)
            writer.write(trials)
        return trials

    # ------------------------------------------------------------------ worker processes

    def _run_workers(self, study: optuna.Study, plan: _Plan, n_workers: int) -> tuple[int, int]:
        """Fork `n_workers` processes that each run `_work`; wait for them. Returns (trials run, exit code)."""
        import multiprocessing
        from multiprocessing.connection import wait

        if plan.in_process:
            preload_modules(plan.preload)  # once here, not once per worker: torch + Lightning take seconds
        threads = max(1, cores() // n_workers)
        context = multiprocessing.get_context("fork")
        close_connections(study._storage)  # children open their own connections
        workers = []
        sys.stdout.flush()
        sys.stderr.flush()
        for index in range(n_workers):
            process = context.Process(
                target=self._worker_main, args=(plan, index, threads), name=f"cr-worker-{index}", daemon=False
            )
            process.start()
            workers.append(process)
        alive = {p.sentinel: p for p in workers}
        code = 0
        try:
            while alive:
                for sentinel in wait(list(alive)):
                    process = alive.pop(sentinel)
                    process.join()
                    exit_code = process.exitcode or 0
                    if exit_code < 0:
                        print(
                            f"cr: warning: worker {process.name} (pid {process.pid}) was killed by signal {-exit_code}; "
                            f"its trial is retried once its heartbeat expires",
                            file=sys.stderr,
                            flush=True,
                        )
                    elif exit_code == _INTERRUPTED_CODE:
                        code = code or exit_code
                    elif exit_code != 0 and code == 0:
                        code = exit_code  # an abort: stop the others (they record their trials as interrupted)
                        for other in alive.values():
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(other.pid, signal.SIGTERM)
        except KeyboardInterrupt:  # Ctrl-C: the workers got it too; let them record their trials
            code = _INTERRUPTED_CODE
            with signals_ignored():
                for process in alive.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGTERM)
                for process in alive.values():
                    process.join(timeout=60)
        if code == 0 and all((p.exitcode or 0) < 0 for p in workers):
            code = 1
            print("cr: error: every worker was killed; run the same command again to finish the study", file=sys.stderr)
        ids = {f"{_HOST}:{p.pid}" for p in workers}
        refresh(study._storage)
        n_this_run = sum(1 for t in study.get_trials(deepcopy=False)
                         if t.state.is_finished() and t.user_attrs.get(results.WORKER) in ids)
        return n_this_run, code

    def _worker_main(self, plan: _Plan, index: int, threads: int) -> None:
        """A forked worker: its own storage connection, sampler seed and share of the CPU threads."""
        global _WORKER_ID
        _WORKER_ID = f"{_HOST}:{os.getpid()}"
        die_with_parent()
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        try:
            study = optuna.load_study(
                study_name=plan.study_name,
                storage=self._storage(plan),
                sampler=self._sampler(plan, worker=index),
                pruner=make_pruner(plan.pruner_name, plan.pruner_kwargs),
            )
            self._work(study, plan, self._writer(plan), worker=index)
        except (SearchStopped, KeyboardInterrupt):
            exit_now(_INTERRUPTED_CODE)
        except _SearchAborted as aborted:
            print(f"cr: error: {aborted}", file=sys.stderr, flush=True)
            exit_now(aborted.code)
        except ConfigError as error:
            print(f"cr: error: {error}", file=sys.stderr, flush=True)
            exit_now(2)
        except SystemExit as stop:
            exit_now(stop.code if isinstance(stop.code, int) else 1)
        exit_now(0)

    # ------------------------------------------------------------------ recording a trial

    def _tell(self, study: optuna.Study, trial: optuna.Trial, job: JobReturn, plan: _Plan) -> str | None:
        """Record the job's outcome; return a message when the whole search must stop."""
        run_dir = job_run_dir(job)
        if run_dir:
            trial.set_user_attr(results.RUN_DIR, run_dir)
        if job.status != JobStatus.COMPLETED:
            error = getattr(job, "_return_value", None)
            if isinstance(error, optuna.TrialPruned):
                study.tell(trial, state=TrialState.PRUNED)
                return None
            trial.set_user_attr(results.ERROR, error_text(error))
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
            trial.set_user_attr(results.METRICS, {str(k): float_or_none(v) for k, v in metrics.items()})
        if status == "pruned":
            study.tell(trial, state=TrialState.PRUNED)
            return None
        if status == "failed":
            trial.set_user_attr(results.ERROR, "the run reported status 'failed'")
            study.tell(trial, state=TrialState.FAIL)
            return None

        try:
            values = objective_values(result, plan.objectives)
        except MissingMetric as missing:
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

    def _print_header(self, study: optuna.Study, plan: _Plan, counts: Counts, n_workers: int) -> None:
        seed = "" if self.seed is None else f" (seed {self.seed})"
        monitor = OmegaConf.select(self.config, "monitor", default=None) if self.config is not None else None
        what = "/".join(plan.objectives) if plan.objectives else (str(monitor) if monitor else "the objective")
        resumed = f", resuming: {counts.finished} done" if counts.finished else ""
        workers = ""
        if n_workers > 1:
            threads = f" × {max(1, cores() // n_workers)} CPU thread(s)" if plan.in_process else ""
            workers = f"; {n_workers} workers{threads}"
        print(
            f"Search '{plan.study_name}': {plan.n_trials} trials{resumed}; {str(self.sampler_name).lower()} sampler{seed}, "
            f"{plan.pruner_name} pruner; {'/'.join(plan.directions)} {what}{workers}",
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
        console.print(f"dashboard: optuna-dashboard {results.hide_password(dashboard_url(plan.storage_url))}")

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


# ---------------------------------------------------------------------- this worker, config checks

_HOST = socket.gethostname()
_WORKER_ID = f"{_HOST}:{os.getpid()}"


def _optional_whole(value: Any, key: str, lowest: int, meaning: str) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "")):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ConfigError(f"{key}={value}: must be a whole number ≥ {lowest} or null ({meaning})")
    return value


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
