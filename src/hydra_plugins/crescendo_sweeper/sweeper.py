"""The Hydra `Sweeper` plugin; a thin shell around `_impl.CrescendoSearch` (imported when used)."""

from __future__ import annotations

from typing import Any, List

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# registers hydra/sweeper=crescendo when Hydra scans this plugin package
from hydra_plugins.crescendo_sweeper.config import CrescendoSweeperConf  # noqa: F401


class CrescendoSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from hydra_plugins.crescendo_sweeper._impl import CrescendoSearch

        self._search = CrescendoSearch(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        return self._search.sweep(arguments)
