"""Published results of Guney, Oblokulov and Ozkan (IEEE TBME 2021), quoted in reports for comparison.

Accuracy is a fraction, ITR in bits/min with a 0.5 s gaze shift added to the window T. Every number is
from the paper, with 9 occipital channels and leave-one-block-out cross-validation, unless the key
says otherwise.
"""

from __future__ import annotations

CITATION = "Guney et al., IEEE TBME 2021"

# Benchmark dataset (35 subjects), 9 channels: window T in s -> (accuracy, ITR in bits/min).
BENCHMARK_DNN: dict[float, tuple[float, float]] = {
    0.2: (0.5774, 192.4),
    0.3: (0.7289, 239.8),
    0.4: (0.7989, 244.45),
    0.5: (0.8445, 240.4),
    0.6: (0.8845, 235.2),
    0.8: (0.9362, 218.6),
    1.0: (0.9557, 196.0),
}
BENCHMARK_DNN_SE_AT_04 = 0.0281  # standard error of the 0.4 s accuracy
BENCHMARK_STAGE1_ACC_AT_04 = 0.4693  # the global (first-stage) model alone, 0.4 s
BENCHMARK_64CH_ITR_AT_04 = 265.23

# BETA dataset (70 subjects), 9 channels, 0.4 s.
BETA_DNN_AT_04: tuple[float, float] = (0.6752, 188.45)
BETA_DNN_SE_AT_04 = 0.0217
BETA_64CH_ITR_AT_04 = 196.59


def reference_rows(dataset: str) -> dict[float, dict[str, float]]:
    """Published DNN numbers for a dataset (``"benchmark"`` or ``"beta"``), by window:
    ``{T: {"acc": ..., "itr": ...}}``; empty for other datasets."""
    if dataset == "benchmark":
        return {t: {"acc": a, "itr": i} for t, (a, i) in BENCHMARK_DNN.items()}
    if dataset == "beta":
        return {0.4: {"acc": BETA_DNN_AT_04[0], "itr": BETA_DNN_AT_04[1]}}
    return {}
