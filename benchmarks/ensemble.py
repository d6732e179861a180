"""K members trained together (`model=mlp_ensemble`) vs K single MLP fits one after another.

Issue 5's numbers: 4713×200 inputs → 36 targets, batch 64, 10 epochs, 5 hidden layers, K = 16.
Both sides go through `crescendo.train.train` with composed configs and the same settings
(packaged defaults: CSV logger, best + last checkpoints each epoch, quiet; the same optimizer).
Prints the fit seconds (result.json's `fit_seconds`) of each side and

    speed-up = sequential / batched              (target >= 1.5)
    batched / one member = batched / (sequential / K)   (target <= K / 1.5, 10.7 for K = 16)

    .venv/bin/python benchmarks/ensemble.py [--members 16] [--optimizer fused|plain|both] [--threads N]

`--optimizer fused` (the default, what `model=mlp_ensemble` ships) runs torch's fused Adam on both
sides; `plain` runs the for-loop Adam (`model=mlp`'s default) on both sides.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

# the same problem as fit_overhead.py (issue 2's shape), made by the same function
sys.path.insert(0, str(Path(__file__).parent))
from fit_overhead import BATCH, EPOCHS, HIDDEN_LAYERS, N_FEATURES, N_TARGETS, N_TRAIN, make_data  # noqa: E402


def fit(directory: Path, out: Path, *overrides: str, epochs: int = EPOCHS) -> tuple[float, list[int]]:
    """One `train(cfg)`; returns its fit seconds (result.json's `fit_seconds`) and hidden widths."""
    from hydra import compose, initialize_config_module

    from crescendo.train import train

    with initialize_config_module("crescendo.conf", version_base="1.3"):
        cfg = compose("train", overrides=[
            f"data.data_dir={directory}", f"paths.output_dir={out}", "quiet=true",
            f"trainer.max_epochs={epochs}", f"data.batch_size={BATCH}", f"model.architecture={HIDDEN_LAYERS}",
            *overrides,
        ])
    result = train(cfg)
    return result.fit_seconds, result.architecture


def optimizer_overrides(kind: str, model: str) -> list[str]:
    """The same optimizer on both sides: fused Adam (both models' default) or the for-loop Adam."""
    return [] if kind == "fused" else ["~model.optimizer.fused"]


def compare(directory: Path, members: int, kind: str) -> dict[str, float]:
    """Batched, then the K single fits, then batched again (the machine's load drifts; the batched
    number is the median of its two fits)."""
    ensemble = ("model=mlp_ensemble", f"model.n_members={members}", "seed=0",
                *optimizer_overrides(kind, "mlp_ensemble"))
    first, widths = fit(directory, directory / f"batched-{kind}-a", *ensemble)
    singles = [fit(directory, directory / f"single-{kind}-{k}", "model=mlp", f"seed={k}",
                   *optimizer_overrides(kind, "mlp"))[0] for k in range(members)]
    second, _ = fit(directory, directory / f"batched-{kind}-b", *ensemble)
    batched = statistics.median([first, second])
    sequential = sum(singles)
    one = statistics.median(singles)
    print(f"[{kind} Adam] hidden {widths}")
    print(f"  {members} single fits one after another  {sequential:8.2f} s   (per fit: median {one:.2f} s, "
          f"min {min(singles):.2f}, max {max(singles):.2f})")
    print(f"  {members} members batched (mlp_ensemble)  {batched:8.2f} s   ({first:.2f} s and {second:.2f} s)")
    print(f"  speed-up sequential / batched       {sequential / batched:8.2f}x   (target >= 1.5)")
    print(f"  batched / one member (median fit)   {batched / one:8.2f}    (target <= {members / 1.5:.1f})")
    sys.stdout.flush()
    return {"sequential": sequential, "batched": batched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--optimizer", choices=("fused", "plain", "both"), default="fused")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for both sides (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"data {N_TRAIN}x{N_FEATURES} -> {N_TARGETS}, batch {BATCH}, {EPOCHS} epochs, {HIDDEN_LAYERS} hidden "
          f"layers, K={args.members}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        make_data(directory)
        # first-call costs (imports, allocator, config loading) belong to neither side
        fit(directory, directory / "warmup-single", "model=mlp", "seed=0", epochs=1)
        fit(directory, directory / "warmup-batched", "model=mlp_ensemble", f"model.n_members={args.members}",
            "seed=0", epochs=1)
        for kind in (("fused", "plain") if args.optimizer == "both" else (args.optimizer,)):
            compare(directory, args.members, kind)
    print(f"(benchmark wall time {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
