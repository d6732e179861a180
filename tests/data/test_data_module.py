"""ArrayRegressionDataModule: splits, scaling, feature selection, modes, loaders, checkpoint state."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

import crescendo.data.array
from crescendo.data import ArrayRegressionDataModule
from crescendo.errors import DataError

# tiny splits: the default batch_size (64) is clamped with a warning, tested in test_data_errors.py
pytestmark = pytest.mark.filterwarnings("ignore:data.batch_size")


def raw(directory: Path, name: str) -> np.ndarray:
    return np.load(directory / f"{name}.npy").astype(np.float32)


def all_rows(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def fake_trainer(world_size: int = 1, rank: int = 0, overfit_batches: float = 0.0) -> SimpleNamespace:
    return SimpleNamespace(world_size=world_size, global_rank=rank, overfit_batches=overfit_batches,
                           strategy=SimpleNamespace(root_device=torch.device("cpu")))


def test_importable_from_both_paths():
    assert crescendo.data.array.ArrayRegressionDataModule is ArrayRegressionDataModule


def test_diabetes_builtin():
    dm = ArrayRegressionDataModule(builtin="diabetes")
    dm.setup()
    assert (dm.input_dims, dm.output_dims) == (10, 1)
    assert (dm.n_train, dm.n_val, dm.n_test) == (353, 44, 45)
    x, y = all_rows(dm.val_dataloader())
    assert x.shape == (44, 10) and y.shape == (44, 1) and x.dtype == y.dtype == torch.float32
    again = ArrayRegressionDataModule(builtin="diabetes")
    again.setup()
    assert torch.equal(all_rows(again.test_dataloader())[1], all_rows(dm.test_dataloader())[1])  # fixed split


def test_splits_dims_and_float32(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=8)
    dm.setup()
    assert (dm.input_dims, dm.output_dims, dm.n_train, dm.n_val, dm.n_test) == (4, 2, 20, 7, 5)
    assert dm.effective_batch_size == 8
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        x, y = next(iter(loader))
        assert x.dtype == y.dtype == torch.float32


def test_one_dimensional_targets_become_a_column(make_dir):
    dm = ArrayRegressionDataModule(data_dir=str(make_dir(targets=None)))
    dm.setup()
    assert dm.output_dims == 1
    assert all_rows(dm.val_dataloader())[1].shape == (7, 1)


def test_no_test_split(make_dir):
    dm = ArrayRegressionDataModule(data_dir=str(make_dir(n_test=None)))
    dm.setup()
    assert dm.n_test == 0 and len(dm.test_dataloader()) == 0 and list(dm.test_dataloader()) == []


def test_scaler_is_fit_on_train_only(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir))
    dm.setup()
    train = dm._tensors["train"][0].numpy()
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-4)
    val = all_rows(dm.val_dataloader())[0].numpy()
    assert np.abs(val.mean(axis=0)).max() > 1e-3  # val is scaled with the train statistics, not its own
    expected = StandardScaler().fit(raw(data_dir, "X_train")).transform(raw(data_dir, "X_val"))
    np.testing.assert_allclose(val, expected, rtol=1e-5, atol=1e-5)


def test_without_normalization_inputs_are_raw(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), normalize_inputs=False)
    dm.setup()
    assert torch.equal(all_rows(dm.val_dataloader())[0], torch.from_numpy(raw(data_dir, "X_val")))


@pytest.mark.parametrize(("spec", "columns"), [
    ("0:1,2:4", [0, 2, 3]), ("2", [2]), (":2", [0, 1]), ("2:", [2, 3]), ("3,0:2", [3, 0, 1]),
    (["0:1", 3], [0, 3]), (1, [1]),
])
def test_feature_select(data_dir, spec, columns):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), feature_select=spec)
    dm.setup()
    assert dm.input_dims == len(columns)
    scaler = StandardScaler().fit(raw(data_dir, "X_train")[:, columns])
    expected = scaler.transform(raw(data_dir, "X_val")[:, columns])
    np.testing.assert_allclose(all_rows(dm.val_dataloader())[0].numpy(), expected, rtol=1e-5, atol=1e-5)


def test_feature_select_from_hydra_list(data_dir):
    from omegaconf import OmegaConf

    dm = ArrayRegressionDataModule(data_dir=str(data_dir), feature_select=OmegaConf.create(["0:2", "3"]))
    dm.setup()
    assert dm.input_dims == 3 and dm.feature_select == ["0:2", "3"]


def test_production_mode_merges_val_and_test_into_train(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), production_mode=True, normalize_inputs=False)
    dm.setup()
    assert dm.production_mode and (dm.n_train, dm.n_val, dm.n_test) == (32, 7, 5)
    train_x = dm._tensors["train"][0]
    merged = np.concatenate([raw(data_dir, f"X_{s}") for s in ("train", "val", "test")])
    assert torch.equal(train_x, torch.from_numpy(merged))
    assert torch.equal(all_rows(dm.val_dataloader())[0], torch.from_numpy(raw(data_dir, "X_val")))
    assert len(all_rows(dm.test_dataloader())[0]) == 5


def test_ensemble_members_hold_out_disjoint_folds_covering_train(data_dir):
    n_splits, held_out = 3, []
    for index in range(n_splits):
        dm = ArrayRegressionDataModule(data_dir=str(data_dir), normalize_inputs=False, ensemble_split={
            "enable": True, "index": index, "n_splits": n_splits, "shuffle": True, "random_state": 7})
        dm.setup()
        assert dm.n_train == len(dm.train_rows) < 20
        assert torch.equal(dm._tensors["train"][0], torch.from_numpy(raw(data_dir, "X_train")[dm.train_rows]))
        assert dm.n_val == 7  # validation is untouched
        held_out.append(set(range(20)) - set(dm.train_rows.tolist()))
    assert sum(len(fold) for fold in held_out) == 20
    assert set().union(*held_out) == set(range(20))


def test_ensemble_scaler_fit_on_member_rows_and_disabled_split(data_dir):
    from omegaconf import OmegaConf

    split = OmegaConf.create({"enable": True, "index": 1, "n_splits": 4, "shuffle": False, "random_state": None})
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), ensemble_split=split)
    dm.setup()
    assert dm.train_rows.tolist() == [*range(0, 5), *range(10, 20)]  # unshuffled KFold holds out rows 5..9
    np.testing.assert_allclose(dm._tensors["train"][0].numpy().mean(axis=0), 0.0, atol=1e-5)
    off = ArrayRegressionDataModule(data_dir=str(data_dir), ensemble_split={"enable": False, "index": 9})
    off.setup()
    assert off.n_train == 20


def test_production_mode_with_ensemble_splits_the_merged_rows(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), production_mode=True,
                                   ensemble_split={"enable": True, "index": 0, "n_splits": 4})
    dm.setup()
    assert dm.n_train == 24 and dm.train_rows.max() < 32


def test_val_and_test_keep_every_row_in_order(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=3)
    dm.setup()
    val = dm.val_dataloader()
    assert [len(x) for x, _ in val] == [3, 3, 1] and len(val) == 3
    assert torch.equal(all_rows(val)[1], torch.from_numpy(raw(data_dir, "Y_val")))
    assert torch.equal(all_rows(dm.test_dataloader())[1], torch.from_numpy(raw(data_dir, "Y_test")))


def test_training_batches_shuffle_every_epoch_and_repeat_under_seed(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=6)
    dm.setup()
    loader = dm.train_dataloader()
    assert [len(x) for x, _ in loader] == [6, 6, 6, 2] and len(loader) == 4

    def epochs():
        torch.manual_seed(123)
        return [all_rows(loader)[1] for _ in range(2)]

    first, second = epochs()
    assert not torch.equal(first, second)  # a new order each epoch
    expected_rows = torch.from_numpy(raw(data_dir, "Y_train"))
    for epoch in (first, second):  # every row exactly once per epoch
        assert torch.equal(epoch[torch.argsort(epoch[:, 0])], expected_rows[torch.argsort(expected_rows[:, 0])])
    again = epochs()
    assert all(torch.equal(a, b) for a, b in zip(again, (first, second)))


def test_overfit_batches_turns_shuffling_off(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=6)
    dm.setup()
    dm.trainer = fake_trainer(overfit_batches=1)
    assert torch.equal(all_rows(dm.train_dataloader())[1], torch.from_numpy(raw(data_dir, "Y_train")))


def test_ddp_ranks_get_disjoint_equal_shards(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=4)
    dm.setup()
    shards = []
    for rank in range(3):
        dm.trainer = fake_trainer(world_size=3, rank=rank)
        loader = dm.train_dataloader()
        shards.append(all_rows(loader)[1])
        assert len(loader) == 2  # 20 rows padded to 21 -> 7 per rank -> batches of 4 + 3
    rows = torch.cat(shards)
    assert len(rows) == 21 and len(torch.unique(rows, dim=0)) == 20  # one padded repeat
    dm.trainer = fake_trainer(world_size=3, rank=0)
    assert len(all_rows(dm.val_dataloader())[1]) == 7  # evaluation is not sharded


def test_setup_is_idempotent(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir))
    dm.setup("fit")
    tensors = dm._tensors["train"][0]
    for path in data_dir.iterdir():
        path.unlink()
    dm.setup("test")
    assert dm._tensors["train"][0] is tensors


def test_setup_reuses_the_last_prepared_data_until_a_file_or_setting_changes(data_dir):
    import os

    first = ArrayRegressionDataModule(data_dir=str(data_dir))
    first.setup()
    again = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=5)  # batch size is not data
    again.setup()
    assert again._tensors["train"][0] is first._tensors["train"][0] and again.effective_batch_size == 5
    narrow = ArrayRegressionDataModule(data_dir=str(data_dir), feature_select="0:2")
    narrow.setup()
    assert narrow.input_dims == 2
    # a file rewritten with other values (same size) is read again
    path = data_dir / "X_train.npy"
    stat = path.stat()
    np.save(path, np.load(path) + 1.0)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = ArrayRegressionDataModule(data_dir=str(data_dir))  # the same settings as `first`
    changed.setup()
    assert changed._tensors["train"][0] is not first._tensors["train"][0]
    # the scaler was fit again: the shifted training inputs scale to the same values, the others 1/scale lower
    assert torch.allclose(changed._tensors["train"][0], first._tensors["train"][0], atol=1e-5)
    assert not torch.allclose(changed._tensors["val"][0], first._tensors["val"][0])


def test_loaders_set_up_on_demand(data_dir):
    assert len(ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=5).val_dataloader()) == 2


def test_state_dict_round_trip_without_data(data_dir, tmp_path):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), feature_select="1:4")
    dm.setup()
    x_new = np.random.default_rng(1).normal(size=(6, 4))
    expected = dm.transform_inputs(x_new)
    assert expected.dtype == np.float32 and expected.shape == (6, 3)
    torch.save(dm.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)  # plain values only
    fresh = ArrayRegressionDataModule()
    fresh.load_state_dict(state)
    assert (fresh.input_dims, fresh.output_dims) == (3, 2)
    np.testing.assert_array_equal(fresh.transform_inputs(x_new), expected)
    np.testing.assert_array_equal(dm.transform_inputs(raw(data_dir, "X_val")),
                                  all_rows(dm.val_dataloader())[0].numpy())


def test_transform_inputs_checks_shape_and_values(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), feature_select="0:2")
    with pytest.raises(RuntimeError, match="setup"):
        dm.transform_inputs(np.zeros((2, 4)))
    dm.setup()
    for bad in (np.zeros((2, 2)), np.zeros(4), np.zeros((2, 4, 1))):
        with pytest.raises(DataError, match=r"expects \(n, 4\)"):
            dm.transform_inputs(bad)
    with pytest.raises(DataError, match="1 NaN"):
        dm.transform_inputs(np.array([[0.0, np.nan, 0.0, 0.0]]))


def test_restoring_a_checkpoint_for_other_columns_is_refused(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), feature_select="0:2")
    dm.setup()
    other = ArrayRegressionDataModule(data_dir=str(data_dir))
    other.setup()
    with pytest.raises(DataError, match="feature_select the checkpoint was trained with"):
        other.load_state_dict(dm.state_dict())
    fresh = ArrayRegressionDataModule(data_dir=str(data_dir))
    fresh.load_state_dict(dm.state_dict())
    with pytest.raises(DataError, match="checkpoint's inputs are 2 of 4"):
        fresh.setup()


def test_lightning_fit_stores_the_scaler_in_the_checkpoint(data_dir, tmp_path):
    import lightning as L

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val/loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=8)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(Tiny(), datamodule=dm)
    assert trainer.num_training_batches == 3
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = ArrayRegressionDataModule.from_checkpoint(path)
    assert restored.data_dir == str(data_dir) and restored.input_dims == 4
    x_new = raw(data_dir, "X_test")
    np.testing.assert_array_equal(restored.transform_inputs(x_new), dm.transform_inputs(x_new))
