"""Executes a validated pipeline into its run directory, and what a run returns (:class:`RunResult`).

:func:`execute` takes the pipeline's validated configuration, a callable that builds its components and
one that gives the configuration to save with the run; :meth:`sciconv.pipeline.Pipeline.run` passes its
own. The runner imports nothing of :mod:`sciconv.pipeline`, which sits above it.
"""

from __future__ import annotations

import platform
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sciconv import distributed
from sciconv.atomic import atomic_write_bytes
from sciconv.components import TaskResult
from sciconv.config import PipelineConfig
from sciconv.errors import CheckpointError, RunInterrupted, SciconvError, TrainingDivergedError
from sciconv.loggers import RunLoggers, check_loggers, open_loggers
from sciconv.report import plot_training_curves, render_report
from sciconv.rundir import RunDir, flatten_metrics

_HISTORY_FLUSH_S = 5.0
_EPOCH_DIR = re.compile(r"^epoch-(\d{6})$")  # a checkpoint's folder (see sciconv.checkpoint)


@dataclass
class RunResult:
    """What :func:`sciconv.run` returns: final metrics, the run directory and the trained model."""

    metrics: dict[str, Any]
    run_dir: Path
    model: Any
    config: PipelineConfig
    history: list[dict[str, Any]] = field(default_factory=list)
    table: list[Any] = field(default_factory=list)


class Components(NamedTuple):
    """A pipeline's built components, as a run uses them."""

    dataset: Any
    model_factory: Callable[..., Any]
    model_params: dict[str, Any]
    task: Any


@dataclass(frozen=True)
class _Run:
    """What :func:`execute` was given, as the rank's run passes it on."""

    config: PipelineConfig
    build: Callable[[], Components]
    resolved_config: Callable[[], dict[str, Any]]
    resume_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def environment() -> dict[str, str]:
    """Versions recorded with every run."""
    import torch

    from sciconv._version import __version__

    return {
        "sciconv": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def execute(
    config: PipelineConfig,
    build: Callable[[], Components],
    resolved_config: Callable[[], dict[str, Any]],
    *,
    run_dir: str | Path | None,
    resume: str | Path | None,
    log: Callable[[str], None],
    resume_changes: Mapping[str, tuple[Any, Any]] | None = None,
) -> RunResult:
    """Build the components, run the task, and write the run directory (see :mod:`sciconv.rundir`).

    ``config`` is the validated pipeline, ``build()`` builds its components (called once the run directory
    is claimed) and ``resolved_config()`` gives the configuration saved as the run's ``config.yaml``.
    ``resume_changes`` (dotted key -> ``(before, after)``) are the settings a resumed run changes; they are
    recorded in ``config.yaml``'s ``record.resumes`` with the epoch each checkpointed fit had reached.
    SIGTERM (how schedulers and ``kill`` stop a job) is handled like Ctrl-C while the run is in the main
    thread: the run ends ``interrupted``, its checkpoints intact, and :class:`~sciconv.errors.RunInterrupted`
    is raised.
    Launched by torchrun (``WORLD_SIZE`` > 1), this process first joins the process group
    (:func:`sciconv.distributed.setup`); rank 0 then writes the run directory as a single process would.
    The experiment trackers of ``output.loggers`` (:mod:`sciconv.loggers`, rank 0 only) are checked before the
    run directory is made, started once it holds ``config.yaml``, fed every epoch record, and closed with the
    run's outcome; once training has begun, a tracker's failure is a warning, never the run's.
    """
    with _sigterm_as_interrupt():
        return _execute_main(config, build, resolved_config, run_dir, resume, log, dict(resume_changes or {}))


def _execute_main(
    config: PipelineConfig,
    build: Callable[[], Components],
    resolved_config: Callable[[], dict[str, Any]],
    run_dir: str | Path | None,
    resume: str | Path | None,
    log: Callable[[str], None],
    resume_changes: dict[str, tuple[Any, Any]],
) -> RunResult:
    world = distributed.setup(config.train.device, config.parallel.timeout_s)
    run = _Run(config, build, resolved_config, resume_changes)
    if not world.is_main:
        return _execute_other_rank(run, resume=resume, world=world)
    check_loggers(config.output)  # a tracker's missing package, before anything is written
    # The run directory is claimed first, so that a refused --run-dir costs nothing.
    previous: dict[Path, bytes] = {}
    if resume is not None:
        rd, created = RunDir.existing(resume), False
        # A completed run being extended keeps its result if the continuation fails.
        previous = {f: f.read_bytes() for f in (rd.config_file, rd.status_file) if f.is_file()}
    else:
        rd, created = RunDir.create(config.output.root, config.name, run_dir)
    if world.world_size > 1:
        # The other ranks run the same task in private copies of the run directory (see _execute_other_rank).
        distributed.broadcast_object(
            (str(rd.path), distributed.pack_directory(rd.path) if resume is not None else None)
        )
    return _execute(run, rd, created, previous, resume=resume, log=log, world=world)


def _execute_other_rank(run: _Run, *, resume: str | Path | None, world: distributed.World) -> RunResult:
    """A rank other than 0: the same run, against a private scratch copy of rank 0's run directory (the
    state of a resumed run included), removed at the end. Only rank 0 writes the real one; this rank logs
    nothing."""
    path, packed = distributed.broadcast_object(None)
    scratch = Path(tempfile.mkdtemp(prefix=f"sciconv-rank{world.rank}-"))
    try:
        if packed is not None:
            distributed.unpack_directory(packed, scratch)
        result = _execute(run, RunDir(scratch), False, {}, resume=resume, log=lambda message: None, world=world)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.run_dir = Path(path)
    return result


def _execute(
    run: _Run,
    rd: RunDir,
    created: bool,
    previous: dict[Path, bytes],
    *,
    resume: str | Path | None,
    log: Callable[[str], None],
    world: distributed.World,
) -> RunResult:
    import torch

    from sciconv.context import RunContext
    from sciconv.conv import use_backend
    from sciconv.engine import Engine
    from sciconv.seeding import seed_everything

    config = run.config
    try:
        dataset, model_factory, model_params, task = run.build()
    except BaseException:
        if resume is None:
            rd.discard(created)
        raise

    started = time.perf_counter()
    status: dict[str, Any] = {"status": "running", "pipeline": config.name, **environment()}
    history: list[dict[str, Any]] = []
    last_flush = [0.0]
    loggers: RunLoggers | None = None  # the experiment trackers (output.loggers), rank 0 only

    def on_epoch(record: dict[str, Any]) -> None:
        history.append(record)
        if loggers is not None:
            loggers.log_epoch(record)
        now = time.perf_counter()
        if now - last_flush[0] >= _HISTORY_FLUSH_S:
            rd.write_history(history)
            last_flush[0] = now

    saved_config: dict[str, Any] = {}
    try:
        saved_config = _config_to_save(run, rd, previous, resume is not None)
        engine = Engine(config.train, checkpoint_root=rd.checkpoints_dir, resume=resume is not None, on_epoch=on_epoch)
        status["device"] = str(engine.device)
        if world.world_size > 1:
            status["distributed"] = {"world_size": world.world_size, "backend": _backend_name()}
        rd.write_config(saved_config)
        rd.write_status(status)
        log(f"{'resuming' if resume else 'running'} {config.name} -> {rd.path}")
        if config.output.loggers and world.is_main:
            # on resume, the epochs the checkpoints restore are replayed by the engine: see RunLoggers
            restored = checkpointed_epochs(rd.checkpoints_dir) if resume is not None else {}
            loggers = open_loggers(config.output, rd, pipeline=config.name, config=saved_config, restored=restored)
            for line in loggers.describe():
                log(line)
        seed_everything(config.train.seed)
        ctx = RunContext(
            config=config,
            run_dir=rd,
            engine=engine,
            dataset=dataset,
            model_factory=model_factory,
            model_params=model_params,
            resume=resume is not None,
            log=log,
        )
        own_model = ctx.own_model_name()
        if own_model is not None and not config.model.name.startswith("python:"):
            # pipe.model = MyNet: the pipeline file's description names the model it replaced
            ctx.summary["replaced_model"] = {"pipeline": config.model.name, "ran": own_model}
        with use_backend(config.conv.backend), torch.random.fork_rng(devices=[]):
            result = task.run(ctx)
        if not isinstance(result, TaskResult):
            raise SciconvError(
                f"task {config.task.name!r}: run() returned {type(result).__name__}, expected sciconv.TaskResult"
            )
        if world.is_main:  # what predict needs, in place as a whole (an earlier trained/ stays if nothing new)
            data = ctx._data
            ctx.trained.commit(data.spec if data is not None else None, {"pipeline": config.name})
        metrics = flatten_metrics(result.metrics)
        # what the report's "What ran" may claim: the pipeline's model and train section, if the task used them
        ctx.summary.setdefault("pipeline_model_used", False)
        ctx.summary.setdefault("train_settings_used", False)
        rd.write_history(history)
        plots: list[tuple[str, str]] = []
        if config.output.plots:
            spec = ctx.summary.get("spec") or {}
            classes = spec.get("n_outputs") if spec.get("task_type") == "classification" else None
            curves = plot_training_curves(
                history,
                rd.plots_dir / "training_curves.png",
                kept_epochs=ctx.summary.get("kept_epochs"),
                chance=1.0 / classes if classes and classes > 1 else None,
            )
            if curves is not None:
                plots.append(
                    (
                        curves.relative_to(rd.path).as_posix(),
                        "Training curves: loss and validation metrics per epoch (dotted: the epoch whose weights "
                        "were kept; dashed: chance level)",
                    )
                )
            for path, caption in result.plots:
                plots.append((Path(path).resolve().relative_to(rd.path.resolve()).as_posix(), caption))
        status.update(status="completed", wall_time_s=round(time.perf_counter() - started, 3))
        rd.write_report(
            render_report(
                config=saved_config,
                status=status,
                summary=ctx.summary,
                table=result.table,
                metrics=metrics,
                sections=result.sections,
                plots=plots,
            )
        )
        rd.write_metrics(metrics)
        rd.write_status(status)
    except BaseException as exc:
        if loggers is not None:  # before a discard below removes a run-local store
            loggers.close("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        # What the task staged for predict stays with a run that can be resumed (a resumed task skips the parts
        # it journaled, so their trained state must survive); a discarded run takes it with it.
        diverged = isinstance(exc, TrainingDivergedError)  # kept: its history shows how the fit blew up
        if resume is None and not rd.has_checkpoints() and not diverged:
            rd.discard(created)
        elif rd.metrics_file.is_file() and previous:
            for path, data in previous.items():
                atomic_write_bytes(path, data)
            exc.add_note(f"the earlier result in {rd.path} is unchanged")
        else:
            if history:
                rd.write_history(history)
            status.update(
                status="failed" if not isinstance(exc, KeyboardInterrupt) else "interrupted",
                error=f"{type(exc).__name__}: {exc}",
                wall_time_s=round(time.perf_counter() - started, 3),
            )
            if isinstance(exc, KeyboardInterrupt):
                status["signal"] = exc.signal_name if isinstance(exc, RunInterrupted) else "SIGINT"
            rd.write_status(status)
            if diverged:
                exc.add_note(f"the run directory {rd.path} records the diverged fit (history.csv, status.json)")
            elif not isinstance(exc, CheckpointError):
                exc.add_note(f"the run directory {rd.path} keeps its checkpoints; continue with --resume {rd.path}")
        raise
    if loggers is not None:  # the run's result is written: a tracker's failure here is only a warning
        loggers.finish(metrics, [relative for relative, _ in plots])
    log(f"done in {status['wall_time_s']:.1f} s: {rd.path}")
    return RunResult(
        metrics=metrics,
        run_dir=rd.path,
        model=result.model,
        config=config,
        history=history,
        table=result.table,
    )


def _config_to_save(run: _Run, rd: RunDir, previous: dict[Path, bytes], resuming: bool) -> dict[str, Any]:
    """The ``config.yaml`` of this run: the resolved configuration and its ``record``. A resumed run keeps the
    record of its earlier resumes and adds this one: when, what it changed, and where each fit was."""
    data = run.resolved_config()
    if not resuming:
        return data
    from sciconv.yamlio import parse_yaml

    earlier: dict[str, Any] = {}
    if rd.config_file in previous:
        saved = parse_yaml(previous[rd.config_file].decode(), str(rd.config_file))
        earlier = dict(saved.get("record") or {}) if isinstance(saved, dict) else {}
    record = {**earlier, **dict(data.get("record") or {})}
    record["resumes"] = [
        *earlier.get("resumes", []),
        {
            "resumed": time.strftime("%Y-%m-%d %H:%M:%S"),
            "changes": {key: [before, after] for key, (before, after) in run.resume_changes.items()},
            "after_epoch": checkpointed_epochs(rd.checkpoints_dir),
        },
    ]
    data["record"] = record
    return data


def checkpointed_epochs(root: Path) -> dict[str, int]:
    """The last checkpointed epoch of every fit under a run's ``checkpoints/`` (fit name -> epoch), from the
    folder names (a resumed fit continues from its latest checkpoint)."""
    epochs: dict[str, int] = {}
    if not root.is_dir():
        return epochs
    for manifest in root.rglob("manifest.json"):
        folder = manifest.parent
        match = _EPOCH_DIR.match(folder.name)
        if match is None:
            continue
        fit = folder.parent.relative_to(root).as_posix()
        epochs[fit] = max(epochs.get(fit, 0), int(match.group(1)))
    return dict(sorted(epochs.items()))


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a run is in the main thread, SIGTERM raises :class:`RunInterrupted` there, as Ctrl-C raises
    KeyboardInterrupt (unless something else, e.g. a torchrun worker's handler, already handles SIGTERM)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise RunInterrupted(signal.Signals(signum).name, signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _backend_name() -> str:
    import torch.distributed as dist

    return str(dist.get_backend())
