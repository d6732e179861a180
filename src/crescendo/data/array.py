"""`ArrayRegressionDataModule`: regression arrays (.npy files or a built-in set) for Lightning.

`__init__` only stores settings; `setup()` does all the work — load, validate, select columns,
merge/split rows, fit the scaler on the training rows — so every data problem is a `DataError` or
`ConfigError` raised before any model exists.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from crescendo.batch_blocks import block_size
from crescendo.data.dataloader_kwargs import UNSET
from crescendo.data.dataloader_kwargs import merge as merge_loader_settings
from crescendo.data.loaders import BlockedBatches, MemberBatches, TensorBatches
from crescendo.data.original_arrays import OriginalArrays
from crescendo.data.prepare import prepare
from crescendo.data.splits import parse_ensemble_split, parse_feature_select
from crescendo.data.targets import TargetTransform
from crescendo.data.transform import InputTransform
from crescendo.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Data up to this size is copied once to the trainer's accelerator, so a GPU batch is an on-device
#: index_select instead of a host gather plus a host-to-device copy.
MAX_DEVICE_BYTES = 2 * 1024**3


class ArrayRegressionDataModule(OriginalArrays, L.LightningDataModule):
    """Inputs X (rows, features) → targets Y (rows, targets), every split held in memory as float32.

    Args:
        data_dir: directory with X_train.npy Y_train.npy X_val.npy Y_val.npy (X_test.npy Y_test.npy
            optional). Files load with allow_pickle=False.
        builtin: name of a built-in dataset instead of `data_dir` ("diabetes": 80/10/10 split, fixed seed);
            when set, `data_dir` is ignored with a warning.
        batch_size: rows per batch; above the number of training rows it is clamped, with a warning
            (see `effective_batch_size`).
        normalize_inputs: standard-scale inputs with a scaler fit on the training rows only; its mean and
            scale travel in `state_dict()`, hence in every checkpoint.
        normalize_targets: train on standard-scaled targets, the scaler fit on the training rows only (like
            the inputs'); it travels the same way, and `inverse_transform_targets` (used by `Run.predict`,
            cr-predict and cr-export) maps model outputs back to the targets' units. The logged losses are
            in scaled units then (`crescendo.data.targets`).
        feature_select: keep only these input columns, e.g. "0:100,150:200" (stop excluded); applied
            before scaling. Null keeps all.
        production_mode: train on train+val+test. The val and test loaders still yield the original
            val/test rows (now also trained on), so Lightning's validation loop runs and logs, but those
            numbers are in-sample: monitor train/loss in this mode.
        ensemble_split: {enable, index, n_splits, shuffle, random_state}: KFold over the training rows
            (after the production merge); member `index` trains on every row outside fold `index`. The
            validation and test sets are unchanged, so members are compared on the same rows.
            With `n_members` set (a batched ensemble), `index` is ignored: member k trains on the rows
            outside fold k (k < n_members <= n_splits), and the scaler is fit on all training rows.
        num_workers: accepted for config compatibility and ignored — batches are slices of in-memory
            tensors, so worker processes would only add overhead.
        pin_memory: pin the training tensors in page-locked memory when CUDA is available and they stay
            on the host (faster host-to-GPU copies); a no-op without CUDA.
        drop_last: drop the last partial training batch of every epoch (validation and test keep every
            row). False: only a last training batch of exactly one row is dropped (see below).
        dataloader_kwargs: the original Crescendo 0.0.4's spelling of batch_size, num_workers,
            pin_memory and drop_last (`{"batch_size": 64, ...}`; our spelling: those four arguments,
            `data.batch_size` etc. in a config). One setting given both ways with different values
            raises ConfigError (at setup) naming both keys. Given neither way: batch_size 64, num_workers 0,
            pin_memory and drop_last False.
        n_members: the number of ensemble members one model trains together (`model=mlp_ensemble`;
            the packaged config sets it from `model.n_members`), or None. It matters only with
            `ensemble_split` enabled: training batches are then `MemberBatches` — x (K, b, features),
            y (K, b, targets), member k's rows drawn from its own split.
        batches_per_call: batches per Lightning step call; above 1 every loader yields `StepBlock`s of
            that many batches (the same batches in the same order). `train()` passes the same value to the
            model (see `crescendo.batch_blocks`). A loop setting, not a data setting: it is not saved
            with the hyperparameters.

    Training batches are reshuffled every epoch with torch's global RNG (`seed_everything` repeats
    them) and a final batch of exactly one row is dropped (BatchNorm cannot train on it). Validation
    and test batches come in order with every row. Under DDP each rank trains on its own fixed
    1/world_size of the training rows (padded by repeating rows so all ranks take the same number of
    steps); validation and test are not sharded — every rank evaluates all rows, so their metrics agree
    without a sync.
    """

    #: it takes ``batches_per_call`` (read by crescendo.batch_blocks without importing this module)
    accepts_batches_per_call = True

    def __init__(
        self,
        data_dir: str | None = None,
        builtin: str | None = None,
        batch_size: int = UNSET,
        normalize_inputs: bool = True,
        feature_select: str | None = None,
        production_mode: bool = False,
        ensemble_split: dict | None = None,
        num_workers: int | None = UNSET,
        n_members: int | None = None,
        batches_per_call: int = 1,
        pin_memory: bool = UNSET,
        drop_last: bool = UNSET,
        dataloader_kwargs: Mapping[str, Any] | None = None,
        normalize_targets: bool = False,
    ) -> None:
        super().__init__()
        loader, self._spelling_problems = merge_loader_settings(
            {"batch_size": batch_size, "num_workers": num_workers, "pin_memory": pin_memory, "drop_last": drop_last},
            _plain(dataloader_kwargs))
        batch_size, num_workers = loader["batch_size"], loader["num_workers"]
        self.data_dir = None if data_dir is None else str(data_dir)
        self.builtin = builtin
        self.batch_size = batch_size
        self.pin_memory, self.drop_last = bool(loader["pin_memory"]), bool(loader["drop_last"])
        self.normalize_inputs = bool(normalize_inputs)
        self.normalize_targets = bool(normalize_targets)
        self.feature_select = _plain(feature_select)
        self.production_mode = bool(production_mode)
        self.ensemble_split = _plain(ensemble_split)
        self.num_workers = num_workers
        self.n_members = n_members
        self.save_hyperparameters({
            "data_dir": self.data_dir, "builtin": builtin, "batch_size": batch_size,
            "normalize_inputs": self.normalize_inputs, "feature_select": self.feature_select,
            "production_mode": self.production_mode, "ensemble_split": self.ensemble_split,
            "num_workers": num_workers, "n_members": n_members,
            "pin_memory": self.pin_memory, "drop_last": self.drop_last,
            "normalize_targets": self.normalize_targets,
        })
        self.input_dims: int | None = None
        self.output_dims: int | None = None
        self.n_train = self.n_val = self.n_test = 0
        self.effective_batch_size: int | None = None
        #: Indices (into the training rows, after a production merge) this run trains on.
        self.train_rows: np.ndarray | None = None
        #: With `n_members` and `ensemble_split`: member k's rows (indices into the training rows).
        self.member_train_rows: list[np.ndarray] | None = None
        self.batches_per_call = block_size(batches_per_call)
        self._transform: InputTransform | None = None
        self._targets = TargetTransform(None, None)
        self._tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    # ---------------------------------------------------------------- setup
    def setup(self, stage: str | None = None) -> None:
        """Load, validate and prepare every split (idempotent: later calls do nothing).

        The work is `crescendo.data.prepare.prepare`, which reuses the last result in this process when
        the files (path, size, mtime) and the settings are the same — a search's trials share one.
        """
        if self._tensors:
            return
        if self._spelling_problems:
            raise ConfigError("; ".join(self._spelling_problems))
        batch_size = _check_batch_size(self.batch_size)
        parse_feature_select(self.feature_select)  # syntax errors before reading any file
        ensemble = parse_ensemble_split(self.ensemble_split)
        n_members = _check_n_members(self.n_members, ensemble)
        if self.builtin is not None and self.data_dir is not None:
            warnings.warn(
                f"data.builtin={self.builtin!r} is set, so data.data_dir={self.data_dir!r} is ignored — "
                "use data=regression data.data_dir=DIR to train on your own arrays",
                UserWarning, stacklevel=2,
            )
        prepared = prepare(None if self.builtin is not None else self.data_dir, self.builtin, self.feature_select,
                           self.production_mode, ensemble, n_members, self.normalize_inputs, self.normalize_targets)
        if self._transform is not None:  # load_state_dict came first
            _check_same_inputs(data=prepared.transform, checkpoint=self._transform)
            _check_same_targets(data=prepared.target_transform, checkpoint=self._targets)
        self._transform = prepared.transform
        self._targets = prepared.target_transform
        self._tensors = dict(prepared.tensors)
        self.train_rows, self.member_train_rows = prepared.train_rows, prepared.member_train_rows
        self.input_dims, self.output_dims = prepared.transform.input_dims, prepared.output_dims
        self.n_train, self.n_val, self.n_test = prepared.n_train, prepared.n_val, prepared.n_test
        self.effective_batch_size = batch_size
        if batch_size > self.n_train:
            self.effective_batch_size = self.n_train
            warnings.warn(
                f"data.batch_size={batch_size} is larger than the {self.n_train} training rows; "
                f"using batch_size={self.n_train}",
                UserWarning, stacklevel=2,
            )
        log.info("data: %d train / %d val / %d test rows, %d inputs -> %d targets%s", self.n_train,
                 self.n_val, self.n_test, self.input_dims, self.output_dims,
                 " (production mode: val+test merged into train)" if self.production_mode else "")

    # ---------------------------------------------------------------- loaders
    def train_dataloader(self) -> TensorBatches | MemberBatches | BlockedBatches:
        """Shuffled training batches (sharded per rank under DDP; in order when overfitting batches);
        `MemberBatches` for a batched ensemble with `ensemble_split` (see `n_members`)."""
        self.setup()
        x, y = self._tensors["train"]
        trainer = self.trainer
        if self.member_train_rows is not None:
            rows = [torch.from_numpy(r) for r in self.member_train_rows]
            if trainer is not None and trainer.world_size > 1:
                rows = [r[shard_rows(len(r), trainer.global_rank, trainer.world_size)] for r in rows]
            x, y = self._to_trainer_device(x, y)
            shuffle = trainer is None or not trainer.overfit_batches
            return self._blocked(MemberBatches(*self._pinned(x, y), rows, self.effective_batch_size,
                                               shuffle=shuffle, drop_single_last=True, drop_last=self.drop_last))
        shuffle = True
        if trainer is not None:
            if trainer.world_size > 1:
                rows = shard_rows(len(x), trainer.global_rank, trainer.world_size)
                x, y = x.index_select(0, rows), y.index_select(0, rows)
            shuffle = not trainer.overfit_batches
        x, y = self._to_trainer_device(x, y)
        return self._blocked(TensorBatches(*self._pinned(x, y), self.effective_batch_size, shuffle=shuffle,
                                           drop_single_last=True, drop_last=self.drop_last))

    def val_dataloader(self) -> TensorBatches | BlockedBatches:
        """Validation batches in order, every row (the original val rows, even in production mode)."""
        return self._ordered("val")

    def test_dataloader(self) -> TensorBatches | BlockedBatches:
        """Test batches in order, every row; no batches when there is no test split."""
        return self._ordered("test")

    def _ordered(self, name: str) -> TensorBatches | BlockedBatches:
        self.setup()
        if name in self._tensors:
            x, y = self._to_trainer_device(*self._tensors[name])
        else:
            x, y = torch.empty(0, self.input_dims), torch.empty(0, self.output_dims)
        return self._blocked(TensorBatches(x, y, self.effective_batch_size, shuffle=False))

    def _blocked(self, loader: TensorBatches | MemberBatches) -> TensorBatches | MemberBatches | BlockedBatches:
        return loader if self.batches_per_call == 1 else BlockedBatches(loader, self.batches_per_call)

    def _pinned(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`pin_memory`: page-locked copies of host tensors when CUDA is available; else unchanged."""
        if not self.pin_memory or x.device.type != "cpu" or not torch.cuda.is_available():
            return x, y
        return x.pin_memory(), y.pin_memory()

    def _to_trainer_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Move small data to the trainer's accelerator once, instead of copying every batch."""
        trainer = self.trainer
        if trainer is None:
            return x, y
        device = trainer.strategy.root_device
        if device.type == "cpu" or x.nbytes + y.nbytes > MAX_DEVICE_BYTES:
            return x, y
        return x.to(device), y.to(device)

    # ---------------------------------------------------------------- predict / checkpoint
    def transform_inputs(self, x_raw: np.ndarray) -> np.ndarray:
        """feature_select + scaler on raw inputs (n, raw features) → float32, as the model saw in training.

        Works after `setup()` or after `load_state_dict()` alone (no data files needed).
        """
        if self._transform is None:
            raise RuntimeError("transform_inputs needs setup() or load_state_dict(state) first")
        return self._transform.apply(x_raw)

    @property
    def target_transform(self) -> TargetTransform:
        """The fitted target scaler (the identity without normalize_targets), after setup or load_state_dict."""
        return self._targets

    def inverse_transform_targets(self, y: np.ndarray) -> np.ndarray:
        """Model outputs (..., targets) → the targets' own units (the identity without normalize_targets)."""
        return self._targets.invert(y)

    def state_dict(self) -> dict[str, Any]:
        """The fitted input transform and dims; Lightning stores it in checkpoints under this class's name.

        Built anew at every call and never changed afterwards: `BufferedModelCheckpoint` keeps it uncopied."""
        if self._transform is None:
            return {}
        return {**self._transform.state_dict(), **self._targets.state_dict(), "input_dims": self.input_dims,
                "output_dims": self.output_dims, "feature_select": _describe(self.feature_select),
                "normalize_inputs": self._transform.mean is not None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the input transform (e.g. for predict when the data directory is gone)."""
        if not state_dict:
            return
        transform = InputTransform.from_state_dict(state_dict)
        targets = TargetTransform.from_state_dict(state_dict)
        if self._tensors:  # set up already (Lightning restores after setup when resuming a fit)
            _check_same_inputs(data=self._transform, checkpoint=transform)
            _check_same_targets(data=self._targets, checkpoint=targets)
            return
        self._transform = transform
        self._targets = targets
        self.input_dims = transform.input_dims
        self.output_dims = int(state_dict.get("output_dims")) if state_dict.get("output_dims") else None

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path | Mapping[str, Any],
                        weights_only: bool = False) -> ArrayRegressionDataModule:
        """A module holding only a checkpoint's input transform, ready for `transform_inputs`.

        `checkpoint` is a path or an already loaded checkpoint dict. `weights_only=False` matches loading
        your own runs' checkpoints (model hyperparameters may hold modules); use True for untrusted files.
        """
        if not isinstance(checkpoint, Mapping):
            checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=weights_only)
        state = checkpoint.get(cls.__qualname__)
        if not state:
            raise DataError(f"the checkpoint holds no {cls.__qualname__} state — it was not trained by "
                            "crescendo with this data module, so its input scaler is unknown")
        hparams = dict(checkpoint.get("datamodule_hyper_parameters") or {})
        known = {"data_dir", "builtin", "batch_size", "normalize_inputs", "feature_select",
                 "production_mode", "ensemble_split", "num_workers", "pin_memory", "drop_last", "normalize_targets"}
        module = cls(**{k: v for k, v in hparams.items() if k in known})
        module.load_state_dict(state)
        return module


def _check_same_inputs(data: InputTransform, checkpoint: InputTransform) -> None:
    """A checkpoint restored next to data must describe the same input columns; the data's scaler wins."""
    if data.same_as(checkpoint):
        return
    same_columns = data.raw_input_dims == checkpoint.raw_input_dims and (
        (data.columns is None and checkpoint.columns is None)
        or (data.columns is not None and checkpoint.columns is not None
            and np.array_equal(data.columns, checkpoint.columns)))
    if not same_columns:
        raise DataError(
            f"the checkpoint's inputs are {checkpoint.input_dims} of {checkpoint.raw_input_dims} raw feature "
            f"columns but the data gives {data.input_dims} of {data.raw_input_dims} — use the data and "
            "data.feature_select the checkpoint was trained with"
        )
    warnings.warn("the input scaler fitted on the current data differs from the checkpoint's (the training "
                  "data changed); using the one fitted on the current data", UserWarning, stacklevel=3)


def _check_same_targets(data: TargetTransform, checkpoint: TargetTransform) -> None:
    """Resuming with other target settings would continue training on other units: refuse it."""
    if data.active != checkpoint.active:
        raise DataError(f"the checkpoint was trained with data.normalize_targets={str(checkpoint.active).lower()} "
                        f"but this run sets {str(data.active).lower()} — use the setting it was trained with")
    if not data.same_as(checkpoint):
        warnings.warn("the target scaler fitted on the current data differs from the checkpoint's (the training "
                      "data changed); using the one fitted on the current data", UserWarning, stacklevel=3)


def shard_rows(n_rows: int, rank: int, world_size: int) -> torch.Tensor:
    """Rank `rank`'s fixed share of `n_rows`: every world_size-th row, padded (repeating the first rows)
    so every rank gets the same count and DDP ranks take the same number of steps."""
    per_rank = -(-n_rows // world_size)
    return (torch.arange(per_rank * world_size) % n_rows)[rank::world_size]


def _check_n_members(n_members: object, ensemble: Any) -> int | None:
    """`n_members` as an int (None when unset); with an ensemble split, at most n_splits members."""
    if n_members is None:
        return None
    is_int = isinstance(n_members, (int, np.integer)) and not isinstance(n_members, (bool, np.bool_))
    if not is_int or n_members < 1:
        raise ConfigError(f"data.n_members: {n_members!r} is not an int >= 1 or null — it follows model.n_members")
    if ensemble is not None and n_members > ensemble.n_splits:
        raise ConfigError(
            f"data.ensemble_split.n_splits: {ensemble.n_splits} splits for {n_members} ensemble members — each "
            f"member trains on its own split, so set data.ensemble_split.n_splits >= {n_members} (by default "
            "it follows model.n_members)"
        )
    return int(n_members)


def _check_batch_size(batch_size: object) -> int:
    is_int = isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, (bool, np.bool_))
    if not is_int or batch_size <= 0:
        raise ConfigError(f"data.batch_size: {batch_size!r} is not a positive int — set e.g. data.batch_size=64")
    return int(batch_size)


def _plain(value: Any) -> Any:
    """OmegaConf containers (what Hydra passes) → plain Python, so hparams and checkpoints stay simple."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    from omegaconf import OmegaConf

    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return dict(value) if isinstance(value, Mapping) else value


def _describe(feature_select: Any) -> str | None:
    return None if feature_select is None else str(feature_select)
