"""GRNN, GMDH and SubsampledRegressor: scikit-learn conformance and the behaviour their papers define."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import check_estimator

from sciconv_atm_forecast.regressors import GMDH, GRNN, SubsampledRegressor


@pytest.mark.parametrize(
    "estimator",
    [GRNN(), GRNN(sigma=0.5, n_neighbors=5), GMDH(), SubsampledRegressor(LinearRegression(), max_train_rows=20)],
    ids=["grnn", "grnn-knn", "gmdh", "subsampled"],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_scikit_learn_conformance(estimator) -> None:
    check_estimator(estimator)


def _sine(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(np.random.default_rng(seed).uniform(0, 2 * np.pi, n))
    return x[:, None], np.sin(x)


def test_grnn_interpolates_a_smooth_function() -> None:
    X, y = _sine(400)
    model = GRNN().fit(X, y)
    grid = np.linspace(0.3, 2 * np.pi - 0.3, 200)[:, None]
    assert np.max(np.abs(model.predict(grid) - np.sin(grid[:, 0]))) < 0.05
    assert model.sigma_ in np.geomspace(0.05, 3.0, 16)
    assert model.loo_scores_.shape == (16,)
    assert model.loo_scores_.min() < model.loo_scores_[-1]  # auto sigma beats the widest kernel


def test_grnn_limits_of_the_bandwidth() -> None:
    X, y = _sine(100)
    assert np.allclose(GRNN(sigma=1e6).fit(X, y).predict(X), y.mean())
    assert np.allclose(GRNN(sigma=1e-4).fit(X, y).predict(X), y)  # nearest neighbour: exact at the patterns


def test_grnn_far_queries_get_the_nearest_pattern_not_nan() -> None:
    X, y = _sine(50)
    pred = GRNN(sigma=0.01).fit(X, y).predict(np.array([[1e3], [-1e3]]))
    assert np.allclose(pred, [y[np.argmax(X[:, 0])], y[np.argmin(X[:, 0])]])


def test_grnn_subsampling_chunking_and_neighbour_truncation() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2
    capped = GRNN(sigma=0.4, max_train_rows=200).fit(X, y)
    assert capped.X_train_.shape == (200, 4)
    full = GRNN(sigma=0.4, max_train_rows=None, chunk_size=7).fit(X, y)
    assert np.allclose(full.predict(X[:50]), GRNN(sigma=0.4, chunk_size=4096).fit(X, y).predict(X[:50]))
    truncated = GRNN(sigma=0.4, max_train_rows=None, n_neighbors=300).fit(X, y)
    assert np.allclose(truncated.predict(X[:50]), full.predict(X[:50]), atol=1e-3)


def test_grnn_rejects_a_bad_sigma() -> None:
    X, y = _sine(20)
    for sigma in ("wide", 0.0, -1.0):
        with pytest.raises(ValueError, match="sigma"):
            GRNN(sigma=sigma).fit(X, y)


def _quadratic(X: np.ndarray) -> np.ndarray:
    return 1 + 2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 0] * X[:, 1] + 0.3 * X[:, 0] ** 2


def test_gmdh_recovers_a_quadratic_of_two_inputs_among_noise_inputs() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 6))
    y = _quadratic(X) + 0.05 * rng.normal(size=1500)
    model = GMDH().fit(X, y)
    assert tuple(model.layers_[0]["pairs"][0]) == (0, 1)
    assert model.n_layers_ <= 2
    X_test = rng.normal(size=(500, 6))
    assert model.score(X_test, _quadratic(X_test)) > 0.999


def test_gmdh_stops_growing_when_the_external_criterion_stops_improving() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(800, 5))
    y = X[:, 0] * X[:, 1] + 0.01 * rng.normal(size=800)
    model = GMDH(max_layers=6, tol=5e-3).fit(X, y)
    assert model.n_layers_ < 6
    assert len(model.criteria_) == model.n_layers_ + 1  # the rejected layer is recorded
    assert model.criteria_[-1] >= model.criteria_[-2] * (1 - 5e-3)
    assert all(b < a * (1 - 5e-3) for a, b in zip(model.criteria_[:-2], model.criteria_[1:-1], strict=True))


def test_gmdh_grows_deeper_for_interactions_of_four_inputs() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 4))
    y = X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3] + 0.01 * rng.normal(size=2000)
    model = GMDH().fit(X, y)
    assert model.n_layers_ >= 2  # one neuron sees two inputs; the second layer combines (x0, x1) and (x2, x3)
    assert model.criteria_[model.n_layers_ - 1] < 0.01 * model.criteria_[0]
    X_test = rng.normal(size=(500, 4))
    assert model.score(X_test, X_test[:, 0] * X_test[:, 1] + X_test[:, 2] * X_test[:, 3]) > 0.99


def test_gmdh_with_a_single_input() -> None:
    x = np.linspace(-2, 2, 100)[:, None]
    model = GMDH().fit(x, 3 * x[:, 0] ** 2 - x[:, 0])
    assert np.allclose(model.predict(x), 3 * x[:, 0] ** 2 - x[:, 0], atol=1e-3)


def test_subsampled_regressor_caps_the_training_rows() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = SubsampledRegressor(LinearRegression(), max_train_rows=50, random_state=0).fit(X, y)
    assert model.n_train_rows_ == 50
    assert np.allclose(model.predict(X), y)
    assert SubsampledRegressor(LinearRegression(), max_train_rows=None).fit(X, y).n_train_rows_ == 300


@pytest.mark.parametrize("estimator", [GRNN(n_neighbors=10), GMDH(), SubsampledRegressor(LinearRegression())])
def test_clone_and_pickle(estimator) -> None:
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    fitted = clone(estimator).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(restored.predict(X), fitted.predict(X))
