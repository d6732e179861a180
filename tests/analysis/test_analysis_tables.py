"""Array files for cr-predict: .npy, .npz and .csv in and out; errors that name the line and column."""

from __future__ import annotations

import os

import numpy as np
import pytest

from crescendo.analysis.tables import default_output, read_array, write_array
from crescendo.errors import CrescendoError

X = np.arange(12, dtype=np.float32).reshape(4, 3) / 7


def test_default_output_is_beside_the_inputs_in_their_format(tmp_path):
    assert default_output(tmp_path / "X.npy") == tmp_path / "X.pred.npy"
    assert default_output(tmp_path / "spectra.v2.csv") == tmp_path / "spectra.v2.pred.csv"


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_each_format_round_trips_float32_exactly(tmp_path, suffix):
    path = tmp_path / f"y{suffix}"
    write_array(path, X, "y", "-o")
    back, _ = read_array(path)
    np.testing.assert_array_equal(back.astype(np.float32), X)
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # what open() would have made
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_written_npz_and_csv_name_their_columns(tmp_path):
    write_array(tmp_path / "y.npz", X, "y", "-o")
    with np.load(tmp_path / "y.npz") as archive:
        assert archive.files == ["y"]
    write_array(tmp_path / "s.csv", X, "std", "--std")
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "std0,std1,std2"


def test_csv_header_is_detected_and_skipped(tmp_path):
    (tmp_path / "h.csv").write_text("E_7100,E_7101,label\n1,2,3\n\n4,5,6\n")
    values, how = read_array(tmp_path / "h.csv")
    np.testing.assert_array_equal(values, [[1, 2, 3], [4, 5, 6]])
    assert how == "csv, header row skipped"
    (tmp_path / "n.csv").write_text("1,2,3\r\n4,5,6\r\n")  # no header; Windows line ends
    values, how = read_array(tmp_path / "n.csv")
    assert values.shape == (2, 3) and how == "csv"


def test_npz_with_several_arrays_needs_a_key(tmp_path):
    np.savez(tmp_path / "d.npz", x=X, energies=np.arange(3))
    values, how = read_array(tmp_path / "d.npz", key="x")
    np.testing.assert_array_equal(values, X)
    assert how == "npz array 'x'"
    with pytest.raises(CrescendoError, match=r"holds 2 arrays \(x, energies\) — name the inputs with --key NAME"):
        read_array(tmp_path / "d.npz")
    with pytest.raises(CrescendoError, match=r"has no array 'y' — it holds x, energies"):
        read_array(tmp_path / "d.npz", key="y")


BAD_INPUTS = {
    "ragged.csv": ("1,2,3\n4,5\n", r"ragged.csv: line 2 has 2 cells but line 1 has 3"),
    "word.csv": ("a,b,c\n1,2,3\n4,x,6\n", r"word.csv: line 3, column 2 \(b\) holds 'x', not a number"),
    "empty_cell.csv": ("1,2,3\n4,,6\n", r"empty_cell.csv: line 2, column 2 is empty"),
    "spaces.csv": ("1 2 3\n4 5 6\n", r"spaces.csv: line 1 holds '1 2 3' — cr-predict reads comma-separated"),
    "only_header.csv": ("a,b\n", r"only_header.csv: holds a header row but no data rows"),
    "blank.csv": ("\n\n", r"blank.csv: holds no rows"),
    "text.npy": ("1,2,3\n", r"text.npy: is not a .npy file"),
    "text.npz": ("1,2,3\n", r"text.npz: is not a .npz file"),
    "X.txt": ("1,2,3\n", r"X.txt: unknown file type \('.txt'\) — inputs must be .npy, .npz or .csv"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_inputs_name_the_file_and_the_place(tmp_path, name):
    text, message = BAD_INPUTS[name]
    (tmp_path / name).write_text(text)
    with pytest.raises(CrescendoError, match=message):
        read_array(tmp_path / name)


def test_object_arrays_and_strings_are_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CrescendoError, match="holds Python objects, not a numeric array"):
        read_array(tmp_path / "o.npy")
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(CrescendoError, match="holds <U1 values, not numbers"):
        read_array(tmp_path / "s.npy")


def test_a_failed_write_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CrescendoError, match=r"-o .*y.npy: cannot be written"):
        write_array(blocker / "y.npy", X, "y", "-o")
    with pytest.raises(CrescendoError, match=r"--std .*y.h5: unknown file type \('.h5'\) — write .npy, .npz or .csv"):
        write_array(tmp_path / "y.h5", X, "std", "--std")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
