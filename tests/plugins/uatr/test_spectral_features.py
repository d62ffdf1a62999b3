"""Spectrogram front-ends: shapes, where a tone's energy lands, levels, the Bark scale and filterbank, config errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

import sciconv_uatr.spectral_features as sfm
from sciconv.errors import ConfigError, DataError
from sciconv_uatr.spectral_features import (
    FEATURE_KINDS,
    FeatureConfig,
    band_frequencies,
    bark_band_edges,
    bark_filterbank,
    bark_to_hz,
    feature_shape,
    hz_to_bark,
    spectrogram,
)

SR = 16000
DEEPSHIP = Path("/work/shared/data/deepship-sample")


def _tone(freq: float, n_samples: int, amplitude: float = 1.0, sr: int = SR) -> np.ndarray:
    t = np.arange(n_samples) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# -- shapes -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("n_samples", [16000, 24037])
def test_shape_matches_feature_shape(kind: str, n_samples: int) -> None:
    config = FeatureConfig(kind=kind, fmin=40.0 if kind == "cqt" else 10.0)
    x = np.random.default_rng(0).standard_normal((3, n_samples)).astype(np.float32)
    out = spectrogram(x, config)
    assert out.dtype == np.float32
    assert out.shape == (3, *feature_shape(config, n_samples))
    assert out.shape[2] == 1 + n_samples // 512
    assert out.shape[1] == len(band_frequencies(config))
    assert np.all(np.isfinite(out))


def test_default_sizes_stated_in_docstring() -> None:
    assert feature_shape(FeatureConfig(kind="stft"), 48000) == (512, 94)  # 1024-point FFT, 15.6 Hz .. 8 kHz
    for kind in ("mel", "bark", "cqt"):
        assert feature_shape(FeatureConfig(kind=kind), 48000) == (64, 94)
    cqt = band_frequencies(FeatureConfig(kind="cqt"))
    assert cqt[0] == pytest.approx(10.0) and cqt[-1] == pytest.approx(10.0 * 2 ** (63 / 12))
    # frame 50 ms at 16 kHz: the STFT's FFT is rounded up to 1024 points, the Mel FFT is not
    assert FeatureConfig(kind="stft", frame_s=0.05).n_fft == 1024
    assert FeatureConfig(kind="mel", frame_s=0.05).n_fft == 800


def test_stft_keeps_bins_between_fmin_and_fmax() -> None:
    config = FeatureConfig(kind="stft", fmin=100.0, fmax=1000.0)
    freqs = band_frequencies(config)
    assert freqs[0] >= 100.0 and freqs[-1] <= 1000.0
    assert freqs[0] - 100.0 < SR / 1024 and 1000.0 - freqs[-1] < SR / 1024
    out = spectrogram(np.zeros((1, 4000), np.float32), config)
    assert out.shape[1] == len(freqs) == feature_shape(config, 4000)[0]


def test_batch_is_chunked_consistently(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(1).standard_normal((5, 4000)).astype(np.float32)
    whole = spectrogram(x, FeatureConfig(kind="bark"))
    monkeypatch.setattr(sfm, "_CHUNK", 2)
    chunked = spectrogram(x, FeatureConfig(kind="bark"))
    one_by_one = np.concatenate([spectrogram(x[i : i + 1], FeatureConfig(kind="bark")) for i in range(5)])
    np.testing.assert_allclose(chunked, whole, atol=1e-4)
    np.testing.assert_allclose(one_by_one, whole, atol=1e-4)


# -- where a tone lands -----------------------------------------------------------------------------------------------
def _scale(kind: str, f: np.ndarray) -> np.ndarray:
    if kind == "mel":
        return librosa.hz_to_mel(f)
    if kind == "bark":
        return np.asarray(hz_to_bark(f))
    if kind == "cqt":
        return np.log2(f)
    return np.asarray(f, dtype=np.float64)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_tone_energy_lands_in_its_band(kind: str) -> None:
    config = FeatureConfig(kind=kind)
    centres = band_frequencies(config)
    z = _scale(kind, centres)
    step = np.diff(z)
    # bands spread over the range; tones at a centre and 0.3 of a band spacing above it (on the band's own scale)
    picks = [5, 20, 37, 50] if kind == "cqt" else [4, 20, len(centres) // 2, len(centres) - 6]
    tones, expected = [], []
    for k in picks:
        for offset in (0.0, 0.3):
            target = z[k] + offset * step[k]
            f = np.interp(target, z, centres)  # back to Hz, monotone interpolation between centres
            tones.append(_tone(f, 32000))
            expected.append(k)
    out = spectrogram(np.stack(tones), config)
    loudest = out[:, :, 3:-3].mean(axis=2).argmax(axis=1)
    np.testing.assert_array_equal(loudest, expected)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_levels_are_calibrated_and_linear(kind: str) -> None:
    config = FeatureConfig(kind=kind)
    centres = band_frequencies(config)
    k = 40 if kind == "cqt" else len(centres) // 3
    x = np.stack([_tone(centres[k], 32000, 1.0), _tone(centres[k], 32000, 0.1)])
    peak = spectrogram(x, config)[:, k, 5:-5].mean(axis=1)
    # a unit tone centred on a bin gives A**2 / 4 (-6 dB); Mel / Bark bands sum the Hann main lobe (about +1 dB)
    expected = -6.02 if kind in ("stft", "cqt") else -4.9
    assert peak[0] == pytest.approx(expected, abs=0.6)
    assert peak[0] - peak[1] == pytest.approx(20.0, abs=0.05)


def test_mel_is_librosa_melspectrogram_rescaled() -> None:
    config = FeatureConfig(kind="mel", n_bands=40, fmin=20.0, fmax=7000.0)
    x = np.random.default_rng(2).standard_normal((2, 8000)).astype(np.float32)
    ref = librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=1024, hop_length=512, n_mels=40, fmin=20.0, fmax=7000.0, norm=None, pad_mode="constant"
    )
    window_sum = librosa.filters.get_window("hann", 1024, fftbins=True).sum()
    np.testing.assert_allclose(spectrogram(x, config), 10 * np.log10(ref / window_sum**2 + 1e-10), atol=1e-3)


def test_silence_is_the_floor() -> None:
    out = spectrogram(np.zeros((1, 8000), np.float32), FeatureConfig(kind="stft"))
    np.testing.assert_allclose(out, -100.0, atol=1e-3)


def test_cqt_warns_when_segment_shorter_than_lowest_filter() -> None:
    with pytest.warns(UserWarning, match="lowest CQT bin"):
        out = spectrogram(np.zeros((1, 8000), np.float32), FeatureConfig(kind="cqt"))
    assert out.shape == (1, 64, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spectrogram(np.zeros((1, 8000), np.float32), FeatureConfig(kind="cqt", fmin=80.0))


# -- Bark scale and filterbank ----------------------------------------------------------------------------------------
def test_bark_conversions_invert_and_match_traunmuller() -> None:
    f = np.concatenate([[0.0, 10.0, 1000.0], np.random.default_rng(3).uniform(0, 24000, 200)])
    np.testing.assert_allclose(bark_to_hz(hz_to_bark(f)), f, atol=1e-6)
    z = np.linspace(-0.5, 24.0, 50)
    np.testing.assert_allclose(hz_to_bark(bark_to_hz(z)), z, atol=1e-9)
    assert hz_to_bark(1000.0) == pytest.approx(26.81 * 1000 / 2960 - 0.53)
    assert isinstance(hz_to_bark(500.0), float) and isinstance(bark_to_hz(5.0), float)
    assert np.all(np.diff(hz_to_bark(np.linspace(0, 8000, 100))) > 0)


def test_bark_filterbank_centres_equally_spaced_and_cover_range() -> None:
    n_fft, n_bands, fmin, fmax = 2048, 24, 50.0, 6000.0
    bank = bark_filterbank(SR, n_fft, n_bands, fmin, fmax)
    assert bank.shape == (n_bands, n_fft // 2 + 1) and bank.dtype == np.float32
    edges = bark_band_edges(n_bands, fmin, fmax)
    assert edges[0] == pytest.approx(fmin) and edges[-1] == pytest.approx(fmax)
    z = np.asarray(hz_to_bark(edges))
    np.testing.assert_allclose(np.diff(z), np.diff(z)[0], rtol=1e-9)
    centres = edges[1:-1]
    assert np.all((centres > fmin) & (centres < fmax))

    freqs = librosa.fft_frequencies(sr=SR, n_fft=n_fft)
    # each filter peaks at the FFT bin nearest its centre (on the Bark axis) and is 0 outside its neighbours' centres
    nearest = np.abs(np.asarray(hz_to_bark(freqs))[None, :] - z[1:-1, None]).argmin(axis=1)
    np.testing.assert_array_equal(bank.argmax(axis=1), nearest)
    for k in range(n_bands):
        outside = (freqs <= edges[k]) | (freqs >= edges[k + 2])
        assert np.all(bank[k, outside] == 0)
    # nothing outside fmin..fmax; between the first and last centres the weights sum to 1
    total = bank.sum(axis=0)
    assert np.all(total[(freqs <= fmin) | (freqs >= fmax)] == 0)
    inner = (freqs >= centres[0]) & (freqs <= centres[-1])
    np.testing.assert_allclose(total[inner], 1.0, atol=1e-5)
    # the rising flank of the first filter starts at fmin, the falling flank of the last ends at fmax
    assert np.all(bank[0, (freqs > fmin) & (freqs < centres[0])] > 0)
    assert np.all(bank[-1, (freqs > centres[-1]) & (freqs < fmax)] > 0)


# -- configuration ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "mfcc"}, "kind"),
        ({"kind": 3}, "kind"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": 16000.5}, "sample_rate"),
        ({"frame_s": 0.0}, "frame_s"),
        ({"hop_s": -0.01}, "hop_s"),
        ({"hop_s": float("nan")}, "hop_s"),
        ({"n_bands": 0}, "n_bands"),
        ({"fmin": -5.0}, "fmin"),
        ({"fmin": 9000.0}, "fmin"),
        ({"fmax": 9000.0}, "fmax"),
        ({"fmin": 500.0, "fmax": 400.0}, "fmin"),
        ({"kind": "cqt", "fmin": 0.0}, "fmin"),
        ({"kind": "cqt", "n_bands": 120}, "n_bands"),
        ({"kind": "cqt", "fmax": 300.0}, "n_bands"),
        ({"kind": "cqt", "bins_per_octave": 0}, "bins_per_octave"),
        ({"kind": "bark", "n_bands": 400}, "n_bands"),
        ({"kind": "mel", "n_bands": 400}, "n_bands"),
        ({"kind": "stft", "fmin": 1.0, "fmax": 2.0}, "fmin"),
    ],
)
def test_bad_config_raises_config_error_naming_field(params: dict, field: str) -> None:
    config = FeatureConfig(**params)
    with pytest.raises(ConfigError, match=rf"\b{field}\b"):
        config.validate()
    with pytest.raises(ConfigError):
        spectrogram(np.zeros((1, 4000), np.float32), config)


def test_unknown_kind_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'mel'"):
        FeatureConfig(kind="mell").validate()


def test_as_dict_round_trip() -> None:
    config = FeatureConfig(kind="cqt", sample_rate=32000, n_bands=48, fmin=20.0, fmax=np.float64(4000.0))
    params = config.as_dict()
    assert json.loads(json.dumps(params)) == params
    assert FeatureConfig.from_dict(params) == config
    assert FeatureConfig.from_dict({}) == FeatureConfig()
    with pytest.raises(ConfigError, match="n_band"):
        FeatureConfig.from_dict({"n_band": 32})


def test_bad_segments_raise_data_error() -> None:
    config = FeatureConfig()
    with pytest.raises(DataError, match="shape"):
        spectrogram(np.zeros(4000, np.float32), config)
    with pytest.raises(DataError, match="NaN"):
        spectrogram(np.full((1, 4000), np.nan, np.float32), config)
    with pytest.raises(DataError, match="shorter than one 1024-sample"):
        spectrogram(np.zeros((1, 1000), np.float32), config)
    with pytest.raises(ConfigError, match="segment_samples"):
        feature_shape(config, 1000)


@pytest.mark.skipif(not DEEPSHIP.is_dir(), reason="DeepShip sample not available")
def test_real_deepship_segment() -> None:
    audio, rate = sf.read(DEEPSHIP / "Tanker" / "19.wav", dtype="float32", frames=3 * 32000)
    segments = audio[: 3 * rate].reshape(2, -1)  # two 1.5 s segments at the file's own 32 kHz
    for kind in FEATURE_KINDS:
        config = FeatureConfig(kind=kind, sample_rate=rate, fmin=20.0)
        out = spectrogram(segments, config)
        assert out.shape == (2, *feature_shape(config, segments.shape[1]))
        assert np.all(np.isfinite(out)) and out.max() > -80.0
