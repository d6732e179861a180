"""Config of the crescendo sweeper, registered as `hydra/sweeper=crescendo`.

The ONLY place the sweeper's defaults live: conf/hparams_search/optuna.yaml selects the sweeper and
wires the run's seed in; `_plan.SearchPlan.from_config` checks the values.
"""

# no `from __future__ import annotations`: Hydra execs plugin modules outside sys.modules, where
# dataclasses cannot resolve string annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class CrescendoSweeperConf:
    _target_: str = "hydra_plugins.crescendo_sweeper.sweeper.CrescendoSweeper"
    # a `sampler` mapping's `_target_` is built by the plan (checked, seeded), not by Hydra's instantiate
    _recursive_: bool = False

    # the search stops when the study holds this many finished trials (COMPLETE, PRUNED or FAIL;
    # trials interrupted with Ctrl-C do not count), counting those of earlier runs of the same study
    n_trials: int = 20
    # trials at once: worker processes forked from this command, each asking the study for its next
    # trial as soon as its last one ends; auto = one per CPU core when trials train on the CPU with an
    # in-process launcher, else 1 (with a submitit launcher: how many jobs run at once).
    # 1 by default: on the 20-trial seed search n_jobs=2 was 1.4x faster on 2 cores but found a worse
    # best loss in 11 of 14 seeds (TPE decides with one trial less known); worth it for longer searches
    n_jobs: Any = 1
    # the sampler's random start-up trials (TPE's and GP's n_startup_trials) do not depend on one
    # another: run them in worker processes, one per core, then continue one at a time. Only with
    # n_jobs=1, the default storage (this sweep dir's study.db), CPU training and an in-process
    # launcher; those trials are never pruned, so a seeded search repeats exactly
    parallel_startup: bool = True
    # tpe | random | cmaes | gp | qmc | grid | nsga2; extra constructor arguments in sampler_kwargs.
    # Or, as Hydra's Optuna sweeper and Crescendo 0.0.4 write it, a mapping: an Optuna sampler's
    # `_target_` and its arguments (hydra.sweeper.sampler.seed=1, ...sampler.n_startup_trials=5); its
    # seed is `seed` below (give one of them, or both equal). Null entries mean the sampler's default
    sampler: Any = field(default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": None,
                                                  "n_startup_trials": None})
    sampler_kwargs: Dict[str, Any] = field(default_factory=dict)
    # seeds the sampler; null = unseeded. conf/hparams_search/optuna.yaml sets it to the run's `seed`,
    # so `seed=42` repeats both the trials and the training
    seed: Optional[int] = None
    # none | median | percentile | hyperband | successive_halving; arguments in pruner_kwargs
    pruner: str = "median"
    pruner_kwargs: Dict[str, Any] = field(default_factory=dict)
    # minimize | maximize, or a list of them for several objectives (then `objectives` names them)
    direction: Any = "minimize"
    # keys of TrainResult.metrics to optimize instead of the objective (one per direction)
    objectives: Optional[List[str]] = None
    # any Optuna storage URL; null = sqlite:///<sweep dir>/study.db
    storage: Optional[str] = None
    # null = the config's task_name (else the Hydra job name); same storage + name = resume
    study_name: Optional[str] = None
    # resume a study whose searched keys or ranges differ from this command's, on purpose: keys added or
    # removed, ranges or steps moved (a key's kind, log scale and choices stay fixed: Optuna cannot mix
    # them). false = such a resume is refused, naming each difference; true records the new space
    extend_space: bool = False
    # the search aborts once more than this fraction of n_trials has failed (1.0 = never)
    max_failure_rate: float = 0.5
    # seconds between the heartbeats of a running trial; a trial without one for grace_period seconds
    # (null = 2 × heartbeat_interval) belongs to a dead worker: it is failed and retried (at most
    # max_retry times; null = always). heartbeat_interval null switches heartbeats off
    heartbeat_interval: Optional[int] = 10
    grace_period: Optional[int] = None
    max_retry: Optional[int] = 2
    # modules imported once before the first trial (and before workers are forked), so that no trial's
    # seconds include them
    preload: List[str] = field(default_factory=lambda: ["crescendo.train", "sklearn.preprocessing"])
    # search space as override strings, e.g. {model.optimizer.lr: "tag(log, interval(1e-4, 1e-2))"};
    # the command line wins for the same key
    params: Dict[str, Any] = field(default_factory=dict)


@dataclass
class CrescendoLauncherConf:
    """In-process launcher that composes a search's job configs fast (see launcher.py)."""

    _target_: str = "hydra_plugins.crescendo_sweeper.launcher.CrescendoLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="crescendo", node=CrescendoLauncherConf, provider="crescendo")
ConfigStore.instance().store(group="hydra/sweeper", name="crescendo", node=CrescendoSweeperConf, provider="crescendo")
