"""Issue 6's numbers: the 20-trial seed search with several workers, and several `cr` commands on one study.

1. One `cr` command, `hydra.sweeper.n_jobs=1` vs `n_jobs=2` (2 worker processes forked after the
   imports, 1 CPU thread each): wall seconds, best validation loss, trial states. Target: ≥ 1.6×.
2. One PostgreSQL study: 3 separate `cr` commands (n_jobs=1 each, started together, as on 3 machines)
   vs 1 command: wall seconds until the study holds 20 finished trials. On this 2-core machine the
   3 commands share 2 cores, so this measures the coordination's cost, not a speed-up.

The data and the command are benchmarks/seed_search.py's (1267 × 200 → 36 targets, 10 epochs, the
seed command's search space). PostgreSQL: $CRESCENDO_TEST_POSTGRES_URL, else scripts/postgres.sh start.

    .venv/bin/python benchmarks/parallel.py                  # seeds 0 1 2, both parts
    .venv/bin/python benchmarks/parallel.py --seeds 0 --skip-postgres
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from seed_search import CR, SEED_COMMAND, make_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def command(data: Path, sweep: Path, extra: list[str]) -> list[str]:
    return [CR, *[a.format(data=data) for a in SEED_COMMAND], f"hydra.sweep.dir={sweep}", *extra]


def read_trials(sweep: Path) -> list[dict[str, str]]:
    with open(sweep / "trials.csv") as f:
        return list(csv.DictReader(f))


def summary(rows: list[dict[str, str]]) -> tuple[float, dict[str, int]]:
    values = [float(r["value"]) for r in rows if r["state"] == "COMPLETE"]
    states = {s: sum(r["state"] == s for r in rows) for s in ("COMPLETE", "PRUNED", "FAIL")}
    return min(values), states


def run_one(data: Path, sweep: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command(data, sweep, extra), capture_output=True, text=True, cwd=sweep.parent)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"cr failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall


def run_many(data: Path, sweeps: list[Path], extra: list[str]) -> float:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(command(data, s, extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=s.parent)
        for s in sweeps
    ]
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - started
    for p, (out, err) in zip(procs, outputs):
        if p.returncode != 0:
            sys.exit(f"cr failed ({p.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    return wall


def postgres_url() -> tuple[str, bool]:
    url = os.environ.get("CRESCENDO_TEST_POSTGRES_URL")
    if url:
        return url, False
    running = subprocess.run(["bash", str(ROOT / "scripts/postgres.sh"), "url"], capture_output=True, text=True)
    if running.returncode == 0 and running.stdout.strip():
        return running.stdout.strip().splitlines()[-1], False
    out = subprocess.run(["bash", str(ROOT / "scripts/postgres.sh"), "start"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1], True


def study_trials(url: str, name: str) -> tuple[float, dict[str, int], int]:
    import optuna

    from hydra_plugins.crescendo_sweeper._ledger import Counts
    from crescendo.search.storage import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(url))
    trials = study.get_trials(deepcopy=False)
    counts = Counts.of(trials)
    best = min(t.value for t in trials if t.state.name == "COMPLETE")
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    return best, {"COMPLETE": counts.complete, "PRUNED": counts.pruned, "FAIL": counts.fail}, len(trials)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        make_data(data)

        print("1. one command, 20 trials: n_jobs=1 vs n_jobs=2 (2-core machine)")
        print(f"{'seed':>4} {'n_jobs=1 s':>10} {'n_jobs=2 s':>10} {'ratio':>6} {'best 1':>9} {'best 2':>9}  states 1 | states 2")
        ratios, best1, best2 = [], [], []
        for seed in args.seeds:
            walls, bests, states = [], [], []
            for n_jobs in (1, 2):
                sweep = Path(tmp) / f"jobs{n_jobs}-seed{seed}"
                walls.append(run_one(data, sweep, [f"seed={seed}", f"hydra.sweeper.n_jobs={n_jobs}"]))
                rows = read_trials(sweep)
                assert len(rows) == 20, len(rows)
                b, st = summary(rows)
                bests.append(b)
                states.append(st)
            ratios.append(walls[0] / walls[1])
            best1.append(bests[0])
            best2.append(bests[1])
            print(f"{seed:>4} {walls[0]:>10.2f} {walls[1]:>10.2f} {ratios[-1]:>6.2f} {bests[0]:>9.5f} {bests[1]:>9.5f}  "
                  f"{states[0]} | {states[1]}", flush=True)
        print(f"mean speed-up n_jobs=2 / n_jobs=1: {statistics.mean(ratios):.2f}x; mean best val loss "
              f"{statistics.mean(best1):.5f} (n_jobs=1) vs {statistics.mean(best2):.5f} (n_jobs=2)")

        if args.skip_postgres:
            return
        url, started = postgres_url()
        try:
            print("\n2. one PostgreSQL study, 20 trials: 3 separate cr commands vs 1 (n_jobs=1 each)")
            for seed in args.seeds[:1]:
                one = f"bench-one-{uuid.uuid4().hex[:8]}"
                wall1 = run_one(data, Path(tmp) / f"pg1-{seed}",
                                [f"seed={seed}", "hydra.sweeper.n_jobs=1", f"hydra.sweeper.storage={url}", f"hydra.sweeper.study_name={one}"])
                b1, s1, n1 = study_trials(url, one)
                three = f"bench-three-{uuid.uuid4().hex[:8]}"
                wall3 = run_many(data, [Path(tmp) / f"pg3-{seed}-{k}" for k in range(3)],
                                 ["hydra.sweeper.n_jobs=1", f"hydra.sweeper.storage={url}", f"hydra.sweeper.study_name={three}"])
                b3, s3, n3 = study_trials(url, three)
                print(f"1 command:  {wall1:6.2f} s  best {b1:.5f}  {s1} ({n1} trials in the study)")
                print(f"3 commands: {wall3:6.2f} s  best {b3:.5f}  {s3} ({n3} trials in the study, surplus included)")
                print(f"ratio 1 command / 3 commands: {wall1 / wall3:.2f}x")
        finally:
            if started:
                subprocess.run(["bash", str(ROOT / "scripts/postgres.sh"), "stop"], check=False)


if __name__ == "__main__":
    main()
