"""Inter-trial phase coherence: the phase-locking diagnostic of SSVEP recordings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sciconv_bci_ssvep.phase_locking import (
    CHANCE_FACTOR,
    PHASE_LOCKED_MARGIN,
    channel_itpc,
    default_neighbour_offsets,
    itpc,
    itpc_chance,
    neighbour_frequencies,
    phase_locking_summary,
    phase_locking_table,
)
from sciconv_bci_ssvep.recording import SSVEPRecording, build_epochs

SFREQ = 250.0
CHANNELS = ("O1", "Oz", "O2")


def _sinusoids(
    rng: np.random.Generator, n_trials: int, freq: float, phases: np.ndarray, noise: float = 3.0, seconds: float = 1.0
) -> np.ndarray:
    """``(n_trials, 3, seconds * SFREQ)`` µV: a 2 µV sinusoid at ``freq`` with one phase per trial, plus noise."""
    t = np.arange(round(seconds * SFREQ)) / SFREQ
    clean = 2.0 * np.sin(2 * np.pi * freq * t[None, :] + phases[:, None])
    return clean[:, None, :] + noise * rng.standard_normal((n_trials, len(CHANNELS), t.size))


def _recording(
    locked: bool,
    n_subjects: int = 3,
    n_blocks: int = 6,
    seed: int = 0,
    freqs: tuple[float, ...] = (10.0, 12.0, math.nan),
    sfreq: float = SFREQ,
) -> SSVEPRecording:
    """A tiny speller: each block has one trial per class (the last class is rest, NaN frequency), blocks
    0-2 of a subject form session "a" and 3-5 session "b"; one extra unlabelled trial at the end. Epochs
    are 1.5 s from 0.25 s before onset. ``locked``: each subject's phase of a target is fixed across
    trials; otherwise it is random per trial."""
    import mne

    rng = np.random.default_rng(seed)
    onset, n_samples = 0.25, round(1.5 * sfreq)
    t = np.arange(n_samples) / sfreq - onset
    trials, meta = [], {"subject": [], "block": [], "target": [], "session": []}
    for s in range(n_subjects):
        subject_phase = rng.uniform(0, 2 * np.pi, len(freqs))
        for b in range(n_blocks):
            for k, f in enumerate(freqs):
                x = 3.0 * rng.standard_normal((len(CHANNELS), n_samples))
                if math.isfinite(f):
                    phase = subject_phase[k] if locked else rng.uniform(0, 2 * np.pi)
                    x += 2.0 * np.sin(2 * np.pi * f * t + phase)
                trials.append(x)
                meta["subject"].append(f"S{s + 1}")
                meta["block"].append(b)
                meta["target"].append(k)
                meta["session"].append(f"S{s + 1}-{'a' if b < 3 else 'b'}")
    trials.append(3.0 * rng.standard_normal((len(CHANNELS), n_samples)))
    meta["subject"].append("S1")
    meta["block"].append(0)
    meta["target"].append(-1)
    meta["session"].append("S1-a")
    info = mne.create_info(list(CHANNELS), sfreq, "eeg")
    freqs_arr = np.asarray(freqs)
    phases = np.zeros(len(freqs))
    names = tuple("rest" if not math.isfinite(f) else f"{f:g} Hz" for f in freqs)
    event_id = {name: i + 1 for i, name in enumerate(names)}
    epochs = build_epochs(np.stack(trials) * 1e-6, info, meta, freqs_arr, phases, event_id, tmin=-onset)
    return SSVEPRecording(
        epochs=epochs,
        freqs=freqs_arr,
        phases=phases,
        class_names=names,
        onset=onset,
        latency=0.0,
        name="toy",
    )


# --- chance level -------------------------------------------------------------------------------------


def test_chance_formula_matches_random_phases() -> None:
    assert itpc_chance(1) == pytest.approx(math.sqrt(math.pi / 4))
    assert itpc_chance(6) == pytest.approx(0.3618, abs=1e-4)
    np.testing.assert_allclose(itpc_chance(np.array([4, 16])), [math.sqrt(math.pi / 16), math.sqrt(math.pi / 64)])
    rng = np.random.default_rng(1)
    for n in (6, 24):
        phases = rng.uniform(0, 2 * np.pi, (20000, n))
        simulated = np.abs(np.exp(1j * phases).mean(axis=1)).mean()
        assert simulated == pytest.approx(itpc_chance(n), rel=0.03)
    with pytest.raises(ValueError, match="at least 1"):
        itpc_chance(0)


# --- itpc ---------------------------------------------------------------------------------------------


def test_fixed_phase_gives_itpc_near_one_at_f_and_low_at_neighbours() -> None:
    rng = np.random.default_rng(2)
    x = _sinusoids(rng, 40, 10.0, np.full(40, 0.7))
    assert itpc(x, SFREQ, 10.0) > 0.95
    chance = itpc_chance(40)
    for f in (6.5, 7.5, 12.5, 13.5):
        assert itpc(x, SFREQ, f) < chance + 0.1
    # the same phase shift in every trial does not change coherence
    shifted = _sinusoids(np.random.default_rng(2), 40, 10.0, np.full(40, 2.9))
    assert itpc(shifted, SFREQ, 10.0) == pytest.approx(itpc(x, SFREQ, 10.0), abs=0.02)


def test_random_phase_gives_chance_level() -> None:
    rng = np.random.default_rng(3)
    values = [itpc(_sinusoids(rng, 30, 10.0, rng.uniform(0, 2 * np.pi, 30)), SFREQ, 10.0) for _ in range(20)]
    assert np.mean(values) == pytest.approx(itpc_chance(30), abs=0.05)
    assert max(values) < 0.6


def test_channel_itpc_shape_and_flat_channel() -> None:
    rng = np.random.default_rng(4)
    x = _sinusoids(rng, 10, 12.0, np.zeros(10))
    x[:, 1] = 0.0  # a flat channel has no phase: ITPC 0, not an invented 1
    per_channel = channel_itpc(x, SFREQ, [12.0, 20.0])
    assert per_channel.shape == (2, 3)
    assert per_channel[0, 1] == 0.0
    assert per_channel[0, 0] > 0.9 and per_channel[0, 2] > 0.9
    assert itpc(x, SFREQ, 12.0) == pytest.approx(per_channel[0].mean())


@pytest.mark.parametrize(
    ("shape", "freq", "message"),
    [
        ((10, 250), 10.0, "n_trials, n_channels, n_times"),
        ((1, 3, 250), 10.0, "at least 2 trials"),
        ((10, 3, 250), 125.0, "Nyquist"),
        ((10, 3, 250), 300.0, "Nyquist"),
        ((10, 3, 250), 0.0, "Nyquist"),
        ((10, 3, 250), math.nan, "Nyquist"),
    ],
)
def test_itpc_bad_input(shape: tuple[int, ...], freq: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        itpc(np.ones(shape), SFREQ, freq)


def test_itpc_rejects_non_finite_values() -> None:
    x = np.ones((4, 2, 100))
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        itpc(x, SFREQ, 10.0)
    with pytest.raises(ValueError, match="sfreq"):
        itpc(np.ones((4, 2, 100)), -1.0, 10.0)


# --- neighbours ---------------------------------------------------------------------------------------


def test_default_offsets_leave_the_main_lobe() -> None:
    assert default_neighbour_offsets(1.0) == (-3.5, -2.5, 2.5, 3.5)
    assert default_neighbour_offsets(0.5) == (-5.5, -4.5, 4.5, 5.5)
    assert default_neighbour_offsets(2.0) == (-2.5, -1.5, 1.5, 2.5)
    for window in (0.3, 0.5, 1.0, 1.5, 4.0):
        assert min(abs(o) for o in default_neighbour_offsets(window)) > 2.0 / window
    with pytest.raises(ValueError, match="window"):
        default_neighbour_offsets(0.0)


def test_neighbours_avoid_harmonics_subharmonic_other_stimuli_and_nyquist() -> None:
    got = neighbour_frequencies(5.0, [5.0, 8.0, math.nan], 40.0, (-3.5, -2.5, 2.5, 3.0, 5.0, 10.0, 16.0))
    # 1.5 and 7.5 kept; 2.5 = f / 2, 8.0 another stimulus, 10.0 = 2 f, 15.0 = 3 f, 21.0 >= Nyquist dropped
    np.testing.assert_allclose(got, [1.5, 7.5])
    # the Benchmark grid: half-integer offsets fall 0.1 Hz between stimuli, so all four stay
    grid = 8.0 + 0.2 * np.arange(40)
    np.testing.assert_allclose(neighbour_frequencies(8.0, grid, 250.0, (-3.5, -2.5, 2.5, 3.5)), [4.5, 5.5, 10.5, 11.5])


# --- table and summary --------------------------------------------------------------------------------


def test_table_on_a_phase_locked_recording() -> None:
    recording = _recording(locked=True)
    rows = phase_locking_table(recording, 1.0)
    # 3 subjects x 2 stimulus targets; the rest class and the unlabelled trial are skipped
    assert len(rows) == 6
    assert [(r["subject"], r["target"]) for r in rows] == [(f"S{s}", k) for s in (1, 2, 3) for k in (0, 1)]
    for row in rows:
        assert row["dataset"] == "toy" and row["session"] is None and row["n_sessions"] == 2
        assert row["n_trials"] == 6
        assert row["chance"] == pytest.approx(itpc_chance(6))
        assert row["class_name"] == f"{row['frequency']:g} Hz"
        assert row["neighbour_freqs"] == tuple(row["frequency"] + o for o in (-3.5, -2.5, 2.5, 3.5))
        assert row["itpc"] > 0.9
        assert row["itpc_neighbours"] < 0.7
        assert row["difference"] == pytest.approx(row["itpc"] - row["itpc_neighbours"])
    summary = phase_locking_summary(rows)
    assert summary["verdict"] == "phase-locked"
    assert summary["n_rows"] == 6 and summary["n_trials"] == 36
    assert summary["itpc"] - summary["itpc_neighbours"] > PHASE_LOCKED_MARGIN
    assert summary["sentence"].startswith("Responses are phase-locked")
    assert f"{summary['itpc']:.2f}" in summary["sentence"] and "TRCA" in summary["sentence"]


def test_table_on_a_free_running_recording() -> None:
    rows = phase_locking_table(_recording(locked=False, n_subjects=6, seed=5), 1.0)
    assert len(rows) == 12
    summary = phase_locking_summary(rows)
    assert summary["verdict"] == "not phase-locked"
    assert abs(summary["itpc"] - summary["chance"]) < 0.15
    assert "FBCCA" in summary["sentence"] and "not phase-locked" in summary["sentence"]


def test_table_by_session_and_channel_picks() -> None:
    recording = _recording(locked=True, n_subjects=2)
    rows = phase_locking_table(recording, 1.0, by="session", channels=["Oz"])
    assert [(r["session"], r["target"], r["n_trials"]) for r in rows] == [
        (session, k, 3) for session in ("S1-a", "S1-b", "S2-a", "S2-b") for k in (0, 1)
    ]
    assert all(r["n_sessions"] == 1 for r in rows)
    # one channel: the row's ITPC is that channel's, as itpc() computes it on the same trials
    meta = recording.epochs.metadata
    idx = np.flatnonzero(((meta["session"] == "S1-a") & (meta["target"] == 0)).to_numpy())
    x = recording.window(1.0)[idx][:, [1]]
    assert rows[0]["itpc"] == pytest.approx(itpc(x, SFREQ, 10.0))
    # custom offsets, and a recording whose sessions hold one trial per target gives no rows
    rows = phase_locking_table(recording, 1.0, neighbour_offsets_hz=(4.5,))
    assert all(r["neighbour_freqs"] == (r["frequency"] + 4.5,) for r in rows)
    assert phase_locking_table(_recording(locked=True, n_subjects=1, n_blocks=1), 1.0) == []


def test_table_bad_input() -> None:
    recording = _recording(locked=True, n_subjects=1, n_blocks=2)
    with pytest.raises(ValueError, match="by must be"):
        phase_locking_table(recording, 1.0, by="block")
    with pytest.raises(ValueError, match="not in 'toy'"):
        phase_locking_table(recording, 1.0, channels=["Cz"])
    with pytest.raises(ValueError, match="epochs hold"):
        phase_locking_table(recording, 2.0)
    with pytest.raises(ValueError, match="non-zero"):
        phase_locking_table(recording, 1.0, neighbour_offsets_hz=(0.0, 2.5))
    slow = _recording(locked=True, n_subjects=1, n_blocks=2, freqs=(10.0, 30.0), sfreq=50.0)
    with pytest.raises(ValueError, match="30 Hz lie at or above the Nyquist frequency 25"):
        phase_locking_table(slow, 1.0)


def _row(itpc_f: float, around: float, n_trials: int) -> dict[str, float]:
    chance = itpc_chance(n_trials)
    return {"itpc": itpc_f, "itpc_neighbours": around, "chance": chance, "n_trials": n_trials}


def test_verdicts_on_the_measured_regimes() -> None:
    locked = phase_locking_summary([_row(0.87, 0.64, 6)] * 4)
    assert locked["verdict"] == "phase-locked"
    assert locked["sentence"] == (
        "Responses are phase-locked to the trial start (ITPC 0.87 at the stimulus frequencies against 0.64 "
        "nearby, chance 0.36): template methods (TRCA, eTRCA, the time-domain DNN) fit this data."
    )
    free = phase_locking_summary([_row(0.60, 0.54, 6)] * 4)
    assert free["verdict"] == "not phase-locked"
    assert free["sentence"].endswith(
        "use phase-free methods (FBCCA, the DNN with spectral-magnitude input); template methods will be near chance."
    )
    # a clear margin over the neighbours, but not above twice chance: not yet evidence
    weak = phase_locking_summary([_row(0.70, 0.45, 6)])
    assert CHANCE_FACTOR * itpc_chance(6) > 0.70 and weak["verdict"] == "not phase-locked"


def test_verdict_undetermined() -> None:
    empty = phase_locking_summary([])
    assert empty["verdict"] == "undetermined" and math.isnan(empty["itpc"]) and empty["n_rows"] == 0
    few = phase_locking_summary([_row(1.0, 0.5, 3)])  # twice chance of 3 trials exceeds 1
    assert few["verdict"] == "undetermined" and "too few trials" in few["sentence"]
    no_neighbours = phase_locking_summary([_row(0.9, math.nan, 10)])
    assert no_neighbours["verdict"] == "undetermined" and "no neighbouring frequency" in no_neighbours["sentence"]
