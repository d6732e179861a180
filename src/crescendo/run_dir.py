"""What a run leaves on disk besides Lightning's checkpoints and metrics.csv.

Files are written atomically (temporary file + rename) so a reader — the sweeper, the analysis
loaders, a person tailing the directory — never sees half a file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

RESULT_FILE = "result.json"
CONFIG_FILE = "config.yaml"


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that the file is either absent, old, or complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def is_rank_zero() -> bool:
    """False in the other processes of a distributed (DDP) run: only global rank 0 writes the run
    directory. Lightning sets the rank when the Trainer is built; without Lightning loaded it is 0."""
    rank_zero = sys.modules.get("lightning.fabric.utilities.rank_zero")
    return rank_zero is None or getattr(rank_zero.rank_zero_only, "rank", 0) == 0


def save_resolved_config(cfg: DictConfig, run_dir: Path) -> None:
    """Save the config exactly as used, every interpolation resolved (rank 0 only)."""
    if not is_rank_zero():
        return
    write_atomically(run_dir / CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True))


def save_result(result: dict[str, Any], run_dir: Path) -> None:
    """Save result.json (see the README for its keys; rank 0 only)."""
    if not is_rank_zero():
        return
    write_atomically(run_dir / RESULT_FILE, json.dumps(result, indent=2, allow_nan=True) + "\n")
