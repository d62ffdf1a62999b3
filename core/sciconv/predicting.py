"""Applying a finished run to new data: ``pipeline predict RUN_DIR`` and ``sciconv.load_run(RUN_DIR).predict``.

The run's ``config.yaml`` gives the task and the model as they were trained; its ``trained/`` folder (see
:mod:`sciconv.trained`) gives what they learned, every file checked against its manifest's SHA-256. Only the
data may change (``dataset.*``, typically ``dataset.params.root=NEW``), and the new data's spec is checked
against the training data's before anything runs (:meth:`sciconv.TaskBase.check_compatible`). The task's
``predict`` then applies the trained state with exactly the run's preprocessing. The predictions (one CSV per
table, the field's own files, ``metrics.json`` where the data carry labels, a short ``report.md``) are written
as a whole into ``--out`` (default ``RUN_DIR/predictions/<timestamp>/``): on any error nothing is written.
Nothing is trained.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciconv.components import DataBundle, PredictionResult, TaskBase
from sciconv.config import PipelineConfig, apply_overrides, override_sources, validate_config
from sciconv.errors import ConfigError, DataError, NotFoundError, SciconvError
from sciconv.params import check_params
from sciconv.pipeline import Pipeline, _instantiate
from sciconv.rundir import RunDir, flatten_metrics
from sciconv.spec import check_compatible
from sciconv.trained import TrainedState

# What predict may change: the data, where and how fast inference runs, and where results go.
PREDICT_KEYS = ("dataset.", "parallel.", "train.device", "train.batch_size", "train.progress", "output.")
SPLITS = ("all", "test")


@dataclass
class Prediction:
    """What :meth:`FinishedRun.predict` returns: the tables (pandas DataFrames), the metrics where the data
    carry labels, the folder written (``None`` when nothing was written) and the seconds predict took."""

    tables: dict[str, Any]
    metrics: dict[str, Any]
    out_dir: Path | None
    seconds: float
    files: list[Path] = field(default_factory=list)


class FinishedRun:
    """A completed run, ready to apply to new data (:func:`load_run`)."""

    def __init__(self, run_dir: str | Path) -> None:
        path = Path(run_dir)
        if not path.is_dir():
            raise NotFoundError(f"{run_dir}: no such run directory")
        self.rundir = RunDir(path)
        if not self.rundir.config_file.is_file():
            raise NotFoundError(f"{run_dir}: not a sciconv run directory (no config.yaml)")
        status = _read_status(self.rundir)
        state = status.get("status", "unknown")
        if state != "completed":
            why = f": {status['error']}" if status.get("error") else ""
            hint = (
                f"; finish it first with pipeline run --resume {run_dir}"
                if state in ("interrupted", "running", "failed")
                else ""
            )
            raise ConfigError(
                f"{run_dir}: the run is {state}{why}; predict needs a completed run, whose trained state is whole{hint}"
            )
        self.trained = TrainedState(path)
        self.data = self.rundir.read_config()
        self.config = validate_config(self.data, str(self.rundir.config_file))

    @property
    def path(self) -> Path:
        return self.rundir.path

    def predict(
        self,
        data: Any = None,
        *,
        out: str | Path | None = None,
        split: str = "all",
        write: bool = False,
        model: Callable[..., Any] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> Prediction:
        """Apply the run to ``data`` and return the predictions.

        ``data`` is ``None`` (the run's own dataset, e.g. with ``split="test"`` to reproduce its test metrics),
        dotted overrides of the dataset (``{"dataset.params.root": "new/"}`` or ``["dataset.params.root=new/"]``)
        or a dataset object (with ``load()``). With ``write`` (or ``out``), the predictions go to ``out`` (default
        ``RUN_DIR/predictions/<timestamp>/``); otherwise nothing is written.

        ``model`` is the model factory the run was trained with, for a run whose model was a Python object
        (``pipe.model = MyNet``) that its ``config.yaml`` cannot name again (a class defined in the script that
        ran); it is built with the run's ``model.params`` and must fit the run's saved weights. A run whose model
        ``config.yaml`` names does not need it.
        """
        log = log or _log_stderr
        if split not in SPLITS:
            raise ConfigError(f"--split: expected one of {', '.join(SPLITS)}, got {split!r}")
        dataset_object = data if data is not None and callable(getattr(data, "load", None)) else None
        overrides: Mapping[str, Any] | list[str] = {}
        if data is not None and dataset_object is None:
            overrides = data if isinstance(data, Mapping) else list(_as_strings(data))
        config = self._config_with(overrides)
        pipe = Pipeline(config, source=self.rundir.config_file)
        if dataset_object is not None:
            pipe.dataset = dataset_object
        task = self._task(pipe)
        model_factory, model_params = self._model(pipe, model)
        target = self._out_dir(out) if write or out is not None else None

        started = time.perf_counter()
        dataset = dataset_object if dataset_object is not None else self._dataset(pipe)
        bundle = dataset.load()
        if not isinstance(bundle, DataBundle):
            raise DataError(f"dataset: load() returned {type(bundle).__name__}, expected sciconv.DataBundle")
        if self.trained.spec is not None:
            checker = getattr(task, "check_compatible", None)  # tasks that do not subclass TaskBase get the default
            (checker if callable(checker) else check_compatible)(self.trained.spec, bundle.spec)
        return self._apply(config, task, model_factory, model_params, bundle, split, target, started, log)

    # -- steps -------------------------------------------------------------------------------------

    def _config_with(self, overrides: Mapping[str, Any] | list[str]) -> PipelineConfig:
        keys = (
            [str(k) for k in overrides] if isinstance(overrides, Mapping) else [o.partition("=")[0] for o in overrides]
        )
        refused = [key for key in keys if not key.startswith(PREDICT_KEYS)]
        if refused:
            raise ConfigError(
                f"predict applies the run's task and model as they were trained, so it cannot change "
                f"{', '.join(refused)}; only dataset.*, parallel.*, train.device, train.batch_size and output.* may be "
                "set (train a new run to change the rest)"
            )
        data = apply_overrides(self.data, overrides)
        data.pop("record", None)
        return validate_config(data, str(self.rundir.config_file), override_sources(overrides))

    def _task(self, pipe: Pipeline) -> Any:
        factory, name = pipe._resolve("task")
        task = _instantiate("task", name, factory, check_params("task", name, factory, pipe.config.task.params))
        implemented = getattr(type(task), "predict", None)
        if implemented is None or implemented is TaskBase.predict:
            raise ConfigError(f"task {name!r} does not implement predict, so its runs cannot be applied to new data")
        return task

    def _model(self, pipe: Pipeline, given: Callable[..., Any] | None) -> tuple[Callable[..., Any], dict[str, Any]]:
        if given is None:
            why = ((self.data.get("record") or {}).get("not_repeatable") or {}).get("model")
            if why:
                raise ConfigError(
                    f"{self.path}: the run's model was a Python object that its config.yaml cannot name again "
                    f"({why}); apply the run from Python with the same factory: "
                    f"sciconv.load_run({str(self.path)!r}).predict(..., model=<the factory>)"
                )
            factory, name = pipe._resolve("model")
            return factory, check_params("model", name, factory, pipe.config.model.params)
        if not callable(given):
            raise ConfigError(
                f"predict(model=...): expected the model factory the run was trained with, factory(spec, **params) "
                f"-> torch.nn.Module, got a {type(given).__name__}"
            )
        name = getattr(given, "__qualname__", type(given).__name__)
        return given, check_params("model", name, given, pipe.config.model.params)

    def _dataset(self, pipe: Pipeline) -> Any:
        factory, name = pipe._resolve("dataset")
        dataset = _instantiate(
            "dataset", name, factory, check_params("dataset", name, factory, pipe.config.dataset.params)
        )
        if callable(getattr(dataset, "validate", None)):
            dataset.validate()
        return dataset

    def _out_dir(self, out: str | Path | None) -> Path:
        if out is None:
            return self.path / "predictions" / time.strftime("%Y%m%d-%H%M%S")
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(f"--out {path}: exists and is not an empty folder (predictions never overwrite files)")
        return path

    def _apply(
        self,
        config: PipelineConfig,
        task: Any,
        model_factory: Callable[..., Any],
        model_params: dict[str, Any],
        bundle: DataBundle,
        split: str,
        target: Path | None,
        started: float,
        log: Callable[[str], None],
    ) -> Prediction:
        import tempfile

        from sciconv.atomic import atomic_directory
        from sciconv.context import PredictContext
        from sciconv.engine import Engine
        from sciconv.seeding import seed_everything

        engine = Engine(config.train, checkpoint_root=None)
        scratch = None
        if target is None:
            scratch = Path(tempfile.mkdtemp(prefix="sciconv-predict-"))
            folder_cm: Any = contextlib.nullcontext(scratch)
        else:
            folder_cm = atomic_directory(target)
        try:
            with folder_cm as folder:
                ctx = PredictContext(config, self.trained, engine, model_factory, model_params, split, folder, log)
                seed_everything(config.train.seed)
                log(f"predicting with {self.path} ({config.name})")
                result = task.predict(ctx, bundle)
                if not isinstance(result, PredictionResult):
                    raise SciconvError(
                        f"task {config.task.name!r}: predict() returned {type(result).__name__}, "
                        "expected sciconv.PredictionResult"
                    )
                seconds = time.perf_counter() - started
                metrics = flatten_metrics(result.metrics)
                if target is not None:
                    _write(folder, result, metrics, self, config, split, bundle, seconds)
                relative = [_relative(Path(f), folder) for f in result.files]
            files = [target / rel for rel in relative] if target is not None else []
        finally:
            if scratch is not None:
                import shutil

                shutil.rmtree(scratch, ignore_errors=True)
        if target is not None:
            log(f"predictions: {target}")
        return Prediction(result.tables, metrics, target, seconds, files)


def load_run(run_dir: str | Path) -> FinishedRun:
    """A completed run directory, to apply to new data: ``sciconv.load_run(dir).predict({...})``."""
    return FinishedRun(run_dir)


def predict(
    run_dir: str | Path,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    *,
    out: str | Path | None = None,
    split: str = "all",
) -> Prediction:
    """``pipeline predict RUN_DIR [overrides] [--out DIR] [--split all|test]``."""
    return load_run(run_dir).predict(overrides or None, out=out, split=split, write=True)


# --- helpers -----------------------------------------------------------------------------------------


def _relative(path: Path, folder: Path) -> Path:
    """A file the task wrote, relative to the output folder (a bare name when it is not inside it)."""
    try:
        return (folder / path).resolve().relative_to(folder.resolve())
    except ValueError:
        return Path(path.name)


def _as_strings(data: Any) -> Iterable[str]:
    if isinstance(data, str):
        return [data]
    return [str(item) for item in data]


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _read_status(rd: RunDir) -> dict[str, Any]:
    try:
        status = json.loads(rd.status_file.read_text())
    except (OSError, ValueError):
        return {"status": "unknown (status.json is missing or unreadable)"}
    return status if isinstance(status, dict) else {}


def _write(
    folder: Path,
    result: PredictionResult,
    metrics: Mapping[str, Any],
    run: FinishedRun,
    config: PipelineConfig,
    split: str,
    bundle: DataBundle,
    seconds: float,
) -> None:
    """The tables as CSV, metrics.json and report.md, into the (not yet visible) output folder."""
    from sciconv.atomic import atomic_write_text
    from sciconv.report import format_number

    rows = {}
    for name, table in result.tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
        rows[name] = len(table)
    if metrics:
        atomic_write_text(folder / "metrics.json", json.dumps(dict(metrics), indent=2) + "\n")
    params = ", ".join(f"`{k}={v!r}`" for k, v in config.dataset.params.items()) or "defaults"
    out = [
        f"# Predictions of {config.name}",
        "",
        f"- **From run** `{run.path}` (trained state of {run.trained.info.get('pipeline', config.name)}, "
        f"verified against its manifest); task `{config.task.name}`, model `{config.model.name}`; nothing was trained.",
        f"- **On data** `{config.dataset.name}`: {params}; "
        + ("every sample" if split == "all" else "its test split")
        + f"; {_count(bundle)}.",
        f"- **Took** {seconds:.1f} s.",
        "",
        "## Tables",
        "",
    ]
    out += [f"- `{name}.csv`: {n} rows" for name, n in rows.items()] or ["_none_"]
    if result.files:
        out += ["", "## Files", ""] + [f"- `{_relative(Path(f), folder).as_posix()}`" for f in result.files]
    if metrics:
        out += ["", "## Metrics (the data carry labels)", "", "| metric | value |", "|---|---|"]
        out += [f"| `{k}` | {format_number(v)} |" for k, v in metrics.items()]
    for heading, body in result.sections.items():
        out += ["", f"## {heading}", "", body.rstrip()]
    atomic_write_text(folder / "report.md", "\n".join(out) + "\n")


def _count(bundle: DataBundle) -> str:
    sizes = {name: len(part) for name in ("train", "val", "test") if (part := getattr(bundle, name)) is not None}
    return ", ".join(f"{name} {n}" for name, n in sizes.items()) + " samples"


__all__ = ["FinishedRun", "Prediction", "load_run", "predict"]
