"""`Ensemble`: several models that predict the same targets, queried together.

Members come from runs: several plain runs (the KFold members of a `cr -m ... data.ensemble_split`
multirun, a seed multirun, or a search's k best trials) contribute one member each; a
batched-ensemble run (`model=mlp_ensemble`) contributes all of its members. Each run applies its
own input transform, so members trained on different folds (different scalers) are handled.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crescendo.analysis._files import MULTIRUN_FILE, member_dirs
from crescendo.analysis.model_sets import SharedArrays
from crescendo.analysis.run import Run
from crescendo.errors import CrescendoError

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

__all__ = ["Ensemble"]


class Ensemble(SharedArrays):
    """Members that predict together: ``predict(X) -> (members, n, targets)``.

    >>> ens = Ensemble([run_a, run_b, "results/train/runs/..."])
    >>> mean, std = ens.predict_stats(X_raw)
    """

    def __init__(self, runs: Iterable[Run | str | Path], path: str | Path | None = None) -> None:
        self.runs: list[Run] = [run if isinstance(run, Run) else Run(run) for run in runs]
        self.path = None if path is None else Path(path).expanduser().resolve()
        where = f"{self.path}: " if self.path else ""
        if not self.runs:
            raise CrescendoError(f"{where}an ensemble needs at least one run with a checkpoint")
        missing = [run for run in self.runs if not run.has_checkpoint]
        if missing:
            raise CrescendoError(
                f"{where}member run {missing[0].path} has no best checkpoint (status "
                f"{missing[0].status!r}) — every member needs checkpoints/best.ckpt"
            )
        widths = {run.result.get("output_dims") for run in self.runs} - {None}
        if len(widths) > 1:
            raise CrescendoError(
                f"{where}the member runs predict different numbers of targets ({sorted(widths)}) — "
                "an ensemble's members must share their targets"
            )

    @classmethod
    def from_multirun(cls, path: str | Path) -> Ensemble:
        """The finished runs of a multirun directory (e.g. KFold members), in job order.

        Runs that did not complete (failed, pruned, no checkpoint) are left out with a warning.
        """
        directory = Path(path).expanduser().resolve()
        runs = [Run(member) for member in member_dirs(directory)]
        usable = [run for run in runs if run.status == "complete" and run.has_checkpoint]
        if not usable:
            raise CrescendoError(
                f"{directory}: holds no complete member run with a checkpoint — expected a multirun "
                f"directory ({MULTIRUN_FILE} + one run directory per member, each with result.json and "
                "checkpoints/best.ckpt)"
            )
        left_out = [run.path.name for run in runs if run not in usable]
        if left_out:
            warnings.warn(
                f"{directory}: members {', '.join(left_out)} did not complete and are left out of the ensemble",
                UserWarning,
                stacklevel=2,
            )
        return cls(usable, path=directory)

    @classmethod
    def from_root(cls, root: str | Path, verbose: bool = False, data_dir: str | Path | None = None,
                  use_checkpoint: str = "best_epoch") -> Ensemble:
        """The original Crescendo 0.0.4's `Ensemble.from_root(root, ...)`: every run directory under
        `root` (ours, or 0.0.4's with final_config.yaml) is a member. `predict(x)` takes RAW inputs
        (unscaled, before feature selection): each member applies its own scaler. New call: ``Ensemble([...])``, or
        ``load(multirun_dir)`` / ``Sweep.ensemble(k)``."""
        from crescendo.analysis.roots import open_run, run_dirs

        found = run_dirs(root)
        if verbose or not found:
            print(f"Found {len(found)} run directories (n_estimators=={len(found)})")
        runs = [open_run(d, data_dir=data_dir, use_checkpoint=use_checkpoint) for d in found]
        ensemble = cls(runs, path=root)
        ensemble._original_options = {"data_dir": data_dir, "use_checkpoint": use_checkpoint, "verbose": verbose}
        return ensemble

    @property
    def estimators(self) -> list[Any]:
        """The members as 0.0.4's `Estimator` faces (crescendo.analysis.estimator)."""
        from crescendo.analysis.estimator import Estimator

        options = getattr(self, "_original_options", {})
        return [Estimator(run.path, data_dir=options.get("data_dir"), verbose=options.get("verbose", False),
                          use_checkpoint=options.get("use_checkpoint", "best_epoch")) for run in self.runs]

    def __repr__(self) -> str:
        where = f"{str(self.path)!r}, " if self.path else ""
        return f"Ensemble({where}runs={len(self.runs)})"

    def _repr_html_(self) -> str | None:
        """A notebook shows an ensemble as a small table of its members and their objectives."""
        from crescendo.analysis.display import ensemble_html

        return ensemble_html(self)

    def plot_learning_curves(self, max_members: int = 10) -> Figure:
        """Learning curves of the member runs (the first `max_members`)."""
        from crescendo.analysis.plots import learning_curves

        shown = self.runs[:max_members]
        more = f" (first {len(shown)} of {len(self.runs)})" if len(shown) < len(self.runs) else ""
        return learning_curves([(run.path.name, run) for run in shown], title=f"Learning curves of the members{more}")

    def __len__(self) -> int:
        """The number of runs (a batched-ensemble run counts once; see `n_members`)."""
        return len(self.runs)

    @property
    def members(self) -> list[Run]:
        """The member runs (same as `runs`)."""
        return self.runs

    @property
    def n_members(self) -> int:
        """How many predictions `predict` stacks: one per plain run, K per batched-ensemble run."""
        total = 0
        for run in self.runs:
            if run.is_batched_ensemble:
                total += _member_count(run)
            else:
                total += 1
        return total

    def predict(self, x_raw: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
        """Every member's predictions from RAW inputs: (members, n, targets), float32."""
        return np.concatenate([run.predict_members(x_raw, device=device) for run in self.runs], axis=0)

    def predict_stats(self, x_raw: np.ndarray, device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) over the members, each (n, targets); std is the population std (0 for one member)."""
        predictions = self.predict(x_raw, device=device)
        return predictions.mean(axis=0), predictions.std(axis=0)


def _member_count(run: Run) -> int:
    model: Any = run.model()
    for name in ("n_members", "num_members", "ensemble_size"):
        value = getattr(model, name, None)
        if isinstance(value, int):
            return value
    hparams = getattr(model, "hparams", {}) or {}
    for name in ("n_members", "num_members", "ensemble_size"):
        if isinstance(hparams.get(name), int):
            return int(hparams[name])
    return int(run.predict_members(np.zeros((1, run.raw_input_dims), dtype=np.float32)).shape[0])
