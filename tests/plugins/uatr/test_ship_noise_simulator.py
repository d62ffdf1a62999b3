"""The ship-radiated-noise simulator: DeepShip layout, determinism, and physics checks that fail if the physics is
wrong (DEMON lines at the blade rate, spreading + absorption with range, tonals where drawn, Wenz ambient levels,
class parameter distributions)."""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from sciconv.errors import ConfigError
from sciconv_uatr import ship_noise_simulator as sim

FS = 8000
DURATION = 4.0
N = int(FS * DURATION)
AIS_RANGES = {"Cargo": range(70, 80), "Passengership": range(60, 70), "Tanker": range(80, 90), "Tug": range(52, 53)}


def _ship_and_pass(ship_class: str, seed: int, **changes) -> tuple[sim.Ship, sim.ShipPass]:
    rng = np.random.default_rng([seed, 17])
    ship = sim.draw_ship(ship_class, rng)
    ship_pass = sim.draw_pass(ship, rng, duration_s=DURATION, sample_rate=FS)
    return ship, replace(ship_pass, **changes)


def _band_power_db(x: np.ndarray, lo: float, hi: float) -> float:
    f, psd = scipy.signal.welch(x, FS, nperseg=1024)
    band = (f >= lo) & (f <= hi)
    return float(10 * np.log10(np.trapezoid(psd[band], f[band])))


# --- layout ------------------------------------------------------------------------------------------------------


def _parse_metafile(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]


def test_layout_metafile_and_json(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no clipping notice
        records = sim.simulate_deepship(
            tmp_path, classes=("Tanker", "Tug"), ships_per_class=2, recordings_per_ship=2, duration_s=1.0,
            sample_rate=FS, seed=3,
        )  # fmt: skip
    assert len(records) == 8
    assert json.loads((tmp_path / "recordings.json").read_text()) == records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Tanker", "Tug", "recordings.json"]
    names_by_class = {}
    for cls in ("Tanker", "Tug"):
        folder = tmp_path / cls
        assert sorted(p.name for p in folder.iterdir()) == sorted([f"{i}.wav" for i in range(1, 5)] + [
            f"{cls.lower()}-metafile"
        ])  # fmt: skip
        rows = _parse_metafile(folder / f"{cls.lower()}-metafile")
        assert [int(r[0]) for r in rows] == [1, 2, 3, 4]  # row number = WAV id
        by_id = {r["id"]: r for r in records if r["class"] == cls}
        when = []
        for row in rows:
            assert len(row) == 8 and row[-1] == ""  # trailing comma
            rec = by_id[int(row[0])]
            assert int(row[1]) in AIS_RANGES[cls] and int(row[1]) == rec["ais_code"]
            assert row[2] == rec["ship"] == row[2].upper() and row[2].strip() == row[2]
            day = date(int(row[3][:4]), int(row[3][4:6]), int(row[3][6:]))
            assert sim.RECORDING_PERIOD[0] <= day <= sim.RECORDING_PERIOD[1]
            hh, mm, ss = int(row[4][:2]), int(row[4][2:4]), int(row[4][4:])
            assert len(row[4]) == 6 and hh < 24 and mm < 60 and ss < 60
            when.append(row[3] + row[4])
            assert 200 <= int(row[5]) <= 2000 and int(row[5]) == round(rec["cpa_m"])
            start, end = (int(v) for v in row[6].split("-"))
            assert (start, end) == (round(rec["start_range_m"]), round(rec["end_range_m"]))
            assert min(start, end) >= int(row[5]) - 1 and max(start, end) <= 2001
            info = sf.info(folder / f"{row[0]}.wav")
            assert (info.channels, info.samplerate, info.frames, info.subtype) == (1, FS, FS, "PCM_16")
            assert rec["file"] == f"{cls}/{row[0]}.wav"
        assert when == sorted(when)  # ids in order of date and time
        ships = [r[2] for r in rows]
        assert all(ships.count(s) == 2 for s in ships)  # each ship recorded twice, on different days
        for s in set(ships):
            assert len({r[3] for r in rows if r[2] == s}) == 2
        names_by_class[cls] = set(ships)
    assert not names_by_class["Tanker"] & names_by_class["Tug"]
    x, _ = sf.read(tmp_path / "Tug" / "1.wav")
    assert 0 < np.abs(x).max() < 1.0 and x.std() > 1e-5


def test_deterministic_and_seeded(tmp_path: Path) -> None:
    kwargs = {"ships_per_class": 2, "recordings_per_ship": 1, "duration_s": 1.0, "sample_rate": FS}
    a = sim.simulate_deepship(tmp_path / "a", classes=("Cargo", "Tug"), seed=5, **kwargs)
    b = sim.simulate_deepship(tmp_path / "b", classes=("Cargo", "Tug"), seed=5, **kwargs)
    c = sim.simulate_deepship(tmp_path / "c", classes=("Tug",), seed=6, **kwargs)
    d = sim.simulate_deepship(tmp_path / "d", classes=("Tug",), seed=5, **kwargs)
    assert a == b
    for cls, i in (("Cargo", 1), ("Cargo", 2), ("Tug", 1), ("Tug", 2)):
        assert (tmp_path / "a" / cls / f"{i}.wav").read_bytes() == (tmp_path / "b" / cls / f"{i}.wav").read_bytes()
    # a class's ships do not depend on which other classes are simulated; another seed gives other data
    assert (tmp_path / "d" / "Tug" / "1.wav").read_bytes() == (tmp_path / "a" / "Tug" / "1.wav").read_bytes()
    assert [r["ship"] for r in c] != [r["ship"] for r in d] or [r["cpa_m"] for r in c] != [r["cpa_m"] for r in d]
    assert (tmp_path / "c" / "Tug" / "1.wav").read_bytes() != (tmp_path / "d" / "Tug" / "1.wav").read_bytes()


# --- propagation physics -----------------------------------------------------------------------------------------


def test_thorp_absorption_values() -> None:
    # 0.11/2 + 44/4101 + 2.75e-4 + 0.003 at 1 kHz; dominated by the MgSO4 term near 10 kHz
    assert sim.thorp_absorption_db_per_km(1000.0) == pytest.approx(0.0690, abs=5e-4)
    assert sim.thorp_absorption_db_per_km(10000.0) == pytest.approx(1.187, abs=5e-3)
    values = sim.thorp_absorption_db_per_km(np.array([100.0, 1000.0, 4000.0, 8000.0]))
    assert values.shape == (4,) and np.all(np.diff(values) > 0)


def test_lloyd_mirror_far_field_and_limits() -> None:
    f = np.linspace(10.0, 4000.0, 400)
    zs, zr, x = 8.0, 145.0, 3000.0
    gain = sim.lloyd_mirror_gain(f, x, zs, zr)
    r = math.hypot(x, zr)
    k = 2 * np.pi * f / sim.SOUND_SPEED_M_S
    np.testing.assert_allclose(gain, 4 * np.sin(k * zs * zr / r) ** 2, atol=0.02)
    low = sim.lloyd_mirror_gain(np.array([5.0, 10.0]), x, zs, zr)
    assert low[1] / low[0] == pytest.approx(4.0, rel=0.02)  # dipole: +6 dB per octave at low frequency
    fine = np.linspace(2000.0, 8000.0, 20001)
    assert np.mean(sim.lloyd_mirror_gain(fine, 500.0, zs, zr)) == pytest.approx(2.0, abs=0.05)  # +3 dB on average
    # an incoherent (rough) reflection or a source spread over depth fills the nulls: G -> 1 + rho^2
    rho = math.hypot(500.0, zr - zs) / math.hypot(500.0, zr + zs)
    np.testing.assert_allclose(sim.lloyd_mirror_gain(fine, 500.0, zs, zr, coherence=0.0), 1 + rho**2)
    spread = sim.lloyd_mirror_gain(fine, 500.0, zs, zr, source_depth_spread_m=3.0)
    assert spread.min() > 1.5 and spread.max() < 2.5
    assert sim.lloyd_mirror_gain(5.0, x, zs, zr, source_depth_spread_m=3.0) == pytest.approx(low[0], rel=0.1)


def test_received_level_falls_with_range_as_spreading_and_absorption() -> None:
    ship, base = _ship_and_pass("Cargo", 3, t_cpa_s=DURATION / 2, wind_m_s=5.0, speed_kn=8.0)
    levels = {}
    for cpa in (300.0, 1200.0):
        p = replace(base, cpa_m=cpa)
        x = sim.simulate_recording(
            ship, p, duration_s=DURATION, sample_rate=FS, rng=np.random.default_rng(7), ambient=False, biological=False
        )
        levels[cpa] = _band_power_db(x, 1500.0, 3500.0)
        # absolute level: source band power minus the transmission loss at the CPA
        f = np.linspace(1500.0, 3500.0, 4001)
        tl = sim.transmission_loss_db(
            f, cpa, p.propeller_depth_m, p.receiver_depth_m, wave_rms_m=sim.wave_rms_height_m(5.0),
            source_depth_spread_m=p.source_depth_spread_m,
        )  # fmt: skip
        src = 10 ** (sim.ship_source_psd_db(f, p) / 10)
        assert levels[cpa] == pytest.approx(10 * np.log10(np.trapezoid(src * 10 ** (-tl / 10), f)), abs=0.5)
    slant = [math.hypot(cpa, base.receiver_depth_m - base.propeller_depth_m) for cpa in (300.0, 1200.0)]
    absorption = sim.thorp_absorption_db_per_km(2500.0) * (slant[1] - slant[0]) / 1e3
    expected = 20 * math.log10(slant[1] / slant[0]) + absorption
    assert levels[300.0] - levels[1200.0] == pytest.approx(expected, abs=0.7)  # ~11.4 dB


# --- source physics ----------------------------------------------------------------------------------------------


def _demon(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DEMON: the spectrum of the envelope (|analytic signal|) of the 1.5-3.5 kHz band, over 1.5-40 Hz."""
    sos = scipy.signal.butter(6, [1500.0, 3500.0], btype="band", fs=FS, output="sos")
    envelope = np.abs(scipy.signal.hilbert(scipy.signal.sosfiltfilt(sos, x)))
    envelope -= envelope.mean()
    spectrum = np.abs(np.fft.rfft(envelope * np.hanning(len(envelope))))
    f = np.fft.rfftfreq(len(envelope), 1 / FS)
    band = (f > 1.5) & (f < 40.0)
    return f[band], spectrum[band]


def _prominence_at(f: np.ndarray, spectrum: np.ndarray, target: float) -> float:
    near = np.abs(f - target) <= 2 * (f[1] - f[0])
    return float(spectrum[near].max() / np.median(spectrum))


@pytest.mark.parametrize("ship_class", sim.DEEPSHIP_CLASSES)
def test_demon_envelope_peaks_at_blade_rate(ship_class: str) -> None:
    ship, p = _ship_and_pass(ship_class, 1, cpa_m=400.0, t_cpa_s=DURATION / 2, wind_m_s=3.0)
    assert p.blade_modulation[0] >= 0.2  # drawn modulation depths are strong
    x = sim.simulate_recording(ship, p, duration_s=DURATION, sample_rate=FS, rng=np.random.default_rng(5))
    f, spectrum = _demon(x)
    assert abs(f[np.argmax(spectrum)] - p.blade_rate_hz) <= 2 * (f[1] - f[0])  # within two 0.25 Hz bins
    assert _prominence_at(f, spectrum, p.blade_rate_hz) > 10.0
    # without the modulation, no envelope line stands out at the blade rate
    flat = replace(p, blade_modulation=(0.0, 0.0, 0.0), shaft_modulation=0.0)
    y = sim.simulate_recording(ship, flat, duration_s=DURATION, sample_rate=FS, rng=np.random.default_rng(5))
    assert _prominence_at(*_demon(y), p.blade_rate_hz) < 5.0


def test_tonals_present_at_drawn_engine_frequencies() -> None:
    checked, fundamentals = 0, 0
    for ship_class in ("Cargo", "Passengership", "Tanker", "Tug"):
        ship, p = _ship_and_pass(ship_class, 2, cpa_m=300.0, t_cpa_s=DURATION / 2)
        x = sim.simulate_recording(
            ship, p, duration_s=DURATION, sample_rate=FS, rng=np.random.default_rng(2), biological=False
        )
        f, psd = scipy.signal.welch(x, FS, nperseg=N // 2)  # 0.5 Hz bins, 3 averaged Hann segments
        df = f[1]
        line_freqs = np.array([t.frequency_hz for t in p.tonals])
        for tonal in p.tonals:
            if tonal.frequency_hz < 20.0 or tonal.kind not in ("engine firing", "generator firing", "electrical"):
                continue
            tl = sim.transmission_loss_db(
                tonal.frequency_hz, p.cpa_m, p.propeller_depth_m, p.receiver_depth_m,
                wave_rms_m=sim.wave_rms_height_m(p.wind_m_s), source_depth_spread_m=p.source_depth_spread_m,
            )  # fmt: skip
            ambient = sim.wenz_ambient_psd(tonal.frequency_hz, p.wind_m_s, p.shipping_level)
            background = 10 * np.log10(10 ** ((sim.ship_source_psd_db(tonal.frequency_hz, p) - tl) / 10) + 10 ** (
                ambient / 10))  # fmt: skip
            predicted_snr = tonal.level_db - tl - (background + 10 * np.log10(1.5 * df))  # Hann ENBW
            if predicted_snr < 12.0:
                continue
            k = round(tonal.frequency_hz / df)
            neighbours = np.r_[psd[k - 20 : k - 4], psd[k + 5 : k + 21]]
            observed = 10 * np.log10(psd[k - 2 : k + 3].max() / np.median(neighbours))
            assert observed == pytest.approx(predicted_snr, abs=4.0), (ship_class, tonal)
            checked += 1
            fundamentals += tonal.kind == "engine firing" and abs(tonal.frequency_hz - p.firing_rate_hz) < 1e-6
        # control: frequencies away from every drawn line show no line
        rng = np.random.default_rng(0)
        probes = [c for c in rng.uniform(30.0, 1500.0, size=60) if np.min(np.abs(line_freqs - c)) > 6.0][:20]
        controls = []
        for c in probes:
            k = round(c / df)
            neighbours = np.r_[psd[k - 20 : k - 4], psd[k + 5 : k + 21]]
            controls.append(10 * np.log10(psd[k - 2 : k + 3].max() / np.median(neighbours)))
        assert np.median(controls) < 4.0 and max(controls) < 8.0
    assert checked >= 6 and fundamentals >= 2


def test_machinery_tonal_frequencies_follow_engine_type() -> None:
    rng = np.random.default_rng(4)
    seen = set()
    for ship_class in sim.DEEPSHIP_CLASSES:
        for _ in range(30):
            ship = sim.draw_ship(ship_class, rng)
            p = sim.draw_pass(ship, rng, duration_s=DURATION, sample_rate=16000)
            firing = [t.frequency_hz for t in p.tonals if t.kind == "engine firing"]
            electrical = [t.frequency_hz for t in p.tonals if t.kind == "electrical"]
            assert electrical[0] == pytest.approx(p.grid_hz) and p.grid_hz == pytest.approx(ship.grid_hz, rel=0.01)
            assert p.blade_rate_hz == pytest.approx(p.shaft_rpm / 60 * ship.blades)
            if ship.propulsion == "two-stroke direct":  # slow two-stroke: engine = shaft, cylinders firings per rev
                assert p.engine_rpm == p.shaft_rpm and firing[0] == pytest.approx(p.shaft_rpm / 60 * ship.cylinders)
            elif ship.propulsion == "four-stroke geared":  # each cylinder fires every other revolution
                assert firing[0] == pytest.approx(p.engine_rpm / 60 * ship.cylinders / 2)
                assert p.engine_rpm > 3 * p.shaft_rpm
            else:  # diesel-electric: no main-engine lines
                assert not firing and p.firing_rate_hz == 0.0
            seen.add(ship.propulsion)
    assert seen == {"two-stroke direct", "four-stroke geared", "diesel-electric"}


def test_source_level_rises_with_tip_speed_and_size() -> None:
    base = sim.cavitation_peak_level_db(30.0, 5.0, 4)
    assert base == pytest.approx(147.0)
    assert sim.cavitation_peak_level_db(60.0, 5.0, 4) - base == pytest.approx(60 * math.log10(2))
    assert sim.cavitation_peak_level_db(30.0, 10.0, 4) - base == pytest.approx(20 * math.log10(2))
    f = np.array([50.0, 200.0, 2000.0, 20000.0])
    spectrum = sim.cavitation_spectrum_db(f, 150.0, 200.0)
    assert spectrum[1] == pytest.approx(150.0)
    assert spectrum[0] == pytest.approx(150.0 + 10 * np.log10(2 * 0.25**2 / (1 + 0.25**4)))  # rising below
    assert spectrum[2] - spectrum[3] == pytest.approx(20.0, abs=0.01)  # -20 dB/decade above the peak
    # a fixed-pitch ship (shaft rate proportional to speed) is louder on faster days: ~ 60 log10(v)
    ship = sim.draw_ship("Cargo", np.random.default_rng(8))
    rng = np.random.default_rng(9)
    passes = [sim.draw_pass(ship, rng, duration_s=1.0, sample_rate=FS) for _ in range(80)]
    log_speed = np.log10([p.speed_kn for p in passes])
    levels = [p.cavitation_level_db - sim.CONDITIONS[p.condition]["cavitation_offset_db"] for p in passes]
    assert np.polyfit(log_speed, levels, 1)[0] == pytest.approx(60.0, abs=15.0)


# --- ambient -----------------------------------------------------------------------------------------------------


def test_wenz_ambient_levels() -> None:
    f = np.array([46.0, 1000.0, 2000.0, 8000.0])
    calm, windy = sim.wenz_ambient_psd(f, 2.0, 0.2), sim.wenz_ambient_psd(f, 10.0, 0.2)
    assert windy[1] - calm[1] == pytest.approx(19 * math.log10(5), abs=0.3)  # wind noise ~ 19 log10(U)
    assert 60.0 < windy[1] < 66.0  # Knudsen: sea state 4 (~10 m/s) is ~61.5-64 dB re 1 µPa²/Hz at 1 kHz
    assert (windy[2] - windy[3]) / math.log10(4) == pytest.approx(17.0, abs=1.0)  # -17 dB/decade
    heavy = sim.wenz_ambient_psd(f, 2.0, 1.0)
    assert heavy[0] - calm[0] > 10.0 and abs(heavy[3] - calm[3]) < 0.5  # shipping: a low-frequency hump


def test_ambient_only_spectrum_matches_wenz_and_rises_with_wind() -> None:
    band = []
    for wind in (3.0, 12.0):
        x = sim.synthesise_ambient(N, FS, wind_m_s=wind, shipping_level=0.5, rng=np.random.default_rng(1))
        f, psd = scipy.signal.welch(x, FS, nperseg=1024)
        sel = (f >= 1000) & (f <= 3000)
        measured = 10 * np.log10(np.mean(psd[sel]))
        model = 10 * np.log10(np.mean(10 ** (sim.wenz_ambient_psd(f[sel], wind, 0.5) / 10)))
        assert measured == pytest.approx(model, abs=0.5)
        band.append(measured)
    assert band[1] - band[0] == pytest.approx(19 * math.log10(4), abs=1.0)


def test_biological_transients() -> None:
    clicks = sim.synthesise_biological(
        N, FS, shrimp_rate_hz=10.0, shrimp_level_db=(110.0, 115.0), whistles=0, rng=np.random.default_rng(3)
    )
    peaks, _ = scipy.signal.find_peaks(np.abs(clicks), height=10 ** (105 / 20), distance=8)
    assert 20 <= len(peaks) <= 65  # Poisson, mean 40 clicks in 4 s
    assert np.abs(clicks).max() < 10 ** (116 / 20)
    whistle = sim.synthesise_biological(
        N, FS, shrimp_rate_hz=0.0, shrimp_level_db=(0.0, 0.0), whistles=1, rng=np.random.default_rng(3)
    )
    active = np.abs(whistle) > 0
    assert 0.3 * FS <= active.sum() <= 1.5 * FS  # one 0.3-1.5 s chirp
    f, psd = scipy.signal.welch(whistle, FS, nperseg=1024)
    assert f[np.argmax(psd)] > 1000.0


# --- classes and scaling -----------------------------------------------------------------------------------------


def test_classes_differ_in_parameter_distributions() -> None:
    rng = np.random.default_rng(0)
    ships = {c: [sim.draw_ship(c, rng) for _ in range(150)] for c in sim.DEEPSHIP_CLASSES}

    def values(c: str, name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in ships[c]], dtype=float)

    assert values("Tug", "length_m").max() <= 35 and values("Cargo", "length_m").min() >= 150
    assert np.median(values("Cargo", "length_m")) > np.median(values("Tanker", "length_m"))
    shaft = {c: np.median(values(c, "design_shaft_rpm")) for c in sim.DEEPSHIP_CLASSES}
    assert shaft["Tug"] > shaft["Passengership"] > shaft["Cargo"] > shaft["Tanker"]
    assert set(values("Tug", "blades")) <= {3, 4} and set(values("Cargo", "blades")) <= {4, 5, 6}
    speed = {c: np.median(values(c, "typical_speed_kn")) for c in sim.DEEPSHIP_CLASSES}
    assert speed["Passengership"] > speed["Cargo"] > speed["Tanker"]
    for c, ais in AIS_RANGES.items():
        assert set(values(c, "ais_code")) <= set(ais)
    # within-class diversity: two subtypes per class, drawn in proportions near the table's weights
    for c in sim.DEEPSHIP_CLASSES:
        subtypes = [s.subtype for s in ships[c]]
        for name, spec in sim.SHIP_CLASSES[c]["subtypes"].items():
            assert subtypes.count(name) / len(subtypes) == pytest.approx(spec["weight"], abs=0.15)
    assert {s.propulsion for s in ships["Passengership"]} == {"four-stroke geared", "diesel-electric"}
    # per-pass conditions: ballast tankers ride with a shallower propeller, towing tugs are slow but loud
    tanker = next(s for s in ships["Tanker"])
    tanker_passes = [sim.draw_pass(tanker, rng, duration_s=1.0, sample_rate=FS) for _ in range(60)]
    depth = {c: np.mean([p.propeller_depth_m for p in tanker_passes if p.condition == c]) for c in ("laden", "ballast")}
    assert depth["ballast"] < 0.7 * depth["laden"]
    tug = next(s for s in ships["Tug"] if "towing" in s.conditions and "free" in s.conditions)
    tug_passes = [sim.draw_pass(tug, rng, duration_s=1.0, sample_rate=FS) for _ in range(80)]
    by = {c: [p for p in tug_passes if p.condition == c] for c in ("free", "towing")}
    assert np.mean([p.speed_kn for p in by["towing"]]) < np.mean([p.speed_kn for p in by["free"]]) - 1.5
    assert np.mean([p.cavitation_level_db for p in by["towing"]]) > np.mean([p.cavitation_level_db for p in by["free"]])


def test_loudest_ship_at_closest_range_does_not_clip() -> None:
    rng = np.random.default_rng(1)
    candidates = []
    for _ in range(60):
        ship = sim.draw_ship("Cargo", rng)
        candidates.append((ship, sim.draw_pass(ship, rng, duration_s=1.0, sample_rate=16000)))
    ship, p = max(candidates, key=lambda sp: sp[1].cavitation_level_db)
    p = replace(p, cpa_m=200.0, t_cpa_s=0.5, wind_m_s=20.0, shrimp_rate_hz=20.0, shrimp_level_db=(120.0, 125.0))
    x = sim.simulate_recording(ship, p, duration_s=1.0, sample_rate=16000, rng=np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples = sim.to_full_scale(x)
    assert samples.dtype == np.float32 and np.abs(samples).max() < 0.6
    assert math.isclose(sim.FULL_SCALE_DB, -(sim.HYDROPHONE_SENSITIVITY_DB + sim.PREAMP_GAIN_DB))
    with pytest.warns(sim.AudioNotice, match="loud.wav"):
        clipped = sim.to_full_scale(np.array([0.0, 2 * sim.FULL_SCALE_UPA]), name="loud.wav")
    assert clipped.max() < 1.0


# --- parameters --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"duration_s": 0.0}, "duration_s"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"duration_s": float("nan")}, "duration_s"),
        ({"classes": ("Cargo", "Trawler")}, "classes"),
        ({"classes": "Cargo"}, "classes"),
        ({"classes": ()}, "classes"),
        ({"classes": ("Tug", "Tug")}, "classes"),
        ({"sample_rate": 3000}, "sample_rate"),
        ({"sample_rate": 8000.5}, "sample_rate"),
        ({"ships_per_class": 0}, "ships_per_class"),
        ({"recordings_per_ship": 0}, "recordings_per_ship"),
        ({"seed": -1}, "seed"),
        ({"subtype": "MPEG_LAYER_III"}, "subtype"),
    ],
)
def test_bad_parameters_raise_config_error(tmp_path: Path, kwargs: dict, parameter: str) -> None:
    with pytest.raises(ConfigError, match=parameter):
        sim.simulate_deepship(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_unknown_class_lists_known_ones_and_existing_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Passengership") as info:
        sim.simulate_deepship(tmp_path, classes=("Fishing",))
    assert "Fishing" in str(info.value)
    with pytest.raises(ConfigError, match="ship_class"):
        sim.draw_ship("Fishing", np.random.default_rng(0))
    sim.simulate_deepship(tmp_path, classes=("Tug",), ships_per_class=1, recordings_per_ship=1, duration_s=0.5,
                          sample_rate=FS)  # fmt: skip
    with pytest.raises(ConfigError, match="folder"):
        sim.simulate_deepship(tmp_path, classes=("Tug",), ships_per_class=1, recordings_per_ship=1, duration_s=0.5)
