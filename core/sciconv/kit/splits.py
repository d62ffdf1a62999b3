"""Seeded train / validation / test splits: random, stratified by class, or grouped (no group in two splits).

One rounding rule everywhere (:func:`split_sizes`): a split asked for with a fraction ``f > 0`` of ``n`` items
gets ``max(1, round(f * n))`` of them (Python's ``round``: halves to even), a fraction of 0 gets none, and the
training split keeps the rest, which must be at least one. Every split is drawn from
``numpy.random.default_rng(seed)``, so the same seed gives the same split on any machine, and the indices of
each split come back sorted.

Shapes: ``labels`` and ``groups`` are 1-D arrays of ``n`` items; the result maps ``"train"``, ``"val"``,
``"test"`` to sorted ``int64`` index arrays into them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sciconv.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


def split_size(fraction: float, n: int) -> int:
    """How many of ``n`` items a split with ``fraction`` gets: 0 for 0, else ``max(1, round(fraction * n))``."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"a split fraction must be in [0, 1), got {fraction}")
    return 0 if fraction == 0 else max(1, round(fraction * n))


def split_sizes(n: int, val: float = 0.0, test: float = 0.0, *, what: str = "items") -> dict[str, int]:
    """``{"train": .., "val": .., "test": ..}`` counts for ``n`` items (see the module's rounding rule);
    a :class:`DataError` when no training item would be left."""
    n_val, n_test = split_size(val, n), split_size(test, n)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise DataError(
            f"{n} {what} are too few for a validation split of {n_val} and a test split of {n_test} "
            "with at least one left to train on"
        )
    return {"train": n_train, "val": n_val, "test": n_test}


def _sorted(indices: Any) -> np.ndarray:
    return np.sort(np.asarray(indices, dtype=np.int64))


def random_split(
    n: int, seed: int, val: float = 0.0, test: float = 0.0, *, what: str = "items"
) -> dict[str, np.ndarray]:
    """A seeded random split of ``n`` items: one permutation, the first ``test`` items to the test split, the
    next ``val`` to validation, the rest to training."""
    sizes = split_sizes(n, val, test, what=what)
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = sizes["test"], sizes["val"]
    return {
        "train": _sorted(order[n_test + n_val :]),
        "val": _sorted(order[n_test : n_test + n_val]),
        "test": _sorted(order[:n_test]),
    }


def stratified_split(
    labels: Sequence[Any] | np.ndarray,
    seed: int,
    val: float = 0.0,
    test: float = 0.0,
    *,
    n_test: int | None = None,
    n_val: int | None = None,
) -> dict[str, np.ndarray]:
    """A seeded split that keeps each class's share in every split (scikit-learn's
    :class:`~sklearn.model_selection.StratifiedShuffleSplit`, test first, then validation from the rest).

    ``n_test`` / ``n_val`` give exact counts instead of fractions (a count wins over its fraction).
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.asarray(labels)
    n = len(y)
    sizes = split_sizes(n, val if n_val is None else 0.0, test if n_test is None else 0.0, what="samples")
    k_test = sizes["test"] if n_test is None else int(n_test)
    k_val = sizes["val"] if n_val is None else int(n_val)
    if n - k_test - k_val < 1:
        raise DataError(f"{n} samples are too few for {k_test} test and {k_val} validation samples")
    rng = np.random.default_rng(seed)
    rest = np.arange(n)
    out: dict[str, np.ndarray] = {"val": np.zeros(0, np.int64), "test": np.zeros(0, np.int64)}
    for name, k in (("test", k_test), ("val", k_val)):
        if k == 0:
            continue
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=k, random_state=int(rng.integers(2**31 - 1)))
        keep, take = next(splitter.split(np.zeros(len(rest)), y[rest]))
        out[name] = _sorted(rest[take])
        rest = rest[keep]
    out["train"] = _sorted(rest)
    return {s: out[s] for s in SPLITS}


def grouped_split(
    groups: Sequence[Any] | np.ndarray, seed: int, val: float = 0.0, test: float = 0.0, *, what: str = "groups"
) -> dict[str, np.ndarray]:
    """A seeded split in which every group (subject, recording, patient, design) lies in one split only.

    The fractions count groups, not items: the distinct groups (sorted) are split with :func:`random_split`,
    and each item follows its group.
    """
    g = np.asarray(groups)
    names, inverse = np.unique(g, return_inverse=True)
    by_group = random_split(len(names), seed, val, test, what=what)
    return {s: _sorted(np.flatnonzero(np.isin(inverse, idx))) for s, idx in by_group.items()}


def check_disjoint(splits: Mapping[str, np.ndarray], groups: Sequence[Any] | np.ndarray | None = None) -> None:
    """Raise a :class:`DataError` if an item (or, given ``groups``, a group) lies in two splits."""
    seen: dict[Any, str] = {}
    for name, idx in splits.items():
        keys = np.asarray(idx) if groups is None else np.asarray(groups)[np.asarray(idx, dtype=np.int64)]
        for key in np.unique(keys).tolist():
            if key in seen and seen[key] != name:
                what = "item" if groups is None else "group"
                raise DataError(f"{what} {key!r} is in both the {seen[key]} and the {name} split")
            seen[key] = name


__all__ = [
    "SPLITS",
    "check_disjoint",
    "grouped_split",
    "random_split",
    "split_size",
    "split_sizes",
    "stratified_split",
]
