"""`hydra/launcher=crescendo`: Hydra's basic in-process launcher, minus most of its per-job cost.

The basic launcher composes every job's config from scratch (reads and merges every YAML file of the
defaults list: ~80 ms for `cr`'s config, more than a small model's whole fit). Jobs of a search differ
only in the values of a few keys, so this launcher composes once per combination of config-group
choices and applies each job's value overrides to a copy — exactly what Hydra's composition does
after building the defaults list (same `_apply_overrides_to_config`, same `hydra.overrides.task` and
`hydra.job.override_dirname`). Copies are pickle round trips (what Hydra's remote launchers send),
a third of deepcopy's cost; the composed configs travel to a worker forked before they existed.

Running the job: Hydra's `run_job` copies the hydra node (~150 OmegaConf nodes, ~60 µs each) three
times and the whole config once. `_run_job` does the same steps in the same order — HydraConfig set
for the job, its output dir, `.hydra/{config,hydra,overrides}.yaml`, the job's logging, env_set,
Hydra callbacks, the JobReturn — copying the hydra node once (tests compare every file and field with
`run_job`'s). Anything it does not mirror (a `${hydra:...}` in the sweep dir, `hydra.job.chdir`) goes
through `run_job` itself.
"""

import logging
import os
import pickle
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import (
    JobReturn,
    JobRuntime,
    JobStatus,
    _flush_loggers,
    _save_config,
    configure_log,
    env_override,
    run_job,
    setup_globals,
)
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

# registers hydra/launcher=crescendo when Hydra scans this plugin package
from crescendo.build import copy_config
from hydra_plugins.crescendo_sweeper.config import CrescendoLauncherConf  # noqa: F401

log = logging.getLogger(__name__)

_MAX_BASES = 64  # composed configs kept (one per combination of config-group choices)


class CrescendoLauncher(BasicLauncher):
    def __init__(self) -> None:
        super().__init__()
        self._parser = OverridesParser.create()
        self._parsed: Dict[str, Override] = {}
        self._group: Dict[str, bool] = {}
        # composed configs, pickled: a job's copy is one `pickle.loads` (~2 ms against ~9 ms for
        # deepcopy), and the bytes travel to a forked worker as they are (`composed`/`adopt_composed`)
        self._bases: Dict[Tuple[str, ...], bytes] = {}
        self._hydra_logging = False

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        if not self._hydra_logging:  # the last launch left Hydra's own logging configured
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        runs: List[JobReturn] = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            sweep_config = self.compose(list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            runner = _run_job if _mirrored(sweep_config) else _hydra_run_job
            runs.append(runner(self.hydra_context, self.task_function, sweep_config))
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        self._hydra_logging = True
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
            base = _pickled(self.hydra_context.config_loader.load_sweep_config(self.config, list(structural)))
            if len(self._bases) >= _MAX_BASES:
                self._bases.pop(next(iter(self._bases)))
            self._bases[structural] = base
        cfg = pickle.loads(base)
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

    def composed(self) -> Dict[Tuple[str, ...], bytes]:
        """The configs composed so far, for a worker forked before they were (`adopt_composed`): a
        process's first composition reads every YAML file of the defaults list (~0.4 s)."""
        return dict(self._bases)

    def adopt_composed(self, composed: Dict[Tuple[str, ...], bytes]) -> None:
        """Use configs another process composed from the same master config (`composed`)."""
        for structural, base in composed.items():
            self._bases.setdefault(structural, base)

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


def _pickled(config: DictConfig) -> bytes:
    return pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)


def _mirrored(config: DictConfig) -> bool:
    """`_run_job` mirrors `run_job` for this job: its directory does not read HydraConfig (which
    `run_job` sets once before and once after computing it) and it does not change directory."""
    raw = [OmegaConf.to_container(config.hydra.sweep, resolve=False).get(key) for key in ("dir", "subdir")]
    return not any("${hydra:" in str(value) for value in raw) and not config.hydra.job.chdir


def _hydra_run_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> JobReturn:
    return run_job(hydra_context=hydra_context, task_function=task_function, config=config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def _run_job(hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> JobReturn:
    """Hydra's `run_job` for a sweep job (see the module doc), with two copies instead of four."""
    # run_job sets HydraConfig twice (before and after the output dir is known): the dir reads none of it
    callbacks = hydra_context.callbacks
    orig_hydra_cfg = HydraConfig.instance().cfg
    output_dir = os.path.join(str(OmegaConf.select(config, "hydra.sweep.dir")),
                              str(OmegaConf.select(config, "hydra.sweep.subdir")))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = os.path.abspath(output_dir)
    HydraConfig.instance().set_config(config)  # the job's hydra node, read-only: copy 1
    try:
        ret = JobReturn()
        task_cfg = copy_config(config)  # copy 2, as run_job's deepcopy makes it (faster)
        with read_write(task_cfg), open_dict(task_cfg):
            del task_cfg["hydra"]
        ret.cfg = task_cfg
        hydra_cfg = HydraConfig.instance().cfg  # set_config made it for this job alone; read-only
        ret.hydra_cfg = hydra_cfg
        overrides = OmegaConf.to_container(config.hydra.overrides.task)
        assert isinstance(overrides, list)
        ret.overrides = overrides
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        ret.working_dir = os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            hydra_output = Path(config.hydra.runtime.output_dir) / Path(config.hydra.output_subdir)
            _save_config(task_cfg, "config.yaml", hydra_output)
            _save_config(hydra_cfg, "hydra.yaml", hydra_output)
            _save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)
        with env_override(hydra_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as error:
                ret.return_value = error
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        HydraConfig.instance().cfg = orig_hydra_cfg
