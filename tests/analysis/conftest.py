"""Real results to analyse, built once per test session.

- `search`: a 4-trial Optuna search of tiny data (2 epochs, feature_select keeps 5 of 6 columns,
  inputs standardised), through the `cr` command
- `kfold`: a 3-member KFold multirun (`cr -m 'seed=range(3)' data.ensemble_split...`)
- `batched`: one `model=mlp_ensemble` run (3 members with batch norm, feature_select), through train()

Tests must not modify these directories: copy them (`copy_tree`) to change anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from analysis_helpers import FEATURE_SELECT, N_FEATURES, N_TARGETS, Results
from helpers import run_cr, write_arrays


def _only_child(directory: Path) -> Path:
    children = [c for c in directory.iterdir() if c.is_dir()]
    assert len(children) == 1, children
    return children[0]


@pytest.fixture(scope="session")
def search(tmp_path_factory) -> Results:
    root = tmp_path_factory.mktemp("search")
    data = write_arrays(root / "data", n_features=N_FEATURES, n_targets=N_TARGETS, rows=(40, 16, 8), seed=1)
    done = run_cr(
        f"data.data_dir={data}", f"data.feature_select='{FEATURE_SELECT}'", "data.batch_size=16",
        "hparams_search=optuna", "hydra.sweeper.n_trials=4", "hydra.sweeper.pruner=none",
        "trainer.max_epochs=2", "seed=0", "model.optimizer.lr=interval(0.001, 0.01)",
        "model.architecture=choice(1, 2)", "paths.root_dir=results",
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Results(root, data, _only_child(root / "results" / "train" / "multiruns"))


@pytest.fixture(scope="session")
def kfold(tmp_path_factory) -> Results:
    root = tmp_path_factory.mktemp("kfold")
    data = write_arrays(root / "data", n_features=N_FEATURES, n_targets=N_TARGETS, rows=(30, 12, 0), seed=2)
    done = run_cr(
        "-m", f"data.data_dir={data}", "trainer.max_epochs=2", "quiet=true", "seed=range(3)",
        "data.ensemble_split.enable=true", "data.ensemble_split.index=${seed}", "data.ensemble_split.n_splits=3",
        cwd=root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Results(root, data, _only_child(root / "results" / "train" / "multiruns"))


@pytest.fixture
def copy_tree(tmp_path):
    """Copy a results directory into this test's tmp_path (to move, break or edit it)."""

    def _copy(source: Path, name: str | None = None) -> Path:
        target = tmp_path / (name or source.name)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.db-wal", "*.db-shm", "report"))
        return target

    return _copy


@pytest.fixture(scope="session")
def batched(tmp_path_factory) -> Results:
    """One `model=mlp_ensemble` run: 3 members trained together; `path` is the run directory."""
    from hydra import compose, initialize_config_module

    from crescendo.train import train

    root = tmp_path_factory.mktemp("batched")
    data = write_arrays(root / "data", n_features=N_FEATURES, n_targets=N_TARGETS, rows=(24, 10, 0), seed=4)
    with initialize_config_module("crescendo.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"paths.output_dir={root / 'run'}", "quiet=true", f"data.data_dir={data}", "model=mlp_ensemble",
            "model.n_members=3", "trainer.max_epochs=2", "data.batch_size=8", "seed=0", "model.architecture=1",
            "model.batch_norm=true", f"data.feature_select='{FEATURE_SELECT}'",
        ])
    train(cfg)
    return Results(root, data, root / "run")
