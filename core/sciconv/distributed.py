"""Data-parallel training on PyTorch's distributed engine.

A run becomes distributed when it is started by torchrun's machinery: ``pipeline run NAME --nproc N``
launches N local worker processes through :func:`torch.distributed.launcher.api.elastic_launch` (what
``torchrun`` itself runs), and ``torchrun ... -m sciconv run NAME`` does the same across machines. Each
worker finds ``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` in its environment, and :func:`setup` joins the
process group (gloo on CPU, NCCL on GPUs, one GPU per local rank).

Every rank runs the whole task, so a task needs no distributed code of its own. The core engine then
wraps each fit's model in :class:`~torch.nn.parallel.DistributedDataParallel` and gives every rank its
shard of each global batch; predictions are computed on shards and gathered, so validation metrics are
the same on every rank; only rank 0 writes the run directory (see :mod:`sciconv.runner`). Independent
jobs (:mod:`sciconv.parallel`) are shared among the ranks instead of starting joblib workers in each.

A rank that fails ends the job: the launcher stops the other ranks (they receive SIGTERM, which raises
:class:`RankTerminated` in them), collectives give up after ``parallel.timeout_s``, and
:func:`launch_pipeline` reports the failing rank's error.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sciconv.errors import ConfigError, SciconvError


class DistributedError(SciconvError):
    """A distributed run failed: a rank raised, was killed or timed out."""


class RankTerminated(BaseException):
    """Raised in a rank when the launcher stops it (SIGTERM) because another rank failed."""


@dataclass(frozen=True)
class World:
    """Where this process sits in a distributed run (``rank 0 of 1`` when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run directory and logs."""
        return self.rank == 0


_local_depth = 0


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world() -> World:
    """This process's place in the current process group (a single-process world when there is none)."""
    if not _initialized():
        return World()
    import torch.distributed as dist

    return World(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
    )


def active() -> bool:
    """True when fits and predictions are to be shared among several ranks (a process group of more than
    one rank, outside :func:`local_only`)."""
    return _local_depth == 0 and world().world_size > 1


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Within this block every fit and prediction is local to this process (used for the independent
    jobs one rank runs on its own while the other ranks run others)."""
    global _local_depth
    _local_depth += 1
    try:
        yield
    finally:
        _local_depth -= 1


def launched_by_torchrun() -> bool:
    """Whether this process is a worker started by torchrun's machinery (``WORLD_SIZE`` > 1 set)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def setup(device: str, timeout_s: float) -> World:
    """Join the process group of a torchrun-launched run, if this process is one of its workers.

    ``device`` is the pipeline's ``train.device``: CPU runs use gloo, CUDA runs NCCL with one GPU per
    local rank. Sets this rank's torch threads to its share of the machine's cores (unless
    ``OMP_NUM_THREADS`` says otherwise) and turns SIGTERM into :class:`RankTerminated`. Returns the world
    (single-process when not launched by torchrun).
    """
    if _initialized() or not launched_by_torchrun():
        return world()
    import torch
    import torch.distributed as dist

    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device={device!r} but no CUDA device is available to this rank")
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"local rank {local_rank} has no GPU of its own ({torch.cuda.device_count()} visible); "
                "start at most one process per GPU"
            )
        torch.cuda.set_device(local_rank)
    if "OMP_NUM_THREADS" not in os.environ:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(local, 1)))
    signal.signal(signal.SIGTERM, _terminated)
    dist.init_process_group(
        backend="nccl" if use_cuda else "gloo",
        timeout=timedelta(seconds=timeout_s),
        device_id=torch.device("cuda", local_rank) if use_cuda else None,
    )
    return world()


def _terminated(signum: int, frame: Any) -> None:
    raise RankTerminated(f"rank {os.environ.get('RANK', '?')} was stopped (signal {signum}): another rank failed")


def teardown() -> None:
    """Leave the process group (at the end of a worker)."""
    if _initialized():
        import torch.distributed as dist

        dist.destroy_process_group()


# --- collectives on Python objects --------------------------------------------------------------


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank (pickled; for small things: paths, states)."""
    if not _initialized():
        return obj
    import torch.distributed as dist

    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not _initialized():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sums of ``values`` over the ranks (float64)."""
    if not _initialized():
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return [float(v) for v in tensor.cpu()]


def shard_bounds(n: int, world_size: int, rank: int) -> tuple[int, int]:
    """Contiguous ``[start, stop)`` of rank ``rank`` when ``n`` items are split over ``world_size`` ranks
    (sizes differ by at most one; the first ``n % world_size`` ranks get one more)."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


# --- run directories for the other ranks --------------------------------------------------------


def pack_directory(path: Path) -> bytes:
    """A run directory as tar bytes (for handing a resumed run's state to the other ranks)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(path), arcname=".")
    return buffer.getvalue()


def unpack_directory(data: bytes, path: Path) -> None:
    """Unpack :func:`pack_directory`'s bytes into ``path``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(str(path), filter="data")


# --- launching ----------------------------------------------------------------------------------


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
    loggers = [logging.getLogger(name) for name in ("torch.distributed.elastic", "torch.multiprocessing")]
    saved_levels = [logger.level for logger in loggers]
    if not debug:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
    try:
        return elastic_launch(config, _entry)(fn, *args)
    except ChildFailedError as exc:
        raise DistributedError(_describe_failure(exc)) from None
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
    finally:
        if created and Path(run_dir).is_dir() and not any(Path(run_dir).iterdir()):
            Path(run_dir).rmdir()
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
