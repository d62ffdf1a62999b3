"""The ShipsEar reader: the class table, both layouts, the 9-class split, split files and the bad-input cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv_uatr.recordings import AudioNotice
from sciconv_uatr.shipsear_io import (
    SHIPSEAR_CLASS_OF_ID,
    SHIPSEAR_CLASSES,
    XIE_9CLASS_CLASSES,
    XIE_9CLASS_SPLIT,
    list_shipsear,
    read_split_file,
    shipsear_split,
)

RATE = 8000

# The brief's tables, written out independently of the module's
CLASS_IDS = {
    "Passengers": [
        *(6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 32, 34, 35, 36, 38, 40, 41, 42, 43, 53, 54, 55, 59, 60, 61),
        *(62, 63, 64, 65, 67),
    ],
    "Tugboat": [15, 31],
    "Oceanliner": [16, 22, 23, 24, 25, 69, 71],
    "RORO": [18, 19, 20, 58, 78],
    "Motorboat": [21, 26, 27, 33, 39, 45, 50, 51, 52, 70, 72, 77, 79],
    "Trawler": [28],
    "Pilotship": [29, 30],
    "Sailboat": [37, 56, 57, 68],
    "Musselboat": [46, 47, 48, 49, 66],
    "Fishboat": [73, 74, 75, 76],
    "Dredger": [80, 93, 94, 95, 96],
    "Naturalambientnoise": list(range(81, 93)),
}
TEST_IDS = {
    "Dredger": [95],
    "Fishboat": [75],
    "Motorboat": [27, 50, 72],
    "Musselboat": [48],
    "Naturalambientnoise": [83, 87, 92],
    "Oceanliner": [24, 71],
    "Passengers": [9, 13, 35, 42, 55, 62, 65],
    "RORO": [20, 78],
    "Sailboat": [57],
}
TRAIN_IDS = {
    "Dredger": [80, 93, 94, 96],
    "Fishboat": [73, 74, 76],
    "Motorboat": [21, 26, 33, 39, 45, 51, 52, 70, 77, 79],
    "Musselboat": [46, 47, 49, 66],
    "Naturalambientnoise": [81, 82, 84, 85, 86, 88, 89, 90, 91],
    "Oceanliner": [16, 22, 23, 25, 69],
    "Passengers": [6, 7, 8, 10, 11, 12, 14, 17, 32, 34, 36, 38, 40, 41, 43, 53, 54, 59, 60, 61, 63, 64, 67],
    "RORO": [18, 19, 58],
    "Sailboat": [37, 56, 68],
}


def _wav(path: Path, seconds: float = 0.25) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.sin(np.arange(round(seconds * RATE)) * 0.3), RATE, subtype="PCM_16")
    return path


def _name(rec_id: int, prefix: str = "") -> str:
    return f"{prefix}{rec_id}__10_07_13_rec{rec_id}_Entra.wav"


def test_class_table() -> None:
    assert SHIPSEAR_CLASSES == (
        "Dredger",
        "Fishboat",
        "Motorboat",
        "Musselboat",
        "Naturalambientnoise",
        "Oceanliner",
        "Passengers",
        "Pilotship",
        "RORO",
        "Sailboat",
        "Trawler",
        "Tugboat",
    )
    table = {i: cls for cls, ids in CLASS_IDS.items() for i in ids}
    assert table == SHIPSEAR_CLASS_OF_ID
    assert len(SHIPSEAR_CLASS_OF_ID) == 90 and set(SHIPSEAR_CLASS_OF_ID) == set(range(6, 97)) - {44}
    assert set(SHIPSEAR_CLASS_OF_ID.values()) == set(SHIPSEAR_CLASSES)


def test_xie_9class_split() -> None:
    parts = list(XIE_9CLASS_SPLIT.values())
    assert parts.count("train") == 64 and parts.count("test") == 21
    assert {i for i, p in XIE_9CLASS_SPLIT.items() if p == "test"} == {i for ids in TEST_IDS.values() for i in ids}
    assert {i for i, p in XIE_9CLASS_SPLIT.items() if p == "train"} == {i for ids in TRAIN_IDS.values() for i in ids}
    for table in (TEST_IDS, TRAIN_IDS):  # the split agrees with the class table
        for cls, ids in table.items():
            assert all(SHIPSEAR_CLASS_OF_ID[i] == cls for i in ids), cls
    # it covers every recording of its 9 classes, and only those
    assert set(XIE_9CLASS_CLASSES) == set(TEST_IDS)
    assert set(XIE_9CLASS_SPLIT) == {i for i, c in SHIPSEAR_CLASS_OF_ID.items() if c in XIE_9CLASS_CLASSES}
    for cls in XIE_9CLASS_CLASSES:  # every class has a test recording
        assert "test" in {XIE_9CLASS_SPLIT[i] for i in CLASS_IDS[cls]}


def _expected(recs) -> list[tuple[str, str, float]]:
    return [(r.recording_id, r.label, r.duration_s) for r in recs]


def test_flat_and_folder_layouts(tmp_path: Path) -> None:
    flat, folders = tmp_path / "flat", tmp_path / "folders"
    _wav(flat / _name(6), 0.5)
    _wav(flat / _name(15))
    _wav(flat / _name(81))
    _wav(flat / _name(9, "Passengers_"), 0.125)  # class-prefixed name
    _wav(flat / "extra" / _name(29))  # a folder that names no class
    (flat / ("._" + _name(6))).write_bytes(b"\x00\x05\x16\x07 macOS resource fork")  # hidden: ignored
    for rec_id, cls in ((6, "Passengers"), (15, "Tugboat"), (81, "Naturalambientnoise"), (29, "Pilotship")):
        _wav(folders / cls / _name(rec_id), 0.5 if rec_id == 6 else 0.25)
    _wav(folders / "passengers" / _name(9, "Passengers_"), 0.125)
    want = [
        ("6", "Passengers", 0.5),
        ("9", "Passengers", 0.125),
        ("15", "Tugboat", 0.25),
        ("29", "Pilotship", 0.25),
        ("81", "Naturalambientnoise", 0.25),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)
        for root in (flat, folders):
            recs = list_shipsear(root)
            assert _expected(recs) == want
            assert all(r.ship is None and r.sample_rate == RATE for r in recs)
    assert list_shipsear(flat)[1].path == flat / _name(9, "Passengers_")


def test_class_subset(tmp_path: Path) -> None:
    for rec_id in (6, 15, 81, 29):
        _wav(tmp_path / _name(rec_id))
    recs = list_shipsear(tmp_path, ["passengers", "NaturalAmbientNoise"])
    assert [(r.recording_id, r.label) for r in recs] == [("6", "Passengers"), ("81", "Naturalambientnoise")]
    assert [r.recording_id for r in list_shipsear(tmp_path, XIE_9CLASS_CLASSES)] == ["6", "81"]
    with pytest.raises(ConfigError, match=r"'Passenger' is not a ShipsEar class; did you mean 'Passengers'.*known"):
        list_shipsear(tmp_path, ["Passenger"])
    with pytest.raises(ConfigError, match=r"known classes: Dredger, Fishboat, .*Tugboat"):
        list_shipsear(tmp_path, ["Cargo"])
    with pytest.raises(DataError, match=r"no ShipsEar recordings of the classes Dredger"):
        list_shipsear(tmp_path, ["Dredger"])


def test_prefix_or_folder_naming_another_class(tmp_path: Path) -> None:
    _wav(tmp_path / "a" / _name(6, "Tugboat_"))
    with pytest.raises(DataError, match=r"Tugboat_6__.*\.wav: its prefix names the class Tugboat, .*6 is a Passengers"):
        list_shipsear(tmp_path / "a")
    _wav(tmp_path / "b" / "Dredger" / _name(15))
    with pytest.raises(DataError, match=r"Dredger/15__.*\.wav: its folder names the class Dredger, .*15 is a Tugboat"):
        list_shipsear(tmp_path / "b")


def test_unknown_and_repeated_ids(tmp_path: Path) -> None:
    _wav(tmp_path / "a" / _name(44))
    with pytest.raises(DataError, match=r"44__.*\.wav: id 44 is not a ShipsEar recording"):
        list_shipsear(tmp_path / "a")
    _wav(tmp_path / "b" / _name(6))
    _wav(tmp_path / "b" / "Passengers" / _name(6, "Passengers_"))
    with pytest.raises(DataError, match=r"ShipsEar id 6 appears in two files: .*6__.* and .*Passengers_6__"):
        list_shipsear(tmp_path / "b")


def test_other_wav_names_are_left_out_with_a_notice(tmp_path: Path) -> None:
    _wav(tmp_path / _name(6))
    _wav(tmp_path / "readme_tone.wav")
    _wav(tmp_path / "2020_test.wav")
    with pytest.warns(AudioNotice, match=r"2 WAV file\(s\) not named <id>__.* left out: .*2020_test\.wav"):
        recs = list_shipsear(tmp_path)
    assert [r.recording_id for r in recs] == ["6"]


def test_bad_roots_and_files(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match=r"nowhere does not exist"):
        list_shipsear(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no ShipsEar recordings; expected WAVs named <id>__"):
        list_shipsear(tmp_path / "empty")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / _name(7)).write_text("not audio")
    with pytest.raises(DataError, match=r"7__10_07_13_rec7_Entra\.wav: not a readable audio file"):
        list_shipsear(tmp_path / "text")


def test_read_split_file(tmp_path: Path) -> None:
    path = tmp_path / "split.txt"
    path.write_text(
        "# a split\n"
        "\n"
        "train 6__10_07_13_marDeCangas_Entra.wav\n"
        "TEST,9   # trailing comment\n"
        "train\tPassengers_15__x.wav\n"
        "test , Naturalambientnoise/81__1_2_3_ruido.wav\n"
        "train 007\n"
        "test Tanker/19\n"
        "train 6\n"  # repeated in the same part: fine
    )
    assert read_split_file(path) == {
        "6": "train",
        "9": "test",
        "15": "train",
        "81": "test",
        "7": "train",
        "Tanker/19": "test",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train 6\nvalidate 7\n", r"split\.txt, line 2: the first word is 'validate'; expected 'train' or 'test'"),
        ("train 6\n\n# c\ntrain\n", r"split\.txt, line 4: 'train' without a file name or recording id"),
        ("train 6\ntest 9\ntest 6__a.wav\n", r"split\.txt, line 3: recording 6 is put in 'test', but line 1 put it"),
        ("# nothing\n\n", r"split\.txt: the split file names no recording"),
    ],
)
def test_read_split_file_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "split.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_split_file(path)


def _all_of(root: Path, classes) -> list:
    for rec_id, cls in SHIPSEAR_CLASS_OF_ID.items():
        if cls in classes:
            _wav(root / cls / _name(rec_id), 0.01)
    return list_shipsear(root)


def test_builtin_split_on_the_9_classes(tmp_path: Path) -> None:
    recs = _all_of(tmp_path, (*XIE_9CLASS_CLASSES, "Trawler"))
    assert len(recs) == 86
    with pytest.warns(AudioNotice, match=r"1 recording\(s\) that the split 'xie2023-9class' does not name are left"):
        split = shipsear_split(recs, "xie2023-9class")
    assert list(split) == [r.recording_id for r in recs if r.label != "Trawler"]
    assert list(split.values()).count("train") == 64 and list(split.values()).count("test") == 21
    assert split["95"] == "test" and split["80"] == "train"
    nine = list_shipsear(tmp_path, XIE_9CLASS_CLASSES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioNotice)
        assert shipsear_split(nine, "xie2023-9class") == split


def test_builtin_split_with_missing_recordings(tmp_path: Path) -> None:
    recs = _all_of(tmp_path, ("Passengers", "Dredger"))
    with pytest.raises(DataError, match=r"names 50 recording\(s\) that are not among the 35 listed .*: 16, 18, 19"):
        shipsear_split(recs, "xie2023-9class")
    with pytest.raises(DataError, match=r"\.\.\. \(50 in all\)"):
        shipsear_split(recs, "xie2023-9class")


def test_split_file_applied(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for rec_id in (6, 9, 15):
        _wav(root / _name(rec_id))
    recs = list_shipsear(root)
    path = tmp_path / "split.txt"
    path.write_text(f"train {_name(6)}\ntest 9\n")
    with pytest.warns(AudioNotice, match=r"1 recording\(s\) that the split file .*split\.txt does not name"):
        assert shipsear_split(recs, path) == {"6": "train", "9": "test"}
    path.write_text(f"train {_name(6)}\ntest 9\ntest 15\ntrain 16\ntest 17__x.wav\n")
    with pytest.raises(
        DataError, match=r"split\.txt names 2 recording\(s\) that are not among the 3 listed.*: 16, 17$"
    ):
        shipsear_split(recs, str(path))


def test_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'xie2023' is neither a known split \(xie2023-9class\) nor an existing"):
        shipsear_split([], "xie2023")
    with pytest.raises(ConfigError, match=r"absent\.txt' is neither a known split"):
        shipsear_split([], tmp_path / "absent.txt")
