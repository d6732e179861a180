"""What the study says about itself, for whoever opens it later (optuna-dashboard, `optuna.load_study`,
`crescendo.analysis`): the names of its metrics and how it was made.

- Metric names: Optuna's `study.set_metric_names`, one per direction: the run's `monitor` (its training
  counterpart in production mode, as `crescendo.train` watches it), or `hydra.sweeper.objectives`.
  optuna-dashboard shows them instead of "Objective 0". A resumed study keeps its names: a resume
  that would put another metric's values beside them is refused before any trial runs.
- Study user attrs: `command` and `overrides` (the latest search that ran the study), `commands`
  (every search that ran it, oldest first), `monitor`, `mode`, `crescendo_version`. The searched space
  is `search_space` (`_resume`).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from crescendo.errors import ConfigError
from crescendo.result import effective_monitor
from crescendo.search.storage import hide_password

if TYPE_CHECKING:
    import optuna

    from hydra_plugins.crescendo_sweeper._plan import SearchPlan

COMMAND = "command"
COMMANDS = "commands"
OVERRIDES = "overrides"
MONITOR = "monitor"
MODE = "mode"
VERSION = "crescendo_version"


def metric_names(plan: SearchPlan, config: DictConfig) -> list[str] | None:
    """One name per objective; None when the config names no monitor (a task that is not `cr`'s)."""
    if plan.objectives:
        return list(plan.objectives)
    monitor = OmegaConf.select(config, "monitor", default=None)
    if monitor is None:
        return None
    production = bool(OmegaConf.select(config, "data.production_mode", default=False))
    return [effective_monitor(str(monitor), production)]


def check_metric_names(study: optuna.Study, names: Sequence[str] | None, plan: SearchPlan) -> None:
    """Refuse to resume a study whose values are another metric's (nothing is written)."""
    stored = study.metric_names
    if names is None or stored is None or list(stored) == list(names):
        return
    key = "hydra.sweeper.objectives" if plan.objectives or len(stored) > 1 else "monitor"
    asked = ",".join(names)
    was = ",".join(stored)
    fix = (f"hydra.sweeper.objectives=[{was}]" if key == "hydra.sweeper.objectives" else f"monitor={was}")
    raise ConfigError(
        f"{key}={asked}: the study '{plan.study_name}' in {hide_password(plan.storage_url)} holds values of "
        f"{was} — use {fix} to resume it, or another hydra.sweeper.study_name (or storage) for a new study")


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (after cr's own spelling fixes), shell-quoted."""
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name if argv else "cr"
    return shlex.join([program, *argv[1:]])


def overrides(config: DictConfig) -> list[str]:
    """The command line's overrides as Hydra recorded them: the config's, then Hydra's own (hydra.*)."""
    return [str(o) for part in ("task", "hydra")
            for o in OmegaConf.select(config, f"hydra.overrides.{part}", default=None) or []]


def record_study(study: optuna.Study, names: Sequence[str] | None, config: DictConfig,
                 argv: Sequence[str] | None = None) -> None:
    """Write the metric names and the study user attrs listed in the module doc."""
    from crescendo import __version__

    if names is not None and study.metric_names is None:
        study.set_metric_names(list(names))
    command = command_line(argv)
    commands = list(study.user_attrs.get(COMMANDS) or [])
    attrs: dict[str, Any] = {
        COMMAND: command,
        COMMANDS: [*commands, command],
        OVERRIDES: overrides(config),
        MONITOR: OmegaConf.select(config, "monitor", default=None),
        MODE: OmegaConf.select(config, "mode", default=None),
        VERSION: __version__,
    }
    for key, value in attrs.items():
        if value is not None and study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
