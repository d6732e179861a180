"""Several `cr` commands on one study — PostgreSQL (a real server), one SQLite file, one journal file —
finish exactly n_trials; a worker killed with SIGKILL mid-trial is retried; a rerun finishes the study."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import CR, write_arrays
from scale_helpers import check_exactly, load_trials

TINY_SEARCH = [
    "data=regression",
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "hparams_search=optuna",
    "model.architecture=choice(1, 2)",
    "model.optimizer.lr=interval(0.001, 0.01)",
]


def cr_command(data: Path, sweep: Path, storage: str, study: str, *extra: str) -> list[str]:
    return [CR, *TINY_SEARCH, f"+data.data_dir={data}", f"hydra.sweep.dir={sweep}", f"hydra.sweeper.storage={storage}",
            f"hydra.sweeper.study_name={study}", *extra]


def start(command: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def storage_url(kind: str, tmp_path: Path, postgres: str | None) -> str:
    if kind == "postgresql":
        assert postgres
        return postgres
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return f"journal://{tmp_path / 'shared.log'}"


@pytest.fixture
def shared_storage(request, tmp_path):
    kind = request.param
    postgres = request.getfixturevalue("postgres_url") if kind == "postgresql" else None
    return storage_url(kind, tmp_path, postgres)


@pytest.mark.slow
@pytest.mark.parametrize("shared_storage", ["postgresql", "sqlite", "journal"], indirect=True)
def test_three_commands_share_one_study(tmp_path, shared_storage, study_name):
    data = write_arrays(tmp_path / "data")
    procs = [start(cr_command(data, tmp_path / f"sweep{k}", shared_storage, study_name, "hydra.sweeper.n_trials=7",
                              "hydra.sweeper.n_jobs=1"), tmp_path) for k in range(3)]
    outcomes = [finish(p) for p in procs]
    for code, out, err in outcomes:
        assert code == 0, out + err
        assert "Traceback" not in out + err
    trials = load_trials(shared_storage, study_name)
    check_exactly(trials, 7)
    workers = {t.user_attrs["worker"] for t in trials if t.state.is_finished()}
    assert len(workers) >= 2  # the commands really shared the work
    # each command's results files describe the whole study
    for k in range(3):
        assert (tmp_path / f"sweep{k}" / "optimization_results.yaml").is_file()


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _command_of(pid: int, commands: set[int]) -> int | None:
    """The command among `commands` that `pid` is, or descends from (a fresh `cr` runs its trials in
    the worker it forked before its set-up, and that worker forks the parallel ones)."""
    while pid and pid not in commands:
        pid = _parent_of(pid) or 0
    return pid or None


def _running_trial_of(storage: str, study: str, commands: set[int], timeout: float = 120) -> tuple[int, int, int]:
    """Wait until a process of one of `commands` runs a trial; return (trial number, its pid, the command)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for t in load_trials(storage, study):
                worker = t.user_attrs.get("worker", "")
                if t.state.name == "RUNNING" and worker:
                    pid = int(worker.rsplit(":", 1)[1])
                    command = _command_of(pid, commands)
                    if command is not None:
                        return t.number, pid, command
        except Exception:  # noqa: BLE001 - the study may not exist yet
            pass
        time.sleep(0.1)
    raise AssertionError("no trial started")


@pytest.mark.slow
@pytest.mark.parametrize("shared_storage", ["postgresql", "sqlite"], indirect=True)
def test_a_killed_command_is_retried_and_a_rerun_finishes(tmp_path, shared_storage, study_name):
    """Three commands; one dies mid-trial (SIGKILL to the command and to the process running its trial,
    as when its machine goes down). Its trial keeps no heartbeat, so after the grace period another
    command fails it and runs its parameters again; a rerun then finds the study done."""
    data = write_arrays(tmp_path / "data")
    # 150 epochs of 48 rows: a trial lasts long enough to be killed in the middle
    extra = ["hydra.sweeper.n_trials=5", "hydra.sweeper.n_jobs=1", "hydra.sweeper.heartbeat_interval=1",
             "hydra.sweeper.grace_period=3", "hydra.sweeper.pruner=none", "trainer.max_epochs=150"]
    procs = [start(cr_command(data, tmp_path / f"sweep{k}", shared_storage, study_name, *extra), tmp_path) for k in range(3)]
    number, pid, command = _running_trial_of(shared_storage, study_name, {p.pid for p in procs})
    os.kill(pid, signal.SIGKILL)
    if command != pid:
        os.kill(command, signal.SIGKILL)
    for p in procs:
        code, out, err = finish(p)
        assert code == (-signal.SIGKILL if p.pid == command else 0), out + err
    rerun = subprocess.run(cr_command(data, tmp_path / "sweep0", shared_storage, study_name, *extra), cwd=tmp_path,
                           capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    trials = load_trials(shared_storage, study_name)
    check_exactly(trials, 5)
    killed = trials[number]
    assert killed.state.name == "FAIL" and killed.user_attrs["worker"].endswith(f":{pid}")
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE" and retries[0].params == killed.params


@pytest.mark.slow
def test_a_killed_worker_process_of_one_command_is_retried(tmp_path):
    """One command with n_jobs=2: SIGKILL one of its worker processes mid-trial; the command warns,
    the other worker retries the trial once its heartbeat expires, and the study ends complete."""
    data = write_arrays(tmp_path / "data")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    extra = ["hydra.sweeper.n_trials=5", "hydra.sweeper.n_jobs=2", "hydra.sweeper.heartbeat_interval=1",
             "hydra.sweeper.grace_period=3", "hydra.sweeper.pruner=none", "trainer.max_epochs=150"]
    proc = start(cr_command(data, tmp_path / "sweep", storage, "two", *extra), tmp_path)
    number, pid, command = _running_trial_of(storage, "two", {proc.pid})
    assert pid != command  # a worker process, not the command
    os.kill(pid, signal.SIGKILL)
    code, out, err = finish(proc)
    assert code == 0, out + err
    assert f"was killed by signal {int(signal.SIGKILL)}" in err
    trials = load_trials(storage, "two")
    check_exactly(trials, 5)
    assert trials[number].state.name == "FAIL"
    assert [t.state.name for t in trials if t.system_attrs.get("failed_trial") == number] == ["COMPLETE"]
