"""Constants and checks shared by the analysis tests."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

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
    """report.html loads nothing from the network, every image it shows and every place it links to
    exists (links are relative: a run's report or directory); returns the images."""
    text = page.read_text()
    lowered = text.lower()
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered
    assert "url(" not in lowered and "http://" not in lowered and "https://" not in lowered
    images = []
    for attribute, reference in re.findall(r"""(src|href)\s*=\s*["']([^"']+)["']""", text):
        assert "://" not in reference and not reference.startswith(("/", "//", "data:")), reference
        target = page.parent / unquote(reference)
        if attribute == "src":
            assert target.is_file(), f"{page} shows {reference}, which does not exist"
            images.append(target)
        else:
            assert target.exists(), f"{page} links to {reference}, which does not exist"
    return images


def links(page: Path) -> dict[str, Path]:
    """The page's links: shown text -> resolved target."""
    found = re.findall(r"""<a href="([^"]+)">([^<]*)</a>""", page.read_text())
    return {html.unescape(text): (page.parent / unquote(html.unescape(href))).resolve() for href, text in found}


def fake_sweep(directory, runs, values, direction="minimize", study_name="fake", states=None, params=None,
               intermediate=None, errors=None, metric_names=None):
    """A sweep directory whose study.db (made here, no training) points its trials at existing runs.

    `intermediate[i]`: trial i's reported values by epoch; `errors[i]`: its recorded error;
    `metric_names`: set on the study (as the sweeper may)."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    lr = FloatDistribution(0.001, 0.01)
    directory.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{directory / 'study.db'}", study_name=study_name,
                                directions=[direction] if isinstance(direction, str) else direction)
    if metric_names:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(metric_names))
    for index, value in enumerate(values):
        state = (states or [TrialState.COMPLETE] * len(values))[index]
        attrs = {"run_dir": str(runs[index].path)} if index < len(runs) else {}
        if errors and errors[index]:
            attrs["error"] = errors[index]
        trial_params = params[index] if params else {"model.optimizer.lr": 0.001 + 0.001 * index}
        distributions = {name: lr if name == "model.optimizer.lr" else FloatDistribution(0.0, 1.0)
                         for name in trial_params}
        outcome = {}
        if state == TrialState.COMPLETE:
            outcome = {"values": value} if isinstance(value, (list, tuple)) else {"value": value}
        elif state == TrialState.PRUNED and value is not None:
            outcome = {"value": value}  # Optuna's tell records a pruned trial's last intermediate value
        reported = (intermediate[index] if intermediate else None) or {}
        study.add_trial(create_trial(state=state, params=trial_params, distributions=distributions,
                                     user_attrs=attrs, intermediate_values=reported, **outcome))
    return directory
