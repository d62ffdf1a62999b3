"""The ATM cash demand forecasting task (Sarveswararao & Ravi 2020, "ATM cash demand forecasting in an Indian bank
with chaos and deep learning"), on NN5-layout data.

Protocol (:class:`ForecastTask`):

1. **Holdout.** With ``holdout=True`` (the default) the last ``horizon`` days of the file are held out and scored;
   with ``holdout=False`` the models train on the whole file and forecast the ``horizon`` days after its end
   (nothing is scored then but the validation window). Inside the training part the last ``val_days`` days
   (default ``horizon``) are a validation window: every model is fitted on the days before it and forecasts it,
   and the best validated model is the pipeline's choice (``best_model``, and the one ``forecast.csv`` holds).
   Every model is then refitted on the whole training part and forecasts the horizon.
2. **Missing days** are filled with the same-weekday median of the days a fit may see
   (:func:`~sciconv_atm_forecast.nn5_io.impute_same_weekday_median`), separately for the validation fit and the
   final fit, so no held-out value leaks into training; held-out actuals are never filled in: a missing actual is
   skipped when scoring.
3. **Scale.** Each series is divided by its mean over the days the fit may see, so that one model can be pooled
   over series of different levels; forecasts are multiplied back.
4. **Chaos modelling** (the paper): per series, the delay ``tau`` from the autocorrelation function
   (:func:`~sciconv_atm_forecast.phase_space.acf_lag`) and the embedding dimension ``m`` from Cao's method
   (:func:`~sciconv_atm_forecast.phase_space.cao_embedding`), on the validation fit's days. The pooled models need
   one design, so the embedding used is the most common ``(m, tau)`` over the series (the report gives their
   distribution; ``embedding.dim``/``embedding.lag`` fix them instead). The "chaos" input of a day ``t`` is the
   delay vector ``[x_{t-(m-1)tau}, ..., x_t]`` plus the one-hot day of week of ``t + 1``; the variant without
   chaos features (suffix ``_nochaos``) is the univariate series, ``x_t`` plus the same day of week, so the two
   differ in the chaos features only.
5. **Models**: the paper's eight families (:mod:`~sciconv_atm_forecast.models.zoo`): ARIMA, random forest, SVR,
   MLP, GMDH, GRNN, LSTM and 1D CNN (the last two in torch, trained by the core's public
   :class:`~sciconv.context.Trainer`, the CNN's convolutions in ``sciconv.conv``); seasonal naive and ETS as
   reference baselines; and ``ensemble``, the mean of the ``ensemble_size`` best validated models' forecasts. The
   two networks are registered models: the family the pipeline's ``model:`` names (``atm-forecast.cnn1d`` in both
   pipelines) is built by that model's factory with its ``model.params``; the other by the registered model of its
   family (``atm-forecast.lstm``, or ``atm-forecast.cnn1d``) with ``model_params.<family>.module_params``. A
   network of the user's own (``pipe.model = MyNet``, recorded as ``python:<module>:<class>``) takes the place of
   the family the pipeline's ``model:`` names (the CNN when that name is itself a ``python:`` reference, as in a
   run repeated from a scripted run's ``config.yaml``); the run keeps which family it built (``trained/forecast.json``,
   ``pipeline_model``), so ``predict`` builds that family's network with the same factory.
   ARIMA's chaos variant puts its autoregressive terms at the embedding's lags (``1, 1 + tau, ..., 1 + (m-1) tau``,
   the delay vector as an AR polynomial) with the weekly seasonal difference and MA; ``arima_nochaos`` compares
   ARIMA orders by AIC (ARIMA takes no day-of-week features here: its weekly seasonal part plays that role).
   Seasonal naive and ETS are univariate and have one variant.
6. **Multi-step forecasts are recursive**: the pooled models are one-step-ahead maps from the reconstructed state
   to the next value (what a phase-space model is: the embedding theorem gives a map from state to next state),
   so the forecast of day ``t + 1`` is fed back as the newest delay coordinate for day ``t + 2``, and so on for
   the horizon. A direct strategy would need one model per horizon day (56 per family) and would not use the
   dynamics the chaos features reconstruct; the price of recursion is error accumulation, which the validation
   window measures. ARIMA, ETS and seasonal naive forecast the horizon natively, one fit per series: the series
   are independent jobs run under the pipeline's ``parallel`` section (``parallel.n_jobs`` worker processes, or
   shared among the ranks of a DDP run; the fits are deterministic, so the forecasts do not depend on it).
   Forecasts are clipped at 0.
7. **Scores**: sMAPE and MASE (seasonality 7, scaled by the training part) per series, averaged
   (:mod:`~sciconv_atm_forecast.metrics`); paired tests across series (t-test and Wilcoxon) of every model against
   the chosen one, and of each family with against without chaos features.
"""

from __future__ import annotations

import inspect
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from sciconv import ResultRow, TaskBase, TaskResult
from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv_atm_forecast.features import N_EXOG

DEFAULT_MODELS: tuple[str, ...] = ("arima", "rf", "svr", "mlp", "gmdh", "grnn", "lstm", "cnn1d")
BASELINES: tuple[str, ...] = ("snaive", "ets")

# A count (not a bool, not a float) of at least 1 / 0: pydantic's strict int, as the pipeline checks it.
PositiveInt = Annotated[int, Field(ge=1, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]

NETWORK_FAMILIES: tuple[str, ...] = ("mlp", "lstm", "cnn1d")
"""The families that train a neural network by gradient descent (the report lists those that ran, with their
settings)."""

FIT_MARGIN_DAYS = 3 * 7 + 2
"""The first fit (the days before the validation window) must be at least the validation window plus this many
days (three weeks and two): the first fit has at least three weeks more history than the window it forecasts."""

NET_MODELS: dict[str, str] = {"cnn1d": "atm-forecast.cnn1d", "lstm": "atm-forecast.lstm"}
"""The registered model that builds each deep family's network when the pipeline's ``model:`` is not it."""

# the pipeline's model name -> the deep family it builds (the old names are deprecated aliases)
_PIPELINE_MODEL_FAMILY = {
    "atm-forecast.cnn1d": "cnn1d",
    "atm-forecast.lstm": "lstm",
    "atm.cnn1d": "cnn1d",
    "atm.lstm": "lstm",
}

_PYTHON_REFERENCE = "python:"
"""How a run's ``config.yaml`` names a model given as a Python object: ``python:<module>:<qualified name>``."""

OWN_MODEL_FAMILY = "cnn1d"
"""The family a network of the user's own builds when the pipeline's ``model:`` is a ``python:`` reference (the
family both pipelines' ``model:`` names)."""


@dataclass(frozen=True)
class PipelineModel:
    """The pipeline's model as this task uses it: the deep family whose network it builds (``cnn1d``, ``lstm``, or
    ``None`` for neither), its name (a registered name, or ``python:<module>:<qualified name>`` for a factory of
    the user's own) and whether it is such a factory (``own``)."""

    family: str | None
    name: str
    own: bool = False

    @property
    def label(self) -> str:
        """How the report names it: the registered name, or the class (factory) name of the user's own."""
        return self.name.rpartition(":")[2] if self.own else self.name

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "name": self.name, "own": self.own}

    @classmethod
    def by_name(cls, name: str | None) -> PipelineModel:
        """The pipeline's model as its configured ``name`` says: a registered network builds its family, a
        ``python:`` reference the :data:`OWN_MODEL_FAMILY`, any other name neither."""
        name = name or ""
        if name.startswith(_PYTHON_REFERENCE):
            return cls(OWN_MODEL_FAMILY, name, own=True)
        return cls(_PIPELINE_MODEL_FAMILY.get(name), name)

    @classmethod
    def of_run(cls, ctx: Any, families: Sequence[str]) -> PipelineModel:
        """The pipeline's model of a run: the family its configured name gives, and, when that family runs, the
        factory the run was given (``pipe.model = MyNet`` leaves the configured name as it was), named by its
        registered name or as ``python:<module>:<qualified name>``."""
        name = getattr(getattr(ctx.config, "model", None), "name", None)
        by_name = cls.by_name(name)
        if by_name.family is None or by_name.family not in families:
            return by_name
        factory = ctx.model_factory
        if name in _PIPELINE_MODEL_FAMILY and factory is ctx.model_factory_named(name):
            return cls(by_name.family, NET_MODELS[by_name.family])
        target = factory if inspect.isclass(factory) or inspect.isfunction(factory) else type(factory)
        return cls(by_name.family, f"{_PYTHON_REFERENCE}{target.__module__}:{target.__qualname__}", own=True)

    @classmethod
    def of_trained(cls, ctx: Any, state: Mapping[str, Any]) -> PipelineModel:
        """The pipeline's model as the run recorded it (``trained/forecast.json``); by its configured name for a run
        that recorded none."""
        recorded = state.get("pipeline_model")
        if isinstance(recorded, Mapping) and "family" in recorded:
            return cls(recorded["family"], str(recorded.get("name", "")), bool(recorded.get("own", False)))
        return cls.by_name(getattr(getattr(ctx.config, "model", None), "name", None))


def _embedding_int(name: str, value: Any, minimum: int = 1) -> int:
    """``task.params.embedding.<name>`` as an integer >= ``minimum`` (a key of a mapping, so not in the signature)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"task.params.embedding.{name}: expected an integer >= {minimum}, got {value!r}")
    return value


@dataclass
class Embedding:
    """The delay embedding the pooled models use, and what ACF and Cao's method gave per series."""

    dim: int
    lag: int
    dims: np.ndarray  # (n_series,) Cao's m per series
    lags: np.ndarray  # (n_series,) tau per series
    deterministic: np.ndarray  # (n_series,) Cao's E2 flag
    chosen_by: str


@dataclass
class Round:
    """One fit-and-forecast round: forecasts (n_series, h) in original units per model, fit seconds, notes."""

    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per trained network (model name, e.g. ``mlp_nochaos``): its family and the settings it trained with, as
    :func:`network_settings` gives them."""
    models: dict[str, Any] = field(default_factory=dict)
    """The fitted pooled models by name (kept by the final round only, for ``predict``)."""


def scaled_history(raw: np.ndarray, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The preprocessing of a fit (and of a forecast from a history): missing days filled by the same-weekday
    median, each series divided by its mean (1 where that is not positive). Returns ``(filled, scale, z)``,
    ``scale`` (n_series, 1)."""
    from sciconv_atm_forecast.nn5_io import impute_same_weekday_median

    filled, _ = impute_same_weekday_median(raw, dates)
    scale = filled.mean(axis=1, keepdims=True)
    scale[~(scale > 0)] = 1.0
    return filled, scale, filled / scale


def recursive_forecast(model: Any, z: np.ndarray, target_dates: np.ndarray, dim: int, lag: int) -> np.ndarray:
    """The recursive multi-step forecast of a pooled one-step model from the scaled histories ``z``
    (n_series, n): each day's forecast (clipped at 0) is fed back as the newest delay coordinate. Returns the
    scaled forecasts (n_series, len(target_dates))."""
    from sciconv_atm_forecast.features import next_row

    n, h = z.shape[1], len(target_dates)
    history = np.empty((z.shape[0], n + h))
    history[:, :n] = z
    for step in range(h):
        row = next_row(history[:, : n + step], target_dates[step], dim, lag, dow=True)
        history[:, n + step] = np.maximum(model.predict(row), 0.0)
    return history[:, n:]


def series_runs(
    family: str, params: Mapping[str, Any], variants: Sequence[tuple[str, tuple[int, int]]]
) -> list[tuple[str, dict[str, Any]]]:
    """The per-series models of ``family`` (``arima``, ``ets``, ``snaive``) as ``(name, parameters)``: ARIMA's
    chaos variant puts its AR terms at the embedding's lags."""
    if family != "arima":
        return [(family, dict(params))]
    runs = []
    for variant, (dim, lag) in variants:
        name = "arima" if variant == "chaos" else "arima_nochaos"
        extra = dict(params)
        if variant == "chaos":
            ar = [1 + k * lag for k in range(dim)]
            extra.setdefault("orders", [(ar, 0, 0), (ar, 0, 1)])
        runs.append((name, extra))
    return runs


class ForecastTask(TaskBase):
    """Chaos-feature ATM cash demand forecasting, every model family of the paper and the reference baselines.

    See the module docstring for the protocol.

    Args:
        horizon: days forecast (NN5: 56).
        holdout: hold the last ``horizon`` days of the file out and score them (else forecast past its end).
        val_days: the validation window inside the training part (default ``horizon``).
        models: the families compared (default the paper's eight); ``snaive`` and ``ets`` are always added.
        variants: ``chaos`` and/or ``nochaos`` (default both).
        embedding: ``dim`` and ``lag`` (``auto`` or an integer), ``lag_rule`` (``first_zero``, ``first_minimum``,
            ``1/e``) and ``max_dim`` of Cao's method.
        model_params: per family, keyword arguments of its factory (e.g. ``{rf: {n_estimators: 500}}``); the
            pipeline's ``model.params`` go to the deep family the pipeline's model names.

    Models: the pipeline's ``model:`` (``atm-forecast.cnn1d``) builds the network of its family; the other deep
    family's network is built by the registered model ``atm-forecast.lstm`` (or ``atm-forecast.cnn1d`` when the
    pipeline's model is the LSTM): both through the run context's factories, trained with the core's
    :class:`~sciconv.context.Trainer`. A factory of the user's own (``pipe.model = MyNet``) builds the network of
    the family the configured ``model:`` names (:class:`PipelineModel`), and ``predict`` rebuilds it with the
    factory it is given.
        ensemble_size: how many of the best validated models the ``ensemble`` averages (0: no ensemble).
        forecast_model: the model whose forecasts ``forecast.csv`` holds (``auto``: the best validated).
        plot_series: how many series the forecast plot shows.
    """

    def __init__(
        self,
        horizon: PositiveInt = 56,
        holdout: bool = True,
        val_days: PositiveInt | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        variants: Sequence[str] = ("chaos", "nochaos"),
        embedding: Mapping[str, Any] | None = None,
        model_params: Mapping[str, Mapping[str, Any]] | None = None,
        ensemble_size: NonNegativeInt = 3,
        forecast_model: str = "auto",
        plot_series: NonNegativeInt = 4,
    ) -> None:
        self.horizon = horizon
        self.holdout = holdout
        self.val_days = val_days
        self.models = models
        self.variants = variants
        self.embedding = embedding
        self.model_params = model_params
        self.ensemble_size = ensemble_size
        self.forecast_model = forecast_model
        self.plot_series = plot_series

    # -- parameters -------------------------------------------------------------------------------------

    def _embedding_params(self) -> dict[str, Any]:
        params = {"dim": "auto", "lag": "auto", "lag_rule": "first_zero", "max_dim": 15}
        extra = dict(self.embedding or {})
        unknown = sorted(set(extra) - set(params))
        if unknown:
            raise ConfigError(
                f"task.params.embedding: unknown key(s) {', '.join(unknown)}; expected {', '.join(params)}"
            )
        params.update(extra)
        for key in ("dim", "lag"):
            if params[key] != "auto":
                _embedding_int(key, params[key])
        if params["lag_rule"] not in ("first_zero", "first_minimum", "1/e"):
            raise ConfigError(
                f"task.params.embedding.lag_rule: expected first_zero, first_minimum or 1/e, got {params['lag_rule']!r}"
            )
        _embedding_int("max_dim", params["max_dim"], 2)
        return params

    def _families(self) -> list[str]:
        from sciconv_atm_forecast.models.zoo import MODEL_FAMILIES

        if isinstance(self.models, str) or not self.models:
            raise ConfigError(f"task.params.models: expected a list of model families, got {self.models!r}")
        families = []
        for name in [*self.models, *BASELINES]:
            if name not in MODEL_FAMILIES:
                from sciconv.errors import did_you_mean

                raise ConfigError(
                    f"task.params.models: unknown family {name!r}{did_you_mean(name, MODEL_FAMILIES)}; "
                    f"known: {', '.join(MODEL_FAMILIES)}"
                )
            if name not in families:
                families.append(name)
        return families

    def validate(self) -> None:
        # horizon, val_days, ensemble_size, plot_series: checked by the pipeline against the signature
        if not isinstance(self.holdout, bool):
            raise ConfigError(f"task.params.holdout: expected true or false, got {self.holdout!r}")
        if isinstance(self.variants, str) or not self.variants or not set(self.variants) <= {"chaos", "nochaos"}:
            raise ConfigError(f"task.params.variants: expected a list of chaos and/or nochaos, got {self.variants!r}")
        self._embedding_params()
        self._families()
        if self.model_params is not None:
            if not isinstance(self.model_params, Mapping):
                raise ConfigError(
                    f"task.params.model_params: expected a mapping family -> params, got {self.model_params!r}"
                )
            from sciconv_atm_forecast.models.zoo import MODEL_FAMILIES, SERIES_FAMILIES

            unknown = sorted(set(self.model_params) - set(MODEL_FAMILIES))  # known families not run are ignored
            if unknown:
                raise ConfigError(
                    f"task.params.model_params: unknown model family {', '.join(unknown)}; "
                    f"known: {', '.join(MODEL_FAMILIES)}"
                )
            for family in SERIES_FAMILIES:
                if "n_jobs" in (self.model_params.get(family) or {}):
                    raise ConfigError(
                        f"task.params.model_params.{family}.n_jobs: the per-series fits run in the pipeline's "
                        "parallel.n_jobs worker processes; set that instead"
                    )
        names = self.model_names()
        if self.forecast_model != "auto" and self.forecast_model not in names:
            raise ConfigError(
                f"task.params.forecast_model: expected auto or one of this run's models ({', '.join(names)}), "
                f"got {self.forecast_model!r}"
            )

    def model_names(self) -> list[str]:
        """The names of every model this run scores (``<family>``, ``<family>_nochaos``, baselines, ``ensemble``)."""
        from sciconv_atm_forecast.models.zoo import family_kind

        names = []
        for family in self._families():
            if family_kind(family) == "series" and family != "arima":
                names.append(family)
                continue
            for variant in ("chaos", "nochaos"):
                if variant in self.variants:
                    names.append(family if variant == "chaos" else f"{family}_nochaos")
        if self.ensemble_size > 0:
            names.append("ensemble")
        return names

    def model_spec(self, spec: DataSpec) -> DataSpec:
        """The spec of one design row of the chaos variant: ``(m + 7,)`` inputs (delay vector, day of week), one
        output, ``extra`` ``n_lags = m`` and ``n_exog = 7``. ``m`` is ``embedding.dim`` when fixed; with ``auto``
        it is chosen per run from the data, and this spec uses 7, Cao's dimension on most NN5 series."""
        from sciconv_atm_forecast.features import row_spec

        dim = self._embedding_params()["dim"]
        n_lags = 7 if dim == "auto" else int(dim)
        return row_spec(n_lags, N_EXOG, units=spec.units)

    # -- the run ----------------------------------------------------------------------------------------

    def run(self, ctx: Any) -> TaskResult:
        from sciconv_atm_forecast.metrics import mase_per_series, smape_per_series

        self.validate()
        data = ctx.load_data()
        table = data.info.get("table")
        if table is None:
            raise DataError(
                "atm-forecast.forecast needs a dataset giving its SeriesTable in info['table'] "
                "(atm-forecast.nn5, atm-forecast.simulated)"
            )
        h = self.horizon
        v = self.val_days or h
        values, dates = table.values, table.dates
        n_train = table.n_days - h if self.holdout else table.n_days
        emb_params = self._embedding_params()
        if n_train - v < v + FIT_MARGIN_DAYS:
            raise DataError(self._too_short_message(table.source, table.n_days))
        for name, part in (("training", values[:, : n_train - v]), ("final training", values[:, :n_train])):
            empty = np.flatnonzero(np.isnan(part).all(axis=1))
            if len(empty):
                raise DataError(
                    f"{table.source}: series {', '.join(table.ids[i] for i in empty[:5])} has no observed day in the "
                    f"{name} part (days before the validation/holdout windows); nothing to model"
                )
        families = self._families()
        pipeline = PipelineModel.of_run(ctx, families)
        embedding = self._choose_embedding(values[:, : n_train - v], dates[: n_train - v], emb_params)
        ctx.log(
            f"atm-forecast.forecast: {table.n_series} series, {n_train} training days, horizon {h}, validation {v}; "
            f"embedding m={embedding.dim}, tau={embedding.lag} ({embedding.chosen_by})"
        )
        val_round = self._round(
            ctx,
            values[:, : n_train - v],
            dates[: n_train - v],
            dates[n_train - v : n_train],
            embedding,
            families,
            "validation",
            pipeline,
        )
        future = self._future_dates(dates, n_train, h)
        final_round = self._round(
            ctx, values[:, :n_train], dates[:n_train], future, embedding, families, "final", pipeline, keep_models=True
        )

        val_actual = values[:, n_train - v : n_train]
        val_scores = {name: smape_per_series(val_actual, f) for name, f in val_round.forecasts.items()}
        ranked = sorted(val_scores, key=lambda name: (np.nanmean(val_scores[name]), name))
        if self.ensemble_size > 0:
            top = [name for name in ranked if name != "ensemble"][: self.ensemble_size]
            for rnd in (val_round, final_round):
                rnd.forecasts["ensemble"] = np.mean([rnd.forecasts[name] for name in top], axis=0)
            val_scores["ensemble"] = smape_per_series(val_actual, val_round.forecasts["ensemble"])
            ranked = sorted(val_scores, key=lambda name: (np.nanmean(val_scores[name]), name))
            final_round.notes["ensemble"] = "mean of " + ", ".join(top)
        best = ranked[0]
        chosen = best if self.forecast_model == "auto" else self.forecast_model
        if chosen not in final_round.forecasts:
            raise ConfigError(
                f"task.params.forecast_model: {chosen!r} is not a model of this run; choose auto or one of "
                f"{', '.join(final_round.forecasts)}"
            )
        members = top if chosen == "ensemble" else [chosen]
        self._save_trained(ctx, chosen, best, members, final_round, embedding, n_train, pipeline)
        final_round.models.clear()

        metrics: dict[str, Any] = {
            "n_series": table.n_series,
            "n_train_days": n_train,
            "horizon": h,
            "val_days": v,
            "missing_fraction": float(table.missing_fraction),
            "embedding_dim": embedding.dim,
            "embedding_lag": embedding.lag,
            "cao_dim_share": float(np.mean(embedding.dims == embedding.dim)),
            "deterministic_share": float(np.mean(embedding.deterministic)),
            "best_model": best,
            "forecast_model": chosen,
        }
        test_scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.holdout:
            actual = values[:, n_train:]
            insample = values[:, :n_train]
            for name, forecast in final_round.forecasts.items():
                test_scores[name] = (smape_per_series(actual, forecast), mase_per_series(actual, forecast, insample, 7))
        for name in final_round.forecasts:
            metrics[f"{name}.val_smape"] = float(np.nanmean(val_scores[name]))
            if name in test_scores:
                metrics[f"{name}.smape"] = float(np.nanmean(test_scores[name][0]))
                metrics[f"{name}.mase"] = float(np.nanmean(test_scores[name][1]))
            if name in final_round.seconds:
                metrics[f"{name}.fit_s"] = final_round.seconds[name] + val_round.seconds.get(name, 0.0)
        tests = self._paired_tests(test_scores, chosen, families) if test_scores else {}
        metrics.update(tests)

        self._write_forecast(ctx.run_dir.path / "forecast.csv", table.ids, future, final_round.forecasts[chosen])
        plots = []
        if self.plot_series:
            plots.append(self._plot(ctx, table, n_train, final_round.forecasts, chosen))
        rows = self._table(final_round, metrics, test_scores, chosen)
        sections = self._sections(embedding, final_round, val_round, metrics, chosen, families)
        # the networks right after the strategy, before the notes and the published references
        networks = {"Networks trained": self._networks_section(final_round, families, pipeline)}
        keys = list(sections)
        at = keys.index("Forecasting strategy") + 1
        sections = {**{k: sections[k] for k in keys[:at]}, **networks, **{k: sections[k] for k in keys[at:]}}
        ctx.log(
            f"best validated model {best}"
            + (
                f": test sMAPE {metrics[f'{best}.smape']:.2f}, MASE {metrics[f'{best}.mase']:.3f}"
                if self.holdout
                else ""
            )
        )
        return TaskResult(metrics=metrics, table=rows, plots=plots, sections=sections)

    def days_needed(self) -> int:
        """The fewest days a file needs for this run: the ``horizon`` held out (with ``holdout``), the validation
        window (``val_days``, default the horizon) and, before them, a first fit of at least the validation
        window plus :data:`FIT_MARGIN_DAYS`."""
        v = self.val_days or self.horizon
        return (self.horizon if self.holdout else 0) + v + v + FIT_MARGIN_DAYS

    def _too_short_message(self, source: str, n_days: int) -> str:
        """The one-line error for a file of ``n_days`` days, fewer than :meth:`days_needed`: the file's days, the
        days needed and what they are made of, and the overrides that lower the count (with values that fit)."""
        h, v = self.horizon, self.val_days or self.horizon
        val_key = "task.params.val_days, default the horizon" if self.val_days is None else f"task.params.val_days={v}"
        parts = [f"{h} held out (task.params.horizon={h})"] if self.holdout else []
        parts.append(f"{v} of validation ({val_key})")
        before = "them" if self.holdout else "it"
        parts.append(
            f"at least {v + FIT_MARGIN_DAYS} before {before} to fit on (the validation window plus "
            f"{FIT_MARGIN_DAYS} days)"
        )
        lower = "lower task.params.horizon=N or task.params.val_days=N"
        if self.holdout:
            lower += ", or set task.params.holdout=false to forecast past the file's end (nothing held out)"
        held = h if self.holdout else 0
        if self.val_days is None:
            x = (n_days - FIT_MARGIN_DAYS) // (3 if self.holdout else 2)
            fits = f"task.params.horizon={x} (the validation window follows the horizon)" if x >= 1 else ""
        else:
            y = (n_days - held - FIT_MARGIN_DAYS) // 2
            fits = f"task.params.val_days={y}" if y >= 1 else ""
        if fits:
            advice = f"; e.g. {fits} fits this file"
        else:
            fewest = 1 + 1 + FIT_MARGIN_DAYS
            advice = (
                f"; no setting fits a file this short: the fewest days any run needs is {fewest} "
                "(task.params.holdout=false task.params.horizon=1)"
            )
        return (
            f"{source}: the file has {n_days} days but this run needs at least {self.days_needed()}: "
            f"{', '.join(parts[:-1])} and {parts[-1]}; {lower}{advice}"
        )

    # -- predict ----------------------------------------------------------------------------------------

    def _variants(self, dim: int, lag: int) -> list[tuple[str, tuple[int, int]]]:
        """The variants of this run with their embedding: ``chaos`` (``dim``, ``lag``), ``nochaos`` (1, 1)."""
        return [(v, (dim, lag) if v == "chaos" else (1, 1)) for v in ("chaos", "nochaos") if v in self.variants]

    def _save_trained(
        self,
        ctx: Any,
        chosen: str,
        best: str,
        members: Sequence[str],
        final: Round,
        emb: Embedding,
        n_train: int,
        pipeline: PipelineModel,
    ) -> None:
        """Keep what ``predict`` needs: the chosen model (or the ensemble's members) as fitted on the whole
        training part, and the embedding (``trained/forecast.json``). Pooled models: a network's weights
        (``model-<name>.safetensors``) and its input/target scaling (``model-<name>.json``); the scikit-learn
        style estimators as JSON plus arrays (:mod:`~sciconv_atm_forecast.persist`). Per-series models (ARIMA,
        ETS, seasonal naive) are fitted on each history they forecast from, so only their settings are kept. The
        family the pipeline's model built (``pipeline_model``) tells ``predict`` which network to rebuild with the
        pipeline's factory (a factory of the user's own is named ``python:...`` in ``config.yaml``, not by
        the family it built)."""
        from sciconv_atm_forecast.models.zoo import family_kind
        from sciconv_atm_forecast.persist import encode_estimator

        kept = []
        for name in members:
            family = name.removesuffix("_nochaos")
            dim, lag = (emb.dim, emb.lag) if name == family else (1, 1)
            kind = family_kind(family)
            if kind == "pooled":
                model = final.models[name]
                if family in NET_MODELS:
                    ctx.save_weights(f"model-{name}", model.module_)
                    ctx.save_state(
                        f"model-{name}",
                        {k: float(getattr(model, f"{k}_")) for k in ("x_mean", "x_scale", "y_mean", "y_scale")},
                    )
                else:
                    state, arrays = encode_estimator(model)
                    ctx.save_state(f"model-{name}", state)
                    ctx.save_arrays(f"model-{name}", arrays)
            kept.append({"name": name, "family": family, "kind": kind, "dim": dim, "lag": lag})
        ctx.save_state(
            "forecast",
            {
                "chosen": chosen,
                "best_model": best,
                "members": kept,
                "embedding": {"dim": emb.dim, "lag": emb.lag, "chosen_by": emb.chosen_by},
                "horizon": self.horizon,
                "holdout": self.holdout,
                "n_train_days": n_train,
                "pipeline_model": pipeline.to_dict(),
            },
        )

    def _load_pooled(self, ctx: Any, member: Mapping[str, Any], pipeline: PipelineModel) -> Any:
        """A pooled model the run kept (see :meth:`_save_trained`), ready to ``predict``; a network of the family
        the pipeline's model built (``pipeline``) is built by ``ctx.model_factory`` with ``ctx.model_params``."""
        from sciconv_atm_forecast.features import row_spec
        from sciconv_atm_forecast.models.torch_regressor import ARCHITECTURES
        from sciconv_atm_forecast.models.zoo import make_model
        from sciconv_atm_forecast.persist import decode_estimator

        name, family = member["name"], member["family"]
        if family not in NET_MODELS:
            return decode_estimator(ctx.load_state(f"model-{name}"), ctx.load_arrays(f"model-{name}"))
        model = make_model(family, int(member["dim"]), N_EXOG, int(ctx.seed), **self._params(ctx, family, pipeline))
        factory = model.model_factory or ARCHITECTURES[model.arch]
        module = factory(row_spec(model.n_lags, model.n_exog), **(model.module_params or {}))
        model.module_ = ctx.load_weights(f"model-{name}", module).cpu().eval()
        for key, value in ctx.load_state(f"model-{name}").items():
            setattr(model, f"{key}_", float(value))
        return model

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """Series of any length are accepted (a forecast starts from the end of the given file); the number of
        series, the sampling interval (one value a day) and the kind of task must be the run's."""

        def describe(spec: DataSpec) -> str:
            extra = dict(spec.extra or {})
            n_days = extra.get("n_days", spec.input_shape[-1] if spec.input_shape else "?")
            return (
                f"{extra.get('n_series', '?')} series sampled every {extra.get('sampling_interval', '?')} "
                f"({n_days} days, {extra.get('first_date', '?')} to {extra.get('last_date', '?')}; "
                f"{spec.n_outputs} output, {spec.task_type})"
            )

        differ = [
            key
            for key in ("n_series", "sampling_interval")
            if (trained.extra or {}).get(key) != (new.extra or {}).get(key)
        ]
        differ += [key for key in ("n_outputs", "task_type", "sfreq") if getattr(trained, key) != getattr(new, key)]
        if differ:
            raise DataError(
                f"the run trained on {describe(trained)}; these data have {describe(new)} (different "
                f"{', '.join(differ)}): the trained models cannot be applied to them"
            )

    def predict(self, ctx: Any, bundle: Any) -> Any:
        """``forecast.csv``: the ``horizon`` days after the end of the given file (``split="all"``), or of the
        run's training part (``split="test"``: the held-out horizon, scored as the run scored it), forecast by
        the run's chosen model (or ensemble) with its fitted embedding and the run's preprocessing (same-weekday
        median imputation, each series scaled by its mean over the history). Pooled models are the run's fitted
        ones; ARIMA, ETS and seasonal naive are per-series methods and are fitted on each given history, as the
        run fits them. The table ``predictions`` has one row per series and day: ``series_id``, ``date``,
        ``model``, ``forecast`` (and ``actual`` with ``split="test"``, empty where the day is missing). With
        ``split="test"`` the metrics are the run's ``<model>.smape`` and ``<model>.mase`` of the chosen model
        (and of each member of a chosen ensemble)."""
        import pandas as pd

        from sciconv import PredictionResult
        from sciconv_atm_forecast.metrics import mase_per_series, smape_per_series

        table = bundle.info.get("table") if isinstance(bundle.info, Mapping) else None
        if table is None:
            raise DataError(
                "atm-forecast.forecast needs a dataset giving its SeriesTable in info['table'] "
                "(atm-forecast.nn5, atm-forecast.simulated)"
            )
        state = ctx.load_state("forecast")
        pipeline = PipelineModel.of_trained(ctx, state)
        h = int(state["horizon"])
        chosen = state["chosen"]
        if ctx.split == "test":
            if not state["holdout"]:
                raise DataError(
                    "--split test: the run trained with task.params.holdout=false, so it held no days out; "
                    "predict with --split all to forecast past the file's end"
                )
            n_hist = table.n_days - h
        else:
            n_hist = table.n_days
        dim, lag = int(state["embedding"]["dim"]), int(state["embedding"]["lag"])
        needed = max((dim - 1) * lag + 1, 2 * 7)
        if n_hist < needed:
            held = f" after the {h} held-out days" if ctx.split == "test" else ""
            raise DataError(
                f"{table.source}: {n_hist} days of history{held}, but the run's models (embedding m={dim}, "
                f"tau={lag}, weekly season) need at least {needed}"
            )
        history, hist_dates = table.values[:, :n_hist], table.dates[:n_hist]
        empty = np.flatnonzero(np.isnan(history).all(axis=1))
        if len(empty):
            raise DataError(
                f"{table.source}: series {', '.join(table.ids[i] for i in empty[:5])} has no observed day in the "
                "history to forecast from"
            )
        future = self._future_dates(table.dates, n_hist, h)
        filled, scale, z = scaled_history(history, hist_dates)
        forecasts: dict[str, np.ndarray] = {}
        for member in state["members"]:
            name, family = member["name"], member["family"]
            if member["kind"] == "pooled":
                model = self._load_pooled(ctx, member, pipeline)
                forecasts[name] = recursive_forecast(model, z, future, int(member["dim"]), int(member["lag"])) * scale
            else:
                variants = self._variants(dim, lag)
                for run_name, extra in series_runs(family, self._params(ctx, family), variants):
                    if run_name == name:
                        batch = self._forecast_series(ctx, family, name, filled, h, extra)
                        forecasts[name] = np.clip(batch.values, 0.0, None)
            ctx.log(f"  forecast: {name}")
        if chosen == "ensemble":
            forecasts["ensemble"] = np.mean([forecasts[m["name"]] for m in state["members"]], axis=0)
        forecast = forecasts[chosen]

        metrics: dict[str, float] = {}
        frame = pd.DataFrame(
            {
                "series_id": np.repeat(list(table.ids), h),
                "date": np.tile([str(d) for d in future], table.n_series),
                "model": chosen,
                "forecast": forecast.reshape(-1),
            }
        )
        if ctx.split == "test":
            actual = table.values[:, n_hist:]
            frame["actual"] = actual.reshape(-1)
            for name, values in forecasts.items():
                metrics[f"{name}.smape"] = float(np.nanmean(smape_per_series(actual, values)))
                metrics[f"{name}.mase"] = float(np.nanmean(mase_per_series(actual, values, history, 7)))
        path = ctx.out_dir / "forecast.csv"
        self._write_forecast(path, table.ids, future, forecast)
        members = ", ".join(m["name"] for m in state["members"])
        how = f"the ensemble of {members}" if chosen == "ensemble" else chosen
        section = (
            f"{table.n_series} series, {n_hist} days of history ({table.dates[0]} to {table.dates[n_hist - 1]}); "
            f"forecast of the {h} days {future[0]} to {future[-1]} by {how} (the run's "
            f"{'best validated' if chosen == state['best_model'] else 'chosen'} model), embedding m={dim}, "
            f"tau={lag}. Pooled models are the run's fitted ones; per-series methods (ARIMA, ETS, seasonal naive) "
            "are fitted on each history they forecast from, as in the run."
        )
        return PredictionResult(
            tables={"predictions": frame}, metrics=metrics, files=[path], sections={"Forecast": section}
        )

    # -- steps ------------------------------------------------------------------------------------------

    @staticmethod
    def _future_dates(dates: np.ndarray, n_train: int, h: int) -> np.ndarray:
        """The ``h`` days after the first ``n_train`` days (continuing the calendar past the file's end)."""
        start = dates[0] + np.timedelta64(n_train, "D")
        return start + np.arange(h).astype("timedelta64[D]")

    def _choose_embedding(self, values: np.ndarray, dates: np.ndarray, params: Mapping[str, Any]) -> Embedding:
        """ACF lag and Cao dimension per series on the imputed days ``values`` (n_series, n_days); the mode."""
        from sciconv_atm_forecast.nn5_io import impute_same_weekday_median
        from sciconv_atm_forecast.phase_space import acf_lag, cao_embedding

        filled, _ = impute_same_weekday_median(values, dates)
        lags, dims, det = [], [], []
        for x in filled:
            lag = int(params["lag"]) if params["lag"] != "auto" else acf_lag(x, rule=params["lag_rule"])
            cao = cao_embedding(x, lag, max_dim=int(params["max_dim"]))
            lags.append(lag)
            dims.append(cao.dimension)
            det.append(cao.deterministic)
        lags_a, dims_a = np.asarray(lags), np.asarray(dims)

        def mode(a: np.ndarray) -> int:
            counts = Counter(a.tolist())
            top = max(counts.values())
            return int(min(k for k, c in counts.items() if c == top))

        lag = int(params["lag"]) if params["lag"] != "auto" else mode(lags_a)
        dim = int(params["dim"]) if params["dim"] != "auto" else mode(dims_a)
        how = "fixed" if params["dim"] != "auto" and params["lag"] != "auto" else "most common over the series"
        return Embedding(dim, lag, dims_a, lags_a, np.asarray(det), how)

    def _params(self, ctx: Any, family: str, pipeline: PipelineModel | None = None) -> dict[str, Any]:
        """The factory parameters of ``family``: ``model_params.<family>``; for a deep family also the network's
        factory (the pipeline's model when it builds this family, with its ``model.params`` over
        ``module_params``; else the registered model :data:`NET_MODELS` names) and the run's device.
        ``pipeline``: which family the pipeline's model builds (default: as its configured name says)."""
        params = dict((self.model_params or {}).get(family, {}))
        if family in NET_MODELS:
            if pipeline is None:
                pipeline = PipelineModel.by_name(getattr(getattr(ctx.config, "model", None), "name", None))
            if pipeline.family == family:
                params["model_factory"] = ctx.model_factory
                if ctx.model_params:
                    params["module_params"] = {**dict(params.get("module_params") or {}), **ctx.model_params}
            else:
                params["model_factory"] = ctx.model_factory_named(NET_MODELS[family])
            params.setdefault("device", str(ctx.device))
        return params

    @staticmethod
    def _network_source(family: str, pipeline: PipelineModel) -> str:
        """Which model builds ``family``'s network and where its parameters come from (the rule of
        :meth:`_params`): the pipeline's model (a factory of the user's own by its class name), or the registered
        model of the family; empty for a family that is not a registered network (the MLP)."""
        if family not in NET_MODELS:
            return ""
        if pipeline.family == family:
            if pipeline.own:
                return f"`{pipeline.label}` (the pipeline's own model, {pipeline.name}, model.params)"
            return f"`{pipeline.name}` (the pipeline's model, model.params)"
        return f"`{NET_MODELS[family]}` (task.params.model_params.{family}.module_params)"

    def _round(
        self,
        ctx: Any,
        raw: np.ndarray,
        fit_dates: np.ndarray,
        target_dates: np.ndarray,
        emb: Embedding,
        families: Sequence[str],
        label: str,
        pipeline: PipelineModel,
        keep_models: bool = False,
    ) -> Round:
        """Fit every model on the days ``raw`` (n_series, n), dated ``fit_dates`` (n,), and forecast the ``h`` days
        ``target_dates`` (h,) that follow them (``pipeline``: the family the pipeline's model builds;
        ``keep_models``: keep the fitted pooled models in the round)."""
        import warnings

        from sciconv_atm_forecast.features import make_design
        from sciconv_atm_forecast.models.zoo import family_kind, make_model

        h = len(target_dates)
        filled, scale, z = scaled_history(raw, fit_dates)
        out = Round()
        variants = self._variants(emb.dim, emb.lag)
        seed = int(ctx.seed)
        for family in families:
            params = self._params(ctx, family, pipeline)
            if family_kind(family) == "series":
                for name, extra in series_runs(family, params, variants):
                    start = time.perf_counter()
                    batch = self._forecast_series(ctx, family, name, filled, h, extra)
                    out.forecasts[name] = np.clip(batch.values, 0.0, None)
                    out.seconds[name] = time.perf_counter() - start
                    if batch.n_fallback:
                        out.notes[name] = f"{batch.n_fallback} series fell back to seasonal naive"
                    ctx.log(f"  {label}: {name} in {out.seconds[name]:.1f} s")
                continue
            for variant, (dim, lag) in variants:
                name = family if variant == "chaos" else f"{family}_nochaos"
                design = make_design(z, fit_dates, dim, lag, dow=True)
                model = make_model(family, design.n_lags, N_EXOG, seed, **params)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=UserWarning)
                    model.fit(design.X, design.y)
                if family in NETWORK_FAMILIES:
                    out.networks[name] = network_settings(family, model, self._network_source(family, pipeline))
                out.forecasts[name] = recursive_forecast(model, z, target_dates, dim, lag) * scale
                if keep_models:
                    out.models[name] = model
                out.seconds[name] = time.perf_counter() - start
                ctx.log(f"  {label}: {name} in {out.seconds[name]:.1f} s")
        return out

    @staticmethod
    def _forecast_series(
        ctx: Any, method: str, name: str, histories: np.ndarray, h: int, params: Mapping[str, Any]
    ) -> Any:
        """``method`` fitted on each row of ``histories`` (n_series, n), one independent job per series run by
        ``ctx.run_jobs`` (the pipeline's ``parallel`` settings); the :class:`~sciconv_atm_forecast.statistical.
        BatchForecast` of all series, in their order."""
        from sciconv.parallel import Job
        from sciconv_atm_forecast.statistical import BatchForecast

        jobs = [Job(f"{name}/series-{i:04d}", (method, x, h, dict(params))) for i, x in enumerate(histories)]
        parts = ctx.run_jobs(forecast_one_series, jobs)
        return BatchForecast(
            values=np.concatenate([part.values for part in parts]) if parts else np.empty((0, h)),
            specs=[spec for part in parts for spec in part.specs],
            fallbacks={i: reason for i, part in enumerate(parts) for reason in part.fallbacks.values()},
        )

    def _paired_tests(
        self, scores: Mapping[str, tuple[np.ndarray, np.ndarray]], chosen: str, families: Sequence[str]
    ) -> dict[str, float]:
        """p-values across series of per-series sMAPE: each model against ``chosen`` (t and Wilcoxon), each family
        with against without chaos features (t)."""
        from sciconv_atm_forecast.metrics import paired_test

        out: dict[str, float] = {}
        for name, (smape, _) in scores.items():
            if name == chosen:
                continue
            out[f"{name}.p_vs_best"] = float(paired_test(smape, scores[chosen][0], method="t").p_value)
            out[f"{name}.p_vs_best_wilcoxon"] = float(paired_test(smape, scores[chosen][0], method="wilcoxon").p_value)
        for family in families:
            if family in scores and f"{family}_nochaos" in scores:
                out[f"{family}.p_chaos"] = float(
                    paired_test(scores[family][0], scores[f"{family}_nochaos"][0], method="t").p_value
                )
        return out

    @staticmethod
    def _write_forecast(path: Path, ids: Sequence[str], dates: np.ndarray, forecast: np.ndarray) -> None:
        """``forecast.csv``: one row per series (its id), one column per forecast day (ISO date), written atomically."""
        import pandas as pd

        from sciconv.kit import atomic_write_text

        frame = pd.DataFrame(forecast, index=pd.Index(list(ids), name="series_id"), columns=[str(d) for d in dates])
        atomic_write_text(path, frame.to_csv(float_format="%.3f", lineterminator="\n"))

    def _plot(
        self, ctx: Any, table: Any, n_train: int, forecasts: Mapping[str, np.ndarray], chosen: str
    ) -> tuple[Path, str]:
        from sciconv.kit import new_figure, save_figure

        h = self.horizon
        k = min(self.plot_series, table.n_series)
        picks = np.linspace(0, table.n_series - 1, k).round().astype(int)
        fig, axes = new_figure(k, 1, figsize=(10, 2.4 * k))
        future = self._future_dates(table.dates, n_train, h)
        past = table.dates[max(0, n_train - 8 * 7) : n_train]
        for ax, i in zip(axes[:, 0], picks, strict=True):
            ax.plot(past, table.values[i, max(0, n_train - 8 * 7) : n_train], color="0.5", lw=1, label="history")
            if self.holdout:
                ax.plot(future, table.values[i, n_train : n_train + h], color="k", lw=1.2, label="actual")
            ax.plot(future, forecasts[chosen][i], color="C0", lw=1.2, label=chosen)
            if "snaive" in forecasts and chosen != "snaive":
                ax.plot(future, forecasts["snaive"][i], color="C1", lw=0.8, ls="--", label="seasonal naive")
            ax.set_title(f"series {table.ids[i]}", fontsize=9)
            ax.set_ylabel("withdrawals")
        axes[0, 0].legend(fontsize=7, ncol=4, loc="upper left")
        fig.tight_layout()
        path = save_figure(fig, ctx.plots_dir / "forecasts.png")
        what = "held-out actuals" if self.holdout else "the days after the file"
        return path, f"Forecasts of {chosen} (the chosen model) and seasonal naive against {what}, {k} series"

    def _table(
        self, final: Round, metrics: Mapping[str, Any], scores: Mapping[str, Any], chosen: str
    ) -> list[ResultRow]:
        rows = []
        order = sorted(final.forecasts, key=lambda name: metrics.get(f"{name}.val_smape", math.inf))
        for name in order:
            row: dict[str, float | str] = {"val sMAPE": round(metrics[f"{name}.val_smape"], 2)}
            if name in scores:
                row["sMAPE"] = round(metrics[f"{name}.smape"], 2)
                row["MASE"] = round(metrics[f"{name}.mase"], 3)
                if name != chosen:
                    row["p vs chosen (t)"] = f"{metrics[f'{name}.p_vs_best']:.3g}"
            label = name + (" (chosen)" if name == chosen else "")
            rows.append(ResultRow(label, row))
        from sciconv_atm_forecast.published import MONASH_NN5

        rows.extend(published.row(smape="sMAPE", mase="MASE") for published in MONASH_NN5)
        return rows

    def _networks_section(self, final: Round, families: Sequence[str], pipeline: PipelineModel) -> str:
        """The report section on the neural networks this run trained (only those), with the settings each
        trained with, and what the core's "What ran" lines say that this task does not use (``pipeline``: the
        family the pipeline's model builds)."""
        from sciconv.kit import markdown_table

        rows = []
        for family in families:
            names = [name for name, net in final.networks.items() if net["family"] == family]
            if not names:
                continue
            first = final.networks[names[0]]
            rows.append(
                {
                    "network": family,
                    "models": ", ".join(names),
                    "built by": first["built_by"],
                    "architecture": first["architecture"],
                    "training": first["training"],
                    "final fits": "; ".join(
                        f"{n}: {final.networks[n]['epochs_run']} epochs, {final.networks[n]['weights']:,} weights"
                        for n in names
                    ),
                }
            )
        if rows:
            text = markdown_table(rows).rstrip("\n")
        else:
            text = (
                f"No neural network was trained: task.params.models ({', '.join(self.models)}) holds none of "
                f"{', '.join(NETWORK_FAMILIES)}."
            )
        notes = []
        if pipeline.family is not None and pipeline.family not in families:
            family = (
                f"it stands in for the {pipeline.family} network, and {pipeline.family}"
                if pipeline.own
                else f"its family {pipeline.family}"
            )
            notes.append(
                f"The pipeline's model, `{pipeline.name}`, was not built: {family} is not among "
                "task.params.models, so the Model line of What ran names a network this run did not train."
            )
        notes.append(
            "The Training line of What ran is the pipeline's train section, of which this task uses only "
            "train.seed; each network trains with its own settings (task.params.model_params.<family>)"
            + (", given above." if rows else ".")
        )
        return text + "\n\n" + " ".join(notes)

    def _sections(
        self,
        emb: Embedding,
        final: Round,
        val: Round,
        metrics: Mapping[str, Any],
        chosen: str,
        families: Sequence[str],
    ) -> dict[str, str]:
        dims = Counter(emb.dims.tolist())
        lags = Counter(emb.lags.tolist())
        chaos = (
            f"Per series (on the days before the validation window): Cao's embedding dimension m "
            f"{', '.join(f'{k}: {c}' for k, c in sorted(dims.items()))} series; ACF delay tau "
            f"{', '.join(f'{k}: {c}' for k, c in sorted(lags.items()))} series. "
            f"Cao's E2 departs from 1 (a deterministic signature) for {int(emb.deterministic.sum())} of "
            f"{len(emb.dims)} series. The pooled models use m = {emb.dim}, tau = {emb.lag} ({emb.chosen_by})."
        )
        from sciconv.kit import markdown_table

        pairs = []
        for family in families:
            a, b = f"{family}.smape", f"{family}_nochaos.smape"
            if a in metrics and b in metrics:
                p = metrics.get(f"{family}.p_chaos", math.nan)
                pairs.append(
                    {
                        "family": family,
                        "with chaos sMAPE": f"{metrics[a]:.2f}",
                        "without chaos sMAPE": f"{metrics[b]:.2f}",
                        "p (paired t)": f"{p:.3g}",
                    }
                )
        notes = [f"- {name}: {note}" for name, note in {**val.notes, **final.notes}.items()]
        strategy = (
            "Multi-step forecasts are recursive for the pooled models (one-step-ahead maps from the reconstructed "
            "state, each forecast fed back as the newest delay coordinate); ARIMA, ETS and seasonal naive forecast "
            f"the horizon natively. The chosen model ({chosen}) is the one with the lowest sMAPE on the validation "
            "window; its forecasts are in forecast.csv."
        )
        sections = {"Chaos modelling": chaos, "Forecasting strategy": strategy}
        if pairs:
            sections["With and without chaos features (held-out days)"] = markdown_table(pairs).rstrip("\n")
        if notes:
            sections["Notes"] = "\n".join(notes)
        sections["Published references"] = (
            "The paper (Sarveswararao & Ravi 2020) reports its numbers on an Indian bank's ATMs, not on NN5: random "
            "forest had the best sMAPE and LSTM and 1D CNN were statistically similar to it (t-test); chaos features "
            "and the day of week improved every model. The NN5 references in the table are the Monash archive's "
            "results on NN5's official 56-day test period, which follows the public training file: they are not "
            "scored on the same days as this run's holdout (the last 56 days of the file)."
        )
        return sections


def _format_setting(value: Any) -> str:
    """A setting as the report shows it: sequences as ``[a, b]``, floats with ``%g``."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_format_setting(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _keyword_defaults(factory: Any) -> dict[str, Any]:
    """The keyword arguments of a network factory ``factory(spec, **params)`` that have defaults (none when its
    signature cannot be read)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {
        p.name: p.default
        for p in parameters
        if p.name != "spec"
        and p.default is not inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def network_settings(family: str, model: Any, built_by: str = "") -> dict[str, Any]:
    """What the report says about one fitted network of ``family`` (``mlp``, ``lstm`` or ``cnn1d``): ``family``,
    ``built_by``, ``architecture`` and ``training`` (the settings it trained with, read from the fitted
    estimator; a network's architecture is its factory's keyword arguments, defaults included: those of the
    factory that built it, the user's own too), ``epochs_run`` and ``weights`` (the trainable parameters)."""
    p = model.get_params()
    if family == "mlp":
        stopping = (
            f"early stopping on {p['validation_fraction']:.0%} of the rows (patience {p['n_iter_no_change']})"
            if p["early_stopping"]
            else "no early stopping"
        )
        return {
            "family": family,
            "built_by": built_by or "scikit-learn MLPRegressor",
            "architecture": f"hidden layers {tuple(p['hidden_layer_sizes'])}, {p['activation']} activations",
            "training": (
                f"{p['solver']} lr {_format_setting(float(p['learning_rate_init']))}, batch {p['batch_size']}, "
                f"L2 penalty {_format_setting(float(p['alpha']))}, up to {p['max_iter']} epochs, {stopping}"
            ),
            "epochs_run": int(model.n_iter_),
            "weights": int(sum(w.size for w in [*model.coefs_, *model.intercepts_])),
        }
    from sciconv_atm_forecast.models.torch_regressor import ARCHITECTURES

    factory = p["model_factory"] or ARCHITECTURES[family]
    module = {**_keyword_defaults(factory), **dict(p["module_params"] or {})}
    if module.get("conv_backend") is None:
        module.pop("conv_backend", None)
    n_weights = sum(int(w.numel()) for w in model.module_.parameters() if w.requires_grad)
    stopping = (
        f"early stopping on {p['val_fraction']:.0%} of the rows (patience {p['patience']})"
        if p["patience"] is not None and p["val_fraction"] > 0
        else "no early stopping"
    )
    clip = f", gradient norm clipped at {_format_setting(p['grad_clip'])}" if p["grad_clip"] else ""
    return {
        "family": family,
        "built_by": built_by or f"`{getattr(factory, '__name__', family)}`",
        "architecture": ", ".join(f"{k}={_format_setting(v)}" for k, v in module.items()),
        "training": (
            f"sciconv Trainer, adam lr {_format_setting(float(p['lr']))}, weight decay "
            f"{_format_setting(float(p['weight_decay']))}, batch {p['batch_size']}, up to {p['epochs']} epochs, "
            f"{p['loss']} loss{clip}, {stopping}"
        ),
        "epochs_run": len(model.history_),
        "weights": n_weights,
    }


def forecast_one_series(method: str, history: np.ndarray, h: int, params: dict[str, Any]) -> Any:
    """One job of :meth:`ForecastTask._forecast_series`: ``method`` on one history (n,), as a one-series
    :class:`~sciconv_atm_forecast.statistical.BatchForecast` (values (1, h)). The fit is deterministic."""
    from sciconv_atm_forecast.statistical import forecast_many

    return forecast_many(method, [history], h, m=7, n_jobs=1, **params)
