"""`hydra/launcher=crescendo`: Hydra's basic in-process launcher, minus most of its per-job cost.

The basic launcher composes every job's config from scratch (reads and merges every YAML file of the
defaults list: ~80 ms for `cr`'s config, more than a small model's whole fit). Jobs of a search differ
only in the values of a few keys, so this launcher composes once per combination of config-group
choices and applies each job's value overrides to a copy — exactly what Hydra's composition does
after building the defaults list (same `_apply_overrides_to_config`, same `hydra.overrides.task` and
`hydra.job.override_dirname`). Running the job is Hydra's own `run_job`, unchanged.
"""

import copy
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from omegaconf import DictConfig, open_dict

# registers hydra/launcher=crescendo when Hydra scans this plugin package
from hydra_plugins.crescendo_sweeper.config import CrescendoLauncherConf  # noqa: F401

log = logging.getLogger(__name__)

_MAX_BASES = 64  # composed configs kept (one per combination of config-group choices)


class CrescendoLauncher(BasicLauncher):
    def __init__(self) -> None:
        super().__init__()
        self._parser = OverridesParser.create()
        self._parsed: Dict[str, Override] = {}
        self._group: Dict[str, bool] = {}
        self._bases: Dict[Tuple[str, ...], DictConfig] = {}

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        runs: List[JobReturn] = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            sweep_config = self.compose(list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            runs.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=sweep_config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs

    def compose(self, overrides: List[str]) -> DictConfig:
        """The config Hydra's `load_sweep_config(master, overrides)` would compose."""
        assert self.hydra_context is not None and self.config is not None
        parsed = [self._parse(o) for o in overrides]
        if any(p is None for p in parsed):  # let Hydra report what it cannot parse
            return self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        structural = tuple(o.input_line or "" for o in parsed if self._structural(o))
        values = [o for o in parsed if not self._structural(o)]
        base = self._bases.get(structural)
        if base is None:
            base = self.hydra_context.config_loader.load_sweep_config(self.config, list(structural))
            if len(self._bases) >= _MAX_BASES:
                self._bases.pop(next(iter(self._bases)))
            self._bases[structural] = base
        cfg = copy.deepcopy(base)
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        app = [o for o in parsed if not o.is_hydra_override()]
        with open_dict(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in app]
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=app,
                kv_sep=cfg.hydra.job.config.override_dirname.kv_sep,
                item_sep=cfg.hydra.job.config.override_dirname.item_sep,
                exclude_keys=cfg.hydra.job.config.override_dirname.exclude_keys,
            )
        return cfg

    def _parse(self, text: str) -> Optional[Override]:
        if text not in self._parsed:
            try:
                self._parsed[text] = self._parser.parse_override(text)
            except Exception:
                return None
        return self._parsed[text]

    def _structural(self, o: Override) -> bool:
        """Overrides that change the defaults list (config groups), deletions and Hydra's own keys
        go into the composed base; plain value overrides are applied per job."""
        if o.is_hydra_override() or o.is_delete() or o.package is not None or o.is_sweep_override():
            return True
        key = o.key_or_group
        if key not in self._group:
            self._group[key] = self._is_group(key)
        return self._group[key] and not isinstance(o.value(), dict)

    def _is_group(self, key: str) -> bool:
        assert self.hydra_context is not None and self.config is not None
        if key in (self.config.hydra.runtime.get("choices") or {}):
            return True
        try:
            return bool(
                self.hydra_context.config_loader.get_group_options(
                    key,
                    config_name=self.config.hydra.job.config_name,
                    overrides=list(self.config.hydra.overrides.hydra),
                )
            )
        except Exception:
            return True  # unsure: compose it the slow, exact way
