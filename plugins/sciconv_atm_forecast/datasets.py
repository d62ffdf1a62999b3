"""The ATM withdrawal datasets as sciconv dataset components.

Both read a file in the NN5 layout with :func:`~sciconv_atm_forecast.nn5_io.read_series_table` (the simulated one
writes it first, so the real reader is what reads it) and return a :class:`~sciconv.DataBundle`:

- ``info["table"]``: the :class:`~sciconv_atm_forecast.nn5_io.SeriesTable` as read (``values`` ``(n_series,
  n_days)``, NaN where a day is missing). The forecasting task works from it: it holds out the last days itself and
  imputes only the days it trains on, so that held-out actuals are never filled in.
- ``train``: one item per series, ``(x, i)`` with ``x`` float32 ``(1, n_days)`` the series with missing days filled
  by the same-weekday median (:func:`~sciconv_atm_forecast.nn5_io.impute_same_weekday_median`) and ``i`` its row;
  for generic tools (the conformance kit). ``val`` and ``test`` are ``None``: the task makes its own holdout.
- ``spec``: ``input_shape = (1, n_days)``, ``task_type="forecasting"``, no ``sfreq`` (one value a day is not a
  rate worth giving in Hz: ``units`` says the series are daily, and ``spec.extra["sampling_interval"]`` is
  ``"1 day"``), the series ids and first/last dates in ``spec.extra``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_simulation, require_file, require_root

NN5_FILE = "nn5_daily_train.csv"
DAILY_UNITS = "daily series, cash withdrawn per day (NN5 units)"
"""``spec.units`` of the ATM datasets: what the values are and that there is one a day (``spec.sfreq`` is None)."""


def bundle_from(table: Any, name: str) -> DataBundle:
    """Wrap a :class:`~sciconv_atm_forecast.nn5_io.SeriesTable` as a :class:`DataBundle` (see the module
    docstring)."""
    import numpy as np
    import torch
    from torch.utils.data import TensorDataset

    from sciconv_atm_forecast.nn5_io import impute_same_weekday_median

    imputed, _ = impute_same_weekday_median(table.values, table.dates)
    x = torch.from_numpy(imputed.astype(np.float32)).unsqueeze(1)
    spec = DataSpec(
        input_shape=(1, table.n_days),
        n_outputs=1,
        task_type="forecasting",
        sfreq=None,  # one value a day: not a rate in Hz (the report would print 1.15741e-05 Hz)
        units=DAILY_UNITS,
        extra={
            "dataset": name,
            "sampling_interval": "1 day",
            "ids": list(table.ids),
            "first_date": str(table.dates[0]),
            "last_date": str(table.dates[-1]),
            "n_series": table.n_series,
            "n_days": table.n_days,
        },
    )
    info = {
        "table": table,
        "source": table.source,
        "missing_fraction": float(table.missing_fraction),
    }
    train = TensorDataset(x, torch.arange(table.n_series))
    return DataBundle(train=train, val=None, test=None, spec=spec, info=info)


class NN5Dataset(DatasetBase):
    """Daily ATM withdrawals in the NN5 layout (or the long layout: series id, date, value).

    Args:
        root: the file, or a folder holding ``nn5_daily_train.csv`` (the name of the published file).
        layout: ``auto`` (from the header), ``wide`` or ``long``.
        fill_gaps: insert days absent from the calendar as missing values instead of failing.
        name: the dataset's name in reports (default the file's stem).
    """

    def __init__(
        self, root: str | None = None, layout: str = "auto", fill_gaps: bool = False, name: str | None = None
    ) -> None:
        self.root = root
        self.layout = layout
        self.fill_gaps = fill_gaps
        self.name = name

    def _path(self) -> Path:
        """The file to read: ``root`` itself, or ``root/nn5_daily_train.csv`` when ``root`` is a folder."""
        path = require_root(
            self.root,
            "atm-forecast.nn5",
            f"an NN5-layout file (or a folder holding {NN5_FILE})",
            kind="any",
        )
        if path.is_dir():
            return require_file(path / NN5_FILE, f"the folder given to hold {NN5_FILE}; else give the file itself")
        return path

    def validate(self) -> None:
        if self.layout not in ("auto", "wide", "long"):
            raise ConfigError(f"dataset.params.layout: expected auto, wide or long, got {self.layout!r}")
        self._path()

    def load(self) -> DataBundle:
        from sciconv_atm_forecast.nn5_io import read_series_table

        self.validate()
        path = self._path()
        table = read_series_table(path, layout=self.layout, fill_gaps=bool(self.fill_gaps))  # type: ignore[arg-type]
        return bundle_from(table, self.name or path.stem)


class SimulatedATMDataset(DatasetBase):
    """Simulated daily ATM withdrawals (:func:`~sciconv_atm_forecast.atm_simulator.simulate_atm_withdrawals`:
    weekly profiles, yearly seasonality, paydays, holidays, level shifts, noise, missing days), written in the NN5
    layout and read back with the real reader.

    Args:
        n_series, start, n_days, seed: the simulator's size and seed (NN5: 111 series, 735 days from 1996-03-18).
        simulator: further keyword arguments of the simulator (``noise_sd``, ``missing_rate``, ...).
        cache_dir: the simulation cache (:func:`sciconv.kit.cached_simulation`): the file is written once, under
            ``<cache_dir>/atm-<hash of the parameters>``, and read from there on later runs; ``None``: the default
            cache (``$SCICONV_CACHE_DIR/simulations``, or ``~/.cache/sciconv/simulations``).
    """

    def __init__(
        self,
        n_series: Annotated[int, Field(ge=1, strict=True)] = 111,
        start: str = "1996-03-18",
        n_days: Annotated[int, Field(ge=1, strict=True)] = 735,
        seed: int = 0,
        simulator: dict[str, Any] | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self.n_series = n_series
        self.start = start
        self.n_days = n_days
        self.seed = seed
        self.simulator = simulator
        self.cache_dir = cache_dir

    def _kwargs(self) -> dict[str, Any]:
        return {
            "n_series": self.n_series,
            "start": self.start,
            "n_days": self.n_days,
            "seed": self.seed,
            **dict(self.simulator or {}),
        }

    def validate(self) -> None:
        # n_series and n_days are checked by the pipeline against the signature (integers >= 1)
        if self.simulator is not None and not isinstance(self.simulator, dict):
            raise ConfigError(
                f"dataset.params.simulator: expected a mapping of simulator settings, got {self.simulator!r}"
            )
        import inspect

        from sciconv_atm_forecast.atm_simulator import simulate_atm_withdrawals

        allowed = set(inspect.signature(simulate_atm_withdrawals).parameters)
        unknown = sorted(set(self._kwargs()) - allowed)
        if unknown:
            raise ConfigError(
                f"dataset.params.simulator: unknown setting(s) {', '.join(unknown)}; "
                f"the simulator takes {', '.join(sorted(allowed))}"
            )

    def load(self) -> DataBundle:
        from sciconv_atm_forecast.atm_simulator import SIMULATOR_VERSION, write_simulated_nn5
        from sciconv_atm_forecast.nn5_io import read_series_table

        self.validate()
        kwargs = self._kwargs()
        name = f"simulated ATMs (seed {self.seed})"
        try:
            folder = cached_simulation(
                "atm",
                kwargs,
                lambda tmp: write_simulated_nn5(tmp, **kwargs),
                version=SIMULATOR_VERSION,
                cache_dir=self.cache_dir,
            )
            return bundle_from(read_series_table(folder / NN5_FILE), name)
        except (TypeError, ValueError) as exc:
            raise DataError(f"simulated ATM data: {exc}") from None
