"""File names and small readers shared by the analysis loaders (standard library + OmegaConf only)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import pandas as pd

# what a run writes (crescendo.run_dir, crescendo.train)
RESULT_FILE = "result.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
BEST_CHECKPOINT = "checkpoints/best.ckpt"
# what a search writes (crescendo.search.results, the sweeper)
RESULTS_FILE = "optimization_results.yaml"
TRIALS_FILE = "trials.csv"
STUDY_FILE = "study.db"
# what Hydra writes in a multirun directory
MULTIRUN_FILE = "multirun.yaml"
SWEEP_CONFIGS = (MULTIRUN_FILE, ".hydra/config.yaml", ".hydra/hydra.yaml")

EXPECTED = (
    f"a run directory (with {RESULT_FILE}), a search directory (with {RESULTS_FILE} or {STUDY_FILE}) "
    f"or an ensemble (a batched-ensemble run, or a multirun directory with {MULTIRUN_FILE} and member runs), "
    "or a run or multirun the original Crescendo 0.0.4 wrote (final_config.yaml)"
)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CrescendoError(f"{path}: cannot be read as JSON ({error})") from None


def read_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CrescendoError(f"{path}: cannot be read as YAML ({str(error).splitlines()[0]})") from None


def read_config(path: Path) -> DictConfig:
    try:
        config = OmegaConf.load(path)
    except Exception as error:  # OmegaConf raises yaml and its own errors
        raise CrescendoError(f"{path}: cannot be read as a config ({str(error).splitlines()[0]})") from None
    if not isinstance(config, DictConfig):
        raise CrescendoError(f"{path}: is not a mapping of config keys")
    return config


def select(config: DictConfig | None, key: str) -> Any:
    """`config[key]` resolved, or None when absent or when an interpolation cannot be resolved here
    (Hydra's own resolvers such as ${now:} and ${hydra:} are not registered outside a Hydra app)."""
    if config is None:
        return None
    try:
        value = OmegaConf.select(config, key, default=None, throw_on_resolution_failure=False)
    except Exception:  # noqa: BLE001 - an unknown resolver: the value is unknowable here
        return None
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=False)
    return value


def sweep_config(directory: Path) -> DictConfig | None:
    """The multirun's own config (Hydra's multirun.yaml, or a .hydra/ record), None if there is none."""
    for name in SWEEP_CONFIGS:
        path = directory / name
        if path.is_file():
            try:
                config = OmegaConf.load(path)
            except Exception:  # noqa: BLE001 - unreadable: try the next record
                continue
            if isinstance(config, DictConfig) and select(config, "hydra.sweeper") is not None:
                return config
    return None


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """metrics.csv → one row per training epoch; rows holding only test metrics are left out."""
    import pandas as pd

    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise CrescendoError(f"{run_dir}: has no {METRICS_FILE} (every logger crescendo ships keeps one)")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise CrescendoError(f"{path}: cannot be read as CSV ({error})") from None
    values = [c for c in frame.columns if c not in ("epoch", "step") and not c.startswith("test/")]
    if values:
        frame = frame.dropna(subset=values, how="all")
    if "epoch" in frame.columns and frame["epoch"].duplicated().any():
        frame = frame.groupby("epoch", as_index=False, sort=True).first()
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("test/") and frame[c].isna().all()])
    if "epoch" in frame.columns:
        frame["epoch"] = frame["epoch"].astype(int)
    return frame.reset_index(drop=True)


def natural_key(path: Path) -> list[Any]:
    """'2' before '10': Hydra numbers the jobs of a multirun 0, 1, 2, ..."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def member_dirs(directory: Path) -> list[Path]:
    """Immediate sub-directories holding a finished run (result.json), in job order."""
    if not directory.is_dir():
        return []
    found = [child for child in directory.iterdir() if child.is_dir() and (child / RESULT_FILE).is_file()]
    return sorted(found, key=natural_key)


def hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def atomic_write(path: Path, write: Callable[[str], None], option: str) -> None:
    """`write(temporary path)` beside `path`, then rename it to `path`: an error or an interrupt
    never leaves a half-written file under the name asked for. `option` names the flag in errors."""
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
        os.close(descriptor)
        write(temporary)
        mask = os.umask(0)  # mkstemp makes the file 0600: give it what open() would have
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise CrescendoError(f"{option} {path}: cannot be written ({error.strerror or error})") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
