"""Constants and checks shared by the analysis tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_FEATURES = 6
FEATURE_SELECT = "0:2,3:6"  # keeps columns 0, 1, 3, 4, 5
COLUMNS = [0, 1, 3, 4, 5]
N_TARGETS = 2
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Results:
    root: Path
    data_dir: Path
    path: Path  # the sweep / multirun directory

    def x(self, split: str = "val") -> np.ndarray:
        return np.load(self.data_dir / f"X_{split}.npy")


def run_tool(name: str, *args: str, cwd: Path, timeout: float = 300):
    """Run an installed console script (cr-predict, cr-report) the way a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([str(BIN / name), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_one_line_error(done: subprocess.CompletedProcess, prog: str, *expected: str) -> str:
    """The command failed with exit 2 and one line `prog: error: ...` holding every `expected` text."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def assert_real_png(path: Path) -> None:
    """A readable PNG that is a picture: several colours, not one flat fill."""
    import matplotlib.image

    assert path.is_file() and path.suffix == ".png", path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100, pixels.shape
    rgb = pixels[..., :3]
    assert float(rgb.var()) > 1e-3, f"{path.name} is (nearly) blank"
    assert len(np.unique(rgb.reshape(-1, 3).round(2), axis=0)) > 10, f"{path.name} has too few colours"


def assert_offline_html(page: Path) -> list[Path]:
    """report.html loads nothing from the network and every file it references exists; returns them."""
    text = page.read_text()
    lowered = text.lower()
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered
    assert "url(" not in lowered and "http://" not in lowered and "https://" not in lowered
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", text)
    files = []
    for reference in references:
        assert "://" not in reference and not reference.startswith(("/", "//", "data:")), reference
        target = page.parent / reference
        assert target.is_file(), f"{page} references {reference}, which does not exist"
        files.append(target)
    return files


def fake_sweep(directory, runs, values, direction="minimize", study_name="fake", states=None, params=None):
    """A sweep directory whose study.db (made here, no training) points its trials at existing runs."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    lr = FloatDistribution(0.001, 0.01)
    directory.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{directory / 'study.db'}", study_name=study_name,
                                directions=[direction] if isinstance(direction, str) else direction)
    for index, value in enumerate(values):
        state = (states or [TrialState.COMPLETE] * len(values))[index]
        attrs = {"run_dir": str(runs[index].path)} if index < len(runs) else {}
        trial_params = params[index] if params else {"model.optimizer.lr": 0.001 + 0.001 * index}
        distributions = {name: lr if name == "model.optimizer.lr" else FloatDistribution(0.0, 1.0)
                         for name in trial_params}
        outcome = {}
        if state == TrialState.COMPLETE:
            outcome = {"values": value} if isinstance(value, (list, tuple)) else {"value": value}
        study.add_trial(create_trial(state=state, params=trial_params, distributions=distributions,
                                     user_attrs=attrs, **outcome))
    return directory
