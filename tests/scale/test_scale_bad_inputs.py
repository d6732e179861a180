"""Bad input, table-driven: every case is a real `cr` command that must stop with one clear message
naming the key or file and the fix, a non-zero exit status, no traceback, and nothing on disk that a
corrected rerun would trip on (no half-made run dir, no trial dirs, no study at a wrong place)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import CR, write_arrays

SEARCH = ["data=diabetes", "hparams_search=optuna", "model.optimizer.lr=interval(0.001, 0.01)", "trainer.max_epochs=1"]


@dataclass
class Case:
    id: str
    args: list[str]  # {data}, {bad}, {tmp}, {postgres} are filled in
    message: list[str]  # substrings of stderr, in order
    code: int = 2
    search: bool = False  # a search: check its sweep dir
    extra: dict = field(default_factory=dict)  # "unwritable": needs {ro} to refuse writes (not as root)
    command: str = "cr"  # or cr-predict, cr-report, cr-export: its messages start "<command>: error:"
    setup: Callable[[Path], None] | None = None  # prepares the case's directory before `cr` runs


# One list per kind of input, so that each can grow on its own; CASES joins them.
DATA_CASES = [
    # --- data files (single runs: the half-made run dir is removed)
    Case("data-dir-missing", ["data=regression", "+data.data_dir={tmp}/nowhere"],
         ["cr: error: data.data_dir: {tmp}/nowhere"]),
    Case("data-file-missing", ["data=regression", "+data.data_dir={bad}/no_val"],
         ["cr: error: data.data_dir: {bad}/no_val has no X_val.npy, Y_val.npy"]),
    Case("data-nan", ["data=regression", "+data.data_dir={bad}/nan"], ["cr: error: ", "X_train.npy", "NaN"]),
    Case("data-rows-mismatch", ["data=regression", "+data.data_dir={bad}/rows"],
         ["cr: error: {bad}/rows/X_train.npy has 48 rows but {bad}/rows/Y_train.npy has 43"]),
    Case("data-not-npy", ["data=regression", "+data.data_dir={bad}/garbage"], ["cr: error: ", "X_train.npy"]),
    Case("data-1d-inputs", ["data=regression", "+data.data_dir={bad}/flat"], ["cr: error: ", "X_train.npy", "2-D"]),
    Case("data-feature-select", ["data=regression", "+data.data_dir={data}", "data.feature_select=abc"],
         ["cr: error: data.feature_select"]),
]

OVERRIDE_CASES = [
    # --- overrides
    Case("unknown-key", ["data=diabetes", "trainer.max_epoch=3"],
         ["cr: error: trainer.max_epoch: not a key of the config — did you mean trainer.max_epochs?",
          "+trainer.max_epoch=3"]),
    Case("unknown-group-option", ["data=diabetes", "model=nope"],
         ["cr: error: model=nope: no such option — choose one of mlp, mlp_ensemble, mlp_random_architecture"]),
    Case("bad-mode", ["data=diabetes", "mode=middle"], ["cr: error: mode=middle: must be min or max — use mode=min or mode=max"]),
    Case("bad-batches-per-call", ["data=diabetes", "batches_per_call=0"],
         ["cr: error: batches_per_call=0: must be an int ≥ 1 — use auto, or an int ≥ 1"]),
    Case("blocks-with-gradient-clipping", ["data=diabetes", "batches_per_call=8", "+trainer.gradient_clip_val=1.0"],
         ["cr: error: batches_per_call=8 cannot be used with trainer.gradient_clip_val=1.0",
          "set batches_per_call=1"]),
    Case("bad-architecture", ["data=diabetes", "model.architecture=wide"], ["cr: error: model.architecture"]),
    # --- values the receiving objects refuse, found by the one checking stage (crescendo.checks)
    Case("lr-negative", ["data=diabetes", "model.optimizer.lr=-1"],
         ["cr: error: model.optimizer.lr=-1: must be a number > 0 — set e.g. model.optimizer.lr=0.001"]),
    Case("lr-zero", ["data=diabetes", "model.optimizer.lr=0"], ["cr: error: model.optimizer.lr=0: must be a number > 0"]),
    Case("lr-string", ["data=diabetes", "model.optimizer.lr=abc"],
         ["cr: error: model.optimizer.lr=abc: must be a number > 0, not a string"]),
    Case("lr-list", ["data=diabetes", "model.optimizer.lr=[1,2]"],
         ["cr: error: model.optimizer.lr=[1, 2]: must be a number > 0, not a list"]),
    Case("weight-decay-negative", ["data=diabetes", "+model.optimizer.weight_decay=-0.1"],
         ["cr: error: model.optimizer.weight_decay=-0.1: must be a number ≥ 0 — set model.optimizer.weight_decay=0"]),
    Case("seed-string", ["data=diabetes", "seed=abc"],
         ["cr: error: seed=abc: must be an int in [0, 4294967295] or null (unseeded), not a string — set e.g. seed=42"]),
    Case("max-epochs-string", ["data=diabetes", "trainer.max_epochs=abc"],
         ["cr: error: trainer.max_epochs=abc: must be an int ≥ 1, not a string — set e.g. trainer.max_epochs=100"]),
    Case("max-epochs-zero", ["data=diabetes", "trainer.max_epochs=0"],
         ["cr: error: trainer.max_epochs=0: must be ≥ 1: 0 epochs trains nothing — set e.g. trainer.max_epochs=100"]),
    Case("max-epochs-forever", ["data=diabetes", "trainer.max_epochs=-1"],
         ["cr: error: trainer.max_epochs=-1: trains forever unless trainer.max_time or trainer.max_steps bounds it",
          "+trainer.max_time=00:01:00:00"]),
    Case("min-over-max-epochs", ["data=diabetes", "trainer.min_epochs=5", "trainer.max_epochs=2"],
         ["cr: error: trainer.min_epochs=5: must not exceed trainer.max_epochs=2 — lower it"]),
    Case("monitor-typo", ["data=diabetes", "monitor=val/lss"],
         ["cr: error: monitor=val/lss: must be a metric the model logs (train/loss, val/loss) — did you mean "
          "monitor=val/loss?"]),
    Case("accelerator-typo", ["data=diabetes", "trainer.accelerator=cpuu"],
         ["cr: error: trainer.accelerator=cpuu: must be one of auto, cpu", "did you mean trainer.accelerator=cpu?"]),
    Case("batch-size-zero", ["data=diabetes", "data.batch_size=0"],
         ["cr: error: data.batch_size=0: must be an int ≥ 1 — set e.g. data.batch_size=64"]),
    Case("batch-size-negative", ["data=diabetes", "data.batch_size=-1"], ["cr: error: data.batch_size=-1: must be an int ≥ 1"]),
    Case("batch-size-string", ["data=diabetes", "data.batch_size=abc"],
         ["cr: error: data.batch_size=abc: must be an int ≥ 1, not a string"]),
    Case("batch-size-float", ["data=diabetes", "data.batch_size=1.5"],
         ["cr: error: data.batch_size=1.5: must be an int ≥ 1, not a float"]),
    Case("architecture-negative", ["data=diabetes", "model.architecture=-3"],
         ["cr: error: model.architecture=-3: is a negative number of hidden layers — expected hidden widths [64, 32]"]),
    Case("architecture-zero-width", ["data=diabetes", "model.architecture=[0,5]"],
         ["cr: error: model.architecture=[0, 5]: has a hidden width below 1"]),
    Case("architecture-string", ["data=diabetes", "model.architecture=abc"], ["cr: error: model.architecture=abc: has type str"]),
    Case("architecture-string-list", ["data=diabetes", "model.architecture=[a]"],
         ["cr: error: model.architecture=[a]: is a list whose entries are not all ints"]),
    Case("batch-norm-maybe", ["data=diabetes", "model.batch_norm=maybe"],
         ["cr: error: model.batch_norm=maybe: must be true or false, not a string — use model.batch_norm=true or false"]),
    Case("dropout-above-one", ["data=diabetes", "model.dropout=1.5"],
         ["cr: error: model.dropout=1.5: must be a number ≥ 0 and < 1 — use e.g. model.dropout=0.1"]),
    Case("builtin-with-data-dir", ["data=diabetes", "+data.data_dir={data}"],
         ["cr: error: data.data_dir={data}: cannot be used with the built-in data=diabetes (it would be ignored) — use "
          "data=regression data.data_dir=DIR"]),
    Case("several-bad-values", ["data=diabetes", "seed=abc", "data.batch_size=0", "model.optimizer.lr=-1"],
         ["cr: error: seed=abc: must be", "; data.batch_size=0: must be", "; model.optimizer.lr=-1: must be"]),
]

SEARCH_CASES = [
    # --- search syntax and space
    Case("syntax", ["data=diabetes", "hparams_search=optuna", "model.optimizer.lr=interval(0.001"],
         ["cr: error: model.optimizer.lr: cannot parse 'model.optimizer.lr=interval(0.001'", "write e.g."], search=True),
    Case("interval-reversed", [*SEARCH[:2], "model.optimizer.lr=interval(0.01, 0.001)"],
         ["cr: error: model.optimizer.lr=interval(0.01, 0.001): the lower end is above the upper end"], search=True),
    Case("search-unknown-key", [*SEARCH[:2], "model.optimzer.lr=interval(0.001, 0.01)"],
         ["cr: error: model.optimzer.lr=interval(0.001, 0.01): model.optimzer.lr is not a key of the config"], search=True),
    Case("search-bad-choice", [*SEARCH, "model.batch_norm=choice(maybe, 1.5)"],
         ["cr: error: model.batch_norm=choice(maybe, 1.5): model.batch_norm is a bool"], search=True),
    Case("log-scale-zero", [*SEARCH[:2], "model.optimizer.lr=tag(log, interval(0, 0.01))"],
         ["cr: error: model.optimizer.lr=tag(log, interval(0, 0.01))", "log"], search=True),
    Case("nothing-to-search", ["data=diabetes", "hparams_search=optuna"], ["cr: error: nothing to search"], search=True),
]

SWEEPER_CASES = [
    # --- sweeper settings
    Case("n-jobs-zero", [*SEARCH, "hydra.sweeper.n_jobs=0"],
         ["cr: error: hydra.sweeper.n_jobs=0: must be a whole number ≥ 1 (trials at once) or auto"], search=True),
    Case("n-jobs-negative", [*SEARCH, "hydra.sweeper.n_jobs=-2"], ["cr: error: hydra.sweeper.n_jobs=-2: must be"], search=True),
    Case("n-trials-zero", [*SEARCH, "hydra.sweeper.n_trials=0"],
         ["cr: error: hydra.sweeper.n_trials=0: must be a whole number ≥ 1"], search=True),
    Case("unknown-sampler", [*SEARCH, "hydra.sweeper.sampler=bayes"],
         ["cr: error: hydra.sweeper.sampler=bayes: unknown sampler — choose one of tpe"], search=True),
    Case("unknown-pruner", [*SEARCH, "hydra.sweeper.pruner=early"],
         ["cr: error: hydra.sweeper.pruner=early: unknown pruner — choose one of none"], search=True),
    Case("bad-direction", [*SEARCH, "hydra.sweeper.direction=sideways"],
         ["cr: error: hydra.sweeper.direction=sideways: each direction is minimize or maximize"], search=True),
    Case("direction-number", [*SEARCH, "hydra.sweeper.direction=1"],
         ["cr: error: hydra.sweeper.direction=1: each direction is minimize or maximize"], search=True),
    Case("heartbeat-zero", [*SEARCH, "hydra.sweeper.heartbeat_interval=0"],
         ["cr: error: hydra.sweeper.heartbeat_interval=0: must be a whole number ≥ 1 or null"], search=True),
    Case("grace-too-short", [*SEARCH, "hydra.sweeper.grace_period=5"],
         ["cr: error: hydra.sweeper.grace_period=5: must be longer than heartbeat_interval=10", "grace_period=20"],
         search=True),
    Case("failure-rate", [*SEARCH, "hydra.sweeper.max_failure_rate=2"],
         ["cr: error: hydra.sweeper.max_failure_rate=2.0: must be between 0 and 1"], search=True),
]

STORAGE_CASES = [
    # --- storages
    Case("postgres-unreachable", [*SEARCH, "hydra.sweeper.storage=postgresql://crescendo@127.0.0.1:1/crescendo"],
         ["cr: error: hydra.sweeper.storage=postgresql", "127.0.0.1:1/crescendo: cannot connect", "Connection refused",
          "start the database server"], search=True),
    Case("postgres-no-database", [*SEARCH, "hydra.sweeper.storage={postgres_nodb}"],
         ["cr: error: hydra.sweeper.storage=postgresql", "cannot connect", 'database "nodb" does not exist'], search=True),
    Case("sqlite-missing-dir", [*SEARCH, "hydra.sweeper.storage=sqlite:///{tmp}/nodir/study.db"],
         ["cr: error: hydra.sweeper.storage=sqlite:///{tmp}/nodir/study.db: directory {tmp}/nodir does not exist"],
         search=True),
    Case("journal-missing-dir", [*SEARCH, "hydra.sweeper.storage=journal://{tmp}/nodir/study.log"],
         ["cr: error: hydra.sweeper.storage=journal://{tmp}/nodir/study.log: directory {tmp}/nodir does not exist"],
         search=True),
    Case("unknown-storage", [*SEARCH, "hydra.sweeper.storage=mongodb://localhost/db"],
         ["cr: error: hydra.sweeper.storage=mongodb://localhost/db: unknown database kind 'mongodb' — use sqlite:///"],
         search=True),
    Case("mysql-driver-missing", [*SEARCH, "hydra.sweeper.storage=mysql://u@127.0.0.1/db"],
         ["cr: error: hydra.sweeper.storage=mysql://u@127.0.0.1/db: the Python driver for mysql is not installed — "
          "pip install pymysql"], search=True),
    Case("study-other-direction", [*SEARCH, "hydra.sweeper.storage=sqlite:///{tmp}/existing.db",
                                   "hydra.sweeper.study_name=maximized"],
         ["cr: error: hydra.sweeper.study_name=maximized: the study in sqlite:///{tmp}/existing.db was created to "
          "maximize, this search asks minimize — use another study_name"], search=True),
]

SEARCHED_VALUE_CASES: list[Case] = [  # values a trial could take, checked before the first trial
    Case("search-architecture-choice", [*SEARCH, "model.architecture=choice(abc, 3)"],
         ["cr: error: model.architecture=choice(abc, 3): the value abc has type str — expected"], search=True),
    Case("search-architecture-list", [*SEARCH, "model.architecture=choice(3, [64, 0])"],
         ["cr: error: model.architecture=choice(3, [64, 0]): the value [64, 0] has a hidden width below 1"], search=True),
    Case("search-batch-size-choice", [*SEARCH, "data.batch_size=choice(0, 32)"],
         ["cr: error: data.batch_size=choice(0, 32): the value 0 must be an int ≥ 1 — set e.g. data.batch_size=64"],
         search=True),
    Case("search-batch-size-float", [*SEARCH, "data.batch_size=choice(32, 1.5)"],
         ["cr: error: data.batch_size=choice(32, 1.5): the value 1.5 must be an int ≥ 1, not a float"], search=True),
    Case("search-batch-size-range", [*SEARCH, "data.batch_size=range(-32, 64, 32)"],
         ["cr: error: data.batch_size=range(-32, 64, 32): the value -32 must be an int ≥ 1"], search=True),
    Case("search-lr-interval", [*SEARCH[:2], "trainer.max_epochs=1", "model.optimizer.lr=interval(-1, 1)"],
         ["cr: error: model.optimizer.lr=interval(-1, 1): the value -1.0 must be a number > 0"], search=True),
    Case("search-lr-zero-end", [*SEARCH[:2], "trainer.max_epochs=1", "model.optimizer.lr=interval(0, 0.1)"],
         ["cr: error: model.optimizer.lr=interval(0, 0.1): the value 0.0 must be a number > 0"], search=True),
    Case("search-lr-string-choice", [*SEARCH[:2], "trainer.max_epochs=1", "model.optimizer.lr=choice(0.01, abc)"],
         ["cr: error: model.optimizer.lr=choice(0.01, abc): the value abc must be a number > 0, not a string"],
         search=True),
    Case("search-weight-decay", [*SEARCH, "+model.optimizer.weight_decay=interval(-0.1, 0.1)"],
         ["cr: error: +model.optimizer.weight_decay=interval(-0.1, 0.1): the value -0.1 must be a number ≥ 0"],
         search=True),
    Case("search-dropout-interval", [*SEARCH, "model.dropout=interval(0.5, 1.5)"],
         ["cr: error: model.dropout=interval(0.5, 1.5): the value 1.5 must be a number ≥ 0 and < 1"], search=True),
    Case("search-max-epochs-range", [*SEARCH[:3], "trainer.max_epochs=range(0, 3)"],
         ["cr: error: trainer.max_epochs=range(0, 3): the value 0 must be ≥ 1: 0 epochs trains nothing"], search=True),
    Case("search-min-epochs-choice", [*SEARCH, "trainer.min_epochs=choice(1, 50)"],
         ["cr: error: trainer.min_epochs=choice(1, 50): the value 50 must not exceed trainer.max_epochs=1"], search=True),
    Case("search-seed-choice", [*SEARCH, "seed=choice(1, abc)"],
         ["cr: error: seed=choice(1, abc): the value abc must be an int in [0, 4294967295] or null"], search=True),
    Case("search-monitor-choice", [*SEARCH, "monitor=choice(val/loss, val/lss)"],
         ["cr: error: monitor=choice(val/loss, val/lss): the value val/lss must be a metric the model logs",
          "did you mean monitor=val/loss?"], search=True),
    Case("search-several-bad-values", [*SEARCH[:2], "trainer.max_epochs=1", "model.architecture=choice(abc, 3)",
                                       "data.batch_size=choice(0, 32)", "model.optimizer.lr=interval(-1, 1)"],
         ["cr: error: data.batch_size=choice(0, 32): the value 0 must be", "; model.architecture=choice(abc, 3): the "
          "value abc has type str", "; model.optimizer.lr=interval(-1, 1): the value -1.0 must be"], search=True),
    Case("search-bad-base", [*SEARCH[:3], "trainer.max_epochs=0"],
         ["cr: error: trainer.max_epochs=0: must be ≥ 1: 0 epochs trains nothing"], search=True),
    Case("search-builtin-with-data-dir", [*SEARCH, "+data.data_dir={data}"],
         ["cr: error: data.data_dir={data}: cannot be used with the built-in data=diabetes"], search=True),
]


def space_study(*searched: str, recorded: bool = True) -> Callable[[Path], None]:
    """A study `space` in the case's existing.db that searched `searched` (override texts) and holds one
    complete trial; `recorded=False`: an older study without the recorded space (its trials tell it)."""

    def setup(cwd: Path) -> None:
        import optuna

        from hydra_plugins.crescendo_sweeper._resume import record_space
        from hydra_plugins.crescendo_sweeper._space import parse_search_space

        space = parse_search_space(list(searched)).distributions
        study = optuna.create_study(storage=f"sqlite:///{cwd / 'existing.db'}", study_name="space")
        if recorded:
            record_space(study, space)
        params = {k: d.choices[0] if hasattr(d, "choices") else d.low for k, d in space.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=space, value=1.0))

    return setup


LR = "model.optimizer.lr=interval(0.001, 0.01)"
DROPOUT = "model.dropout=interval(0.0, 0.5)"
RESUME = ["data=diabetes", "hparams_search=optuna", "trainer.max_epochs=1",
          "hydra.sweeper.storage=sqlite:///{tmp}/existing.db", "hydra.sweeper.study_name=space"]
OTHER_SPACE = "cr: error: hydra.sweeper.study_name=space: the study in sqlite:///{tmp}/existing.db searched another space — "
RESUME_CASES = [  # a study resumed with another search space
    Case("resume-key-added", [*RESUME, LR, DROPOUT], [OTHER_SPACE + "model.dropout: added (float [0.0, 0.5]) — ",
         "hydra.sweeper.extend_space=true"], search=True, setup=space_study(LR)),
    Case("resume-key-removed", [*RESUME, LR], [OTHER_SPACE + "model.dropout: removed (was float [0.0, 0.5]) — "],
         search=True, setup=space_study(LR, DROPOUT)),
    Case("resume-choices-changed", [*RESUME, LR, "model.architecture=choice(1, 2, 3)"],
         [OTHER_SPACE + "model.architecture: choices 1, 2 → 1, 2, 3 — Optuna keeps a key's kind"], search=True,
         setup=space_study(LR, "model.architecture=choice(1, 2)")),
    Case("resume-interval-moved", [*RESUME, "model.optimizer.lr=interval(0.001, 0.1)"],
         [OTHER_SPACE + "model.optimizer.lr: range [0.001, 0.01] → [0.001, 0.1] — "], search=True,
         setup=space_study(LR)),
    Case("resume-log-changed", [*RESUME, "model.optimizer.lr=tag(log, interval(0.001, 0.01))"],
         [OTHER_SPACE + "model.optimizer.lr: log scale off → on — "], search=True, setup=space_study(LR)),
    Case("resume-int-range-changed", [*RESUME, LR, "data.batch_size=interval(8, 64)"],
         [OTHER_SPACE + "data.batch_size: range [16, 64] → [8, 64] — "], search=True,
         setup=space_study(LR, "data.batch_size=interval(16, 64)")),
    Case("resume-step-changed", [*RESUME, LR, "data.batch_size=range(16, 80, 16)"],
         [OTHER_SPACE + "data.batch_size: step 1 → 16 — "], search=True,
         setup=space_study(LR, "data.batch_size=interval(16, 64)")),
    Case("resume-type-changed", [*RESUME, LR, "data.batch_size=interval(16, 32)"],
         [OTHER_SPACE + "data.batch_size: choice(16, 32) → int [16, 32] — "], search=True,
         setup=space_study(LR, "data.batch_size=choice(16, 32)")),
    Case("resume-several-differences",
         [*RESUME, "model.optimizer.lr=tag(log, interval(0.0001, 0.01))", "model.architecture=choice(1, 2)"],
         [OTHER_SPACE + "model.optimizer.lr: log scale off → on, range [0.001, 0.01] → [0.0001, 0.01]; "
          "model.architecture: added (choice(1, 2)); model.dropout: removed (was float [0.0, 0.5]) — "], search=True,
         setup=space_study(LR, DROPOUT)),
    Case("resume-older-study", [*RESUME, "model.optimizer.lr=interval(0.001, 0.1)"],
         [OTHER_SPACE + "model.optimizer.lr: range [0.001, 0.01] → [0.001, 0.1] — "], search=True,
         setup=space_study(LR, recorded=False)),
    Case("resume-extend-cannot-mix", [*RESUME, LR, "model.architecture=choice(1, 2, 3)", "hydra.sweeper.extend_space=true"],
         [OTHER_SPACE + "model.architecture: choices 1, 2 → 1, 2, 3 — Optuna keeps a key's kind, log scale and "
          "choices for a whole study: use another hydra.sweeper.study_name"], search=True,
         setup=space_study(LR, "model.architecture=choice(1, 2)")),
]

HYDRA_CASES = [
    # --- what Hydra itself rejects: unknown keys (the closest one named), missing group options,
    # --- typed settings, overrides its grammar cannot parse
    Case("hydra-key-model", ["data=diabetes", "model.dropuot=0.1"],
         ["cr: error: model.dropuot: not a key of the config — did you mean model.dropout?", "+model.dropuot=0.1"]),
    Case("hydra-key-model-far", ["data=diabetes", "model.foo=1"],
         ["cr: error: model.foo: not a key of the config — model's keys are _target_, activation, architecture"]),
    Case("hydra-key-data", ["data=diabetes", "data.batch_sise=8"], ["cr: error: data.batch_sise:", "data.batch_size?"]),
    Case("hydra-key-trainer", ["data=diabetes", "trainer.max_epochz=2"],
         ["cr: error: trainer.max_epochz: not a key of the config — did you mean trainer.max_epochs?"]),
    Case("hydra-key-callbacks", ["data=diabetes", "callbacks.model_checkpoint.monitr=x"],
         ["cr: error: callbacks.model_checkpoint.monitr:", "did you mean callbacks.model_checkpoint.monitor?"]),
    Case("hydra-key-logger", ["data=diabetes", "logger.csv.nam=x"],
         ["cr: error: logger.csv.nam:", "did you mean logger.csv.name?"]),
    Case("hydra-key-paths", ["data=diabetes", "paths.root_dirr={tmp}/r"],
         ["cr: error: paths.root_dirr:", "did you mean paths.root_dir?"]),
    Case("hydra-key-top", ["data=diabetes", "sed=1"], ["cr: error: sed: not a key of the config — did you mean seed?"]),
    Case("hydra-key-run-dir", ["data=diabetes", "hydra.run.dri={tmp}/r"],
         ["cr: error: hydra.run.dri:", "did you mean hydra.run.dir?"]),
    Case("hydra-key-sweeper", [*SEARCH, "hydra.sweeper.n_trails=3"],
         ["cr: error: hydra.sweeper.n_trails: not a key of the config — did you mean hydra.sweeper.n_trials?"],
         search=True),
    Case("hydra-key-sweeper-no-search", ["data=diabetes", "hydra.sweeper.n_trials=3"],
         ["cr: error: hydra.sweeper.n_trials: the search's settings exist only in a search — add hparams_search=optuna"]),
    Case("hydra-key-in-search", [*SEARCH, "model.foo=1"], ["cr: error: model.foo: not a key of the config"],
         search=True),
    Case("hydra-option-model", ["data=diabetes", "model=mlpp"],
         ["cr: error: model=mlpp: no such option — choose one of mlp, mlp_ensemble, mlp_random_architecture",
          "(closest: model=mlp)"]),
    Case("hydra-option-data", ["data=nope"], ["cr: error: data=nope: no such option — choose one of diabetes, regression"]),
    Case("hydra-option-trainer", ["data=diabetes", "trainer=gpuu"],
         ["cr: error: trainer=gpuu: no such option — choose one of", "(closest: trainer=gpu)"]),
    Case("hydra-option-callbacks", ["data=diabetes", "callbacks=early"],
         ["cr: error: callbacks=early: no such option — choose one of default, early_stopping"]),
    Case("hydra-option-logger", ["data=diabetes", "logger=tensorbord"],
         ["cr: error: logger=tensorbord: no such option", "(closest: logger=tensorboard)"]),
    Case("hydra-option-paths", ["data=diabetes", "paths=nope"], ["cr: error: paths=nope: no such option — choose one of default"]),
    Case("hydra-option-hparams-search", ["data=diabetes", "hparams_search=optuma"],
         ["cr: error: hparams_search=optuma: no such option — choose one of optuna"]),
    Case("hydra-option-experiment", ["data=diabetes", "experiment=nope"],
         ["cr: error: experiment=nope: no such option — choose one of crescendo_0_0_4, diabetes_quick, example"]),
    Case("hydra-option-debug", ["data=diabetes", "debug=fast"],
         ["cr: error: debug=fast: no such option — choose one of default, fast_dev_run, fdr, limit, overfit, profiler "
          "(closest: debug=fast_dev_run)"]),
    Case("hydra-option-launcher", [*SEARCH, "hydra/launcher=nope"], ["cr: error: hydra/launcher=nope: no such option"],
         search=True),
    Case("hydra-option-in-search", [*SEARCH, "model=mlpp"], ["cr: error: model=mlpp: no such option"], search=True),
    Case("hydra-type-n-trials", [*SEARCH, "hydra.sweeper.n_trials=abc"],
         ["cr: error: hydra.sweeper.n_trials=abc: hydra.sweeper.n_trials takes a whole number"], search=True),
    Case("hydra-type-n-trials-float", [*SEARCH, "hydra.sweeper.n_trials=2.5"],
         ["cr: error: hydra.sweeper.n_trials=2.5: hydra.sweeper.n_trials takes a whole number"], search=True),
    Case("hydra-type-failure-rate", [*SEARCH, "hydra.sweeper.max_failure_rate=most"],
         ["cr: error: hydra.sweeper.max_failure_rate=most: hydra.sweeper.max_failure_rate takes a number"], search=True),
    Case("hydra-type-parallel-startup", [*SEARCH, "hydra.sweeper.parallel_startup=maybe"],
         ["cr: error: hydra.sweeper.parallel_startup=maybe:", "takes true or false"], search=True),
    Case("hydra-type-heartbeat", [*SEARCH, "hydra.sweeper.heartbeat_interval=1.5"],
         ["cr: error: hydra.sweeper.heartbeat_interval=1.5:", "takes a whole number or null"], search=True),
    Case("hydra-range-without-search", ["data=diabetes", "model.optimizer.lr=interval(0.001, 0.01)"],
         ["cr: error: model.optimizer.lr=interval(0.001, 0.01): a search range needs a search — add hparams_search=optuna"]),
    Case("hydra-parse-bracket", ["data=diabetes", "model.architecture=[64,32"],
         ["cr: error: model.architecture: cannot parse 'model.architecture=[64,32'", "balance the brackets"]),
    Case("hydra-parse-extra-bracket", ["data=diabetes", "model.architecture=[64,32]]"],
         ["cr: error: model.architecture: cannot parse", "balance the brackets"]),
    Case("hydra-parse-quote", ["data=diabetes", "trainer.max_epochs='3"],
         ["cr: error: trainer.max_epochs: cannot parse", "close the quote"]),
    Case("hydra-parse-no-equals", ["data=diabetes", "trainer.max_epochs"],
         ["cr: error: trainer.max_epochs: 'trainer.max_epochs' has no value — write trainer.max_epochs=VALUE"]),
    Case("hydra-parse-no-key", ["data=diabetes", "=3"], ["cr: error: '=3': no key before '=' — write key=value"]),
    Case("hydra-parse-non-ascii", ["data=regression", "+data.data_dir={tmp}/dätä"],
         ["cr: error: data.data_dir: cannot parse", "quote the value, in the shell: '+data.data_dir=\"{tmp}/dätä\"'"]),
    Case("hydra-parse-non-ascii-search", [*SEARCH, "++data.data_dir={tmp}/dätä"],
         ["cr: error: data.data_dir: cannot parse", "quote the value"], search=True),
    Case("hydra-append-existing", ["data=diabetes", "+model.dropout=0.2"],
         ["cr: error: model.dropout: is already in the config — drop the + to change it"]),
]
OUTPUT_CASES = [
    # run, sweep and root directories that cannot be made or written: {file} is a regular file,
    # {ro} a directory this user cannot write (see read_only_dir; skipped where there is none)
    Case("output-root-is-file", ["data=diabetes", "paths.root_dir={file}"],
         ["cr: error: paths.root_dir: {file} is a file — choose a directory"]),
    Case("output-root-under-file", ["data=diabetes", "paths.root_dir={file}/results"],
         ["cr: error: paths.root_dir: {file}/results cannot be made: {file} is a file"]),
    Case("output-run-dir-under-file", ["data=diabetes", "hydra.run.dir={file}/run"],
         ["cr: error: hydra.run.dir: {file}/run cannot be made: {file} is a file"]),
    Case("output-run-dir-is-file", ["data=diabetes", "hydra.run.dir={file}"],
         ["cr: error: hydra.run.dir: {file} is a file — choose a directory"]),
    Case("output-sweep-dir-under-file", [*SEARCH, "hydra.sweep.dir={file}/sweep"],
         ["cr: error: hydra.sweep.dir: {file}/sweep cannot be made: {file} is a file"], search=True),
    Case("output-search-root-under-file", [*SEARCH, "paths.root_dir={file}/results"],
         ["cr: error: paths.root_dir: {file}/results cannot be made: {file} is a file"], search=True),
    Case("output-basic-multirun-under-file", ["-m", "data=diabetes", "seed=1,2", "hydra.sweep.dir={file}/sweep"],
         ["cr: error: hydra.sweep.dir: {file}/sweep cannot be made: {file} is a file"]),
    Case("output-root-read-only", ["data=diabetes", "paths.root_dir={ro}/results"],
         ["cr: error: paths.root_dir: {ro}/results would be made in {ro}, which is not writable"],
         extra={"unwritable": True}),
    Case("output-run-dir-read-only", ["data=diabetes", "hydra.run.dir={ro}"],
         ["cr: error: hydra.run.dir: {ro} is not writable"], extra={"unwritable": True}),
    Case("output-sweep-dir-read-only", [*SEARCH, "hydra.sweep.dir={ro}/sweep"],
         ["cr: error: hydra.sweep.dir: {ro}/sweep would be made in {ro}, which is not writable"], search=True,
         extra={"unwritable": True}),
]

TOOL_CASES = [
    # --- cr-predict, cr-report, cr-export: a path that is not a run, bad input arrays, bad outputs
    Case("predict-missing-path", ["{tmp}/nowhere", "{arrays}/x5.npy"],
         ["cr-predict: error: {tmp}/nowhere: no such file or directory — expected a run directory"],
         command="cr-predict"),
    Case("predict-not-a-run", ["{bad}", "{arrays}/x5.npy"], ["cr-predict: error: {bad}: holds no run, search or ensemble"],
         command="cr-predict"),
    Case("predict-path-is-file", ["{file}", "{arrays}/x5.npy"], ["cr-predict: error: {file}: is a file"],
         command="cr-predict"),
    Case("predict-wrong-width", ["{run}", "{arrays}/x3.npy"],
         ["cr-predict: error: {arrays}/x3.npy: inputs to predict have shape (4, 3) but the model expects (n, 5)"],
         command="cr-predict"),
    Case("predict-nan", ["{run}", "{arrays}/xnan.npy"],
         ["cr-predict: error: {arrays}/xnan.npy: inputs to predict hold 1 NaN or infinite values"], command="cr-predict"),
    Case("predict-1d", ["{run}", "{arrays}/x1d.npy"], ["cr-predict: error: {arrays}/x1d.npy:", "pass a 2-D array"],
         command="cr-predict"),
    Case("predict-input-extension", ["{run}", "{arrays}/x.txt"],
         ["cr-predict: error: {arrays}/x.txt: unknown file type ('.txt')", ".npy, .npz or .csv"], command="cr-predict"),
    Case("predict-input-missing", ["{run}", "{arrays}/nothing.npy"],
         ["cr-predict: error: {arrays}/nothing.npy: no such file"], command="cr-predict"),
    Case("predict-input-garbage", ["{run}", "{arrays}/garbage.npy"], ["cr-predict: error: {arrays}/garbage.npy"],
         command="cr-predict"),
    Case("predict-output-under-file", ["{run}", "{arrays}/x5.npy", "-o", "{file}/y.npy"],
         ["cr-predict: error: -o {file}/y.npy: {file} is a file"], command="cr-predict"),
    Case("predict-output-extension", ["{run}", "{arrays}/x5.npy", "-o", "{tmp}/y.txt"],
         ["cr-predict: error: -o {tmp}/y.txt: unknown file type ('.txt')"], command="cr-predict"),
    Case("predict-std-single-run", ["{run}", "{arrays}/x5.npy", "-o", "{tmp}/y.npy", "--std", "{tmp}/s.npy"],
         ["cr-predict: error: --std needs an ensemble"], command="cr-predict"),
    Case("predict-corrupt-result", ["{run}_bad_json", "{arrays}/x5.npy", "-o", "{tmp}/y.npy"],
         ["cr-predict: error: {run}_bad_json/result.json: cannot be read as JSON"], command="cr-predict"),
    Case("predict-checkpoint-missing", ["{run}_no_ckpt", "{arrays}/x5.npy", "-o", "{tmp}/y.npy"],
         ["cr-predict: error: {run}_no_ckpt: the best checkpoint {run}_no_ckpt/checkpoints/best.ckpt is missing"],
         command="cr-predict"),
    Case("predict-checkpoint-corrupt", ["{run}_bad_ckpt", "{arrays}/x5.npy", "-o", "{tmp}/y.npy"],
         ["cr-predict: error: {run}_bad_ckpt/checkpoints/best.ckpt: cannot be read as a checkpoint"],
         command="cr-predict"),
    Case("export-checkpoint-corrupt", ["{run}_bad_ckpt", "-o", "{tmp}/m.pt2"],
         ["cr-export: error: {run}_bad_ckpt/checkpoints/best.ckpt: cannot be read as a checkpoint"],
         command="cr-export"),
    Case("report-missing-path", ["{tmp}/nowhere"], ["cr-report: error: {tmp}/nowhere: no such file or directory"],
         command="cr-report"),
    Case("report-not-a-run", ["{bad}"], ["cr-report: error: {bad}: holds no run, search or ensemble"],
         command="cr-report"),
    Case("report-output-under-file", ["{run}", "-o", "{file}/report"], ["cr-report: error: -o {file}/report: ",
                                                                         "{file} is a file"], command="cr-report"),
    Case("export-missing-path", ["{tmp}/nowhere", "-o", "{tmp}/m.pt2"],
         ["cr-export: error: {tmp}/nowhere: no such file or directory"], command="cr-export"),
    Case("export-format", ["{run}", "-o", "{tmp}/m.txt"], ["cr-export: error: {tmp}/m.txt: unknown export format ('.txt')"],
         command="cr-export"),
    Case("export-output-under-file", ["{run}", "-o", "{file}/m.pt2"], ["cr-export: error: -o {file}/m.pt2: ",
                                                                       "{file} is a file"], command="cr-export"),
    Case("export-members-single-run", ["{run}", "-o", "{tmp}/m.pt2", "--members"],
         ["cr-export: error: --members needs an ensemble"], command="cr-export"),
]

BOTH = "both spell one setting (data.dataloader_kwargs is the original Crescendo 0.0.4's spelling) — give only one of "
COMPAT_CASES = [  # the original Crescendo 0.0.4's data.dataloader_kwargs.* next to our own spelling
    Case("compat-batch-size-both", ["data=diabetes", "data.batch_size=16", "data.dataloader_kwargs.batch_size=32"],
         ["cr: error: data.dataloader_kwargs.batch_size=32: must equal data.batch_size=16: " + BOTH
          + "data.batch_size and data.dataloader_kwargs.batch_size"]),
    Case("compat-drop-last-both", ["data=diabetes", "data.drop_last=false", "data.dataloader_kwargs.drop_last=true"],
         ["cr: error: data.dataloader_kwargs.drop_last=true: must equal data.drop_last=false: " + BOTH
          + "data.drop_last and data.dataloader_kwargs.drop_last"]),
    Case("compat-pin-memory-both", ["data=diabetes", "data.pin_memory=true", "+data.dataloader_kwargs.pin_memory=false"],
         ["cr: error: data.dataloader_kwargs.pin_memory=false: must equal data.pin_memory=true: " + BOTH]),
    Case("compat-num-workers-both", ["data=diabetes", "data.num_workers=0", "data.dataloader_kwargs.num_workers=2"],
         ["cr: error: data.dataloader_kwargs.num_workers=2: must equal data.num_workers=0: " + BOTH]),
    Case("compat-both-before-data-is-read", ["data=regression", "+data.data_dir={tmp}/nowhere", "data.batch_size=8",
                                             "data.dataloader_kwargs.batch_size=16"],
         ["cr: error: data.dataloader_kwargs.batch_size=16: must equal data.batch_size=8: " + BOTH]),
    Case("compat-two-conflicts-one-line", ["data=diabetes", "data.batch_size=16", "data.dataloader_kwargs.batch_size=32",
                                           "data.drop_last=true", "data.dataloader_kwargs.drop_last=false"],
         ["cr: error: data.dataloader_kwargs.batch_size=32: must equal data.batch_size=16",
          "; data.dataloader_kwargs.drop_last=false: must equal data.drop_last=true"]),
    Case("compat-unknown-loader-key", ["data=diabetes", "data.dataloader_kwargs.shuffle=true"],
         [("cr: error: data.dataloader_kwargs.shuffle=true: is not a data loader setting — use "
           "data.dataloader_kwargs.{batch_size, num_workers, pin_memory, drop_last}")]),
    Case("compat-batch-size-zero", ["data=diabetes", "data.dataloader_kwargs.batch_size=0"],
         [("cr: error: data.dataloader_kwargs.batch_size=0: must be an int ≥ 1 — set e.g. "
           "data.dataloader_kwargs.batch_size=64")]),
    Case("compat-search-both", [*SEARCH, "data.batch_size=64", "data.dataloader_kwargs.batch_size=choice(32, 64)"],
         ["cr: error: ++data.dataloader_kwargs.batch_size=choice(32, 64): the value 32 must equal data.batch_size=64: "
          + BOTH], search=True),
    Case("compat-search-ours-both", [*SEARCH, "data.dataloader_kwargs.batch_size=32", "data.batch_size=choice(32, 64)"],
         ["cr: error: data.batch_size=choice(32, 64): with data.batch_size=64, data.dataloader_kwargs.batch_size=32: "
          "must equal data.batch_size=64: " + BOTH], search=True),
]

# --- one list per helper branch of this stop (kept apart so that each merges on its own)
LOGGER_CASES: list[Case] = [  # logger groups and their optional extras
    Case("logger-aim-not-installed", ["data=diabetes", "logger=aim"],
         ["cr: error: logger=aim: needs the aim package — pip install 'crescendo[aim]'"]),
    Case("logger-comet-not-installed", ["data=diabetes", "logger=comet"],
         ["cr: error: logger=comet: needs the comet_ml package — pip install 'crescendo[comet]'"]),
    Case("logger-neptune-shut-down", ["data=diabetes", "logger=neptune"],
         [("cr: error: logger=neptune: Neptune's service has shut down (2026) and Lightning's NeptuneLogger is now a "
           "stub that refuses to start — log with logger=wandb, logger=mlflow or logger=tensorboard instead")]),
    Case("logger-missing-before-data-is-read", ["data=regression", "+data.data_dir={tmp}/nowhere", "logger=comet"],
         ["cr: error: logger=comet: needs the comet_ml package — pip install 'crescendo[comet]'\n"]),
    Case("logger-missing-in-a-search", [*SEARCH, "logger=aim"],
         ["cr: error: logger=aim: needs the aim package — pip install 'crescendo[aim]'"], search=True),
    Case("logger-target-not-installed", ["data=diabetes", "+logger.mine._target_=no_such_package.Logger"],
         [("cr: error: logger.mine._target_=no_such_package.Logger: names a class in no_such_package, which is not "
           "installed — install the package that provides no_such_package, or fix the _target_")]),
    Case("logger-wandb-log-model-offline", ["data=diabetes", "logger=wandb", "logger.wandb.log_model=true"],
         [("cr: error: logger.wandb.log_model=true: cannot upload checkpoints offline (logger.wandb.offline=true) — "
           "set logger.wandb.log_model=false, or logger.wandb.offline=false")]),
]

# (separator: keeps the lists' edits in separate hunks)
RUN_KEY_CASES: list[Case] = [  # top-level keys: ckpt_path, compile, tags, extras, debug, trainer presets
    Case("ckpt-path-missing", ["data=diabetes", "ckpt_path={tmp}/nowhere/last.ckpt"],
         [("cr: error: ckpt_path={tmp}/nowhere/last.ckpt: {tmp}/nowhere/last.ckpt does not exist — give an existing "
          ".ckpt file")]),
    Case("ckpt-path-plus-missing", ["data=diabetes", "+ckpt_path={tmp}/gone.ckpt"],
         ["cr: error: ckpt_path={tmp}/gone.ckpt: {tmp}/gone.ckpt does not exist"]),
    Case("ckpt-path-directory", ["data=diabetes", "ckpt_path={tmp}"],
         [("cr: error: ckpt_path={tmp}: is a directory, not a checkpoint file — name the file, e.g. "
          "ckpt_path={tmp}/checkpoints/last.ckpt")]),
    Case("ckpt-path-last-without-last-ckpt", ["data=diabetes", "ckpt_path=last"],
         ["cr: error: ckpt_path=last: ", ("/checkpoints/last.ckpt does not exist — point hydra.run.dir at the run "
          "to continue")]),
    Case("ckpt-path-last-in-empty-run-dir", ["data=diabetes", "ckpt_path=last", "hydra.run.dir={tmp}/old_run"],
         ["cr: error: ckpt_path=last: {tmp}/old_run/checkpoints/last.ckpt does not exist — point hydra.run.dir"]),
    Case("ckpt-path-not-a-checkpoint", ["data=diabetes", "ckpt_path={bad}/garbage/X_train.npy"],
         ["cr: error: ckpt_path={bad}/garbage/X_train.npy: {bad}/garbage/X_train.npy is not a checkpoint (",
          ") — give a .ckpt file that cr wrote"]),
    Case("ckpt-path-other-architecture", ["data=regression", "+data.data_dir={data}", "model.architecture=[7]",
                                          "data.batch_size=16", "ckpt_path={run}/checkpoints/last.ckpt"],
         [("cr: error: ckpt_path={run}/checkpoints/last.ckpt: the checkpoint's model does not match this run's "
          "model.* settings (weights: "), "— resume with the run's own model settings"]),
    Case("ckpt-path-missing-in-search", [*SEARCH, "ckpt_path={tmp}/none.ckpt"],
         ["cr: error: ckpt_path={tmp}/none.ckpt: {tmp}/none.ckpt does not exist"], search=True),
    Case("ckpt-path-last-in-search", [*SEARCH, "ckpt_path=last"],
         [("cr: error: ckpt_path=last: cannot be used in a search: every trial gets a new run directory, without a "
          "last.ckpt — give a checkpoint file")], search=True),
    Case("compile-not-a-bool", ["data=diabetes", "compile=maybe"],
         ["cr: error: compile=maybe: must be true or false, not a string — use compile=true or compile=false"]),
    Case("tags-not-a-list", ["data=diabetes", "tags=5"],
         ["cr: error: tags=5: must be a list of names — use e.g. 'tags=[dev, baseline]' or tags=[]"]),
    Case("extras-unknown-key", ["data=diabetes", "extras.print_cfg=true"],
         ["cr: error: extras.print_cfg: not a key of the config — did you mean extras.print_config?"]),
    Case("extras-not-a-bool", ["data=diabetes", "extras.print_config=loud"],
         ["cr: error: extras.print_config=loud: must be true or false or null, not a string"]),
    Case("debug-unknown-preset", ["data=diabetes", "debug=profile"],
         [("cr: error: debug=profile: no such option — choose one of default, fast_dev_run, fdr, limit, overfit, "
          "profiler")]),
    Case("trainer-mps-without-mps", ["data=diabetes", "trainer=mps"],
         ["cr: error: trainer.accelerator=mps: this machine has no Apple silicon GPU (MPS) — use trainer=cpu"]),
    # a search's trials run here: one error before the study opens, not a failed trial each
    Case("search-on-a-missing-gpu", [*SEARCH, "trainer.accelerator=gpu"],
         ["cr: error: trainer.accelerator=gpu: this machine has no GPU (CUDA or Apple MPS) — use trainer=cpu"],
         search=True),
    Case("search-over-a-missing-gpu", [*SEARCH, "trainer.accelerator=choice(cpu, cuda)"],
         ["cr: error: trainer.accelerator=cuda: this machine has no CUDA GPU — use trainer=cpu"], search=True),
]

# (separator)
ORIGINAL_RESULTS = Path(__file__).resolve().parents[1] / "analysis" / "crescendo_0_0_4"  # written by 0.0.4
ORIGINAL_RUN = "{tmp}/results/orig/run/2024-06-01_12-00-00"
ORIGINAL_SEARCH = "{tmp}/results/orig/search/2024-06-01_12-05-00"


def copy_original(cwd: Path, damage: Callable[[Path], None] | None = None) -> None:
    shutil.copytree(ORIGINAL_RESULTS, cwd / "results" / "orig")  # where 0.0.4 wrote: results/
    if damage is not None:
        damage(cwd / "results" / "orig")


ANALYSIS_CASES: list[Case] = [  # the original's analysis faces and result dirs
    Case("predict-0.0.4-run-data-moved", [ORIGINAL_RUN, "{arrays}/x5.npy"],
         [f"cr-predict: error: {ORIGINAL_RUN}/final_config.yaml: data.data_dir=", "(as recorded) is not a directory",
          "a Crescendo 0.0.4 run keeps no input scaler", "load(PATH, data_dir=DIR)"],
         command="cr-predict", setup=copy_original),
    Case("predict-0.0.4-run-no-checkpoint", [ORIGINAL_RUN, "{arrays}/x5.npy"],
         [f"cr-predict: error: {ORIGINAL_RUN}: the Crescendo 0.0.4 run has no checkpoint to predict with",
          "expected checkpoints/epoch=NNNNNN.ckpt"], command="cr-predict",
         setup=lambda cwd: copy_original(cwd, lambda o: [p.unlink() for p in o.glob("run/*/checkpoints/*.ckpt")])),
    Case("predict-0.0.4-run-config-garbage", [ORIGINAL_RUN, "{arrays}/x5.npy"],
         [f"cr-predict: error: {ORIGINAL_RUN}/final_config.yaml: "], command="cr-predict",
         setup=lambda cwd: copy_original(cwd, lambda o: next(o.glob("run/*/final_config.yaml")).write_text("[a: b"))),
    Case("predict-0.0.4-search-ensemble-too-big", [ORIGINAL_SEARCH, "{arrays}/x5.npy", "--ensemble", "5"],
         [(f"cr-predict: error: {ORIGINAL_SEARCH}: asked for the 5 best runs but the search has only 2 complete "
           "trials"), "use k ≤ 2"], command="cr-predict", setup=copy_original),
]

# (separator)
CONSOLE_CASES: list[Case] = []  # --version, signature keywords, summaries

# (separator)
TARGET_CASES: list[Case] = [  # data.normalize_targets and friends
    Case("normalize-targets-not-a-flag", ["data=diabetes", "data.normalize_targets=maybe"],
         [("cr: error: data.normalize_targets=maybe: must be true or false, not a string — use "
           "data.normalize_targets=true or false")]),
    Case("search-normalize-targets", [*SEARCH, "data.normalize_targets=choice(true, false)"],
         [("cr: error: data.normalize_targets=choice(true, false): cannot be searched — it changes the units of every "
           "loss, so trials' val/loss values could not be compared; give it one value")], search=True),
    # any Trainer / optimizer keyword works without '+'; a name outside their signatures is still an error
    Case("trainer-keyword-typo", ["data=diabetes", "trainer.precison=bf16-mixed"],
         ["cr: error: trainer.precison: not a key of the config — did you mean trainer.precision?"]),
    Case("optimizer-keyword-typo", ["data=diabetes", "model.optimizer.weight_decy=0.1"],
         [("cr: error: model.optimizer.weight_decy: not a key of the config — did you mean "
           "model.optimizer.weight_decay?")]),
    Case("optimizer-keyword-of-another-optimizer", ["data=diabetes", "model.optimizer.momentum=0.9"],
         [("cr: error: model.optimizer.momentum=0.9: is not a keyword of torch.optim.Adam — its keywords are "
           "lr, betas, eps, weight_decay, amsgrad, foreach, maximize, capturable, differentiable, fused, "
           "decoupled_weight_decay, or choose an optimizer that takes it, e.g. "
           "model.optimizer._target_=torch.optim.SGD")]),
    Case("optimizer-keyword-not-of-the-chosen-one", ["data=diabetes", "model.optimizer._target_=torch.optim.SGD",
                                                     "model.optimizer.betas=[0.9,0.99]"],
         [("cr: error: model.optimizer.betas: is not a keyword of torch.optim.SGD — its keywords are dampening, "
           "differentiable, foreach, fused, lr, maximize, momentum, nesterov, weight_decay")]),
    Case("search-optimizer-keyword-of-another-optimizer", [*SEARCH, "model.optimizer.momentum=interval(0.5, 0.9)"],
         ["cr: error: ++model.optimizer.momentum=interval(0.5, 0.9): is not a keyword of torch.optim.Adam",
          "e.g. model.optimizer._target_=torch.optim.SGD"], search=True),
]

# (separator)
def named_study(*names: str) -> Callable[[Path], None]:
    """A study `space` in the case's existing.db that searched LR, one direction per metric name, and
    named its metrics `names` with Optuna's set_metric_names (as a search by this version does)."""

    def setup(cwd: Path) -> None:
        import optuna

        from hydra_plugins.crescendo_sweeper._resume import record_space
        from hydra_plugins.crescendo_sweeper._space import parse_search_space

        space = parse_search_space([LR]).distributions
        study = optuna.create_study(storage=f"sqlite:///{cwd / 'existing.db'}", study_name="space",
                                    directions=["minimize"] * len(names))
        record_space(study, space)
        study.set_metric_names(list(names))
        values = [1.0] * len(names)
        study.add_trial(optuna.trial.create_trial(params={"model.optimizer.lr": 0.001}, distributions=space,
                                                  values=values))

    return setup


HOLDS = "the study 'space' in sqlite:///{tmp}/existing.db holds values of "
STUDY_CASES: list[Case] = [  # study metadata: a resume must not put another metric's values into the study
    Case("study-other-monitor", [*RESUME, LR, "monitor=train/loss"],
         ["cr: error: monitor=train/loss: " + HOLDS + "val/loss — use monitor=val/loss to resume it, or another "
          "hydra.sweeper.study_name"], search=True, setup=named_study("val/loss")),
    Case("study-other-objectives", [*RESUME, LR, "hydra.sweeper.direction=[minimize,minimize]",
                                    "hydra.sweeper.objectives=[val/loss,train/loss]"],
         ["cr: error: hydra.sweeper.objectives=val/loss,train/loss: " + HOLDS + "val/loss,fit_seconds — use "
          "hydra.sweeper.objectives=[val/loss,fit_seconds] to resume it"], search=True,
         setup=named_study("val/loss", "fit_seconds")),
]

CASES = [case for name, cases in list(globals().items()) if name.endswith("_CASES") for case in cases]


def write_bad_data(root: Path) -> None:
    good = write_arrays(root / "good")
    for name in ("no_val", "nan", "rows", "garbage", "flat"):
        write_arrays(root / name)
    (root / "no_val" / "X_val.npy").unlink()
    (root / "no_val" / "Y_val.npy").unlink()
    x = np.load(good / "X_train.npy")
    x[3, 1] = np.nan
    np.save(root / "nan" / "X_train.npy", x)
    np.save(root / "rows" / "Y_train.npy", np.load(good / "Y_train.npy")[:-5])
    (root / "garbage" / "X_train.npy").write_text("not an array")
    np.save(root / "flat" / "X_train.npy", np.load(good / "X_train.npy")[:, 0])


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def write_bad_arrays(arrays: Path) -> None:
    """Inputs for cr-predict against a run trained on 5 features."""
    arrays.mkdir(parents=True)
    np.save(arrays / "x5.npy", np.zeros((4, 5), np.float32))
    np.save(arrays / "x3.npy", np.zeros((4, 3), np.float32))
    nan = np.zeros((4, 5), np.float32)
    nan[1, 2] = np.nan
    np.save(arrays / "xnan.npy", nan)
    np.save(arrays / "x1d.npy", np.zeros(5, np.float32))
    (arrays / "x.txt").write_text("1,2,3,4,5\n")
    (arrays / "garbage.npy").write_text("not an array")


@pytest.fixture(scope="module")
def values(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad")
    return {"root": str(root), "bad": str(root / "bad"), "data": str(root / "bad" / "good"),
            "file": str(root / "a_file"), "ro": read_only_dir(root / "read_only"), "arrays": str(root / "arrays"),
            "run": str(root / "trained" / "run")}


def read_only_dir(path: Path) -> str:
    """A directory this user cannot write: `path` made with mode 0o500, or — for root, whom the mode
    does not stop — /proc/sys where it is mounted read-only."""
    path.mkdir(mode=0o500)
    for candidate in (path, Path("/proc/sys")):
        if candidate.is_dir() and unwritable(str(candidate)):
            return str(candidate)
    return str(path)


def unwritable(path: str) -> bool:
    return not os.access(path, os.W_OK)


@pytest.fixture(scope="module")
def outcomes(request, values):
    """Run every selected case once (three at a time), each in its own directory: a `-k` subset runs
    only its own commands, and starts the database server or trains the tools' run only if it needs them."""
    import optuna

    # this module's rows only: another test file may parametrize a "case" of its own
    selected = {item.callspec.params["case"].id for item in request.session.items
                if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)}
    cases = [case for case in CASES if case.id in selected]
    root = Path(values["root"])
    write_bad_data(root / "bad")
    write_bad_arrays(Path(values["arrays"]))
    Path(values["file"]).write_text("a regular file where a directory is expected")
    if any("{run}" in arg for case in cases for arg in case.args):
        # one trained run for the analysis tools (5 features, like the arrays above)
        trained = subprocess.run([CR, "data=regression", f"+data.data_dir={values['data']}", "trainer.max_epochs=1",
                                  "quiet=true", f"hydra.run.dir={values['run']}"], cwd=root, capture_output=True,
                                 text=True, timeout=300)
        assert trained.returncode == 0, trained.stderr
        for broken in ("bad_json", "no_ckpt", "bad_ckpt"):  # damaged copies of it
            shutil.copytree(values["run"], f"{values['run']}_{broken}")
        Path(f"{values['run']}_bad_json", "result.json").write_text("{not json")
        for checkpoint in Path(f"{values['run']}_no_ckpt", "checkpoints").glob("*.ckpt"):
            checkpoint.unlink()
        Path(f"{values['run']}_bad_ckpt", "checkpoints", "best.ckpt").write_bytes(b"not a checkpoint")
    if any("{postgres" in arg for case in cases for arg in case.args):
        postgres_url = request.getfixturevalue("postgres_url")
        values = {**values, "postgres_nodb": postgres_url.rsplit("/", 1)[0] + "/nodb"}
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def run(case: Case) -> tuple[Path, subprocess.CompletedProcess]:
        cwd = root / case.id
        cwd.mkdir()
        optuna.create_study(storage=f"sqlite:///{cwd / 'existing.db'}", study_name="maximized", direction="maximize")
        if case.setup is not None:
            case.setup(cwd)
        args = [fill(a, {**values, "tmp": str(cwd)}) for a in case.args]
        if case.search and not any(a.startswith(("hydra.sweep.dir=", "paths.root_dir=")) for a in args):
            args.append(f"hydra.sweep.dir={cwd / 'sweep'}")
        if case.extra.get("unwritable") and not unwritable(values["ro"]):
            return cwd, None  # the test says why it skips
        proc = subprocess.run([str(Path(CR).with_name(case.command)), *args], cwd=cwd, capture_output=True,
                              text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return cwd, proc

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip((c.id for c in cases), pool.map(run, cases)))


def test_the_table_covers_at_least_120_inputs_of_every_kind():
    assert len(CASES) >= 120 and len({c.id for c in CASES}) == len(CASES)
    assert all(len(kind) >= 5 for kind in (DATA_CASES, OVERRIDE_CASES, SEARCH_CASES, SWEEPER_CASES, STORAGE_CASES,
                                           SEARCHED_VALUE_CASES, OUTPUT_CASES, RESUME_CASES, HYDRA_CASES, TOOL_CASES))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, outcomes, values):
    cwd, proc = outcomes[case.id]
    if proc is None:
        pytest.skip("running as root without a read-only mount: a directory of mode 0o500 does not stop root")
    err = proc.stderr
    assert proc.returncode == case.code, f"exit {proc.returncode}\n{proc.stdout}\n{err}"
    assert "Traceback" not in err + proc.stdout, err
    position = 0
    for part in case.message:
        part = fill(part, {**values, "tmp": str(cwd)})
        found = err.find(part, position)
        assert found >= 0, f"{part!r} not in:\n{err}"
        position = found + len(part)
    if case.code == 2:
        prefix = f"{case.command}: error:"
        assert err.count(prefix) == 1 and err.startswith(prefix), err
        assert err.count("\n") <= 1 + err.count("cr: warning:"), err
    # nothing a rerun would trip on: no run dir, no trial dirs, no study created anywhere
    assert not (cwd / "results").exists() or not any((cwd / "results").rglob("result.json"))
    runs = cwd / "results" / "train" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.iterdir())
    sweep = cwd / "sweep"
    if sweep.exists():
        assert not any(p.name.isdigit() for p in sweep.iterdir()), list(sweep.iterdir())
        assert not (sweep / "study.db").exists() or case.id.startswith("study-")
    assert sorted(p.name for p in cwd.iterdir() if p.name not in ("sweep", "results")) == ["existing.db"]
