"""cr's training loop vs a plain PyTorch loop doing the same math, in the same process.

Three configurations (--configs, default all):
  default   issue 2's numbers: 4713×200 inputs → 36 targets, batch 64, 10 epochs, a 5-hidden-layer
            MLP; target ≤ 1.2 (also shows Lightning's usual one-batch-a-step loop, batches_per_call=1);
  smallest  the seed search's smallest trial: its data (1267/272 × 200 → 36 in [0, 1]), 30 epochs,
            architecture=3, batch 256, no batch norm, Sigmoid output; target ≤ 1.15;
  largest   the same data and epochs, architecture=15, batch 32, batch norm, Sigmoid; target ≤ 1.1.
For each: cr's `trainer.fit` seconds (result.fit_seconds) / the plain loop's seconds, the framework's
cost per epoch ((cr fit − plain) / epochs, target ≤ 2 ms), the set-up seconds outside fit
(result.timings["setup_seconds"], target ≤ 60 ms) and train() end to end. Runs alternate (cr, plain)
and the median of each is reported, since this machine is noisy. Targets are printed, never asserted.

    .venv/bin/python benchmarks/fit_overhead.py [--repeats 3] [--configs default smallest largest]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import seed_search  # the seed search's data (imported after the sys.path line)

N_TRAIN, N_VAL, N_FEATURES, N_TARGETS = 4713, 1000, 200, 36
BATCH, EPOCHS, HIDDEN_LAYERS = 64, 10, 5
SIGMOID = "model.last_activation={_target_: torch.nn.Sigmoid}"


@dataclass(frozen=True)
class Config:
    name: str
    data: str  # "default" (make_data below) or "seed" (seed_search.make_data)
    epochs: int
    batch: int
    architecture: int
    batch_norm: bool
    sigmoid: bool
    target: float


CONFIGS = {
    "default": Config("default", "default", EPOCHS, BATCH, HIDDEN_LAYERS, False, False, 1.2),
    "smallest": Config("smallest", "seed", 30, 256, 3, False, True, 1.15),
    "largest": Config("largest", "seed", 30, 32, 15, True, True, 1.1),
}
COST_TARGET_MS, SETUP_TARGET_S = 2.0, 0.060


def make_data(directory: Path) -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(N_FEATURES, N_TARGETS)) / np.sqrt(N_FEATURES)
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        np.save(directory / f"X_{split}.npy", x)
        np.save(directory / f"Y_{split}.npy", (1 / (1 + np.exp(-x @ weights))).astype(np.float32))


def plain_loop(directory: Path, widths: list[int], batch: int = BATCH, epochs: int = EPOCHS,
               batch_norm: bool = False, sigmoid: bool = False) -> float:
    """The same math without Lightning: standardise, shuffle, Adam steps, a validation pass per epoch.

    The network is crescendo's DenseNetwork layer for layer (Linear → [BatchNorm1d] → ReLU per hidden
    width, then Linear → [Sigmoid]), seeded like `seed=0`; a final training batch of exactly one row is
    dropped as crescendo's loader does. Returns the seconds of the epochs loop.
    """
    x = torch.from_numpy(np.load(directory / "X_train.npy"))
    y = torch.from_numpy(np.load(directory / "Y_train.npy"))
    xv = torch.from_numpy(np.load(directory / "X_val.npy"))
    yv = torch.from_numpy(np.load(directory / "Y_val.npy"))
    mean, std = x.mean(0), x.std(0, correction=0)
    x, xv = (x - mean) / std, (xv - mean) / std
    n_train, n_val, n_in, n_out = len(x), len(xv), x.shape[1], y.shape[1]
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for width_in, width_out in zip([n_in, *widths], widths):
        layers.append(torch.nn.Linear(width_in, width_out))
        if batch_norm:
            layers.append(torch.nn.BatchNorm1d(width_out))
        layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Linear([n_in, *widths][-1], n_out))
    if sigmoid:
        layers.append(torch.nn.Sigmoid())
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)  # as model.optimizer (mlp.yaml)
    loss_fn = torch.nn.MSELoss()
    used = n_train - 1 if batch > 1 and n_train > batch and n_train % batch == 1 else n_train
    started = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(n_train)[:used]
        total = torch.zeros(())
        for index in order.split(batch):
            xb, yb = x[index], y[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        net.eval()
        with torch.no_grad():
            val = sum(loss_fn(net(xv[s:s + batch]), yv[s:s + batch]) * len(xv[s:s + batch])
                      for s in range(0, n_val, batch))
        float(total), float(val)
    return time.perf_counter() - started


def lightning_loop(directory: Path, widths: list[int], batch: int = BATCH, epochs: int = EPOCHS,
                   batch_norm: bool = False, sigmoid: bool = False) -> float:
    """The floor of any Lightning loop: the plain loop's network, data and math in a bare LightningModule
    (automatic optimization, `self.log` of the epoch losses, no checkpoints, logger, progress bar or
    summary). What Lightning itself costs per epoch; crescendo adds its checkpoints and metrics.csv."""
    import lightning.pytorch as pl

    x = torch.from_numpy(np.load(directory / "X_train.npy"))
    y = torch.from_numpy(np.load(directory / "Y_train.npy"))
    xv = torch.from_numpy(np.load(directory / "X_val.npy"))
    yv = torch.from_numpy(np.load(directory / "Y_val.npy"))
    mean, std = x.mean(0), x.std(0, correction=0)
    x, xv = (x - mean) / std, (xv - mean) / std
    n_train, n_in, n_out = len(x), x.shape[1], y.shape[1]
    used = n_train - 1 if batch > 1 and n_train > batch and n_train % batch == 1 else n_train
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for width_in, width_out in zip([n_in, *widths], widths):
        layers += [torch.nn.Linear(width_in, width_out), *([torch.nn.BatchNorm1d(width_out)] if batch_norm else []),
                   torch.nn.ReLU()]
    layers += [torch.nn.Linear([n_in, *widths][-1], n_out), *([torch.nn.Sigmoid()] if sigmoid else [])]

    class Shuffled:
        def __len__(self) -> int:
            return -(-used // batch)

        def __iter__(self):
            for index in torch.randperm(n_train)[:used].split(batch):
                yield x[index], y[index]

    class InOrder:
        def __len__(self) -> int:
            return -(-len(xv) // batch)

        def __iter__(self):
            for start in range(0, len(xv), batch):
                yield xv[start:start + batch], yv[start:start + batch]

    class Bare(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(*layers)

        def training_step(self, step_batch, batch_idx):
            loss = torch.nn.functional.mse_loss(self.net(step_batch[0]), step_batch[1])
            self.log("train/loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, step_batch, batch_idx):
            self.log("val/loss", torch.nn.functional.mse_loss(self.net(step_batch[0]), step_batch[1]), on_epoch=True)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3, fused=True)

    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    started = time.perf_counter()
    trainer.fit(Bare(), Shuffled(), InOrder())
    return time.perf_counter() - started


def widths_of(architecture: int, n_in: int, n_out: int) -> list[int]:
    """crescendo's int architecture: N hidden widths ramping linearly from input to output (truncated,
    as Crescendo 0.0.4's astype(int))."""
    return [max(1, int(w)) for w in np.linspace(n_in, n_out, architecture + 2)[1:-1].astype(np.int64)]


def cr_fit(directory: Path, out: Path, *extra: str) -> tuple[float, float, list[int], float]:
    """train(cfg) with the packaged defaults (CSV logger, best+last checkpoints), quiet, plus `extra` overrides.

    Returns (fit seconds, train() seconds, hidden widths, set-up seconds outside fit or nan)."""
    from hydra import compose, initialize_config_module

    from crescendo.train import train

    with initialize_config_module("crescendo.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"data.data_dir={directory}", f"paths.output_dir={out}", "quiet=true", "seed=0",
            f"trainer.max_epochs={EPOCHS}", f"data.batch_size={BATCH}", f"model.architecture={HIDDEN_LAYERS}", *extra,
        ])
    started = time.perf_counter()
    result = train(cfg)
    total = time.perf_counter() - started
    setup = (getattr(result, "timings", None) or {}).get("setup_seconds", math.nan)
    return result.fit_seconds, total, result.architecture, setup


def config_overrides(config: Config) -> list[str]:
    return [f"trainer.max_epochs={config.epochs}", f"data.batch_size={config.batch}",
            f"model.architecture={config.architecture}", f"model.batch_norm={str(config.batch_norm).lower()}",
            *([SIGMOID] if config.sigmoid else [])]


def measure(config: Config, directory: Path, out: Path, repeats: int) -> dict:
    fits, totals, setups, plains, classic, bare, threads = [], [], [], [], [], [], set()
    widths: list[int] = []
    for repeat in range(repeats):
        fit, total, widths, setup = cr_fit(directory, out / f"{config.name}{repeat}", *config_overrides(config))
        threads.add(torch.get_num_threads())  # cr sets torch's threads per run; the plain loop inherits them
        fits.append(fit)
        totals.append(total)
        setups.append(setup)
        plains.append(plain_loop(directory, widths, config.batch, config.epochs, config.batch_norm, config.sigmoid))
        bare.append(lightning_loop(directory, widths, config.batch, config.epochs, config.batch_norm, config.sigmoid))
        if config.name == "default":
            classic.append(cr_fit(directory, out / f"classic{repeat}", "batches_per_call=1")[0])
    assert widths == widths_of(config.architecture, N_FEATURES, N_TARGETS), "the plain loop's widths rule differs"
    median = statistics.median
    return {
        "widths": widths, "threads": sorted(threads),
        "fit": median(fits), "total": median(totals), "plain": median(plains),
        "setup": median(setups) if not all(math.isnan(s) for s in setups) else math.nan,
        "classic": median(classic) if classic else None, "bare": median(bare),
    }


def report(config: Config, r: dict, repeats: int, n_train: int) -> None:
    fit, plain, total = r["fit"], r["plain"], r["total"]
    cost_ms = (fit - plain) / config.epochs * 1000
    setup = r["setup"]
    print(f"[{config.name}] data {n_train}x{N_FEATURES} -> {N_TARGETS}, batch {config.batch}, {config.epochs} epochs, "
          f"architecture={config.architecture} hidden {r['widths']}, batch_norm={config.batch_norm}, "
          f"sigmoid={config.sigmoid}, torch threads {r['threads']}, median of {repeats}")
    print(f"  plain PyTorch loop      {plain:7.3f} s")
    print(f"  cr trainer.fit          {fit:7.3f} s   ratio {fit / plain:.2f}  (target <= {config.target})")
    print(f"  framework cost          {cost_ms:7.2f} ms/epoch  (cr fit - plain) / epochs  (target <= {COST_TARGET_MS:g})")
    print(f"  set-up outside fit      {setup * 1000:7.1f} ms  (timings.setup_seconds; target <= {SETUP_TARGET_S * 1000:g})")
    print(f"  cr train() end to end   {total:7.3f} s   ratio {total / plain:.2f}  (data checks, checkpoints, test, result files)")
    bare_ms = (r["bare"] - plain) / config.epochs * 1000
    print(f"  floor: bare Lightning   {r['bare']:7.3f} s   ratio {r['bare'] / plain:.2f}  "
          f"{bare_ms:.2f} ms/epoch over plain (a bare LightningModule: no checkpoints, logger or bar)")
    if r["classic"] is not None:
        print(f"  cr fit, one batch a step (batches_per_call=1, Lightning's usual loop)"
              f"  {r['classic']:7.3f} s   ratio {r['classic'] / plain:.2f}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = {"default": Path(tmp) / "default", "seed": Path(tmp) / "seed"}
        for directory in data.values():
            directory.mkdir()
        make_data(data["default"])
        seed_search.make_data(data["seed"])
        n_rows = {"default": N_TRAIN, "seed": seed_search.N_TRAIN}
        cr_fit(data["default"], Path(tmp) / "warmup")  # first-call costs (imports, allocator) are not the loop's
        plain_loop(data["default"], widths_of(HIDDEN_LAYERS, N_FEATURES, N_TARGETS), epochs=1)
        for name in args.configs:
            config = CONFIGS[name]
            r = measure(config, data[config.data], Path(tmp) / "runs", args.repeats)
            report(config, r, args.repeats, n_rows[config.data])


if __name__ == "__main__":
    main()
