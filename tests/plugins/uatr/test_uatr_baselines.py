"""The classical baseline: LOFAR / DEMON / MFCC features and the logistic-regression classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sciconv.errors import ConfigError, DataError
from sciconv_uatr.baselines import (
    N_CLASSICAL_FEATURES,
    ClassicalClassifier,
    classical_feature_slices,
    classical_features,
    demon_bin_centres,
    demon_bin_edges,
    demon_features,
    lofar_band_edges,
    lofar_features,
    mfcc_features,
)

SR = 8000
DEEPSHIP = Path("/work/shared/data/deepship-sample")


def _am_noise(rng: np.random.Generator, n: int, mod_hz: np.ndarray | float, seconds: float = 1.5, sr: int = SR):
    """White noise x (1 + 0.8 cos(2 pi f t + random phase)): ``(n, seconds * sr)``."""
    t = np.arange(round(seconds * sr)) / sr
    mod = np.broadcast_to(np.asarray(mod_hz, dtype=np.float64), (n,))[:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    return rng.standard_normal((n, len(t))) * (1.0 + 0.8 * np.cos(2 * np.pi * mod * t + phase))


# -- features ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sr", "seconds"), [(8000, 0.5), (16000, 1.0), (32000, 3.0)])
def test_features_finite_with_stable_dimension(sr: int, seconds: float) -> None:
    rng = np.random.default_rng(0)
    n_samples = round(seconds * sr)
    x = np.concatenate(
        [
            rng.standard_normal((2, n_samples)),
            np.zeros((1, n_samples)),  # silence
            1e-6 * rng.standard_normal((1, n_samples)).astype(np.float32),  # very quiet, float32
        ]
    )
    features = classical_features(x, sr)
    assert features.shape == (4, N_CLASSICAL_FEATURES) == (4, 103)
    assert features.dtype == np.float64
    assert np.all(np.isfinite(features))


def test_slices_partition_the_vector_and_match_the_parts() -> None:
    x = _am_noise(np.random.default_rng(1), 3, 10.0)
    features = classical_features(x, SR)
    slices = classical_feature_slices()
    covered = np.zeros(N_CLASSICAL_FEATURES, dtype=int)
    for name in ("lofar", "demon", "demon_depth", "mfcc_mean", "mfcc_std"):
        covered[slices[name]] += 1
    np.testing.assert_array_equal(covered, 1)
    np.testing.assert_allclose(features[:, slices["lofar"]], lofar_features(x, SR))
    demon = demon_features(x, SR)
    np.testing.assert_allclose(features[:, slices["demon"]], demon[:, :-1])
    np.testing.assert_allclose(features[:, slices["demon_depth"]], demon[:, -1:])
    np.testing.assert_allclose(features[:, slices["mfcc"]], mfcc_features(x, SR))
    custom = classical_features(x, SR, n_lofar=8, n_demon=12, n_mfcc=5)
    assert custom.shape == (3, 8 + 12 + 1 + 10)


@pytest.mark.parametrize("mod_hz", [8.0, 12.0, 20.0, 46.0])
def test_demon_peaks_at_the_modulation_frequency(mod_hz: float) -> None:
    rng = np.random.default_rng(2)
    demon = demon_features(_am_noise(rng, 4, mod_hz), SR)
    centres = demon_bin_centres()
    np.testing.assert_array_equal(centres[demon[:, :-1].argmax(axis=1)], mod_hz)
    assert np.all(demon[:, :-1].max(axis=1) > 10.0)  # > 10 dB above the mean bin
    # the unmodulated noise has a much lower modulation depth and no dominant bin
    plain = demon_features(rng.standard_normal((4, 12000)), SR)
    assert np.all(demon[:, -1] > plain[:, -1] + 10.0)
    assert np.all(plain[:, :-1].max(axis=1) < 10.0)


def test_demon_bins_are_centred_on_multiples_of_their_width() -> None:
    edges = demon_bin_edges()
    np.testing.assert_allclose(edges[[0, -1]], [1.0, 61.0])
    np.testing.assert_allclose(demon_bin_centres(), np.arange(2.0, 61.0, 2.0))
    np.testing.assert_allclose(demon_bin_centres(12, 60.0), np.arange(5.0, 61.0, 5.0))


def test_lofar_is_level_independent_and_finds_a_line() -> None:
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((2, 12000))
    np.testing.assert_allclose(lofar_features(100.0 * noise, SR), lofar_features(noise, SR), atol=1e-9)
    np.testing.assert_allclose(lofar_features(noise, SR).mean(axis=1), 0.0, atol=1e-9)
    t = np.arange(12000) / SR
    line = noise + 3.0 * np.sin(2 * np.pi * 440.0 * t)
    edges = lofar_band_edges(SR)
    assert edges[0] == pytest.approx(10.0) and edges[-1] == pytest.approx(SR / 2)
    band = np.searchsorted(edges, 440.0) - 1
    gain = lofar_features(line, SR) - lofar_features(noise, SR)
    np.testing.assert_array_equal(gain.argmax(axis=1), band)
    assert np.all(gain[:, band] > 10.0)


# -- classifier -------------------------------------------------------------------------------------------------------
def _two_class_data(seed: int = 4, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.array(["slow", "fast"]), n // 2)
    mod = np.where(labels == "slow", 8.0, 20.0)
    return classical_features(_am_noise(rng, n, mod, seconds=1.0), SR), labels


def test_classifier_separates_modulation_rates() -> None:
    features, labels = _two_class_data()
    train = np.arange(len(labels)) % 2 == 0
    clf = ClassicalClassifier().fit(features[train], labels[train])
    accuracy = np.mean(clf.predict(features[~train]) == labels[~train])
    assert accuracy >= 0.9  # chance is 0.5
    assert list(clf.classes_) == ["fast", "slow"]
    proba = clf.predict_proba(features[~train])
    assert proba.shape == (int((~train).sum()), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_classifier_matches_sklearn_pipeline() -> None:
    features, labels = _two_class_data(seed=5, n=30)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=2000)).fit(features, labels)
    clf = ClassicalClassifier(C=0.3).fit(features, labels)
    np.testing.assert_allclose(clf.predict_proba(features), ref.predict_proba(features), atol=1e-10)
    three = np.array([0, 1, 2] * 10)
    ref3 = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features, three)
    clf3 = ClassicalClassifier().fit(features, three)
    np.testing.assert_allclose(clf3.predict_proba(features), ref3.predict_proba(features), atol=1e-10)
    np.testing.assert_array_equal(clf3.predict(features), ref3.predict(features))


@pytest.mark.parametrize("labels_kind", ["strings", "ints3"])
def test_arrays_round_trip_gives_identical_probabilities(tmp_path: Path, labels_kind: str) -> None:
    features, labels = _two_class_data(seed=6, n=30)
    if labels_kind == "ints3":
        labels = np.arange(30) % 3
    clf = ClassicalClassifier(C=2.0, seed=7).fit(features, labels)
    arrays = clf.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    np.savez(tmp_path / "clf.npz", **arrays)
    with np.load(tmp_path / "clf.npz", allow_pickle=False) as stored:
        loaded = ClassicalClassifier.from_arrays(dict(stored))
    np.testing.assert_array_equal(loaded.predict_proba(features), clf.predict_proba(features))
    np.testing.assert_array_equal(loaded.predict(features), clf.predict(features))
    assert loaded.C == 2.0 and loaded.seed == 7
    # the exported arrays are copies: changing them does not change the classifier
    arrays["coef"][:] = 0.0
    np.testing.assert_array_equal(loaded.predict_proba(features), clf.predict_proba(features))


# -- errors -----------------------------------------------------------------------------------------------------------
def test_bad_inputs_raise_sciconv_errors() -> None:
    x = np.random.default_rng(8).standard_normal((2, 4000))
    with pytest.raises(DataError, match="shape"):
        classical_features(x[0], SR)
    with pytest.raises(DataError, match=r"shorter than 0\.25 s"):
        classical_features(x[:, :1000], SR)
    with pytest.raises(DataError, match="NaN"):
        classical_features(np.where(np.arange(4000) == 5, np.nan, x), SR)
    with pytest.raises(ConfigError, match="sample_rate"):
        classical_features(x, 0)
    with pytest.raises(ConfigError, match="demon band"):
        demon_features(x, 1000)
    with pytest.raises(ConfigError, match="n_lofar"):
        lofar_features(x, SR, n_lofar=0)


def test_classifier_errors() -> None:
    features, labels = _two_class_data(seed=9, n=20)
    with pytest.raises(ConfigError, match="C="):
        ClassicalClassifier(C=0.0)
    with pytest.raises(DataError, match="single class"):
        ClassicalClassifier().fit(features, np.zeros(20))
    with pytest.raises(DataError, match="labels of shape"):
        ClassicalClassifier().fit(features, labels[:-1])
    with pytest.raises(RuntimeError, match="not fitted"):
        ClassicalClassifier().predict(features)
    clf = ClassicalClassifier().fit(features, labels)
    with pytest.raises(DataError, match="expects 103"):
        clf.predict(features[:, :10])
    with pytest.raises(DataError, match="NaN"):
        clf.predict_proba(np.full_like(features, np.nan))
    arrays = clf.to_arrays()
    del arrays["intercept"]
    with pytest.raises(DataError, match="intercept"):
        ClassicalClassifier.from_arrays(arrays)
    arrays = clf.to_arrays()
    arrays["scaler_mean"] = arrays["scaler_mean"][:5]
    with pytest.raises(DataError, match="inconsistent shapes"):
        ClassicalClassifier.from_arrays(arrays)


@pytest.mark.skipif(not DEEPSHIP.is_dir(), reason="DeepShip sample not available")
def test_real_deepship_features_finite() -> None:
    rows = []
    for path in (DEEPSHIP / "Tanker" / "19.wav", DEEPSHIP / "Passengership" / "8.wav"):
        audio, rate = sf.read(path, dtype="float32", frames=2 * 32000)
        rows.append(audio.reshape(2, -1))  # two 1 s segments at the file's own 32 kHz
    features = classical_features(np.concatenate(rows), rate)
    assert features.shape == (4, N_CLASSICAL_FEATURES)
    assert np.all(np.isfinite(features))
    assert np.std(features[:, classical_feature_slices()["lofar"]]) > 1.0  # a real spectrum has shape
