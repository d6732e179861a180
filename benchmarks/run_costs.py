"""The fixed costs of one run inside a search process: per-run set-up, and framework cost per epoch.

Synthetic data of the seed search's shape (1267 train / 272 val rows x 200 features -> 36 targets),
quiet as in a search, imports paid by a warm-up run. For each configuration, alternating runs of
`train(cfg)` and a plain PyTorch loop over the SAME network (crescendo's `DenseNetwork`, fused Adam,
shuffled batches, a validation pass per epoch) print medians of:

- set-up: result.json's ``timings.setup_seconds`` (start of train() to fit start); target <= 60 ms;
- framework cost: (cr fit seconds - plain loop seconds) / epochs; target <= 2 ms per epoch;
- cr/plain: the ratio of the fit times.

    .venv/bin/python benchmarks/run_costs.py [--repeats 7] [--configs smallest largest] [--epochs 30] [--clock thread]

``--clock thread`` times everything (result.json's timings included) in this thread's CPU seconds
instead of wall seconds: on a machine shared with other work it shows our own cost, not the waits.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from seed_search import make_data  # noqa: E402 - the seed search's synthetic data

CLOCK = time.perf_counter

CONFIGS = {
    "smallest": {"architecture": 3, "batch": 256, "batch_norm": False},
    "largest": {"architecture": 15, "batch": 32, "batch_norm": True},
}


def compose(data: Path, out: Path, config: dict, epochs: int, *extra: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    with initialize_config_module("crescendo.conf", version_base="1.3"):
        return hydra_compose("train", overrides=[
            f"data.data_dir={data}", f"paths.output_dir={out}", "quiet=true", "seed=0",
            "model.last_activation={_target_: torch.nn.Sigmoid}", "model.optimizer.lr=0.003",
            f"trainer.max_epochs={epochs}", f"data.batch_size={config['batch']}",
            f"model.architecture={config['architecture']}", f"model.batch_norm={config['batch_norm']}", *extra,
        ])


def plain_loop(data: Path, config: dict, widths: list[int], epochs: int) -> float:
    """The same math without Lightning, timed like cr's fit (from the first epoch to the last)."""
    from crescendo.models.components import DenseNetwork

    x, y = (torch.from_numpy(np.load(data / f"{a}_train.npy")) for a in "XY")
    xv, yv = (torch.from_numpy(np.load(data / f"{a}_val.npy")) for a in "XY")
    mean, std = x.mean(0), x.std(0)
    x, xv = (x - mean) / std, (xv - mean) / std
    net = DenseNetwork(x.shape[1], widths, y.shape[1], batch_norm=config["batch_norm"],
                       last_activation=torch.nn.Sigmoid())
    optimizer = torch.optim.Adam(net.parameters(), lr=0.003, fused=True)
    loss_fn = torch.nn.MSELoss()
    batch, n = config["batch"], len(x)
    started = CLOCK()
    for _ in range(epochs):
        net.train()
        total = torch.zeros(())
        for index in torch.randperm(n).split(batch):
            if len(index) == 1:
                continue
            optimizer.zero_grad()
            loss = loss_fn(net(x.index_select(0, index)), y.index_select(0, index))
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        net.eval()
        with torch.no_grad():
            val = sum(loss_fn(net(xv[s:s + batch]), yv[s:s + batch]) * len(xv[s:s + batch])
                      for s in range(0, len(xv), batch))
        float(total), float(val)
    return CLOCK() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--clock", choices=["wall", "thread"], default="wall")
    args = parser.parse_args()
    import crescendo.train
    from crescendo.train import train

    if args.clock == "thread":  # train()'s own timings (result.json) and ours, in CPU seconds of this thread
        global CLOCK
        CLOCK = time.thread_time
        crescendo.train.time = types.SimpleNamespace(perf_counter=time.thread_time)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        make_data(data)
        train(compose(data, Path(tmp) / "warmup", CONFIGS["smallest"], 1))  # imports, first-call costs
        for name in args.configs:
            config = CONFIGS[name]
            setups, fits, plains, totals = [], [], [], []
            for repeat in range(args.repeats):
                cfg = compose(data, Path(tmp) / f"{name}{repeat}", config, args.epochs)
                started = CLOCK()
                result = train(cfg)
                totals.append(CLOCK() - started)
                setups.append(result.timings["setup_seconds"])
                fits.append(result.fit_seconds)
                plains.append(plain_loop(data, config, result.architecture, args.epochs))
            setup, fit, plain, total = (statistics.median(v) for v in (setups, fits, plains, totals))
            print(f"{name:9s} arch={config['architecture']} batch={config['batch']} bn={config['batch_norm']} "
                  f"{args.epochs} epochs, median of {args.repeats}, torch threads {torch.get_num_threads()}, {args.clock} clock")
            print(f"  set-up         {setup * 1e3:7.1f} ms   (target <= 60)   all: "
                  + " ".join(f"{s * 1e3:.0f}" for s in setups))
            print(f"  cr fit         {fit:7.3f} s    plain {plain:.3f} s   cr/plain {fit / plain:.2f}")
            print(f"  framework cost {(fit - plain) / args.epochs * 1e3:7.2f} ms/epoch (target <= 2)   "
                  f"per-run pairs: " + " ".join(f"{(f - p) / args.epochs * 1e3:.1f}" for f, p in zip(fits, plains)))
            print(f"  train() total  {total:7.3f} s")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
