"""Finding run directories under a root and opening each as ours or 0.0.4's (the faces' `from_root`)."""

from __future__ import annotations

from pathlib import Path

from crescendo.analysis._files import RESULT_FILE, natural_key
from crescendo.analysis.original_run import FINAL_CONFIG, OriginalRun, is_original_run
from crescendo.analysis.run import Run
from crescendo.errors import CrescendoError

__all__ = ["open_run", "run_dirs"]


def run_dirs(root: str | Path) -> list[Path]:
    """Every run directory at or under `root` — ours (result.json) or 0.0.4's (final_config.yaml) —
    in path order with job numbers compared as numbers (2 before 10)."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise CrescendoError(f"{base}: no such directory — expected a results directory holding runs "
                             f"(each with {RESULT_FILE}, or Crescendo 0.0.4's {FINAL_CONFIG})")
    found = {p.parent.resolve() for name in (RESULT_FILE, FINAL_CONFIG) for p in base.rglob(name)
             if p.parent.name != ".hydra"}
    return sorted(found, key=lambda p: [natural_key(Path(part)) for part in p.parts])


def open_run(path: str | Path, data_dir: str | Path | None = None, use_checkpoint: str = "best_epoch") -> Run:
    """A `Run` for our run directories, an `OriginalRun` for 0.0.4's (with `data_dir`, `use_checkpoint`)."""
    directory = Path(path).expanduser().resolve()
    if is_original_run(directory):
        return OriginalRun(directory, data_dir=data_dir, use_checkpoint=use_checkpoint)
    return Run(directory)
