"""User CSV files: a numeric matrix (``CSV(path = "file.csv")``) or long-format time series.

A first row with any non-numeric cell is a header. Errors name the file, line and column.

``csv_matrix`` returns ``x`` (n, D) float64: every cell must be a finite number.

``load_series_csv`` reads long format, one observation per row: series id, time, then D value
columns. Rows are grouped by id (in order of first appearance) and sorted by time; times must be
finite and distinct within a series. Empty cells and NA/NaN/null values are missing. Returns
``ts`` (S, L) float64 padded with each series' last time, ``x`` (S, L, D) float64 with 0 where
missing or padded, ``mask`` (S, L, D) bool (True where observed), ``time_mask`` (S, L) bool
(True for a real row), ``lengths`` (S,) int64 and ``series_ids`` (S,) str; L is the longest series.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odedsl.data.errors import DataError, DataFileNotFoundError

MISSING = frozenset({"", "na", "n/a", "nan", "null"})
_MATRIX_GAP = "CSV() needs complete numeric rows (for series with gaps use load_series_csv)"


@dataclass(frozen=True)
class Table:
    """The cells of a CSV file with their 1-based line numbers and column names."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]

    def where(self, row: int, column: int) -> str:
        return f"{self.path}:{self.lines[row]}: column {column + 1} ({self.columns[column]!r})"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_table(path: str | Path, *, min_columns: int = 1) -> Table:
    """Read ``path`` into a rectangular table, detecting an optional header row."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"CSV: file {str(path)!r} not found (check `path`)")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        numbered = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    if not numbered:
        raise DataError(f"{path}: the file holds no rows")
    first = [cell.strip() for cell in numbered[0][1]]
    has_header = any(cell.lower() not in MISSING and not _is_number(cell) for cell in first)
    columns = first if has_header else [f"column {i + 1}" for i in range(len(first))]
    body = numbered[1:] if has_header else numbered
    if len(columns) < min_columns:
        raise DataError(f"{path}: {len(columns)} columns, expected at least {min_columns}")
    for line, row in body:
        if len(row) != len(columns):
            raise DataError(f"{path}:{line}: {len(row)} cells, expected {len(columns)}")
    if not body:
        raise DataError(f"{path}: the file holds a header but no data rows")
    return Table(path, columns, [[c.strip() for c in row] for _, row in body], [n for n, _ in body])


def _number(table: Table, row: int, column: int, *, missing: str | None) -> float:
    """The cell as a finite float; NaN for a missing cell if ``missing`` is None, else raise
    with ``missing`` as the hint."""
    cell = table.rows[row][column]
    if cell.lower() in MISSING:
        if missing is None:
            return math.nan
        raise DataError(f"{table.where(row, column)}: missing value {cell!r}; {missing}")
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{table.where(row, column)}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{table.where(row, column)}: non-finite value {cell!r}")
    return value


def csv_matrix(*, n: int | None, path: str | Path) -> dict[str, np.ndarray]:
    """All cells of ``path`` as an (n, D) float64 matrix (see module doc)."""
    table = read_table(path)
    values = [
        [_number(table, r, c, missing=_MATRIX_GAP) for c in range(len(table.columns))]
        for r in range(len(table.rows))
    ]
    return {"x": np.array(values, dtype=np.float64).reshape(len(values), -1)[:n]}


def load_series_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Long-format irregular series: id, time, values… → padded arrays and masks (module doc)."""
    table = read_table(path, min_columns=3)
    groups: dict[str, list[int]] = {}
    for r, row in enumerate(table.rows):
        groups.setdefault(row[0], []).append(r)
    indices = range(len(table.rows))
    times = np.array([_number(table, r, 1, missing="every row needs a time") for r in indices])
    dim = len(table.columns) - 2
    cells = [[_number(table, r, 2 + d, missing=None) for d in range(dim)] for r in indices]
    values = np.array(cells).reshape(len(times), dim)
    length = max(len(rows) for rows in groups.values())
    out_ts = np.zeros((len(groups), length))
    out_x = np.zeros((len(groups), length, dim))
    mask = np.zeros((len(groups), length, dim), dtype=bool)
    time_mask = np.zeros((len(groups), length), dtype=bool)
    for s, (series, rows) in enumerate(groups.items()):
        rows = sorted(rows, key=lambda r: times[r])
        for earlier, later in itertools.pairwise(rows):
            if times[earlier] == times[later]:
                raise DataError(
                    f"{table.path}:{table.lines[later]}: series {series!r} repeats time "
                    f"{times[later]} (also on line {table.lines[earlier]}); merge the rows"
                )
        k = len(rows)
        out_ts[s, :k], out_ts[s, k:] = times[rows], times[rows[-1]]
        observed = ~np.isnan(values[rows])
        out_x[s, :k] = np.where(observed, values[rows], 0.0)
        mask[s, :k], time_mask[s, :k] = observed, True
    return {
        "ts": out_ts,
        "x": out_x,
        "mask": mask,
        "time_mask": time_mask,
        "lengths": time_mask.sum(axis=1).astype(np.int64),
        "series_ids": np.array(list(groups), dtype=str),
    }
