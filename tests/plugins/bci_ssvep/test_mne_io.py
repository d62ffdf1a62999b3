"""The MNE recordings reader: the exoskeleton sample, FIF with a stim channel or annotations, BrainVision."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import mne
import numpy as np
import pytest
from scipy.signal import welch

from sciconv.errors import ConfigError, DataError
from sciconv_bci_ssvep.mne_io import EXOSKELETON_EVENTS, EXOSKELETON_FREQS, read_mne_recordings

EXO = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ssvep-exoskeleton"
SFREQ = 250.0
CHANNELS = ["Oz", "O1", "O2"]
EVENT_ID = {"rest": 1, "10 Hz": 2, "12 Hz": 3}


def _continuous(codes: list[int], n_channels: int = 3, sfreq: float = SFREQ, seed: int = 0) -> tuple[np.ndarray, list]:
    """(data in volts (n_channels, n), [(sample, code)]): 4-s trials every 6 s starting at 2 s; during a
    trial of code 2 or 3 every channel carries a 20 µV sinusoid at 10 or 12 Hz; a 1 mV DC offset
    everywhere, plus 2 µV noise."""
    rng = np.random.default_rng(seed)
    n = int((2 + 6 * len(codes) + 2) * sfreq)
    data = rng.normal(0, 2e-6, (n_channels, n)) + 1e-3
    t = np.arange(n) / sfreq
    events = []
    for i, code in enumerate(codes):
        start = int((2 + 6 * i) * sfreq)
        events.append((start, code))
        if code in (2, 3):
            f = {2: 10.0, 3: 12.0}[code]
            seg = slice(start, start + int(4 * sfreq))
            data[:, seg] += 20e-6 * np.sin(2 * np.pi * f * (t[seg] - t[start]))
    return data, events


def _write_fif_stim(path: Path, codes: list[int], ch_names=CHANNELS, sfreq: float = SFREQ, seed: int = 0) -> None:
    data, events = _continuous(codes, len(ch_names), sfreq, seed)
    stim = np.zeros((1, data.shape[1]))
    for sample, code in events:
        stim[0, sample : sample + 5] = code
    info = mne.create_info([*ch_names, "STI 014"], sfreq, ["eeg"] * len(ch_names) + ["stim"])
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.io.RawArray(np.vstack([data, stim]), info, verbose="error").save(path, overwrite=True, verbose="error")


def _write_fif_annotations(path: Path, codes: list[int], descriptions: dict[int, str], seed: int = 0) -> None:
    data, events = _continuous(codes, seed=seed)
    raw = mne.io.RawArray(data, mne.create_info(CHANNELS, SFREQ, "eeg"), verbose="error")
    raw.set_annotations(
        mne.Annotations([s / SFREQ for s, _ in events], [4.0] * len(events), [descriptions[c] for _, c in events])
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, overwrite=True, verbose="error")


def _write_brainvision(vhdr: Path, codes: list[int], seed: int = 0) -> None:
    """A minimal BrainVision set (header, marker file, float32 multiplexed data in µV)."""
    data, events = _continuous(codes, seed=seed)
    stem = vhdr.stem
    vhdr.parent.mkdir(parents=True, exist_ok=True)
    (data.T * 1e6).astype("<f4").tofile(vhdr.with_suffix(".eeg"))
    channels = "\n".join(f"Ch{i + 1}={name},,1,µV" for i, name in enumerate(CHANNELS))
    vhdr.write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\nMarkerFile={stem}.vmrk\nDataFormat=BINARY\nDataOrientation=MULTIPLEXED\n"
        f"NumberOfChannels={len(CHANNELS)}\nSamplingInterval={int(1e6 / SFREQ)}\n\n"
        f"[Binary Infos]\nBinaryFormat=IEEE_FLOAT_32\n\n[Channel Infos]\n{channels}\n",
        encoding="utf-8",
    )
    markers = ["Mk1=New Segment,,1,1,0"] + [
        f"Mk{i + 2}=Stimulus,S{code:>3},{sample + 1},1,0" for i, (sample, code) in enumerate(events)
    ]
    vhdr.with_suffix(".vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n\n[Common Infos]\nCodepage=UTF-8\n"
        f"DataFile={stem}.eeg\n\n[Marker Infos]\n" + "\n".join(markers) + "\n",
        encoding="utf-8",
    )


def _check_trials(rec, n_samples: int = 1000) -> None:
    """Each trial's window holds its class's sinusoid (10 or 12 Hz) or nothing (rest), with no DC."""
    x = rec.window(n_samples / SFREQ)
    assert x.shape[-1] == n_samples
    f, psd = welch(x, fs=SFREQ, nperseg=250, axis=-1)
    psd = psd.mean(axis=1)
    at = {10.0: np.argmin(abs(f - 10)), 12.0: np.argmin(abs(f - 12))}
    for trial, freq in enumerate(rec.epochs.metadata["frequency"]):
        if math.isnan(freq):
            assert np.sqrt(np.mean(x[trial] ** 2)) < 5  # µV: noise only
        else:
            other = 12.0 if freq == 10.0 else 10.0
            assert psd[trial, at[freq]] > 100 * psd[trial, at[other]]
    assert np.abs(rec.epochs.get_data().mean(axis=-1)).max() < 1e-12  # the 1 mV offset is gone


# ----------------------------------------------------------------------------------------------------
# The exoskeleton sample


@pytest.mark.skipif(not EXO.is_dir(), reason=f"shared SSVEP exoskeleton sample not found at {EXO}")
def test_exoskeleton_sample() -> None:
    rec = read_mne_recordings(EXO)
    assert rec.name == "mne" and rec.onset == 0.0 and rec.latency == 0.0 and rec.sfreq == 256.0
    assert rec.class_names == ("rest", "13 Hz", "17 Hz", "21 Hz")
    np.testing.assert_array_equal(rec.freqs, [np.nan, 13.0, 17.0, 21.0])
    assert np.isnan(rec.phases[0]) and np.all(rec.phases[1:] == 0)
    assert rec.subjects == ["subject01", "subject02", "subject03", "subject04"] and rec.blocks == [0, 1]
    assert rec.epochs.ch_names == ["Oz", "O1", "O2", "PO3", "POz", "PO7", "PO8", "PO4"]
    assert rec.epochs.get_data().shape == (4 * 2 * 32, 8, 5 * 256)
    meta = rec.epochs.metadata
    assert (meta.groupby(["subject", "block"]).size() == 32).all()
    assert (meta.groupby(["subject", "block", "target"]).size() == 8).all()
    assert meta["session"].iloc[0] == "subject01/record-[2012.07.06-19.02.16]_raw.fif"
    assert meta.groupby("session")["block"].nunique().eq(1).all()
    positions = rec.epochs.get_montage().get_positions()["ch_pos"]
    assert all(np.isfinite(p).all() and np.linalg.norm(p) > 0.05 for p in positions.values())
    # the recordings carry large DC offsets: each epoch's mean is removed per channel
    assert np.abs(rec.epochs.get_data().mean(axis=-1)).max() < 1e-12
    # the class mapping agrees with the spectra: the stimulus frequency (plus harmonic) has the most power
    x = rec.window(5.0)
    f, psd = welch(x, fs=256.0, nperseg=512, axis=-1)
    power = psd.mean(axis=1)
    score = np.stack([power[:, np.argmin(abs(f - c))] + power[:, np.argmin(abs(f - 2 * c))] for c in (13, 17, 21)], 1)
    score /= score.mean(axis=0)
    target = meta["target"].to_numpy()
    stimulus = target > 0
    assert np.mean(score[stimulus].argmax(axis=1) + 1 == target[stimulus]) > 0.6


@pytest.mark.skipif(not EXO.is_dir(), reason=f"shared SSVEP exoskeleton sample not found at {EXO}")
def test_exoskeleton_channel_subset_and_window_offset() -> None:
    rec = read_mne_recordings(EXO, channels=["oz", "POZ"], tmin=-1.0, tmax=4.0, latency=0.5)
    assert rec.epochs.ch_names == ["Oz", "POz"] and rec.onset == 1.0
    assert rec.window(3.5).shape == (256, 2, int(3.5 * 256))
    with pytest.raises(DataError) as e:
        read_mne_recordings(EXO, channels=["Oz", "Cz", "Fz"])
    assert "record-[2012.07.06-19.02.16]_raw.fif" in str(e.value) and "channel(s) Cz, Fz not in the recording" in str(
        e.value
    )


def test_exoskeleton_constants() -> None:
    assert list(EXOSKELETON_EVENTS) == list(EXOSKELETON_FREQS) == ["rest", "13 Hz", "17 Hz", "21 Hz"]
    assert EXOSKELETON_EVENTS == {"rest": 1, "13 Hz": 2, "17 Hz": 4, "21 Hz": 3}


# ----------------------------------------------------------------------------------------------------
# Formats and event sources


def test_fif_with_a_stim_channel(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "subB" / "run2_raw.fif", [3, 1, 2], seed=1)
    _write_fif_stim(tmp_path / "subB" / "run1_raw.fif", [1, 2, 3, 2], seed=2)
    _write_fif_stim(tmp_path / "subA" / "s1_raw.fif", [2, 2, 1], seed=3)
    rec = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    assert rec.class_names == ("rest", "10 Hz", "12 Hz")
    np.testing.assert_array_equal(rec.freqs, [np.nan, 10.0, 12.0])
    meta = rec.epochs.metadata
    assert meta["subject"].tolist() == ["subA"] * 3 + ["subB"] * 7
    assert meta["block"].tolist() == [0] * 3 + [0] * 4 + [1] * 3  # sessions sorted by file name
    assert meta["session"].tolist()[3] == "subB/run1_raw.fif"
    assert meta["target"].tolist() == [1, 1, 0, 0, 1, 2, 1, 2, 0, 1]
    assert rec.epochs.ch_names == CHANNELS and "STI 014" not in rec.epochs.ch_names
    assert rec.epochs.get_data().shape == (10, 3, 1000)
    _check_trials(rec)


def test_fif_with_annotations_and_a_file_in_the_root(tmp_path: Path) -> None:
    names = {1: "rest", 2: "10 Hz", 3: "12 Hz"}
    _write_fif_annotations(tmp_path / "P01_session1_raw.fif", [1, 3, 2], names)
    _write_fif_annotations(tmp_path / "P01_session2_raw.fif", [2, 3], {2: "2", 3: "3"})  # codes as descriptions
    rec = read_mne_recordings(
        tmp_path, event_id=EVENT_ID, tmax=4.0, stimulus_freqs={"rest": None, "10 Hz": 10, "12 Hz": 12}
    )
    assert rec.subjects == ["P01"] and rec.blocks == [0, 1]
    assert rec.epochs.metadata["target"].tolist() == [0, 2, 1, 1, 2]
    _check_trials(rec)


def test_brainvision(tmp_path: Path) -> None:
    _write_brainvision(tmp_path / "s01" / "block1.vhdr", [2, 1, 3])
    _write_brainvision(tmp_path / "s01" / "block2.vhdr", [3, 2], seed=5)
    rec = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmin=-0.5, tmax=4.0)
    assert rec.onset == 0.5 and rec.epochs.tmin == -0.5
    assert rec.epochs.metadata["target"].tolist() == [1, 0, 2, 2, 1]
    assert rec.epochs.get_data().shape == (5, 3, int(4.5 * SFREQ))
    _check_trials(rec)
    # units: 20 µV sinusoids come out as 20 µV from window(), 20e-6 V in MNE
    x = rec.window(4.0)
    assert np.max(np.abs(x[0])) == pytest.approx(20.0, abs=6.0)


def test_filters_are_applied_only_when_asked(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3])
    plain = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    filtered = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, l_freq=15.0, notch_freqs=50.0)
    assert np.std(filtered.window(4.0)) < 0.5 * np.std(plain.window(4.0))  # 10/12 Hz removed by the high-pass


def test_epochs_running_off_the_recording_are_dropped_with_a_warning(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3])
    with pytest.warns(UserWarning, match=r"r_raw.fif: 1 of 2 trials dropped"):
        rec = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=9.0)
    assert len(rec.epochs) == 1


# ----------------------------------------------------------------------------------------------------
# Bad input


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: the recordings folder does not exist"):
        read_mne_recordings(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"no recordings found"):
        read_mne_recordings(tmp_path)


def test_inconsistent_recordings(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3])
    _write_fif_stim(tmp_path / "b" / "r_raw.fif", [2, 3], ch_names=["Oz", "O1", "Pz"])
    with pytest.raises(DataError) as e:
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    msg = str(e.value)
    assert "b/r_raw.fif: EEG channels Oz, O1, Pz differ from those of" in msg and "a/r_raw.fif (Oz, O1, O2)" in msg
    # common channels can be chosen; a missing one is named with the file
    assert read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, channels=["Oz", "O1"]).epochs.ch_names == [
        "Oz",
        "O1",
    ]
    with pytest.raises(DataError, match=r"b/r_raw.fif: channel\(s\) O2 not in the recording; it has Oz, O1, Pz"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, channels=["Oz", "O2"])

    _write_fif_stim(tmp_path / "b" / "r_raw.fif", [2, 3], sfreq=256.0)
    with pytest.raises(DataError, match=r"b/r_raw.fif: sampled at 256 Hz but .*a/r_raw.fif at 250 Hz"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)


def test_files_without_usable_events(tmp_path: Path) -> None:
    raw = mne.io.RawArray(np.zeros((3, 2500)), mne.create_info(CHANNELS, SFREQ, "eeg"), verbose="error")
    (tmp_path / "a").mkdir()
    raw.save(tmp_path / "a" / "r_raw.fif", verbose="error")
    with pytest.raises(DataError, match=r"r_raw.fif: no events: no sibling r-eve.fif, no stim channel"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID)
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [7, 8])
    with pytest.raises(DataError, match=r"r_raw.fif: no events with the codes of event_id .* codes found: \[7, 8\]"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID)
    (tmp_path / "a" / "r_raw.fif").write_bytes(b"garbage" * 100)
    with pytest.raises(DataError, match=r"r_raw.fif: not a FIF file"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID)


def _tag_starts(fif: bytes) -> list[int]:
    """Byte offsets of the tags of an (uncompressed) FIF file, in file order: each tag is a 16-byte
    big-endian header (kind, type, size, next) followed by ``size`` bytes of data; ``next`` is 0 for
    "the tag that follows", -1 after the last tag, else the offset of the next tag."""
    starts, pos = [], 0
    while pos + 16 <= len(fif):
        starts.append(pos)
        _, _, size, nxt = struct.unpack(">iIii", fif[pos : pos + 16])
        if nxt == -1:
            break
        pos = nxt if nxt > 0 else pos + 16 + size
    return starts


@pytest.mark.parametrize("where", ["inside a data buffer", "inside a tag header"])
def test_a_truncated_fif_is_named_as_truncated(tmp_path: Path, where: str) -> None:
    path = tmp_path / "a" / "r_raw.fif"
    _write_fif_stim(path, [2, 3, 1, 2])
    full = path.read_bytes()
    starts = _tag_starts(full)
    assert len(starts) > 10 and starts[-1] < len(full)
    middle = starts[len(starts) // 2]
    # cut 40 bytes into a tag's data (MNE fails to reshape the buffer) or 11 bytes into its header (MNE
    # warns and reads the recording up to there, as if it were complete)
    path.write_bytes(full[: middle + (40 if where == "inside a data buffer" else 11)])
    with pytest.raises(DataError) as e:
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    msg = str(e.value)
    assert msg.startswith(f"{path}: truncated or corrupt FIF file") and "\n" not in msg
    assert msg.endswith("expected a complete MNE raw FIF written by mne.io.Raw.save")


@pytest.mark.parametrize("content", ["subject,trial,target\n1,1,13 Hz\n", "hello\n", ""])
def test_a_file_that_is_not_fif_is_named(tmp_path: Path, content: str) -> None:
    _write_fif_stim(tmp_path / "a" / "r1_raw.fif", [2, 3])
    path = tmp_path / "a" / "r2_raw.fif"
    path.write_text(content)
    with pytest.raises(DataError) as e:
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    msg = str(e.value)
    assert msg.startswith(f"{path}: not a FIF file (") and "\n" not in msg
    assert msg.endswith("expected an MNE raw FIF written by mne.io.Raw.save")
    assert ("the file is empty" in msg) == (content == "")


def test_a_compressed_fif_that_is_not_gzip_or_cut_short(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3, 1, 2])
    full = (tmp_path / "a" / "r_raw.fif").read_bytes()
    (tmp_path / "a" / "r_raw.fif").unlink()
    path = tmp_path / "a" / "r_raw.fif.gz"
    path.write_bytes(full)  # not compressed
    with pytest.raises(DataError, match=r"r_raw.fif.gz: not a gzip-compressed FIF file .*expected an MNE raw FIF"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    packed = gzip.compress(full)
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"r_raw.fif.gz: truncated or corrupt FIF file .*expected a complete MNE raw"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    path.write_bytes(packed)
    assert len(read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0).epochs) == 4


def test_an_event_file_that_is_not_fif_is_named(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3])
    (tmp_path / "a" / "r-eve.fif").write_text("1000 0 2\n")
    with pytest.raises(
        DataError, match=r"r-eve.fif: not a FIF file .*; expected an MNE event file written by mne.write_events"
    ):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)


def test_sibling_event_file_takes_precedence(tmp_path: Path) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3])
    mne.write_events(tmp_path / "a" / "r-eve.fif", np.array([[int(8 * SFREQ), 0, 1]]), verbose="error")
    rec = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0)
    assert rec.epochs.metadata["target"].tolist() == [0]  # rest, from the event file; the stim channel is unused


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tmin": 0.5}, "tmin <= 0 < tmax"),
        ({"tmax": 0.0}, "tmin <= 0 < tmax"),
        ({"latency": 5.0}, "latency"),
        ({"event_id": {"a": 1, "b": 1}}, "same code"),
        ({"event_id": {"a": "x"}}, "integer event code"),
        ({"event_id": EVENT_ID, "stimulus_freqs": [10.0]}, "1 entries for 3 classes"),
        ({"event_id": EVENT_ID, "stimulus_freqs": {"rest": 0}}, "no frequency for class"),
        ({"channels": "Oz"}, "channels"),
        ({"l_freq": -1.0}, "l_freq"),
    ],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict, message: str) -> None:
    _write_fif_stim(tmp_path / "a" / "r_raw.fif", [2, 3])
    with pytest.raises(ConfigError, match=message):
        read_mne_recordings(tmp_path, **kwargs)


def test_unlabelled_brainvision_markers_are_trial_onsets(tmp_path: Path) -> None:
    """With unlabelled=True every marker but the segment start is a trial onset (target -1), or those of
    trial_codes; the stimulus table still comes from event_id."""
    _write_brainvision(tmp_path / "a" / "free.vhdr", [32, 32, 99])
    rec = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, unlabelled=True)
    meta = rec.epochs.metadata
    assert len(rec.epochs) == 3 and (meta["target"] == -1).all()
    assert meta["frequency"].isna().all() and meta["phase"].isna().all()
    assert rec.class_names == tuple(EVENT_ID)
    only = read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, unlabelled=True, trial_codes=[32])
    assert len(only.epochs) == 2
    with pytest.raises(
        DataError,
        match=r"free.vhdr: no events with the trial codes \[7\] in the annotations \(descriptions "
        r"'Stimulus/S 32', 'Stimulus/S 99'\); codes found: \[\]",
    ):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, unlabelled=True, trial_codes=[7])
    with pytest.raises(ConfigError, match=r"dataset.params.trial_codes applies to unlabelled recordings only"):
        read_mne_recordings(tmp_path, event_id=EVENT_ID, tmax=4.0, trial_codes=[32])
