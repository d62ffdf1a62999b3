"""The DNN's and FBCCA's sub-band filter banks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sciconv_bci_ssvep.filterbank import (
    FBCCA_PASS_LOW,
    FBCCA_STOP_LOW,
    fbcca_band_filter,
    fbcca_subbands,
    guney_band_filter,
    guney_subbands,
    subband_weights,
)

SFREQ = 250.0


def _response_db(sos: np.ndarray, freqs: np.ndarray | list[float], sfreq: float = SFREQ) -> np.ndarray:
    b, a = signal.sos2tf(sos)
    _, h = signal.freqz(b, a, worN=np.asarray(freqs, dtype=float), fs=sfreq)
    return 20 * np.log10(np.abs(h))


def _sine(freq: float, seconds: float = 4.0, phase: float = 0.3, sfreq: float = SFREQ) -> np.ndarray:
    t = np.arange(int(seconds * sfreq)) / sfreq
    return np.sin(2 * np.pi * freq * t + phase)


def _amplitude_ratio(y: np.ndarray, x: np.ndarray) -> float:
    """RMS ratio over the central half (away from the window edges)."""
    n = x.shape[-1]
    core = slice(n // 4, 3 * n // 4)
    return float(np.sqrt(np.mean(y[..., core] ** 2) / np.mean(x[..., core] ** 2)))


def _matlab_filtfilt(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Transcription of MATLAB filtfilt's algorithm for one channel: odd reflection of nfact = 3 (nfilt - 1)
    samples at each end, steady-state initial conditions scaled by the first sample, forward then backward."""
    nfact = 3 * (max(len(a), len(b)) - 1)
    zi = signal.lfilter_zi(b, a)
    ext = np.concatenate([2 * x[0] - x[nfact:0:-1], x, 2 * x[-1] - x[-2 : -nfact - 2 : -1]])
    y, _ = signal.lfilter(b, a, ext, zi=zi * ext[0])
    y = y[::-1]
    y, _ = signal.lfilter(b, a, y, zi=zi * y[0])
    return y[::-1][nfact:-nfact]


# -- the DNN bank -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("band", [1, 2, 3])
def test_guney_band_design(band: int) -> None:
    sos = guney_band_filter(SFREQ, band)
    assert sos.shape == (1, 6)  # designfilt's FilterOrder 2 for a bandpass: one biquad
    low = 8.0 * band
    passband = _response_db(sos, np.linspace(low, 90.0, 300))
    assert passband.max() <= 1e-9 and passband.min() >= -1.0 - 1e-9  # <= 1 dB ripple
    assert passband[0] == pytest.approx(-1.0, abs=1e-6) and passband[-1] == pytest.approx(-1.0, abs=1e-6)
    below = _response_db(sos, [0.1, low / 8, low / 4, low / 2])
    assert below[0] < -30 and below[1] < -12 and below[2] < -7 and below[3] < -3
    assert np.all(np.diff(below) > 0)  # roll-off towards DC
    above = _response_db(sos, [110.0, 120.0, 124.0])
    assert above[0] < -4 and above[1] < -12 and above[2] < -25


@pytest.mark.parametrize("band", [1, 2, 3])
def test_guney_band_filters_sinusoids(band: int) -> None:
    low = 8.0 * band
    below = _sine(low / 8)
    inside = _sine(40.0)
    out = guney_subbands(np.stack([below, inside])[None], SFREQ, n_subbands=3, dtype=np.float64)[0, band - 1]
    assert _amplitude_ratio(out[0], below) < 0.1  # about -26 dB after the forward-backward pass
    assert 0.79 < _amplitude_ratio(out[1], inside) <= 1.0 + 1e-6  # within the 2 dB of two 1 dB ripples


def test_guney_matches_matlab_design_and_filtfilt() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 100)) * 20.0  # one 0.4 s window
    out = guney_subbands(x, SFREQ, dtype=np.float64)
    for r in (1, 2, 3):
        b, a = signal.cheby1(1, 1.0, [8.0 * r, 90.0], btype="bandpass", fs=SFREQ)
        b_ours, a_ours = signal.sos2tf(guney_band_filter(SFREQ, r))
        np.testing.assert_allclose(b_ours, b, atol=1e-12)
        np.testing.assert_allclose(a_ours, a, atol=1e-12)
        expected = np.stack([_matlab_filtfilt(b, a, ch) for ch in x])
        np.testing.assert_allclose(out[r - 1], expected, atol=1e-9)
        # SciPy's default padding (3 (order + 1) samples) would differ at the edges
        assert not np.allclose(signal.filtfilt(b, a, x), expected, atol=1e-6)


# -- the FBCCA bank -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("band", [1, 2, 3, 4, 5])
def test_fbcca_band_design(band: int) -> None:
    sos = fbcca_band_filter(SFREQ, band)
    low_pass, low_stop = FBCCA_PASS_LOW[band - 1], FBCCA_STOP_LOW[band - 1]
    assert low_pass == 8 * band - 2
    passband = _response_db(sos, np.linspace(low_pass, 90.0, 400))
    assert passband.max() <= 1e-9 and passband.min() >= -0.5 - 1e-9  # cheby1 with 0.5 dB ripple
    # The published design (cheb1ord with 3 dB, cheby1 with 0.5 dB) gives > 33 dB at the stop-band edges
    stop = _response_db(sos, [0.1, low_stop, 100.0, 124.0])
    assert stop[0] < -150 and stop[1] < -33 and stop[2] < -33 and stop[3] < -150


@pytest.mark.parametrize("band", [1, 2, 3, 4, 5])
def test_fbcca_band_filters_sinusoids(band: int) -> None:
    below = _sine(FBCCA_STOP_LOW[band - 1])
    inside = _sine(60.0)
    out = fbcca_subbands(np.stack([below, inside]), SFREQ, n_subbands=5, dtype=np.float64)[band - 1]
    assert _amplitude_ratio(out[0], below) < 1e-2
    assert 0.89 < _amplitude_ratio(out[1], inside) <= 1.0 + 1e-6


def test_fbcca_matches_nakanishi_design_and_matlab_filtfilt() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 125)) * 20.0
    out = fbcca_subbands(x, SFREQ, n_subbands=5, dtype=np.float64)
    for m in range(1, 6):
        order, wn = signal.cheb1ord([8.0 * m - 2, 90.0], [FBCCA_STOP_LOW[m - 1], 100.0], 3, 40, fs=SFREQ)
        b, a = signal.cheby1(order, 0.5, wn, btype="bandpass", fs=SFREQ)
        expected = np.stack([_matlab_filtfilt(b, a, ch) for ch in x])
        np.testing.assert_allclose(out[m - 1], expected, atol=1e-6 * np.abs(expected).max())


# -- both banks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bank", [guney_subbands, fbcca_subbands])
def test_zero_phase(bank) -> None:
    freq, phase = 40.0, 0.7
    x = _sine(freq, seconds=2.0, phase=phase)
    out = bank(x[None], SFREQ, dtype=np.float64)[:, 0]  # (n_subbands, n_times)
    n = x.size
    core = slice(n // 4, 3 * n // 4)
    t = np.arange(n)[core] / SFREQ
    for y in out:
        lags = np.arange(-3, 4)
        xcorr = [np.dot(x[core], np.roll(y, -lag)[core]) for lag in lags]
        assert lags[int(np.argmax(xcorr))] == 0
        fitted = np.angle(np.sum(y[core] * np.exp(-1j * 2 * np.pi * freq * t)))
        reference = np.angle(np.sum(x[core] * np.exp(-1j * 2 * np.pi * freq * t)))
        assert abs(np.angle(np.exp(1j * (fitted - reference)))) < 1e-3


def test_shapes_and_dtypes() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9, 100))
    before = x.copy()
    g = guney_subbands(x, SFREQ)
    f = fbcca_subbands(x, SFREQ)
    assert g.shape == (2, 4, 3, 9, 100) and g.dtype == np.float32
    assert f.shape == (2, 4, 5, 9, 100) and f.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    # the leading axes are independent windows: filtering one alone gives the same result
    np.testing.assert_allclose(guney_subbands(x[1, 2], SFREQ), g[1, 2], rtol=1e-6, atol=1e-6)
    assert guney_subbands(x[0, 0], SFREQ, n_subbands=2).shape == (2, 9, 100)
    assert fbcca_subbands(x[0, 0], SFREQ, n_subbands=1, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="n_channels, n_times"):
        guney_subbands(x[0, 0, 0], SFREQ)


def test_designs_are_cached_and_read_only() -> None:
    assert guney_band_filter(250.0, 2) is guney_band_filter(250, 2)
    assert fbcca_band_filter(250.0, 3) is fbcca_band_filter(250, 3)
    with pytest.raises(ValueError):
        guney_band_filter(250.0, 1)[0, 0] = 0.0


def test_sampling_rate_too_low() -> None:
    x = np.zeros((9, 100))
    with pytest.raises(ValueError, match=r"sub-band 1 .*sfreq=200"):
        fbcca_subbands(x, 200.0)
    with pytest.raises(ValueError, match=r"sub-band 1 .*sfreq=160"):
        guney_subbands(x, 160.0)
    # 256 Hz (the exoskeleton recordings) is fine for both
    assert fbcca_subbands(x, 256.0).shape == (5, 9, 100)
    assert guney_subbands(x, 256.0).shape == (3, 9, 100)


def test_bad_arguments() -> None:
    x = np.zeros((9, 100))
    with pytest.raises(ValueError, match=r"1\.\.10"):
        fbcca_subbands(x, SFREQ, n_subbands=11)
    with pytest.raises(ValueError, match="windows longer than 36 samples"):
        fbcca_subbands(np.zeros((9, 30)), SFREQ)
    with pytest.raises(ValueError, match="sfreq"):
        guney_subbands(x, -250.0)
    with pytest.raises(ValueError, match="lower edge"):
        guney_subbands(x, SFREQ, n_subbands=12)


def test_subband_weights() -> None:
    w = subband_weights(5)
    np.testing.assert_allclose(w, np.arange(1, 6) ** -1.25 + 0.25)
    assert w[0] == pytest.approx(1.25) and np.all(np.diff(w) < 0)
    np.testing.assert_allclose(subband_weights(3, a=0.0, b=0.0), np.ones(3))
    with pytest.raises(ValueError):
        subband_weights(0)
