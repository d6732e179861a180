"""Issue 3's numbers: the seed search command, timed, on synthetic data of the real case's shape.

1267 train / 272 val rows × 200 features → 36 targets in [0, 1]; 20 trials of 10 epochs, searching
architecture, batch size, batch norm and learning rate exactly as the seed command does. Prints, per
variant: wall seconds of the whole `cr` command, the time to the first trial's end (imports +
startup), the mean per-trial overhead (trial wall − fit seconds, trials after the first), and the
best validation loss. Target: ≤ 8 s with defaults (the tool we replace: ~20 s).

    .venv/bin/python benchmarks/seed_search.py                 # defaults (median pruner) and pruner=none
    .venv/bin/python benchmarks/seed_search.py --seeds 0 1 2   # quality: best val loss over seeds
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_TRAIN, N_VAL, N_FEATURES, N_TARGETS = 1267, 272, 200, 36
CR = str(Path(sys.executable).with_name("cr"))
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


def make_data(directory: Path) -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(N_FEATURES, N_TARGETS)) / np.sqrt(N_FEATURES)
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        y = 1 / (1 + np.exp(-(x @ weights + 0.1 * rng.normal(size=(n, N_TARGETS)))))
        np.save(directory / f"X_{split}.npy", x)
        np.save(directory / f"Y_{split}.npy", y.astype(np.float32))


def run(data: Path, sweep: Path, extra: list[str]) -> dict:
    args = [a.format(data=data) for a in SEED_COMMAND] + [f"hydra.sweep.dir={sweep}", *extra]
    started = time.perf_counter()
    proc = subprocess.run([CR, *args], capture_output=True, text=True, cwd=sweep.parent)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"cr failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    with open(sweep / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    overheads, first = [], None
    for row in rows:
        result = Path(row["run_dir"]) / "result.json"
        fit = json.loads(result.read_text())["fit_seconds"] if result.is_file() else 0.0
        if row["number"] == "0":
            first = float(row["seconds"])
        else:
            overheads.append(float(row["seconds"]) - fit)
    values = [float(r["value"]) for r in rows if r["state"] == "COMPLETE"]
    return {
        "wall": wall,
        "first_trial": first,
        "overhead": statistics.mean(overheads) if overheads else float("nan"),
        "best": min(values),
        "states": {s: sum(r["state"] == s for r in rows) for s in ("COMPLETE", "PRUNED", "FAIL")},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    variants = {"defaults (median pruner)": [], "pruner=none (plain TPE)": ["hydra.sweeper.pruner=none"]}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        make_data(data)
        print(f"{'variant':<26} {'seed':>4} {'wall s':>7} {'1st trial s':>11} {'overhead/trial s':>16} {'best val loss':>13}  states")
        for seed in args.seeds:
            for name, extra in variants.items():
                sweep = Path(tmp) / f"sweep-{seed}-{len(extra)}"
                r = run(data, sweep, [f"seed={seed}", *extra])
                print(
                    f"{name:<26} {seed:>4} {r['wall']:>7.2f} {r['first_trial']:>11.2f} {r['overhead']:>16.3f} "
                    f"{r['best']:>13.5f}  {r['states']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
