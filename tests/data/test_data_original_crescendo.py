"""The original Crescendo 0.0.4's face of `ArrayRegressionDataModule`: its keyword arguments, its
`X_train` ... `Y_test` / `X_*_scaled` attributes, loading only what is present, and its
`dataloader_kwargs` (batch_size, num_workers, pin_memory, drop_last) honoured by the train loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_arrays, write_arrays

from crescendo.data import ArrayRegressionDataModule
from crescendo.errors import ConfigError, DataError

#: 0.0.4's configs/data/common_data.yaml values, as its users pass them
ORIGINAL_KWARGS = {
    "normalize_inputs": True,
    "ensemble_split": {"index": None, "n_splits": 20, "shuffle": True, "random_state": 42, "enable": False},
    "dataloader_kwargs": {"batch_size": 8, "num_workers": 0, "pin_memory": False, "drop_last": True},
    "feature_select": None,
    "production_mode": False,
}


def int_columns(rows: int = 12, columns: int = 10) -> np.ndarray:
    """Column j holds j in every row (0.0.4's `X_array_int_cols` fixture)."""
    return np.tile(np.arange(columns), (rows, 1))


def test_train_files_only_and_feature_select_as_in_the_original_test(tmp_path):
    # shaped like 0.0.4's crescendo/_tests/test_data.py: only X_train/Y_train on disk
    d = write_arrays(tmp_path / "d", {"X_train.npy": int_columns(), "Y_train.npy": int_columns(columns=3)})

    datamodule = ArrayRegressionDataModule(data_dir=d, normalize_inputs=False, feature_select="0:5")
    assert datamodule.X_train.shape[1] == 5
    for ii, column in enumerate(datamodule.X_train.T):
        assert column[0] == ii

    datamodule = ArrayRegressionDataModule(data_dir=d, normalize_inputs=False, feature_select="0:3,6:9")
    assert datamodule.X_train.shape[1] == 6
    for value, column in zip([0, 1, 2, 6, 7, 8], datamodule.X_train.T):
        assert column[0] == value
    assert datamodule.Y_train.shape == (12, 3)


def test_a_missing_split_is_an_error_only_when_it_is_needed(tmp_path):
    d = write_arrays(tmp_path / "d", {"X_train.npy": int_columns(), "Y_train.npy": int_columns(columns=1)})
    datamodule = ArrayRegressionDataModule(data_dir=str(d), **ORIGINAL_KWARGS)
    assert datamodule.X_train_scaled.shape == (12, 10)  # built and read without val/test files
    with pytest.raises(DataError, match=r"has no X_val\.npy"):
        _ = datamodule.X_val
    with pytest.raises(DataError, match=r"has no Y_test\.npy"):
        _ = datamodule.Y_test
    with pytest.raises(DataError, match=r"has no X_val\.npy, Y_val\.npy"):  # training needs val
        datamodule.setup("fit")


def test_every_split_raw_and_scaled_with_the_original_kwargs(tmp_path):
    arrays = tiny_arrays(n_train=20, n_val=7, n_test=5, features=4, targets=2)
    d = write_arrays(tmp_path / "d", arrays)
    datamodule = ArrayRegressionDataModule(data_dir=str(d), **ORIGINAL_KWARGS)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(datamodule, f"X_{split}"), arrays[f"X_{split}.npy"])
        np.testing.assert_array_equal(getattr(datamodule, f"Y_{split}"), arrays[f"Y_{split}.npy"])
    scaled = datamodule.X_train_scaled
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-4)
    # the scaled arrays are what training feeds the model: the same scaler as setup() fits
    datamodule.setup("fit")
    np.testing.assert_allclose(datamodule.X_val_scaled, datamodule.transform_inputs(arrays["X_val.npy"]), rtol=1e-5)
    np.testing.assert_allclose(datamodule.X_test_scaled, datamodule.transform_inputs(arrays["X_test.npy"]),
                               rtol=1e-5)
    assert datamodule.batch_size == 8 and datamodule.drop_last and not datamodule.pin_memory


def test_production_mode_and_ensemble_split_shape_x_train_as_in_the_original(tmp_path):
    d = write_arrays(tmp_path / "d", tiny_arrays(n_train=20, n_val=7, n_test=5))
    merged = ArrayRegressionDataModule(data_dir=str(d), **{**ORIGINAL_KWARGS, "production_mode": True})
    assert merged.X_train.shape[0] == merged.Y_train.shape[0] == 32
    split = {"index": 1, "n_splits": 4, "shuffle": True, "random_state": 42, "enable": True}
    member = ArrayRegressionDataModule(data_dir=str(d), **{**ORIGINAL_KWARGS, "ensemble_split": split})
    assert member.X_train.shape[0] == member.Y_train.shape[0] == 15  # 3 of 4 folds of 20 rows


def test_without_normalize_inputs_there_are_no_scaled_arrays(tmp_path):
    d = write_arrays(tmp_path / "d", tiny_arrays())
    datamodule = ArrayRegressionDataModule(data_dir=str(d), **{**ORIGINAL_KWARGS, "normalize_inputs": False})
    with pytest.raises(ConfigError, match="data.normalize_inputs=false"):
        _ = datamodule.X_train_scaled


def test_dataloader_kwargs_set_the_same_settings_as_ours():
    datamodule = ArrayRegressionDataModule(builtin="diabetes", dataloader_kwargs={"batch_size": 16})
    assert datamodule.batch_size == 16 and datamodule.hparams["batch_size"] == 16
    same = ArrayRegressionDataModule(builtin="diabetes", batch_size=16, dataloader_kwargs={"batch_size": 16})
    assert same.batch_size == 16
    assert ArrayRegressionDataModule(builtin="diabetes").batch_size == 64  # neither given: our default


def test_both_spellings_with_different_values_name_both_keys():
    datamodule = ArrayRegressionDataModule(builtin="diabetes", batch_size=32, drop_last=False,
                                           dataloader_kwargs={"batch_size": 64, "drop_last": True})
    with pytest.raises(ConfigError) as error:  # construction never fails: errors belong to setup()
        datamodule.setup("fit")
    message = str(error.value)
    assert "data.dataloader_kwargs.batch_size=64: must equal data.batch_size=32" in message
    assert "; data.dataloader_kwargs.drop_last=true: must equal data.drop_last=false" in message
    with pytest.raises(ConfigError, match="data.dataloader_kwargs: unknown key.s. shuffle"):
        ArrayRegressionDataModule(builtin="diabetes", dataloader_kwargs={"shuffle": True}).setup()


def _train_batch_sizes(d: Path, **kwargs) -> list[int]:
    datamodule = ArrayRegressionDataModule(data_dir=str(d), **kwargs)
    datamodule.setup("fit")
    return [len(x) for x, _ in datamodule.train_dataloader()]


def test_drop_last_drops_the_last_partial_training_batch(tmp_path):
    d = write_arrays(tmp_path / "d", tiny_arrays(n_train=20))
    assert _train_batch_sizes(d, dataloader_kwargs={"batch_size": 8, "drop_last": True}) == [8, 8]
    assert _train_batch_sizes(d, batch_size=8, drop_last=True) == [8, 8]
    assert _train_batch_sizes(d, batch_size=8) == [8, 8, 4]  # our default keeps it
    # validation keeps every row whatever drop_last says
    datamodule = ArrayRegressionDataModule(data_dir=str(d), batch_size=5, drop_last=True)
    datamodule.setup("fit")
    assert sum(len(x) for x, _ in datamodule.val_dataloader()) == 7


def test_pin_memory_pins_the_training_tensors_only_with_cuda(tmp_path):
    d = write_arrays(tmp_path / "d", tiny_arrays(n_train=20))
    datamodule = ArrayRegressionDataModule(data_dir=str(d), dataloader_kwargs={"pin_memory": True, "batch_size": 8})
    datamodule.setup("fit")
    x, _ = next(iter(datamodule.train_dataloader()))
    assert datamodule.pin_memory
    assert x.is_pinned() == torch.cuda.is_available()  # a no-op on a machine without CUDA
    plain = ArrayRegressionDataModule(data_dir=str(d), batch_size=8)
    plain.setup("fit")
    assert not next(iter(plain.train_dataloader()))[0].is_pinned()
