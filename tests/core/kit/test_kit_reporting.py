"""The kit's report helpers: named spreads, markdown tables, figures, published rows, root checks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sciconv.atomic import atomic_directory
from sciconv.errors import ConfigError, DataError, NotFoundError
from sciconv.kit import Published, markdown_table, new_figure, require_root, save_figure, summarize


def test_summaries_name_their_spread() -> None:
    se = summarize([0.7, 0.8, 0.9])
    sd = summarize([0.7, 0.8, 0.9], kind="sd")
    assert se.mean == pytest.approx(0.8) and sd.spread == pytest.approx(0.1)
    assert se.spread == pytest.approx(0.1 / math.sqrt(3))
    assert (se.label, sd.label) == ("mean ± SE", "mean ± SD")
    assert sd.format(2, scale=100) == "80.00 ± 10.00"
    dropped = summarize([0.5, math.nan, 0.7])
    assert dropped.n == 2 and dropped.n_dropped == 1
    assert dropped.format(2) == "0.60 ± 0.10" and dropped.label == "mean ± SE"
    assert summarize([]).format() == "n/a" and summarize([], kind="sd").label == "mean ± SD"


@pytest.mark.parametrize("kind", ["se", "sd"])
def test_one_value_has_no_spread(kind: str) -> None:
    # A standard error or deviation of one value is undefined: no number (least of all 0) stands for it, and
    # the text shows the value alone, marked as one value, not "± 0.00".
    name = kind.upper()
    one = summarize([0.75], kind=kind)
    assert one.mean == 0.75 and one.n == 1 and math.isnan(one.spread)
    assert one.format(2, scale=100) == "75.00 (n=1)" and "±" not in one.format()
    assert one.label == f"value (n=1, no {name})"
    # non-finite values left out still leave one
    lone = summarize([math.nan, 0.75, math.inf], kind=kind)
    assert lone.n == 1 and lone.n_dropped == 2 and math.isnan(lone.spread) and lone.format(1) == "0.8 (n=1)"


def test_markdown_table() -> None:
    text = markdown_table([{"method": "DNN", "acc": 0.91234}, {"method": "a|b", "itr": 1234.0}])
    assert text.splitlines() == [
        "| method | acc | itr |",
        "|---|---|---|",
        "| DNN | 0.9123 |  |",
        "| a\\|b |  | 1,234 |",
    ]
    assert markdown_table([], empty="nothing") == "nothing\n"


def test_figures_are_written_whole(tmp_path: Path) -> None:
    fig, axes = new_figure(2, 3, figsize=(6, 4))
    assert axes.shape == (2, 3)
    axes[0, 0].plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "plots" / "a.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and sorted(p.name for p in path.parent.iterdir()) == ["a.png"]


def test_published_rows_are_marked() -> None:
    record = Published("Swin UNETR", {"dice_wt": 0.926}, "Hatamizadeh et al. 2022")
    row = record.row(dice_wt="Dice WT")
    assert row.published and row.metrics == {"Dice WT": 0.926} and row.source == "Hatamizadeh et al. 2022"


def test_root_checks_share_one_message_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^dataset\.params\.root: x\.y reads a folder of S\*\.mat; give it with"):
        require_root(None, "x.y", "a folder of S*.mat")
    with pytest.raises(DataError, match=r"does not exist \(expected a folder of S\*\.mat\)") as missing:
        require_root(tmp_path / "missing", "x.y", "a folder of S*.mat")
    # a path the user named that does not exist is a problem with what was asked: exit 2, like other pipelines
    assert isinstance(missing.value, NotFoundError) and missing.value.exit_code == 2
    (tmp_path / "f.csv").write_text("")
    with pytest.raises(DataError, match="is not a folder"):
        require_root(tmp_path / "f.csv", "x.y", "a folder")
    assert require_root(str(tmp_path / "f.csv"), "x.y", "a CSV file", kind="file") == tmp_path / "f.csv"


def test_atomic_directory_swaps_whole_folders(tmp_path: Path) -> None:
    target = tmp_path / "member"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "b").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["member"] and [p.name for p in target.iterdir()] == ["a"]
    with atomic_directory(target) as tmp:
        (tmp / "c").write_text("2")
    assert [p.name for p in target.iterdir()] == ["c"] and sorted(p.name for p in tmp_path.iterdir()) == ["member"]


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    from sciconv.kit import file_sha256

    data = bytes(range(256)) * 5000  # more than one 1 MiB block
    (tmp_path / "f.bin").write_bytes(data)
    assert file_sha256(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()
