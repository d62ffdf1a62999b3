"""Aggregation of repeated measurements (subjects, folds, splits, seeds) into a mean and its spread.

The spread is named wherever it is shown: ``SE`` is the standard error of the mean (``sd / sqrt(n)``),
``SD`` the sample standard deviation (``ddof = 1``). With one value both are undefined: the spread is ``nan``
(never 0, which would claim a spread that was not measured) and the text shows the value alone, marked
``"(n=1)"``. Non-finite values are left out and counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Spread = Literal["se", "sd"]
SPREAD_LABEL = {"se": "SE", "sd": "SD"}


@dataclass(frozen=True)
class Summary:
    """``mean`` ± ``spread`` (of kind ``kind``) over ``n`` finite values (``n_dropped`` non-finite left out);
    ``spread`` is ``nan`` when it is undefined (``n`` < 2)."""

    mean: float
    spread: float
    n: int
    kind: Spread
    n_dropped: int = 0

    @property
    def label(self) -> str:
        """``"mean ± SE"`` or ``"mean ± SD"``, for a column header or a caption; ``"value (n=1, no SE)"`` (or
        ``SD``) for one value, which has no spread."""
        if self.n == 1:
            return f"value (n=1, no {SPREAD_LABEL[self.kind]})"
        return f"mean ± {SPREAD_LABEL[self.kind]}"

    def format(self, digits: int = 3, scale: float = 1.0) -> str:
        """``"0.812 ± 0.021"`` (``digits`` decimals, values multiplied by ``scale``), ``"n/a"`` without values,
        the value alone marked ``"0.812 (n=1)"`` for one value (its spread is undefined)."""
        if not math.isfinite(self.mean):
            return "n/a"
        if self.n == 1:
            return f"{self.mean * scale:.{digits}f} (n=1)"
        spread = f"{self.spread * scale:.{digits}f}" if math.isfinite(self.spread) else "n/a"
        return f"{self.mean * scale:.{digits}f} ± {spread}"


def summarize(values: Iterable[float], kind: Spread = "se") -> Summary:
    """The mean of ``values`` and their standard error (``kind="se"``) or standard deviation (``"sd"``); with
    one (finite) value the spread is ``nan``, as both are undefined."""
    if kind not in SPREAD_LABEL:
        raise ValueError(f"summarize: kind must be 'se' or 'sd', got {kind!r}")
    arr = np.asarray(list(values), dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    n = len(finite)
    if n == 0:
        return Summary(math.nan, math.nan, 0, kind, len(arr))
    sd = float(finite.std(ddof=1)) if n > 1 else math.nan
    spread = sd / math.sqrt(n) if kind == "se" else sd  # nan for one value: no spread was measured
    return Summary(float(finite.mean()), spread, n, kind, len(arr) - n)


__all__ = ["SPREAD_LABEL", "Spread", "Summary", "summarize"]
