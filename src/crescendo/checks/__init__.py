"""The one checking stage: every key of a composed config against what its receiving object accepts
(the model, its optimizer, the data module, Lightning's Trainer, the run's own keys), before any data
is read or any object exists.

`problems(cfg)` collects every problem; `check(cfg)` raises them as ONE `ConfigError`, the parts
joined by "; ", each `key=value: what — fix`. A single run calls `check` first thing
(`crescendo.train.train`); a search's plan substitutes every value a trial can take into the config
and calls `problems` for each (`hydra_plugins.crescendo_sweeper._values`).

Torch-free: it imports only omegaconf and crescendo's pure modules, so a search checks its space
before torch is loaded, and a run pays well under a millisecond a key.
"""

from __future__ import annotations

from typing import Any

from crescendo.checks._problem import Problem, plain, show
from crescendo.checks.data import data_problems
from crescendo.checks.loggers import logger_problems
from crescendo.checks.model import model_problems
from crescendo.checks.run import run_problems
from crescendo.checks.run_keys import run_key_problems
from crescendo.checks.trainer import trainer_problems
from crescendo.errors import ConfigError

__all__ = ["Problem", "check", "plain", "problems", "show"]


def problems(cfg: Any) -> list[Problem]:
    """Every problem of the composed config `cfg`, in key order: a DictConfig, or a plain dict with its
    interpolations resolved (`plain(cfg)`: reads are then dict lookups)."""
    return [*run_problems(cfg), *run_key_problems(cfg), *data_problems(cfg), *model_problems(cfg),
            *trainer_problems(cfg), *logger_problems(cfg)]


def check(cfg: Any) -> None:
    """Raise one `ConfigError` naming every problem of `cfg`; nothing when there is none."""
    found = problems(cfg)
    if found:
        raise ConfigError("; ".join(dict.fromkeys(str(p) for p in found)))
