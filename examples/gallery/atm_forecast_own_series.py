"""Forecast your own ATM cash withdrawals: a daily pandas table in the NN5 layout, your own network.

A cash-logistics analyst has one row per day and one column per ATM (the amount withdrawn, blank where the
machine reported nothing) and must say how much cash each ATM needs over the next weeks. Here that table is a
pandas DataFrame written as a ``;``-separated CSV in the NN5 competition's layout, read by the plugin's
``atm-forecast.nn5`` dataset. The chaos-feature protocol (delay embedding from ACF + Cao's method, recursive
multi-step forecasts, sMAPE/MASE on held-out days) compares a network of your own, in the place of the paper's
1D CNN, with a random forest, seasonal naive and ETS, then forecasts the weeks after a newer export of the table.
Settings: 8 ATMs, 364 days, a 28-day horizon (and a 28-day validation window), chaos features only, 20 forest
trees, at most 15 epochs of your network; about 15 s on 2 CPU cores (ETS, fitted per ATM, takes most of it).

Run: python examples/gallery/atm_forecast_own_series.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch import nn

import sciconv
from sciconv_atm_forecast.atm_simulator import simulate_atm_withdrawals

# Everything the script writes goes under OUT: by default a new folder each time, so a second run overwrites nothing.
STAMP = time.strftime("%Y%m%d-%H%M%S")
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("gallery-output", Path(__file__).stem, STAMP)
OUT.mkdir(parents=True, exist_ok=True)
HORIZON = 28  # days to forecast (NN5 used 56)

# %%
# Your data, in your field's format
# ---------------------------------
# The usual starting point is a pandas DataFrame indexed by date with one column of daily withdrawals per ATM.
# We make one with the plugin's simulator (weekly profiles, paydays, holidays, level shifts, outages and blank
# days) for 52 weeks, plus 28 more days that arrive later (used at the end). Your own frame would come from
# pd.read_csv / pd.read_sql instead.
n_days = 364
everything = simulate_atm_withdrawals(n_series=8, start="2023-06-05", n_days=n_days + HORIZON, seed=3).to_frame()
frame = everything.iloc[:n_days]  # the days you have today
print(f"your table: {frame.shape[0]} days x {frame.shape[1]} ATMs, {frame.isna().mean().mean():.1%} blank")
print(frame.iloc[:3, :5].round(2).to_string())

# The NN5 layout is plain pandas: ';'-separated, a 'Date' column of ISO dates, one column per series, blanks for
# missing days. The folder (or the file itself) is what dataset.params.root points at.
data_file = OUT / "data" / "nn5_daily_train.csv"
data_file.parent.mkdir(parents=True, exist_ok=True)
frame.to_csv(data_file, sep=";", index_label="Date", float_format="%.3f", date_format="%Y-%m-%d")

# atm-forecast-nn5 is the pipeline for a file of your own. The overrides make it small: two of the paper's
# families (seasonal naive and ETS always run as references), the chaos features only (the paper also fits each
# family on the bare series: variants [chaos, nochaos]), and forecast.csv pinned to your network (by default it holds
# the best model on the validation window).
pipe = sciconv.load_pipeline(
    "atm-forecast-nn5",
    {
        "dataset.params.root": str(data_file.parent),
        "task.params.horizon": HORIZON,
        "task.params.models": ["rf", "cnn1d"],
        "task.params.variants": ["chaos"],
        "task.params.model_params": {
            "rf": {"n_estimators": 20, "n_jobs": 1},
            "cnn1d": {"epochs": 15},
            "ets": {"candidates": [["add", None, False, "add"]]},
        },
        "task.params.ensemble_size": 0,
        "task.params.forecast_model": "cnn1d",
        "task.params.plot_series": 2,
        "parallel.n_jobs": 1,
        "train.progress": False,
    },
)


# %%
# Your network
# ------------
# The task turns each day t into one row: the delay vector [x_(t-(m-1)tau), ..., x_t] of the ATM's scaled
# withdrawals (m and tau come from the data), then the one-hot day of week of t + 1; its networks predict x_(t+1).
# The pipeline's model (atm-forecast.cnn1d) fills the 'cnn1d' family; a network of your own takes its place. It
# gets the DataSpec, whose extra["n_lags"] and extra["n_exog"] give the row's layout, and maps (N, n_lags + n_exog)
# to (N,). Ours: a gated linear unit over the delay vector, beside a direct linear path from the day of week.


class MyNet(nn.Module):
    """Delay vector -> gated hidden units -> next day; the day of week adds a learned offset. (N, F) -> (N,)."""

    def __init__(self, spec: sciconv.DataSpec, hidden: int = 16) -> None:
        super().__init__()
        self.n_lags = int(spec.extra["n_lags"])
        n_exog = int(spec.extra["n_exog"])
        self.gate = nn.Linear(self.n_lags, 2 * hidden)
        self.out = nn.Linear(hidden, 1)
        self.weekday = nn.Linear(n_exog, 1, bias=False) if n_exog else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.out(nn.functional.glu(self.gate(x[:, : self.n_lags]), dim=1)).squeeze(-1)
        return y + self.weekday(x[:, self.n_lags :]).squeeze(-1) if self.weekday is not None else y


pipe.model = MyNet
pipe.config.model.params = {"hidden": 16}

# %%
# Run
# ---
# The last 28 days are held out and scored; the 28 days before them pick the best model. Every model is then
# refitted on all training days and forecasts the held-out days recursively, one day at a time.
result = pipe.run(run_dir=OUT / "run")

# %%
# Read the metrics
# ----------------
# sMAPE (%, symmetric mean absolute percentage error) and MASE (error relative to a weekly seasonal naive
# forecast in the training days; below 1 beats it) on the held-out days, averaged over ATMs. The run folder's
# report.md puts them in one table with the paired tests between models and the plots. On one year of eight ATMs
# the per-ATM ETS usually wins; the pooled learners gain with more ATMs (NN5 has 111) and more history.
m = result.metrics
# Your network's metrics carry the family name it fills (cnn1d); the report names it MyNet.
for name in ("cnn1d", "rf", "ets", "snaive"):
    print(f"{name:>7}: sMAPE {m[f'{name}.smape']:6.2f} %   MASE {m[f'{name}.mase']:.3f}")
print(f"embedding m={m['embedding_dim']:.0f}, tau={m['embedding_lag']:.0f}; report: {result.run_dir / 'report.md'}")

# %%
# One plot
# --------
# Forecast against what was withdrawn, for two ATMs over the held-out days: the picture an analyst shows
# before trusting a cash order.
forecast = pd.read_csv(result.run_dir / "forecast.csv", index_col=0)
held_out = frame.iloc[-HORIZON:]
fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
for ax, atm in zip(axes, frame.columns[:2], strict=True):
    history = frame[atm].iloc[-HORIZON - 42 : -HORIZON]
    ax.plot(history.index, history, color="0.5", lw=1, label="history")
    ax.plot(held_out.index, held_out[atm], color="k", lw=1.5, label="withdrawn (held out)")
    ax.plot(held_out.index, forecast.loc[atm].to_numpy(), color="C1", lw=1.5, label="MyNet forecast")
    ax.set_ylabel(f"{atm}\ncash / day")
axes[0].legend(loc="upper left", fontsize=8, ncols=3)
fig.autofmt_xdate()
fig.tight_layout()
fig.savefig(OUT / "atm_forecast_own_series.png", dpi=100)
plt.close(fig)

# %%
# New data
# --------
# Four weeks later the bank exports the table again, now 28 days longer. The finished run forecasts the 28 days
# after the new file's last day with what it saved in run/trained/ (the chosen model's weights, the embedding,
# the preprocessing); nothing is retrained. forecast.csv and predictions.csv land in OUT/predictions.
new_root = OUT / "new_data"
new_root.mkdir(parents=True, exist_ok=True)
everything.to_csv(
    new_root / "nn5_daily_train.csv", sep=";", index_label="Date", float_format="%.3f", date_format="%Y-%m-%d"
)
prediction = sciconv.load_run(result.run_dir).predict(
    {"dataset.params.root": str(new_root)}, out=OUT / "predictions", model=MyNet
)
table = prediction.tables["predictions"]
print(table.head().to_string(index=False))
print(f"{len(table)} forecast rows ({table['date'].min()} to {table['date'].max()}) in {OUT / 'predictions'}")
