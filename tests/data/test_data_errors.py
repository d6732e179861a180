"""Every data problem is one DataError/ConfigError naming the file or key, raised in setup()."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crescendo.data import ArrayRegressionDataModule
from crescendo.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore:data.batch_size")


def setup_error(exc_type, match: str, **kwargs) -> str:
    dm = ArrayRegressionDataModule(**kwargs)  # construction never fails: errors belong to setup()
    with pytest.raises(exc_type, match=match) as info:
        dm.setup()
    return str(info.value)


@pytest.mark.parametrize("data_dir", [None, ""])
def test_data_dir_missing_says_how_to_set_it(data_dir):
    message = setup_error(DataError, "data.data_dir", data_dir=data_dir)
    assert "data.data_dir=DIR" in message and "+data.data_dir=DIR" in message and "data=diabetes" in message


def test_data_dir_does_not_exist(tmp_path: Path):
    setup_error(DataError, re.escape(f"data.data_dir: {tmp_path / 'nope'} does not exist"),
                data_dir=tmp_path / "nope")


def test_data_dir_is_a_file(tmp_path: Path):
    (tmp_path / "f").write_text("x")
    setup_error(DataError, "is not a directory", data_dir=str(tmp_path / "f"))


def test_missing_files_are_all_listed(make_dir):
    directory = make_dir(replace={"X_val.npy": None, "Y_val.npy": None, "Y_train.npy": None})
    message = setup_error(DataError, "data.data_dir", data_dir=str(directory))
    assert "has no Y_train.npy, X_val.npy, Y_val.npy" in message
    assert "X_test.npy Y_test.npy optional" in message


def test_half_a_test_split(make_dir):
    directory = make_dir(replace={"Y_test.npy": None})
    setup_error(DataError, "has X_test.npy but no Y_test.npy", data_dir=str(directory))


def test_row_mismatch(make_dir):
    directory = make_dir(replace={"Y_val.npy": np.zeros((6, 2))})
    message = setup_error(DataError, "X_val.npy has 7 rows but .*Y_val.npy has 6", data_dir=str(directory))
    assert str(directory) in message


def test_feature_count_differs(make_dir):
    directory = make_dir(replace={"X_test.npy": np.zeros((5, 3))})
    setup_error(DataError, "X_test.npy has 3 features but .*X_train.npy has 4", data_dir=str(directory))


def test_target_count_differs(make_dir):
    directory = make_dir(replace={"Y_val.npy": np.zeros((7, 3))})
    setup_error(DataError, "Y_val.npy has 3 targets but .*Y_train.npy has 2", data_dir=str(directory))


def test_nan_and_inf_are_counted(make_dir):
    x = np.ones((20, 4))
    x[0, 0] = x[1, 1] = np.nan
    x[2, 2] = np.inf
    directory = make_dir(replace={"X_train.npy": x})
    setup_error(DataError, r"X_train.npy holds 2 NaN and 1 infinite .* out of 80", data_dir=str(directory))


def test_beyond_float32_counts_as_infinite(make_dir):
    y = np.zeros((7, 2))
    y[0, 0] = 1e300
    setup_error(DataError, "Y_val.npy holds 1 infinite", data_dir=str(make_dir(replace={"Y_val.npy": y})))


def test_non_numeric_array(make_dir):
    directory = make_dir(replace={"Y_train.npy": np.array([["a", "b"]] * 20)})
    setup_error(DataError, r"Y_train.npy holds non-numeric values \(dtype <U1\)", data_dir=str(directory))


def test_object_array_is_pickled_and_refused(make_dir):
    directory = make_dir(replace={"X_train.npy": np.array([[1.0, None, 2.0, 3.0]] * 20, dtype=object)})
    setup_error(DataError, "X_train.npy holds Python objects .*allow_pickle=False", data_dir=str(directory))


def test_plain_pickle_file_is_refused(make_dir):
    directory = make_dir()
    import pickle

    (directory / "X_val.npy").write_bytes(pickle.dumps([[1.0] * 4] * 7))
    setup_error(DataError, "X_val.npy is not a .npy file", data_dir=str(directory))


@pytest.mark.parametrize("content", [b"", b"garbage bytes", None])
def test_corrupt_files(make_dir, content):
    directory = make_dir()
    path = directory / "Y_val.npy"
    if content is None:  # a real header whose data is cut short
        content = path.read_bytes()[:-20]
    path.write_bytes(content)
    setup_error(DataError, "Y_val.npy (is not a .npy file|cannot be read)", data_dir=str(directory))


def test_npz_archive_is_explained(make_dir):
    directory = make_dir()
    with open(directory / "X_train.npy", "wb") as handle:
        np.savez(handle, a=np.zeros((20, 4)))
    setup_error(DataError, "X_train.npy is an .npz archive", data_dir=str(directory))


@pytest.mark.parametrize("empty", [np.zeros((0, 4)), np.zeros((20, 0))])
def test_empty_array(make_dir, empty):
    setup_error(DataError, "X_train.npy is empty", data_dir=str(make_dir(replace={"X_train.npy": empty})))


@pytest.mark.parametrize(("name", "array", "match"), [
    ("X_train.npy", np.zeros((20, 4, 2)), r"X_train.npy has shape \(20, 4, 2\) but X must be 2-D"),
    ("X_train.npy", np.zeros(20), r"X_train.npy has shape \(20,\) but X must be 2-D"),
    ("Y_val.npy", np.zeros((7, 2, 1)), r"Y_val.npy has shape \(7, 2, 1\) but Y must be 1-D .* or 2-D"),
])
def test_wrong_dimensionality(make_dir, name, array, match):
    setup_error(DataError, match, data_dir=str(make_dir(replace={name: array})))


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, "64", True, None])
def test_bad_batch_size(data_dir, batch_size):
    setup_error(ConfigError, "data.batch_size", data_dir=str(data_dir), batch_size=batch_size)


def test_batch_size_above_train_rows_is_clamped(data_dir):
    dm = ArrayRegressionDataModule(data_dir=str(data_dir), batch_size=1000)
    with pytest.warns(UserWarning, match="data.batch_size=1000 is larger than the 20 training rows"):
        dm.setup()
    assert dm.effective_batch_size == 20
    assert [len(x) for x, _ in dm.train_dataloader()] == [20]


def test_unknown_builtin_lists_choices():
    setup_error(ConfigError, "data.builtin: unknown built-in dataset 'iris' — choose one of diabetes",
                builtin="iris")


def test_builtin_wins_over_data_dir_with_a_warning(data_dir):
    dm = ArrayRegressionDataModule(builtin="diabetes", data_dir=str(data_dir))
    with pytest.warns(UserWarning, match="data.builtin='diabetes' is set, so data.data_dir=.* is ignored"):
        dm.setup()
    assert dm.input_dims == 10


@pytest.mark.parametrize(("spec", "match"), [
    ("0:2,x", "cannot read 'x'"),
    ("1-3", "cannot read '1-3'"),
    (":", "cannot read ':'"),
    ("0:9", "range 0:9 is out of range for data with 4 features"),
    ("4:", "range 4: is out of range"),
    ("3:1", "range 3:1 selects no columns"),
    ("0:2,1:3", r"'0:2,1:3' selects column\(s\) 1 more than once"),
])
def test_bad_feature_select(data_dir, spec, match):
    setup_error(ConfigError, "data.feature_select: " + match, data_dir=str(data_dir), feature_select=spec)


def test_feature_select_syntax_is_checked_before_reading_files(tmp_path: Path):
    # a missing directory would be a DataError; the config mistake is reported first
    setup_error(ConfigError, "data.feature_select", data_dir=str(tmp_path / "nope"), feature_select="a:b")


@pytest.mark.parametrize(("split", "match"), [
    ({"enable": True, "index": 3, "n_splits": 3}, r"data.ensemble_split.index: 3 is not an int in \[0, 3\)"),
    ({"enable": True, "index": -1}, "data.ensemble_split.index"),
    ({"enable": True}, "data.ensemble_split.index: None"),
    ({"enable": True, "index": 0, "n_splits": 1}, "data.ensemble_split.n_splits: 1 is not an int >= 2"),
    ({"enable": True, "index": 0, "n_splits": 50}, "n_splits: 50 folds need at least 50 training rows"),
    ({"enable": True, "index": 0, "random_state": None}, "data.ensemble_split.random_state"),
    ({"enable": True, "index": 0, "folds": 3}, "unknown key.*folds"),
])
def test_bad_ensemble_split(data_dir, split, match):
    setup_error(ConfigError, match, data_dir=str(data_dir), ensemble_split=split)


def test_setup_errors_leave_the_module_unset(make_dir):
    dm = ArrayRegressionDataModule(data_dir=str(make_dir(replace={"X_val.npy": None})))
    with pytest.raises(DataError):
        dm.setup()
    assert dm.input_dims is None and dm.n_train == 0
