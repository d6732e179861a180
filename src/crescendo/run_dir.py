"""What a run leaves on disk besides Lightning's checkpoints and metrics.csv.

Files are written atomically (temporary file + rename) so a reader — the sweeper, the analysis
loaders, a person tailing the directory — never sees half a file.
"""

from __future__ import annotations

import json
import os
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


def save_resolved_config(cfg: DictConfig, run_dir: Path) -> None:
    """Save the config exactly as used, every interpolation resolved."""
    write_atomically(run_dir / CONFIG_FILE, OmegaConf.to_yaml(cfg, resolve=True))


def save_result(result: dict[str, Any], run_dir: Path) -> None:
    """Save result.json (see the README for its keys)."""
    write_atomically(run_dir / RESULT_FILE, json.dumps(result, indent=2, allow_nan=True) + "\n")
