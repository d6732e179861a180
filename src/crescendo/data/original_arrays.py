"""The original Crescendo 0.0.4's array attributes on `ArrayRegressionDataModule`, for its notebooks.

0.0.4 users read `datamodule.X_train`, `Y_val`, `X_test_scaled`, ... straight after building the
module. These read the files lazily, each on first use, and load only what is asked for: a directory
with just X_train.npy and Y_train.npy gives `X_train`; asking for `X_val` there is a `DataError`
naming the missing file. Training does not use them — `setup()` prepares its own tensors (and still
requires the validation files) — so they cost nothing unless read. Their meanings are 0.0.4's:

- `X_train`, `Y_train`: the training rows, unscaled, as loaded (dtype and shape kept) — merged with
  val (and test, when present) in production mode, and only this member's rows when
  `ensemble_split` is enabled for one member; `feature_select` applied to X.
- `X_val`, `X_test` (feature_select applied), `Y_val`, `Y_test`: as loaded.
- `X_train_scaled`, `X_val_scaled`, `X_test_scaled`: the same inputs standard-scaled with the scaler
  fitted on `X_train` (what training feeds the model); `normalize_inputs=False` has none.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from crescendo.errors import ConfigError, DataError

_FILES = "X_train.npy Y_train.npy X_val.npy Y_val.npy (X_test.npy Y_test.npy optional)"


class OriginalArrays:
    """Mixin: 0.0.4's `X_train` ... `Y_test` and `X_*_scaled` (our spelling: `setup()` then the loaders,
    or `transform_inputs` for new inputs). Needs `data_dir`, `builtin`, `feature_select`,
    `production_mode`, `ensemble_split`, `n_members` and `normalize_inputs` attributes."""

    data_dir: str | None
    builtin: str | None
    feature_select: Any
    production_mode: bool
    ensemble_split: Any
    n_members: int | None
    normalize_inputs: bool

    # ------------------------------------------------------------ raw arrays
    @cached_property
    def X_train(self) -> np.ndarray:  # 0.0.4's name
        """0.0.4's training inputs, unscaled (see the module doc); ours: `train_dataloader()` after `setup()`."""
        return self._select(self._train_rows(self._merged("X")))

    @cached_property
    def Y_train(self) -> np.ndarray:
        """0.0.4's training targets, as loaded, the rows of `X_train`; ours: `train_dataloader()` after `setup()`."""
        return self._train_rows(self._merged("Y"))

    @cached_property
    def X_val(self) -> np.ndarray:
        """0.0.4's validation inputs, unscaled; ours: `val_dataloader()` after `setup()` (scaled)."""
        return self._select(self._array("X", "val"))

    @cached_property
    def Y_val(self) -> np.ndarray:
        """0.0.4's validation targets, as loaded; ours: `val_dataloader()` after `setup()`."""
        return self._array("Y", "val")

    @cached_property
    def X_test(self) -> np.ndarray:
        """0.0.4's test inputs, unscaled; ours: `test_dataloader()` after `setup()` (scaled)."""
        return self._select(self._array("X", "test"))

    @cached_property
    def Y_test(self) -> np.ndarray:
        """0.0.4's test targets, as loaded; ours: `test_dataloader()` after `setup()`."""
        return self._array("Y", "test")

    # ------------------------------------------------------------ scaled inputs
    @cached_property
    def X_train_scaled(self) -> np.ndarray:
        """`X_train` standard-scaled by the scaler fitted on it; ours: `transform_inputs(raw)` after `setup()`."""
        return self._scaled(self.X_train)

    @cached_property
    def X_val_scaled(self) -> np.ndarray:
        """`X_val` scaled like `X_train_scaled`; ours: `transform_inputs(raw)` after `setup()`."""
        return self._scaled(self.X_val)

    @cached_property
    def X_test_scaled(self) -> np.ndarray:
        """`X_test` scaled like `X_train_scaled`; ours: `transform_inputs(raw)` after `setup()`."""
        return self._scaled(self.X_test)

    # ------------------------------------------------------------ helpers
    def _array(self, role: str, split: str) -> np.ndarray:
        """One file (or built-in split) as loaded; a missing one is a DataError naming it."""
        if self.builtin is not None:
            from crescendo.data.builtin import load_builtin

            splits = load_builtin(self.builtin)
            if split not in splits:
                raise DataError(f"data.builtin={self.builtin} has no {split} split — read X_train or X_val")
            return splits[split][0 if role == "X" else 1]
        from crescendo.data.loading import _check_data_dir, load_npy

        path = Path(_check_data_dir(self.data_dir)) / f"{role}_{split}.npy"
        if not path.is_file():
            raise DataError(f"data.data_dir: {path.parent} has no {path.name} — {role}_{split} is read from "
                            f"it; add the file (expected {_FILES})")
        return load_npy(path)

    def _merged(self, role: str) -> np.ndarray:
        """The training split, with val (and test, when present) appended in production mode."""
        arrays = [self._array(role, "train")]
        if self.production_mode:
            arrays.append(self._array(role, "val"))
            if self._has_test():
                arrays.append(self._array(role, "test"))
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    def _has_test(self) -> bool:
        if self.builtin is not None:
            return True
        from crescendo.data.loading import _check_data_dir

        directory = Path(_check_data_dir(self.data_dir))
        return (directory / "X_test.npy").is_file() and (directory / "Y_test.npy").is_file()

    def _train_rows(self, array: np.ndarray) -> np.ndarray:
        """This member's rows under an enabled `ensemble_split` (all rows for a batched ensemble)."""
        from crescendo.data.splits import member_rows, parse_ensemble_split

        split = parse_ensemble_split(self.ensemble_split)
        if split is None or self.n_members is not None:
            return array
        return array[member_rows(len(array), split)]

    def _select(self, x: np.ndarray) -> np.ndarray:
        from crescendo.data.splits import select_columns

        if x.ndim != 2:
            return x
        columns = select_columns(self.feature_select, x.shape[1])
        return x if columns is None else x[:, columns]

    @cached_property
    def _original_scaler(self) -> Any:
        if not self.normalize_inputs:
            raise ConfigError("data.normalize_inputs=false: no scaled inputs exist — read X_train etc., or "
                              "build the module with normalize_inputs=True")
        from crescendo.data.loading import check_array
        from crescendo.data.transform import InputTransform

        x = check_array(self.X_train, "X_train", "X")
        return InputTransform.fit(x, x.shape[1], None, True)

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        return self._original_scaler.scale_selected(np.asarray(x, dtype=np.float64))
