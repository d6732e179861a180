"""`Run`: one training run directory, read back for a notebook or a script.

Everything is read lazily and cached: the config, result.json and metrics.csv on first access, the
best checkpoint only when a model or a prediction is asked for. Prediction applies the run's own
input transform (feature selection + scaler), restored from the checkpoint, so it needs neither the
original data directory nor the config that pointed at it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from crescendo.analysis._files import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    RESULT_FILE,
    read_config,
    read_json,
    read_metrics,
    select,
)
from crescendo.errors import CrescendoError, DataError

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from matplotlib.figure import Figure

    from crescendo.data import ArrayRegressionDataModule

__all__ = ["Run"]

#: rows per forward pass in `predict` (bounded memory on large inputs)
PREDICT_BATCH_ROWS = 65536


class Run:
    """One run directory: ``config.yaml``, ``result.json``, ``metrics.csv``, ``checkpoints/best.ckpt``.

    >>> run = Run("results/train/runs/2025-01-01_12-00-00_000000")
    >>> run.result["objective"], run.metrics[["epoch", "val/loss"]]
    >>> y = run.predict(X_raw)               # (n, targets), from raw (unscaled, unselected) inputs
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        if not (self.path / RESULT_FILE).is_file():
            hint = (" — the run has not finished (result.json is written when training ends)"
                    if (self.path / ".hydra").is_dir() else "")
            raise CrescendoError(f"{self.path}: not a run directory, it has no {RESULT_FILE}{hint}")
        self._result: dict[str, Any] | None = None
        self._config: DictConfig | None = None
        self._metrics: pd.DataFrame | None = None
        self._models: dict[str, Any] = {}
        self._inputs: ArrayRegressionDataModule | None = None
        self._model_class: type | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status!r}, objective={self.objective:.6g})"

    def _repr_html_(self) -> str | None:
        """A notebook shows a run as a small table: status, objective, best epoch, dims, run dir."""
        from crescendo.analysis.display import run_html

        return run_html(self)

    def plot_learning_curves(self) -> Figure:
        """Losses per epoch (validation solid, training dashed, ★ the best epoch): a matplotlib Figure,
        the one cr-report saves."""
        from crescendo.analysis.plots import learning_curves

        return learning_curves([(self.path.name, self)], title=f"Learning curves of run {self.path.name}")

    # ------------------------------------------------------------------ what the run wrote
    @property
    def result(self) -> dict[str, Any]:
        """result.json: objective, monitor, mode, status, best_epoch, best_checkpoint, dims, timings, ..."""
        if self._result is None:
            self._result = read_json(self.path / RESULT_FILE)
        return self._result

    @property
    def config(self) -> DictConfig:
        """The resolved config the run used (its config.yaml)."""
        if self._config is None:
            path = self.path / CONFIG_FILE
            if not path.is_file():
                raise CrescendoError(f"{self.path}: has no {CONFIG_FILE} (the resolved config every run saves)")
            self._config = read_config(path)
        return self._config

    @property
    def metrics(self) -> pd.DataFrame:
        """metrics.csv, one row per training epoch (``epoch``, ``step``, ``train/loss``, ``val/loss``, ...).

        The test loss, logged once after fit, is in ``result["test_loss"]``, not here.
        """
        if self._metrics is None:
            self._metrics = read_metrics(self.path)
        return self._metrics.copy()

    @property
    def status(self) -> str:
        return str(self.result.get("status", "unknown"))

    @property
    def objective(self) -> float:
        value = self.result.get("objective")
        return math.nan if value is None else float(value)

    @property
    def monitor(self) -> str:
        return str(self.result.get("monitor", "val/loss"))

    @property
    def mode(self) -> str:
        return str(self.result.get("mode", "min"))

    @property
    def best_checkpoint(self) -> Path | None:
        """The best checkpoint's path (it may be missing on disk; see `model`)."""
        recorded = self.result.get("best_checkpoint")
        if not recorded:
            default = self.path / BEST_CHECKPOINT
            return default if default.is_file() else None
        path = Path(recorded)
        if not path.is_absolute():
            return self.path / path
        if path.is_file():
            return path
        # an absolute path written before the run directory moved: keep its part inside the run
        old_run_dir = self.result.get("run_dir")
        if old_run_dir:
            try:
                return self.path / path.relative_to(old_run_dir)
            except ValueError:
                pass
        return path

    @property
    def has_checkpoint(self) -> bool:
        checkpoint = self.best_checkpoint
        return checkpoint is not None and checkpoint.is_file()

    def _checkpoint_or_raise(self) -> Path:
        checkpoint = self.best_checkpoint
        if checkpoint is None:
            error = self.result.get("error")
            why = f" ({error})" if error else ""
            raise CrescendoError(
                f"{self.path}: the run has no best checkpoint — its status is {self.status!r}{why}; "
                f"expected {BEST_CHECKPOINT} in the run directory"
            )
        if not checkpoint.is_file():
            raise CrescendoError(
                f"{self.path}: the best checkpoint {checkpoint} is missing — expected it at "
                f"{BEST_CHECKPOINT} in the run directory (was it deleted or not copied with the run?)"
            )
        return checkpoint

    # ------------------------------------------------------------------ the model
    @property
    def model_class(self) -> type:
        """The LightningModule class the run trained (its config's ``model._target_``)."""
        if self._model_class is None:
            self._model_class = _model_class(self)
        return self._model_class

    @property
    def is_batched_ensemble(self) -> bool:
        """True when the model holds several members (it has ``predict_members``)."""
        try:
            return callable(getattr(self.model_class, "predict_members", None))
        except CrescendoError:
            return False

    def model(self, device: str | torch.device = "cpu") -> Any:
        """The best checkpoint's model, in eval mode, on `device` (loaded once per device, then cached)."""
        import torch

        key = str(torch.device(device))
        if key not in self._models:
            checkpoint = self._checkpoint_or_raise()
            try:
                model = self.model_class.load_from_checkpoint(checkpoint, map_location=torch.device(device))
            except CrescendoError:
                raise
            except Exception as error:
                raise CrescendoError(
                    f"{checkpoint}: cannot be loaded as a {self.model_class.__name__} "
                    f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
                ) from error
            model.eval()
            self._models[key] = model
        return self._models[key]

    def model_at(self, checkpoint: str | Path, device: str | torch.device = "cpu") -> Any:
        """The model of any checkpoint of this run (e.g. checkpoints/last.ckpt), in eval mode, not cached."""
        import torch

        model = self.model_class.load_from_checkpoint(Path(checkpoint), map_location=torch.device(device))
        return model.eval()

    # ------------------------------------------------------------------ inputs and prediction
    @property
    def input_module(self) -> ArrayRegressionDataModule:
        """A data module holding only the checkpoint's fitted input transform (no data files needed)."""
        if self._inputs is None:
            from crescendo.data import ArrayRegressionDataModule

            checkpoint = self._checkpoint_or_raise()
            try:
                self._inputs = ArrayRegressionDataModule.from_checkpoint(checkpoint)
            except CrescendoError:
                raise
            except Exception as error:  # a truncated or foreign file: torch's unpickler says why, deep down
                raise CrescendoError(
                    f"{checkpoint}: cannot be read as a checkpoint ({type(error).__name__}: "
                    f"{str(error).splitlines()[0] if str(error) else ''}) — train the run again or copy the file again"
                ) from error
        return self._inputs

    @property
    def loss_units(self) -> str:
        """What the run's losses (metrics, objective, test_loss) are measured in: "standardized targets"
        (data.normalize_targets) or "targets"; a run written before the setting existed: "targets"."""
        return str(self.result.get("loss_units", "targets"))

    @property
    def raw_input_dims(self) -> int:
        """Columns of the raw inputs `predict` expects (before feature selection)."""
        return int(self.input_module.state_dict()["raw_input_dims"])

    def transform_inputs(self, x_raw: np.ndarray) -> np.ndarray:
        """Raw inputs → what the model saw in training: feature selection, then the run's scaler."""
        x = np.asarray(x_raw)
        if x.ndim == 1:
            raise DataError(
                f"inputs to predict have shape {x.shape} but the model expects (n, {self.raw_input_dims}) — "
                "pass a 2-D array; one sample is x[None, :]"
            )
        return self.input_module.transform_inputs(x)

    def predict(self, x_raw: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
        """Predictions (n, targets) for RAW inputs (n, raw features), in float32.

        The run's own feature selection and input scaler are applied first; with
        `data.normalize_targets` the outputs are mapped back to the targets' own units. For a
        batched-ensemble run this is the model's own output (the members' mean); see `predict_members`.
        """
        x = self.transform_inputs(x_raw)
        model = self.model(device)
        return self.input_module.inverse_transform_targets(_forward(model, x, device))

    def predict_members(self, x_raw: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
        """Each member's predictions (members, n, targets) in the targets' units; a plain run is one member."""
        x = self.transform_inputs(x_raw)
        model = self.model(device)
        if not callable(getattr(model, "predict_members", None)):
            return self.input_module.inverse_transform_targets(_forward(model, x, device)[None])
        return self.input_module.inverse_transform_targets(
            _forward(model, x, device, method="predict_members", member_axis=True))

    # ------------------------------------------------------------------ the data
    def datamodule(self, data_dir: str | Path | None = None, setup: bool = True) -> ArrayRegressionDataModule:
        """Rebuild the run's data module from its config, set up (data loaded, scaler fit).

        `data_dir` replaces ``data.data_dir`` when the data moved since the run was trained.
        """
        from hydra.utils import instantiate

        data_cfg = self.config.get("data")
        if data_cfg is None:
            raise CrescendoError(f"{self.path / CONFIG_FILE}: has no data section to rebuild the data module from")
        data_cfg = OmegaConf.create(OmegaConf.to_container(data_cfg, resolve=True))
        if data_dir is not None:
            with open_dict(data_cfg):
                data_cfg.data_dir = str(Path(data_dir).expanduser())
        module = instantiate(data_cfg, _convert_="all")
        if setup:
            try:
                module.setup()
            except DataError as error:
                if data_dir is None and select(data_cfg, "data_dir") and not select(data_cfg, "builtin"):
                    raise DataError(
                        f"{error} (the run was trained on data.data_dir={data_cfg.data_dir}; if the data "
                        f"moved, pass its new place: Run.datamodule(data_dir=NEW_DIR))"
                    ) from None
                raise
        return module


# ---------------------------------------------------------------------- helpers


def _model_class(run: Run) -> type:
    from hydra.utils import get_class

    target = None
    if (run.path / CONFIG_FILE).is_file():
        target = select(run.config, "model._target_")
    if not target:
        from crescendo.models import MultilayerPerceptron

        return MultilayerPerceptron
    try:
        cls = get_class(str(target))
    except Exception as error:  # noqa: BLE001 - hydra wraps import errors in several types
        raise CrescendoError(
            f"{run.path / CONFIG_FILE}: model._target_={target} cannot be imported ({str(error).splitlines()[0]})"
        ) from None
    if not callable(getattr(cls, "load_from_checkpoint", None)):
        raise CrescendoError(f"{run.path / CONFIG_FILE}: model._target_={target} is not a LightningModule")
    return cls


def _forward(model: Any, x: np.ndarray, device: Any, method: str = "__call__", member_axis: bool = False) -> np.ndarray:
    """Run `model` (or one of its methods) over `x` in batches without gradients; numpy float32 out."""
    import torch

    call = getattr(model, method) if method != "__call__" else model
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(x), PREDICT_BATCH_ROWS):
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + PREDICT_BATCH_ROWS])).to(device)
            outputs.append(call(batch).detach().float().cpu())
        if not outputs:  # no rows: ask the model for the output width with an empty batch
            outputs.append(call(torch.zeros((0, x.shape[1]), device=device)).detach().float().cpu())
    joined = torch.cat(outputs, dim=1 if member_axis else 0).numpy()
    return joined
