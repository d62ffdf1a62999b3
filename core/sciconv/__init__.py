"""sciconv: a plugin framework for convolutional and graph networks on scientific data.

The core defines the plugin contract (datasets, models, tasks, pipelines, convolution backends),
runs pipelines with one training engine, and writes self-explaining run directories::

    import sciconv

    result = sciconv.run("demo-signal", overrides={"train.epochs": 2})
    result.metrics, result.run_dir, result.model

    pipe = sciconv.load_pipeline("demo-signal")
    pipe.config.model.params["n_filters"] = 32
    pipe.run()

    sciconv.sweep("demo-signal", {"train.lr": [1e-3, 3e-3]})  # a run per point, one table
    sciconv.compare("runs/demo-signal/")  # runs side by side

Importing ``sciconv`` does not import torch; that happens when a run starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciconv._version import __version__
from sciconv.components import DataBundle, DatasetBase, PredictionResult, ResultRow, TaskBase, TaskResult
from sciconv.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    MissingPathError,
    NotFoundError,
    PluginError,
    RunInterrupted,
    SciconvError,
    TrainingDivergedError,
)
from sciconv.hookspecs import hookimpl
from sciconv.spec import DataSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from sciconv.comparison import Comparison
    from sciconv.context import PredictContext, RunContext
    from sciconv.pipeline import Overrides, Pipeline, RunResult
    from sciconv.predicting import FinishedRun
    from sciconv.sweeps import SweepResult


def run(
    target: str | Path | None = None,
    overrides: Overrides = (),
    *,
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
) -> RunResult:
    """Run a pipeline (registered name or file) and return its :class:`~sciconv.pipeline.RunResult`.

    ``overrides`` are dotted keys, ``{"train.epochs": 2}`` or ``["train.epochs=2"]``. ``resume`` continues
    the run in an earlier run directory from its last checkpoint.
    """
    from sciconv.pipeline import run as _run

    return _run(target, overrides, run_dir=run_dir, resume=resume)


def load_pipeline(target: str | Path, overrides: Overrides = ()) -> Pipeline:
    """Load and validate a pipeline, to change it in code before ``.run()``."""
    from sciconv.pipeline import load_pipeline as _load

    return _load(target, overrides)


def load_run(run_dir: str | Path) -> FinishedRun:
    """A completed run, to apply what it learned to new data::

        prediction = sciconv.load_run("runs/demo-signal/20261207-101500").predict({"dataset.params.root": "new/"})
        prediction.tables["predictions"]  # a pandas DataFrame, one row per sample

    ``predict(data)`` takes dataset overrides, a dataset object or nothing (the run's own data); it writes
    nothing unless ``write=True`` (then into ``out``, default ``RUN_DIR/predictions/<timestamp>/``).
    """
    from sciconv.predicting import load_run as _load_run

    return _load_run(run_dir)


def sweep(
    target: str | Path | None = None,
    axes: Mapping[str, Any] | Iterable[str] = (),
    overrides: Overrides = (),
    *,
    random: int | None = None,
    metric: str | None = None,
    mode: str | None = None,
    sweep_dir: str | Path | None = None,
    resume: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    on_point: Callable[[dict[str, Any], str | None], None] | None = None,
) -> SweepResult:
    """Run a pipeline at every point of a grid (or of ``random`` points drawn from ranges), each point a run
    directory under one sweep directory, and return the :class:`~sciconv.sweeps.SweepResult`::

        result = sciconv.sweep("demo-signal", {"train.lr": [1e-3, 3e-3], "model.params.n_filters": [8, 16]})
        result.best, result.table  # the best point's row; a pandas DataFrame, one row per point

    Points run ``parallel.n_jobs`` at a time; ``resume`` continues an interrupted sweep. Failed points are rows
    with status ``failed`` (``result.check()`` raises for them). See :mod:`sciconv.sweeps`.
    """
    from sciconv.sweeps import sweep as _sweep

    return _sweep(
        target,
        axes,
        overrides,
        random=random,
        metric=metric,
        mode=mode,
        sweep_dir=sweep_dir,
        resume=resume,
        log=log,
        on_point=on_point,
    )


def compare(*dirs: str | Path | Iterable[str | Path], metrics: Sequence[str] | None = None) -> Comparison:
    """Runs side by side: their metrics and the settings in which they differ (:mod:`sciconv.comparison`)::

        comparison = sciconv.compare("runs/demo-signal/20261207-101500", "runs/demo-signal/20261207-113000")
        print(comparison.to_markdown())

    Each path is a run directory, a sweep directory (its points) or a folder of run directories.
    """
    from sciconv.comparison import compare as _compare

    return _compare(*dirs, metrics=metrics)


def __getattr__(name: str) -> Any:
    # Heavy objects are imported on first access so that `import sciconv` stays light.
    if name in ("Pipeline", "RunResult"):
        from sciconv import pipeline

        return getattr(pipeline, name)
    if name in ("RunContext", "PredictContext"):
        from sciconv import context

        return getattr(context, name)
    raise AttributeError(f"module 'sciconv' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataBundle",
    "DataError",
    "DataSpec",
    "DatasetBase",
    "MissingPathError",
    "NotFoundError",
    "Pipeline",
    "PluginError",
    "PredictContext",
    "PredictionResult",
    "ResultRow",
    "RunContext",
    "RunInterrupted",
    "RunResult",
    "SciconvError",
    "TaskBase",
    "TaskResult",
    "TrainingDivergedError",
    "__version__",
    "compare",
    "hookimpl",
    "load_pipeline",
    "load_run",
    "run",
    "sweep",
]
