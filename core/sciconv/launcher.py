"""Launching distributed runs: local worker processes under torchrun's machinery.

``pipeline run NAME --nproc N`` calls :func:`launch_pipeline`, which validates the pipeline in this
process, claims the run directory and starts N local workers through
:func:`torch.distributed.launcher.api.elastic_launch` (what ``torchrun`` itself runs); each worker runs
the pipeline as a single process would, after joining the process group (:func:`sciconv.distributed.setup`).
:func:`launch` does the same for any module-level function.

A rank that fails ends the job: the launcher stops the other ranks (they receive SIGTERM, which raises
:class:`~sciconv.distributed.RankTerminated` in them), and :func:`launch_pipeline` reports the failing
rank's error (:class:`~sciconv.distributed.DistributedError`), also in the run's ``status.json``.

This module sits above :mod:`sciconv.pipeline` (it runs pipelines); the process group and the collectives
the engine uses are in :mod:`sciconv.distributed`, which imports nothing of this.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sciconv.distributed import DistributedError, RankTerminated, teardown
from sciconv.errors import ConfigError, RunInterrupted


def launch(
    fn: Callable[..., Any],
    args: Sequence[Any],
    nproc: int,
    *,
    debug: bool = False,
) -> dict[int, Any]:
    """Run ``fn(*args)`` in ``nproc`` local worker processes under torchrun's launcher (a c10d
    rendezvous on a free local port, no restarts) and return each rank's return value.

    ``fn`` must be importable by name (a module-level function). A worker that fails stops the others;
    the failure is raised as :class:`DistributedError` naming the rank and its error. The launcher's own
    log (every start and stop, the failing rank's traceback) is shown with ``debug`` only.
    """
    if nproc < 1:
        raise ConfigError(f"--nproc: expected at least 1 process, got {nproc}")
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        rdzv_configs={"timeout": 120},
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
        shutdown_timeout=5,
    )
    from torch.distributed.elastic.multiprocessing.api import SignalException

    # torchelastic's modules each set their own logger's level, so each one is quietened, not just the parent
    names = ["torch.distributed.elastic", "torch.multiprocessing"]
    names += [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed.elastic.")]
    loggers = [logging.getLogger(name) for name in names]
    saved_levels = [logger.level for logger in loggers]
    if not debug:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
    try:
        return elastic_launch(config, _entry)(fn, *args)
    except ChildFailedError as exc:
        raise DistributedError(_describe_failure(exc)) from None
    except SignalException as exc:
        # the launcher was asked to stop (SIGTERM from a scheduler, SIGINT): it has stopped the workers with the
        # same signal; report it as the single-process run does
        raise RunInterrupted(exc.sigval.name, int(exc.sigval)) from None
    finally:
        for logger, level in zip(loggers, saved_levels, strict=True):
            logger.setLevel(level)


def _entry(fn: Callable[..., Any], *args: Any) -> Any:
    """A worker's entry point: ``fn(*args)`` with the error recorded for the launcher (torchelastic's
    ``@record``)."""
    from torch.distributed.elastic.multiprocessing.errors import record

    try:
        return record(fn)(*args)
    except RankTerminated:
        raise SystemExit(128 + signal.SIGTERM) from None  # stopped because of another rank: nothing to show


_SOURCE_LOCATION = re.compile(r"\[[^\]]*\.(?:cc|cpp|h):\d+\] ")


def _describe_failure(exc: Any) -> str:
    """The failing rank's error, preferring a rank's own exception over the ranks stopped because of it."""
    failures = sorted(exc.failures.items(), key=lambda item: (item[1].timestamp, item[0]))

    def message(failure: Any) -> str:
        data = failure.message
        if isinstance(data, dict):
            data = data.get("message", "")
        return str(data or "")

    def secondary(failure: Any) -> bool:
        text = message(failure)
        return (
            not isinstance(failure.message, dict)  # no recorded exception: killed, or stopped by the launcher
            or text.startswith(("DistBackendError", "DistNetworkError"))
            or "Connection closed by peer" in text
            or "Connection reset by peer" in text
        )

    primary = [item for item in failures if not secondary(item[1])] or failures
    rank, failure = primary[0]
    text = _SOURCE_LOCATION.sub("", message(failure))
    if "timed out" in text.lower() or "timeout" in text.lower():
        text += " (a rank stopped answering for longer than parallel.timeout_s)"
    if not text or not isinstance(failure.message, dict):
        signal_name = failure.signal_name()
        text = f"killed by {signal_name}" if signal_name != "<N/A>" else f"exited with code {failure.exitcode}"
    others = sorted(r for r, _ in failures if r != rank)
    tail = f" (ranks {', '.join(map(str, others))} stopped with it)" if others else ""
    return f"rank {rank} failed: {text}{tail}"


# --- pipelines ----------------------------------------------------------------------------------


def launch_pipeline(
    target: str | None,
    overrides: Sequence[str],
    *,
    nproc: int,
    run_dir: str | None,
    resume: str | None,
    debug: bool = False,
) -> dict[str, Any]:
    """``pipeline run ... --nproc N``: validate the pipeline here, then run it in ``N`` ranks.

    Returns rank 0's ``{"metrics": ..., "run_dir": ...}``. The run directory is claimed before the
    workers start (so a refused ``--run-dir`` costs nothing) and removed again if they fail before
    writing anything into it.
    """
    from sciconv.pipeline import load_pipeline, load_run
    from sciconv.rundir import RunDir

    if resume is not None:
        load_run(resume, list(overrides))  # validated here, before any process starts
        created, run_dir = False, resume
    else:
        if target is None:
            raise ConfigError("name a pipeline (or a pipeline file) to run")
        pipe = load_pipeline(target, list(overrides))
        rd, created = RunDir.create(pipe.config.output.root, pipe.config.name, run_dir)
        run_dir = str(rd.path)
    assert run_dir is not None
    try:
        worker_args = (target, list(overrides), None if resume is not None else run_dir, resume)
        results = launch(_pipeline_worker, worker_args, nproc, debug=debug)
    except DistributedError as exc:
        _record_root_cause(RunDir(Path(run_dir)), str(exc))
        raise
    except RunInterrupted as exc:
        if _record_interruption(RunDir(Path(run_dir)), exc):
            exc.add_note(f"the run directory {run_dir} keeps its checkpoints; continue with --resume {run_dir}")
        raise
    finally:
        if created and Path(run_dir).is_dir() and not any(Path(run_dir).iterdir()):
            rd.discard(True)
    return results[0]


def _record_root_cause(rd: Any, cause: str) -> None:
    """Put the failing rank's error into ``status.json`` (rank 0 only saw its side of it, e.g. a closed
    connection)."""
    import json

    from sciconv.atomic import atomic_write_text

    try:
        status = json.loads(rd.status_file.read_text())
    except (OSError, ValueError):
        return
    if status.get("status") not in ("failed", "interrupted"):
        return
    status["rank0_error"] = status.get("error")
    status["error"] = cause
    atomic_write_text(rd.status_file, json.dumps(status, indent=2, default=str) + "\n")


def _record_interruption(rd: Any, exc: RunInterrupted) -> bool:
    """Record in ``status.json`` that the run was stopped by a signal (rank 0 saw only that the launcher stopped
    it); whether the run directory holds a run to resume."""
    import json

    from sciconv.atomic import atomic_write_text

    try:
        status = json.loads(rd.status_file.read_text())
    except (OSError, ValueError):
        return False
    if status.get("status") == "completed":
        return False
    status.update(status="interrupted", signal=exc.signal_name, error=f"RunInterrupted: {exc}")
    atomic_write_text(rd.status_file, json.dumps(status, indent=2, default=str) + "\n")
    return rd.has_checkpoints()


def _pipeline_worker(
    target: str | None, overrides: list[str], run_dir: str | None, resume: str | None
) -> dict[str, Any] | None:
    """One rank of ``pipeline run --nproc``: the same run as a single process (see :func:`sciconv.run`)."""
    import warnings

    from sciconv.pipeline import run

    if int(os.environ.get("RANK", "0")) != 0:
        warnings.simplefilter("ignore")  # rank 0 shows them once
    try:
        result = run(target, overrides, run_dir=run_dir, resume=resume)
    finally:
        teardown()
        sys.stdout.flush()
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    return {"metrics": result.metrics, "run_dir": str(result.run_dir)}


__all__ = ["launch", "launch_pipeline"]
