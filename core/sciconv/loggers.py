"""Experiment tracking: a run's epochs, results, configuration and plots sent to TensorBoard and MLflow.

``output.loggers: [tensorboard, mlflow]`` asks for them; both are optional extras
(``pip install "sciconv[tracking]"``), imported only when a run asks for them, so that ``import sciconv`` and
``pipeline list`` stay light. What each receives:

* every epoch record of every fit (see :class:`sciconv.engine.Engine`): each numeric value (``train_loss``,
  ``val_loss``, ``val_accuracy``, ``lr``, ``time_s``, ...) as the metric ``<fit>/<key>`` at step ``epoch``
  (``<key>`` alone for a record without a fit name; the epoch itself is the step, not a metric);
* when the run completes, the final metrics (``metrics.json``'s numeric values) as ``final/<key>``, and the
  report's plots;
* the resolved configuration (``config.yaml``) when the run starts, so that a failed run has it too.

TensorBoard: event files in ``<run>/tensorboard/`` (scalars; the configuration as text, YAML in a code block;
each plot as an image whose tag is its path in the run directory, ``plots/training_curves.png``).
Read them with ``tensorboard --logdir <run>/tensorboard``.

MLflow: one MLflow run per sciconv run, named after the run directory, tagged ``sciconv.pipeline``,
``sciconv.run_dir`` and ``sciconv.status`` (``running``, ``completed``, ``failed``, ``interrupted``), in the
experiment ``output.experiment`` (default: the pipeline's name). The configuration's settings are its
parameters (dotted keys, ``train.epochs``; values as text, cut to MLflow's length limit; ``record`` is left
out, it is not a setting); ``config.yaml``, ``report.md``, ``metrics.json``, ``history.csv`` and the plots (in
their folders, so that the report's links hold) are its artifacts. The run ends ``FINISHED``, or ``FAILED`` /
``KILLED`` (Ctrl-C, SIGTERM) with what was logged until then. Metric and parameter names keep the characters
MLflow allows (letters, digits, ``_ - . /`` and space); any other becomes ``_``.
Without ``output.tracking_uri`` the store is the run's own SQLite file, ``<run>/mlflow/mlflow.db``, with the
artifacts in ``<run>/mlflow/artifacts/`` (browse it with ``mlflow ui --backend-store-uri
sqlite:///<run>/mlflow/mlflow.db``); MLflow 3 refuses its older ``file:`` store unless
``MLFLOW_ALLOW_FILE_STORE`` is set, hence SQLite. With a ``tracking_uri`` the server (or database) keeps the
run and decides where artifacts go. ``<run>/mlflow/run.json`` records the store and the MLflow run's id. The
store holds absolute paths: a run directory moved elsewhere keeps its MLflow metrics and parameters, but MLflow
then looks for the artifacts where they were (they are still in ``<run>/mlflow/artifacts/``).

Resuming (``pipeline run --resume``) continues the same MLflow run, and TensorBoard writes a new event file in
the same folder. The epochs a fit restores from its checkpoint (the engine replays them) are not logged again
by a tracker that had logged them; epochs run after the last checkpoint before the interruption are run, and
logged, again. Parameters keep their first values (MLflow refuses to change one): the settings a resume changed
are in ``config.yaml``'s ``record.resumes``, an artifact.

A tracker never decides a run's outcome once training has begun: an error while logging an epoch or the
results is a warning, that tracker stops, and the run goes on and writes its results as usual. A tracker that
cannot start (a tracking server that refuses the connection) fails the run before training, with a
:class:`~sciconv.errors.ConfigError`; a missing package fails it before the run directory is made
(:func:`check_loggers`). Under DDP only rank 0 logs.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import math
import numbers
import os
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from sciconv.atomic import atomic_write_text
from sciconv.config import OutputConfig
from sciconv.config import flatten_config as dotted
from sciconv.errors import ConfigError
from sciconv.rundir import RunDir
from sciconv.yamlio import dump_yaml

EXTRA = 'pip install "sciconv[tracking]"'
"""How to install what the loggers need."""

TENSORBOARD_DIR = "tensorboard"
"""The TensorBoard event files' folder in a run directory."""
MLFLOW_DIR = "mlflow"
"""The MLflow folder of a run directory: ``mlflow.db`` and ``artifacts/`` (local store), ``run.json``."""

_DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")  # stores that need SQLAlchemy and alembic
_STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_MLFLOW_BAD = re.compile(r"[^\w.\- /]")
_MAX_KEY = 250  # MLflow's limit on metric and parameter names
_MAX_PARAM_VALUE = 6000  # MLflow's limit on a parameter's value (mlflow.utils.validation.MAX_PARAM_VAL_LENGTH)
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100


# --- availability ---------------------------------------------------------------------------------


def required_modules(output: OutputConfig) -> dict[str, tuple[str, ...]]:
    """The modules each logger of ``output.loggers`` imports (logger name -> module names)."""
    needs: dict[str, tuple[str, ...]] = {}
    for name in output.loggers:
        if name == "tensorboard":
            needs[name] = ("tensorboard",)
        else:
            scheme = (output.tracking_uri or "sqlite:").partition(":")[0].split("+")[0].lower()
            needs[name] = ("mlflow", "sqlalchemy", "alembic") if scheme in _DB_SCHEMES else ("mlflow",)
    return needs


def check_loggers(output: OutputConfig) -> None:
    """Raise :class:`ConfigError` naming the extra when a logger of ``output.loggers`` cannot be imported.

    The runner calls it before it makes the run directory, so that a missing package costs nothing. Importing
    is the test (a module found but broken is not available either); a run that asks for no logger imports
    nothing."""
    for name, modules in required_modules(output).items():
        for module in modules:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise ConfigError(f"output.loggers: {name!r} needs the optional extra: {EXTRA} ({exc})") from None


# --- names and values -----------------------------------------------------------------------------


def mlflow_key(name: str) -> str:
    """``name`` as a valid MLflow metric or parameter name: characters other than letters, digits,
    ``_ - . /`` and space become ``_``; empty, ``.`` and ``..`` path parts are dropped or replaced (MLflow
    refuses names that a file path would normalise), and the name is cut to 250 characters."""
    parts = [part if part not in (".", "..") else "_" for part in _MLFLOW_BAD.sub("_", name).split("/") if part]
    return ("/".join(parts) or "_")[:_MAX_KEY]


def metric_name(record: Mapping[str, Any], key: str) -> str:
    """The name of ``record[key]`` in the trackers: ``<fit>/<key>``, or ``<key>`` without a fit name."""
    fit = record.get("fit")
    return f"{fit}/{key}" if fit not in (None, "") else key


def numeric_values(record: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, float]:
    """The numeric values of ``record`` as floats (booleans, text and ``None`` left out)."""
    left_out = set(skip)
    return {
        str(key): float(value)
        for key, value in record.items()
        if key not in left_out and isinstance(value, numbers.Real) and not isinstance(value, bool)
    }


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A resolved configuration as dotted keys -> text (``{"train": {"epochs": 2}}`` -> ``{"train.epochs":
    "2"}``): strings as they are, other values as JSON (``null``, ``true``, ``[1, 2]``); an empty mapping is
    ``{}``."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, default=str)
        for key, value in dotted(config, prefix).items()
    }


def default_tracking_uri(run_dir: str | Path) -> str:
    """The MLflow store of a run of its own: ``sqlite:///<run>/mlflow/mlflow.db`` (absolute path)."""
    return f"sqlite:///{(Path(run_dir).resolve() / MLFLOW_DIR / 'mlflow.db').as_posix()}"


# --- the loggers ----------------------------------------------------------------------------------


class RunLogger(Protocol):
    """What the runner needs of a tracker."""

    name: str
    continuing: bool
    """Whether it continues what an earlier run in the same directory logged (a resumed run)."""

    def log_epoch(self, record: Mapping[str, Any]) -> None: ...

    def finish(self, metrics: Mapping[str, Any], plots: Sequence[str]) -> None: ...

    def close(self, status: str) -> None: ...

    def describe(self) -> str: ...


class TensorBoardLogger:
    """TensorBoard event files in ``<run>/tensorboard/``, written with ``torch.utils.tensorboard``."""

    name = "tensorboard"

    def __init__(self, rd: RunDir, config: Mapping[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.rd = rd
        self.log_dir = rd.path / TENSORBOARD_DIR
        self.continuing = self.log_dir.is_dir() and any(self.log_dir.glob("events.out.tfevents.*"))
        self.writer = SummaryWriter(log_dir=str(self.log_dir))
        self.writer.add_text("config", "```yaml\n" + dump_yaml(dict(config)) + "```", global_step=0)

    def log_epoch(self, record: Mapping[str, Any]) -> None:
        step = int(record.get("epoch", 0))
        for key, value in numeric_values(record, skip=("fit", "epoch")).items():
            self.writer.add_scalar(metric_name(record, key), value, global_step=step)

    def finish(self, metrics: Mapping[str, Any], plots: Sequence[str]) -> None:
        import matplotlib.image

        for key, value in numeric_values(metrics).items():
            self.writer.add_scalar(f"final/{key}", value, global_step=0)
        for relative in plots:
            image = matplotlib.image.imread(self.rd.path / relative)  # (H, W, 3 or 4) floats in [0, 1]
            self.writer.add_image(relative, image, global_step=0, dataformats="HWC" if image.ndim == 3 else "HW")
        self.writer.close()

    def close(self, status: str) -> None:
        self.writer.close()

    def describe(self) -> str:
        return f"tensorboard: {self.log_dir}"


class MLflowLogger:
    """One MLflow run per sciconv run, through :class:`mlflow.tracking.MlflowClient` (no global active run, so
    a script's own MLflow runs are left alone)."""

    name = "mlflow"

    def __init__(self, rd: RunDir, config: Mapping[str, Any], output: OutputConfig, pipeline: str) -> None:
        from mlflow.tracking import MlflowClient

        _quiet_mlflow()
        self.rd = rd
        folder = rd.path / MLFLOW_DIR
        self.state_file = folder / "run.json"
        local = output.tracking_uri is None
        if local:
            folder.mkdir(parents=True, exist_ok=True)
        self.tracking_uri = default_tracking_uri(rd.path) if local else str(output.tracking_uri)
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self.run_id = self._earlier_run()
        self.continuing = self.run_id is not None
        if self.run_id is not None:
            self.client.update_run(self.run_id, status="RUNNING")
            logged = set(self.client.get_run(self.run_id).data.params)
        else:
            name = output.experiment or pipeline or "sciconv"
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                experiment_id = experiment.experiment_id
            else:
                location = (folder / "artifacts").resolve().as_uri() if local else None
                experiment_id = self.client.create_experiment(name, artifact_location=location)
            run = self.client.create_run(
                experiment_id,
                run_name=rd.path.name,
                tags={"sciconv.pipeline": pipeline, "sciconv.run_dir": str(rd.path.resolve())},
            )
            self.run_id = run.info.run_id
            atomic_write_text(
                self.state_file,
                json.dumps({"tracking_uri": self.tracking_uri, "run_id": self.run_id}, indent=2) + "\n",
            )
            logged = set()
        try:
            self._set_status("running")
            self._log_params(config, logged)
        except Exception:
            with contextlib.suppress(Exception):  # the run is not left RUNNING in a shared store
                self.client.set_terminated(self.run_id, status="FAILED")
            raise

    def _earlier_run(self) -> str | None:
        """The MLflow run an earlier sciconv run in this directory logged to, when it is in this store."""
        if not self.state_file.is_file():
            return None
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("tracking_uri") != self.tracking_uri:
            return None
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_run(str(state.get("run_id"))).info.run_id)
        except MlflowException:
            return None

    def _log_params(self, config: Mapping[str, Any], logged: set[str]) -> None:
        from mlflow.entities import Param

        settings = {k: v for k, v in config.items() if k != "record"}
        params: dict[str, str] = {}
        for key, value in flatten_config(settings).items():
            params.setdefault(mlflow_key(key), value[:_MAX_PARAM_VALUE])
        new = [Param(k, v) for k, v in params.items() if k not in logged]
        for start in range(0, len(new), _MAX_PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=new[start : start + _MAX_PARAMS_PER_BATCH])

    def _log_metrics(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(mlflow_key(k), v, stamp, step) for k, v in values.items()]
        for start in range(0, len(metrics), _MAX_METRICS_PER_BATCH):  # one database commit per batch
            self.client.log_batch(self.run_id, metrics=metrics[start : start + _MAX_METRICS_PER_BATCH])

    def _set_status(self, status: str) -> None:
        self.client.set_tag(self.run_id, "sciconv.status", status)

    def log_epoch(self, record: Mapping[str, Any]) -> None:
        values = numeric_values(record, skip=("fit", "epoch"))
        self._log_metrics({metric_name(record, k): v for k, v in values.items()}, int(record.get("epoch", 0)))

    def finish(self, metrics: Mapping[str, Any], plots: Sequence[str]) -> None:
        self._log_metrics({f"final/{k}": v for k, v in numeric_values(metrics).items() if math.isfinite(v)}, 0)
        for path in (self.rd.config_file, self.rd.report_file, self.rd.metrics_file, self.rd.history_file):
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        for relative in plots:
            folder = Path(relative).parent.as_posix()
            self.client.log_artifact(self.run_id, str(self.rd.path / relative), None if folder == "." else folder)
        self.close("completed")

    def close(self, status: str) -> None:
        self._set_status(status)
        self.client.set_terminated(self.run_id, status=_STATUS.get(status, "FAILED"))

    def describe(self) -> str:
        return f"mlflow: run {self.run_id} in {self.tracking_uri}"


def _quiet_mlflow() -> None:
    """MLflow's and alembic's INFO messages (creating the database tables, migrations) lowered to warnings;
    their warnings and errors still show. An ``MLFLOW_LOGGING_LEVEL`` the user set is left as it is."""
    if os.environ.get("MLFLOW_LOGGING_LEVEL"):
        return
    for name in ("mlflow", "alembic"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


# --- the group the runner drives ------------------------------------------------------------------


class RunLoggers:
    """The trackers of one run, each kept from disturbing the run (see the module's docstring).

    ``restored`` maps fit names to the epoch their checkpoint restored on resume: those records, replayed by
    the engine, are skipped by a logger that continues an earlier run's logs (it has them already).
    """

    def __init__(self, loggers: Sequence[RunLogger], restored: Mapping[str, int] | None = None) -> None:
        self.loggers = list(loggers)
        self.restored = dict(restored or {})

    def describe(self) -> list[str]:
        """One line per tracker: where its logs go."""
        return [logger.describe() for logger in self.loggers]

    def log_epoch(self, record: Mapping[str, Any]) -> None:
        """Send one epoch record to every tracker."""
        epoch = record.get("epoch")
        replayed = isinstance(epoch, int) and epoch <= self.restored.get(str(record.get("fit")), 0)
        for logger in list(self.loggers):
            if replayed and logger.continuing:
                continue
            try:
                logger.log_epoch(record)
            except Exception as exc:
                self._drop(logger, exc, f"logging epoch {epoch}", "failed")

    def finish(self, metrics: Mapping[str, Any], plots: Sequence[str]) -> None:
        """The completed run's final metrics and plots (paths relative to the run directory), then close."""
        for logger in list(self.loggers):
            try:
                logger.finish(metrics, plots)
            except Exception as exc:
                self._drop(logger, exc, "logging the results", "completed")
        self.loggers.clear()

    def close(self, status: str) -> None:
        """End every tracker's run with ``status`` (``failed`` or ``interrupted``), keeping what it logged."""
        for logger in list(self.loggers):
            try:
                logger.close(status)
            except Exception as exc:
                _warn(logger, exc, "closing its run")
        self.loggers.clear()

    def _drop(self, logger: RunLogger, exc: Exception, doing: str, status: str) -> None:
        self.loggers.remove(logger)
        _warn(logger, exc, doing)
        with contextlib.suppress(Exception):  # already reported: the tracker is failing
            logger.close(status)


def _warn(logger: RunLogger, exc: Exception, doing: str) -> None:
    warnings.warn(
        f"output.loggers: {logger.name} failed {doing} ({type(exc).__name__}: {exc}); it logs nothing more for "
        "this run, and the run itself goes on",
        RuntimeWarning,
        stacklevel=3,
    )


def open_loggers(
    output: OutputConfig,
    rd: RunDir,
    *,
    pipeline: str,
    config: Mapping[str, Any],
    restored: Mapping[str, int] | None = None,
) -> RunLoggers:
    """Start the trackers of ``output.loggers`` for the run in ``rd`` and log its resolved ``config``.

    A tracker that cannot start is a :class:`ConfigError` naming it (the ones started are closed as failed)."""
    started: list[RunLogger] = []
    for name in output.loggers:
        try:
            if name == "tensorboard":
                started.append(TensorBoardLogger(rd, config))
            else:
                started.append(MLflowLogger(rd, config, output, pipeline))
        except Exception as exc:
            RunLoggers(started).close("failed")
            where = f" (output.tracking_uri={output.tracking_uri})" if name == "mlflow" and output.tracking_uri else ""
            raise ConfigError(
                f"output.loggers: {name!r} could not start{where}: {type(exc).__name__}: {exc}".splitlines()[0]
            ) from exc
    return RunLoggers(started, restored)


__all__ = [
    "EXTRA",
    "MLFLOW_DIR",
    "TENSORBOARD_DIR",
    "MLflowLogger",
    "RunLogger",
    "RunLoggers",
    "TensorBoardLogger",
    "check_loggers",
    "default_tracking_uri",
    "flatten_config",
    "metric_name",
    "mlflow_key",
    "numeric_values",
    "open_loggers",
]
