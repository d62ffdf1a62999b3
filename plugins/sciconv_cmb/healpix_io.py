"""HEALPix FITS maps and masks: a checked reader and an atomic writer, on top of :mod:`healpy`.

A HEALPix map file is a FITS binary table in HDU 1 with ``PIXTYPE = 'HEALPIX'``, ``ORDERING`` (``RING`` or
``NESTED``), ``NSIDE`` and one column per field (temperature first, then Q and U when present). healpy does
the reading, reordering and writing; this module checks what healpy would otherwise accept silently or report
with a traceback (a file that is not FITS, not HEALPix, of the wrong length, of an unknown ordering, holding
polarisation only; a mask with NaNs, values outside [0, 1], no observed pixel, or another Nside than its map)
and turns each into a one-line :class:`~sciconv.errors.DataError` naming the file and the problem.

Unobserved pixels (``healpy.UNSEEN`` or NaN in the file) are reported in :attr:`SkyMap.observed` and hold
``healpy.UNSEEN`` in :attr:`SkyMap.values`, healpy's own convention, so healpy's functions skip them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import healpy as hp
import numpy as np
from astropy.io import fits

from sciconv.errors import DataError, MissingPathError
from sciconv.kit import atomic_path

#: Column names that hold the temperature (Stokes I) field, upper-cased.
TEMPERATURE_COLUMNS = frozenset({"TEMPERATURE", "I_STOKES", "I", "T", "TEMP", "INTENSITY", "SIGNAL"})
#: Column names that hold the Q or U polarisation fields, upper-cased.
POLARISATION_COLUMNS = frozenset(
    {"Q_STOKES", "U_STOKES", "Q_POLARISATION", "U_POLARISATION", "Q_POLARIZATION", "U_POLARIZATION", "Q", "U"}
)
_ORDERINGS = {"RING": "RING", "NESTED": "NESTED", "NEST": "NESTED"}


@dataclass(frozen=True)
class SkyMap:
    """One field of a HEALPix map read from a FITS file.

    ``values`` are float64 in the ordering that was asked for (``ordering``: ``"RING"`` or ``"NESTED"``, not
    necessarily the file's); unobserved pixels hold ``healpy.UNSEEN`` and are ``False`` in ``observed``.
    ``unit`` is the field's ``TUNITn`` from the header (``""`` when the header has none and no default was
    given). ``column`` is the name of the field that was read.
    """

    values: np.ndarray
    nside: int
    ordering: str
    unit: str
    observed: np.ndarray
    path: Path
    column: str

    @property
    def nest(self) -> bool:
        """Whether ``values`` are in NESTED order."""
        return self.ordering == "NESTED"

    @property
    def fsky(self) -> float:
        """The fraction of the sky that is observed."""
        return float(np.mean(self.observed))


@dataclass(frozen=True)
class _Layout:
    """What the header of a HEALPix FITS file says (checked)."""

    columns: list[str]
    units: list[str]
    nside: int
    ordering: str
    partial: bool


def _open_header(path: Path) -> tuple[fits.Header, fits.Header]:
    """The primary and HDU-1 headers of ``path``, or a one-line error when it is not a FITS table file."""
    if not path.is_file():
        raise MissingPathError(f"{path}: no such file (expected a HEALPix FITS map)")
    try:
        with warnings.catch_warnings(), fits.open(path, memmap=False) as hdus:
            warnings.simplefilter("ignore")  # a truncated file warns here and fails in the read that follows
            hdus.verify("silentfix")
            if len(hdus) < 2 or not isinstance(hdus[1], fits.BinTableHDU):
                raise DataError(
                    f"{path}: not a HEALPix map: no binary-table extension in HDU 1 (a HEALPix FITS file "
                    "holds its map as a table with PIXTYPE = 'HEALPIX' in HDU 1)"
                )
            table = hdus[1].header
            needed = int(hdus[1].fileinfo()["datLoc"]) + int(table.get("NAXIS1", 0)) * int(table.get("NAXIS2", 0))
            size = path.stat().st_size
            if size < needed:
                raise DataError(f"{path}: a truncated FITS file: {size} bytes, but its table needs {needed}")
            return hdus[0].header.copy(), table.copy()
    except DataError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as error:
        raise DataError(f"{path}: not a FITS file ({_one_line(error)})") from None


def _one_line(error: BaseException) -> str:
    """An exception's message on one line."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _column_length(header: fits.Header, index: int) -> int:
    """The number of values in column ``index`` (1-based): rows times the repeat count of its TFORM."""
    form = str(header.get(f"TFORM{index}", "")).strip()
    match = re.match(r"^(\d*)([A-Za-z])", form)
    repeat = int(match.group(1)) if match and match.group(1) else 1
    return repeat * int(header.get("NAXIS2", 0))


def _layout(path: Path) -> _Layout:
    """Read and check the header of a HEALPix FITS file."""
    primary, header = _open_header(path)
    pixtype = str(header.get("PIXTYPE", primary.get("PIXTYPE", ""))).strip().upper()
    if pixtype != "HEALPIX":
        found = f"PIXTYPE = {pixtype!r}" if pixtype else "no PIXTYPE keyword"
        raise DataError(f"{path}: not a HEALPix map: {found} in HDU 1 (expected PIXTYPE = 'HEALPIX')")
    n_columns = int(header.get("TFIELDS", 0))
    if n_columns < 1:
        raise DataError(f"{path}: not a HEALPix map: the table in HDU 1 has no column")
    columns = [str(header.get(f"TTYPE{i}", f"COLUMN{i}")).strip() for i in range(1, n_columns + 1)]
    units = [str(header.get(f"TUNIT{i}", "")).strip() for i in range(1, n_columns + 1)]

    raw_ordering = str(header.get("ORDERING", primary.get("ORDERING", ""))).strip().upper()
    if raw_ordering not in _ORDERINGS:
        found = f"ORDERING = {raw_ordering!r}" if raw_ordering else "no ORDERING keyword"
        raise DataError(f"{path}: unknown HEALPix ordering: {found} (expected 'RING' or 'NESTED')")

    schema = str(header.get("INDXSCHM", "IMPLICIT")).strip().upper()
    partial = schema == "EXPLICIT" or str(header.get("OBJECT", "")).strip().upper() == "PARTIAL"
    first_length = _column_length(header, 2 if partial else 1)
    nside_card = header.get("NSIDE", primary.get("NSIDE"))
    if nside_card is None:
        if partial:
            raise DataError(f"{path}: not a HEALPix map: a cut-sky (explicit-index) file without NSIDE")
        try:
            nside = int(hp.npix2nside(first_length))
        except ValueError:
            raise DataError(
                f"{path}: not a HEALPix map: no NSIDE keyword and {first_length} values per column, "
                "which is not 12 * Nside^2 for any Nside"
            ) from None
    else:
        nside = int(nside_card)
        if not hp.isnsideok(nside):
            raise DataError(f"{path}: not a HEALPix map: NSIDE = {nside} is not a power of 2")
    if partial:
        columns, units = columns[1:], units[1:]  # column 1 holds the pixel indices
    elif first_length != hp.nside2npix(nside):
        raise DataError(
            f"{path}: not a HEALPix map of the stated Nside: {first_length} values per column, but NSIDE = "
            f"{nside} needs 12 * {nside}^2 = {hp.nside2npix(nside)}"
        )
    return _Layout(columns, units, nside, _ORDERINGS[raw_ordering], partial)


def _field_index(path: Path, layout: _Layout, field: int | str) -> int:
    """The 0-based index of the requested field among the map's columns (pixel index column excluded)."""
    upper = [c.upper() for c in layout.columns]
    has_temperature = any(c in TEMPERATURE_COLUMNS for c in upper)
    polarisation = [c for c, u in zip(layout.columns, upper, strict=True) if u in POLARISATION_COLUMNS]
    if isinstance(field, str):
        wanted = field.strip().upper()
        if wanted not in upper:
            if wanted in TEMPERATURE_COLUMNS and not has_temperature and polarisation:
                index = -1  # fall through to the polarisation-only error below
            else:
                raise DataError(f"{path}: no column {field!r} (columns: {', '.join(layout.columns)})")
        else:
            index = upper.index(wanted)
    else:
        index = int(field)
        if not 0 <= index < len(layout.columns):
            raise DataError(
                f"{path}: no field {index}: the map has {len(layout.columns)} (columns: {', '.join(layout.columns)})"
            )
    asks_temperature = index == -1 or (index == 0 and isinstance(field, int))
    if asks_temperature and not has_temperature and polarisation:
        raise DataError(
            f"{path}: a polarisation-only file: columns {', '.join(layout.columns)} hold no temperature field "
            "(expected a TEMPERATURE or I_STOKES column); name a polarisation column as field to read it"
        )
    return index


def read_sky_map(path: str | Path, field: int | str = 0, *, nest: bool = False, default_unit: str = "") -> SkyMap:
    """Read one field of a HEALPix FITS map, in RING order (``nest=False``) or NESTED order (``nest=True``).

    ``field`` is a 0-based column index (0, the default, is the temperature and is refused for a file that
    holds only Q and U) or a column name (``"I_STOKES"``, ``"Q_STOKES"``, ...). The file's ordering comes from
    its ``ORDERING`` keyword; healpy reorders to the one asked for. ``unit`` is the column's ``TUNITn``, or
    ``default_unit`` when the header has none (the WMAP files shipped with healpy carry no unit: they are mK).
    Raises :class:`~sciconv.errors.DataError` on a file that is not a HEALPix FITS map.
    """
    path = Path(path)
    layout = _layout(path)
    index = _field_index(path, layout, field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = hp.read_map(
                str(path), field=index, nest=nest, dtype=np.float64, partial=layout.partial, memmap=False
            )
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise DataError(
            f"{path}: could not read field {layout.columns[index]!r} (a truncated or corrupt file?): {_one_line(error)}"
        ) from None
    values = np.array(values, dtype=np.float64)  # a native-endian, writable copy
    observed = np.isfinite(values) & ~hp.mask_bad(values)
    values[~observed] = hp.UNSEEN
    return SkyMap(
        values=values,
        nside=layout.nside,
        ordering="NESTED" if nest else "RING",
        unit=layout.units[index] or default_unit,
        observed=observed,
        path=path,
        column=layout.columns[index],
    )


def read_mask(
    path: str | Path,
    nside: int | None = None,
    *,
    nest: bool = False,
    field: int | str = 0,
    map_path: str | Path | None = None,
) -> np.ndarray:
    """Read a HEALPix mask (1 = observed, 0 = masked, apodised values in between) as float64 in [0, 1].

    When ``nside`` is given it must equal the mask's Nside (``map_path`` names the map it belongs to, for the
    message). Raises :class:`~sciconv.errors.DataError` on NaN or UNSEEN pixels, values outside [0, 1], a
    mask with no observed pixel, or an Nside different from the map's.
    """
    path = Path(path)
    layout = _layout(path)
    if nside is not None and layout.nside != int(nside):
        the_map = f"the map {map_path}" if map_path is not None else "the map"
        raise DataError(
            f"{path}: mask has Nside {layout.nside} but {the_map} has Nside {int(nside)}; bring one to the "
            f"other's resolution first (healpy.ud_grade can do it)"
        )
    sky = read_sky_map(path, field, nest=nest)
    values = sky.values
    bad = ~sky.observed
    if bad.any():
        raise DataError(
            f"{path}: mask has {int(bad.sum())} NaN or UNSEEN pixel(s) of {values.size}; a mask must give every "
            "pixel a value in [0, 1] (0 = masked)"
        )
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise DataError(f"{path}: mask values span [{low:g}, {high:g}]; a mask must lie in [0, 1] (0 = masked)")
    if high <= 0.0:
        raise DataError(f"{path}: mask has no observed pixel (every value is 0)")
    return values


def write_sky_map(
    path: str | Path,
    values: np.ndarray,
    *,
    nest: bool = False,
    unit: str = "",
    column_names: Iterable[str] | None = None,
    extra_header: Mapping[str, object] | Iterable[tuple[str, object]] = (),
    dtype: type | None = np.float64,
) -> Path:
    """Write a HEALPix FITS map atomically (a temporary file renamed over ``path``) with :func:`healpy.write_map`.

    ``values`` is one map (``npix``) or several fields (``n_fields x npix``, e.g. I, Q, U) in NESTED order
    when ``nest`` else RING; the header records the ordering, ``unit`` goes to every column's ``TUNITn``,
    ``extra_header`` (a mapping or ``(key, value)`` pairs) is added to the table header. Returns ``path``.
    """
    path = Path(path)
    array = np.asarray(values)
    maps = array[None] if array.ndim == 1 else array
    if maps.ndim != 2 or not hp.isnpixok(maps.shape[-1]):
        raise ValueError(f"values of shape {array.shape} are not HEALPix maps (the last axis must be 12 * Nside^2)")
    names = None if column_names is None else list(column_names)
    units = [unit] * maps.shape[0] if unit else None
    pairs = list(extra_header.items()) if isinstance(extra_header, Mapping) else list(extra_header)
    with atomic_path(path, suffix=".fits") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hp.write_map(
            str(tmp),
            list(maps) if array.ndim == 2 else maps[0],
            nest=nest,
            dtype=dtype,
            column_names=names,
            column_units=units,
            extra_header=pairs,
            overwrite=True,
        )
    return path
