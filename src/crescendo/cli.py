"""The `cr` command: a thin @hydra.main that hands the composed config to `crescendo.task.run`."""

from __future__ import annotations

import gc
import sys
import warnings

import hydra
from omegaconf import DictConfig

from crescendo.overrides import check_override_syntax, normalize_overrides


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def _hydra_entry(cfg: DictConfig) -> object:
    from crescendo.task import run  # imported late: `cr --help` must not pay for torch

    return run(cfg)


def _format_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001 - warnings' signature
    return f"cr: warning: {message}\n"


def main() -> None:
    """Console-script entry point."""
    from crescendo.errors import ConfigError, exit_with

    warnings.formatwarning = _format_warning  # a user reads "cr: warning: …", not our source lines
    sys.argv[1:] = normalize_overrides(sys.argv[1:])
    try:  # Hydra's own parse error names neither the key nor the fix
        check_override_syntax(sys.argv[1:])
    except ConfigError as error:
        exit_with(error)
    try:
        _hydra_entry()
    finally:
        # the process ends now: a heap with torch and Lightning loaded takes ~1 s to collect at exit
        gc.freeze()


if __name__ == "__main__":
    main()
