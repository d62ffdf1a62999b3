"""The DeepShip reader: metafiles, class folders, ship identity and the bad-input cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv_uatr.deepship_io import DEEPSHIP_CLASSES, list_deepship, read_metafile
from sciconv_uatr.recordings import AudioNotice

SAMPLE = Path("/work/shared/data/deepship-sample")
RATE = 8000


def _wav(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = round(seconds * RATE)
    sf.write(path, 0.1 * np.sin(np.arange(n) * 0.3), RATE, subtype="PCM_16")


def _meta(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())


def _layout(root: Path) -> None:
    """Cargo: unique rows (ships known); Tanker: repeated rows; passengership (lower case): no metafile;
    Tug: only its metafile."""
    _wav(root / "Cargo" / "10.wav", 1.0)
    _wav(root / "Cargo" / "2.wav", 0.5)
    _wav(root / "Cargo" / "1.wav", 0.25)
    (root / "Cargo" / "notes.txt").write_text("not a recording")
    (root / "Cargo" / "._10.wav").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")  # hidden: ignored
    _meta(
        root / "Cargo" / "cargo-metafile",
        [
            "1,70,ALPHA STAR ,20160509,123109,278,1488-466,",
            "2,70, beta sun,20160511,030034,150,950-1560,",
            "",
            "10,79,GAMMA,20160515,020119,383,1174-1364",
            "11,70,DELTA,20160516,134837,277,157-1822,",
        ],
    )
    _wav(root / "Tanker" / "5.wav")
    _wav(root / "Tanker" / "3.wav")
    _meta(
        root / "Tanker" / "tanker-metafile",
        ["3,80,ONE,20160509,123109,1,1-2,", "5,80,TWO,20160509,123109,1,1-2,", "3,80,THREE,20170101,000001,1,1-2,"],
    )
    _wav(root / "passengership" / "7.wav")
    _meta(root / "Tug" / "tug-metafile", ["1,52,TUGGY,20160509,123109,1,1-2,"])


def test_classes_constant() -> None:
    assert DEEPSHIP_CLASSES == ("Cargo", "Passengership", "Tanker", "Tug")


def test_list_all_classes(tmp_path: Path) -> None:
    _layout(tmp_path)
    with pytest.warns(AudioNotice) as notices:
        recs = list_deepship(tmp_path)
    ids = [r.recording_id for r in recs]
    assert ids == ["Cargo/1", "Cargo/2", "Cargo/10", "passengership/7", "Tanker/3", "Tanker/5"]
    assert [r.label for r in recs] == ["Cargo"] * 3 + ["passengership"] + ["Tanker"] * 2
    assert [r.ship for r in recs] == ["ALPHA STAR", "BETA SUN", "GAMMA", None, None, None]
    assert [r.duration_s for r in recs] == [0.25, 0.5, 1.0, 0.5, 0.5, 0.5]
    assert {r.sample_rate for r in recs} == {RATE}
    assert recs[0].path == tmp_path / "Cargo" / "1.wav"
    messages = [str(n.message) for n in notices]
    assert len(messages) == 3
    assert any("tanker-metafile: row numbers repeat (3)" in m and "class Tanker" in m for m in messages)
    assert any("passengership: no metafile passengership-metafile" in m and "ship=None" in m for m in messages)
    assert any(f"{tmp_path / 'Tug'}: holds only its metafile; class Tug skipped" in m for m in messages)


def test_subset_of_classes(tmp_path: Path) -> None:
    _layout(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)  # Cargo alone: nothing to notice
        recs = list_deepship(tmp_path, ["CARGO"])
    assert [r.recording_id for r in recs] == ["Cargo/1", "Cargo/2", "Cargo/10"]
    with pytest.warns(AudioNotice, match="row numbers repeat"):
        recs = list_deepship(tmp_path, ["Tanker", "cargo", "Tanker"])  # class order, no repeats
    assert [r.label for r in recs] == ["Cargo"] * 3 + ["Tanker"] * 2


def test_unknown_or_absent_class(tmp_path: Path) -> None:
    _layout(tmp_path)
    with pytest.raises(ConfigError, match=r"'Fishing' is not a class in .*classes found: Cargo, passengership, Tanker"):
        list_deepship(tmp_path, ["Fishing"])
    (tmp_path / "Tug" / "tug-metafile").unlink()
    (tmp_path / "Tug").rmdir()
    with pytest.raises(ConfigError, match=r"'Tug' has no folder under the DeepShip root"):
        list_deepship(tmp_path, ["Tug"])
    with pytest.raises(ConfigError, match="empty list"):
        list_deepship(tmp_path, [])


def test_metafile_only_and_empty_class_folders(tmp_path: Path) -> None:
    _meta(tmp_path / "Tug" / "tug-metafile", ["1,52,TUGGY,20160509,123109,1,1-2,"])
    (tmp_path / "Cargo").mkdir()
    with pytest.warns(AudioNotice) as notices, pytest.raises(DataError) as err:
        list_deepship(tmp_path)
    messages = [str(n.message) for n in notices]
    assert f"{tmp_path / 'Cargo'}: holds no WAV file; class Cargo skipped" in messages
    assert f"{tmp_path / 'Tug'}: holds only its metafile; class Tug skipped" in messages
    assert f"{tmp_path}: no DeepShip recordings; expected <root>/<Class>/<id>.wav" in str(err.value)


def test_root_without_class_folders(tmp_path: Path) -> None:
    _wav(tmp_path / "Whales" / "1.wav")
    with pytest.raises(DataError, match=r"no DeepShip recordings.*class folders found: none"):
        list_deepship(tmp_path)
    with pytest.raises(MissingPathError, match=r"nowhere does not exist"):
        list_deepship(tmp_path / "nowhere")


def test_two_folders_for_one_class(tmp_path: Path) -> None:
    _wav(tmp_path / "Tanker" / "1.wav")
    _wav(tmp_path / "tanker" / "2.wav")
    if len(list(tmp_path.iterdir())) < 2:  # pragma: no cover
        pytest.skip("case-insensitive file system")
    with pytest.raises(DataError, match="two folders for one DeepShip class: Tanker and tanker"):
        list_deepship(tmp_path)


def test_wav_that_is_not_audio(tmp_path: Path) -> None:
    _wav(tmp_path / "Tug" / "1.wav")
    (tmp_path / "Tug" / "2.wav").write_text("id,name\n1,x\n")
    _meta(tmp_path / "Tug" / "tug-metafile", ["1,52,A,20160509,123109,1,1-2,", "2,52,B,20160509,123109,1,1-2,"])
    with pytest.raises(DataError, match=r"Tug/2\.wav: not a readable audio file"):
        list_deepship(tmp_path)


def test_wav_id_not_a_row_number(tmp_path: Path) -> None:
    _wav(tmp_path / "Tug" / "1.wav")
    _wav(tmp_path / "Tug" / "9.wav")
    _wav(tmp_path / "Tug" / "extra.wav")
    _meta(tmp_path / "Tug" / "tug-metafile", ["1,52,A,20160509,123109,1,1-2,", "2,52,B,20160509,123109,1,1-2,"])
    with pytest.warns(AudioNotice, match=r"tug-metafile: WAV ids 9, extra are not row numbers of the metafile"):
        recs = list_deepship(tmp_path)
    assert [r.recording_id for r in recs] == ["Tug/1", "Tug/9", "Tug/extra"]  # numeric ids first
    assert all(r.ship is None for r in recs)


def test_read_metafile_of_the_real_sample() -> None:
    meta = read_metafile(SAMPLE / "Tanker" / "tanker-metafile")
    assert list(meta.columns) == ["row", "ais_type", "ship", "date", "time", "extra_1", "extra_2", "extra_3"]
    assert len(meta) == 243  # 245 lines, 2 of them blank
    first = meta.iloc[0]
    assert (first["row"], first["ais_type"], first["ship"]) == (1, 89, "KIRKEHOLMEN")
    assert (first["date"], first["time"], first["extra_1"], first["extra_2"]) == (
        "20160509",
        "123109",
        "278",
        "1488-466",
    )
    assert meta.iloc[1]["time"] == "030034"  # leading zero kept
    assert meta.iloc[8]["ship"] == "SONGA RUBY"  # stored with a leading space
    assert str(meta["ais_type"].dtype) == "Int64" and meta["row"].dtype == np.int64
    assert meta["row"].duplicated().any()  # the public copy restarts its numbering
    assert set(meta["extra_3"]) == {""}
    passengers = read_metafile(SAMPLE / "Passengership" / "passengership-metafile")
    assert len(passengers) == 189 and not passengers["row"].duplicated().any()


def test_read_metafile_errors(tmp_path: Path) -> None:
    path = tmp_path / "cargo-metafile"
    _meta(path, ["1,70,A,20160509,123109,1,1-2,", "2,70,B"])
    with pytest.raises(DataError, match=r"cargo-metafile, line 2: 3 fields; a DeepShip metafile line holds 5 to 8"):
        read_metafile(path)
    _meta(path, ["1,70,A,20160509,123109,1,1-2,", "", "x3,70,B,20160509,123109,1,1-2,"])
    with pytest.raises(DataError, match=r"cargo-metafile, line 3: the row number 'x3' is not an integer"):
        read_metafile(path)
    _meta(path, ["1,cargo,A,20160509,123109,1,1-2,"])
    with pytest.raises(DataError, match=r"line 1: the AIS ship-type code 'cargo' is not an integer"):
        read_metafile(path)
    _meta(path, ["1,70,A,20160509,123109,1,1-2,x,y"])
    with pytest.raises(DataError, match=r"line 1: 9 fields"):
        read_metafile(path)
    with pytest.raises(DataError, match=r"absent-metafile: cannot read the DeepShip metafile"):
        read_metafile(tmp_path / "absent-metafile")


def test_real_sample() -> None:
    # Tanker's metafile repeats row numbers: ship None with one notice. Passengership's row numbers are unique
    # and hold both WAV ids, so its ships are named.
    with pytest.warns(AudioNotice) as notices:
        recs = list_deepship(SAMPLE)
    assert [r.recording_id for r in recs] == ["Passengership/8", "Passengership/30", "Tanker/19", "Tanker/50"]
    assert [r.duration_s for r in recs] == [12.0, 6.0, 14.0, 10.0]
    assert {r.sample_rate for r in recs} == {32000}
    assert [r.ship for r in recs] == ["KENNICOTT", "COLUMBIA", None, None]
    messages = [str(n.message) for n in notices]
    assert len(messages) == 1
    assert "tanker-metafile: row numbers repeat" in messages[0] and "class Tanker" in messages[0]
    assert [r.recording_id for r in list_deepship(SAMPLE, ["passengership"])] == ["Passengership/8", "Passengership/30"]
