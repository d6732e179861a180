"""The `cr` command: a thin @hydra.main that hands the composed config to `crescendo.train.train`,
and turns a user's mistake into one `cr: error:` line and an exit status."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from crescendo.errors import ConfigError, CrescendoError, NonFiniteLossError, exit_with
from crescendo.extras import ask_for_tags
from crescendo.overrides import check_override_syntax, normalize_overrides


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def run(cfg: DictConfig):  # -> crescendo.result.TrainResult
    """Train once; inside a search, let errors reach the sweeper, which records them per trial."""
    from crescendo.train import train  # imported late: `cr --help` must not pay for torch

    in_search = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if not in_search:  # extras.enforce_tags: a person at a terminal is asked; otherwise the check refuses
        ask_for_tags(cfg)
    try:
        result = train(cfg)
    except CrescendoError as error:
        if in_search:
            raise
        # a user error is found before anything is trained: leave no half-made run behind
        _remove_bookkeeping_only_dir(Path(cfg.paths.output_dir))
        exit_with(error)
    except NonFiniteLossError as error:
        if in_search:
            raise
        exit_with(f"{error} — {Path(cfg.paths.output_dir).resolve() / 'result.json'} records the failed run", code=1)
    # where the run is and what it reached; not for a quiet search's trials: the sweeper prints a line each
    if not (in_search and cfg.get("quiet", False)):
        from crescendo.run_summary import print_summary

        print_summary(result)
    return result


def _remove_bookkeeping_only_dir(run_dir: Path) -> None:
    """Remove a run dir that holds nothing but Hydra's own files (.hydra/, *.log).

    Anything else in it — a user's files when hydra.run.dir points somewhere shared — keeps the
    directory alive: only what Hydra wrote for this run is removed.
    """
    if not run_dir.is_dir():
        return
    entries = list(run_dir.iterdir())
    if any(entry.name != ".hydra" and entry.suffix != ".log" for entry in entries):
        return
    for entry in entries:
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    run_dir.rmdir()


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001 - warnings' signature
    return f"cr: warning: {message}\n"


def main() -> None:
    """Console-script entry point."""
    warnings.formatwarning = _format_warning  # a user reads "cr: warning: …", not our source lines
    if "--version" in sys.argv[1:]:  # Hydra's own flag names only Hydra's version
        from crescendo.versions import version_text

        print(version_text())
        return
    try:  # Hydra's own parse error names neither the key nor the fix
        check_override_syntax(sys.argv[1:])
    except ConfigError as error:
        exit_with(error)
    sys.argv[1:] = normalize_overrides(sys.argv[1:])
    # Hydra's exceptions reach this function instead of Hydra's multi-line report: a user's mistake
    # among them becomes one line (crescendo.hydra_errors), anything else keeps its traceback
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        run()
    except Exception as error:
        from crescendo.hydra_errors import explain

        user_error = explain(error, sys.argv[1:])
        if user_error is None:
            raise
        exit_with(user_error)
    finally:
        # the process ends now: a heap with torch and Lightning loaded takes ~1 s to collect at exit
        gc.freeze()


if __name__ == "__main__":
    main()
