"""cr's training loop vs a plain PyTorch loop doing the same math, in the same process.

Issue 2's numbers: 4713×200 inputs → 36 targets, batch 64, 10 epochs, a 5-hidden-layer MLP.
Prints the ratio (cr fit seconds / plain loop seconds); target ≤ 1.2. Runs alternate and the
median of each is reported, since this machine is noisy.

    .venv/bin/python benchmarks/fit_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

N_TRAIN, N_VAL, N_FEATURES, N_TARGETS = 4713, 1000, 200, 36
BATCH, EPOCHS, HIDDEN_LAYERS = 64, 10, 5


def make_data(directory: Path) -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(N_FEATURES, N_TARGETS)) / np.sqrt(N_FEATURES)
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        np.save(directory / f"X_{split}.npy", x)
        np.save(directory / f"Y_{split}.npy", (1 / (1 + np.exp(-x @ weights))).astype(np.float32))


def plain_loop(directory: Path, widths: list[int]) -> float:
    """The same math without Lightning: standardise, shuffle, Adam steps, a validation pass per epoch."""
    x = torch.from_numpy(np.load(directory / "X_train.npy"))
    y = torch.from_numpy(np.load(directory / "Y_train.npy"))
    xv = torch.from_numpy(np.load(directory / "X_val.npy"))
    yv = torch.from_numpy(np.load(directory / "Y_val.npy"))
    mean, std = x.mean(0), x.std(0)
    x, xv = (x - mean) / std, (xv - mean) / std
    layers: list[torch.nn.Module] = []
    for width_in, width_out in zip([N_FEATURES, *widths], widths):
        layers += [torch.nn.Linear(width_in, width_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], N_TARGETS))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)  # as model.optimizer (mlp.yaml)
    loss_fn = torch.nn.MSELoss()
    started = time.perf_counter()
    for _ in range(EPOCHS):
        net.train()
        order = torch.randperm(N_TRAIN)
        total = torch.zeros(())
        for start in range(0, N_TRAIN, BATCH):
            index = order[start:start + BATCH]
            xb, yb = x[index], y[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        net.eval()
        with torch.no_grad():
            val = sum(loss_fn(net(xv[s:s + BATCH]), yv[s:s + BATCH]) * len(xv[s:s + BATCH])
                      for s in range(0, N_VAL, BATCH))
        float(total), float(val)
    return time.perf_counter() - started


def cr_fit(directory: Path, out: Path, *extra: str) -> tuple[float, float, list[int]]:
    """train(cfg) with the packaged defaults (CSV logger, best+last checkpoints), quiet, plus `extra` overrides."""
    from hydra import compose, initialize_config_module

    from crescendo.train import train

    with initialize_config_module("crescendo.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"data.data_dir={directory}", f"paths.output_dir={out}", "quiet=true", "seed=0",
            f"trainer.max_epochs={EPOCHS}", f"data.batch_size={BATCH}", f"model.architecture={HIDDEN_LAYERS}", *extra,
        ])
    started = time.perf_counter()
    result = train(cfg)
    return result.fit_seconds, time.perf_counter() - started, result.architecture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_data(directory)
        cr_fit(directory, directory / "warmup")  # first-call costs (imports, allocator) are not the loop's
        plain, fits, totals, classic = [], [], [], []
        widths: list[int] = []
        for repeat in range(args.repeats):
            fit, total, widths = cr_fit(directory, directory / f"run{repeat}")
            fits.append(fit)
            totals.append(total)
            plain.append(plain_loop(directory, widths))
            classic.append(cr_fit(directory, directory / f"classic{repeat}", "batches_per_call=1")[0])
    plain_s, fit_s, total_s, classic_s = (statistics.median(v) for v in (plain, fits, totals, classic))
    print(f"data {N_TRAIN}x{N_FEATURES} -> {N_TARGETS}, batch {BATCH}, {EPOCHS} epochs, hidden {widths}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
    print(f"plain PyTorch loop      {plain_s:7.3f} s")
    print(f"cr trainer.fit          {fit_s:7.3f} s   ratio {fit_s / plain_s:.2f}  (target <= 1.2)")
    print(f"cr train() end to end   {total_s:7.3f} s   ratio {total_s / plain_s:.2f}  (data checks, checkpoints, test, result files)")
    print(f"cr fit, one batch a step (batches_per_call=1, Lightning's usual loop)"
          f"  {classic_s:7.3f} s   ratio {classic_s / plain_s:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
