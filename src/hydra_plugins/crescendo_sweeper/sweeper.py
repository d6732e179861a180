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
        from hydra_plugins.crescendo_sweeper._plan import SearchPlan, check_trial_composes
        from hydra_plugins.crescendo_sweeper._search import SearchInterrupted, run_search
        from hydra_plugins.crescendo_sweeper._worker import SearchAborted

        assert self.config is not None and self.hydra_context is not None
        quiet_optuna()
        loader = self.hydra_context.config_loader
        try:
            check_output_dirs(self.config, "hydra.sweep.dir")  # before the study opens a file there
            plan = SearchPlan.from_config(self.settings, self.config, arguments, loader)
            check_trial_composes(plan, self.config, loader)
            return run_search(plan, self.launcher, self.config, extend_space=bool(self.settings.extend_space))
        except CrescendoError as error:
            exit_with(error)
        except SearchAborted as aborted:
            if str(aborted):
                exit_with(str(aborted), code=aborted.code)
            raise SystemExit(aborted.code) from None  # a worker printed why
        except SearchInterrupted:
            exit_with("interrupted: the running trials are recorded as interrupted and do not count — run the same "
                      "command again to finish the study", code=_INTERRUPTED_CODE)
