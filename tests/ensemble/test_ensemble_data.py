"""Member splits for a batched ensemble: `MemberBatches` and the data module's `n_members`."""

from __future__ import annotations

import functools
import logging

import lightning as L
import numpy as np
import pytest
import torch

from crescendo.data import ArrayRegressionDataModule, EnsembleSplit, member_rows
from crescendo.data.loaders import MemberBatches, TensorBatches
from crescendo.errors import ConfigError
from crescendo.models.ensemble import BatchedEnsemble
from helpers import write_arrays


def test_member_batches_take_each_members_rows_only():
    x = torch.arange(20, dtype=torch.float32)[:, None].repeat(1, 3)  # row i holds the value i
    y = torch.arange(20, dtype=torch.float32)[:, None]
    rows = [torch.arange(0, 10), torch.arange(10, 19), torch.arange(5, 15)]
    loader = MemberBatches(x, y, rows, batch_size=4)
    assert len(loader) == 3 and loader.n_rows_per_pass == 9  # the smallest member's rows
    seen = [[] for _ in rows]
    for xb, yb in loader:
        assert xb.shape[:2] == yb.shape[:2] and xb.shape[0] == 3 and xb.shape[2] == 3
        assert torch.equal(xb[..., 0:1], yb)
        for k in range(3):
            seen[k] += xb[k, :, 0].long().tolist()
    for k, member in enumerate(rows):
        assert set(seen[k]) <= set(member.tolist()) and len(set(seen[k])) == 9
    torch.manual_seed(1)
    first = [b[0].clone() for b in loader]
    torch.manual_seed(1)
    assert all(torch.equal(a, b[0]) for a, b in zip(first, loader))  # the seed repeats the order


def test_member_batches_drop_a_last_batch_of_one_row():
    x, y = torch.randn(9, 2), torch.randn(9, 1)
    loader = MemberBatches(x, y, [torch.arange(9), torch.arange(9)], batch_size=4, drop_single_last=True)
    assert [b[0].shape[1] for b in loader] == [4, 4]


def _module(data_dir, **kwargs) -> ArrayRegressionDataModule:
    module = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=8, **kwargs)
    module.setup("fit")
    return module


def test_data_module_gives_each_member_its_kfold_split(tmp_path):
    data = write_arrays(tmp_path / "data", rows=(30, 8, 0))
    split = {"enable": True, "n_splits": 3, "index": 0, "shuffle": True, "random_state": 0}
    module = _module(data, ensemble_split=split, n_members=3)
    assert module.n_train == 30 and len(module.member_train_rows) == 3
    for k, rows in enumerate(module.member_train_rows):
        assert np.array_equal(rows, member_rows(30, EnsembleSplit(k, 3, True, 0)))
    held_out = [np.setdiff1d(np.arange(30), rows) for rows in module.member_train_rows]
    assert np.array_equal(np.sort(np.concatenate(held_out)), np.arange(30))  # disjoint folds cover all
    loader = module.train_dataloader()
    assert isinstance(loader, MemberBatches)
    xb, yb = next(iter(loader))
    assert xb.shape == (3, 8, 5) and yb.shape == (3, 8, 2)
    assert isinstance(module.val_dataloader(), TensorBatches)
    # without a split every member shares the batch; without n_members it is the single-run split
    assert isinstance(_module(data, n_members=3).train_dataloader(), TensorBatches)
    assert _module(data, ensemble_split=split).n_train == 20


def test_more_members_than_splits_is_a_config_error(tmp_path):
    data = write_arrays(tmp_path / "data", rows=(30, 8, 0))
    with pytest.raises(ConfigError, match="data.ensemble_split.n_splits: 3 splits for 4 ensemble members"):
        _module(data, ensemble_split={"enable": True, "n_splits": 3, "index": 0}, n_members=4)
    with pytest.raises(ConfigError, match="data.n_members"):
        _module(data, n_members=0)


def test_each_member_learns_only_from_its_split(tmp_path):
    """Targets are a constant per KFold fold; member k never sees fold k, so it learns the mean of
    the other folds' constants — a different value for each member."""
    n, folds, constants = 30, 3, np.array([0.0, 3.0, 9.0])
    y = np.zeros((n, 1), np.float32)
    for k in range(folds):
        held_out = np.setdiff1d(np.arange(n), member_rows(n, EnsembleSplit(k, folds, True, 0)))
        y[held_out] = constants[k]
    rng = np.random.default_rng(0)
    directory = tmp_path / "data"
    directory.mkdir()
    for split, rows, target in (("train", n, y), ("val", 6, np.zeros((6, 1), np.float32))):
        np.save(directory / f"X_{split}.npy", (0.01 * rng.normal(size=(rows, 2))).astype(np.float32))
        np.save(directory / f"Y_{split}.npy", target)
    module = ArrayRegressionDataModule(data_dir=str(directory), batch_size=20, normalize_inputs=False,
                                       ensemble_split={"enable": True, "n_splits": folds, "index": 0},
                                       n_members=folds)
    torch.manual_seed(0)
    model = BatchedEnsemble(2, 1, n_members=folds, architecture=0,
                            optimizer=functools.partial(torch.optim.Adam, lr=0.3))
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    trainer = L.Trainer(max_epochs=60, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(model, datamodule=module)
    with torch.no_grad():
        learned = model.eval().predict_members(torch.zeros(1, 2))[:, 0, 0]
    expected = torch.tensor([(constants.sum() - c) / 2 for c in constants], dtype=torch.float32)  # 6, 4.5, 1.5
    assert torch.allclose(learned, expected, atol=0.3), (learned, expected)
