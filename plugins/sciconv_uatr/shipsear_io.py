"""Reader of the ShipsEar layout and its recording-level train / test splits.

ShipsEar (Santos-Dominguez, Torres-Guijarro, Cardenal-Lopez and Pena-Gimenez, "ShipsEar: An underwater vessel
noise database", Applied Acoustics 2016): 90 recordings with ids 6..96 (there is no 44; the class of each in
:data:`SHIPSEAR_CLASS_OF_ID`), sampled at 52,734 Hz, named ``<id>__<dd>_<mm>_<yy>_<description>.wav``, e.g.
``6__10_07_13_marDeCangas_Entra.wav``. Copies in circulation also prefix the class
(``Passengers_6__10_07_13_marDeCangas_Entra.wav``) or keep class folders (``<Class>/<file>``); all three are
read, the WAVs being found recursively under the root (hidden files, such as macOS's ``._6__...wav``, are
ignored). A recording's class always comes from the database's
metadata table (:data:`SHIPSEAR_CLASS_OF_ID`); a class folder or prefix naming another class is an error.
``Recording.ship`` is ``None``: ShipsEar names vessels only loosely, in the file descriptions.

:data:`XIE_9CLASS_SPLIT` is the recording-level split of Xu, Xie and Wang (Ocean Engineering 2023), which the CMoE
paper (Xie, Ren and Xu 2024) uses: the 9 classes of :data:`XIE_9CLASS_CLASSES`, 64 training and 21 test
recordings. :func:`read_split_file` reads another split from a text file (format in its docstring), and
:func:`shipsear_split` applies either to a list of recordings.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

from sciconv.errors import ConfigError, DataError, MissingPathError, did_you_mean
from sciconv_uatr.recordings import AudioNotice, Recording
from sciconv_uatr.wav_io import audio_info

__all__ = [
    "SHIPSEAR_CLASSES",
    "SHIPSEAR_CLASS_OF_ID",
    "XIE_9CLASS_CLASSES",
    "XIE_9CLASS_SPLIT",
    "list_shipsear",
    "read_split_file",
    "shipsear_split",
]

SHIPSEAR_CLASSES: tuple[str, ...] = (
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

# fmt: off
_IDS_OF_CLASS: dict[str, tuple[int, ...]] = {
    "Passengers": (
        6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 32, 34, 35, 36, 38, 40, 41, 42, 43, 53, 54, 55, 59, 60, 61, 62, 63, 64, 65,
        67,
    ),
    "Tugboat": (15, 31),
    "Oceanliner": (16, 22, 23, 24, 25, 69, 71),
    "RORO": (18, 19, 20, 58, 78),
    "Motorboat": (21, 26, 27, 33, 39, 45, 50, 51, 52, 70, 72, 77, 79),
    "Trawler": (28,),
    "Pilotship": (29, 30),
    "Sailboat": (37, 56, 57, 68),
    "Musselboat": (46, 47, 48, 49, 66),
    "Fishboat": (73, 74, 75, 76),
    "Dredger": (80, 93, 94, 95, 96),
    "Naturalambientnoise": tuple(range(81, 93)),
}
# fmt: on

#: class of each ShipsEar recording id (the database's metadata table; 90 recordings)
SHIPSEAR_CLASS_OF_ID: dict[int, str] = dict(sorted((i, cls) for cls, ids in _IDS_OF_CLASS.items() for i in ids))

#: the 9 classes of the Xu, Xie and Wang (2023) split
XIE_9CLASS_CLASSES: tuple[str, ...] = (
    "Dredger",
    "Fishboat",
    "Motorboat",
    "Musselboat",
    "Naturalambientnoise",
    "Oceanliner",
    "Passengers",
    "RORO",
    "Sailboat",
)

_XIE_TEST_IDS = (95, 75, 27, 50, 72, 48, 83, 87, 92, 24, 71, 9, 13, 35, 42, 55, 62, 65, 20, 78, 57)

#: recording id -> "train" / "test": the recording-level 9-class split of Xu, Xie and Wang (Ocean Engineering
#: 2023) used by the CMoE paper; 64 train and 21 test recordings (every recording of the 9 classes)
XIE_9CLASS_SPLIT: dict[int, str] = {
    i: ("test" if i in _XIE_TEST_IDS else "train")
    for i, cls in SHIPSEAR_CLASS_OF_ID.items()
    if cls in XIE_9CLASS_CLASSES
}

_SPLIT_NAMES = {"xie2023-9class": XIE_9CLASS_SPLIT}
_SHOWN = 10  # missing names listed in an error
# optional class prefix (a letter first), then the id, then "__"
_FILE_NAME = re.compile(r"^(?:(?P<prefix>[A-Za-z][A-Za-z0-9_ -]*?)_)?(?P<id>\d+)__")


def _norm(name: str) -> str:
    """Lower case, letters and digits only (``Natural ambient noise`` -> ``naturalambientnoise``)."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


_CLASS_BY_NORM = {_norm(c): c for c in SHIPSEAR_CLASSES}


def _parse_name(name: str) -> tuple[int, str | None] | None:
    """``(id, class prefix or None)`` of a ShipsEar file name, or None when the name does not follow it."""
    m = _FILE_NAME.match(name)
    if m is None:
        return None
    return int(m.group("id")), m.group("prefix")


def list_shipsear(root: Path, classes: Sequence[str] | None = None) -> list[Recording]:
    """The recordings of a ShipsEar folder (WAVs found recursively).

    Args:
        root: the folder holding the WAVs, directly or in class folders.
        classes: the classes to list (case-insensitive, e.g. :data:`XIE_9CLASS_CLASSES`); ``None`` lists all.

    Returns:
        One :class:`Recording` per WAV, sorted by id: ``recording_id`` the id as a string (``"6"``), ``label``
        the class in the spelling of :data:`SHIPSEAR_CLASSES`, ``ship`` ``None``, ``duration_s`` and
        ``sample_rate`` from the header (the samples are not read). WAVs whose names do not start with
        ``[<Class>_]<id>__`` are left out, with one AudioNotice naming them.

    Raises:
        MissingPathError: ``root`` does not exist.
        ConfigError: ``classes`` names an unknown class (the message lists the known ones).
        DataError: an id outside the metadata table, one id in two files, a class folder or prefix naming
            another class than the table, a ``.wav`` that is not audio, or no recording at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingPathError(f"ShipsEar root {root} does not exist or is not a folder")
    wanted = set(SHIPSEAR_CLASSES) if classes is None else set(_select(classes))
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".wav" and not p.name.startswith(".")
    )
    by_id: dict[int, tuple[Path, str]] = {}
    unnamed: list[Path] = []
    for path in files:
        parsed = _parse_name(path.name)
        if parsed is None:
            unnamed.append(path)
            continue
        rec_id, prefix = parsed
        cls = SHIPSEAR_CLASS_OF_ID.get(rec_id)
        if cls is None:
            raise DataError(
                f"{path}: id {rec_id} is not a ShipsEar recording (the metadata table has ids "
                f"{min(SHIPSEAR_CLASS_OF_ID)}..{max(SHIPSEAR_CLASS_OF_ID)}, 90 recordings)"
            )
        _check_named_class(path, root, prefix, cls, rec_id)
        if rec_id in by_id:
            raise DataError(f"ShipsEar id {rec_id} appears in two files: {by_id[rec_id][0]} and {path}")
        by_id[rec_id] = (path, cls)
    if unnamed:
        shown = ", ".join(str(p) for p in unnamed[:_SHOWN]) + (" ..." if len(unnamed) > _SHOWN else "")
        warnings.warn(
            f"{root}: {len(unnamed)} WAV file(s) not named <id>__<dd>_<mm>_<yy>_<description>.wav left out: {shown}",
            AudioNotice,
            stacklevel=2,
        )
    recordings = []
    for rec_id in sorted(by_id):
        path, cls = by_id[rec_id]
        if cls not in wanted:
            continue
        rate, duration, _ = audio_info(path)
        recordings.append(
            Recording(path=path, label=cls, recording_id=str(rec_id), ship=None, duration_s=duration, sample_rate=rate)
        )
    if not recordings:
        which = "" if classes is None else f" of the classes {', '.join(sorted(wanted))}"
        raise DataError(
            f"{root}: no ShipsEar recordings{which}; expected WAVs named <id>__<dd>_<mm>_<yy>_<description>.wav "
            "(optionally <Class>_<id>__..., or in <Class>/ folders), ids 6..96"
        )
    return recordings


def _select(classes: Sequence[str]) -> list[str]:
    names = [classes] if isinstance(classes, str) else list(classes)
    if not names:
        raise ConfigError("classes: an empty list selects no ShipsEar class; give class names or None for all")
    out = []
    for name in names:
        cls = _CLASS_BY_NORM.get(_norm(str(name)))
        if cls is None:
            raise ConfigError(
                f"classes: {name!r} is not a ShipsEar class{did_you_mean(str(name), SHIPSEAR_CLASSES)}; "
                f"known classes: {', '.join(SHIPSEAR_CLASSES)}"
            )
        out.append(cls)
    return out


def _check_named_class(path: Path, root: Path, prefix: str | None, cls: str, rec_id: int) -> None:
    """DataError when the file's class prefix or its class folder names a class other than the table's."""
    named = []
    if prefix is not None and _norm(prefix) in _CLASS_BY_NORM:
        named.append(("prefix", _CLASS_BY_NORM[_norm(prefix)]))
    parent = path.parent
    if parent != root and _norm(parent.name) in _CLASS_BY_NORM:
        named.append(("folder", _CLASS_BY_NORM[_norm(parent.name)]))
    for where, other in named:
        if other != cls:
            raise DataError(
                f"{path}: its {where} names the class {other}, but ShipsEar recording {rec_id} is a {cls} "
                "(the database's metadata table)"
            )


def read_split_file(path: Path) -> dict[str, str]:
    """Read a recording-level split file.

    Format: a text file, one recording a line, ``train <name>`` or ``test <name>``, the two separated by
    whitespace or a comma; ``<name>`` is a ShipsEar file name (``6__10_07_13_marDeCangas_Entra.wav``, with or
    without a class prefix or folder) or a recording id (``6``; another dataset's id such as ``Tanker/19`` is
    kept as written). ``#`` starts a comment; blank lines are ignored. Example::

        # Xu, Xie and Wang 2023, 9 classes
        train 6__10_07_13_marDeCangas_Entra.wav
        test, 9

    Args:
        path: the split file.

    Returns:
        recording_id -> ``"train"`` or ``"test"``, in file order.

    Raises:
        DataError: the file cannot be read, a line's first word is not ``train`` / ``test``, a line lacks the
            name, one recording is put in both parts, or the file names no recording (naming the file and line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the split file: {exc}") from exc
    split: dict[str, str] = {}
    where: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([^\s,]+)\s*(?:[\s,]\s*(.*))?$", line)
        assert m is not None  # a non-blank line always has a first word
        part = m.group(1).lower()
        if part not in ("train", "test"):
            raise DataError(
                f"{path}, line {line_no}: the first word is {m.group(1)!r}; expected 'train' or 'test' "
                "followed by a file name or recording id"
            )
        name = (m.group(2) or "").strip().strip(",").strip()
        if not name:
            raise DataError(f"{path}, line {line_no}: {part!r} without a file name or recording id")
        rec_id = _recording_id(name)
        if rec_id in split and split[rec_id] != part:
            raise DataError(
                f"{path}, line {line_no}: recording {rec_id} is put in {part!r}, but line {where[rec_id]} "
                f"put it in {split[rec_id]!r}"
            )
        split[rec_id] = part
        where.setdefault(rec_id, line_no)
    if not split:
        raise DataError(f"{path}: the split file names no recording (expected lines 'train <name>' / 'test <name>')")
    return split


def _recording_id(name: str) -> str:
    """The recording id a split file's name stands for: a ShipsEar id where it is one, else the name as written."""
    if name.isdigit():
        return str(int(name))
    parsed = _parse_name(Path(name.replace("\\", "/")).name)
    if parsed is not None:
        return str(parsed[0])
    return name


def shipsear_split(recordings: Sequence[Recording], split: str | Path) -> dict[str, str]:
    """Which recordings train and which test.

    Args:
        recordings: the recordings listed (:func:`list_shipsear`).
        split: ``"xie2023-9class"`` (:data:`XIE_9CLASS_SPLIT`) or the path of a split file (format: see
            :func:`read_split_file`).

    Returns:
        recording_id -> ``"train"`` or ``"test"`` for the recordings the split names, in the order of
        ``recordings``. Recordings the split does not name are left out, with one AudioNotice counting them.

    Raises:
        ConfigError: ``split`` is neither a known split name nor an existing file.
        DataError: the split names recordings that are not among ``recordings`` (up to 10 are listed), or a
            malformed split file.
    """
    if isinstance(split, str) and split in _SPLIT_NAMES:
        table = {str(i): part for i, part in _SPLIT_NAMES[split].items()}
        source = f"split {split!r}"
    else:
        path = Path(split)
        if not path.is_file():
            raise ConfigError(
                f"split: {str(split)!r} is neither a known split ({', '.join(sorted(_SPLIT_NAMES))}) nor an "
                "existing split file"
            )
        table = read_split_file(path)
        source = f"split file {path}"
    present = {r.recording_id for r in recordings}
    missing = [rec_id for rec_id in table if rec_id not in present]
    if missing:
        shown = ", ".join(missing[:_SHOWN]) + (f" ... ({len(missing)} in all)" if len(missing) > _SHOWN else "")
        raise DataError(
            f"the {source} names {len(missing)} recording(s) that are not among the {len(present)} listed "
            f"(missing under the root, or of classes not selected): {shown}"
        )
    out = {r.recording_id: table[r.recording_id] for r in recordings if r.recording_id in table}
    left_out = len({r.recording_id for r in recordings} - set(out))
    if left_out:
        warnings.warn(
            f"{left_out} recording(s) that the {source} does not name are left out", AudioNotice, stacklevel=2
        )
    return out
