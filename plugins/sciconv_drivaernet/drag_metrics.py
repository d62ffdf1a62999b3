"""The DrivAerNet++ benchmark's error measures of predicted drag coefficients: MSE, MAE, maximum absolute error and
R², overall and per body family (scikit-learn's implementations)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ERROR_KEYS = ("r2", "mse", "mae", "max_ae")


def drag_errors(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """``r2``, ``mse``, ``mae``, ``max_ae`` of ``predicted`` against ``true`` drag coefficients ``(n,)``
    (dimensionless; R² is NaN for fewer than two designs or a constant truth)."""
    from sklearn.metrics import max_error, mean_absolute_error, mean_squared_error, r2_score

    true = np.asarray(true, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if true.shape != predicted.shape or true.ndim != 1 or len(true) == 0:
        raise ValueError(f"expected two equal non-empty vectors, got {true.shape} and {predicted.shape}")
    r2 = float(r2_score(true, predicted)) if len(true) > 1 and np.ptp(true) > 0 else float("nan")
    return {
        "r2": r2,
        "mse": float(mean_squared_error(true, predicted)),
        "mae": float(mean_absolute_error(true, predicted)),
        "max_ae": float(max_error(true, predicted)),
    }


def errors_by_family(
    true: np.ndarray, predicted: np.ndarray, families: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """:func:`drag_errors` of each family's designs, with their count ``n``, by family name (sorted)."""
    families = np.asarray(families)
    out: dict[str, dict[str, float | int]] = {}
    for family in sorted(set(families.tolist())):
        members = families == family
        out[family] = {"n": int(members.sum()), **drag_errors(true[members], predicted[members])}
    return out
