"""NN5 reader and writer: wide and long layouts, bad input, same-weekday imputation, the real file."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_atm_forecast.atm_simulator import simulate_atm_withdrawals
from sciconv_atm_forecast.nn5_io import (
    SeriesTable,
    impute_same_weekday_median,
    read_series_table,
    write_series_table,
)

NN5 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nn5" / "nn5_daily_train.csv"
needs_nn5 = pytest.mark.skipif(not NN5.is_file(), reason=f"the real NN5 file is not available at {NN5}")

WIDE = (
    "Date;A;B;\r\n"
    "2000-01-03;1.500;10.000;\r\n"
    "2000-01-04;;11.250;\r\n"
    "2000-01-05;2.000;NA;\r\n"
    "2000-01-06;0.000;12.000;\r\n"
)


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def _table(values: list[list[float]], start: str = "2000-01-03", ids: list[str] | None = None) -> SeriesTable:
    arr = np.asarray(values, dtype=float)
    dates = np.datetime64(start, "D") + np.arange(arr.shape[1])
    return SeriesTable(ids or [f"S{k}" for k in range(arr.shape[0])], dates, arr)


# ----------------------------------------------------------------------------------------------------
# Reading the wide layout


def test_reads_wide_nn5_layout(tmp_path: Path) -> None:
    table = read_series_table(_write(tmp_path, WIDE))
    assert table.ids == ["A", "B"]
    assert table.dates.dtype == np.dtype("datetime64[D]")
    assert table.dates[0] == np.datetime64("2000-01-03") and table.n_days == 4
    np.testing.assert_array_equal(table.values, [[1.5, np.nan, 2.0, 0.0], [10.0, 11.25, np.nan, 12.0]])
    np.testing.assert_array_equal(table.missing_mask, np.isnan(table.values))
    assert table.missing_fraction == pytest.approx(2 / 8)
    assert table.source.endswith("data.csv")


def test_reads_comma_separated_wide_without_trailing_separator(tmp_path: Path) -> None:
    text = "date,N1,N2\n2000-01-03,1,2\n2000-01-04,3,\n"
    table = read_series_table(_write(tmp_path, text))
    assert table.ids == ["N1", "N2"]
    np.testing.assert_array_equal(table.values, [[1, 3], [2, np.nan]])


def test_semicolon_file_without_trailing_separator_on_some_lines(tmp_path: Path) -> None:
    text = "Date;A;B;\n2000-01-03;1;2\n2000-01-04;3;4;\n"
    table = read_series_table(_write(tmp_path, text))
    np.testing.assert_array_equal(table.values, [[1, 3], [2, 4]])


def test_value_under_the_blank_last_header_field_is_ignored_with_a_warning(tmp_path: Path) -> None:
    text = "Date;A;B;\n2000-01-03;1;2;7.5 \n2000-01-04;3;4;\n"
    with pytest.warns(UserWarning, match=r"line 2, '7.5'"):
        table = read_series_table(_write(tmp_path, text))
    np.testing.assert_array_equal(table.values, [[1, 3], [2, 4]])


# ----------------------------------------------------------------------------------------------------
# Reading the long layout


def test_reads_long_layout_in_any_row_order(tmp_path: Path) -> None:
    text = (
        "series_id,date,value\n"
        "B,2000-01-04,5\n"
        "A,2000-01-03,1\n"
        "A,2000-01-05,3\n"
        "B,2000-01-03,4\n"
        "A,2000-01-04,\n"  # blank: missing
    )
    table = read_series_table(_write(tmp_path, text))
    assert table.ids == ["B", "A"]  # order of first appearance
    np.testing.assert_array_equal(table.dates, np.datetime64("2000-01-03") + np.arange(3))
    np.testing.assert_array_equal(table.values, [[4, 5, np.nan], [1, np.nan, 3]])


@pytest.mark.parametrize("header", ["unique_id;ds;y", "Date;Value;ATM", "id\tdate\tamount"])
def test_long_layout_detected_by_header_names(tmp_path: Path, header: str) -> None:
    sep = ";" if ";" in header else "\t"
    names = header.split(sep)
    roles = {"unique_id": "s", "id": "s", "atm": "s", "ds": "d", "date": "d", "y": "v", "value": "v", "amount": "v"}
    rows = [{"s": "X", "d": "2000-01-01", "v": "2.5"}, {"s": "X", "d": "2000-01-02", "v": "3.5"}]
    text = header + "\n" + "".join(sep.join(r[roles[n.lower()]] for n in names) + "\n" for r in rows)
    table = read_series_table(_write(tmp_path, text))
    assert table.ids == ["X"]
    np.testing.assert_array_equal(table.values, [[2.5, 3.5]])


def test_long_layout_duplicate_pair_is_an_error(tmp_path: Path) -> None:
    text = "series_id,date,value\nA,2000-01-03,1\nA,2000-01-04,2\nA,2000-01-03,5\n"
    with pytest.raises(DataError, match=r"series A has two values for 2000-01-03 \(lines 2 and 4\)"):
        read_series_table(_write(tmp_path, text))


def test_long_layout_blank_id_is_an_error(tmp_path: Path) -> None:
    text = "series_id,date,value\nA,2000-01-03,1\n,2000-01-04,2\n"
    with pytest.raises(DataError, match=r"line 3, column 1: the series id is blank"):
        read_series_table(_write(tmp_path, text))


def test_layout_argument_must_match_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path, WIDE)
    assert read_series_table(path, layout="wide").n_series == 2
    with pytest.raises(DataError, match="layout='long' was asked for but the header is that of the wide layout"):
        read_series_table(path, layout="long")
    with pytest.raises(ConfigError, match="layout must be"):
        read_series_table(path, layout="tall")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"the file is empty"),
        ("\n\n", r"the file is empty"),
        ("Date;A;B;\n", r"header but no days"),
        ("Date\n2000-01-01\n", r"single column"),
        ("Date;\n2000-01-01;\n", r"no series"),
        ("Day;A;A\n2000-01-03;1;2\n", r"series id 'A' appears twice \(columns 2 and 3\)"),
        ("Date;A;;B\n2000-01-03;1;2;3\n", r"line 1, column 3: the series has no id"),
        ("Month;A\n2000-01;1\n", r"neither the wide NN5 header"),
        ("Date;A;B\n2000-01-03;1;2\n2000-01-05;1;2\n2000-01-04;1;2\n", r"line 4: date 2000-01-04 comes after"),
        ("Date;A;B\n2000-01-03;1;2\n2000-01-03;1;2\n", r"line 3: date 2000-01-03 repeats line 2"),
        ("Date;A;B\n2000-01-03;1;2\n03/01/2000;1;2\n", r"line 3, column 1: '03/01/2000' is not a date"),
        ("Date;A;B\n2000-01-03 12:00;1;2\n", r"line 2, column 1: '2000-01-03 12:00' is not a date"),
        ("Date;A;B\n2000-01;1;2\n", r"line 2, column 1: '2000-01' is not a date"),
        ("Date;A;B\n2000-01-03;1;2\n2000-01-04;1;abc\n", r"line 3, column 3 \(series B\): 'abc' is not a number"),
        ("Date;A;B\n2000-01-03;1,5;2\n", r"'1,5' is not a number \(a decimal comma"),
        ("Date;A;B\n2000-01-03;inf;2\n", r"'inf' is not a number \(values must be finite\)"),
        ("Date;A;B\n2000-01-03;1;-2.5\n", r"line 2, column 3 \(series B\): -2.5 is negative"),
        ("Date;A;B\n2000-01-03;1;2\n2000-01-04;1\n", r"line 3 has 2 fields but the header has 3"),
        ("Date;A;B\n2000-01-03;1;2\n\n2000-01-04;1;2\n", r"line 3 is blank"),
        ("Date;A;B\n2000-01-03;;2\n2000-01-04;nan;3\n", r"series A \(1 of 2\) has no value on any day"),
        ("series_id,date,value\nA,2000-01-03,x\n", r"line 2, column 3 \(series A\): 'x' is not a number"),
    ],
)
def test_bad_input_is_a_data_error_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text, name="bad.csv")
    with pytest.raises(DataError, match=message) as info:
        read_series_table(path)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_series_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_series_table(tmp_path)


def test_calendar_gap_is_an_error_unless_filled(tmp_path: Path) -> None:
    text = "Date;A;B\n2000-01-03;1;2\n2000-01-04;3;4\n2000-01-07;5;6\n"
    path = _write(tmp_path, text)
    expected = r"line 4: 2000-01-07 follows 2000-01-04; days missing .*: 2000-01-05, 2000-01-06\. .*fill_gaps=true"
    with pytest.raises(DataError, match=expected):
        read_series_table(path)
    table = read_series_table(path, fill_gaps=True)
    np.testing.assert_array_equal(table.dates, np.datetime64("2000-01-03") + np.arange(5))
    np.testing.assert_array_equal(table.values, [[1, 3, np.nan, np.nan, 5], [2, 4, np.nan, np.nan, 6]])


def test_calendar_gap_message_names_the_file_the_missing_days_and_the_override(tmp_path: Path) -> None:
    """A simulated NN5 file with three days cut out: the message names the file, the first missing dates and the
    command-line override (the Python keyword too), on one line."""
    table = simulate_atm_withdrawals(n_series=3, n_days=30, seed=2)
    path = write_series_table(table, tmp_path / "nn5_daily_train.csv")
    lines = path.read_bytes().split(b"\r\n")
    del lines[10:13]  # the days on lines 11-13: dates[9], dates[10], dates[11]
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError) as info:
        read_series_table(path)
    message = str(info.value)
    missing = [str(d) for d in table.dates[9:12]]
    assert "\n" not in message and message.startswith(f"{path}: line 11: ")
    assert f"days missing from the daily calendar: {', '.join(missing)}" in message
    assert "dataset.params.fill_gaps=true" in message and "fill_gaps=True" in message
    # many missing days: the first few are listed, then how many in all
    lines = path.read_bytes().split(b"\r\n")
    del lines[2:8]
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError) as info:
        read_series_table(path)
    message = str(info.value)
    first = [str(d) for d in table.dates[1:4]]
    assert f"days missing from the daily calendar: {', '.join(first)}, ... (9 day(s) in 2 gap(s))" in message


def test_long_layout_gap_for_every_series_is_a_calendar_gap(tmp_path: Path) -> None:
    text = "series_id,date,value\nA,2000-01-03,1\nB,2000-01-03,1\nA,2000-01-05,2\n"
    with pytest.raises(DataError, match="2000-01-05 follows 2000-01-03"):
        read_series_table(_write(tmp_path, text))
    table = read_series_table(_write(tmp_path, text), fill_gaps=True)
    np.testing.assert_array_equal(table.values, [[1, np.nan, 2], [1, np.nan, np.nan]])


def test_series_table_validates_itself() -> None:
    dates = np.datetime64("2000-01-01") + np.arange(3)
    with pytest.raises(DataError, match="shape"):
        SeriesTable(["a"], dates, np.zeros((2, 3)))
    with pytest.raises(DataError, match="distinct"):
        SeriesTable(["a", "a"], dates, np.zeros((2, 3)))
    with pytest.raises(DataError, match="consecutive days"):
        SeriesTable(["a"], dates[[0, 2]], np.zeros((1, 2)))


def test_series_table_helpers() -> None:
    table = _table([[1, 2, 3, 4], [5, np.nan, 7, 8]], ids=["A", "B"])
    np.testing.assert_array_equal(table.series("B"), [5, np.nan, 7, 8])
    with pytest.raises(DataError, match="no series 'C'"):
        table.series("C")
    head, tail = table.head(3), table.tail(1)
    assert head.n_days == 3 and tail.n_days == 1 and tail.dates[0] == table.dates[-1]
    with pytest.raises(ConfigError):
        table.head(9)
    frame = table.to_frame()
    assert list(frame.columns) == ["A", "B"] and frame.index.name == "Date"
    back = SeriesTable.from_frame(frame)
    np.testing.assert_array_equal(back.values, table.values)
    np.testing.assert_array_equal(back.dates, table.dates)
    long = table.to_long()
    assert list(long.columns) == ["series_id", "date", "value"] and len(long) == 8
    assert long["series_id"].tolist()[:4] == ["A"] * 4
    assert table.with_values(np.zeros((2, 4))).values.sum() == 0


# ----------------------------------------------------------------------------------------------------
# Writing


def test_wide_writer_writes_the_nn5_form(tmp_path: Path) -> None:
    table = _table([[1.23456, np.nan], [0.0, 20.5]], start="1996-03-18", ids=["N101", "N102"])
    path = write_series_table(table, tmp_path / "out" / "nn5_daily_train.csv")
    assert path.read_bytes() == b"Date;N101;N102;\r\n1996-03-18;1.235;0.000;\r\n1996-03-19;;20.500;\r\n"
    assert [p.name for p in path.parent.iterdir()] == ["nn5_daily_train.csv"]  # no temporary file left


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_round_trip(tmp_path: Path, layout: str) -> None:
    rng = np.random.default_rng(0)
    values = np.round(rng.uniform(0, 40, size=(3, 20)), 3)
    values[0, 5] = values[2, -1] = np.nan
    values[:, 0] = np.nan  # a first day missing everywhere survives
    table = _table(values.tolist(), ids=["x1", "x2", "x3"])
    path = write_series_table(table, tmp_path / f"t_{layout}.csv", layout=layout)  # type: ignore[arg-type]
    back = read_series_table(path)
    assert back.ids == table.ids
    np.testing.assert_array_equal(back.dates, table.dates)
    np.testing.assert_array_equal(back.values, table.values)


def test_writer_overwrites_atomically_and_rejects_bad_ids(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("old")
    write_series_table(_table([[1.0, 2.0]]), path)
    assert path.read_text().startswith("Date;S0;")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    with pytest.raises(DataError, match="cannot be written"):
        write_series_table(_table([[1.0]], ids=["a;b"]), tmp_path / "u.csv")
    with pytest.raises(ConfigError):
        write_series_table(_table([[1.0]]), tmp_path / "u.csv", layout="tall")  # type: ignore[arg-type]
    assert not (tmp_path / "u.csv").exists()


# ----------------------------------------------------------------------------------------------------
# Imputation


def test_same_weekday_median_by_hand() -> None:
    # 2000-01-03 is a Monday; three weeks of one series, Mondays 1, 3, NaN -> median 2; Tuesday NaN -> 5
    x = np.arange(21, dtype=float) + 1.0
    x[0], x[7], x[14] = 1.0, 3.0, np.nan
    x[1], x[8], x[15] = 4.0, np.nan, 6.0
    dates = np.datetime64("2000-01-03") + np.arange(21)
    imputed, mask = impute_same_weekday_median(x, dates)
    assert imputed[14] == 2.0 and imputed[8] == 5.0
    np.testing.assert_array_equal(mask, np.isnan(x))
    np.testing.assert_array_equal(imputed[~mask], x[~mask])


def test_window_limits_the_median_and_falls_back() -> None:
    dates = np.datetime64("2000-01-03") + np.arange(8 * 7)
    x = np.ones(len(dates))
    mondays = np.arange(0, len(dates), 7)
    x[mondays] = [10, 10, 10, 10, np.nan, 50, 50, 50]
    imputed, _ = impute_same_weekday_median(x, dates)
    assert imputed[28] == 10.0  # median of 10, 10, 10, 10, 50, 50, 50
    imputed, _ = impute_same_weekday_median(x, dates, window=7)
    assert imputed[28] == 30.0  # the Mondays one week either side: 10 and 50
    x[mondays] = [np.nan] * 4 + [np.nan, 50, 50, 50]
    imputed, _ = impute_same_weekday_median(x, dates, window=3)  # no Monday within 3 days: all Mondays
    assert imputed[0] == 50.0
    with pytest.raises(ConfigError):
        impute_same_weekday_median(x, dates, window=-1)


def test_weekday_never_observed_falls_back_to_the_series_median() -> None:
    dates = np.datetime64("2000-01-03") + np.arange(14)
    values = np.array([[np.nan, 1, 2, 3, 4, 5, 6, np.nan, 1, 2, 3, 4, 5, 9], [1.0] * 14])
    imputed, mask = impute_same_weekday_median(values, dates)
    assert imputed[0, 0] == imputed[0, 7] == 3.5  # median of 1..6, 1..5, 9
    assert mask.sum() == 2 and not np.isnan(imputed).any()


def test_all_missing_series_cannot_be_imputed() -> None:
    dates = np.datetime64("2000-01-03") + np.arange(3)
    with pytest.raises(DataError, match=r"series \(row\) 1 has no observed value"):
        impute_same_weekday_median(np.array([[1.0, 2, 3], [np.nan] * 3]), dates)
    with pytest.raises(DataError, match="dates must have shape"):
        impute_same_weekday_median(np.ones((1, 3)), dates[:2])


# ----------------------------------------------------------------------------------------------------
# The real NN5 file


@needs_nn5
def test_real_nn5_file(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="line 2"):
        table = read_series_table(NN5)
    assert table.n_series == 111 and table.n_days == 735
    assert table.ids[0] == "N101" and table.ids[-1] == "N211"
    assert table.dates[0] == np.datetime64("1996-03-18") and table.dates[-1] == np.datetime64("1998-03-22")
    assert table.missing_fraction == pytest.approx(0.0206, abs=5e-4)
    assert np.nanmin(table.values) == 0.0
    reference = pd.read_csv(NN5, sep=";").iloc[:, 1:112].to_numpy(dtype=float).T
    np.testing.assert_array_equal(table.values, reference)

    out = write_series_table(table, tmp_path / "nn5_daily_train.csv")
    original = NN5.read_bytes().split(b"\r\n")
    written = out.read_bytes().split(b"\r\n")
    assert len(written) == len(original)
    assert [k for k in range(len(original)) if original[k] != written[k]] == [1]  # only the stray value of line 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_series_table(out)
    np.testing.assert_array_equal(back.values, table.values)

    imputed, mask = impute_same_weekday_median(table.values, table.dates)
    assert not np.isnan(imputed).any() and mask.sum() == np.isnan(table.values).sum()
