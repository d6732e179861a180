"""The worker forked before a search's set-up (`_processes.PreforkedWorker`): it imports torch and
Lightning while `cr` builds the plan and opens the study, then runs the trials; a set-up that fails
ends it, and nothing of it outlives `cr`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import optuna
from helpers import CR

from hydra_plugins.crescendo_sweeper._processes import INTERRUPTED_CODE, PreforkedWorker

SEARCH = ["data=diabetes", "hparams_search=optuna", "trainer.max_epochs=1", "model.optimizer.lr=interval(0.001, 0.01)",
          "hydra.sweeper.n_trials=3", "seed=0"]


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains `text` (a forked worker keeps its parent's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_fresh_cr_runs_its_trials_in_the_worker_it_forked_first(tmp_path):
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen([CR, *SEARCH, f"hydra.sweep.dir={sweep}"], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    trials = optuna.load_study(study_name="train", storage=f"sqlite:///{sweep / 'study.db'}").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    pids = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in trials}
    assert str(proc.pid) not in pids  # the trials ran in children of `cr`
    lines = out.splitlines()
    startup = next(i for i, line in enumerate(lines) if line.startswith("  start-up: "))
    first_trial = next(i for i, line in enumerate(lines) if line.startswith("[1/3]"))
    assert startup < first_trial  # the worker says how long its imports took, before any trial
    assert "best: trial #" in out and "Traceback" not in err
    assert not _processes_naming(str(sweep))


def test_a_set_up_that_fails_ends_the_worker_and_writes_nothing(tmp_path):
    sweep = tmp_path / "sweep"
    started = time.monotonic()
    proc = subprocess.run([CR, *SEARCH, "hydra.sweeper.storage=sqlite:///" + str(tmp_path / "nodir" / "study.db"),
                           f"hydra.sweep.dir={sweep}"], cwd=tmp_path, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.count("cr: error:") == 1 and "Traceback" not in proc.stderr
    assert not _processes_naming(str(sweep))
    assert not (tmp_path / "nodir").exists()
    assert time.monotonic() - started < 120


def test_hand_over_runs_the_body_with_the_message_and_returns_its_code():
    worker = PreforkedWorker(["json"], lambda message, seconds: message["code"] if seconds >= 0 else 99)
    assert worker.hand_over({"code": 7}) == 7


def test_a_body_that_is_stopped_by_ctrl_c_is_an_interrupted_search():
    def body(message, seconds):
        raise KeyboardInterrupt  # what run_preforked turns into its code; here it is a bug: traceback, code 1

    assert PreforkedWorker([], body).hand_over(None) == 1
    assert PreforkedWorker([], lambda message, seconds: INTERRUPTED_CODE).hand_over(None) == INTERRUPTED_CODE


def test_cancel_ends_a_worker_still_importing(tmp_path, monkeypatch):
    (tmp_path / "slow_module_for_cancel.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    worker = PreforkedWorker(["slow_module_for_cancel"], lambda message, seconds: 0)
    time.sleep(0.2)
    started = time.monotonic()
    worker.cancel()
    assert time.monotonic() - started < 10
    assert not worker.process.is_alive() and worker.process.exitcode != 0
    assert "slow_module_for_cancel" not in sys.modules  # imported over there, never here


def test_the_set_up_of_a_cpu_search_imports_neither_torch_nor_lightning():
    """The worker imports them while `cr` builds the plan: were the plan's checks (the accelerator's
    among them) to import torch, `cr` would pay the import a second time before the first trial."""
    code = ("import sys\n"
            "import crescendo.devices, hydra_plugins.crescendo_sweeper._plan, hydra_plugins.crescendo_sweeper.sweeper\n"
            "from crescendo.devices import check_accelerator\n"
            "check_accelerator({'trainer': {'accelerator': 'cpu'}})\n"
            "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
