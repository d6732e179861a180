"""Output directories checked before anything is written: `paths.root_dir`, `hydra.run.dir` and
`hydra.sweep.dir` must be directories `cr` can create and write.

Hydra creates the run or sweep directory itself, and a path under a file or in a read-only
directory fails there with a stack of tracebacks. `CheckOutputDirs` (a Hydra callback listed in
conf/hydra/default.yaml) checks a single run's before Hydra makes it; the sweeper calls
`check_output_dirs` before it opens its study. Both give a `ConfigError` naming the key, the path and
the fix. The check creates nothing: it looks at the deepest part of the path that already exists.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from crescendo.errors import ConfigError


def check_writable_dir(key: str, path: str | Path, fix: str | None = None) -> None:
    """Raise ConfigError unless `path` is, or can be made as, a directory this process can write.

    `key` names the setting (or command-line option) in the message; `fix` replaces the suggested
    `key=<directory>` where that form does not fit (an option of cr-predict, say)."""
    path = Path(path).absolute()
    existing = path
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if existing.is_dir():
        if os.access(existing, os.W_OK | os.X_OK):
            return
        made = "is" if existing == path else f"would be made in {existing}, which is"
        raise ConfigError(f"{key}: {path} {made} not writable — "
                          + (fix or f"choose a directory you can write, e.g. {key}=$HOME/results, "
                                    f"or make it writable (chmod u+w {existing})"))
    what = "is a file" if existing == path else f"cannot be made: {existing} is a file"
    raise ConfigError(f"{key}: {path} {what} — " + (fix or f"choose a directory, e.g. {key}={existing.parent / 'results'}"))


def check_output_dirs(config: DictConfig, job_dir_key: str) -> None:
    """Check paths.root_dir (when the job directory lies under it) and the job directory's key."""
    job_dir = Path(str(_select(config, job_dir_key))).absolute()
    root = _select(config, "paths.root_dir")
    if root is not None:
        root_dir = Path(str(root)).absolute()
        if job_dir == root_dir or root_dir in job_dir.parents:
            check_writable_dir("paths.root_dir", root_dir)
    check_writable_dir(job_dir_key, job_dir)


class CheckOutputDirs(Callback):
    """Hydra callback: the output directories are checked before Hydra creates them.

    Hydra turns a callback's exception into a warning and goes on to fail at its own mkdir, so the
    problem is kept here (`found`) for `cr`'s entry point, which reports it instead of that OSError.
    crescendo's sweeper also checks its sweep dir itself, and stops before its study is opened.
    """

    found: ConfigError | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra's own sweeper (`cr -m a=1,2`) makes the sweep dir itself; crescendo's checks it first
        self._check(config, "hydra.sweep.dir")

    @staticmethod
    def _check(config: DictConfig, job_dir_key: str) -> None:
        try:
            check_output_dirs(config, job_dir_key)
        except ConfigError as error:
            CheckOutputDirs.found = error


def _select(config: DictConfig, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(config, key, default=None)
