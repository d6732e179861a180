"""One search from start to end: open (or resume) the study, load the trials' imports once, run the
first trials in parallel where that changes nothing, run the rest (here, or in `n_jobs` forked
workers), and leave the results files and the summary.

Parallel start-up: a sampler's first `n_startup_trials` (TPE, GP) are random draws that do not depend
on one another, and a median pruner judges nobody before `n_startup_trials` of its own are complete.
The trials both allow are drawn here, in order, by the study's own sampler (its public
`sample_independent`, exactly the draws a serial search makes, so the sampler continues where a
serial search would) and queued in the study; forked workers, one per core, run them. Their states
and values are those of a serial search, so the whole search is the serial one, trial for trial
(tested), only sooner. The rest runs one trial at a time in this process.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from crescendo.errors import ConfigError, CrescendoError
from crescendo.result import LOSS_UNITS
from crescendo.search.storage import close_connections, hide_password, share_storage
from hydra_plugins.crescendo_sweeper._console import print_header, print_startup, print_summary
from hydra_plugins.crescendo_sweeper._ledger import Counts, Ledger
from hydra_plugins.crescendo_sweeper._mlflow import close_study_run, open_study_run
from hydra_plugins.crescendo_sweeper._plan import SearchPlan, probe_overrides
from hydra_plugins.crescendo_sweeper._processes import (
    INTERRUPTED_CODE,
    PreforkedWorker,
    cores,
    preload_modules,
    run_workers,
)
from hydra_plugins.crescendo_sweeper._results import ResultsWriter, best_trial
from hydra_plugins.crescendo_sweeper._resume import check_resume, record_space
from hydra_plugins.crescendo_sweeper._signals import SearchStopped
from hydra_plugins.crescendo_sweeper._study_record import check_metric_names, metric_names, record_study
from hydra_plugins.crescendo_sweeper._worker import SearchAborted, run_trials, write_results


class SearchInterrupted(Exception):
    """Ctrl-C or SIGTERM: the running trials were recorded as interrupted (not counted)."""


@dataclass
class TrialPhase:
    """What runs the trials needs once the set-up is done (sent to a preforked worker, so picklable)."""

    plan: SearchPlan
    sampler: Any  # the study's sampler after the start-up draws: the search continues its random stream
    queued: int
    n_workers: int
    seed_offset: int
    loss_units: str  # what the losses of optimization_results.yaml are in
    composed: dict = dataclasses.field(default_factory=dict)  # the launcher's composed configs (see launcher.py)


def run_search(plan: SearchPlan, launcher: Any, config: DictConfig, extend_space: bool = False,
               worker: PreforkedWorker | None = None) -> optuna.Study:
    """Run the search of `plan` to `n_trials` finished trials. Raises ConfigError (before any trial),
    SearchAborted, SearchInterrupted.

    `worker`: a process forked before the set-up that imported the trials' modules meanwhile; the
    trials run there (and in the workers it forks), this process waits and writes the summary."""
    names = metric_names(plan, config)
    study = open_study(plan, extend_space, names)
    record_study(study, names, config)
    try:
        plan = dataclasses.replace(plan, mlflow=_open_study_run(plan))
    except BaseException:
        close_connections(study._storage)
        raise
    ledger = Ledger(study, plan.n_trials, plan.dead_after)
    loss_units = LOSS_UNITS[OmegaConf.select(config, "data.normalize_targets", default=False) is True]
    writer = results_writer(plan, loss_units)
    OmegaConf.save(config, plan.sweep_dir / "multirun.yaml")
    existing = ledger.trials()
    counts = Counts.of(existing)
    seed_offset = len(existing)  # a resumed study must not replay the random draws of its first run
    study.sampler = plan.make_sampler(seed_offset)
    n_workers = max(1, min(plan.n_jobs, plan.n_trials - counts.holding))
    print_header(plan, counts, OmegaConf.select(config, "monitor", default=None), n_workers,
                 max(1, cores() // n_workers))
    worker = worker if plan.in_process else None
    startup_seconds = preload_modules(plan.preload) if plan.in_process and worker is None else 0.0
    queued = _queue_startup_trials(ledger, plan, counts)
    phase = TrialPhase(plan, study.sampler, queued, n_workers, seed_offset, loss_units,
                       _compose_for_worker(launcher, plan) if worker is not None else {})
    code = 0
    ran = False  # whether the trial loop ended normally (else the study's MLflow run ends FAILED)
    try:
        if worker is not None and _picklable(phase):
            close_connections(study._storage)  # the worker opens its own
            code = worker.hand_over(phase)
        else:
            if worker is not None:  # a sampler that cannot travel: run here, as without a worker
                worker.cancel()
                startup_seconds = preload_modules(plan.preload)
            print_startup(startup_seconds, queued, min(plan.startup_workers, queued))
            code = run_phase(phase, ledger, launcher, writer)
        ran = True
    except SearchStopped:
        code = INTERRUPTED_CODE
    finally:
        trials = write_results(ledger, writer)
        close_connections(study._storage)  # SQLite: the last connection closed folds the WAL into study.db
        best = best_trial(trials, plan.directions[0]) if len(plan.directions) == 1 else None
        stopped = code == INTERRUPTED_CODE
        close_study_run(plan.mlflow, "KILLED" if stopped else "FINISHED" if ran and code == 0 else "FAILED",
                        None if best is None else {"best_trial": best.number, "best_value": best.value})
    if code == INTERRUPTED_CODE:
        raise SearchInterrupted()
    if code != 0:
        raise SearchAborted("", code)  # the worker printed why
    print_summary(trials, writer, plan)
    return study


def results_writer(plan: SearchPlan, loss_units: str) -> ResultsWriter:
    return ResultsWriter(sweep_dir=plan.sweep_dir, study_name=plan.study_name, storage=plan.storage_url,
                         directions=list(plan.directions), objectives=list(plan.objectives or []) or None,
                         param_names=[p.name for p in plan.space.params], n_trials=plan.n_trials,
                         loss_units=loss_units)


def run_phase(phase: TrialPhase, ledger: Ledger, launcher: Any, writer: ResultsWriter) -> int:
    """The trials: the queued start-up ones in workers, then the rest (here, or in `n_workers`)."""
    plan, queued = phase.plan, phase.queued
    if queued > 1:
        code = _in_workers(ledger, plan, launcher, writer, min(plan.startup_workers, queued), phase.seed_offset,
                           queued_only=True)
        if code != 0:
            return code
    if phase.n_workers > 1:
        return _in_workers(ledger, plan, launcher, writer, phase.n_workers, phase.seed_offset, queued_only=False)
    run_trials(ledger, plan, launcher, writer)
    return 0


def run_preforked(phase: TrialPhase, launcher: Any, import_seconds: float) -> int:
    """The body of a preforked worker: its own connection to the study, then the trials."""
    plan = phase.plan
    if phase.composed:
        launcher.adopt_composed(phase.composed)
    print_startup(import_seconds, phase.queued, min(plan.startup_workers, phase.queued))

    def trials() -> int:
        study = optuna.load_study(study_name=plan.study_name, storage=plan.storage(), sampler=phase.sampler,
                                  pruner=plan.make_pruner())
        share_storage(plan.storage_url, study._storage)
        # nonzero: the workers it forked stopped, and printed why
        ledger = Ledger(study, plan.n_trials, plan.dead_after)
        return run_phase(phase, ledger, launcher, results_writer(plan, phase.loss_units))

    return _worker_code(trials)


def _open_study_run(plan: SearchPlan) -> Any:
    """The study's parent MLflow run, when the runs log to MLflow (before any trial: they nest under it)."""
    try:
        return open_study_run(plan.mlflow, plan.study_name, plan.storage_url, str(plan.sweep_dir))
    except Exception as error:  # noqa: BLE001 - any failure of the store (unreachable, bad URI) is the user's to fix
        assert plan.mlflow is not None
        raise ConfigError(
            f"logger.mlflow.tracking_uri={hide_password(plan.mlflow.tracking_uri)}: cannot open the study's MLflow run "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}) — start "
            "the tracking server or fix the URI") from None


def open_study(plan: SearchPlan, extend_space: bool = False, names: list[str] | None = None) -> optuna.Study:
    """Create the study, or load it to resume: same directions, metric `names` and search space only
    (`extend_space`: another space on purpose; see `_resume`). The space is recorded in the study."""
    if plan.own_storage:
        plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    storage = plan.storage()  # raises ConfigError naming the URL and the fix
    try:
        try:
            study = optuna.create_study(storage=storage, study_name=plan.study_name, directions=list(plan.directions),
                                        load_if_exists=True, pruner=plan.make_pruner())
        except Exception as error:
            raise ConfigError(
                f"hydra.sweeper.storage={hide_password(plan.storage_url)}: cannot open the study ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}) — use an Optuna storage URL such as "
                "sqlite:///path/study.db or postgresql://user@host/db") from None
        stored = [d.name.lower() for d in study.directions]
        if stored != list(plan.directions):
            raise ConfigError(
                f"hydra.sweeper.study_name={plan.study_name}: the study in {hide_password(plan.storage_url)} was "
                f"created to {'/'.join(stored)}, this search asks {'/'.join(plan.directions)} — use another study_name "
                "(or storage), or the same direction")
        check_metric_names(study, names, plan)
        if check_resume(study, plan.space.distributions, study_name=plan.study_name, storage_url=plan.storage_url,
                        extend=extend_space):
            record_space(study, plan.space.distributions)
    except BaseException:
        close_connections(storage)  # SQLite: no -wal/-shm files left beside a study this search refused
        raise
    plan.sweep_dir.mkdir(parents=True, exist_ok=True)
    share_storage(plan.storage_url, study._storage)  # this process's runs report through it
    return study


def _queue_startup_trials(ledger: Ledger, plan: SearchPlan, counts: Counts) -> int:
    """Draw the start-up trials this study still lacks and queue them; returns how many queued trials
    wait for workers (0: run everything here)."""
    if plan.startup_trials < 2 or plan.startup_workers < 2 or counts.finished + counts.running:
        return 0  # a resumed study with finished trials continues as a serial one would
    missing = plan.startup_trials - counts.waiting
    if missing > 0:
        study = ledger.study
        placeholder = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING)
        # what study.ask() does for each of the next trials of a serial search: one independent draw
        # per searched key, in order, while the sampler is in its random start-up
        params = [{name: study.sampler.sample_independent(study, placeholder, name, distribution)
                   for name, distribution in plan.space.distributions.items()} for _ in range(missing)]
        ledger.enqueue(params)
    return ledger.counts().waiting


def _in_workers(ledger: Ledger, plan: SearchPlan, launcher: Any, writer: ResultsWriter, n_workers: int,
                seed_offset: int, *, queued_only: bool) -> int:
    """Run trials in `n_workers` forked processes, each with its own storage connection, sampler seed
    (seed + offset + its index: workers never draw the same values) and share of the CPU threads."""
    threads = max(1, cores() // n_workers)
    close_connections(ledger.study._storage)  # the workers open their own

    def body(index: int) -> int:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)

        def trials() -> int:
            study = optuna.load_study(study_name=plan.study_name, storage=plan.storage(),
                                      sampler=plan.make_sampler(seed_offset + index), pruner=plan.make_pruner())
            share_storage(plan.storage_url, study._storage)
            run_trials(Ledger(study, plan.n_trials, plan.dead_after), plan, launcher, writer, queued_only=queued_only)
            return 0

        return _worker_code(trials)

    return run_workers(body, n_workers)


def _compose_for_worker(launcher: Any, plan: SearchPlan) -> dict:
    """The preforked worker is still importing torch: compose the jobs' config here meanwhile (its
    first composition, ~0.4 s, would otherwise delay the first trial and again the first serial one)."""
    if not hasattr(launcher, "composed"):  # Hydra's basic launcher composes every job from scratch
        return {}
    try:
        launcher.compose(probe_overrides(plan))
    except Exception:  # noqa: BLE001 - check_trial_composes passed; a job that fails reports it itself
        return {}
    return launcher.composed()


def _picklable(phase: TrialPhase) -> bool:
    import pickle

    try:
        pickle.dumps(phase)
    except Exception:  # noqa: BLE001 - e.g. a user's sampler holding a lambda
        return False
    return True


def _worker_code(trials: Any) -> int:
    """Run `trials()` in a forked worker; its code, or what stopped it, becomes the worker's exit code
    (the error printed here, once, as `cr` prints it)."""
    try:
        return trials()
    except (SearchStopped, KeyboardInterrupt):
        return INTERRUPTED_CODE
    except SearchAborted as aborted:
        if str(aborted):
            print(f"cr: error: {aborted}", file=sys.stderr, flush=True)
        return aborted.code
    except CrescendoError as error:
        print(f"cr: error: {error}", file=sys.stderr, flush=True)
        return 2
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
