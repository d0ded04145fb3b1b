"""A user's array from a ``.npz`` file: ``NPZ(path = "file.npz", key = "x")``.

Returned keys: ``x`` (n, ...) float64, the array stored under ``key`` (at least 2-D: one row per
example; the first ``n`` rows if ``n`` is given). The same file serves either split: point
``path`` at the held-out file to evaluate.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from odedsl.data.arguments import suggestion
from odedsl.data.errors import DataError, DataFileNotFoundError


def first_non_finite(path: Path, values: np.ndarray, what: str) -> None:
    """Raise naming the first NaN/inf entry of ``values`` (row, column), if any."""
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        where = ", ".join(str(int(i)) for i in bad[0])
        raise DataError(
            f"{path}: {what} holds {len(bad)} non-finite values, the first {values[tuple(bad[0])]} "
            f"at index ({where}); remove or impute them"
        )


def _open(path: Path) -> np.lib.npyio.NpzFile:
    if not path.is_file():
        raise DataFileNotFoundError(f"NPZ: file {str(path)!r} not found (check `path`)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npz archive ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single .npy array, not an .npz archive; use np.savez")
    return archive


def npz(*, n: int | None, path: str | Path, key: str = "x") -> dict[str, np.ndarray]:
    """Array ``key`` of the ``.npz`` file ``path`` as float64 (see module doc)."""
    path = Path(path)
    with _open(path) as archive:
        if key not in archive.files:
            hint = suggestion(key, archive.files)
            raise DataError(
                f"{path}: no array named {key!r}{hint}; it holds {', '.join(archive.files)}"
            )
        try:
            values = archive[key]
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise DataError(f"{path}: array {key!r} cannot be read ({error})") from error
    if values.ndim < 2:
        raise DataError(
            f"{path}: array {key!r} has shape {values.shape}; expected one row per example, "
            "shape (n, D) or (n, ...): reshape it, e.g. x.reshape(-1, 1)"
        )
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise DataError(f"{path}: array {key!r} has non-numeric dtype {values.dtype}")
    values = values.astype(np.float64)
    first_non_finite(path, values, f"array {key!r}")
    return {"x": values[:n]}
