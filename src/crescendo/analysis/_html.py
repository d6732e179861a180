"""HTML pieces shared by report.html and the notebook displays: rounded numbers, tables, links.

Numbers are rounded for reading (values to 5 significant digits, seconds to 0.01); the exact values
stay in result.json, trials.csv and the study.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import pandas as pd

#: significant digits of a value in a table
DIGITS = 5


def escape(text: object) -> str:
    return html.escape(str(text))


def is_seconds(key: str) -> bool:
    return key == "seconds" or key.endswith("seconds") or key.endswith("_s")


def plain(value: Any) -> Any:
    """numpy scalars → Python; pandas' missing values (NaN, NaT, None) → None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is not None and type(value).__name__ in ("NaTType", "NAType"):
        return None
    return value


def fmt(value: Any, key: str = "") -> str:
    """A value as shown: floats rounded (seconds to 0.01), lists and mappings item by item."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.2f}" if is_seconds(key) else f"{value:.{DIGITS}g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v, key) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v, str(k))}" for k, v in value.items())
    return str(value)


def href(target: Path, page_dir: Path) -> str:
    """A relative link from a page in `page_dir` to `target` (a directory link ends in /)."""
    relative = Path(os.path.relpath(target, page_dir)).as_posix()
    return quote(relative) + ("/" if target.is_dir() else "")


def link(url: str, text: str) -> str:
    return f"<a href=\"{escape(url)}\">{escape(text)}</a>"


def key_value_table(rows: Sequence[tuple[str, Any]], css_class: str = "summary") -> str:
    """Two columns, key and value; a value wrapped in `Raw` is inserted as HTML."""
    cells = "\n".join(
        f"<tr><th class=\"key\">{escape(key)}</th><td class=\"key\">{_cell(value, key)}</td></tr>"
        for key, value in rows
    )
    return f"<table class=\"{css_class}\">\n{cells}\n</table>"


class Raw(str):
    """Text that is already HTML (a link), inserted as it is."""


def _cell(value: Any, key: str) -> str:
    return str(value) if isinstance(value, Raw) else escape(fmt(value, key))


def frame_table(frame: pd.DataFrame, row_class: Callable[[int], str | None] | None = None,
                cells: dict[str, Callable[[int, Any], str]] | None = None) -> str:
    """A DataFrame as a table. `row_class(i)` gives row i a CSS class; `cells[column](i, value)` makes
    that column's cell HTML (e.g. a link); every other cell is its rounded, escaped value."""
    columns = list(frame.columns)
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    lines = []
    for index, record in enumerate(frame.itertuples(index=False)):
        parts = []
        for column, value in zip(columns, record):
            if cells and column in cells:
                parts.append(f"<td>{cells[column](index, value)}</td>")
            else:
                parts.append(f"<td>{escape(fmt(value, str(column)))}</td>")
        css = row_class(index) if row_class else None
        opening = f"<tr class=\"{css}\">" if css else "<tr>"
        lines.append(opening + "".join(parts) + "</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(lines) + "\n</table>"
