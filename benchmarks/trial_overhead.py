"""Non-training time per trial: what `cr`'s search costs around each run, and where its floor is.

Runs the seed search's space through the real sweeper with a task that trains nothing (it returns a
TrainResult at once), so every millisecond is search machinery: ask, compose the trial's config, run
the Hydra job (its .hydra files, logging, HydraConfig), tell, rewrite trials.csv and
optimization_results.yaml. Then the pieces a search cannot do without, measured alone in the same
process:
  plain    an in-memory Optuna study's ask + tell (what the plain script pays: TPE on 4 keys)
  storage  the same on the SQLite study, with the trial attributes the sweeper records
  hydra    the trial's Hydra job alone: compose, copy, .hydra/{config,hydra,overrides}.yaml
Target (issue 9): ≤ 30 ms median of non-training time per trial.

    .venv/bin/python benchmarks/trial_overhead.py [--trials 40]
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

SPACE = ["model.architecture=choice(3, 6, 9, 12, 15)", "data.batch_size=choice(32, 64, 128, 256)",
         "model.batch_norm=choice(True, False)", "model.optimizer.lr=interval(0.001, 0.01)"]


def timed(owner: Any, name: str, into: list[float]) -> None:
    """Wrap `owner.name` so each call's wall seconds are appended to `into`."""
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - started)

    setattr(owner, name, wrapper)


def noop_task(cfg: Any) -> Any:
    from hydra.core.hydra_config import HydraConfig

    from crescendo.result import TrainResult

    return TrainResult(objective=float(cfg.model.optimizer.lr), monitor="val/loss", mode="min", status="complete",
                       run_dir=HydraConfig.get().runtime.output_dir)


def cr_search(n_trials: int, sweep: Path) -> dict[str, list[float]]:
    """The real sweeper on cr's packaged config, one trial at a time, the task training nothing."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra

    from hydra_plugins.crescendo_sweeper import _ledger, _worker

    times: dict[str, list[float]] = {"ask": [], "job": [], "tell": [], "results files": []}
    timed(_ledger.Ledger, "next_trial", times["ask"])
    timed(_worker, "launch", times["job"])
    timed(_ledger.Ledger, "tell", times["tell"])
    timed(_worker, "write_results", times["results files"])
    GlobalHydra.instance().clear()
    hydra_ = Hydra.create_main_hydra2(task_name="cr", config_search_path=create_config_search_path("pkg://crescendo.conf"))
    hydra_.multirun(config_name="train", task_function=noop_task, with_log_configuration=False, overrides=[
        "hparams_search=optuna", "data.data_dir=/nowhere", f"hydra.sweep.dir={sweep}", *SPACE, "seed=0",
        f"hydra.sweeper.n_trials={n_trials}", "hydra.sweeper.parallel_startup=false", "hydra.sweeper.preload=[]"])
    GlobalHydra.instance().clear()
    times["ask"] = times["ask"][:n_trials]  # the last call finds the study full
    times["results files"] = times["results files"][:n_trials]
    return times


def optuna_alone(n_trials: int, storage: Any) -> list[float]:
    """ask + tell of the same space on `storage` (None: in memory), with the sweeper's attributes when stored."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    space = {"model.architecture": CategoricalDistribution([3, 6, 9, 12, 15]),
             "data.batch_size": CategoricalDistribution([32, 64, 128, 256]),
             "model.batch_norm": CategoricalDistribution([True, False]),
             "model.optimizer.lr": FloatDistribution(0.001, 0.01)}
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=0))
    seconds = []
    for number in range(n_trials):
        started = time.perf_counter()
        trial = study.ask(space)
        if storage is not None:
            trial.set_user_attr("worker", "host:1")
            for key, value in (("run_dir", f"/runs/{number}"), ("best_checkpoint", f"/runs/{number}/best.ckpt"),
                               ("metrics", {"val/loss": 0.1})):
                trial.set_user_attr(key, value)
        study.tell(trial, random.random())
        if storage is not None:
            study.get_trials(deepcopy=False)
        seconds.append(time.perf_counter() - started)
    return seconds


def hydra_job_alone(n_trials: int, sweep: Path) -> list[float]:
    """Compose and run one trial's Hydra job (no task work) with the crescendo launcher."""
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import HydraContext, RunMode

    from hydra_plugins.crescendo_sweeper.launcher import CrescendoLauncher

    GlobalHydra.instance().clear()
    hydra_ = Hydra.create_main_hydra2(task_name="cr", config_search_path=create_config_search_path("pkg://crescendo.conf"))
    master = hydra_.compose_config("train", ["hparams_search=optuna", f"hydra.sweep.dir={sweep}", *SPACE],
                                   run_mode=RunMode.MULTIRUN, with_log_configuration=False)
    launcher = CrescendoLauncher()
    launcher.setup(hydra_context=HydraContext(config_loader=hydra_.config_loader, callbacks=Callbacks(master)),
                   task_function=lambda cfg: None, config=master)
    seconds = []
    for number in range(n_trials):
        started = time.perf_counter()
        launcher.launch([[f"model.optimizer.lr={0.001 + number * 1e-4}", "data.batch_size=64"]], initial_job_idx=number)
        seconds.append(time.perf_counter() - started)
    GlobalHydra.instance().clear()
    return seconds


def median_ms(values: list[float], skip: int = 3) -> float:
    return statistics.median(values[skip:]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cr = cr_search(args.trials, root / "search")
        per_trial = [sum(parts) for parts in zip(*cr.values())]
        plain = optuna_alone(args.trials, None)
        from crescendo.search.storage import open_storage

        stored = optuna_alone(args.trials, open_storage(f"sqlite:///{root / 'alone.db'}", 10))
        job = hydra_job_alone(args.trials, root / "jobs")
    print(f"non-training time per trial, median over {args.trials} trials (first 3 skipped), ms:")
    print(f"  cr search, all of it          {median_ms(per_trial):7.1f}   (target <= 30)")
    for name, values in cr.items():
        print(f"    {name:<26} {median_ms(values):7.1f}")
    print(f"  plain: in-memory ask + tell   {median_ms(plain):7.1f}   (what the plain script pays)")
    print(f"  floor: SQLite ask + tell      {median_ms(stored):7.1f}   (with the trial attributes and one read)")
    print(f"  floor: the Hydra job alone    {median_ms(job):7.1f}   (compose, copy, .hydra files, logging)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
