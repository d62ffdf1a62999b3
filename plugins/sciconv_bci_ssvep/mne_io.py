"""A reader of SSVEP recordings in the formats MNE reads: FIF, EDF, BDF and BrainVision.

Every recording file under a folder is one session; each subject's sessions are its blocks, so
leave-one-block-out evaluation is cross-session evaluation. Subjects are the sub-folders of the root
(``root/subject01/*.fif``); a file directly in the root belongs to the subject named by its file-name
prefix (the part before the first ``_``, ``-`` or ``.``). Within a subject, files are sorted by name and
numbered 0, 1, ... as blocks.

Events come from, in this order: a sibling event file (``<name>-eve.fif`` next to ``<name>_raw.fif`` or
``<name>.edf``, also ``_eve.fif``), the recording's stim channel (:func:`mne.find_events`), or its
annotations (:func:`mne.events_from_annotations`; an annotation counts when its description is a class
name of ``event_id`` or ends in the event code, as BrainVision's ``Stimulus/S  2`` does).

Unlabelled recordings (new sessions to predict, whose targets nobody wrote down) are read with
``unlabelled=True``: every trial then gets target -1 ("no label"). The usual case is a session with trial-onset
events that carry no target code (a "trial start" marker, the cue of a free choice): every event of the file is a
trial onset (or those of ``trial_codes``); annotations count unless they are BrainVision's ``New Segment``
marker or MNE's ``BAD``/``EDGE`` spans. Onsets of your own go in a sibling ``<name>-eve.fif``
(:func:`mne.write_events`, any code). A recording without any event can be cut into consecutive epochs every
``stride`` seconds instead.

The default ``event_id`` is that of the SSVEP exoskeleton dataset (Kalunga et al. 2016), whose sample
lives in ``shared/data/ssvep-exoskeleton``: see :data:`EXOSKELETON_EVENTS`.
"""

from __future__ import annotations

import gzip
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciconv.errors import ConfigError, DataError
from sciconv_bci_ssvep.recording import SSVEPRecording, build_epochs

# Exoskeleton dataset (Kalunga et al. 2016, as in MOABB's SSVEPExo): event code of each class, in class
# order. The event marks the audio cue; the LEDs flicker for the 5 s trial that follows it.
EXOSKELETON_EVENTS: dict[str, int] = {"rest": 1, "13 Hz": 2, "17 Hz": 4, "21 Hz": 3}
# Stimulus frequency of each exoskeleton class in Hz; NaN for the rest class.
EXOSKELETON_FREQS: dict[str, float] = {"rest": math.nan, "13 Hz": 13.0, "17 Hz": 17.0, "21 Hz": 21.0}

# Recording files by suffix; FIF files must follow MNE's naming (raw.fif, _eeg.fif, ...).
_RAW_SUFFIXES = ("raw.fif", "raw.fif.gz", "_eeg.fif", "_meg.fif", ".edf", ".bdf", ".vhdr")
_EVENT_SUFFIXES = ("-eve.fif", "_eve.fif", "-eve.fif.gz", "_eve.fif.gz")
_FREQ_NAME = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(?:hz)?\s*$", re.IGNORECASE)


def _is_recording(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith(_RAW_SUFFIXES) and not name.endswith(_EVENT_SUFFIXES)


def _stem(path: Path) -> str:
    """The file name without the recording suffix (``x_raw.fif`` -> ``x``, ``x.edf`` -> ``x``)."""
    name = path.name
    for suffix in ("_raw.fif.gz", "-raw.fif.gz", "_raw.fif", "-raw.fif", "raw.fif.gz", "raw.fif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name.rsplit(".", 1)[0]


def _find_recordings(root: Path) -> dict[str, list[Path]]:
    """Recording files per subject (sub-folder or file-name prefix), each list sorted by file name."""
    if not root.is_dir():
        raise DataError(
            f"{root}: the recordings folder does not exist" if not root.exists() else f"{root}: not a folder"
        )
    by_subject: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if not _is_recording(path):
            continue
        relative = path.relative_to(root)
        subject = relative.parts[0] if len(relative.parts) > 1 else re.split(r"[_\-.]", path.name, maxsplit=1)[0]
        by_subject.setdefault(subject, []).append(path)
    if not by_subject:
        raise DataError(
            f"{root}: no recordings found (looked for *raw.fif, *_eeg.fif, *.edf, *.bdf and *.vhdr, in sub-folders too)"
        )
    return {s: sorted(files, key=lambda p: p.name) for s, files in sorted(by_subject.items())}


# Each format: (its name in messages, what a file of it must be).
_FORMATS = {
    "fif": ("FIF file", "an MNE raw FIF written by mne.io.Raw.save"),
    "edf": ("EDF recording", "an EDF recording"),
    "bdf": ("BDF recording", "a BDF (BioSemi) recording"),
    "vhdr": ("BrainVision recording", "a BrainVision recording (.vhdr header, .vmrk markers and .eeg data)"),
}
_EVENTS_EXPECTED = "an MNE event file written by mne.write_events"
# A FIF file starts with its file-id tag: kind FIFF_FILE_ID (100) as a big-endian int32.
_FIF_FILE_ID = b"\x00\x00\x00\x64"
# MNE's warning when a tag header runs past the end of the file: it then stops reading there, as if the
# file ended, so a FIF file cut short between two tags would read as a shorter recording without an error.
_TRUNCATED_TAG = "invalid tag with only"


def _complete(expected: str) -> str:
    """``"an EDF recording"`` -> ``"a complete EDF recording"``."""
    return "a complete " + expected.split(" ", 1)[1]


def _mne_said(problem: BaseException | str) -> str:
    """MNE's message (an exception's with its type) on one short line."""
    text = " ".join(str(problem).split()).split(" in file ", 1)[0]  # MNE may repeat the path
    if len(text) > 160:
        text = text[:157] + "..."
    return text if isinstance(problem, str) else f"{type(problem).__name__}: {text}"


def _check_fif_start(path: Path, expected: str) -> None:
    """Refuse a file that is not FIF (or, named ``*.gz``, not gzip) before MNE trips over it.

    Raises:
        DataError: naming ``path``, what it is not, and ``expected``.
    """
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as fh:
            head = fh.read(len(_FIF_FILE_ID))
    except gzip.BadGzipFile:
        raise DataError(f"{path}: not a gzip-compressed FIF file (no gzip header); expected {expected}") from None
    except EOFError:
        raise DataError(f"{path}: truncated gzip file; expected {_complete(expected)}, gzip-compressed") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e}); expected {expected}") from None
    if head != _FIF_FILE_ID:
        what = "the file is empty" if not head else "it does not start with the FIF file-id tag"
        raise DataError(f"{path}: not a FIF file ({what}); expected {expected}")


def _read_raw(path: Path) -> Any:
    """The recording at ``path`` with its data loaded, so that a file cut short fails here.

    Raises:
        DataError: naming ``path``: not a FIF file, truncated or corrupt, or unreadable.
    """
    import mne

    name = path.name.lower()
    kind = "fif" if name.endswith((".fif", ".fif.gz")) else name.rsplit(".", 1)[-1]
    what, expected = _FORMATS[kind]
    if kind == "fif":
        _check_fif_start(path, expected)
    reader = {
        "fif": mne.io.read_raw_fif,
        "edf": mne.io.read_raw_edf,
        "bdf": mne.io.read_raw_bdf,
        "vhdr": mne.io.read_raw_brainvision,
    }[kind]
    # The data are loaded inside the guard (preload): a file cut short fails only when its data are read.
    # MNE raises many types for a malformed file (ValueError, TypeError, OSError, EOFError, ...).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = reader(path, preload=True, verbose="warning")
        except MemoryError:
            raise
        except Exception as e:
            problem: BaseException | str | None = e
        else:
            problem = next((str(w.message) for w in caught if _TRUNCATED_TAG in str(w.message).lower()), None)
    if problem is not None:
        raise DataError(
            f"{path}: truncated or corrupt {what} (MNE: {_mne_said(problem)}); expected {_complete(expected)}"
        )
    return raw


def _annotation_code(event_id: Mapping[str, int]) -> Any:
    codes = set(event_id.values())

    def code(description: str) -> int | None:
        if description in event_id:
            return int(event_id[description])
        m = re.search(r"(\d+)\s*$", description)
        if m and int(m.group(1)) in codes:
            return int(m.group(1))
        return None

    return code


# Annotations that mark no trial: BrainVision's segment start, MNE's bad and edge spans.
_NOT_TRIALS = ("new segment", "bad", "edge")
# The event code unlabelled trial onsets from annotations without a code get.
_ONSET_CODE = 1


def _onset_code(trial_codes: Sequence[int] | None) -> Any:
    """For unlabelled recordings: an annotation's code when it marks a trial onset, else ``None``."""

    def code(description: str) -> int | None:
        if description.strip().lower().startswith(_NOT_TRIALS):
            return None
        m = re.search(r"(\d+)\s*$", description)
        if trial_codes is None:
            return int(m.group(1)) if m else _ONSET_CODE
        return int(m.group(1)) if m and int(m.group(1)) in trial_codes else None

    return code


def _stride_events(raw: Any, tmin: float, n_samples: int, stride: float) -> np.ndarray:
    """Onsets every ``stride`` s, the first epoch starting at the recording's first sample, as many as fit."""
    sfreq = float(raw.info["sfreq"])
    before = round(-tmin * sfreq)  # samples of the epoch before its onset
    step = max(round(stride * sfreq), 1)
    onsets = np.arange(before, raw.n_times - (n_samples - before) + 1, step, dtype=np.int64)
    return np.column_stack([onsets + raw.first_samp, np.zeros_like(onsets), np.full_like(onsets, _ONSET_CODE)])


def _events(
    path: Path,
    raw: Any,
    event_id: Mapping[str, int],
    unlabelled: bool = False,
    trial_codes: Sequence[int] | None = None,
) -> tuple[np.ndarray, str]:
    """``(events (n, 3) with sample indices relative to raw.first_samp + first_samp, source)``; for ``unlabelled``
    recordings, annotations count as trial onsets as :func:`_onset_code` says."""
    import mne

    stem = _stem(path)
    for suffix in _EVENT_SUFFIXES:
        sibling = path.with_name(stem + suffix)
        if sibling.exists():
            _check_fif_start(sibling, _EVENTS_EXPECTED)
            try:
                return mne.read_events(sibling, verbose="error"), sibling.name
            except MemoryError:
                raise
            except Exception as e:
                raise DataError(
                    f"{sibling}: truncated or corrupt event file (MNE: {_mne_said(e)}); "
                    f"expected {_complete(_EVENTS_EXPECTED)}"
                ) from None
    if "stim" in raw.get_channel_types():
        events = mne.find_events(raw, shortest_event=1, initial_event=True, verbose="error")
        if len(events):
            return events, "the stim channel"
    if len(raw.annotations):
        code = _onset_code(trial_codes) if unlabelled else _annotation_code(event_id)
        if all(code(str(d)) is None for d in raw.annotations.description):  # MNE would raise a ValueError
            shown = ", ".join(repr(str(d)) for d in dict.fromkeys(raw.annotations.description))
            return np.empty((0, 3), dtype=np.int64), f"the annotations (descriptions {shown})"
        events, _ = mne.events_from_annotations(raw, event_id=code, verbose="error")
        return events, "the annotations"
    hint = (
        "give dataset.params.stride=SECONDS to cut it into consecutive epochs"
        if unlabelled
        else "an unlabelled recording can be cut into consecutive epochs with dataset.params.unlabelled=true "
        "dataset.params.stride=SECONDS"
    )
    raise DataError(
        f"{path}: no events: no sibling {stem}-eve.fif, no stim channel with events and no annotations; {hint}"
    )


def _check_event_id(event_id: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(event_id, Mapping) or not event_id:
        raise ConfigError(f"event_id must be a non-empty mapping of class name to event code, got {event_id!r}")
    out = {}
    for name, code in event_id.items():
        if isinstance(code, bool) or not isinstance(code, int | np.integer):
            raise ConfigError(f"event_id[{name!r}] must be an integer event code, got {code!r}")
        out[str(name)] = int(code)
    if len(set(out.values())) != len(out):
        raise ConfigError(f"event_id maps two classes to the same code: {out}")
    return out


def _stimulus_freqs(
    event_id: dict[str, int], stimulus_freqs: Mapping[str, float] | Sequence[float] | None
) -> np.ndarray:
    names = list(event_id)
    if stimulus_freqs is None:
        freqs = []
        for name in names:
            m = _FREQ_NAME.match(name)
            freqs.append(float(m.group(1)) if m else math.nan)
        return np.asarray(freqs, dtype=float)
    if isinstance(stimulus_freqs, Mapping):
        missing = [n for n in names if n not in stimulus_freqs]
        if missing:
            raise ConfigError(f"stimulus_freqs has no frequency for class(es) {missing}; classes: {names}")
        values = [stimulus_freqs[n] for n in names]
    else:
        values = list(stimulus_freqs)
        if len(values) != len(names):
            raise ConfigError(f"stimulus_freqs has {len(values)} entries for {len(names)} classes {names}")
    try:
        return np.asarray([math.nan if v is None else float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"stimulus_freqs must hold numbers (Hz) or NaN, got {values!r}") from e


def _check_unlabelled(
    unlabelled: bool, trial_codes: Sequence[int] | None, stride: float | None
) -> tuple[int, ...] | None:
    """The trial codes as a tuple, after checking the options of unlabelled recordings.

    Raises:
        ConfigError: ``trial_codes`` or ``stride`` without ``unlabelled``, or invalid.
    """
    for key, value in (("trial_codes", trial_codes), ("stride", stride)):
        if value is not None and not unlabelled:
            raise ConfigError(
                f"dataset.params.{key} applies to unlabelled recordings only; give dataset.params.unlabelled=true "
                f"with it (got {key}={value!r})"
            )
    if stride is not None and (isinstance(stride, bool) or not (np.isfinite(stride) and stride > 0)):
        raise ConfigError(f"dataset.params.stride must be a positive number of seconds, got {stride!r}")
    if trial_codes is None:
        return None
    if isinstance(trial_codes, str | bytes) or not trial_codes:
        raise ConfigError(f"dataset.params.trial_codes must be a non-empty list of event codes, got {trial_codes!r}")
    if any(isinstance(c, bool) or not isinstance(c, int | np.integer) for c in trial_codes):
        raise ConfigError(f"dataset.params.trial_codes must hold integer event codes, got {list(trial_codes)!r}")
    return tuple(int(c) for c in trial_codes)


def _pick_names(path: Path, raw: Any, channels: Sequence[str] | None) -> list[str]:
    """Channel names to keep from ``raw``, in the requested order (case-insensitive match)."""
    if channels is None:
        names = [raw.ch_names[i] for i in range(len(raw.ch_names)) if raw.get_channel_types()[i] == "eeg"]
        if not names:
            raise DataError(f"{path}: no EEG channels; channels: {', '.join(raw.ch_names)}")
        return names
    lookup = {c.lower(): c for c in raw.ch_names}
    missing = [c for c in channels if c.lower() not in lookup]
    if missing:
        raise DataError(
            f"{path}: channel(s) {', '.join(missing)} not in the recording; it has {', '.join(raw.ch_names)}"
        )
    return [lookup[c.lower()] for c in channels]


def _has_positions(info: Any) -> bool:
    locs = np.array([ch["loc"][:3] for ch in info["chs"]])
    return bool(np.isfinite(locs).all() and np.any(np.abs(locs) > 0, axis=1).all())


def read_mne_recordings(
    root: str | Path,
    event_id: Mapping[str, int] | None = None,
    tmin: float = 0.0,
    tmax: float = 5.0,
    channels: Sequence[str] | None = None,
    latency: float = 0.0,
    stimulus_freqs: Mapping[str, float] | Sequence[float] | None = None,
    l_freq: float | None = None,
    notch_freqs: float | Sequence[float] | None = None,
    unlabelled: bool = False,
    trial_codes: Sequence[int] | None = None,
    stride: float | None = None,
) -> SSVEPRecording:
    """Read every MNE-readable recording under ``root`` as epochs of an SSVEP experiment.

    Args:
        root: folder of recordings (``*raw.fif``/``*_eeg.fif``, ``*.edf``, ``*.bdf``, ``*.vhdr``), one
            sub-folder per subject; each file is one session (= block).
        event_id: class name -> event code, in class order (the class index is the position here);
            ``None`` uses :data:`EXOSKELETON_EVENTS`. Events with other codes are ignored.
        tmin: epoch start relative to the event, s; must be <= 0 (the event is the stimulus onset).
            To skip the first part of a trial, raise ``latency`` instead.
        tmax: epoch end relative to the event, s (exclusive: ``round((tmax - tmin) * sfreq)`` samples).
        channels: channel names to keep, in this order, matched case-insensitively; ``None`` keeps
            every EEG channel of the first recording (all recordings must then have the same set).
        latency: s from onset to the start of the analysis window (``SSVEPRecording.window``).
        stimulus_freqs: frequency in Hz of each class (a mapping by class name or a sequence in class
            order; NaN for a class without a stimulus). ``None``: :data:`EXOSKELETON_FREQS` with the
            default ``event_id``, otherwise parsed from class names like ``"13 Hz"`` or ``"13"`` (other
            names, such as ``"rest"``, get NaN).
        l_freq: optional high-pass cut-off in Hz, applied to each continuous recording before epoching.
        notch_freqs: optional notch frequency (or frequencies) in Hz, applied likewise.
        unlabelled: the recordings carry no targets (new sessions to predict): every event is a trial onset
            (codes of ``event_id`` too, whose classes are then not read) and every trial gets target -1.
            The stimulus table, and so the class names, still come from ``event_id``.
        trial_codes: with ``unlabelled``, only events of these codes are trial onsets (``None``: every event;
            an annotation counts when its description ends in one of them).
        stride: with ``unlabelled``, cut each recording into epochs every ``stride`` s from its first sample
            (as many as fit), ignoring its events; for recordings without events.

    Returns:
        An ``SSVEPRecording`` (``name="mne"``, ``onset=-tmin``) with epochs in volts, each epoch's mean
        removed per channel (the recordings may carry large DC offsets), ordered by subject, session and
        time; metadata ``subject`` (sub-folder name), ``block`` (session index within the subject),
        ``target`` (class index; -1 when ``unlabelled``), ``frequency``, ``phase`` (0 for a stimulus class,
        NaN for one without a frequency or an unlabelled trial) and ``session`` (the file's path relative
        to ``root``). Channels without positions get MNE's 10-05 template positions.

    Raises:
        DataError: a missing folder, no recordings, a file that is not FIF (for ``*.fif``), a truncated
            or otherwise unreadable file (its data are loaded to find out), a file without events or
            without any event of ``event_id`` (of ``trial_codes`` when ``unlabelled``), requested channels
            missing from a file, or files with different channel sets or sampling rates.
        ConfigError: invalid ``event_id``, ``stimulus_freqs``, ``tmin``/``tmax``, ``latency``, filters,
            ``trial_codes`` or ``stride``, or either of the last two without ``unlabelled``.
    """
    import mne

    from sciconv_bci_ssvep.mat_io import _standard_1005

    root = Path(root)
    default = event_id is None
    event_id = _check_event_id(EXOSKELETON_EVENTS if default else event_id)
    if stimulus_freqs is None and default:
        stimulus_freqs = EXOSKELETON_FREQS
    freqs = _stimulus_freqs(event_id, stimulus_freqs)
    phases = np.where(np.isnan(freqs), np.nan, 0.0)
    if not (np.isfinite(tmin) and np.isfinite(tmax)) or tmin > 0 or tmax <= tmin:
        raise ConfigError(f"need tmin <= 0 < tmax (s from the event), got tmin={tmin!r}, tmax={tmax!r}")
    if not np.isfinite(latency) or not 0 <= latency - tmin < tmax - tmin:
        raise ConfigError(f"latency must put the window start inside the epoch [{tmin:g}, {tmax:g}) s, got {latency!r}")
    if channels is not None and (isinstance(channels, str) or len(channels) == 0):
        raise ConfigError(f"channels must be a non-empty list of channel names or None, got {channels!r}")
    if l_freq is not None and not (np.isfinite(l_freq) and l_freq > 0):
        raise ConfigError(f"l_freq must be a positive frequency in Hz or None, got {l_freq!r}")
    codes_of_trials = _check_unlabelled(unlabelled, trial_codes, stride)

    code_to_class = {code: k for k, code in enumerate(event_id.values())}
    recordings = _find_recordings(root)
    data, meta = [], {"subject": [], "block": [], "target": [], "session": []}
    reference: tuple[Path, list[str], float] | None = None
    first_info = None
    n_samples = None
    for subject, files in recordings.items():
        for block, path in enumerate(files):
            raw = _read_raw(path)
            names = _pick_names(path, raw, channels)
            sfreq = float(raw.info["sfreq"])
            if reference is None:
                reference = (path, names, sfreq)
                first_info = raw.info
                n_samples = round((tmax - tmin) * sfreq)
            else:
                ref_path, ref_names, ref_sfreq = reference
                if sfreq != ref_sfreq:
                    raise DataError(
                        f"{path}: sampled at {sfreq:g} Hz but {ref_path} at {ref_sfreq:g} Hz; resample the recordings "
                        "to one rate"
                    )
                if set(names) != set(ref_names):
                    raise DataError(
                        f"{path}: EEG channels {', '.join(names)} differ from those of {ref_path} "
                        f"({', '.join(ref_names)}); pass channels=[...] to choose common ones"
                    )
                names = list(ref_names)
            if unlabelled and stride is not None:
                all_events, source = _stride_events(raw, tmin, n_samples, stride), f"stride {stride:g} s"
            else:
                all_events, source = _events(path, raw, event_id, unlabelled, codes_of_trials)
            if unlabelled:
                wanted = all_events[:, 2] if codes_of_trials is None else list(codes_of_trials)
                events = all_events[np.isin(all_events[:, 2], wanted)]
            else:
                events = all_events[np.isin(all_events[:, 2], list(code_to_class))]
            if len(events) == 0:
                found = sorted(set(all_events[:, 2].tolist()))
                raise DataError(
                    f"{path}: no events with the trial codes {list(codes_of_trials or ())} in {source}; codes found: "
                    f"{found}"
                    if unlabelled
                    else f"{path}: no events with the codes of event_id {event_id} in {source}; codes found: {found}; "
                    "recordings whose events carry no target code are predicted with dataset.params.unlabelled=true"
                )
            raw.pick(names)
            if l_freq is not None or notch_freqs is not None:
                raw.load_data(verbose="error")
                try:
                    if notch_freqs is not None:
                        raw.notch_filter(notch_freqs, verbose="error")
                    if l_freq is not None:
                        raw.filter(l_freq, None, verbose="error")
                except ValueError as e:
                    raise ConfigError(f"cannot filter {path}: {e}") from e
            if unlabelled:  # every code found is a trial onset
                present = {str(code): int(code) for code in sorted(set(events[:, 2].tolist()))}
            else:
                present = {name: code for name, code in event_id.items() if code in set(events[:, 2].tolist())}
            epochs = mne.Epochs(
                raw,
                events,
                event_id=present,
                tmin=tmin,
                tmax=tmin + (n_samples - 1) / sfreq,
                baseline=(None, None),
                preload=True,
                reject_by_annotation=False,
                event_repeated="drop",
                verbose="error",
            )
            dropped = len(events) - len(epochs)
            if dropped:
                warnings.warn(
                    f"{path}: {dropped} of {len(events)} trials dropped (epoch outside the recording)", stacklevel=2
                )
            x = epochs.get_data(picks=names)  # in the order of names
            if x.shape[-1] != n_samples:  # guards the sample arithmetic of tmax above
                raise DataError(f"{path}: epochs of {x.shape[-1]} samples, expected {n_samples}")
            data.append(x)
            targets = [-1 if unlabelled else code_to_class[int(c)] for c in epochs.events[:, 2]]
            meta["subject"] += [subject] * len(x)
            meta["block"] += [block] * len(x)
            meta["target"] += targets
            meta["session"] += [path.relative_to(root).as_posix()] * len(x)

    assert reference is not None and n_samples is not None and first_info is not None
    _, ch_names, sfreq = reference
    info = mne.create_info(ch_names, sfreq, ch_types="eeg")
    if first_info.get("line_freq"):
        info["line_freq"] = first_info["line_freq"]
    epochs = build_epochs(np.concatenate(data), info, meta, freqs, phases, event_id, tmin=tmin)
    montage = first_info.get_montage()
    if montage is not None and _has_positions(first_info):
        epochs.set_montage(montage, on_missing="ignore", verbose=False)
    else:
        epochs.set_montage(_standard_1005(), match_case=False, on_missing="ignore", verbose=False)
    return SSVEPRecording(
        epochs=epochs,
        freqs=freqs,
        phases=phases,
        class_names=tuple(event_id),
        onset=-float(tmin),
        latency=float(latency),
        name="mne",
    )
