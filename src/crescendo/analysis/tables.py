"""Array files for `cr-predict`: read inputs from .npy, .npz or .csv, write outputs in the same formats.

Scientists keep spectra in all three, so the command takes what they have instead of asking for a
conversion. Every problem is a `CrescendoError` naming the file (and for CSV the line and column), and
outputs are written to a temporary file in the target directory, then renamed: a failed or
interrupted write never leaves a half-written file under the requested name.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from crescendo.analysis._files import atomic_write
from crescendo.errors import CrescendoError

__all__ = ["SUFFIXES", "check_writable", "default_output", "read_array", "write_array"]

SUFFIXES = (".npy", ".npz", ".csv")
_KNOWN = ".npy, .npz or .csv"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _suffix(path: Path, what: str, option: str = "") -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        where = f"{option} {path}" if option else str(path)
        raise CrescendoError(f"{where}: unknown file type ({shown}) — {what} {_KNOWN}")
    return suffix


def default_output(inputs: Path) -> Path:
    """Where predictions go when no -o is given: beside the inputs, same format (X.npy → X.pred.npy)."""
    return inputs.with_name(f"{inputs.stem}.pred{inputs.suffix}")


# ---------------------------------------------------------------------- reading


def read_array(path: Path, key: str | None = None) -> tuple[np.ndarray, str]:
    """The 2-D (or other) numeric array in `path`, and a few words on how it was read.

    `key` names the array of a .npz file that holds several; CSV files may start with a header row
    (detected: a first row with any non-numeric cell), which is skipped.
    """
    if not path.is_file():
        where = "is a directory" if path.is_dir() else "no such file"
        raise CrescendoError(f"{path}: {where} — pass the raw inputs as a {_KNOWN} file (n, features)")
    suffix = _suffix(path, "inputs must be")
    if key is not None and suffix != ".npz":
        raise CrescendoError(f"--key {key}: names an array inside a .npz file, but {path} is a {suffix} file")
    if suffix == ".csv":
        return _read_csv(path)
    head = _head(path)
    if suffix == ".npy":
        if not head.startswith(_NPY_MAGIC):
            hint = " (it looks like a .npz archive: rename it)" if head.startswith(_ZIP_MAGIC) else ""
            raise CrescendoError(f"{path}: is not a .npy file — it does not start with NumPy's .npy header{hint}")
        return _numeric(path, _load(path)), "npy"
    if not head.startswith(_ZIP_MAGIC):
        raise CrescendoError(f"{path}: is not a .npz file — it is not a zip archive as written by numpy.savez")
    return _read_npz(path, key)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(8)
    except OSError as error:
        raise CrescendoError(f"{path}: cannot be read ({error.strerror or error})") from None


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise CrescendoError(f"{path}: holds Python objects, not a numeric array — save numbers "
                                 "(e.g. np.save(path, x.astype(np.float32)))") from None
        raise CrescendoError(f"{path}: cannot be read ({error})") from None
    except OSError as error:
        raise CrescendoError(f"{path}: cannot be read ({error.strerror or error})") from None


def _read_npz(path: Path, key: str | None) -> tuple[np.ndarray, str]:
    import zipfile

    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise CrescendoError(f"{path}: cannot be read as a .npz archive ({error})") from None
    with archive:
        names = list(archive.files)
        if key is None:
            if len(names) != 1:
                listed = ", ".join(names) if names else "none"
                raise CrescendoError(f"{path}: holds {len(names)} arrays ({listed}) — name the inputs with --key NAME")
            key = names[0]
        elif key not in names:
            raise CrescendoError(f"{path}: has no array {key!r} — it holds {', '.join(names) or 'none'}")
        try:
            array = archive[key]
        except ValueError as error:
            if "pickle" in str(error).lower():
                raise CrescendoError(f"{path}: array {key!r} holds Python objects, not numbers") from None
            raise CrescendoError(f"{path}: array {key!r} cannot be read ({error})") from None
    return _numeric(path, array), f"npz array {key!r}"


def _numeric(path: Path, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise CrescendoError(f"{path}: holds {array.dtype} values, not numbers — save a numeric array")
    return array


def _read_csv(path: Path) -> tuple[np.ndarray, str]:
    """Comma-separated numbers, one row per line; an optional header row; blank lines skipped."""
    try:
        lines: list[tuple[int, list[str]]] = []  # (line number, cells), blank lines left out
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            for row in reader:
                if any(cell.strip() for cell in row):
                    lines.append((reader.line_num, row))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CrescendoError(f"{path}: cannot be read as CSV text ({error})") from None
    if not lines:
        raise CrescendoError(f"{path}: holds no rows — expected comma-separated numbers, one row per line")
    _check_separator(path, *lines[0])
    header: list[str] | None = None
    if any(not _is_number(cell) for cell in lines[0][1]):
        header = [cell.strip() for cell in lines[0][1]]
        lines = lines[1:]
        if not lines:
            raise CrescendoError(f"{path}: holds a header row but no data rows")
    width = len(header) if header is not None else len(lines[0][1])
    first = "the header" if header is not None else f"line {lines[0][0]}"
    values = np.empty((len(lines), width), dtype=np.float64)
    for index, (line, row) in enumerate(lines):
        if len(row) != width:
            raise CrescendoError(f"{path}: line {line} has {len(row)} cells but {first} has {width} — "
                                 "every row needs the same number of comma-separated columns")
        try:
            values[index] = [float(cell) for cell in row]
        except ValueError:
            raise CrescendoError(_bad_cell(path, line, row, header)) from None
    return values, "csv, header row skipped" if header is not None else "csv"


def _check_separator(path: Path, line: int, row: list[str]) -> None:
    """Numbers separated by spaces, tabs or semicolons would read as one header cell: say so."""
    for cell in row:
        parts = re.split(r"[;\s]+", cell.strip())
        if len(parts) > 1 and all(_is_number(part) for part in parts):
            raise CrescendoError(f"{path}: line {line} holds {cell.strip()[:40]!r} — cr-predict reads "
                                 "comma-separated values (save with np.savetxt(path, x, delimiter=','))")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _bad_cell(path: Path, line: int, row: list[str], header: list[str] | None) -> str:
    column = next(i for i, cell in enumerate(row) if not _is_number(cell))
    cell = row[column]
    name = f" ({header[column]})" if header and header[column] else ""
    what = "is empty" if not cell.strip() else f"holds {cell.strip()[:40]!r}, not a number"
    hint = ""
    if any(sep in cell.strip() for sep in (";", "\t", " ")):
        hint = " — cr-predict reads comma-separated values"
    return f"{path}: line {line}, column {column + 1}{name} {what}{hint}"


# ---------------------------------------------------------------------- writing


def check_writable(path: Path, option: str) -> str:
    """Fail before any work when `path` has an unknown suffix; return the suffix."""
    return _suffix(path, "write", option)


def write_array(path: Path, array: np.ndarray, name: str, option: str) -> None:
    """Write `array` in the format `path`'s suffix names, atomically.

    .npy: the array; .npz: one array called `name`; .csv: a header ``name0,name1,…`` then one row per
    line, numbers as %.9g (float32 round-trips exactly).
    """
    suffix = check_writable(path, option)
    array = np.asarray(array)

    def to_path(temporary: str) -> None:
        with open(temporary, "wb") as file:
            if suffix == ".npy":
                np.save(file, array)
            elif suffix == ".npz":
                np.savez(file, **{name: array})
            else:
                table = array.reshape(len(array), -1)
                header = ",".join(f"{name}{i}" for i in range(table.shape[1]))
                np.savetxt(file, table, fmt="%.9g", delimiter=",", header=header, comments="")

    atomic_write(path, to_path, option)
