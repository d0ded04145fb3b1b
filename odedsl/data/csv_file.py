"""User CSV files, read strictly: every error names the file, and the line and column where
there is one.

Format: UTF-8 text (a byte-order mark is allowed), comma-separated, one example or observation
per line; blank lines are skipped. The first row is a header of column names when every
non-empty cell of it is a name (not a number); a row of numbers is data; a first row mixing
names and numbers is refused (declare ``header = true`` if it is a header). ``header = true`` /
``false`` declares it instead of detecting it. Columns are chosen by name, so choosing columns
(``columns``, ``label``, ``time``, ``series``) needs a header.

Numbers are decimal: ``12``, ``-0.5``, ``1e-3``, ``.5`` (no decimal commas, no ``1_000``, no
hexadecimal, no complex values such as ``1+2j``, no ``inf``). A missing value is an empty cell
or ``NA``, ``N/A``, ``NaN``, ``null`` (any case); it is allowed only in the channels of a
series (it becomes a False in the mask), and refused everywhere else with its line and column.

Readers (all float64, time-sorted where there are times):

- ``csv_rows``: ``x`` (n, D) from ``columns`` (default: every column but the label), and with
  ``label`` a label column ``y`` (n,): int64 classes (``labels = "int"``) or float64.
- ``csv_trajectory``: one trajectory, ``time`` column plus channels: ``ts`` (N,), ``x`` (N, D)
  with 0 where missing, ``mask`` (N, D) True where observed.
- ``csv_series``: long format, one observation per line: a ``series`` id column, a ``time``
  column and the channels; a list of :class:`Series` in order of first appearance.
- ``load_series_csv(path)``: the long format with the id in column 1 and the time in column 2,
  padded (see :func:`odedsl.data.files.pad_series`).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odedsl import machine
from odedsl.data.arguments import suggestion
from odedsl.data.errors import DataError
from odedsl.data.paths import require_file, require_memory

MISSING = frozenset({"", "na", "n/a", "nan", "null"})
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_COMPLEX = re.compile(r"[+-]?[\d.eE+-]*[jJ]|.*\(.*[jJ]\)")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_INFINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_GAP = "missing values are allowed only in the channels of a series"


@dataclass(frozen=True)
class Table:
    """The cells of a CSV file with their 1-based line numbers and column names."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]
    header: bool

    def where(self, row: int, column: int) -> str:
        return f"{self.path}:{self.lines[row]}: column {column + 1} ({self.columns[column]!r})"

    def column(self, name: str, argument: str) -> int:
        """The index of column ``name``, given as ``argument`` (e.g. ``time``)."""
        if not self.header:
            raise DataError(
                f"{self.path}: `{argument}` names column {name!r}, but the file has no header "
                "row (its first row is numbers); add a header row of column names"
            )
        if name not in self.columns:
            hint = suggestion(name, self.columns)
            raise DataError(
                f"{self.path}: no column named {name!r} (`{argument}`){hint}; the columns are "
                + ", ".join(repr(c) for c in self.columns)
            )
        return self.columns.index(name)


def parse_number(cell: str) -> float | None:
    """The decimal number ``cell`` holds, None for a missing value; raises ValueError with the
    reason for anything else."""
    if cell.lower() in MISSING:
        return None
    if _NUMBER.fullmatch(cell):
        return float(cell)
    if cell.lower() in _INFINITE:
        raise ValueError(f"non-finite value {cell!r}; odedsl reads finite numbers only")
    if _COMPLEX.fullmatch(cell) and cell not in ("j", "J"):
        raise ValueError(f"{cell!r} is a complex number; odedsl reads real numbers only")
    if _DECIMAL_COMMA.fullmatch(cell):
        point = cell.replace(",", ".")
        raise ValueError(f"{cell!r} is not a number (write a decimal point: {point})")
    raise ValueError(f"{cell!r} is not a number")


def _is_number(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell))


CSV_MEMORY_FACTOR = 20
"""Reading a CSV file takes about this many times its size in memory (its text, then each
cell as a Python string): a file is refused before reading when that exceeds the memory
available."""
_CHUNK = 1 << 20


def _decode(path: Path) -> str:
    size = require_file(path, "CSV", "path")
    require_memory(
        path,
        size * CSV_MEMORY_FACTOR,
        f"reading this {machine.size(size)} CSV file (about {CSV_MEMORY_FACTOR} times its size)",
        "store large data as NPZ (numpy.savez), read at 8 bytes a number",
    )
    raw = _read_text_bytes(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start : error.start + 1].hex()
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{byte} at offset {error.start}); save the "
            "file as UTF-8"
        ) from None


def _read_text_bytes(path: Path) -> bytes:
    """The bytes of ``path`` read in chunks, refused at the first NUL byte (binary data, or a
    sparse file of zeros, is not CSV text) before the rest is read."""
    chunks: list[bytes] = []
    lines = 1
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            nul = chunk.find(b"\0")
            if nul >= 0:
                line = lines + chunk.count(b"\n", 0, nul)
                offset = sum(map(len, chunks)) + nul
                raise DataError(
                    f"{path}:{line}: a NUL byte (offset {offset}): this is a binary file, not "
                    "CSV text; save the data as comma-separated text"
                )
            lines += chunk.count(b"\n")
            chunks.append(chunk)
    return b"".join(chunks)


def read_table(path: str | Path, *, header: bool | None = None, min_columns: int = 1) -> Table:
    """Read ``path`` into a rectangular table; ``header`` None detects a header row."""
    path = Path(path)
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        numbered = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None
    if not numbered:
        raise DataError(f"{path}: the file holds no rows")
    first = [cell.strip() for cell in numbered[0][1]]
    if header is None:
        names = [c for c in first if c.lower() not in MISSING and not _is_number(c)]
        numbers = [c for c in first if _is_number(c)]
        if names and numbers:
            raise DataError(
                f"{path}:{numbered[0][0]}: the first row mixes names ({names[0]!r}) and numbers "
                f"({numbers[0]!r}); if it is a header row, declare `header = true`, otherwise "
                f"fix the cell {names[0]!r}"
            )
        header = bool(names)
    columns = first if header else [f"column {i + 1}" for i in range(len(first))]
    body = numbered[1:] if header else numbered
    if header:
        seen = [c for c in columns if c]
        twice = next((c for c in seen if seen.count(c) > 1), None)
        if twice is not None:
            raise DataError(f"{path}:{numbered[0][0]}: column name {twice!r} appears twice")
    if len(columns) < min_columns:
        raise DataError(f"{path}: {len(columns)} columns, expected at least {min_columns}")
    for line, row in body:
        if len(row) != len(columns):
            raise DataError(f"{path}:{line}: {len(row)} cells, expected {len(columns)}")
    if not body:
        raise DataError(f"{path}: the file holds a header but no data rows")
    return Table(
        path, columns, [[c.strip() for c in row] for _, row in body], [n for n, _ in body], header
    )


def _number(table: Table, row: int, column: int, *, missing: str | None) -> float:
    """The cell as a finite float; NaN for a missing cell if ``missing`` is None, else raise
    with ``missing`` as the hint."""
    cell = table.rows[row][column]
    try:
        value = parse_number(cell)
    except ValueError as error:
        raise DataError(f"{table.where(row, column)}: {error}") from None
    if value is None:
        if missing is None:
            return math.nan
        raise DataError(f"{table.where(row, column)}: missing value {cell!r}; {missing}")
    return value


def _matrix(table: Table, columns: Sequence[int], *, missing: str | None) -> np.ndarray:
    values = [
        [_number(table, r, c, missing=missing) for c in columns] for r in range(len(table.rows))
    ]
    return np.array(values, dtype=np.float64).reshape(len(table.rows), len(columns))


def _chosen(table: Table, columns: Sequence[str] | None, exclude: Sequence[int]) -> list[int]:
    """Column indices of ``columns`` (by name), or every column not in ``exclude``."""
    if columns is None:
        chosen = [c for c in range(len(table.columns)) if c not in exclude]
    else:
        if not columns:
            raise DataError(f"{table.path}: `columns` is empty; name at least one column")
        chosen = [table.column(name, "columns") for name in columns]
        repeated = next((n for n in columns if list(columns).count(n) > 1), None)
        if repeated is not None:
            raise DataError(f"{table.path}: `columns` names {repeated!r} twice")
        clash = [table.columns[c] for c in chosen if c in exclude]
        if clash:
            raise DataError(
                f"{table.path}: column {clash[0]!r} is in `columns` and also the label, time "
                "or series column; remove it from `columns`"
            )
    if not chosen:
        raise DataError(f"{table.path}: no columns left for the values")
    return chosen


def _labels(table: Table, column: int, labels: str | None) -> np.ndarray:
    values = _matrix(table, [column], missing=_GAP)[:, 0]
    whole = np.all(values == np.round(values))
    if labels == "int" or (labels is None and whole):
        for r, value in enumerate(values):
            if value != round(value) or value < 0:
                raise DataError(
                    f"{table.where(r, column)}: {table.rows[r][column]!r} is not a class "
                    "(a whole number 0, 1, 2, ...); declare the label `Real` for regression"
                )
        return values.astype(np.int64)
    return values


def csv_rows(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    label: str | None = None,
    header: bool | None = None,
    labels: str | None = None,
) -> dict[str, np.ndarray]:
    """``x`` (n, D) and, with ``label``, ``y`` (n,) from the CSV file ``path`` (module doc)."""
    table = read_table(path, header=header)
    exclude = [table.column(label, "label")] if label is not None else []
    data = {"x": _matrix(table, _chosen(table, columns, exclude), missing=_GAP)}
    if label is not None:
        data["y"] = _labels(table, exclude[0], labels)
    return data


@dataclass(frozen=True)
class Series:
    """One series: ``ts`` (N,) sorted and distinct, ``x`` (N, D) with 0 where missing,
    ``mask`` (N, D) True where observed, ``id`` its name."""

    id: str
    ts: np.ndarray
    x: np.ndarray
    mask: np.ndarray


def _series(table: Table, rows: list[int], times: np.ndarray, values: np.ndarray, name: str):
    rows = sorted(rows, key=lambda r: times[r])
    for earlier, later in itertools.pairwise(rows):
        if times[earlier] == times[later]:
            which = f"series {name!r} repeats" if name else "the trajectory repeats"
            raise DataError(
                f"{table.path}:{table.lines[later]}: {which} time {times[later]} (also on line "
                f"{table.lines[earlier]}); merge the rows"
            )
    observed = ~np.isnan(values[rows])
    return Series(name, times[rows], np.where(observed, values[rows], 0.0), observed)


def _series_table(
    path: str | Path, time: str, columns: Sequence[str] | None, header: bool | None, extra: list
) -> tuple[Table, np.ndarray, np.ndarray]:
    table = read_table(path, header=header)
    time_column = table.column(time, "time")
    exclude = [time_column, *(table.column(name, arg) for arg, name in extra)]
    times = _matrix(table, [time_column], missing="every row needs a time")[:, 0]
    values = _matrix(table, _chosen(table, columns, exclude), missing=None)
    return table, times, values


def csv_trajectory(
    path: str | Path,
    *,
    time: str,
    columns: Sequence[str] | None = None,
    header: bool | None = None,
) -> Series:
    """One trajectory: the ``time`` column and the channels (module doc)."""
    table, times, values = _series_table(path, time, columns, header, [])
    return _series(table, list(range(len(times))), times, values, "")


def csv_series(
    path: str | Path,
    *,
    time: str,
    series: str,
    columns: Sequence[str] | None = None,
    header: bool | None = None,
) -> list[Series]:
    """Many series in long format, grouped by the ``series`` column (module doc)."""
    table, times, values = _series_table(path, time, columns, header, [("series", series)])
    id_column = table.column(series, "series")
    return _grouped(table, id_column, times, values)


def _grouped(table: Table, id_column: int, times: np.ndarray, values: np.ndarray) -> list[Series]:
    groups: dict[str, list[int]] = {}
    for r, row in enumerate(table.rows):
        if not row[id_column]:
            raise DataError(f"{table.where(r, id_column)}: missing series id")
        groups.setdefault(row[id_column], []).append(r)
    return [_series(table, rows, times, values, name) for name, rows in groups.items()]


def load_series_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Long-format irregular series: id, time, values… → padded arrays and masks (module doc):
    ``ts`` (S, L) padded with each series' last time, ``x`` (S, L, D), ``mask`` (S, L, D),
    ``time_mask`` (S, L), ``lengths`` (S,) int64, ``series_ids`` (S,) str."""
    from odedsl.data.files import pad_series

    table = read_table(path, min_columns=3)
    times = _matrix(table, [1], missing="every row needs a time")[:, 0]
    values = _matrix(table, range(2, len(table.columns)), missing=None)
    return pad_series(_grouped(table, 0, times, values))
