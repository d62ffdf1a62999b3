"""The published numbers the forecasting report quotes beside a run's own (and nowhere else in the plugin).

Sarveswararao & Ravi (2020) report their numbers on an Indian bank's ATMs, not on NN5, so the table quotes the
NN5 references of the Monash forecasting archive instead: sMAPE (%) and MASE (seasonality 7) on NN5 daily,
56-day horizon, on NN5's official test period (days 736-791), which the public training file does not hold.
"""

from __future__ import annotations

from sciconv.kit import Published

MONASH_SOURCE = "Godahewa et al. 2021 (Monash archive), official NN5 test days, not this holdout"
"""Godahewa et al. 2021, Monash time series forecasting archive (NeurIPS datasets track), table of results."""

MONASH_NN5: tuple[Published, ...] = (
    Published("TBATS (best Monash baseline)", {"smape": 21.19, "mase": 0.858}, source=MONASH_SOURCE),
    Published("ETS (Monash)", {"smape": 21.3}, source=MONASH_SOURCE),
    Published("Seasonal naive (Monash)", {"smape": 26.3}, source=MONASH_SOURCE),
)
"""The NN5 references, in the table's order; metric names ``smape`` and ``mase`` (the run's)."""

__all__ = ["MONASH_NN5", "MONASH_SOURCE"]
