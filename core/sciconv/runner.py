"""Executes a validated :class:`~sciconv.pipeline.Pipeline` into its run directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sciconv.atomic import atomic_write_bytes
from sciconv.components import TaskResult
from sciconv.context import RunContext
from sciconv.errors import CheckpointError, SciconvError
from sciconv.pipeline import Pipeline, RunResult, environment
from sciconv.report import plot_training_curves, render_report
from sciconv.rundir import RunDir, flatten_metrics

_HISTORY_FLUSH_S = 5.0


def execute(
    pipe: Pipeline, *, run_dir: str | Path | None, resume: str | Path | None, log: Callable[[str], None]
) -> RunResult:
    """Build the components, run the task, and write the run directory (see :mod:`sciconv.rundir`)."""
    import torch

    from sciconv.conv import use_backend
    from sciconv.engine import Engine, seed_everything

    config = pipe.config
    # The run directory is claimed first, so that a refused --run-dir costs nothing.
    previous: dict[Path, bytes] = {}
    if resume is not None:
        rd, created = RunDir.existing(resume), False
        # A completed run being extended keeps its result if the continuation fails.
        previous = {f: f.read_bytes() for f in (rd.config_file, rd.status_file) if f.is_file()}
    else:
        rd, created = RunDir.create(config.output.root, config.name, run_dir)
    try:
        dataset, model_factory, model_params, task = pipe._build()
    except BaseException:
        if resume is None:
            rd.discard(created)
        raise

    started = time.perf_counter()
    status: dict[str, Any] = {"status": "running", "pipeline": config.name, **environment()}
    history: list[dict[str, Any]] = []
    last_flush = [0.0]

    def on_epoch(record: dict[str, Any]) -> None:
        history.append(record)
        now = time.perf_counter()
        if now - last_flush[0] >= _HISTORY_FLUSH_S:
            rd.write_history(history)
            last_flush[0] = now

    try:
        engine = Engine(config.train, checkpoint_root=rd.checkpoints_dir, resume=resume is not None, on_epoch=on_epoch)
        status["device"] = str(engine.device)
        rd.write_config(pipe.resolved_config())
        rd.write_status(status)
        log(f"{'resuming' if resume else 'running'} {config.name} -> {rd.path}")
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
        with use_backend(config.conv.backend), torch.random.fork_rng(devices=[]):
            result = task.run(ctx)
        if not isinstance(result, TaskResult):
            raise SciconvError(
                f"task {config.task.name!r}: run() returned {type(result).__name__}, expected sciconv.TaskResult"
            )
        metrics = flatten_metrics(result.metrics)
        rd.write_history(history)
        plots: list[tuple[str, str]] = []
        if config.output.plots:
            curves = plot_training_curves(history, rd.plots_dir / "training_curves.png")
            if curves is not None:
                plots.append(
                    (
                        curves.relative_to(rd.path).as_posix(),
                        "Training curves: loss and validation metrics per epoch",
                    )
                )
            for path, caption in result.plots:
                plots.append((Path(path).resolve().relative_to(rd.path.resolve()).as_posix(), caption))
        status.update(status="completed", wall_time_s=round(time.perf_counter() - started, 3))
        rd.write_report(
            render_report(
                config=pipe.resolved_config(),
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
        if resume is None and not rd.has_checkpoints():
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
            rd.write_status(status)
            if not isinstance(exc, CheckpointError):
                exc.add_note(f"the run directory {rd.path} keeps its checkpoints; continue with --resume {rd.path}")
        raise
    log(f"done in {status['wall_time_s']:.1f} s: {rd.path}")
    return RunResult(
        metrics=metrics,
        run_dir=rd.path,
        model=result.model,
        config=config,
        history=history,
        table=result.table,
    )
