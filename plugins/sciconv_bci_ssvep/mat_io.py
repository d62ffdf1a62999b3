"""Readers and writers of the Tsinghua Benchmark and BETA ``.mat`` layouts.

Benchmark (Wang et al. 2017): one ``S<n>.mat`` per subject holding ``data`` of shape
``[64 channels, 1500 samples, 40 targets, 6 blocks]`` in microvolts at 250 Hz, each epoch running from
0.5 s before stimulus onset to 5.5 s after it, and ``Freq_Phase.mat`` with ``freqs`` and ``phases``
(1 x 40, Hz and rad).

BETA (Liu et al. 2020): one ``S<n>.mat`` per subject holding a struct ``data`` with ``data.EEG`` of shape
``[64, 750 or 1000 samples, 4 blocks, 40 targets]`` (block and target axes swapped against the
Benchmark) and ``data.suppl_info`` with ``freqs``, ``phases`` and ``srate`` (and subject details); epochs
also start 0.5 s before onset.

Both are read with :func:`scipy.io.loadmat`; MATLAB v7.3 files (HDF5) are read with h5py, whose arrays
come out transposed against MATLAB's and are transposed back. Every problem with a file is a
:class:`~sciconv.errors.DataError` that names the file; a bad parameter is a
:class:`~sciconv.errors.ConfigError`.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciconv.atomic import atomic_path
from sciconv.errors import ConfigError, DataError, did_you_mean
from sciconv_bci_ssvep.recording import (
    BENCHMARK_CHANNELS,
    BENCHMARK_LATENCY_S,
    BENCHMARK_ONSET_S,
    BENCHMARK_SFREQ,
    BETA_LATENCY_S,
    OCCIPITAL_9,
    SSVEPRecording,
    benchmark_stimuli,
    build_epochs,
)

BENCHMARK_N_SAMPLES = 1500  # 6 s at 250 Hz: -0.5 .. 5.5 s around onset
N_CHANNELS = len(BENCHMARK_CHANNELS)

# Channels of the Neuroscan cap that the 10-05 system does not name, with the 10-05 position used for
# them: the cerebellar electrodes sit on the inion line below O1/O2, approximately at I1/I2.
_APPROXIMATE_POSITIONS = {"CB1": "I1", "CB2": "I2"}

_SUBJECT_FILE = re.compile(r"^S(\d+)\.mat$")


# ----------------------------------------------------------------------------------------------------
# Channel names and positions


@functools.lru_cache(maxsize=1)
def _standard_1005() -> Any:
    """MNE's template 10-05 montage (``colin27_1005``; called ``standard_1005`` before MNE 1.13)."""
    import mne

    builtin = mne.channels.get_builtin_montages()
    return mne.channels.make_standard_montage("colin27_1005" if "colin27_1005" in builtin else "standard_1005")


def mne_channel_name(name: str) -> str:
    """The 10-05 spelling MNE uses for a Benchmark channel name (``"POZ"`` -> ``"POz"``, ``"FP1"`` ->
    ``"Fp1"``); names outside the 10-05 system (``"CB1"``) are returned unchanged."""
    spelling = {n.upper(): n for n in _standard_1005().ch_names}
    return spelling.get(name.upper(), name)


@functools.lru_cache(maxsize=1)
def _benchmark_positions() -> dict[str, Any]:
    positions = _standard_1005().get_positions()
    ch_pos = {}
    for name in BENCHMARK_CHANNELS:
        source = mne_channel_name(_APPROXIMATE_POSITIONS.get(name, name))
        ch_pos[mne_channel_name(name)] = np.asarray(positions["ch_pos"][source], dtype=float)
    return {"ch_pos": ch_pos, "nasion": positions["nasion"], "lpa": positions["lpa"], "rpa": positions["rpa"]}


def benchmark_montage() -> Any:
    """An ``mne.channels.DigMontage`` of the 64 Benchmark/BETA channels (MNE spelling, head frame, m).

    Positions are those of MNE's 10-05 template; CB1/CB2, which the 10-05 system does not name, get the
    positions of I1/I2 (the inion line below O1/O2), an approximation.
    """
    import mne

    p = _benchmark_positions()
    return mne.channels.make_dig_montage(
        ch_pos={k: v.copy() for k, v in p["ch_pos"].items()},
        nasion=p["nasion"],
        lpa=p["lpa"],
        rpa=p["rpa"],
        coord_frame="head",
    )


def benchmark_positions() -> np.ndarray:
    """Positions of the 64 Benchmark channels in file order, ``(64, 3)`` in metres (MNE head frame)."""
    ch_pos = _benchmark_positions()["ch_pos"]
    return np.stack([ch_pos[mne_channel_name(c)] for c in BENCHMARK_CHANNELS])


def _channel_indices(channels: Sequence[str]) -> list[int]:
    """File indices of requested channel names (case-insensitive against the Benchmark table)."""
    if isinstance(channels, str) or not isinstance(channels, Sequence) or len(channels) == 0:
        raise ConfigError(f"channels must be a non-empty list of channel names, got {channels!r}")
    table = {c.upper(): i for i, c in enumerate(BENCHMARK_CHANNELS)}
    indices = []
    for name in channels:
        key = str(name).upper()
        if key not in table:
            raise ConfigError(
                f"channel {name!r} is not one of the 64 Benchmark/BETA channels"
                f"{did_you_mean(key, table)}; available: {', '.join(BENCHMARK_CHANNELS)}"
            )
        indices.append(table[key])
    if len(set(indices)) != len(indices):
        raise ConfigError(f"channels lists a channel twice: {list(channels)}")
    return indices


# ----------------------------------------------------------------------------------------------------
# Loading .mat files (v5 via scipy, v7.3 via h5py)


def _scipy_to_py(value: Any) -> Any:
    """A scipy ``loadmat`` value (``struct_as_record=True``, no squeezing) with 1x1 structs as dicts."""
    if isinstance(value, np.ndarray) and value.dtype.names is not None:
        if value.size != 1:
            return value
        record = value.reshape(-1)[0]
        return {name: _scipy_to_py(record[name]) for name in value.dtype.names}
    return value


def _h5_to_py(obj: Any) -> Any:
    """An h5py group or dataset of a v7.3 file as dicts and arrays in MATLAB's axis order."""
    import h5py

    if isinstance(obj, h5py.Group):
        return {key: _h5_to_py(obj[key]) for key in obj if not key.startswith("#")}
    matlab_class = obj.attrs.get("MATLAB_class", b"")
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    if obj.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 0))
    if obj.dtype.kind == "O":  # cell arrays stored as object references: not needed by these readers
        return None
    array = np.asarray(obj[()]).T  # h5py reads MATLAB's column-major arrays transposed
    if matlab_class == "char":
        return "".join(chr(c) for c in array.reshape(-1, order="F"))
    return array


def load_mat(path: Path) -> dict[str, Any]:
    """Every variable of a ``.mat`` file, structs as dicts of their fields; arrays keep MATLAB's shape.

    v4-v7 files are read with :func:`scipy.io.loadmat`, v7.3 (HDF5) files with h5py. Raises
    ``DataError`` naming the file when it cannot be read.
    """
    import h5py
    import scipy.io

    path = Path(path)
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                return {key: _h5_to_py(f[key]) for key in f if not key.startswith("#")}
        raw = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True)
    except DataError:
        raise
    except Exception as e:  # scipy and h5py raise many types for a corrupt file
        raise DataError(f"{path}: cannot read it as a MATLAB .mat file ({type(e).__name__}: {e})") from e
    return {key: _scipy_to_py(value) for key, value in raw.items() if not key.startswith("__")}


def _describe(variables: dict[str, Any]) -> str:
    if not variables:
        return "it holds no variables"
    parts = []
    for name, value in variables.items():
        if isinstance(value, dict):
            parts.append(f"{name} (struct with fields {', '.join(value)})")
        elif isinstance(value, np.ndarray):
            parts.append(f"{name} {_shape(value.shape)}")
        else:
            parts.append(name)
    return "it holds " + ", ".join(parts)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _numeric(path: Path, name: str, value: Any) -> np.ndarray:
    if isinstance(value, dict):
        raise DataError(f"{path}: variable '{name}' is a struct (fields {', '.join(value)}); expected a numeric array")
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        kind = type(value).__name__ if not isinstance(value, np.ndarray) else f"array of dtype {value.dtype}"
        raise DataError(f"{path}: variable '{name}' is a {kind}; expected a numeric array")
    return value


def _vector(path: Path, name: str, value: Any) -> np.ndarray:
    array = _numeric(path, name, value)
    if sum(s > 1 for s in array.shape) > 1:
        raise DataError(f"{path}: '{name}' has shape {_shape(array.shape)}; expected a vector (1 x n_targets)")
    return array.astype(float).reshape(-1)


# ----------------------------------------------------------------------------------------------------
# Shared helpers of the readers


def _subject_files(root: Path, subjects: Sequence[int] | None) -> list[tuple[int, Path]]:
    """``(subject number, path)`` of the requested ``S<n>.mat`` files, sorted by number when ``None``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: the dataset folder does not exist" if not root.exists() else f"{root}: not a folder")
    found = {}
    for p in root.iterdir():
        m = _SUBJECT_FILE.match(p.name)
        if m and p.is_file():
            found[int(m.group(1))] = p
    if not found:
        raise DataError(f"{root}: no subject files S<n>.mat (S1.mat, S2.mat, ...) in the folder")
    if subjects is None:
        return sorted(found.items())
    if isinstance(subjects, np.ndarray):
        subjects = subjects.tolist()
    if isinstance(subjects, int | str) or not isinstance(subjects, Sequence) or len(subjects) == 0:
        raise ConfigError(f"subjects must be a non-empty list of subject numbers (1-based) or None, got {subjects!r}")
    chosen = []
    for s in subjects:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
            raise ConfigError(f"subjects must hold subject numbers >= 1 (S1.mat is 1), got {s!r}")
        if int(s) not in found:
            raise DataError(
                f"{root / f'S{int(s)}.mat'}: subject file not found; the folder holds "
                + ", ".join(f"S{n}.mat" for n in sorted(found))
            )
        chosen.append((int(s), found[int(s)]))
    if len({s for s, _ in chosen}) != len(chosen):
        raise ConfigError(f"subjects lists a subject twice: {list(subjects)}")
    return chosen


def _check_latency(latency: float, epoch_after_onset: float) -> float:
    if not isinstance(latency, int | float | np.number) or not 0.0 <= latency < epoch_after_onset:
        raise ConfigError(f"latency must be in [0, {epoch_after_onset:g}) s, got {latency!r}")
    return float(latency)


def _check_finite(path: Path, subject: str, data: np.ndarray, channels: Sequence[str], block_axis: int) -> None:
    """``data`` is ``[channels, samples, ...]`` with targets and blocks on axes 2/3 (``block_axis`` says
    which holds blocks); raises naming the first non-finite sample."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return
    c, t, a2, a3 = (int(i) for i in np.argwhere(bad)[0])
    block, target = (a2, a3) if block_axis == 2 else (a3, a2)
    value = data[c, t, a2, a3]
    raise DataError(
        f"{path}: {int(bad.sum())} non-finite sample(s) (NaN or inf); the first is {value} at subject {subject}, "
        f"channel {channels[c]}, target {target}, block {block} (0-based), sample {t}"
    )


def _class_names(freqs: np.ndarray) -> tuple[str, ...]:
    names = [f"{f:.1f} Hz" for f in freqs]
    if len(set(names)) != len(names):  # repeated frequencies (different phases): make names unique
        names = [f"{n} #{k}" for k, n in enumerate(names)]
    return tuple(names)


def _build_recording(
    data: np.ndarray,
    meta: dict[str, list[Any]],
    freqs: np.ndarray,
    phases: np.ndarray,
    channel_indices: list[int],
    latency: float,
    name: str,
) -> SSVEPRecording:
    """``data`` in volts, ``(n_trials, n_channels, n_samples)``, 250 Hz, onset 0.5 s in."""
    import mne

    ch_names = [mne_channel_name(BENCHMARK_CHANNELS[i]) for i in channel_indices]
    info = mne.create_info(ch_names, BENCHMARK_SFREQ, ch_types="eeg")
    info["line_freq"] = 50.0
    class_names = _class_names(freqs)
    event_id = {c: k + 1 for k, c in enumerate(class_names)}
    epochs = build_epochs(data, info, meta, freqs, phases, event_id, tmin=-BENCHMARK_ONSET_S)
    epochs.set_montage(benchmark_montage(), verbose=False)
    return SSVEPRecording(
        epochs=epochs,
        freqs=freqs,
        phases=phases,
        class_names=class_names,
        onset=BENCHMARK_ONSET_S,
        latency=latency,
        name=name,
    )


# ----------------------------------------------------------------------------------------------------
# Benchmark


def _benchmark_array(path: Path) -> np.ndarray:
    """The ``data`` variable of a Benchmark subject file, checked: ``[64, 1500, n_targets, n_blocks]``."""
    variables = load_mat(path)
    if "data" not in variables:
        raise DataError(f"{path}: no variable 'data' (the Benchmark layout); {_describe(variables)}")
    value = variables["data"]
    if isinstance(value, dict):
        raise DataError(
            f"{path}: 'data' is a struct with fields {', '.join(value)}, not the Benchmark array "
            "[64 channels, 1500 samples, targets, blocks]; a BETA file is read with read_beta"
        )
    data = _numeric(path, "data", value)
    expected = f"[{N_CHANNELS} channels, {BENCHMARK_N_SAMPLES} samples, targets, blocks]"
    if data.ndim != 4:
        raise DataError(f"{path}: 'data' has shape {_shape(data.shape)}; expected a 4-D array {expected}")
    if data.shape[:2] != (N_CHANNELS, BENCHMARK_N_SAMPLES):
        if data.shape[0] == N_CHANNELS:
            raise DataError(
                f"{path}: 'data' has {data.shape[1]} samples per trial (shape {_shape(data.shape)}); the Benchmark "
                f"layout has {BENCHMARK_N_SAMPLES} (6 s at {BENCHMARK_SFREQ:g} Hz, -0.5 .. 5.5 s around onset), so "
                f"this file is at another sampling rate ({data.shape[1] / 6:g} Hz for 6 s) or cut differently"
            )
        if N_CHANNELS in data.shape or BENCHMARK_N_SAMPLES in data.shape:
            raise DataError(
                f"{path}: 'data' has shape {_shape(data.shape)}, axes in the wrong order; expected {expected}"
            )
        raise DataError(f"{path}: 'data' has shape {_shape(data.shape)}; expected {expected}")
    return data


def _freq_phase(root: Path, n_targets: int) -> tuple[np.ndarray, np.ndarray]:
    path = root / "Freq_Phase.mat"
    if not path.exists():
        warnings.warn(
            f"{path} not found: using the Benchmark stimulus table (f = 8 + (k mod 8) + 0.2 floor(k/8) Hz, "
            "phase 0.5 pi per 0.2 Hz step)",
            stacklevel=3,
        )
        return benchmark_stimuli(n_targets)
    variables = load_mat(path)
    missing = [v for v in ("freqs", "phases") if v not in variables]
    if missing:
        raise DataError(f"{path}: no variable {' or '.join(repr(m) for m in missing)}; {_describe(variables)}")
    freqs, phases = _vector(path, "freqs", variables["freqs"]), _vector(path, "phases", variables["phases"])
    for name, v in (("freqs", freqs), ("phases", phases)):
        if v.size != n_targets:
            raise DataError(f"{path}: '{name}' has {v.size} entries but the subject files hold {n_targets} targets")
        if not np.isfinite(v).all():
            raise DataError(f"{path}: '{name}' holds NaN or inf")
    return freqs, phases


def read_benchmark(
    root: str | Path,
    subjects: Sequence[int] | None = None,
    channels: Sequence[str] = OCCIPITAL_9,
    latency: float = BENCHMARK_LATENCY_S,
) -> SSVEPRecording:
    """Read the Tsinghua SSVEP Benchmark (or a simulated set in its layout) from a folder.

    Args:
        root: folder with ``S<n>.mat`` files (``data``: ``[64, 1500, n_targets, n_blocks]`` in µV at 250 Hz,
            -0.5 .. 5.5 s around onset; the real set has 40 targets and 6 blocks) and ``Freq_Phase.mat``
            (``freqs`` in Hz and ``phases`` in rad, 1 x n_targets). Without ``Freq_Phase.mat`` the
            Benchmark table (:func:`benchmark_stimuli`) is used, with a warning.
        subjects: subject numbers (``[1, 2]`` reads ``S1.mat``, ``S2.mat``); ``None`` reads every ``S<n>.mat``
            in numeric order.
        channels: channel names to keep, in this order, matched case-insensitively against
            ``BENCHMARK_CHANNELS``; epochs name them in MNE's 10-05 spelling (``POZ`` -> ``POz``).
        latency: visual latency in s; ``SSVEPRecording.window`` starts at onset + latency.

    Returns:
        An ``SSVEPRecording`` (``name="benchmark"``, ``onset=0.5``) whose epochs hold
        ``(n_subjects * n_blocks * n_targets, n_channels, 1500)`` samples in volts, ordered by subject,
        block, target, with metadata ``subject`` ("S1"), ``block``, ``target`` (0-based), ``frequency``,
        ``phase`` and ``session`` ("S1-block1", 1-based block number), and the ``benchmark_montage``.

    Raises:
        DataError: a missing folder or file, a file that cannot be read, a missing variable, an array of
            the wrong shape or axis order, a sample count other than 1500 (6 s at 250 Hz), a non-finite
            sample in a kept channel, or subjects with different numbers of targets.
        ConfigError: unknown channel names, bad subject numbers or latency.
    """
    root = Path(root)
    latency = _check_latency(latency, BENCHMARK_N_SAMPLES / BENCHMARK_SFREQ - BENCHMARK_ONSET_S)
    indices = _channel_indices(channels)
    names = [BENCHMARK_CHANNELS[i] for i in indices]
    files = _subject_files(root, subjects)

    trials, meta = [], {"subject": [], "block": [], "target": [], "session": []}
    n_targets = None
    for number, path in files:
        data = _benchmark_array(path)
        if n_targets is None:
            n_targets, first = data.shape[2], path
        elif data.shape[2] != n_targets:
            raise DataError(f"{path}: 'data' holds {data.shape[2]} targets but {first} holds {n_targets}")
        kept = np.asarray(data[indices], dtype=np.float64)
        subject = f"S{number}"
        _check_finite(path, subject, kept, names, block_axis=3)
        n_blocks = kept.shape[3]
        # [channels, samples, targets, blocks] in µV -> [blocks * targets, channels, samples] in V
        trials.append(kept.transpose(3, 2, 0, 1).reshape(n_blocks * n_targets, len(indices), -1) * 1e-6)
        blocks = np.repeat(np.arange(n_blocks), n_targets)
        meta["subject"] += [subject] * len(blocks)
        meta["block"] += blocks.tolist()
        meta["target"] += np.tile(np.arange(n_targets), n_blocks).tolist()
        meta["session"] += [f"{subject}-block{b + 1}" for b in blocks]
        del data

    assert n_targets is not None
    freqs, phases = _freq_phase(root, n_targets)
    return _build_recording(np.concatenate(trials), meta, freqs, phases, indices, latency, "benchmark")


# ----------------------------------------------------------------------------------------------------
# BETA


def _beta_phases(path: Path, phases: np.ndarray) -> np.ndarray:
    """Phases in rad; a table written in units of pi (0, 0.5, 1, 1.5) is converted, with a warning."""
    multiples = np.allclose(phases * 2, np.round(phases * 2), atol=1e-6)
    if multiples and phases.max() <= 2.0 and phases.max() > 0:
        warnings.warn(f"{path}: suppl_info.phases look like units of pi (0 .. 1.5); converted to rad", stacklevel=4)
        return phases * np.pi
    return phases


def _beta_subject(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(EEG [64, samples, blocks, targets] in µV, freqs, phases)`` of a BETA subject file, checked."""
    variables = load_mat(path)
    if "data" not in variables:
        raise DataError(f"{path}: no variable 'data' (the BETA layout); {_describe(variables)}")
    struct = variables["data"]
    if not isinstance(struct, dict):
        shape = _shape(struct.shape) if isinstance(struct, np.ndarray) else type(struct).__name__
        raise DataError(
            f"{path}: 'data' is an array {shape}, not the BETA struct with fields EEG and suppl_info; "
            "a Benchmark file is read with read_benchmark"
        )
    missing = [f for f in ("EEG", "suppl_info") if f not in struct]
    if missing:
        raise DataError(f"{path}: the struct 'data' has no field {' or '.join(missing)}; fields: {', '.join(struct)}")
    info = struct["suppl_info"]
    if not isinstance(info, dict):
        raise DataError(f"{path}: data.suppl_info is not a struct")
    missing = [f for f in ("freqs", "phases", "srate") if f not in info]
    if missing:
        raise DataError(f"{path}: data.suppl_info has no field {', '.join(missing)}; fields: {', '.join(info)}")
    srate = _vector(path, "data.suppl_info.srate", info["srate"])
    if srate.size != 1 or srate[0] != BENCHMARK_SFREQ:
        raise DataError(
            f"{path}: data.suppl_info.srate is {srate.tolist()} Hz; expected {BENCHMARK_SFREQ:g} Hz "
            "(resample the recording to 250 Hz first)"
        )
    freqs = _vector(path, "data.suppl_info.freqs", info["freqs"])
    phases = _vector(path, "data.suppl_info.phases", info["phases"])
    if freqs.size != phases.size or not (np.isfinite(freqs).all() and np.isfinite(phases).all()):
        raise DataError(
            f"{path}: data.suppl_info.freqs ({freqs.size}) and phases ({phases.size}) must be finite and of equal size"
        )
    eeg = _numeric(path, "data.EEG", struct["EEG"])
    n_targets = freqs.size
    expected = f"[{N_CHANNELS} channels, samples, blocks, {n_targets} targets]"
    if eeg.ndim != 4:
        raise DataError(f"{path}: data.EEG has shape {_shape(eeg.shape)}; expected a 4-D array {expected}")
    if eeg.shape[0] != N_CHANNELS:
        where = f"axis {eeg.shape.index(N_CHANNELS)}" if N_CHANNELS in eeg.shape else "no axis"
        raise DataError(
            f"{path}: data.EEG has shape {_shape(eeg.shape)} with {where} of size {N_CHANNELS}; expected {expected}"
        )
    if eeg.shape[3] != n_targets:
        hint = (
            " (the target axis is axis 2: block and target axes are swapped, as in the Benchmark layout)"
            if eeg.shape[2] == n_targets
            else ""
        )
        raise DataError(
            f"{path}: data.EEG has shape {_shape(eeg.shape)} but suppl_info lists {n_targets} targets; "
            f"expected {expected}{hint}"
        )
    min_samples = round((BENCHMARK_ONSET_S + 0.5) * BENCHMARK_SFREQ)
    if eeg.shape[1] < min_samples:
        raise DataError(
            f"{path}: data.EEG has {eeg.shape[1]} samples per trial; BETA epochs hold 0.5 s before onset "
            f"and at least 2 s after it at 250 Hz (750 or 1000 samples)"
        )
    return eeg, freqs, _beta_phases(path, phases)


def read_beta(
    root: str | Path,
    subjects: Sequence[int] | None = None,
    channels: Sequence[str] = OCCIPITAL_9,
    latency: float = BETA_LATENCY_S,
) -> SSVEPRecording:
    """Read the BETA dataset from a folder of ``S<n>.mat`` files.

    Args:
        root: folder with ``S<n>.mat`` files, each a struct ``data`` with ``EEG``
            ``[64, samples, n_blocks, n_targets]`` in µV at 250 Hz (0.5 s before onset, 2 or 3 s of
            stimulation, 0.5 s after: 750 or 1000 samples) and ``suppl_info`` (``freqs`` in Hz,
            ``phases`` in rad, ``srate`` = 250).
        subjects: subject numbers; ``None`` reads every ``S<n>.mat`` in numeric order.
        channels: channel names to keep (case-insensitive, Benchmark table; epochs use MNE's spelling).
        latency: visual latency in s.

    Returns:
        An ``SSVEPRecording`` (``name="beta"``, ``onset=0.5``), trials ordered by subject, block, target,
        metadata as in :func:`read_benchmark`. Subjects with different epoch lengths (750 and 1000
        samples) are all cropped to the shortest, with a warning.

    Raises:
        DataError: missing or unreadable files, missing struct fields, a wrong shape or axis order, a
            sampling rate other than 250 Hz, non-finite samples, or stimulus tables differing between
            subjects.
        ConfigError: unknown channel names, bad subject numbers or latency.
    """
    root = Path(root)
    latency = _check_latency(latency, 2.0)
    indices = _channel_indices(channels)
    names = [BENCHMARK_CHANNELS[i] for i in indices]
    files = _subject_files(root, subjects)

    per_subject, freqs, phases, first = [], None, None, None
    for number, path in files:
        eeg, f, p = _beta_subject(path)
        if freqs is None:
            freqs, phases, first = f, p, path
        elif f.shape != freqs.shape or not (np.allclose(f, freqs) and np.allclose(p, phases)):
            raise DataError(f"{path}: the stimulus table (suppl_info freqs/phases) differs from that of {first}")
        kept = np.asarray(eeg[indices], dtype=np.float64)
        subject = f"S{number}"
        _check_finite(path, subject, kept, names, block_axis=2)
        per_subject.append((subject, kept))
        del eeg
    assert freqs is not None and phases is not None

    lengths = {s: k.shape[1] for s, k in per_subject}
    n_samples = min(lengths.values())
    if len(set(lengths.values())) > 1:
        warnings.warn(
            f"BETA subjects have different epoch lengths ({', '.join(f'{s}: {n}' for s, n in lengths.items())} "
            f"samples); all are cropped to the shortest, {n_samples} samples ({n_samples / BENCHMARK_SFREQ:g} s)",
            stacklevel=2,
        )
    if n_samples / BENCHMARK_SFREQ - BENCHMARK_ONSET_S <= latency:
        raise ConfigError(f"latency {latency:g} s leaves no data in epochs of {n_samples / BENCHMARK_SFREQ:g} s")

    trials, meta = [], {"subject": [], "block": [], "target": [], "session": []}
    n_targets = freqs.size
    for subject, kept in per_subject:
        n_blocks = kept.shape[2]
        # [channels, samples, blocks, targets] in µV -> [blocks * targets, channels, samples] in V
        trials.append(kept[:, :n_samples].transpose(2, 3, 0, 1).reshape(n_blocks * n_targets, len(indices), -1) * 1e-6)
        blocks = np.repeat(np.arange(n_blocks), n_targets)
        meta["subject"] += [subject] * len(blocks)
        meta["block"] += blocks.tolist()
        meta["target"] += np.tile(np.arange(n_targets), n_blocks).tolist()
        meta["session"] += [f"{subject}-block{b + 1}" for b in blocks]
    return _build_recording(np.concatenate(trials), meta, freqs, phases, indices, latency, "beta")


# ----------------------------------------------------------------------------------------------------
# Writers


def _atomic_savemat(path: Path, variables: dict[str, np.ndarray]) -> Path:
    import scipy.io

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        scipy.io.savemat(fh, variables, format="5", oned_as="row")
    return path


def write_benchmark_subject(path: str | Path, data: np.ndarray) -> Path:
    """Write one subject in the Benchmark layout: ``data`` float64 ``[64, 1500, n_targets, n_blocks]`` in µV.

    Written to a temporary file in the same folder, then renamed, so a reader never sees half a file.
    Raises ``ConfigError`` for an array of another shape or with non-finite values. Returns the path.
    """
    data = np.asarray(data)
    if data.ndim != 4 or data.shape[:2] != (N_CHANNELS, BENCHMARK_N_SAMPLES) or data.dtype.kind not in "biuf":
        raise ConfigError(
            f"Benchmark data must be a numeric [64, 1500, n_targets, n_blocks] array, got {_shape(data.shape)} "
            f"of dtype {data.dtype}"
        )
    if not np.isfinite(data).all():
        raise ConfigError("Benchmark data holds NaN or inf")
    # savemat writes column-major: handing it a Fortran-ordered array avoids a slow strided copy
    return _atomic_savemat(Path(path), {"data": np.asfortranarray(data, dtype=np.float64)})


def write_beta_subject(
    path: str | Path, eeg: np.ndarray, freqs: np.ndarray, phases: np.ndarray, srate: float = 250.0
) -> Path:
    """Write one subject in the BETA layout: struct ``data`` with ``EEG`` float64 ``[64, n_samples, n_blocks,
    n_targets]`` in µV (block and target axes in BETA's order) and ``suppl_info`` with ``freqs`` (Hz),
    ``phases`` (rad) and ``srate`` (Hz). Atomic like :func:`write_benchmark_subject`. Returns the path."""
    eeg = np.asarray(eeg)
    freqs = np.asarray(freqs, dtype=np.float64).reshape(-1)
    phases = np.asarray(phases, dtype=np.float64).reshape(-1)
    if eeg.ndim != 4 or eeg.shape[0] != N_CHANNELS or eeg.dtype.kind not in "biuf":
        raise ConfigError(
            f"BETA EEG must be a numeric [64, samples, n_blocks, n_targets] array, got {_shape(eeg.shape)}"
        )
    if not np.isfinite(eeg).all():
        raise ConfigError("BETA EEG holds NaN or inf")
    if freqs.shape != phases.shape or freqs.size != eeg.shape[3]:
        raise ConfigError(
            f"BETA needs one frequency and phase per target ({eeg.shape[3]}), got {freqs.size}, {phases.size}"
        )
    suppl = {"freqs": freqs[None, :], "phases": phases[None, :], "srate": float(srate)}
    return _atomic_savemat(Path(path), {"data": {"EEG": np.asfortranarray(eeg, dtype=np.float64), "suppl_info": suppl}})


def write_freq_phase(root: str | Path, freqs: np.ndarray, phases: np.ndarray) -> Path:
    """Write ``root/Freq_Phase.mat`` with ``freqs`` (Hz) and ``phases`` (rad) as 1 x n_targets rows.

    Atomic like :func:`write_benchmark_subject`. Returns the path.
    """
    freqs = np.asarray(freqs, dtype=np.float64).reshape(-1)
    phases = np.asarray(phases, dtype=np.float64).reshape(-1)
    if freqs.shape != phases.shape or freqs.size == 0:
        raise ConfigError(f"freqs and phases must be equal-length vectors, got {freqs.size} and {phases.size}")
    return _atomic_savemat(Path(root) / "Freq_Phase.mat", {"freqs": freqs[None, :], "phases": phases[None, :]})
