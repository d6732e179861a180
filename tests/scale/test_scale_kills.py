"""Nothing is lost under SIGKILL: a `cr` search is killed (SIGKILL to its process group) at 20 moments
and rerun after each; it ends with exactly n_trials finished trials, no duplicates, and results files
that agree with the study.

Random wall-clock moments land inside trials (and the next ask); the moments inside a tell and inside
the results write are too short to hit by chance, so a `sitecustomize.py` on the command's PYTHONPATH
kills the process group there, on the first call, without any change to the product: before and after
Optuna's `Study.tell` (the ledger's attrs written, the state not yet / the state written, the results
files not yet), before optimization_results.yaml is rewritten (trials.csv already new), and between a
results file's temporary copy and its rename.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from helpers import CR, write_arrays
from scale_helpers import check_exactly, load_trials

N_TRIALS = 10
SITECUSTOMIZE = '''
import os, signal
_spec = os.environ.get("CR_TEST_KILL_AT")
if _spec:
    _point, _n = _spec.split(":")
    _calls = [0]

    def _hit():
        _calls[0] += 1
        if _calls[0] == int(_n):
            os.killpg(os.getpgid(0), signal.SIGKILL)

    if _point.startswith("tell"):
        import optuna.study
        _tell = optuna.study.Study.tell

        def tell(self, *args, **kwargs):
            if _point == "tell-before":
                _hit()
            frozen = _tell(self, *args, **kwargs)
            if _point == "tell-after":
                _hit()
            return frozen

        optuna.study.Study.tell = tell
    else:
        import hydra_plugins.crescendo_sweeper._results as _results

        if _point == "summary":
            _write_summary = _results.ResultsWriter.write_summary

            def write_summary(self, trials):
                _hit()
                return _write_summary(self, trials)

            _results.ResultsWriter.write_summary = write_summary
        elif _point == "rename":
            _replace = os.replace

            class _os:
                def __getattr__(self, name):
                    return getattr(os, name)

                @staticmethod
                def replace(src, dst):
                    _hit()
                    return _replace(src, dst)

            _results.os = _os()
'''
# random moments inside trials, and injected ones (each kills on its first call); once the study is full
# (no trial left to kill), the next moments are inside the results write, which every run does
SCHEDULE = ["random"] * 4 + ["tell-before", "tell-after"] * 2 + ["random"] * 2 + ["tell-before", "random"] \
    + ["summary", "rename"] * 2 + ["tell-after", "random", "summary", "tell-before", "rename", "summary"]
KILLS = 20

def job_dirs(sweep: Path) -> int:
    return sum(1 for p in sweep.iterdir() if p.name.isdigit()) if sweep.is_dir() else 0


def run_once(command: list[str], cwd: Path, env: dict, point: str, rng: random.Random) -> int:
    """Start the search; kill its process group at `point`; returns its exit status."""
    sweep = Path(command[-1].split("=", 1)[1])
    before = job_dirs(sweep)
    env = {**env, "CR_TEST_KILL_AT": f"{point}:1"} if point != "random" else env
    with open(cwd / "out.log", "a") as log:
        proc = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=log, env=env, start_new_session=True)
        if point == "random":  # a moment inside a trial: once its job dir appears, a random fraction of a trial later
            deadline = time.monotonic() + 60
            while proc.poll() is None and job_dirs(sweep) == before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.4))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=120)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_twenty_sigkills_lose_nothing(tmp_path):
    from hydra_plugins.crescendo_sweeper._counts import (
        RUN_DIR,
        SURPLUS,
        Counts,
        not_counted,
        retried_numbers,
    )
    from hydra_plugins.crescendo_sweeper._results import best_trial

    data = write_arrays(tmp_path / "data")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    sweep = tmp_path / "sweep"
    # max_retry=null: these kills come from outside, and one trial can be hit three times in a row;
    # with the default (2 retries) it would then be recorded as a FAIL of its own, with no run dir
    command = [CR, "data=regression", f"+data.data_dir={data}", "trainer.max_epochs=2", "trainer.accelerator=cpu",
               "hparams_search=optuna", "model.architecture=choice(1, 2)", "model.optimizer.lr=interval(0.001, 0.01)",
               f"hydra.sweeper.n_trials={N_TRIALS}", "hydra.sweeper.n_jobs=1", "hydra.sweeper.heartbeat_interval=1",
               "hydra.sweeper.grace_period=2", "hydra.sweeper.max_retry=null", "seed=0", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)}
    rng = random.Random(20)
    killed: list[str] = []
    for round_ in range(KILLS + 6):
        point = SCHEDULE[round_] if round_ < len(SCHEDULE) and len(killed) == round_ else rng.choice(["summary", "rename"])
        code = run_once(command, tmp_path, env, point, rng)
        if code == -signal.SIGKILL:
            killed.append(point)
        else:
            assert code == 0, (point, (tmp_path / "out.log").read_text()[-3000:])
        if len(killed) == KILLS:
            break
    log = (tmp_path / "out.log").read_text()
    print(f"killed at {len(killed)} moments: {killed}")
    assert len(killed) == KILLS and {"random", "tell-before", "tell-after", "summary", "rename"} <= set(killed), killed
    final = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "Traceback" not in log + final.stdout + final.stderr

    trials = load_trials(f"sqlite:///{sweep / 'study.db'}", "train")
    check_exactly(trials, N_TRIALS)
    retried = retried_numbers(trials)
    counted = [t for t in trials if not not_counted(t, retried)]
    run_dirs = [t.user_attrs[RUN_DIR] for t in counted]
    assert len(run_dirs) == len(set(run_dirs)), run_dirs  # no trial ran twice into one run dir

    listed = [t for t in trials if not t.user_attrs.get(SURPLUS)]
    rows = read_csv(sweep / "trials.csv")
    assert [int(r["number"]) for r in rows] == [t.number for t in listed]
    assert [r["state"] for r in rows] == [t.state.name for t in listed]
    assert [r["value"] for r in rows] == ["" if t.value is None else repr(float(t.value)) for t in listed]
    assert [r[RUN_DIR] for r in rows] == [t.user_attrs.get(RUN_DIR, "") for t in listed]
    assert not list(sweep.glob(".*.tmp")), list(sweep.glob(".*.tmp"))  # no half-written copies left behind
    summary = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    counts = Counts.of(trials)
    assert (summary["n_complete"], summary["n_pruned"], summary["n_fail"]) == (counts.complete, counts.pruned, counts.fail)
    best = best_trial(trials, "minimize")
    assert summary["best_trial"] == best.number and summary["best_value"] == best.value
    assert summary["best_run_dir"] == best.user_attrs[RUN_DIR]


def test_a_killed_writers_temporary_copies_are_removed_by_the_next_write(tmp_path):
    """What a kill between a results file's temporary copy and its rename leaves; the next write cleans it."""
    import optuna

    from hydra_plugins.crescendo_sweeper._results import ResultsWriter

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, value=1.0,
                                              distributions={"x": optuna.distributions.FloatDistribution(0, 1)}))
    for name in (".trials.csv.4242.tmp", ".optimization_results.yaml.4242.tmp"):
        (tmp_path / name).write_text("half")
    (tmp_path / ".keep.tmp").write_text("not ours")
    writer = ResultsWriter(sweep_dir=tmp_path, study_name="s", storage="mem", directions=["minimize"], objectives=None,
                           param_names=["x"], n_trials=1)
    writer.write(study.get_trials())
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep.tmp", "optimization_results.yaml", "trials.csv"]
    assert yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())["best_value"] == 1.0
