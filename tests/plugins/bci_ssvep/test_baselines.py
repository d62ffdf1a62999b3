"""FBCCA and (ensemble) TRCA on synthetic multichannel SSVEP trials built here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
from scipy import signal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sciconv_bci_ssvep.baselines import FBCCA, TRCA
from sciconv_bci_ssvep.filterbank import fbcca_subbands, subband_weights
from sciconv_bci_ssvep.recording import benchmark_stimuli

SFREQ = 250.0
FREQS, PHASES = benchmark_stimuli()


def coloured_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """AR(1) (coefficient 0.8, low-pass) noise of about unit variance, ``shape = (..., n_channels, n_times)``:
    half independent per channel, half from as many sources mixed across channels (spatially correlated, but
    with no noise-free spatial direction for a spatial filter to find)."""
    n_channels = shape[-2]

    def ar1(size: tuple[int, ...]) -> np.ndarray:
        out = signal.lfilter([1.0], [1.0, -0.8], rng.standard_normal(size), axis=-1)
        return out / out.std()

    mixing = rng.standard_normal((n_channels, n_channels)) / np.sqrt(n_channels)
    shared = np.einsum("cd,...dt->...ct", mixing, ar1(shape))
    return (ar1(shape) + shared) / np.sqrt(2.0)


def make_trials(
    rng: np.random.Generator,
    freqs: np.ndarray,
    phases: np.ndarray,
    n_blocks: int,
    seconds: float,
    noise: float = 0.0,
    waveform: str = "sinusoid",
    subject: int = 0,
    n_channels: int = 9,
    sfreq: float = SFREQ,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_blocks`` trials of every target: ``(n_blocks * n_targets, n_channels, n_times)`` µV and labels.

    ``"sinusoid"``: harmonics 1..5 of the target frequency with amplitude 1/h and phase h * phi, each with its
    own random spatial pattern. ``"subject"``: a subject-specific periodic, non-sinusoidal waveform (8
    harmonics with random amplitudes and latencies, fixed by ``subject``) -- what TRCA's templates can learn
    and sine-cosine references cannot. ``noise`` scales strong coloured noise."""
    subject_rng = np.random.default_rng(1000 + subject)
    if waveform == "sinusoid":
        harmonics = np.arange(1, 6)
        amps, lags = 1.0 / harmonics, np.zeros(harmonics.size)
    else:
        harmonics = np.arange(1, 9)
        amps = subject_rng.uniform(0.3, 1.0, harmonics.size) / np.sqrt(harmonics)
        lags = subject_rng.uniform(0.0, 2 * np.pi, harmonics.size)
    patterns = subject_rng.standard_normal((harmonics.size, n_channels))
    t = np.arange(round(seconds * sfreq)) / sfreq
    h = harmonics[None, :, None]
    waves = amps[None, :, None] * np.sin(
        2 * np.pi * h * freqs[:, None, None] * t + h * phases[:, None, None] + lags[None, :, None]
    )  # (n_targets, n_harmonics, n_times)
    clean = np.einsum("hc,kht->kct", patterns, waves)
    X = np.tile(clean, (n_blocks, 1, 1))
    y = np.tile(np.arange(freqs.size), n_blocks)
    if noise:
        X = X + noise * coloured_noise(rng, X.shape)
    return X, y


def accuracy(model, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X) == y))


# -- FBCCA --------------------------------------------------------------------------------------------------


def test_fbcca_clean_is_perfect_and_degrades_with_noise() -> None:
    rng = np.random.default_rng(0)
    model = FBCCA(SFREQ, FREQS, PHASES)
    X, y = make_trials(rng, FREQS, PHASES, 1, 0.5)
    model.fit(X, y)
    assert accuracy(model, X, y) == 1.0
    accs = []
    for noise in (1.0, 3.0, 8.0):
        Xn, yn = make_trials(rng, FREQS, PHASES, 2, 0.5, noise=noise)
        accs.append(accuracy(model, Xn, yn))
    assert accs[0] > accs[1] > accs[2]
    assert accs[0] >= 0.9 and accs[2] < 0.3


def test_fbcca_scores_are_weighted_squared_canonical_correlations() -> None:
    rng = np.random.default_rng(1)
    freqs, phases = FREQS[:3], PHASES[:3]
    X, y = make_trials(rng, freqs, phases, 1, 0.6, noise=1.0)
    model = FBCCA(SFREQ, freqs, phases, n_harmonics=3, n_subbands=4).fit(X, y)
    scores = model.decision_function(X)
    sub = fbcca_subbands(X, SFREQ, n_subbands=4, dtype=np.float64)
    t = np.arange(X.shape[-1]) / SFREQ
    weights = subband_weights(4)
    for i, k in itertools.product(range(X.shape[0]), range(freqs.size)):
        ref = np.concatenate([np.sin(2 * np.pi * h * freqs[k] * t)[:, None] for h in (1, 2, 3)], axis=1)
        ref = np.concatenate([ref, np.cos(2 * np.pi * np.outer(t, [freqs[k], 2 * freqs[k], 3 * freqs[k]]))], axis=1)
        expected = 0.0
        for m in range(4):
            # textbook CCA: rho^2 is the top eigenvalue of Cxx^-1 Cxy Cyy^-1 Cyx
            z = np.concatenate([sub[i, m].T, ref], axis=1)
            c = np.cov(z, rowvar=False)
            nx = X.shape[1]
            cxx, cyy, cxy = c[:nx, :nx], c[nx:, nx:], c[:nx, nx:]
            rho2 = np.max(np.linalg.eigvals(np.linalg.solve(cxx, cxy) @ np.linalg.solve(cyy, cxy.T)).real)
            expected += weights[m] * rho2
        assert scores[i, k] == pytest.approx(expected, rel=1e-6)


def test_fbcca_is_training_free() -> None:
    rng = np.random.default_rng(2)
    X_test, _ = make_trials(rng, FREQS, PHASES, 1, 0.5, noise=2.0)
    X_a, y_a = make_trials(rng, FREQS, PHASES, 1, 0.5, noise=0.5)
    X_b = 100.0 * rng.standard_normal((7, 9, 200))
    y_b = rng.integers(0, 40, 7)
    fitted_a = FBCCA(SFREQ, FREQS, PHASES).fit(X_a, y_a)
    fitted_b = FBCCA(SFREQ, FREQS, PHASES).fit(X_b, y_b)
    np.testing.assert_array_equal(fitted_a.decision_function(X_test), fitted_b.decision_function(X_test))
    np.testing.assert_array_equal(fitted_a.predict(X_test), fitted_b.predict(X_test))
    np.testing.assert_array_equal(fitted_b.classes_, np.arange(40))
    # the stimulus phases do not change the scores (CCA is invariant to the references' phase)
    no_phase = FBCCA(SFREQ, FREQS).fit(X_a, y_a)
    np.testing.assert_allclose(no_phase.decision_function(X_test), fitted_a.decision_function(X_test), atol=1e-9)


def test_fbcca_rest_threshold() -> None:
    # exoskeleton-like table: target 0 is rest (NaN frequency), then 13, 21 and 17 Hz; 8 channels at 256 Hz
    sfreq, freqs, phases = 256.0, np.array([np.nan, 13.0, 21.0, 17.0]), np.zeros(4)
    rng = np.random.default_rng(3)
    X_ssvep, y_ssvep = make_trials(rng, freqs[1:], phases[1:], 16, 1.0, n_channels=8, sfreq=sfreq)
    X = np.concatenate([X_ssvep, np.zeros((16, 8, 256))])
    y = np.concatenate([y_ssvep + 1, np.zeros(16, dtype=int)])
    X = X + 0.5 * coloured_noise(rng, X.shape)  # rest trials are pure noise
    order = rng.permutation(y.size)
    train, test = order[:32], order[32:]
    model = FBCCA(sfreq, freqs, phases).fit(X[train], y[train])
    assert model.rest_index_ == 0
    scores = model.decision_function(X[test])
    assert scores.shape == (32, 4)
    np.testing.assert_array_equal(scores[:, 0], model.threshold_)
    is_rest = y[test] == 0
    best_ssvep = scores[:, 1:].max(axis=1)
    assert best_ssvep[is_rest].max() < model.threshold_ < best_ssvep[~is_rest].min()
    pred = model.predict(X[test])
    np.testing.assert_array_equal(pred[is_rest], 0)
    assert np.mean(pred == y[test]) == 1.0
    # an explicit rest_class agrees with the NaN entry
    explicit = FBCCA(sfreq, freqs, phases, rest_class=0).fit(X[train], y[train])
    assert explicit.threshold_ == model.threshold_
    # the threshold needs rest trials to learn from
    with pytest.raises(ValueError, match="no rest trials"):
        FBCCA(sfreq, freqs, phases).fit(X[train][y[train] != 0], y[train][y[train] != 0])
    with pytest.raises(ValueError, match="only target whose frequency is NaN"):
        FBCCA(sfreq, freqs, phases, rest_class=1).fit(X[train], y[train])


# -- TRCA ---------------------------------------------------------------------------------------------------


def _loop_trca_scores(X_train, y_train, X_test, ensemble: bool, n_subbands: int = 3) -> np.ndarray:
    """Loop-by-loop transcription of Nakanishi et al.'s train_trca/test_trca (sub-bands filtered from the raw
    windows, top algebraic eigenvector), to check the vectorised implementation."""
    classes = np.unique(y_train)
    sub_train = fbcca_subbands(X_train, SFREQ, n_subbands, dtype=np.float64)
    sub_test = fbcca_subbands(X_test, SFREQ, n_subbands, dtype=np.float64)
    n_ch = X_train.shape[1]
    W = np.zeros((n_subbands, classes.size, n_ch))
    templates = np.zeros((classes.size, n_subbands, n_ch, X_train.shape[2]))
    for ki, k in enumerate(classes):
        for m in range(n_subbands):
            trials = sub_train[y_train == k, m]
            templates[ki, m] = trials.mean(axis=0)
            S = np.zeros((n_ch, n_ch))
            for i, j in itertools.combinations(range(trials.shape[0]), 2):
                x1 = trials[i] - trials[i].mean(axis=1, keepdims=True)
                x2 = trials[j] - trials[j].mean(axis=1, keepdims=True)
                S += x1 @ x2.T + x2 @ x1.T
            U = np.concatenate(list(trials), axis=1)
            U = U - U.mean(axis=1, keepdims=True)
            _, vecs = scipy.linalg.eigh(S, U @ U.T)
            w = vecs[:, -1]
            W[m, ki] = w if w[np.argmax(np.abs(w))] > 0 else -w  # the same sign convention
    weights = subband_weights(n_subbands)
    scores = np.zeros((X_test.shape[0], classes.size))
    for n, ki, m in itertools.product(range(X_test.shape[0]), range(classes.size), range(n_subbands)):
        w = W[m].T if ensemble else W[m, ki][:, None]
        a, b = (sub_test[n, m].T @ w).ravel(), (templates[ki, m].T @ w).ravel()
        scores[n, ki] += weights[m] * np.corrcoef(a, b)[0, 1]
    return scores


@pytest.mark.parametrize("ensemble", [False, True])
def test_trca_matches_loop_transcription(ensemble: bool) -> None:
    rng = np.random.default_rng(4)
    freqs, phases = FREQS[:6], PHASES[:6]
    X, y = make_trials(rng, freqs, phases, 4, 0.4, noise=1.0, waveform="subject")
    X_train, y_train, X_test = X[:20], y[:20], X[20:]  # unequal trial counts: 4 for classes 0 and 1, 3 for others
    model = TRCA(SFREQ, n_subbands=3, ensemble=ensemble).fit(X_train, y_train)
    expected = _loop_trca_scores(X_train, y_train, X_test, ensemble)
    np.testing.assert_allclose(model.decision_function(X_test), expected, atol=1e-8)
    assert model.filters_.shape == (3, 6, 9) and model.templates_.shape == (6, 3, 9, 100)


def test_trca_beats_fbcca_on_short_windows_with_subject_waveform() -> None:
    accs = {"fbcca": [], "trca": [], "etrca": []}
    for subject in range(3):
        rng = np.random.default_rng(10 + subject)
        X, y = make_trials(rng, FREQS, PHASES, 7, 0.3, noise=2.0, waveform="subject", subject=subject)
        train, test = slice(0, 200), slice(200, None)  # 5 training blocks, 2 test blocks
        for name, model in (
            ("fbcca", FBCCA(SFREQ, FREQS, PHASES)),
            ("trca", TRCA(SFREQ, ensemble=False)),
            ("etrca", TRCA(SFREQ, ensemble=True)),
        ):
            accs[name].append(accuracy(model.fit(X[train], y[train]), X[test], y[test]))
    mean = {name: float(np.mean(values)) for name, values in accs.items()}
    assert mean["fbcca"] < 0.7  # sine-cosine references miss the waveform at 0.3 s...
    assert mean["trca"] > mean["fbcca"] + 0.3  # ...that the calibration templates capture
    assert mean["etrca"] > mean["fbcca"] + 0.3
    assert mean["etrca"] >= mean["trca"]
    assert mean["etrca"] > 0.9


def test_etrca_at_least_trca_in_hard_conditions() -> None:
    diffs = []
    for subject in range(4):
        rng = np.random.default_rng(20 + subject)
        X, y = make_trials(rng, FREQS, PHASES, 4, 0.2, noise=3.0, waveform="subject", subject=subject)
        train, test = slice(0, 120), slice(120, None)  # 3 training blocks, 1 test block
        trca = accuracy(TRCA(SFREQ, ensemble=False).fit(X[train], y[train]), X[test], y[test])
        etrca = accuracy(TRCA(SFREQ, ensemble=True).fit(X[train], y[train]), X[test], y[test])
        diffs.append(etrca - trca)
    assert np.mean(diffs) > 0.1


# -- scikit-learn API and errors ----------------------------------------------------------------------------


def test_clone_and_get_params() -> None:
    fbcca = FBCCA(SFREQ, FREQS, PHASES, n_harmonics=4, n_subbands=3, a=1.0, b=0.5, rest_class=None)
    params = fbcca.get_params()
    assert set(params) == {"sfreq", "freqs", "phases", "n_harmonics", "n_subbands", "a", "b", "rest_class"}
    assert params["n_harmonics"] == 4 and params["a"] == 1.0 and params["freqs"] is FREQS
    copy = clone(fbcca)
    assert copy is not fbcca and copy.get_params()["n_subbands"] == 3
    np.testing.assert_array_equal(copy.freqs, FREQS)

    trca = TRCA(SFREQ, n_subbands=2, ensemble=False, a=2.0, b=0.1)
    assert trca.get_params() == {"sfreq": SFREQ, "n_subbands": 2, "ensemble": False, "a": 2.0, "b": 0.1}
    rng = np.random.default_rng(5)
    X, y = make_trials(rng, FREQS[:4], PHASES[:4], 3, 0.3, noise=0.2)
    fitted = trca.fit(X, y)
    fresh = clone(fitted)
    assert not hasattr(fresh, "classes_") and fresh.get_params() == trca.get_params()
    assert fitted.score(X, y) == 1.0  # ClassifierMixin.score is accuracy


def test_bad_input() -> None:
    rng = np.random.default_rng(6)
    X, y = make_trials(rng, FREQS[:4], PHASES[:4], 3, 0.4, noise=0.2)
    fbcca = FBCCA(SFREQ, FREQS[:4], PHASES[:4])
    trca = TRCA(SFREQ)
    for model in (fbcca, trca):
        with pytest.raises(NotFittedError):
            model.predict(X)
        with pytest.raises(ValueError, match="n_trials, n_channels, n_times"):
            model.fit(X[0], y)
        with pytest.raises(ValueError, match=r"shape \(12,\)"):
            model.fit(X, y[:-1])
        model.fit(X, y)
        with pytest.raises(ValueError, match="n_trials, n_channels, n_times"):
            model.predict(X[0])
        with pytest.raises(ValueError, match=r"8 channels but .* fitted with 9"):
            model.predict(X[:, :8])
        with pytest.raises(ValueError, match="NaN"):
            model.predict(np.where(np.arange(X.shape[-1]) == 3, np.nan, X))
    with pytest.raises(ValueError, match="at least 2 training trials per class"):
        trca.fit(X[:4], y[:4])
    with pytest.raises(ValueError, match=r"class 3: 1"):
        trca.fit(X[:8], np.array([0, 1, 2, 3, 0, 1, 2, 0]))
    with pytest.raises(ValueError, match="50 samples per window but TRCA was fitted with 100"):
        trca.predict(X[:, :, :50])
    with pytest.raises(ValueError, match="outside the stimulus table"):
        fbcca.fit(X, y + 4)
    with pytest.raises(ValueError, match="sfreq=128"):
        FBCCA(128.0, FREQS[:4]).fit(X, y).predict(X)
