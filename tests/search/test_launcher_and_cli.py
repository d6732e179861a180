"""The fast launcher composes exactly what Hydra composes; the seed search through the `cr` command."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from helpers import run_cr, write_arrays
from omegaconf import OmegaConf


@pytest.fixture(scope="module")
def hydra_master():
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import HydraContext, RunMode

    GlobalHydra.instance().clear()
    hydra_ = Hydra.create_main_hydra2(task_name="cr", config_search_path=create_config_search_path("pkg://crescendo.conf"))
    overrides = [
        "model=mlp",
        "++data.data_dir=/tmp/somewhere",
        "trainer.max_epochs=10",
        "model.last_activation={_target_: torch.nn.Sigmoid}",
        "hparams_search=optuna",
        "model.optimizer.lr=interval(0.001, 0.01)",
        "data.batch_size=choice(32, 64)",
    ]
    master = hydra_.compose_config("train", overrides, run_mode=RunMode.MULTIRUN, with_log_configuration=False)
    context = HydraContext(config_loader=hydra_.config_loader, callbacks=Callbacks(master))
    yield hydra_, master, context
    GlobalHydra.instance().clear()


@pytest.mark.parametrize(
    "job",
    [
        ["model.optimizer.lr=0.005", "data.batch_size=32"],
        ["data.batch_size=64", "model.optimizer.lr=0.001", "model.batch_norm=True"],
        ["model=mlp_random_architecture", "model.optimizer.lr=0.002", "data.batch_size=32"],
        ["model.architecture=[64,32]", "+model.extra=1", "data.batch_size=32", "model.optimizer.lr=0.003"],
    ],
)
def test_fast_composition_matches_hydra(hydra_master, job):
    from hydra_plugins.crescendo_sweeper.launcher import CrescendoLauncher

    hydra_, master, context = hydra_master
    fixed = [o for o in master.hydra.overrides.task if "interval" not in o and "choice" not in o]
    overrides = [*fixed, *job]
    launcher = CrescendoLauncher()
    launcher.setup(hydra_context=context, task_function=lambda cfg: None, config=master)
    launcher.compose(overrides)  # the first call fills the cache; the second uses it
    fast = launcher.compose(overrides)
    slow = hydra_.config_loader.load_sweep_config(master, overrides)
    assert OmegaConf.to_container(fast) == OmegaConf.to_container(slow)
    assert (OmegaConf.is_struct(fast), OmegaConf.is_readonly(fast.hydra)) == (OmegaConf.is_struct(slow),
                                                                             OmegaConf.is_readonly(slow.hydra))


def test_a_worker_composes_from_the_configs_its_parent_composed(hydra_master, monkeypatch):
    """What a preforked worker receives (`composed`, pickled through the pipe) spares it Hydra's
    composition, and gives the same job config."""
    import pickle

    from hydra_plugins.crescendo_sweeper.launcher import CrescendoLauncher

    hydra_, master, context = hydra_master
    fixed = [o for o in master.hydra.overrides.task if "interval" not in o and "choice" not in o]
    parent = CrescendoLauncher()
    parent.setup(hydra_context=context, task_function=lambda cfg: None, config=master)
    parent.compose([*fixed, "model.optimizer.lr=0.001", "data.batch_size=32"])
    shipped = pickle.loads(pickle.dumps(parent.composed()))

    job = [*fixed, "model.optimizer.lr=0.005", "data.batch_size=64", "model.batch_norm=True"]
    expected = OmegaConf.to_container(hydra_.config_loader.load_sweep_config(master, job))
    worker = CrescendoLauncher()
    worker.setup(hydra_context=context, task_function=lambda cfg: None, config=master)
    worker.adopt_composed(shipped)

    def composes_again(*args, **kwargs):
        raise AssertionError("the worker composed from scratch")

    monkeypatch.setattr(context.config_loader, "load_sweep_config", composes_again)
    assert OmegaConf.to_container(worker.compose(job)) == expected


def test_the_lean_job_runner_matches_hydras_run_job(hydra_master, tmp_path):
    """`launcher._run_job` (one copy of the hydra node) leaves what Hydra's `run_job` leaves: the same
    .hydra files, the same config and HydraConfig inside the task, the same JobReturn."""
    import os
    import shutil

    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import setup_globals
    from omegaconf import open_dict

    from hydra_plugins.crescendo_sweeper import launcher as fast

    hydra_, master, context = hydra_master
    fixed = [o for o in master.hydra.overrides.task if "interval" not in o and "choice" not in o]
    overrides = [*fixed, "model.optimizer.lr=0.005", "data.batch_size=32", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                 "++callbacks.optuna_pruning={_target_:'crescendo.search.pruning.OptunaPruning',trial_number:3}"]
    seen = []

    def task(cfg):
        seen.append((OmegaConf.to_container(cfg), OmegaConf.to_container(HydraConfig.get()), OmegaConf.is_struct(cfg),
                     OmegaConf.is_readonly(cfg), os.getcwd()))
        return "done"

    setup_globals()
    before = HydraConfig.instance().cfg
    returns, files = [], []
    for runner in (fast._run_job, fast._hydra_run_job):
        launcher = fast.CrescendoLauncher()
        launcher.setup(hydra_context=context, task_function=task, config=master)
        job = launcher.compose(overrides)
        with open_dict(job):
            job.hydra.job.id = job.hydra.job.num = 3
        assert fast._mirrored(job)
        returns.append(runner(context, task, job))
        hydra_dir = tmp_path / "sweep" / "3" / ".hydra"
        files.append({path.name: path.read_bytes() for path in sorted(hydra_dir.iterdir())})
        shutil.rmtree(tmp_path / "sweep")
        assert HydraConfig.instance().cfg is before  # restored after the job
    lean, hydra_run = returns
    assert files[0] == files[1] and set(files[0]) == {"config.yaml", "hydra.yaml", "overrides.yaml"}
    assert seen[0] == seen[1]
    for ret in returns:
        assert (ret.status.name, ret.return_value) == ("COMPLETED", "done")
    assert OmegaConf.to_container(lean.cfg) == OmegaConf.to_container(hydra_run.cfg)
    assert OmegaConf.to_container(lean.hydra_cfg) == OmegaConf.to_container(hydra_run.hydra_cfg)
    assert (lean.overrides, lean.working_dir, lean.task_name) == (hydra_run.overrides, hydra_run.working_dir,
                                                                 hydra_run.task_name)


def test_jobs_the_lean_runner_does_not_mirror_go_through_run_job(hydra_master):
    from omegaconf import open_dict

    from hydra_plugins.crescendo_sweeper import launcher as fast

    _, master, _ = hydra_master
    job = OmegaConf.create(OmegaConf.to_container(master))
    assert fast._mirrored(job)
    with open_dict(job):
        job.hydra.sweep.subdir = "${hydra:job.override_dirname}"
    assert not fast._mirrored(job)
    with open_dict(job):
        job.hydra.sweep.subdir = "${hydra.job.num}"
        job.hydra.job.chdir = True
    assert not fast._mirrored(job)


SEED_SEARCH = [
    "model=mlp",
    "data=regression",
    "trainer.max_epochs=1",
    "model.last_activation={_target_: torch.nn.Sigmoid}",
    "trainer.accelerator=cpu",
    "hparams_search=optuna",
    "model.architecture=choice(3, 6, 9, 12, 15)",
    "data.batch_size=choice(32, 64, 128, 256)",
    "model.batch_norm=choice(True, False)",
    "model.optimizer.lr=interval(0.001, 0.01)",
]


@pytest.mark.slow
def test_seed_search_through_cr(tmp_path):
    data = write_arrays(tmp_path / "data")
    sweep = tmp_path / "sweep"
    proc = run_cr(*SEED_SEARCH, f"+data.data_dir={data}", "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[3/3] #" in proc.stdout and "optuna-dashboard sqlite:///" in proc.stdout
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["n_complete"] == 3
    assert Path(results["best_run_dir"]).parent == sweep
    assert Path(results["best_checkpoint"]).is_file()
    assert (Path(results["best_run_dir"]) / "result.json").is_file()
    with open(sweep / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    assert {"model.architecture", "data.batch_size", "model.batch_norm", "model.optimizer.lr"} <= set(rows[0])
    best = min(rows, key=lambda r: float(r["value"]))
    assert int(best["number"]) == results["best_trial"]
    # Lightning is quiet inside a search
    assert "GPU available" not in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "argument, message",
    [
        ("model.optimzer.lr=interval(0.001, 0.01)", "cr: error: model.optimzer.lr=interval(0.001, 0.01): model.optimzer.lr is not a key of the config"),
        ("model.batch_norm=choice(maybe, 1.5)", "cr: error: model.batch_norm=choice(maybe, 1.5): model.batch_norm is a bool"),
        ("model.optimizer.lr=interval(0.01, 0.001)", "the lower end is above the upper end"),
    ],
)
def test_bad_search_input_through_cr_exits_2_without_traceback(tmp_path, argument, message):
    sweep = tmp_path / "sweep"
    proc = run_cr("data=diabetes", "hparams_search=optuna", argument, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not any(p.name.isdigit() for p in sweep.iterdir()) if sweep.exists() else True


@pytest.mark.slow
def test_bad_syntax_through_cr_exits_2_naming_the_key(tmp_path):
    # `cr` checks the syntax with crescendo.overrides.check_override_syntax before Hydra parses it
    proc = run_cr("data=diabetes", "hparams_search=optuna", "model.optimizer.lr=interval(0.001", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("cr: error: model.optimizer.lr: cannot parse 'model.optimizer.lr=interval(0.001'")
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()
