"""Benchmark and BETA .mat readers and writers: round trips, units, montage, v7.3 files and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from sciconv.errors import ConfigError, DataError
from sciconv_bci_ssvep.mat_io import (
    _standard_1005,
    benchmark_montage,
    read_benchmark,
    read_beta,
    write_benchmark_subject,
    write_freq_phase,
)
from sciconv_bci_ssvep.recording import BENCHMARK_CHANNELS, OCCIPITAL_9, benchmark_stimuli
from sciconv_bci_ssvep.ssvep_simulator import simulate_benchmark

N_TARGETS, N_BLOCKS = 8, 2
OZ = BENCHMARK_CHANNELS.index("OZ")


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("benchmark")
    simulate_benchmark(root, n_subjects=2, seed=1, n_blocks=N_BLOCKS, n_targets=N_TARGETS)
    return root


def _benchmark_array(n_targets: int = 3, n_blocks: int = 2, seed: int = 0) -> np.ndarray:
    """Benchmark-layout data whose every trial is identifiable: value 100 * block + target + noise, µV."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, (64, 1500, n_targets, n_blocks))
    data += 100 * np.arange(n_blocks)[None, None, None, :] + np.arange(n_targets)[None, None, :, None]
    return data


def _message(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


# ----------------------------------------------------------------------------------------------------
# Benchmark: round trip


def test_round_trip_shapes_metadata_and_units(sim_root: Path) -> None:
    rec = read_benchmark(sim_root)
    n = 2 * N_BLOCKS * N_TARGETS
    assert rec.name == "benchmark" and rec.onset == 0.5 and rec.latency == 0.14 and rec.sfreq == 250.0
    assert rec.epochs.get_data().shape == (n, 9, 1500)
    assert rec.epochs.ch_names == ["Pz", "PO5", "PO3", "POz", "PO4", "PO6", "O1", "Oz", "O2"]
    assert rec.epochs.tmin == -0.5
    assert rec.subjects == ["S1", "S2"] and rec.blocks == [0, 1]
    freqs, phases = benchmark_stimuli(N_TARGETS)
    np.testing.assert_allclose(rec.freqs, freqs)
    np.testing.assert_allclose(rec.phases, phases)
    assert rec.class_names == tuple(f"{f:.1f} Hz" for f in freqs)

    meta = rec.epochs.metadata
    assert list(meta.columns) == ["subject", "block", "target", "frequency", "phase", "session"]
    assert meta["subject"].tolist() == ["S1"] * 16 + ["S2"] * 16
    assert meta["block"].tolist() == [0] * 8 + [1] * 8 + [0] * 8 + [1] * 8
    assert meta["target"].tolist() == list(range(8)) * 4
    np.testing.assert_allclose(meta["frequency"], np.tile(freqs, 4))
    np.testing.assert_allclose(meta["phase"], np.tile(phases, 4))
    assert meta["session"].iloc[0] == "S1-block1" and meta["session"].iloc[-1] == "S2-block2"

    # units: the file holds µV, MNE holds volts, window() returns µV
    raw = scipy.io.loadmat(sim_root / "S2.mat")["data"]
    assert raw.shape == (64, 1500, N_TARGETS, N_BLOCKS) and raw.dtype == np.float64
    trial = 16 + 1 * N_TARGETS + 5  # S2, block 1, target 5
    np.testing.assert_allclose(rec.epochs.get_data()[trial, 7], raw[OZ, :, 5, 1] * 1e-6, rtol=1e-12)
    window = rec.window(1.0)
    start = round((0.5 + 0.14) * 250)
    assert window.shape == (n, 9, 250)
    np.testing.assert_allclose(window[trial, 7], raw[OZ, start : start + 250, 5, 1], rtol=1e-12)
    assert 1.0 < np.std(window) < 100.0  # µV, EEG-sized


def test_montage_positions_of_the_occipital_channels(sim_root: Path) -> None:
    rec = read_benchmark(sim_root, subjects=[1])
    positions = rec.epochs.get_montage().get_positions()["ch_pos"]
    template = _standard_1005().get_positions()["ch_pos"]
    for name in rec.epochs.ch_names:
        assert np.all(np.isfinite(positions[name])) and np.linalg.norm(positions[name]) > 0.05
        np.testing.assert_allclose(positions[name], template[name])
    # Oz lies behind (negative y) Pz, and O1/O2 on either side of it
    assert positions["Oz"][1] < positions["Pz"][1]
    assert positions["O1"][0] < positions["Oz"][0] < positions["O2"][0]


def test_all_64_channels_have_positions(sim_root: Path) -> None:
    rec = read_benchmark(sim_root, subjects=[1], channels=BENCHMARK_CHANNELS)
    assert len(rec.epochs.ch_names) == 64 and "Fp1" in rec.epochs.ch_names and "CB1" in rec.epochs.ch_names
    positions = rec.epochs.get_montage().get_positions()["ch_pos"]
    assert all(np.isfinite(p).all() and np.linalg.norm(p) > 0.05 for p in positions.values())
    assert len(benchmark_montage().ch_names) == 64


def test_subject_and_channel_selection(sim_root: Path) -> None:
    rec = read_benchmark(sim_root, subjects=[2], channels=["oz", "Poz", "O1"], latency=0.13)
    assert rec.subjects == ["S2"] and rec.epochs.ch_names == ["Oz", "POz", "O1"] and rec.latency == 0.13
    full = read_benchmark(sim_root, subjects=[2])
    np.testing.assert_array_equal(rec.epochs.get_data()[:, 0], full.epochs.get_data()[:, 7])


def test_selection_errors(sim_root: Path) -> None:
    with pytest.raises(DataError) as e:
        read_benchmark(sim_root, subjects=[3])
    assert "S3.mat" in _message(e) and "not found" in _message(e) and "S1.mat, S2.mat" in _message(e)
    with pytest.raises(ConfigError, match="subject numbers >= 1"):
        read_benchmark(sim_root, subjects=[0])
    with pytest.raises(ConfigError) as e:
        read_benchmark(sim_root, channels=["OZ", "XYZ"])
    assert "'XYZ'" in _message(e) and "available: FP1" in _message(e)
    with pytest.raises(ConfigError, match="did you mean 'POZ'"):
        read_benchmark(sim_root, channels=["POZZ"])
    with pytest.raises(ConfigError, match="latency"):
        read_benchmark(sim_root, latency=-0.1)


def test_missing_freq_phase_falls_back_to_the_benchmark_table(tmp_path: Path) -> None:
    write_benchmark_subject(tmp_path / "S1.mat", _benchmark_array())
    with pytest.warns(UserWarning, match="Freq_Phase.mat not found"):
        rec = read_benchmark(tmp_path)
    np.testing.assert_allclose(rec.freqs, [8.0, 9.0, 10.0])
    np.testing.assert_allclose(rec.phases, [0.0, np.pi / 2, np.pi])


def test_subjects_are_sorted_numerically(tmp_path: Path) -> None:
    for s in (10, 2, 1):
        write_benchmark_subject(tmp_path / f"S{s}.mat", _benchmark_array(seed=s))
    write_freq_phase(tmp_path, *benchmark_stimuli(3))
    (tmp_path / "notes.mat").write_bytes(b"ignored")
    rec = read_benchmark(tmp_path)
    assert rec.subjects == ["S1", "S2", "S10"]
    # each trial holds 100 * block + target
    means = rec.window(0.5).mean(axis=(1, 2))
    meta = rec.epochs.metadata
    np.testing.assert_allclose(means, 100 * meta["block"] + meta["target"], atol=0.5)


# ----------------------------------------------------------------------------------------------------
# Benchmark: bad input


def test_folder_missing_or_without_subject_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        read_benchmark(tmp_path / "nowhere")
    assert "nowhere" in _message(e) and "does not exist" in _message(e)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataError) as e:
        read_benchmark(tmp_path)
    assert str(tmp_path) in _message(e) and "no subject files S<n>.mat" in _message(e)


def test_file_without_the_data_variable(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "S1.mat", {"eeg": np.zeros((64, 10)), "fs": 250.0})
    with pytest.raises(DataError) as e:
        read_benchmark(tmp_path)
    msg = _message(e)
    assert "S1.mat" in msg and "no variable 'data'" in msg and "eeg [64, 10]" in msg and "fs [1, 1]" in msg


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((1500, 64, 3, 2), r"'data' has shape \[1500, 64, 3, 2\], axes in the wrong order; expected \[64 channels"),
        ((64, 1000, 3, 2), r"'data' has 1000 samples per trial .*has 1500 \(6 s at 250 Hz"),
        ((64, 1500, 3), r"'data' has shape \[64, 1500, 3\]; expected a 4-D array"),
        ((32, 100, 3, 2), r"'data' has shape \[32, 100, 3, 2\]; expected \[64 channels, 1500 samples"),
    ],
)
def test_data_of_the_wrong_shape(tmp_path: Path, shape: tuple[int, ...], expected: str) -> None:
    scipy.io.savemat(tmp_path / "S1.mat", {"data": np.zeros(shape)})
    with pytest.raises(DataError, match=expected) as e:
        read_benchmark(tmp_path)
    assert str(tmp_path / "S1.mat") in _message(e)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_are_located(tmp_path: Path, bad: float) -> None:
    data = _benchmark_array()
    data[OZ, 700, 2, 1] = bad
    data[BENCHMARK_CHANNELS.index("FP1"), 3, 0, 0] = np.nan  # not a kept channel: ignored
    scipy.io.savemat(tmp_path / "S1.mat", {"data": data})
    with pytest.raises(DataError) as e:
        read_benchmark(tmp_path)
    msg = _message(e)
    assert "S1.mat" in msg and "non-finite" in msg
    assert "subject S1, channel OZ, target 2, block 1 (0-based), sample 700" in msg


def test_corrupt_file(tmp_path: Path) -> None:
    good = tmp_path / "good.mat"
    write_benchmark_subject(good, _benchmark_array())
    (tmp_path / "S1.mat").write_bytes(good.read_bytes()[:5000])  # truncated
    with pytest.raises(DataError) as e:
        read_benchmark(tmp_path)
    assert "S1.mat" in _message(e) and "cannot read it as a MATLAB .mat file" in _message(e)
    (tmp_path / "S1.mat").write_bytes(b"this is not a mat file at all" * 10)
    with pytest.raises(DataError, match=r"cannot read it as a MATLAB \.mat file"):
        read_benchmark(tmp_path)


def test_bad_freq_phase(tmp_path: Path) -> None:
    write_benchmark_subject(tmp_path / "S1.mat", _benchmark_array(n_targets=3))
    write_freq_phase(tmp_path, *benchmark_stimuli(4))
    with pytest.raises(DataError) as e:
        read_benchmark(tmp_path)
    assert "Freq_Phase.mat" in _message(e) and "'freqs' has 4 entries but the subject files hold 3 targets" in _message(
        e
    )
    scipy.io.savemat(tmp_path / "Freq_Phase.mat", {"freqs": np.arange(3.0)[None]})
    with pytest.raises(DataError, match=r"Freq_Phase.mat: no variable 'phases'; it holds freqs \[1, 3\]"):
        read_benchmark(tmp_path)


def test_subjects_with_different_target_counts(tmp_path: Path) -> None:
    write_benchmark_subject(tmp_path / "S1.mat", _benchmark_array(n_targets=3))
    write_benchmark_subject(tmp_path / "S2.mat", _benchmark_array(n_targets=4))
    with pytest.raises(DataError, match=r"S2.mat: 'data' holds 4 targets but .*S1.mat holds 3"):
        read_benchmark(tmp_path)


def test_a_beta_file_given_to_the_benchmark_reader(tmp_path: Path) -> None:
    _write_beta(tmp_path / "S1.mat", n_samples=750)
    with pytest.raises(DataError, match=r"S1.mat: 'data' is a struct with fields EEG, suppl_info.*read_beta"):
        read_benchmark(tmp_path)


# ----------------------------------------------------------------------------------------------------
# Writers


def test_writers_are_atomic_and_check_their_input(tmp_path: Path) -> None:
    data = _benchmark_array()
    path = write_benchmark_subject(tmp_path / "S1.mat", data.astype(np.float32))
    assert path == tmp_path / "S1.mat" and sorted(p.name for p in tmp_path.iterdir()) == ["S1.mat"]
    loaded = scipy.io.loadmat(path)["data"]
    assert loaded.dtype == np.float64 and loaded.shape == (64, 1500, 3, 2)
    np.testing.assert_allclose(loaded, data.astype(np.float32))
    fp = write_freq_phase(tmp_path, *benchmark_stimuli(3))
    variables = scipy.io.loadmat(fp)
    assert variables["freqs"].shape == (1, 3) and variables["phases"].shape == (1, 3)
    with pytest.raises(ConfigError, match=r"\[64, 1500, n_targets, n_blocks\]"):
        write_benchmark_subject(tmp_path / "S2.mat", np.zeros((1500, 64, 3, 2)))
    with pytest.raises(ConfigError, match="NaN"):
        write_benchmark_subject(tmp_path / "S2.mat", np.full((64, 1500, 1, 1), np.nan))
    assert not (tmp_path / "S2.mat").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


# ----------------------------------------------------------------------------------------------------
# MATLAB v7.3 (HDF5)


def _write_v73(path: Path, variables: dict) -> None:
    """A MATLAB v7.3 file: HDF5 with MATLAB's 512-byte header; arrays stored transposed, as MATLAB does."""
    with h5py.File(path, "w", userblock_size=512) as f:

        def put(group: h5py.Group, name: str, value) -> None:
            if isinstance(value, dict):
                sub = group.create_group(name)
                sub.attrs["MATLAB_class"] = np.bytes_("struct")
                for k, v in value.items():
                    put(sub, k, v)
            else:
                ds = group.create_dataset(name, data=np.asarray(value, dtype=np.float64).T)
                ds.attrs["MATLAB_class"] = np.bytes_("double")

        for name, value in variables.items():
            put(f, name, value)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


def test_v73_benchmark_file(tmp_path: Path) -> None:
    data = _benchmark_array(n_targets=3, n_blocks=2)
    _write_v73(tmp_path / "S1.mat", {"data": data})
    _write_v73(tmp_path / "Freq_Phase.mat", {"freqs": benchmark_stimuli(3)[0][None], "phases": np.zeros((1, 3))})
    with pytest.raises(NotImplementedError):  # scipy cannot read it: the h5py path is what is tested
        scipy.io.loadmat(tmp_path / "S1.mat")
    rec = read_benchmark(tmp_path)
    assert rec.epochs.get_data().shape == (6, 9, 1500)
    np.testing.assert_allclose(rec.epochs.get_data()[4, 7], data[OZ, :, 1, 1] * 1e-6)  # block 1, target 1
    np.testing.assert_allclose(rec.freqs, [8.0, 9.0, 10.0])
    np.testing.assert_allclose(rec.phases, 0.0)


def test_v73_beta_file(tmp_path: Path) -> None:
    eeg = _beta_eeg(750, n_blocks=4, n_targets=5)
    freqs = 8.6 + 0.2 * np.arange(5)
    info = {"freqs": freqs[None], "phases": np.zeros((1, 5)), "srate": np.array([[250.0]])}
    _write_v73(tmp_path / "S1.mat", {"data": {"EEG": eeg, "suppl_info": info}})
    rec = read_beta(tmp_path)
    assert rec.epochs.get_data().shape == (20, 9, 750)
    np.testing.assert_allclose(rec.freqs, freqs)
    expected = 100 * np.repeat(np.arange(4), 5) + np.tile(range(5), 4)  # block and target axes the right way round
    np.testing.assert_allclose(rec.window(0.4).mean(axis=(1, 2)), expected, atol=0.01)


# ----------------------------------------------------------------------------------------------------
# BETA


def _beta_eeg(n_samples: int, n_blocks: int = 4, n_targets: int = 5, seed: int = 0) -> np.ndarray:
    """[64, samples, blocks, targets] with value 100 * block + target (+ small noise), µV."""
    rng = np.random.default_rng(seed)
    eeg = rng.normal(0, 0.01, (64, n_samples, n_blocks, n_targets))
    return eeg + 100 * np.arange(n_blocks)[None, None, :, None] + np.arange(n_targets)[None, None, None, :]


def _write_beta(path: Path, n_samples: int, srate: float = 250.0, n_targets: int = 5, eeg=None, **info) -> None:
    freqs = 8.6 + 0.2 * np.arange(n_targets)
    suppl = {
        "freqs": freqs,
        "phases": np.mod(0.5 * np.pi * np.round((freqs - 8.0) / 0.2), 2 * np.pi),
        "srate": srate,
        "sub": "S1",
        "age": 22.0,
        "chan": np.array([["1", "FP1"]], dtype=object),
    }
    suppl.update(info)
    eeg = _beta_eeg(n_samples, n_targets=n_targets) if eeg is None else eeg
    scipy.io.savemat(path, {"data": {"EEG": eeg, "suppl_info": suppl}})


def test_beta_round_trip_with_different_epoch_lengths(tmp_path: Path) -> None:
    _write_beta(tmp_path / "S1.mat", n_samples=750)
    _write_beta(tmp_path / "S2.mat", n_samples=1000)
    with pytest.warns(UserWarning, match=r"S1: 750, S2: 1000 samples\); all are cropped to the shortest, 750"):
        rec = read_beta(tmp_path)
    assert rec.name == "beta" and rec.latency == 0.13 and rec.onset == 0.5
    assert rec.epochs.get_data().shape == (2 * 4 * 5, 9, 750)
    assert rec.epochs.ch_names == ["Pz", "PO5", "PO3", "POz", "PO4", "PO6", "O1", "Oz", "O2"]
    meta = rec.epochs.metadata
    assert meta["subject"].tolist() == ["S1"] * 20 + ["S2"] * 20
    assert meta["block"].tolist() == np.repeat(np.arange(4), 5).tolist() * 2
    assert meta["target"].tolist() == list(range(5)) * 8
    np.testing.assert_allclose(rec.freqs, 8.6 + 0.2 * np.arange(5))
    np.testing.assert_allclose(meta["frequency"], rec.freqs[meta["target"]])
    # block/target axes read the right way round: trial value 100 * block + target
    np.testing.assert_allclose(rec.window(1.0).mean(axis=(1, 2)), 100 * meta["block"] + meta["target"], atol=0.01)
    assert np.isfinite(rec.epochs.get_montage().get_positions()["ch_pos"]["Oz"]).all()


def test_beta_phases_in_units_of_pi_are_converted(tmp_path: Path) -> None:
    _write_beta(tmp_path / "S1.mat", n_samples=750, phases=np.array([0.0, 0.5, 1.0, 1.5, 0.0]))
    with pytest.warns(UserWarning, match="units of pi"):
        rec = read_beta(tmp_path)
    np.testing.assert_allclose(rec.phases, [0.0, np.pi / 2, np.pi, 1.5 * np.pi, 0.0])


def test_beta_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "S1.mat"
    _write_beta(path, n_samples=750, srate=1000.0)
    with pytest.raises(DataError, match=re.escape(f"{path}: data.suppl_info.srate is [1000.0] Hz; expected 250 Hz")):
        read_beta(tmp_path)

    # Benchmark axis order [64, samples, targets, blocks]: block and target axes swapped
    _write_beta(path, n_samples=750, eeg=_beta_eeg(750, n_blocks=5, n_targets=4))
    with pytest.raises(DataError) as e:
        read_beta(tmp_path)
    assert str(path) in _message(e) and "[64, 750, 5, 4] but suppl_info lists 5 targets" in _message(e)
    assert "block and target axes are swapped" in _message(e)

    _write_beta(path, n_samples=750, eeg=_beta_eeg(750).transpose(1, 0, 2, 3))
    with pytest.raises(DataError, match=r"data.EEG has shape \[750, 64, 4, 5\] with axis 1 of size 64"):
        read_beta(tmp_path)

    scipy.io.savemat(path, {"data": {"EEG": _beta_eeg(750), "suppl_info": {"freqs": np.arange(5.0)}}})
    with pytest.raises(DataError, match=r"S1.mat: data.suppl_info has no field phases, srate; fields: freqs"):
        read_beta(tmp_path)

    scipy.io.savemat(path, {"data": _benchmark_array()})
    with pytest.raises(DataError, match=r"S1.mat: 'data' is an array \[64, 1500, 3, 2\], not the BETA struct"):
        read_beta(tmp_path)

    scipy.io.savemat(path, {"EEG": _beta_eeg(750)})
    with pytest.raises(DataError, match=r"S1.mat: no variable 'data' \(the BETA layout\); it holds EEG"):
        read_beta(tmp_path)

    eeg = _beta_eeg(750)
    eeg[BENCHMARK_CHANNELS.index("O1"), 10, 3, 2] = np.nan
    _write_beta(path, n_samples=750, eeg=eeg)
    with pytest.raises(DataError, match=r"S1.mat: .*subject S1, channel O1, target 2, block 3 \(0-based\), sample 10"):
        read_beta(tmp_path)


def test_beta_subjects_with_different_stimulus_tables(tmp_path: Path) -> None:
    _write_beta(tmp_path / "S1.mat", n_samples=750)
    _write_beta(tmp_path / "S2.mat", n_samples=750, freqs=np.arange(5.0) + 20)
    with pytest.raises(DataError, match=r"S2.mat: the stimulus table .* differs from that of .*S1.mat"):
        read_beta(tmp_path)


def test_default_channels_are_the_paper_nine() -> None:
    assert [BENCHMARK_CHANNELS.index(c) + 1 for c in OCCIPITAL_9] == [48, 54, 55, 56, 57, 58, 61, 62, 63]
