"""A user's arrays from a ``.npz`` file (``numpy.savez``), read strictly.

- ``npz_rows``: ``x`` (n, ...) float64, the array named ``x`` (at least 2-D: one row per
  example: vectors (n, D), images (n, H, W) or (n, C, H, W)); with ``y``, labels ``y`` (n,):
  int64 classes (``labels = "int"``) or float64. NaN or inf anywhere is an error naming the
  first index.
- ``npz_series``: series from the array of times ``ts`` and of values ``x``: one trajectory
  (``ts`` (N,), ``x`` (N, D)) or many padded series (``ts`` (B, N), ``x`` (B, N, D)). A NaN in
  ``x`` is a missing value (False in the mask); for many series a NaN time marks padding after
  a series' last time (its values must be NaN too). Times are sorted and distinct per series.

Arrays must be numeric (bool counts) and not complex; object arrays are refused (``allow_pickle``
stays off).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from odedsl.data.arguments import suggestion
from odedsl.data.csv_file import Series
from odedsl.data.errors import DataError
from odedsl.data.paths import require_file, require_memory


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
    require_file(path, "NPZ", "path")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npz archive ({error})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single .npy array, not an .npz archive; use np.savez")
    return archive


def _require_memory(path: Path, archive: np.lib.npyio.NpzFile, key: str) -> None:
    """Refuse array ``key`` before loading it when its declared shape (read from its header)
    and the float64 copy of it do not fit in the memory available."""
    names = archive.zip.namelist()
    with archive.zip.open(f"{key}.npy" if f"{key}.npy" in names else key) as member:
        version = np.lib.format.read_magic(member)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(member)
    count = math.prod(shape)
    require_memory(
        path,
        count * (dtype.itemsize + 8),
        f"array {key!r} of shape {shape} ({dtype}, then as float64)",
        "use a smaller array, or split it into several files",
    )


def npz_arrays(path: str | Path, names: dict[str, str]) -> dict[str, np.ndarray]:
    """The arrays ``names`` (argument → array name) of ``path``, each numeric, as float64."""
    path = Path(path)
    found = {}
    with _open(path) as archive:
        for argument, key in names.items():
            if key not in archive.files:
                hint = suggestion(key, archive.files)
                raise DataError(
                    f"{path}: no array named {key!r}{hint}; it holds " + ", ".join(archive.files)
                )
            try:
                _require_memory(path, archive, key)
                values = archive[key]
            except (ValueError, OSError, zipfile.BadZipFile) as error:
                raise DataError(f"{path}: array {key!r} cannot be read ({error})") from error
            if np.iscomplexobj(values):
                raise DataError(
                    f"{path}: array {key!r} is complex ({values.dtype}); odedsl reads real numbers"
                )
            if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
                raise DataError(f"{path}: array {key!r} has non-numeric dtype {values.dtype}")
            found[argument] = values.astype(np.float64)
    return found


def npz(*, n: int | None, path: str | Path, key: str = "x") -> dict[str, np.ndarray]:
    """Array ``key`` of the ``.npz`` file ``path`` as float64, its first ``n`` rows."""
    return {"x": npz_rows(path, x=key)["x"][:n]}


def npz_rows(
    path: str | Path, *, x: str = "x", y: str | None = None, labels: str | None = None
) -> dict[str, np.ndarray]:
    """``x`` and optionally labels ``y`` of ``path`` (module doc)."""
    path = Path(path)
    names = {"x": x} if y is None else {"x": x, "y": y}
    arrays = npz_arrays(path, names)
    values = arrays["x"]
    if values.ndim < 2:
        raise DataError(
            f"{path}: array {x!r} has shape {values.shape}; expected one row per example, "
            "shape (n, D) or (n, ...): reshape it, e.g. x.reshape(-1, 1)"
        )
    first_non_finite(path, values, f"array {x!r}")
    data = {"x": values}
    if y is not None:
        target = arrays["y"]
        if target.ndim != 1 or len(target) != len(values):
            raise DataError(
                f"{path}: array {y!r} has shape {target.shape}; expected one label per example "
                f"of {x!r}, shape ({len(values)},)"
            )
        first_non_finite(path, target, f"array {y!r}")
        whole = np.all(target == np.round(target))
        if labels == "int" or (labels is None and whole):
            bad = np.flatnonzero((target != np.round(target)) | (target < 0))
            if len(bad):
                raise DataError(
                    f"{path}: array {y!r} holds {target[bad[0]]} at index {bad[0]}, not a class "
                    "(a whole number 0, 1, 2, ...); declare the label `Real` for regression"
                )
            target = target.astype(np.int64)
        data["y"] = target
    return data


def npz_series(path: str | Path, *, ts: str = "ts", x: str = "x") -> Series | list[Series]:
    """One trajectory (``ts`` 1-D) or many series (``ts`` 2-D) of ``path`` (module doc)."""
    path = Path(path)
    arrays = npz_arrays(path, {"ts": ts, "x": x})
    times, values = arrays["ts"], arrays["x"]
    if (
        times.ndim not in (1, 2)
        or values.shape[: times.ndim] != times.shape
        or (values.ndim != times.ndim + 1)
    ):
        raise DataError(
            f"{path}: arrays {ts!r} {times.shape} and {x!r} {values.shape} do not fit: one "
            "trajectory is ts (N,) with x (N, D), many series ts (B, N) with x (B, N, D)"
        )
    if np.isinf(values).any():
        first_non_finite(path, np.where(np.isnan(values), 0.0, values), f"array {x!r}")
    if times.ndim == 1:
        first_non_finite(path, times, f"array {ts!r}")
        return _one(path, "", times, values, ts)
    return [_one(path, str(b), times[b], values[b], ts) for b in range(len(times))]


def _one(path: Path, name: str, times: np.ndarray, values: np.ndarray, key: str) -> Series:
    where = f"series {name} of " if name else ""
    real = ~np.isnan(times)
    count = int(real.sum())
    if np.isinf(times).any() or not real[:count].all():
        raise DataError(
            f"{path}: {where}array {key!r} has a non-finite time before its last real time; "
            "pad a shorter series with NaN times at its end only"
        )
    if not np.isnan(values[count:]).all():
        raise DataError(f"{path}: {where}array {key!r}: values stand at NaN (padding) times")
    if count == 0:
        raise DataError(f"{path}: {where}array {key!r} holds no time")
    times, values = times[:count], values[:count]
    if np.any(np.diff(times) <= 0):
        at = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
        raise DataError(
            f"{path}: {where}array {key!r}: times must increase, but index {at} holds "
            f"{times[at]} after {times[at - 1]}"
        )
    observed = ~np.isnan(values)
    return Series(name, times, np.where(observed, values, 0.0), observed)
