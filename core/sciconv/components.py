"""The plugin contract: what a dataset, a model and a task are.

* A **dataset** is a callable ``Dataset(**params)`` whose ``load()`` returns a :class:`DataBundle`
  (train / validation / test splits and the :class:`~sciconv.spec.DataSpec`). Subclass
  :class:`DatasetBase` or write any class with that shape.
* A **model** is a callable ``factory(spec: DataSpec, **params) -> torch.nn.Module``: a function or an
  ``nn.Module`` subclass whose ``__init__`` takes the spec first.
* A **task** is a callable ``Task(**params)`` whose ``run(ctx)`` drives the run through the
  :class:`~sciconv.context.RunContext` and returns a :class:`TaskResult`. Subclass :class:`TaskBase`.
  To apply a finished run to new data (``pipeline predict``), ``run`` saves what it learned
  (``ctx.save_weights``, ``ctx.save_arrays``, ``ctx.save_state``) and ``predict(ctx, bundle)`` applies it
  through a :class:`~sciconv.context.PredictContext`, returning a :class:`PredictionResult`.

Following scikit-learn, ``__init__`` of datasets and tasks only stores its (keyword) parameters:
the pipeline's ``params`` are checked against that signature before anything runs. A dataset or task
may also define ``validate()``, which checks the parameters' values without doing any work (no data
read, nothing trained) and raises :class:`~sciconv.errors.ConfigError` naming the parameter;
``pipeline validate`` and every run call it before anything is written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciconv.spec import DataSpec

if TYPE_CHECKING:
    import torch

    from sciconv.context import PredictContext, RunContext


@dataclass
class DataBundle:
    """The splits of a dataset and the spec that sizes a model for it.

    ``train``, ``val`` and ``test`` are map-style ``torch.utils.data.Dataset`` objects whose items
    are ``(x, y)`` pairs, ``x`` of shape ``spec.input_shape``; ``val`` and ``test`` may be ``None``
    where the task's protocol makes its own (cross-validation). ``info`` carries anything a task may
    report (subjects, recording files, simulator settings).
    """

    train: Any
    val: Any
    test: Any
    spec: DataSpec
    info: dict[str, Any] = field(default_factory=dict)


class DatasetBase(ABC):
    """Base of datasets: store parameters in ``__init__``, produce data in :meth:`load`."""

    def validate(self) -> None:  # noqa: B027 - optional hook, nothing to check by default
        """Check the parameters' values cheaply (no data read); raise ConfigError naming the parameter."""

    @abstractmethod
    def load(self) -> DataBundle:
        """Read or generate the data. Raise :class:`sciconv.errors.DataError` naming the file and
        the problem when input is invalid."""


@dataclass
class ResultRow:
    """One line of a report's results table: a method and its metrics.

    ``source`` says where the numbers come from: ``"this run"`` for what the run measured, a short
    derivation (``"1 / n_classes"``), or, with ``published=True``, the citation of published numbers
    that the report quotes for comparison and labels as not measured.
    """

    method: str
    metrics: Mapping[str, float | str]
    source: str = "this run"
    published: bool = False


@dataclass
class TaskResult:
    """What a task hands back to the runner.

    Attributes:
        metrics: final metrics, flat keys (``"test.accuracy"``, ``"dnn.acc@0.4"``), plain floats.
        model: the trained model (returned to Python callers as ``result.model``).
        table: rows of the report's results table (the method, the baselines, published numbers).
        plots: extra figures the task wrote into ``ctx.plots_dir``, with a caption each.
        sections: extra report sections, ``{"title": "markdown"}``.
    """

    metrics: dict[str, float]
    model: torch.nn.Module | None = None
    table: list[ResultRow] = field(default_factory=list)
    plots: list[tuple[Path, str]] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)


@dataclass
class PredictionResult:
    """What a task's ``predict`` hands back.

    Attributes:
        tables: the predictions, one pandas DataFrame per table (``{"predictions": df}``), one row per sample
            (trial, patient, day, case), written as ``<name>.csv``.
        metrics: where the data carry labels, the same metrics under the same names as the run's own
            ``metrics.json`` (so predicting on the run's test data reproduces them); empty otherwise.
        files: files the task wrote into ``ctx.out_dir`` in its field's format (NIfTI label maps, ...).
        sections: extra report sections, ``{"title": "markdown"}``.
    """

    tables: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)


class TaskBase(ABC):
    """Base of tasks: store parameters in ``__init__``, do the work in :meth:`run`."""

    def validate(self) -> None:  # noqa: B027 - optional hook, nothing to check by default
        """Check the parameters' values cheaply (nothing run); raise ConfigError naming the parameter."""

    def model_spec(self, spec: DataSpec) -> DataSpec:
        """The spec the task builds its models from, given the dataset's. The default is the dataset's
        own; a task that transforms samples first (crops, filter banks) returns the transformed shape.
        The conformance kit sizes models with it."""
        return spec

    @abstractmethod
    def run(self, ctx: RunContext) -> TaskResult:
        """Train and evaluate through ``ctx`` (data, model factory, engine, run directory)."""

    def predict(self, ctx: PredictContext, bundle: DataBundle) -> PredictionResult:
        """Apply what :meth:`run` saved (``ctx.trained``) to ``bundle``'s samples (``ctx.samples(bundle)``:
        every split, or the test split with ``--split test``), with exactly the run's preprocessing, and return
        the predictions. A task that cannot predict leaves this undefined."""
        raise NotImplementedError(f"task {type(self).__name__} does not implement predict")

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """Refuse data the trained model cannot be applied to (a DataError naming both sides). The default
        compares every field of the spec (:func:`sciconv.spec.check_compatible`); a task whose models take any
        input size compares fewer."""
        from sciconv.spec import check_compatible

        check_compatible(trained, new)


def table_metric_names(rows: Sequence[ResultRow]) -> list[str]:
    """Union of the metric names of ``rows``, in first-seen order."""
    names: list[str] = []
    for row in rows:
        for key in row.metrics:
            if key not in names:
                names.append(key)
    return names
