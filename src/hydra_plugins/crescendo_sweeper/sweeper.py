"""The Hydra `Sweeper` plugin: a thin face that builds the checked plan, runs the search, and turns a
user error into one `cr: error:` line and an exit status. The only place a search exits.

Hydra imports every plugin module at start-up: this one imports neither Optuna nor torch; the work
is in `_plan` and `_search`, imported when a sweep starts.
"""

from __future__ import annotations

from typing import Any, List

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# registers hydra/sweeper=crescendo when Hydra scans this plugin package
from hydra_plugins.crescendo_sweeper.config import CrescendoSweeperConf

_INTERRUPTED_CODE = 130
_IN_PROCESS_LAUNCHERS = ("CrescendoLauncher", "BasicLauncher")  # as _plan decides `in_process`


class CrescendoSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        # Hydra composed and type-checked these against CrescendoSweeperConf (the defaults live there)
        self.settings = CrescendoSweeperConf(**settings)
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: List[str]) -> Any:
        from crescendo.errors import CrescendoError, exit_with
        from crescendo.outputs import check_output_dirs
        from hydra_plugins.crescendo_sweeper._optuna_quiet import quiet_optuna

        assert self.config is not None and self.hydra_context is not None
        quiet_optuna()
        loader = self.hydra_context.config_loader
        try:
            check_output_dirs(self.config, "hydra.sweep.dir")  # before the study opens a file there
        except CrescendoError as error:
            exit_with(error)
        worker = self._start_importing_worker()
        try:
            from hydra_plugins.crescendo_sweeper._plan import SearchPlan, check_trial_composes
            from hydra_plugins.crescendo_sweeper._search import SearchInterrupted, run_search
            from hydra_plugins.crescendo_sweeper._worker import SearchAborted

            plan = SearchPlan.from_config(self.settings, self.config, arguments, loader)
            check_trial_composes(plan, self.config, loader)
            return run_search(plan, self.launcher, self.config, extend_space=bool(self.settings.extend_space),
                              worker=worker)
        except CrescendoError as error:
            exit_with(error)
        except SearchAborted as aborted:
            if str(aborted):
                exit_with(str(aborted), code=aborted.code)
            raise SystemExit(aborted.code) from None  # a worker printed why
        except SearchInterrupted:
            exit_with("interrupted: the running trials are recorded as interrupted and do not count — run the same "
                      "command again to finish the study", code=_INTERRUPTED_CODE)
        finally:
            if worker is not None:
                worker.cancel()  # a set-up that failed or stopped: the worker wrote nothing

    def _start_importing_worker(self) -> Any:
        """A fresh `cr` process still has torch and Lightning to import (seconds): fork the worker that
        will run the trials now, so that it imports them while this process builds the plan and opens
        the study (`_processes.PreforkedWorker`). None where the trials do not run in this process's
        children, or there is nothing left to import (a test session)."""
        from hydra_plugins.crescendo_sweeper._processes import PreforkedWorker, can_fork, needs_preload

        if type(self.launcher).__name__ not in _IN_PROCESS_LAUNCHERS or not can_fork():
            return None
        if not needs_preload(self.settings.preload):
            return None
        launcher = self.launcher

        def body(phase: Any, import_seconds: float) -> int:
            from hydra_plugins.crescendo_sweeper._search import run_preforked

            return run_preforked(phase, launcher, import_seconds)

        # the trials' side of the sweeper (Optuna among it) too
        return PreforkedWorker([*self.settings.preload, "hydra_plugins.crescendo_sweeper._search"], body)
