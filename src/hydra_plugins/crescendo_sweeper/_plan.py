"""`SearchPlan`: every setting of a search, checked once before any trial, then frozen; and the
overrides of one trial's job, the pruning callback among them.

Built from the sweeper's dataclass config (`config.CrescendoSweeperConf`, the only place its
defaults live), the composed config of the search, the command line's searched keys and Hydra's
config loader. Every problem is a `ConfigError` naming the key and the fix, raised before the study
is opened, any data is read or any trial runs.

The run learns about its trial only through its composed config: the plan adds the pruning
callback's entry (`callbacks.optuna_pruning`: storage URL, study name, trial number, pruner) to the
job's overrides, so `.hydra/overrides.yaml` and config.yaml say exactly what the run reported to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf

from crescendo.errors import ConfigError
from crescendo.search.storage import normalize_url, open_storage
from hydra_plugins.crescendo_sweeper._factories import (
    PRUNERS,
    SAMPLERS,
    make_pruner,
    make_sampler,
    pruner_node,
    sampler_spec,
    startup_trials,
    unprunable_trials,
)
from hydra_plugins.crescendo_sweeper._mlflow import MlflowStudy, mlflow_study, trial_overrides
from hydra_plugins.crescendo_sweeper._processes import (
    can_fork,
    check_devices_for_search,
    check_trainer_for_search,
    cores,
    processes_per_trial,
)
from hydra_plugins.crescendo_sweeper._space import SearchSpace, parse_search_space
from hydra_plugins.crescendo_sweeper._values import check_trial_values

#: the config entry of the trial's pruning callback (a Lightning callback in `cr`'s callbacks group)
PRUNING_KEY = "callbacks.optuna_pruning"
PRUNING_TARGET = "crescendo.search.pruning.OptunaPruning"
_DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}
_IN_PROCESS_LAUNCHERS = ("CrescendoLauncher", "BasicLauncher")


@dataclass(frozen=True)
class SearchPlan:
    """What one `cr` search does; see config.py for the meaning of each setting."""

    space: SearchSpace
    directions: tuple[str, ...]
    objectives: tuple[str, ...] | None
    n_trials: int
    storage_url: str
    own_storage: bool  # the default: this sweep directory's own SQLite file
    study_name: str
    sweep_dir: Path
    sampler: str
    sampler_kwargs: Mapping[str, Any]
    seed: int | None
    pruner: str
    pruner_node: Mapping[str, Any]  # the pruner as a Hydra node, for the runs' pruning callbacks
    monitor: str | None
    max_failure_rate: float
    n_jobs: int
    in_process: bool
    startup_trials: int  # first trials that may run at once and end as in a serial search (0: none)
    startup_workers: int  # processes that run them at once (1: one after the other)
    heartbeat_interval: int | None
    grace_period: int | None
    max_retry: int | None
    preload: tuple[str, ...]
    mlflow: MlflowStudy | None = None  # the runs' MLflow store (`logger.mlflow`); its parent run once opened

    # ------------------------------------------------------------------ what the plan makes
    @property
    def dead_after(self) -> float | None:
        """Seconds without a heartbeat after which a running trial's worker counts as dead (None: never)."""
        if self.heartbeat_interval is None:
            return None
        return float(self.grace_period or 2 * self.heartbeat_interval)

    def storage(self) -> Any:
        return open_storage(self.storage_url, self.heartbeat_interval, self.grace_period, self.max_retry)

    def make_sampler(self, seed_offset: int = 0) -> Any:
        """The sampler, seeded with `seed + seed_offset` (a resumed study must not replay its draws)."""
        grid = self.space.grid() if self.sampler == "grid" else None
        seed = None if self.seed is None else self.seed + seed_offset
        return make_sampler(self.sampler, seed, self.sampler_kwargs, grid=grid, n_objectives=len(self.directions))

    def make_pruner(self) -> Any:
        return make_pruner(self.pruner, {k: v for k, v in self.pruner_node.items() if k != "_target_"})

    def overrides_for(self, number: int, params: Mapping[str, Any]) -> list[str]:
        """The job's overrides: the fixed ones, one per searched key, and (with a single objective)
        the pruning callback naming trial `number`, and with `logger.mlflow` the trial's MLflow tags."""
        overrides = self.space.overrides(params) + trial_overrides(self.mlflow, self.study_name, number)
        if len(self.directions) == 1:
            overrides += pruning_override(self.storage_url, self.study_name, number, self.pruner_node, self.monitor)
        return overrides

    # ------------------------------------------------------------------ building and checking
    @classmethod
    def from_config(cls, conf: Any, cfg: DictConfig, arguments: Sequence[str], config_loader: Any) -> "SearchPlan":
        """Check every setting (see the module doc); `conf` is the typed sweeper config."""
        n_trials = _whole(conf.n_trials, "hydra.sweeper.n_trials", 1, "the number of trials")
        if not 0.0 <= float(conf.max_failure_rate) <= 1.0:
            raise ConfigError(f"hydra.sweeper.max_failure_rate={conf.max_failure_rate}: must be between 0 and 1 "
                              "(1 = never abort)")
        sampler, sampler_kwargs, seed = sampler_spec(_plain(conf.sampler), _plain(conf.sampler_kwargs), conf.seed)
        if sampler not in SAMPLERS:
            raise ConfigError(f"hydra.sweeper.sampler={conf.sampler}: unknown sampler — choose one of {', '.join(SAMPLERS)}")
        if str(conf.pruner).lower() not in PRUNERS:
            raise ConfigError(f"hydra.sweeper.pruner={conf.pruner}: unknown pruner — choose one of {', '.join(PRUNERS)}")
        heartbeat = _optional_whole(conf.heartbeat_interval, "hydra.sweeper.heartbeat_interval", 1,
                                    "seconds between a running trial's heartbeats; null switches them off")
        grace = _optional_whole(conf.grace_period, "hydra.sweeper.grace_period", 1,
                                "seconds without a heartbeat before a trial counts as dead; null = 2 × heartbeat_interval")
        if heartbeat is not None and grace is not None and grace <= heartbeat:
            raise ConfigError(f"hydra.sweeper.grace_period={grace}: must be longer than heartbeat_interval={heartbeat} "
                              f"(else live trials look dead) — e.g. grace_period={2 * heartbeat}")
        max_retry = _optional_whole(conf.max_retry, "hydra.sweeper.max_retry", 0,
                                    "how often a trial whose worker died is run again; null = always")
        launcher = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
        in_process = launcher.rsplit(".", 1)[-1] in _IN_PROCESS_LAUNCHERS
        n_jobs = _n_jobs(conf.n_jobs, cfg, in_process)
        check_trainer_for_search(cfg)
        directions, objectives = _directions(conf.direction, conf.objectives)

        space = parse_search_space(arguments, _plain(conf.params) or {}, cfg, config_loader)
        if in_process:  # the trials run on this machine (a SLURM launcher's run on the nodes it asks for)
            check_devices_for_search(cfg, space.params)
        if not space.params:
            raise ConfigError(
                "nothing to search: give at least one key a range, e.g. 'model.optimizer.lr=interval(0.0001, 0.01)' "
                "or data.batch_size=choice(32,64) (on the command line or in hydra.sweeper.params)")
        check_trial_values(space, cfg)  # every value a trial can take, and the rest of the config, at once
        pruner = str(conf.pruner).lower()
        if len(directions) > 1 and pruner != "none":
            print(f"cr: note: pruning needs a single objective; pruner={pruner} is off for this search")
            pruner = "none"
        if sampler == "grid":
            size = math.prod(len(values) for values in space.grid().values())
            if size < n_trials:
                print(f"cr: note: the grid has {size} points; running {size} trials instead of {n_trials}")
                n_trials = size

        sweep_dir = Path(str(cfg.hydra.sweep.dir)).absolute()
        storage = normalize_url(conf.storage) if conf.storage else f"sqlite:///{sweep_dir / 'study.db'}"
        study_name = conf.study_name or OmegaConf.select(cfg, "task_name", default=None) or cfg.hydra.job.name
        seed = _optional_whole(seed, "seed", 0, "seeds the runs and the sampler; null = unseeded")
        n_objectives = len(directions)
        make_sampler(sampler, seed, sampler_kwargs, grid=space.grid() if sampler == "grid" else None,
                     n_objectives=n_objectives)  # wrong sampler_kwargs fail here, before the study exists
        # trials that can run at once and still end exactly as in a serial search: random draws of the
        # sampler's start-up that the pruner cannot act on
        unprunable = None if len(directions) > 1 else unprunable_trials(pruner, _plain(conf.pruner_kwargs) or {})
        k = min(startup_trials(sampler, sampler_kwargs), n_trials, n_trials if unprunable is None else unprunable)
        accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="") or "").lower()
        parallel = (bool(conf.parallel_startup) and conf.storage is None and n_jobs == 1 and in_process
                    and accelerator == "cpu" and can_fork())
        workers = max(1, min(k, cores() // processes_per_trial(cfg))) if parallel else 1
        monitor = OmegaConf.select(cfg, "monitor", default=None)
        return cls(
            space=space, directions=tuple(directions), objectives=None if objectives is None else tuple(objectives),
            n_trials=n_trials, storage_url=storage, own_storage=conf.storage is None, study_name=str(study_name),
            sweep_dir=sweep_dir, sampler=sampler, sampler_kwargs=sampler_kwargs, seed=seed, pruner=pruner,
            pruner_node=pruner_node(pruner, _plain(conf.pruner_kwargs) or {}),
            monitor=None if monitor is None else "${monitor}",
            max_failure_rate=float(conf.max_failure_rate), n_jobs=n_jobs, in_process=in_process,
            startup_trials=k if workers > 1 else 0, startup_workers=workers, heartbeat_interval=heartbeat,
            grace_period=grace, max_retry=max_retry, preload=tuple(str(m) for m in _plain(conf.preload) or ()),
            mlflow=mlflow_study(cfg),
        )


def probe_overrides(plan: SearchPlan) -> list[str]:
    """Job 0's overrides with the first choice / lower end of each searched key."""
    from optuna.distributions import CategoricalDistribution

    values = {p.name: p.distribution.choices[0] if isinstance(p.distribution, CategoricalDistribution)
              else p.distribution.low for p in plan.space.params}
    return plan.overrides_for(0, values)


def check_trial_composes(plan: SearchPlan, config: DictConfig, config_loader: Any) -> None:
    """Compose one job's config (first choice / lower end of each key) to catch what Hydra rejects."""
    overrides = probe_overrides(plan)
    try:
        config_loader.load_sweep_config(config, overrides)
    except Exception as error:
        raise ConfigError(f"a trial's config cannot be composed ({' '.join(overrides)}): {str(error).strip()}") from None


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _n_jobs(value: Any, cfg: DictConfig, in_process: bool) -> int:
    """`auto`: one worker per CPU core (per DDP process group) when trials train on the CPU in this
    process; else 1 (a GPU is not shared; a submitit launcher's jobs run elsewhere: set n_jobs)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="") or "").lower()
        if not in_process or accelerator != "cpu" or not can_fork():
            return 1
        return max(1, cores() // processes_per_trial(cfg))
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"hydra.sweeper.n_jobs={value}: must be a whole number ≥ 1 (trials at once) or auto "
                          "(one per CPU core for CPU training) — e.g. hydra.sweeper.n_jobs=2")
    if value > 1 and in_process and not can_fork():
        print("cr: note: parallel workers need fork (Linux, macOS); running hydra.sweeper.n_jobs=1")
        return 1
    return value


def _directions(direction: Any, objectives: Any) -> tuple[list[str], list[str] | None]:
    raw = _plain(direction)
    given = list(raw) if isinstance(raw, (list, tuple)) else [] if raw is None else [raw]
    directions = []
    for d in given:
        if str(d).lower() not in _DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction={raw}: each direction is minimize or maximize")
        directions.append(_DIRECTIONS[str(d).lower()])
    if not directions:
        raise ConfigError("hydra.sweeper.direction is empty: write minimize or maximize")
    objectives = _plain(objectives)
    if objectives is None:
        if len(directions) > 1:
            raise ConfigError(
                f"hydra.sweeper.direction=[{','.join(directions)}]: several directions need hydra.sweeper.objectives, "
                "one metric name per direction, e.g. objectives=[val/loss,fit_seconds]")
        return directions, None
    names = [objectives] if isinstance(objectives, str) else [str(o) for o in objectives]
    if len(directions) == 1 and len(names) > 1:
        directions = directions * len(names)
    if len(names) != len(directions):
        raise ConfigError(f"hydra.sweeper.objectives={names}: {len(names)} names for {len(directions)} directions — "
                          "give one direction per objective")
    return directions, names


def _whole(value: Any, key: str, lowest: int, meaning: str, *, nullable: bool = False) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        allowed = f"a whole number ≥ {lowest}" + (" or null" if nullable else "")
        raise ConfigError(f"{key}={value}: must be {allowed} ({meaning})")
    return value


def _optional_whole(value: Any, key: str, lowest: int, meaning: str) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "")):
        return None
    return _whole(value, key, lowest, meaning, nullable=True)


def pruning_override(storage: str, study_name: str, number: int, pruner: Mapping[str, Any],
                     monitor: str | None) -> list[str]:
    """The run's pruning callback, naming its trial: `++callbacks.optuna_pruning={...}` (the same text
    for every trial, so the launcher parses it once) and `++callbacks.optuna_pruning.trial_number=N`."""
    node: dict[str, Any] = {"_target_": PRUNING_TARGET, "storage": storage, "study_name": study_name}
    if monitor is not None:
        node["monitor"] = monitor
    node["pruner"] = dict(pruner)
    return [f"++{PRUNING_KEY}={_hydra_value(node)}", f"++{PRUNING_KEY}.trial_number={int(number)}"]


def _hydra_value(value: Any) -> str:
    """`value` in Hydra's override grammar (strings quoted, so URLs and `${...}` pass unchanged)."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{_hydra_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
