"""Reader of the DeepShip layout (Irfan et al., "DeepShip: an underwater acoustic benchmark dataset and a
separable convolution based autoencoder for classification", Expert Systems with Applications 2021).

Layout: ``<root>/<Class>/<id>.wav`` for the four classes ``Cargo``, ``Passengership``, ``Tanker`` and ``Tug``
(folder names matched case-insensitively; a recording's label is spelled as its folder), and one metafile per
class, ``<root>/<Class>/<class lowercase>-metafile``: a headerless CSV, one vessel passage a line, with the
fields

    row number, AIS ship-type code, ship name, date (YYYYMMDD), time (HHMMSS), then three more fields

(the published files end most lines with a trailing comma, which is the third of those, and use CRLF line ends;
some lines lack the trailing comma and some are blank). Files in a class folder other than WAVs and the metafile
are ignored, as are hidden files (names starting with ``.``, such as macOS's ``._19.wav``).

The public GitHub copy of DeepShip is partial: some class folders hold only their metafile, and the row numbers
of a metafile repeat (the numbering restarts), so they do not map one-to-one to WAV names. A recording's ship
(``Recording.ship``, which splits by ship group on) is therefore only given where the map is unambiguous: the
metafile's row numbers are unique and every WAV id of the class appears among them. Otherwise every recording of
the class gets ``ship=None`` and one :class:`~sciconv_uatr.recordings.AudioNotice` says why.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv.kit import shown_items
from sciconv_uatr.recordings import AudioNotice, Recording
from sciconv_uatr.wav_io import audio_info

__all__ = ["DEEPSHIP_CLASSES", "list_deepship", "read_metafile"]

DEEPSHIP_CLASSES = ("Cargo", "Passengership", "Tanker", "Tug")
METAFILE_COLUMNS = ("row", "ais_type", "ship", "date", "time", "extra_1", "extra_2", "extra_3")


def read_metafile(path: Path) -> pd.DataFrame:
    """Read a DeepShip class metafile (headerless CSV).

    Args:
        path: the metafile, e.g. ``<root>/Tanker/tanker-metafile``.

    Returns:
        One row per non-blank line, in file order, with the columns ``row`` (int), ``ais_type`` (nullable
        ``Int64``: the AIS ship-type code, NA where blank), ``ship`` (str, the ship name with surrounding spaces
        removed), ``date`` (str, YYYYMMDD), ``time`` (str, HHMMSS, leading zeros kept) and ``extra_1`` ..
        ``extra_3`` (str, stripped; ``""`` where a line has fewer fields). Row numbers may repeat (the public
        copy restarts its numbering).

    Raises:
        DataError: the file is missing or unreadable, a line has fewer than 5 or more than 8 fields, or a row
            number / AIS code is not an integer (naming the file and line).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the DeepShip metafile: {exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    rows: list[list[object]] = []
    for line_no, fields in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        fields = [f.strip() for f in fields]
        if not any(fields):
            continue  # blank line
        if len(fields) < 5 or len(fields) > 8:
            raise DataError(
                f"{path}, line {line_no}: {len(fields)} fields; a DeepShip metafile line holds 5 to 8 "
                "(row number, AIS type, ship name, date, time, then three more fields)"
            )
        fields += [""] * (8 - len(fields))
        row = _integer(fields[0], path, line_no, "row number")
        ais = _integer(fields[1], path, line_no, "AIS ship-type code") if fields[1] else None
        rows.append([row, ais, *fields[2:]])
    frame = pd.DataFrame(rows, columns=list(METAFILE_COLUMNS))
    frame["row"] = frame["row"].astype("int64")
    frame["ais_type"] = pd.array([a for a in frame["ais_type"]], dtype="Int64")
    for col in METAFILE_COLUMNS[2:]:
        frame[col] = frame[col].astype(str)
    return frame


def _integer(text: str, path: Path, line_no: int, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{path}, line {line_no}: the {what} {text!r} is not an integer") from None


def list_deepship(root: Path, classes: Sequence[str] | None = None) -> list[Recording]:
    """The recordings of a DeepShip folder.

    Args:
        root: the folder holding the class folders.
        classes: the classes to list (case-insensitive; e.g. ``["Tanker", "Tug"]``); ``None`` lists every class
            folder present.

    Returns:
        One :class:`Recording` per WAV, sorted by class then numeric id: ``recording_id`` ``<Class>/<stem>``,
        ``label`` the class folder's name, ``duration_s`` and ``sample_rate`` from the header (the samples are
        not read), ``ship`` the metafile's ship name (stripped, upper case) where the metafile maps WAV ids to
        rows unambiguously, else ``None`` (with a notice).

    Raises:
        MissingPathError: ``root`` does not exist.
        ConfigError: ``classes`` names a class without a folder under ``root`` (the message lists those found).
        DataError: no recording at all, two folders for one class, a ``.wav`` that is not audio, a malformed
            metafile.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingPathError(f"DeepShip root {root} does not exist or is not a folder")
    folders = _class_folders(root)
    if classes is None:
        selected = sorted(folders.values(), key=lambda p: _class_rank(p.name))
    else:
        selected = _select(root, folders, classes)
    recordings: list[Recording] = []
    for folder in selected:
        recordings.extend(_list_class(folder))
    if not recordings:
        raise DataError(
            f"{root}: no DeepShip recordings; expected <root>/<Class>/<id>.wav with Class among "
            f"{', '.join(DEEPSHIP_CLASSES)} (class folders found: {_names(folders) or 'none'})"
        )
    return recordings


def _class_rank(name: str) -> int:
    return [c.lower() for c in DEEPSHIP_CLASSES].index(name.lower())


def _names(folders: dict[str, Path]) -> str:
    return ", ".join(p.name for p in sorted(folders.values(), key=lambda p: _class_rank(p.name)))


def _class_folders(root: Path) -> dict[str, Path]:
    """Folders under ``root`` named like a DeepShip class, keyed by the lower-case class name."""
    known = {c.lower() for c in DEEPSHIP_CLASSES}
    found: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.lower() not in known:
            continue
        key = child.name.lower()
        if key in found:
            raise DataError(f"{root}: two folders for one DeepShip class: {found[key].name} and {child.name}")
        found[key] = child
    return found


def _select(root: Path, folders: dict[str, Path], classes: Sequence[str]) -> list[Path]:
    names = [classes] if isinstance(classes, str) else list(classes)
    if not names:
        raise ConfigError("classes: an empty list selects no DeepShip class; give class names or None for all")
    selected: list[Path] = []
    for name in names:
        key = str(name).lower()
        if key not in folders:
            why = "has no folder under" if key in {c.lower() for c in DEEPSHIP_CLASSES} else "is not a class in"
            raise ConfigError(
                f"classes: {name!r} {why} the DeepShip root {root}; classes found: {_names(folders) or 'none'}"
            )
        if folders[key] not in selected:
            selected.append(folders[key])
    return sorted(selected, key=lambda p: _class_rank(p.name))


def _id_key(stem: str) -> tuple[int, int, str]:
    """Sort key: numeric stems first, by number; then other stems by name."""
    return (0, int(stem), stem) if stem.isdigit() else (1, 0, stem)


def _list_class(folder: Path) -> list[Recording]:
    wavs = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav" and not p.name.startswith(".")),
        key=lambda p: _id_key(p.stem),
    )
    if not wavs:
        has_meta = _metafile(folder) is not None
        what = "only its metafile" if has_meta else "no WAV file"
        warnings.warn(f"{folder}: holds {what}; class {folder.name} skipped", AudioNotice, stacklevel=3)
        return []
    ships = _ships(folder, [p.stem for p in wavs])
    recordings = []
    for wav in wavs:
        rate, duration, _ = audio_info(wav)
        recordings.append(
            Recording(
                path=wav,
                label=folder.name,
                recording_id=f"{folder.name}/{wav.stem}",
                ship=ships.get(wav.stem),
                duration_s=duration,
                sample_rate=rate,
            )
        )
    return recordings


def _metafile(folder: Path) -> Path | None:
    want = f"{folder.name.lower()}-metafile"
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name.lower() in (want, want + ".csv", want + ".txt"):
            return p
    return None


def _ships(folder: Path, stems: list[str]) -> dict[str, str]:
    """Ship name of each WAV stem, or {} (with one notice) where the metafile does not map ids unambiguously."""
    meta_path = _metafile(folder)
    cannot = f"splits cannot group class {folder.name}'s recordings by ship (ship=None)"
    if meta_path is None:
        warnings.warn(f"{folder}: no metafile {folder.name.lower()}-metafile; {cannot}", AudioNotice, stacklevel=4)
        return {}
    meta = read_metafile(meta_path)
    counts = Counter(meta["row"].tolist())
    repeated = sorted(r for r, n in counts.items() if n > 1)
    if repeated:
        warnings.warn(
            f"{meta_path}: row numbers repeat ({shown_items(repeated)}), so they do not map one-to-one to WAV "
            f"names; {cannot}",
            AudioNotice,
            stacklevel=4,
        )
        return {}
    unmatched = [s for s in stems if not s.isdigit() or int(s) not in counts]
    if unmatched:
        warnings.warn(
            f"{meta_path}: WAV ids {shown_items(unmatched)} are not row numbers of the metafile; {cannot}",
            AudioNotice,
            stacklevel=4,
        )
        return {}
    by_row = dict(zip(meta["row"].tolist(), meta["ship"].tolist(), strict=True))
    ships = {}
    for s in stems:
        name = by_row[int(s)].strip().upper()
        if name:
            ships[s] = name
    return ships
