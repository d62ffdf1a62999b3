"""Reader and writer of the NN5 layout of daily ATM cash withdrawals, and same-weekday median imputation.

The NN5 layout (the NN5 forecasting competition, 2008: 111 ATMs of a UK bank, ``nn5_daily_train.csv``): one
text file, one row per day, a first column ``Date`` (ISO ``YYYY-MM-DD``) then one column per series (``N101`` ..
``N211``), fields separated by ``;``. Values are the amounts withdrawn that day (thousands of pounds, NN5 scales
them to about 5-40 per day) with three decimals; a blank field is a missing value. The published file ends every
line, the header included, with a ``;`` (an empty last column) and uses CRLF line ends; the reader accepts either
form and the writer reproduces it. One quirk of the published file: its line 2 (1996-03-18) carries a 112th value,
``11.33 ``, in that empty last column (and no final ``;``). Like ``pandas.read_csv`` (which names that column
``Unnamed: 112``), the reader keeps ``N101`` .. ``N211`` as the first 111 values of the line and ignores a value
under the blank last header field, with a warning naming the line. Reading the real file and writing it back
gives the file byte for byte, except that line 2 loses the stray value.

Two layouts are read (``layout="auto"`` tells them apart by the header):

- **wide** (the NN5 layout): a date column first (named ``Date``, ``date``, ``ds``, ``day``, ``timestamp`` or
  ``time``), then one column per series; ``;``, ``,`` or tab separated (the separator is the one the header
  line uses, ``;`` first). Rows must be consecutive days.
- **long**: three columns, a series id (``series``, ``series_id``, ``id``, ``unique_id``, ``item_id``, ``atm``,
  ``atm_id``), a date and a value (``value``, ``y``, ``withdrawal(s)``, ``amount``, ``target``), in any order.
  Rows may come in any order; a (series, date) pair absent from the file, or with a blank value, is missing.
  Series keep the order of their first appearance.

Missing values are a blank field or ``NA``, ``NaN``, ``nan``, ``N/A``, ``null`` (any case). Zeros are kept as
values: the real file holds 381 of them (days an ATM paid out nothing), and the competition scored them as they
are.

What is an error (:class:`~sciconv.errors.DataError`, naming the file, and the line and column where there is
one) and what is handled:

- an empty file, a header without series, a blank series id, a series id used twice;
- a date that is not an ISO date (a time of day other than midnight included); dates that go backwards or
  repeat (wide), or a (series, date) pair given twice (long);
- a gap in the daily calendar (a day absent for every series): an error by default, naming the days on either
  side and the first missing dates; with ``fill_gaps=True`` (``dataset.params.fill_gaps=true`` on the command
  line) the absent days are inserted as missing values (for every series) instead;
- a value that is not a number, or is infinite; a row with more or fewer fields than the header;
- a negative value: an error (cash withdrawn cannot be negative; a negative entry is a reversal or a
  correction that belongs to the bank's own cleaning, not to a forecaster's input);
- a series whose values are all missing: an error naming it (nothing to model, and dropping it silently
  would change the set of series a forecast file is expected to cover).

:class:`SeriesTable` is the in-memory form; :meth:`SeriesTable.to_frame` and :meth:`SeriesTable.from_frame`
convert to and from a pandas frame (dates by series), :meth:`SeriesTable.to_long` to the long frame.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from sciconv.atomic import atomic_write_text
from sciconv.errors import ConfigError, DataError

__all__ = [
    "SeriesTable",
    "impute_same_weekday_median",
    "read_series_table",
    "write_series_table",
]

Layout = Literal["auto", "wide", "long"]

_NA_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none"})
_DATE_NAMES = ("date", "ds", "day", "timestamp", "time")
_ID_NAMES = ("series", "series_id", "id", "unique_id", "item_id", "atm", "atm_id")
_VALUE_NAMES = ("value", "y", "withdrawal", "withdrawals", "amount", "target")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DAY = np.timedelta64(1, "D")
_SHOWN_MISSING_DAYS = 3  # a calendar-gap error lists this many missing days, then how many in all


# ----------------------------------------------------------------------------------------------------
# The in-memory form


@dataclass(frozen=True, eq=False)
class SeriesTable:
    """Daily series on one shared, contiguous calendar.

    Attributes:
        ids: the series ids, ``n_series`` distinct non-empty strings (``"N101"``, ...).
        dates: ``(n_days,)`` ``datetime64[D]``, consecutive days.
        values: ``(n_series, n_days)`` float64, one row per series (amounts per day, NN5 units), NaN where missing.
        source: where the table came from (a file path, or a description), used in error messages.
    """

    ids: list[str]
    dates: np.ndarray
    values: np.ndarray
    source: str = "<memory>"

    def __post_init__(self) -> None:
        ids = [str(i) for i in self.ids]
        dates = np.asarray(self.dates).astype("datetime64[D]")
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (len(ids), len(dates)):
            raise DataError(
                f"{self.source}: values must have shape (n_series, n_days) = ({len(ids)}, {len(dates)}), "
                f"got {values.shape}"
            )
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise DataError(f"{self.source}: series ids must be distinct; repeated: {dup}")
        if len(dates) > 1 and not np.all(np.diff(dates) == _DAY):
            k = int(np.flatnonzero(np.diff(dates) != _DAY)[0])
            raise DataError(f"{self.source}: dates must be consecutive days; {dates[k]} is followed by {dates[k + 1]}")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "values", values)

    @property
    def n_series(self) -> int:
        """The number of series."""
        return len(self.ids)

    @property
    def n_days(self) -> int:
        """The number of days in the calendar."""
        return len(self.dates)

    @property
    def missing_mask(self) -> np.ndarray:
        """``(n_series, n_days)`` bool, True where a value is missing."""
        return np.isnan(self.values)

    @property
    def missing_fraction(self) -> float:
        """The fraction of missing values over all series and days."""
        return float(self.missing_mask.mean()) if self.values.size else 0.0

    def series(self, series_id: str) -> np.ndarray:
        """The ``(n_days,)`` values of one series (a view)."""
        try:
            return self.values[self.ids.index(series_id)]
        except ValueError:
            raise DataError(f"{self.source}: no series {series_id!r}") from None

    def head(self, n_days: int) -> SeriesTable:
        """The first ``n_days`` days (e.g. the training part before a held-out horizon)."""
        return self.slice_days(0, n_days)

    def tail(self, n_days: int) -> SeriesTable:
        """The last ``n_days`` days."""
        return self.slice_days(self.n_days - n_days, self.n_days)

    def slice_days(self, start: int, stop: int) -> SeriesTable:
        """Days ``start:stop`` (indices into ``dates``, like a Python slice of non-negative bounds)."""
        if not 0 <= start <= stop <= self.n_days:
            raise ConfigError(f"day range {start}:{stop} is outside the table's 0:{self.n_days}")
        return SeriesTable(
            list(self.ids), self.dates[start:stop].copy(), self.values[:, start:stop].copy(), self.source
        )

    def with_values(self, values: np.ndarray) -> SeriesTable:
        """The same ids and dates with other ``(n_series, n_days)`` values (e.g. imputed ones)."""
        return SeriesTable(list(self.ids), self.dates.copy(), values, self.source)

    def to_frame(self) -> pd.DataFrame:
        """A frame indexed by date (``DatetimeIndex`` named ``Date``), one float column per series."""
        index = pd.DatetimeIndex(self.dates.astype("datetime64[ns]"), name="Date")
        return pd.DataFrame(self.values.T.copy(), index=index, columns=list(self.ids))

    def to_long(self) -> pd.DataFrame:
        """The long frame: columns ``series_id``, ``date``, ``value``, series by series, every day (NaN if missing)."""
        return pd.DataFrame(
            {
                "series_id": np.repeat(np.asarray(self.ids, dtype=object), self.n_days),
                "date": np.tile(self.dates.astype("datetime64[ns]"), self.n_series),
                "value": self.values.reshape(-1),
            }
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<frame>") -> SeriesTable:
        """A table from a frame indexed by consecutive dates with one numeric column per series."""
        dates = pd.DatetimeIndex(frame.index).to_numpy().astype("datetime64[D]")
        try:
            values = frame.to_numpy(dtype=np.float64).T
        except (TypeError, ValueError) as e:
            raise DataError(f"{source}: every column must be numeric ({e})") from e
        return cls([str(c) for c in frame.columns], dates, values, source)


# ----------------------------------------------------------------------------------------------------
# Reading


def _read_rows(path: Path) -> tuple[list[list[str]], str]:
    """The rows of a delimited text file (trailing blank lines dropped) and its separator, or a DataError."""
    if not path.is_file():
        what = "is a folder, not a file" if path.exists() else "does not exist"
        raise DataError(f"{path}: {what}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text file ({e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: the file is empty; expected a header line and one line per day")
    header = lines[0]
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    sep = max(counts, key=lambda s: counts[s])  # ties go to ';' (dict order): the NN5 separator
    if counts[sep] == 0:
        raise DataError(
            f"{path}: line 1 ({header[:60]!r}) holds a single column; expected a date column and series columns "
            "separated by ';' (NN5), ',' or tabs, or the long layout series_id,date,value"
        )
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))
    return rows, sep


def _parse_dates(path: Path, fields: Sequence[str], lines: Sequence[int], column: int) -> np.ndarray:
    """ISO dates (``YYYY-MM-DD``, optionally with a midnight time) as datetime64[D], or a DataError naming the line."""
    stripped = [f.strip() for f in fields]
    text = pd.Series(stripped, dtype=object)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    shaped = text.str.fullmatch(_ISO_DATE.pattern).to_numpy(dtype=bool)
    bad = np.flatnonzero(~shaped | parsed.isna().to_numpy() | (parsed != parsed.dt.normalize()).to_numpy())
    if len(bad):
        k = int(bad[0])
        raise DataError(
            f"{path}: line {lines[k]}, column {column}: {stripped[k]!r} is not a date; expected an ISO date "
            "YYYY-MM-DD (one per day)"
        )
    return parsed.to_numpy().astype("datetime64[D]")


def _parse_values(
    path: Path, cells: np.ndarray, lines: np.ndarray, columns: np.ndarray, names: np.ndarray
) -> np.ndarray:
    """Text cells (any shape) as float64 with NaN for missing, or a DataError naming the first bad cell.

    ``lines``, ``columns`` and ``names`` broadcast against ``cells``: the 1-based line and column of each cell and
    the series it belongs to.
    """
    flat = np.char.strip(cells.astype(str)).reshape(-1)
    missing = np.isin(np.char.lower(flat), list(_NA_TOKENS))
    numeric = pd.Series(flat).str.fullmatch(_NUMBER.pattern).to_numpy()
    bad = np.flatnonzero(~missing & ~numeric)
    if len(bad):
        k = int(bad[0])
        line = np.broadcast_to(lines, cells.shape).reshape(-1)[k]
        col = np.broadcast_to(columns, cells.shape).reshape(-1)[k]
        name = np.broadcast_to(names, cells.shape).reshape(-1)[k]
        value = str(flat[k])
        hint = ""
        if re.fullmatch(r"[+-]?\d+,\d+", value):
            hint = " (a decimal comma? NN5 files use a decimal point)"
        elif value.lower() in {"inf", "+inf", "-inf", "infinity"}:
            hint = " (values must be finite)"
        raise DataError(
            f"{path}: line {line}, column {col} (series {name}): {value!r} is not a number{hint}; expected an "
            f"amount withdrawn, or a blank for a missing day ({len(bad)} such value(s) in the file)"
        )
    out = np.full(flat.shape, np.nan)
    out[~missing] = flat[~missing].astype(np.float64)
    out = out.reshape(cells.shape)
    negative = np.argwhere(out < 0)
    if len(negative):
        idx = tuple(negative[0])
        line = np.broadcast_to(lines, cells.shape)[idx]
        col = np.broadcast_to(columns, cells.shape)[idx]
        name = np.broadcast_to(names, cells.shape)[idx]
        raise DataError(
            f"{path}: line {line}, column {col} (series {name}): {out[idx]:g} is negative; cash withdrawals are "
            f"amounts >= 0 (a negative entry is a reversal to clean before forecasting; {len(negative)} such "
            "value(s) in the file)"
        )
    return out


def _check_ids(path: Path, ids: Sequence[str], first_column: int) -> None:
    seen: dict[str, int] = {}
    for k, name in enumerate(ids):
        col = first_column + k
        if not name:
            raise DataError(f"{path}: line 1, column {col}: the series has no id (blank header field)")
        if name in seen:
            raise DataError(
                f"{path}: series id {name!r} appears twice (columns {seen[name]} and {col}); ids must be distinct"
            )
        seen[name] = col


def _layout_of(path: Path, header: Sequence[str]) -> Literal["wide", "long"]:
    names = [h.strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()
    if (
        len(names) == 3
        and sum(n in _ID_NAMES for n in names) == 1
        and sum(n in _DATE_NAMES for n in names) == 1
        and sum(n in _VALUE_NAMES for n in names) == 1
    ):
        return "long"
    if names and names[0] in _DATE_NAMES:
        return "wide"
    raise DataError(
        f"{path}: line 1 ({', '.join(header[:4])}{', ...' if len(header) > 4 else ''}) is neither the wide NN5 "
        "header (a date column such as 'Date' first, then one column per series) nor the long header (series_id, "
        "date, value)"
    )


def _fill_calendar(
    path: Path, dates: np.ndarray, values: np.ndarray, lines: np.ndarray | None, fill_gaps: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``dates`` (sorted, distinct) made consecutive: gaps are an error, or filled with NaN days when allowed."""
    steps = np.diff(dates)
    if not np.any(steps != _DAY):
        return dates, values
    if not fill_gaps:
        k = int(np.flatnonzero(steps != _DAY)[0])
        where = f"line {lines[k + 1]}: " if lines is not None else ""
        n_gaps = int(np.sum(steps != _DAY))
        n_absent = int(np.sum(steps.astype(np.int64) - 1))
        gaps = np.flatnonzero(steps != _DAY)
        absent = np.concatenate([np.arange(dates[g] + _DAY, dates[g + 1], dtype="datetime64[D]") for g in gaps])
        shown = ", ".join(str(d) for d in absent[:_SHOWN_MISSING_DAYS])
        if len(absent) > _SHOWN_MISSING_DAYS:
            shown += f", ... ({n_absent} day(s) in {n_gaps} gap(s))"
        raise DataError(
            f"{path}: {where}{dates[k + 1]} follows {dates[k]}; days missing from the daily calendar: {shown}. "
            "Expected one row per day; to read the file with the missing days inserted as missing values, set "
            "dataset.params.fill_gaps=true on the command line (fill_gaps=True in Python)"
        )
    full = np.arange(dates[0], dates[-1] + _DAY, dtype="datetime64[D]")
    out = np.full((values.shape[0], len(full)), np.nan)
    out[:, (dates - dates[0]).astype(np.int64)] = values
    return full, out


def _read_wide(path: Path, rows: list[list[str]], fill_gaps: bool) -> SeriesTable:
    header = [h.strip() for h in rows[0]]
    width = len(header)
    trailing = width > 1 and header[-1] == ""  # NN5 ends each line with the separator: an empty last column
    n_cols = width - 1 if trailing else width
    ids = header[1:n_cols]
    if not ids:
        raise DataError(f"{path}: line 1 names a date column but no series")
    _check_ids(path, ids, first_column=2)
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: the file holds a header but no days")
    stray: list[tuple[int, str]] = []
    for r, row in enumerate(body):
        if len(row) != width and not (trailing and len(row) == n_cols):
            if not any(f.strip() for f in row):
                raise DataError(f"{path}: line {r + 2} is blank; expected one line per day")
            raise DataError(
                f"{path}: line {r + 2} has {len(row)} fields but the header has {n_cols}; expected a date and one "
                "value per series on every line"
            )
        if trailing and len(row) == width and row[-1].strip():
            stray.append((r + 2, row[-1].strip()))
    if stray:
        warnings.warn(
            f"{path}: {len(stray)} line(s) hold a value after the last series, under the blank header field that "
            f"ends the NN5 header (first: line {stray[0][0]}, {stray[0][1]!r}); ignored. The published "
            "nn5_daily_train.csv has one such value, on line 2",
            stacklevel=3,
        )
    line_no = np.arange(2, len(body) + 2)
    dates = _parse_dates(path, [row[0] for row in body], line_no, column=1)
    steps = np.diff(dates)
    if np.any(steps <= np.timedelta64(0, "D")):
        k = int(np.flatnonzero(steps <= np.timedelta64(0, "D"))[0])
        if steps[k] == np.timedelta64(0, "D"):
            raise DataError(f"{path}: line {k + 3}: date {dates[k + 1]} repeats line {k + 2}; expected one row per day")
        raise DataError(
            f"{path}: line {k + 3}: date {dates[k + 1]} comes after {dates[k]} (line {k + 2}); dates must increase "
            "day by day"
        )
    cells = np.array([row[1:n_cols] for row in body], dtype=object)
    values = _parse_values(
        path,
        cells,
        line_no[:, None],
        np.arange(2, n_cols + 1)[None, :],
        np.asarray(ids, dtype=object)[None, :],
    ).T
    dates, values = _fill_calendar(path, dates, values, line_no, fill_gaps)
    return SeriesTable(ids, dates, values, str(path))


def _read_long(path: Path, rows: list[list[str]], fill_gaps: bool) -> SeriesTable:
    names = [h.strip().lower() for h in rows[0]]
    c_id = next(k for k, n in enumerate(names) if n in _ID_NAMES)
    c_date = next(k for k, n in enumerate(names) if n in _DATE_NAMES)
    c_value = next(k for k, n in enumerate(names) if n in _VALUE_NAMES)
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: the file holds a header but no values")
    width = len(rows[0])
    for r, row in enumerate(body):
        if len(row) != width:
            if not any(f.strip() for f in row):
                raise DataError(f"{path}: line {r + 2} is blank; expected one line per series and day")
            raise DataError(f"{path}: line {r + 2} has {len(row)} fields but the header has {width}")
    line_no = np.arange(2, len(body) + 2)
    sid = np.array([row[c_id].strip() for row in body], dtype=object)
    blank = np.flatnonzero(sid == "")
    if len(blank):
        raise DataError(f"{path}: line {line_no[blank[0]]}, column {c_id + 1}: the series id is blank")
    dates = _parse_dates(path, [row[c_date] for row in body], line_no, column=c_date + 1)
    ids = list(dict.fromkeys(sid.tolist()))
    series_index = pd.Index(ids).get_indexer(sid)
    values = _parse_values(
        path, np.array([row[c_value] for row in body], dtype=object), line_no, np.int64(c_value + 1), sid
    )
    keys = pd.DataFrame({"s": series_index, "d": dates})
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        same = np.flatnonzero(dup & (series_index == series_index[first]) & (dates == dates[first]))
        raise DataError(
            f"{path}: series {sid[first]} has two values for {dates[first]} (lines {line_no[same[0]]} and "
            f"{line_no[same[1]]}); expected at most one row per series and day"
        )
    calendar = np.unique(dates)
    table = np.full((len(ids), len(calendar)), np.nan)
    table[series_index, np.searchsorted(calendar, dates)] = values
    calendar, table = _fill_calendar(path, calendar, table, None, fill_gaps)
    return SeriesTable(ids, calendar, table, str(path))


def read_series_table(path: str | Path, *, layout: Layout = "auto", fill_gaps: bool = False) -> SeriesTable:
    """Read daily series in the wide NN5 layout or the long layout (see the module docstring).

    Args:
        path: the file (e.g. ``nn5_daily_train.csv``).
        layout: ``"wide"``, ``"long"``, or ``"auto"`` to tell them apart by the header.
        fill_gaps: insert days absent from the calendar as missing values instead of failing.

    Returns:
        A :class:`SeriesTable`: ``values`` is ``(n_series, n_days)`` float64, NaN where missing.

    Raises:
        DataError: the file is missing, empty or malformed, or breaks a rule of the module docstring.
    """
    path = Path(path)
    if layout not in ("auto", "wide", "long"):
        raise ConfigError(f"layout must be 'auto', 'wide' or 'long', got {layout!r}")
    rows, _ = _read_rows(path)
    detected = _layout_of(path, rows[0])
    if layout != "auto" and layout != detected:
        raise DataError(f"{path}: layout={layout!r} was asked for but the header is that of the {detected} layout")
    table = _read_long(path, rows, fill_gaps) if detected == "long" else _read_wide(path, rows, fill_gaps)
    empty = np.flatnonzero(np.all(np.isnan(table.values), axis=1))
    if len(empty):
        listing = ", ".join(table.ids[k] for k in empty[:5]) + (", ..." if len(empty) > 5 else "")
        raise DataError(
            f"{path}: series {listing} ({len(empty)} of {table.n_series}) has no value on any day; every series "
            "needs observed values to be modelled (remove it from the file)"
        )
    return table


# ----------------------------------------------------------------------------------------------------
# Imputation


def impute_same_weekday_median(
    values: np.ndarray, dates: np.ndarray, *, window: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fill each missing day with the median of the same series on the same weekday.

    A missing value of series ``i`` on day ``t`` becomes the median of series ``i``'s observed values on the days
    with ``t``'s weekday: all of them (``window=None``), or those within ``window`` days of ``t`` (``|s - t| <=
    window``). Where that set is empty (``window`` too small, or a weekday never observed) the median of all of the
    series' observed values on that weekday is used, and where the series was never observed on that weekday, the
    median of all its observed values. Observed values are never changed.

    Args:
        values: ``(n_series, n_days)`` or ``(n_days,)`` float, NaN where missing.
        dates: ``(n_days,)`` dates (``datetime64`` or anything numpy converts to ``datetime64[D]``).
        window: half-width in days of the neighbourhood the median is taken over, or None for the whole series.

    Returns:
        ``(imputed, mask)``: ``imputed`` of the shape of ``values`` (float64, no NaN), ``mask`` (bool, same shape)
        True where a value was imputed.

    Raises:
        DataError: a series is missing on every day (it names the row), or ``dates`` does not match ``values``.
    """
    x = np.asarray(values, dtype=np.float64)
    one = x.ndim == 1
    x2 = np.atleast_2d(x).copy()
    if x2.ndim != 2:
        raise DataError(f"values must be (n_series, n_days) or (n_days,), got shape {x.shape}")
    days = np.asarray(dates).astype("datetime64[D]")
    if days.shape != (x2.shape[1],):
        raise DataError(f"dates must have shape ({x2.shape[1]},) to match values {x.shape}, got {days.shape}")
    if window is not None and (not isinstance(window, int | np.integer) or window < 0):
        raise ConfigError(f"window must be None or a number of days >= 0, got {window!r}")
    mask = np.isnan(x2)
    empty = np.flatnonzero(mask.all(axis=1))
    if len(empty):
        raise DataError(
            f"series (row) {int(empty[0])} has no observed value on any day ({len(empty)} such series); "
            "a series that is entirely missing cannot be imputed"
        )
    if not mask.any():
        return (x2[0] if one else x2), (mask[0] if one else mask)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
    series_median = np.nanmedian(x2, axis=1)
    for i in np.flatnonzero(mask.any(axis=1)):
        row = x2[i]
        observed = ~mask[i]
        for wd in np.unique(weekday[mask[i]]):
            same = weekday == wd
            pool = row[same & observed]
            fallback = float(np.median(pool)) if pool.size else float(series_median[i])
            targets = np.flatnonzero(same & mask[i])
            if window is None:
                row[targets] = fallback
                continue
            candidates = np.flatnonzero(same & observed)
            for t in targets:
                near = candidates[np.abs(candidates - t) <= window]
                row[t] = float(np.median(row[near])) if near.size else fallback
    return (x2[0] if one else x2), (mask[0] if one else mask)


# ----------------------------------------------------------------------------------------------------
# Writing


def _format(values: np.ndarray, decimals: int) -> np.ndarray:
    """Values as fixed-point text, blanks where NaN (an object array of the shape of ``values``)."""
    text = np.char.mod(f"%.{decimals}f", np.nan_to_num(values, nan=0.0)).astype(object)
    text[np.isnan(values)] = ""
    return text


def write_series_table(
    table: SeriesTable,
    path: str | Path,
    *,
    layout: Literal["wide", "long"] = "wide",
    decimals: int = 3,
) -> Path:
    """Write a table so that :func:`read_series_table` reads it back (values rounded to ``decimals``).

    ``"wide"`` writes the NN5 layout exactly as the published file: header ``Date;N101;...;``, one line per day
    ``YYYY-MM-DD;v1;v2;...;`` with ``decimals`` decimals, blanks for missing values, every line ending in ``;``
    and CRLF. ``"long"`` writes ``series_id,date,value`` lines (``\\n`` line ends), series by series and day by
    day, every day of the calendar (a blank value where missing, so the calendar survives a round trip).

    The file is written under a temporary name in the same folder, then renamed over ``path``: a reader never
    sees half a file. Returns ``path``.
    """
    path = Path(path)
    if layout not in ("wide", "long"):
        raise ConfigError(f"layout must be 'wide' or 'long', got {layout!r}")
    if not isinstance(decimals, int) or decimals < 0:
        raise ConfigError(f"decimals must be an integer >= 0, got {decimals!r}")
    bad = [i for i in table.ids if not i or any(c in i for c in ';,\t\r\n"')]
    if bad:
        raise DataError(
            f"series ids {bad[:3]} cannot be written: ids must be non-empty without ';', ',', tabs or quotes"
        )
    dates = np.datetime_as_string(table.dates, unit="D").astype(object)
    cells = _format(table.values, decimals)
    if layout == "wide":
        lines = ["Date;" + ";".join(table.ids) + ";"]
        for t in range(table.n_days):
            lines.append(dates[t] + ";" + ";".join(cells[:, t]) + ";")
        text = "\r\n".join(lines) + "\r\n"
    else:
        lines = ["series_id,date,value"]
        for i, sid in enumerate(table.ids):
            lines.extend(f"{sid},{d},{v}" for d, v in zip(dates, cells[i], strict=True))
        text = "\n".join(lines) + "\n"
    atomic_write_text(path, text)
    return path
