"""The kit's seeded splits: one rounding rule, reproducible, stratified and grouped."""

from __future__ import annotations

import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv.kit import check_disjoint, grouped_split, random_split, split_size, split_sizes, stratified_split


@pytest.mark.parametrize(
    ("fraction", "n", "expected"),
    [(0.0, 10, 0), (0.2, 10, 2), (0.25, 10, 2), (0.35, 10, 4), (0.01, 10, 1), (0.05, 50, 2), (0.5, 5, 2)],
)
def test_one_rounding_rule(fraction: float, n: int, expected: int) -> None:
    assert split_size(fraction, n) == expected  # max(1, round(f * n)), round halves to even; 0 for 0


def test_sizes_leave_at_least_one_to_train() -> None:
    assert split_sizes(10, 0.2, 0.2) == {"train": 6, "val": 2, "test": 2}
    with pytest.raises(DataError, match="3 cases are too few"):
        split_sizes(3, 0.5, 0.5, what="cases")
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        split_size(1.0, 10)


def _check_partition(splits: dict[str, np.ndarray], n: int) -> None:
    together = np.concatenate([splits["train"], splits["val"], splits["test"]])
    assert sorted(together.tolist()) == list(range(n))
    for idx in splits.values():
        assert np.all(np.diff(idx) > 0)  # sorted, no repeats


def test_random_split_is_seeded_and_a_partition() -> None:
    a, b, c = random_split(40, 3, 0.2, 0.25), random_split(40, 3, 0.2, 0.25), random_split(40, 4, 0.2, 0.25)
    _check_partition(a, 40)
    assert {k: len(v) for k, v in a.items()} == {"train": 22, "val": 8, "test": 10}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])
    order = np.random.default_rng(3).permutation(40)  # documented: test first, then validation
    assert np.array_equal(a["test"], np.sort(order[:10])) and np.array_equal(a["val"], np.sort(order[10:18]))


def test_stratified_split_keeps_class_shares() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    splits = stratified_split(labels, 0, val=0.2, test=0.2)
    _check_partition(splits, 100)
    for name, size in (("test", 20), ("val", 20)):
        counts = np.bincount(labels[splits[name]], minlength=3)
        assert counts.sum() == size and np.allclose(counts, [12, 6, 2], atol=1)
    exact = stratified_split(labels, 0, n_test=30)
    assert len(exact["test"]) == 30 and len(exact["val"]) == 0
    assert all(np.array_equal(exact[k], stratified_split(labels, 0, n_test=30)[k]) for k in exact)


def test_grouped_split_never_puts_a_group_in_two_splits() -> None:
    subjects = np.repeat(np.arange(10), 7)
    splits = grouped_split(subjects, 1, val=0.2, test=0.2)
    _check_partition(splits, 70)
    check_disjoint(splits, subjects)
    assert {k: len(np.unique(subjects[v])) for k, v in splits.items()} == {"train": 6, "val": 2, "test": 2}
    with pytest.raises(DataError, match="group 3 is in both"):
        check_disjoint({"train": np.array([0, 21]), "test": np.array([22])}, subjects)
