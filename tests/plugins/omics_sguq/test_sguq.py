"""SGUQ: ensembles (vote, uncertainty, parallel training), the staged decision and the threshold search."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from sciconv.errors import ConfigError, DataError
from sciconv.kit import derive_seed
from sciconv_omics_sguq.mogonet_training import train_mogonet, train_mogonet_members
from sciconv_omics_sguq.sguq import (
    DEFAULT_STAGES,
    EnsembleOutput,
    StagedResult,
    choose_thresholds,
    ensemble_predict,
    member_chunks,
    member_seed,
    staged_decision,
    threshold_grid,
    train_ensemble,
)

# a short schedule with 10x the learning rates, for tests that need trained models quickly
FAST = {
    "hidden": (16, 16, 8),
    "epochs_pretrain": 20,
    "epochs": 20,
    "lr_pretrain": 1e-2,
    "lr_gcn": 5e-3,
    "lr_vcdn": 1e-2,
}
# 40 fusion epochs where a test needs the fused output to be accurate: after 20 some seeds' VCDNs still lag
FAST40 = {**FAST, "epochs": 40}


def gaussian_views(
    n_train: int = 40, n_test: int = 30, n_views: int = 2, f: int = 8, shift: float = 3.0, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Two Gaussian classes per view, apart along a different direction in each view, positive offset."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_train + n_test) % 2)
    views = []
    for v in range(n_views):
        direction = np.zeros(f)
        direction[v % f] = shift
        views.append(rng.normal(size=(len(y), f)) + 3.0 + np.where(y[:, None] == 1, direction, -direction))
    return [x[:n_train] for x in views], y[:n_train], [x[n_train:] for x in views], y[n_train:]


def output(pred: list[int], unc: list[float], n_classes: int = 2) -> EnsembleOutput:
    """A hand-made stage output: one-hot mean probabilities of ``pred`` and the given uncertainties."""
    proba = np.eye(n_classes)[pred]
    return EnsembleOutput(proba[None], proba, np.asarray(pred), np.asarray(unc, dtype=np.float64))


def random_outputs(
    n: int, n_stages: int, seed: int, n_classes: int = 2
) -> tuple[list[EnsembleOutput], np.ndarray, np.ndarray]:
    """Random stage outputs from 5-member ensembles, whose later stages are more often right, and labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    outputs = []
    for s in range(n_stages):
        logits = rng.normal(size=(5, n, n_classes)) + (1.0 + s) * np.eye(n_classes)[y]
        p = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
        outputs.append(EnsembleOutput.from_member_proba(p))
    return outputs, y, rng.random((n, n_stages)) < 0.85


# ---------------------------------------------------------------------------------------------------------
# ensemble vote and uncertainty


def test_majority_vote_beats_mean_probability() -> None:
    """Two of three members vote class 0 weakly, one votes 1 strongly: the vote (0) wins over the mean (1)."""
    p1 = np.array([0.45, 0.4, 0.99])  # members' probability of class 1
    out = EnsembleOutput.from_member_proba(np.stack([1 - p1, p1], axis=-1)[:, None, :])
    assert out.proba[0, 1] > 0.5
    assert out.pred.tolist() == [0]
    assert out.pred.dtype == np.int64


def test_vote_tie_goes_to_larger_mean_probability_then_smaller_class() -> None:
    # (members, samples, classes); sample 0: votes 1-1, means (0.35, 0.65); sample 1: votes 1-1, means equal
    member_proba = np.array([[[0.6, 0.4], [0.7, 0.3]], [[0.1, 0.9], [0.3, 0.7]]])
    out = EnsembleOutput.from_member_proba(member_proba)
    assert out.pred.tolist() == [1, 0]
    # three classes, votes 1-1-1, means (0.4, 0.3, 0.3)
    three = np.array([[[0.5, 0.3, 0.2]], [[0.35, 0.45, 0.2]], [[0.35, 0.15, 0.5]]])
    assert EnsembleOutput.from_member_proba(three).pred.tolist() == [0]
    # votes 2-2 between classes 1 and 2, equal means: the smaller class index
    four = np.array([[[0.0, 0.6, 0.4]], [[0.0, 0.6, 0.4]], [[0.0, 0.4, 0.6]], [[0.0, 0.4, 0.6]]])
    assert EnsembleOutput.from_member_proba(four).pred.tolist() == [1]
    # class 2 has the largest mean but only one vote; classes 0 and 1 tie at two votes: 1 (mean 0.3 > 0.28)
    five = np.array([[[0.5, 0.1, 0.4]], [[0.5, 0.1, 0.4]], [[0.2, 0.6, 0.2]], [[0.1, 0.5, 0.4]], [[0.1, 0.2, 0.7]]])
    assert EnsembleOutput.from_member_proba(five).pred.tolist() == [1]


def test_uncertainty_is_population_sd_of_predicted_class_probability() -> None:
    """sd (ddof=0) over members of the voted class's probability; with two classes that is the official
    code's sd of each member's probability of class 1."""
    p = np.array([[[0.1, 0.9]], [[0.3, 0.7]], [[0.2, 0.8]]])  # all vote class 1: 0.9, 0.7, 0.8
    out = EnsembleOutput.from_member_proba(p)
    assert out.pred.tolist() == [1]
    assert out.uncertainty[0] == pytest.approx(np.sqrt(0.02 / 3))  # not sqrt(0.02 / 2), the ddof=1 value
    np.testing.assert_allclose(out.proba, [[0.2, 0.8]])
    rng = np.random.default_rng(0)
    p1 = rng.random((10, 50))
    binary = EnsembleOutput.from_member_proba(np.stack([1 - p1, p1], axis=-1))
    np.testing.assert_allclose(binary.uncertainty, np.std(p1, axis=0), atol=1e-12)


def test_member_max_uncertainty() -> None:
    """The official multi-class definition: sd of each member's own top probability."""
    p = np.array([[[0.7, 0.2, 0.1]], [[0.1, 0.5, 0.4]], [[0.6, 0.3, 0.1]]])
    out = EnsembleOutput.from_member_proba(p, uncertainty="member_max")
    assert out.pred.tolist() == [0]
    assert out.uncertainty[0] == pytest.approx(np.std([0.7, 0.5, 0.6]))
    assert EnsembleOutput.from_member_proba(p).uncertainty[0] == pytest.approx(np.std([0.7, 0.1, 0.6]))
    with pytest.raises(ConfigError, match="uncertainty"):
        EnsembleOutput.from_member_proba(p, uncertainty="entropy")


def test_one_member_has_zero_uncertainty_and_bad_shapes_are_refused() -> None:
    out = EnsembleOutput.from_member_proba(np.array([[[0.3, 0.7], [0.8, 0.2]]]))
    assert out.pred.tolist() == [1, 0]
    assert out.uncertainty.tolist() == [0.0, 0.0]
    assert (out.n_members, out.n_classes, len(out)) == (1, 2, 2)
    with pytest.raises(DataError, match="members, samples, classes"):
        EnsembleOutput.from_member_proba(np.zeros((3, 2)))
    with pytest.raises(DataError, match="finite"):
        EnsembleOutput.from_member_proba(np.full((2, 3, 2), np.nan))


def test_expand_places_rows_and_staged_decision_ignores_the_rest() -> None:
    out = EnsembleOutput.from_member_proba(np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.4, 0.6]]]))
    mask = np.array([False, True, False, True])
    big = out.expand(mask)
    assert big.member_proba.shape == (2, 4, 2)
    assert big.pred.tolist() == [-1, 0, -1, 1]
    assert np.isnan(big.uncertainty[[0, 2]]).all()
    np.testing.assert_array_equal(big.proba[mask], out.proba)
    with pytest.raises(DataError, match="2 True entries"):
        out.expand(np.array([True, False, False]))
    last = output([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5])
    result = staged_decision([big, last], [np.inf], np.stack([mask, np.ones(4, bool)], axis=1))
    assert result.stage.tolist() == [1, 0, 1, 0]
    assert result.pred.tolist() == [1, 0, 0, 1]


# ---------------------------------------------------------------------------------------------------------
# training


def test_ensemble_shapes_and_member_seeds() -> None:
    """Members are MOGONETs seeded with derive_seed(seed, "member{i}"); predictions have SGUQ's shapes."""
    x_tr, y_tr, x_te, y_te = gaussian_views()
    members = train_ensemble(x_tr, y_tr, n_models=3, seed=7, **FAST40)
    assert len(members) == 3
    assert member_seed(7, 2) == derive_seed(7, "member2")
    # member 2 is the model trained alone with its seed: bit for bit by the members' trainer, and to float32
    # rounding by train_mogonet (whose arithmetic is arranged differently)
    alone = train_mogonet_members(x_tr, y_tr, seeds=[member_seed(7, 2)], **FAST40)[0]
    np.testing.assert_array_equal(alone.predict_proba(x_te), members[2].predict_proba(x_te))
    single = train_mogonet(x_tr, y_tr, seed=member_seed(7, 2), **FAST40)
    np.testing.assert_allclose(single.predict_proba(x_te), members[2].predict_proba(x_te), rtol=0, atol=1e-4)

    out = ensemble_predict(members, x_te)
    n = len(y_te)
    assert out.member_proba.shape == (3, n, 2)
    assert out.proba.shape == (n, 2) and out.pred.shape == (n,) and out.uncertainty.shape == (n,)
    np.testing.assert_allclose(out.proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.proba, out.member_proba.mean(axis=0))
    assert (out.uncertainty >= 0).all() and out.uncertainty.max() > 0  # the members differ
    assert (out.pred == y_te).mean() >= 0.8  # well-separated classes

    one_view = train_ensemble(x_tr[:1], y_tr, n_models=2, seed=7, **FAST)  # stage 1: the GCN alone
    assert ensemble_predict(one_view, x_te[:1]).member_proba.shape == (2, n, 2)


def test_parallel_training_gives_the_same_members() -> None:
    """n_jobs = 1 trains the 3 members together, n_jobs = 2 in chunks [0, 1] and [2] in two processes: the
    same members, bit for bit, and the same as members trained one at a time."""
    x_tr, y_tr, x_te, _ = gaussian_views(seed=1)
    threads = torch.get_num_threads()
    serial = train_ensemble(x_tr, y_tr, n_models=3, seed=3, n_jobs=1, **FAST)
    parallel = train_ensemble(x_tr, y_tr, n_models=3, seed=3, n_jobs=2, **FAST)
    one_by_one = [train_mogonet_members(x_tr, y_tr, seeds=[member_seed(3, i)], **FAST)[0] for i in range(3)]
    assert torch.get_num_threads() == threads
    for a, b, c in zip(serial, parallel, one_by_one, strict=True):
        sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
        assert sa.keys() == sb.keys() == sc.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]) and torch.equal(sa[key], sc[key]), key
        for key in a.history:
            np.testing.assert_array_equal(a.history[key], b.history[key])
    np.testing.assert_array_equal(
        ensemble_predict(serial, x_te).member_proba, ensemble_predict(parallel, x_te).member_proba
    )


def test_member_chunks() -> None:
    assert member_chunks(10, 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert member_chunks(10, 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert member_chunks(3, 5) == [[0], [1], [2]]
    assert member_chunks(4, 1) == [[0, 1, 2, 3]]
    with pytest.raises(ConfigError, match="n_chunks"):
        member_chunks(3, 0)


def test_train_ensemble_checks_its_arguments() -> None:
    x_tr, y_tr, _, _ = gaussian_views(n_train=20, n_test=2)
    with pytest.raises(ConfigError, match="n_models"):
        train_ensemble(x_tr, y_tr, n_models=0, seed=0)
    with pytest.raises(ConfigError, match="n_jobs"):
        train_ensemble(x_tr, y_tr, n_models=2, seed=0, n_jobs=0)
    with pytest.raises(ConfigError, match="on_epoch"):
        train_ensemble(x_tr, y_tr, n_models=2, seed=0, n_jobs=2, on_epoch=lambda *a: None)
    with pytest.raises(DataError):
        train_ensemble([x_tr[0], x_tr[1][:5]], y_tr, n_models=1, seed=0, **FAST)
    with pytest.raises(DataError, match="non-empty"):
        ensemble_predict([], x_tr)


# ---------------------------------------------------------------------------------------------------------
# staged decision


def three_stages() -> tuple[list[EnsembleOutput], np.ndarray]:
    outputs = [
        output([0, 1, 0, 1, 0], [0.10, 0.30, 0.05, 0.40, 0.20]),
        output([1, 1, 1, 1, 1], [0.20, 0.10, 0.30, 0.25, 0.15]),
        output([0, 0, 0, 0, 0], [0.50, 0.50, 0.50, 0.50, 0.50]),
    ]
    return outputs, np.ones((5, 3), dtype=bool)


def test_zero_thresholds_send_everyone_to_the_last_stage_and_infinite_ones_stop_at_the_first() -> None:
    outputs, available = three_stages()
    last = staged_decision(outputs, [0.0, 0.0], available)
    assert last.stage.tolist() == [2] * 5
    assert last.pred.tolist() == [0] * 5
    assert not last.forced.any()
    first = staged_decision(outputs, [np.inf, np.inf], available)
    assert first.stage.tolist() == [0] * 5
    assert first.pred.tolist() == [0, 1, 0, 1, 0]
    np.testing.assert_array_equal(first.uncertainty, outputs[0].uncertainty)
    np.testing.assert_array_equal(first.proba, outputs[0].proba)


def test_a_sample_stops_at_the_first_stage_at_or_below_its_threshold() -> None:
    outputs, available = three_stages()
    result = staged_decision(outputs, [0.1, 0.15], available)
    # u0 <= 0.1: samples 0 (equal), 2; then u1 <= 0.15: samples 1, 4; sample 3 goes on to stage 2
    assert result.stage.tolist() == [0, 1, 0, 2, 1]
    assert result.pred.tolist() == [0, 1, 0, 0, 1]
    np.testing.assert_allclose(result.uncertainty, [0.10, 0.10, 0.05, 0.50, 0.15])
    np.testing.assert_array_equal(result.proba, np.eye(2)[result.pred])
    assert not result.forced.any()


def test_missing_omics_force_a_decision_at_the_last_available_stage() -> None:
    outputs, available = three_stages()
    available[0, 1:] = False  # mRNA only: forced at stage 0 (uncertain there)
    available[1, 2] = False  # no miRNA: stage 1 is certain enough, not forced
    available[3, 2] = False  # no miRNA: uncertain at stage 1, forced there
    available[4, 0] = False  # no mRNA ensemble output: starts at stage 1
    result = staged_decision(outputs, [0.05, 0.15], available)
    assert result.stage.tolist() == [0, 1, 0, 1, 1]
    assert result.forced.tolist() == [True, False, False, True, False]
    assert result.pred.tolist() == [0, 1, 0, 1, 1]


def test_a_sample_without_any_stage_is_an_error_naming_it() -> None:
    outputs, available = three_stages()
    available[[1, 3]] = False
    with pytest.raises(DataError, match=r"2 of 5 samples .*indices 1, 3"):
        staged_decision(outputs, [0.1, 0.1], available)
    with pytest.raises(DataError, match=r"2 of 5 samples .*ids te1, te3"):
        staged_decision(outputs, [0.1, 0.1], available, sample_ids=[f"te{i}" for i in range(5)])
    with pytest.raises(DataError, match=r"2 of 5 samples .*indices 1, 3"):
        choose_thresholds(outputs, np.zeros(5, dtype=int), available)


def test_staged_decision_checks_its_inputs() -> None:
    outputs, available = three_stages()
    with pytest.raises(ConfigError, match="2 numbers"):
        staged_decision(outputs, [0.1], available)
    with pytest.raises(ConfigError, match="NaN"):
        staged_decision(outputs, [0.1, np.nan], available)
    with pytest.raises(DataError, match="column per stage"):
        staged_decision(outputs, [0.1, 0.1], available[:, :2])
    with pytest.raises(DataError, match="is None"):
        staged_decision([outputs[0], None, outputs[2]], [0.1, 0.1], available)
    available[:, 1] = False  # no sample has stage 1: its output may be None
    assert staged_decision([outputs[0], None, outputs[2]], [0.1, 0.1], available).stage.tolist() == [0, 2, 0, 2, 2]
    nan_unc = output([0] * 5, [np.nan] * 5)
    with pytest.raises(DataError, match="NaN or inf uncertainty"):
        staged_decision([nan_unc, outputs[1], outputs[2]], [0.1, 0.1], np.ones((5, 3), dtype=bool))
    with pytest.raises(DataError, match="all 5 samples"):
        staged_decision([output([0], [0.1]), outputs[1], outputs[2]], [0.1, 0.1], np.ones((5, 3), dtype=bool))


def test_fractions_and_tests_saved() -> None:
    """The published ROSMAP split (49, 17, 40 of 106): 46.23 %, 16.04 %; 1 - 203 / 318 of the assays saved."""
    stage = np.repeat([0, 1, 2], [49, 17, 40])
    n = len(stage)
    result = StagedResult(stage, np.zeros(n, int), np.zeros((n, 2)), np.zeros(n), np.zeros(n, bool))
    np.testing.assert_allclose(result.fractions(3), [49 / 106, 17 / 106, 40 / 106])
    assert round(100 * result.fractions(3)[0], 2) == 46.23 and round(100 * result.fractions(3)[1], 2) == 16.04
    np.testing.assert_allclose(result.fractions(4), [49 / 106, 17 / 106, 40 / 106, 0.0])
    assert result.tests_saved(DEFAULT_STAGES) == pytest.approx(1 - 203 / 318)
    assert result.tests_saved() == pytest.approx(1 - 203 / 318)
    # non-nested stages: a sample decided at stage s used the union of stages 0 .. s
    assert result.tests_saved([("a",), ("b",), ("a", "b", "c")]) == pytest.approx(1 - (49 + 34 + 120) / 318)
    everyone_last = StagedResult(np.full(4, 2), *([np.zeros(4)] * 3), np.zeros(4, bool))
    assert everyone_last.tests_saved() == 0.0
    with pytest.raises(ConfigError, match="stage 2"):
        result.fractions(2)
    with pytest.raises(ConfigError, match="stage 2"):
        result.tests_saved(DEFAULT_STAGES[:2])


# ---------------------------------------------------------------------------------------------------------
# thresholds


def test_choose_thresholds_recovers_the_obvious_threshold() -> None:
    """Stage 0 is right exactly when its uncertainty is <= 0.2, stage 1 when <= 0.5, stage 2 always."""
    rng = np.random.default_rng(0)
    n = 100
    y = rng.integers(0, 2, n)
    u0, u1 = rng.random(n), rng.random(n)
    u0[0], u0[1], u1[1] = 0.2, 0.9, 0.5  # exactly at the boundaries: included
    outputs = [
        output(np.where(u0 <= 0.2, y, 1 - y).tolist(), u0.tolist()),
        output(np.where(u1 <= 0.5, y, 1 - y).tolist(), u1.tolist()),
        output(y.tolist(), np.full(n, 0.3).tolist()),
    ]
    available = np.ones((n, 3), dtype=bool)
    thresholds = choose_thresholds(outputs, y, available, candidates=1000)
    assert thresholds == [0.2, 0.5]
    result = staged_decision(outputs, thresholds, available)
    assert (result.pred == y).all()
    # the default 41 quantile candidates still find a perfect (if less early) split here
    coarse = staged_decision(outputs, choose_thresholds(outputs, y, available), available)
    assert (coarse.pred == y).all()


def test_choose_thresholds_prefers_deciding_early_on_ties() -> None:
    """Every stage always right: everyone at stage 0 (its largest uncertainty); stage 1's threshold is moot,
    so the smallest candidate, 0."""
    rng = np.random.default_rng(1)
    n = 30
    y = rng.integers(0, 3, n)
    outputs = [output(y.tolist(), rng.random(n).tolist(), 3) for _ in range(3)]
    thresholds = choose_thresholds(outputs, y, np.ones((n, 3), dtype=bool))
    assert thresholds == [float(outputs[0].uncertainty.max()), 0.0]
    two = choose_thresholds(outputs[:2], y, np.ones((n, 2), dtype=bool))
    assert two == [float(outputs[0].uncertainty.max())]
    assert choose_thresholds(outputs[:1], y, np.ones((n, 1), dtype=bool)) == []


def test_threshold_grid_scores_every_combination_against_the_last_stage() -> None:
    """Each combination's score and shares decided are those of staged_decision; the reference is the score
    of deciding everyone at the last stage; the fractions that reached each stage follow from the shares."""
    rng = np.random.default_rng(2)
    n = 40
    y = rng.integers(0, 2, n)
    outputs = [output(rng.integers(0, 2, n).tolist(), rng.random(n).tolist()) for _ in range(3)]
    available = np.ones((n, 3), dtype=bool)
    grid = threshold_grid(outputs, y, available, candidates=6)
    assert grid.reference == pytest.approx(np.mean(outputs[2].pred == y))
    assert grid.thresholds.shape == (len(grid), 2) and grid.decided.shape == (len(grid), 3)
    for i in range(len(grid)):
        result = staged_decision(outputs, list(grid.thresholds[i]), available)
        assert grid.score[i] == np.mean(result.pred == y)
        np.testing.assert_allclose(grid.decided[i], result.fractions(3))
    np.testing.assert_allclose(grid.reached[:, 0], 1.0)
    np.testing.assert_allclose(grid.reached[:, 1], 1.0 - grid.decided[:, 0])
    np.testing.assert_allclose(grid.reached[:, 2], grid.decided[:, 2])


def test_rule_within_decides_early_as_long_as_the_last_stages_accuracy_holds() -> None:
    """Stage 0 is right for its 60 % most certain samples only, stage 1 never, stage 2 for 90 %: ``best``
    sends the doubtful ones on; ``within`` with no tolerance keeps stage 0's threshold where the staged accuracy
    still reaches stage 2's, and a tolerance lets it decide more at stage 0."""
    n = 100
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, n)
    u0 = np.linspace(0.0, 0.99, n)
    right0 = u0 < 0.6
    last_right = np.arange(n) % 10 != 0  # 90 % right, spread evenly
    outputs = [
        output(np.where(right0, y, 1 - y).tolist(), u0.tolist()),
        output((1 - y).tolist(), np.full(n, 0.5).tolist()),
        output(np.where(last_right, y, 1 - y).tolist(), np.zeros(n).tolist()),
    ]
    available = np.ones((n, 3), dtype=bool)
    grid = threshold_grid(outputs, y, available, candidates=101)
    assert grid.reference == pytest.approx(0.9)
    best = grid.thresholds[grid.choose("best")]
    within = grid.thresholds[grid.choose("within", 0.0)]
    loose = grid.thresholds[grid.choose("within", 0.05)]
    for t in (best, within, loose):
        assert t[1] < 0.5  # stage 1 is always wrong: nobody is decided there
    decided = [staged_decision(outputs, list(t), available) for t in (best, within, loose)]
    accuracy = [float(np.mean(d.pred == y)) for d in decided]
    at_stage0 = [float(np.mean(d.stage == 0)) for d in decided]
    assert accuracy[0] == max(accuracy) and accuracy[0] > 0.9
    assert accuracy[1] >= 0.9 - 1e-12 and at_stage0[1] > at_stage0[0]
    # the loosest threshold that keeps 0.9: one more sample at stage 0 would fall below it
    bigger = grid.thresholds[:, 0][grid.thresholds[:, 0] > within[0]]
    assert all(np.mean(staged_decision(outputs, [t, within[1]], available).pred == y) < 0.9 for t in bigger)
    assert accuracy[2] >= 0.85 - 1e-12 and at_stage0[2] > at_stage0[1]
    assert choose_thresholds(outputs, y, available, candidates=101, rule="within") == list(within)


def test_rule_within_falls_back_to_best_when_nothing_qualifies() -> None:
    """If every combination scores below the last stage (here stage 0 is wrong on everything and its
    uncertainty is never 0), ``within`` takes ``best``'s choice."""
    n = 20
    y = np.arange(n) % 2
    outputs = [output((1 - y).tolist(), np.full(n, 0.3).tolist()), output(y.tolist(), np.zeros(n).tolist())]
    available = np.ones((n, 2), dtype=bool)
    grid = threshold_grid(outputs, y, available)
    assert not grid.feasible(0.0)[grid.thresholds[:, 0] >= 0.3].any()
    assert grid.choose("within") == grid.choose("best")
    assert choose_thresholds(outputs, y, available, rule="within") == [0.0]
    with pytest.raises(ConfigError, match="rule"):
        grid.choose("cheapest")
    with pytest.raises(ConfigError, match="tolerance"):
        grid.choose("within", -0.1)


def test_mean_probability_uncertainty_is_one_minus_the_ensembles_confidence() -> None:
    member_proba = np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.7, 0.3], [0.2, 0.8]]])
    out = EnsembleOutput.from_member_proba(member_proba, uncertainty="mean_probability")
    np.testing.assert_array_equal(out.pred, [0, 1])
    np.testing.assert_allclose(out.uncertainty, [0.2, 0.3])
    sd = EnsembleOutput.from_member_proba(member_proba)
    np.testing.assert_allclose(sd.uncertainty, [0.1, 0.1])


def brute_force(
    outputs: list[EnsembleOutput], y: np.ndarray, available: np.ndarray, criterion: str
) -> tuple[float, list[int]]:
    """Best score and, among the best, the lexicographically largest stage counts, by trying every
    combination of 0 and the observed uncertainties through staged_decision."""
    n_stages = len(outputs)
    grids = [np.unique(np.r_[0.0, outputs[s].uncertainty[available[:, s]]]) for s in range(n_stages - 1)]
    best: tuple[float, list[int]] = (-1.0, [])
    for combo in itertools.product(*grids):
        result = staged_decision(outputs, list(combo), available)
        score = (result.pred == y).mean() if criterion == "accuracy" else f1_score(y, result.pred, average="macro")
        key = (round(float(score), 12), np.bincount(result.stage, minlength=n_stages)[:-1].tolist())
        best = max(best, key)
    return best


@pytest.mark.parametrize(("n_stages", "criterion", "n_classes"), [(3, "accuracy", 2), (3, "f1", 3), (4, "f1", 2)])
def test_choose_thresholds_matches_a_brute_force_search(n_stages: int, criterion: str, n_classes: int) -> None:
    n = 30 if n_stages == 3 else 12
    outputs, y, available = random_outputs(n, n_stages, seed=n_stages + n_classes, n_classes=n_classes)
    available[:, 0] = True  # every sample has at least one stage
    thresholds = choose_thresholds(outputs, y, available, criterion=criterion, candidates=1000)
    result = staged_decision(outputs, thresholds, available)
    score = (result.pred == y).mean() if criterion == "accuracy" else f1_score(y, result.pred, average="macro")
    counts = np.bincount(result.stage, minlength=n_stages)[:-1].tolist()
    assert (round(float(score), 12), counts) == brute_force(outputs, y, available, criterion)
    for s, t in enumerate(thresholds):  # the smallest threshold deciding the same samples: an observed value
        assert t == 0.0 or t in outputs[s].uncertainty[available[:, s]]


def test_choose_thresholds_is_fast() -> None:
    """41^2 combinations for three stages on 100 samples: well under a second."""
    outputs, y, available = random_outputs(100, 3, seed=5)
    available[:, 0] = True
    start = time.perf_counter()
    thresholds = choose_thresholds(outputs, y, available, criterion="f1")
    assert time.perf_counter() - start < 0.5
    assert len(thresholds) == 2


def test_choose_thresholds_checks_its_inputs() -> None:
    outputs, available = three_stages()
    with pytest.raises(ConfigError, match="criterion"):
        choose_thresholds(outputs, np.zeros(5, int), available, criterion="auc")
    with pytest.raises(ConfigError, match="candidates"):
        choose_thresholds(outputs, np.zeros(5, int), available, candidates=1)
    with pytest.raises(DataError, match="5 integer labels"):
        choose_thresholds(outputs, np.zeros(4, int), available)


# ---------------------------------------------------------------------------------------------------------
# end to end


def test_sguq_on_a_simulated_cohort_with_missing_omics() -> None:
    """Three stages trained on a small simulated cohort; test samples lacking methylation or miRNA are decided
    at their last available stage."""
    from sciconv_omics_sguq.cohort_simulator import simulate_cohort
    from sciconv_omics_sguq.mogonet_io import labels, modality_mask, split_mask, to_arrays

    mdata = simulate_cohort(n_train=40, n_test=30, n_features=20, missing_fractions={"meth": 0.2, "mirna": 0.2}, seed=0)
    mask = modality_mask(mdata)
    y = labels(mdata)
    train, test = split_mask(mdata, "train"), split_mask(mdata, "test")
    data = {m: to_arrays(mdata, m) for m in ("mrna", "meth", "mirna")}
    available = np.stack([mask[list(omics)].all(axis=1).to_numpy() for omics in DEFAULT_STAGES], axis=1)

    outputs = []
    for s, omics in enumerate(DEFAULT_STAGES):
        rows_tr, rows_te = train & available[:, s], test & available[:, s]
        members = train_ensemble([data[m][rows_tr] for m in omics], y[rows_tr], n_models=2, seed=s, **FAST)
        out = ensemble_predict(members, [data[m][rows_te] for m in omics])
        outputs.append(out.expand(available[test, s]))
    avail_te = available[test]
    thresholds = choose_thresholds(outputs, y[test], avail_te)
    result = staged_decision(outputs, thresholds, avail_te, sample_ids=list(mdata.obs_names[test]))
    last = 2 - np.argmax(avail_te[:, ::-1], axis=1)
    assert (result.stage <= last).all()
    assert not result.forced[last == 2].any()
    assert result.fractions(3).sum() == pytest.approx(1.0)
    assert 0.0 <= result.tests_saved() < 1.0
