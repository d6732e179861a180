"""Issue 3's numbers: the seed search command vs a plain script doing the same work, in one invocation.

1267 train / 272 val rows × 200 features → 36 targets in [0, 1]; 20 trials of 10 epochs (or
--trials/--epochs), searching architecture, batch size, batch norm and learning rate exactly as the
seed command does. For each seed, one after the other:
  cr     the `cr` seed command (seed=S), in a fresh sweep directory;
  plain  benchmarks/plain_search.py: Optuna + a plain PyTorch loop on in-memory tensors, same seed;
  floor  plain_search.py --import-lightning: the plain script plus the Lightning import;
  floor+db  the same with its study in an SQLite file kept as cr keeps it (WAL, a write per report, one
         read per trial): what the libraries cr must stand on cost before cr does anything of its own.
--no-floor skips both floors.
Each is timed as wall seconds of the whole subprocess (and its CPU seconds, user + system, which
other load on the machine disturbs less). For cr it also reads trials.csv and each run's result.json:
the first trial's seconds, the mean per-trial overhead (trial seconds − fit seconds, trials after the
first), the median set-up seconds of a trial (timings.setup_seconds), and where the wall seconds go:
start-up, the trials (from the study's timestamps), the end; Σ fit vs the plain script's Σ trial seconds.
Targets (printed, never asserted): cr/plain ≤ 1.3 for 20×10 and ≤ 1.1 for 40×30; the best
validation loss within 2 % of the plain script's (means over the seeds).

    .venv/bin/python benchmarks/seed_search.py                              # seed 0, 20 trials x 10 epochs
    .venv/bin/python benchmarks/seed_search.py --seeds 0 1 2 --trials 40 --epochs 30
    .venv/bin/python benchmarks/seed_search.py --extra hydra.sweeper.pruner=none --no-floor
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_TRAIN, N_VAL, N_FEATURES, N_TARGETS = 1267, 272, 200, 36
CR = str(Path(sys.executable).with_name("cr"))
PLAIN = str(Path(__file__).with_name("plain_search.py"))
SEED_COMMAND = [
    "model=mlp",
    "data=regression",
    "+data.data_dir={data}",
    "trainer.max_epochs=10",
    "model.last_activation={{_target_: torch.nn.Sigmoid}}",
    "trainer.accelerator=cpu",
    "hparams_search=optuna",
    "model.architecture=choice(3, 6, 9, 12, 15)",
    "data.batch_size=choice(32, 64, 128, 256)",
    "model.batch_norm=choice(True, False)",
    "model.optimizer.lr=interval(0.001, 0.01)",
    "hydra.sweeper.n_trials=20",
]
TARGETS = {(20, 10): 1.3, (40, 30): 1.1}  # (trials, epochs) → cr/plain wall ratio to reach
BEST_TOLERANCE = 0.02  # cr's mean best val loss at most 2 % above the plain script's


def make_data(directory: Path) -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(N_FEATURES, N_TARGETS)) / np.sqrt(N_FEATURES)
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        y = 1 / (1 + np.exp(-(x @ weights + 0.1 * rng.normal(size=(n, N_TARGETS)))))
        np.save(directory / f"X_{split}.npy", x)
        np.save(directory / f"Y_{split}.npy", y.astype(np.float32))


def seed_command(data: Path, trials: int, epochs: int) -> list[str]:
    """SEED_COMMAND for `data`, with its trial and epoch counts replaced."""
    replaced = {"trainer.max_epochs": str(epochs), "hydra.sweeper.n_trials": str(trials)}
    args = []
    for arg in SEED_COMMAND:
        key = arg.split("=", 1)[0]
        args.append(f"{key}={replaced[key]}" if key in replaced else arg.format(data=data))
    return args


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and CPU seconds (user + system, all its threads and processes) of one subprocess, and its output."""
    cpu, started = children_cpu(), time.perf_counter()
    proc = subprocess.run(command, check=False, capture_output=True, text=True, cwd=cwd)
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"{Path(command[1] if command[0] == sys.executable else command[0]).name} failed "
                 f"({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, cpu, proc


def timeline(sweep: Path, launched: datetime.datetime, wall: float) -> dict[str, float]:
    """From the study's trial timestamps (the default sqlite storage in the sweep dir; nan without it):
    start-up (launch → first trial asked), the trials' window (→ last trial told), the end (→ exit),
    and how many trials ran at once on average (Σ trial durations / window)."""
    nan = {"startup": math.nan, "window": math.nan, "end": math.nan, "busy": math.nan}
    if not (sweep / "study.db").is_file():
        return nan
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=None, storage=f"sqlite:///{sweep / 'study.db'}")
    except (ValueError, KeyError):  # several studies or another layout: no timeline
        return nan
    done = [t for t in study.trials if t.datetime_start and t.datetime_complete]
    if not done:
        return nan
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    window = (last - first).total_seconds()
    return {
        "startup": (first - launched).total_seconds(),
        "window": window,
        "end": wall - (last - launched).total_seconds(),
        "busy": sum((t.datetime_complete - t.datetime_start).total_seconds() for t in done) / window if window else math.nan,
    }


def run_cr(data: Path, sweep: Path, seed: int, trials: int, epochs: int, extra: list[str]) -> dict:
    args = seed_command(data, trials, epochs) + [f"hydra.sweep.dir={sweep}", f"seed={seed}", *extra]
    launched = datetime.datetime.now()  # Optuna's trial timestamps are naive local times too
    wall, cpu, _ = timed([CR, *args], cwd=sweep.parent)
    with open(sweep / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    overheads, setups, fits, first = [], [], [], math.nan
    for row in rows:
        path = Path(row["run_dir"]) / "result.json"
        result = json.loads(path.read_text()) if path.is_file() else {}
        setup = (result.get("timings") or {}).get("setup_seconds")
        if setup is not None:
            setups.append(float(setup))
        fit = float(result.get("fit_seconds", 0.0))
        fits.append(fit)
        if row["number"] == "0":
            first = float(row["seconds"])
        else:
            overheads.append(float(row["seconds"]) - fit)
    values = [float(r["value"]) for r in rows if r["state"] == "COMPLETE"]
    return {
        "wall": wall,
        "cpu": cpu,
        "first_trial": first,
        "overhead": statistics.mean(overheads) if overheads else math.nan,
        "trial_sum": sum(float(r["seconds"]) for r in rows),
        "fit_sum": sum(fits),
        "setup_sum": sum(setups),
        "setup": statistics.median(setups) if setups else math.nan,
        **timeline(sweep, launched, wall),
        "best": min(values) if values else math.nan,
        "states": {s: sum(r["state"] == s for r in rows) for s in ("COMPLETE", "PRUNED", "FAIL")},
    }


def run_plain(data: Path, seed: int, trials: int, epochs: int, floor: bool, sqlite: Path | None = None) -> dict:
    command = [sys.executable, PLAIN, str(data), "--trials", str(trials), "--epochs", str(epochs), "--seed", str(seed)]
    command += ["--import-lightning"] if floor else []
    command += ["--sqlite", str(sqlite)] if sqlite is not None else []
    wall, cpu, proc = timed(command, cwd=data)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    trial_sum = sum(result.get("trial_seconds", []))
    return {"wall": wall, "cpu": cpu, "best": result["best"], "states": result["states"],
            "startup": wall - trial_sum, "trial_sum": trial_sum}


def breakdown(cr: dict, plain: dict, floor_wall: float) -> str:
    """Where the wall seconds go, for cr and for the plain script. Trial sums are time spent in trials, not
    wall time: with several workers (the sweeper runs the sampler's start-up trials in parallel) they
    overlap, and `busy` says by how much."""
    return (
        f"cr: start-up {cr['startup']:.2f} s (launch -> first trial), trials {cr['window']:.2f} s "
        f"(busy x{cr['busy']:.2f}), end {cr['end']:.2f} s; in trials: fit {cr['fit_sum']:.2f} s, "
        f"outside fit {cr['trial_sum'] - cr['fit_sum']:.2f} s (set-up {cr['setup_sum']:.2f} s)\n"
        f"        plain: start-up {plain['startup']:.2f} s (imports, data), trials {plain['trial_sum']:.2f} s;"
        f"  cr fit - plain trials {cr['fit_sum'] - plain['trial_sum']:+.2f} s;"
        + (f"  floor - plain {floor_wall - plain['wall']:+.2f} s (the Lightning import)" if not math.isnan(floor_wall) else "")
    )


def states_text(states: dict[str, int]) -> str:
    return "/".join(str(states.get(s, 0)) for s in ("COMPLETE", "PRUNED", "FAIL"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--extra", nargs="*", default=[], help="extra cr overrides, e.g. hydra.sweeper.pruner=none")
    parser.add_argument("--no-floor", action="store_true", help="skip the plain script + Lightning import variant")
    args = parser.parse_args()

    print(f"seed search: {N_TRAIN}/{N_VAL} x {N_FEATURES} -> {N_TARGETS}, {args.trials} trials x {args.epochs} epochs"
          + (f", cr extra: {' '.join(args.extra)}" if args.extra else ""), flush=True)
    header = (f"{'seed':>4} {'cr s':>7} {'plain s':>7} {'floor s':>7} {'cr/plain':>8} {'floor/plain':>11} "
              f"{'floor+db/plain':>14} "
              f"{'cpu cr/plain':>12} {'best cr':>9} {'best plain':>10} {'best diff':>9}  {'cr 1st s':>8} "
              f"{'ovh/trial s':>11} {'setup s':>7}  states cr | plain (complete/pruned/fail)")
    print(header, flush=True)
    results, breakdowns, db_floors = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        make_data(data)
        for seed in args.seeds:
            cr = run_cr(data, Path(tmp) / f"sweep-{seed}", seed, args.trials, args.epochs, args.extra)
            plain = run_plain(data, seed, args.trials, args.epochs, floor=False)
            floor = None if args.no_floor else run_plain(data, seed, args.trials, args.epochs, floor=True)
            floor_wall = floor["wall"] if floor else math.nan
            db_floor = None if args.no_floor else run_plain(data, seed, args.trials, args.epochs, floor=True,
                                                            sqlite=Path(tmp) / f"floor-{seed}.db")
            db_floor_wall = db_floor["wall"] if db_floor else math.nan
            results.append((cr, plain, floor_wall))
            db_floors.append(db_floor_wall / plain["wall"])
            print(
                f"{seed:>4} {cr['wall']:>7.2f} {plain['wall']:>7.2f} {floor_wall:>7.2f} "
                f"{cr['wall'] / plain['wall']:>8.2f} {floor_wall / plain['wall']:>11.2f} "
                f"{db_floor_wall / plain['wall']:>14.2f} "
                f"{cr['cpu'] / plain['cpu']:>12.2f} "
                f"{cr['best']:>9.5f} {plain['best']:>10.5f} {cr['best'] / plain['best'] - 1:>+9.2%}  "
                f"{cr['first_trial']:>8.2f} {cr['overhead']:>11.3f} {cr['setup']:>7.3f}  "
                f"{states_text(cr['states'])} | {states_text(plain['states'])}",
                flush=True,
            )
            breakdowns.append(breakdown(cr, plain, floor_wall))
    print("where the seconds go:")
    for seed, text in zip(args.seeds, breakdowns):
        print(f"  seed {seed} {text}")

    mean = statistics.mean
    ratio = mean(cr["wall"] / plain["wall"] for cr, plain, _ in results)
    floor_ratio = mean(f / plain["wall"] for _, plain, f in results)
    cpu_ratio = mean(cr["cpu"] / plain["cpu"] for cr, plain, _ in results)
    best_cr, best_plain = mean(cr["best"] for cr, _, _ in results), mean(plain["best"] for _, plain, _ in results)
    target = TARGETS.get((args.trials, args.epochs))
    target_text = f"target <= {target}" if target else "targets: <= 1.3 at 20x10, <= 1.1 at 40x30"
    print(f"mean over {len(results)} seed(s):")
    print(f"  wall cr {mean(cr['wall'] for cr, _, _ in results):.2f} s   plain {mean(p['wall'] for _, p, _ in results):.2f} s"
          + ("" if args.no_floor else f"   floor {mean(f for _, _, f in results):.2f} s"))
    print(f"  wall ratio cr/plain     {ratio:.2f}   ({target_text})")
    if not args.no_floor:
        print(f"  wall ratio floor/plain  {floor_ratio:.2f}   (the plain script + the Lightning import)")
        print(f"  wall ratio floor+db/plain {mean(db_floors):.2f} (the same + its study in SQLite as cr keeps it)")
    print(f"  CPU ratio cr/plain      {cpu_ratio:.2f}   (user + system seconds: less sensitive to other load)")
    print(f"  best val loss           cr {best_cr:.5f}   plain {best_plain:.5f}   "
          f"cr {best_cr / best_plain - 1:+.2%}  (target <= {BEST_TOLERANCE:+.0%})")


if __name__ == "__main__":
    main()
