"""Data-parallel training on PyTorch's distributed engine: the process group and its collectives.

A run becomes distributed when it is started by torchrun's machinery (:mod:`sciconv.launcher` for
``pipeline run NAME --nproc N``, or ``torchrun ... -m sciconv run NAME`` across machines). Each worker
finds ``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` in its environment, and :func:`setup` joins the process
group (gloo on CPU, NCCL on GPUs, one GPU per local rank).

Every rank runs the whole task, so a task needs no distributed code of its own. The core engine then
wraps each fit's model in :class:`~torch.nn.parallel.DistributedDataParallel` and gives every rank its
shard of each global batch; predictions are computed on shards and gathered, so validation metrics are
the same on every rank; only rank 0 writes the run directory (see :mod:`sciconv.runner`). Independent
jobs (:mod:`sciconv.parallel`) are shared among the ranks instead of starting joblib workers in each.

A rank that fails ends the job: the launcher stops the other ranks (they receive SIGTERM, which raises
:class:`RankTerminated` in them), and collectives give up after ``parallel.timeout_s``.

This module imports nothing of sciconv but its errors (torch only inside the functions), so the engine,
the job runner and the run context may all use it.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tarfile
from collections.abc import Iterator, Sequence
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


def broadcast_buffers(module: Any, src: int = 0) -> None:
    """Overwrite ``module``'s buffers (batch-norm running statistics) on every rank with rank ``src``'s, in place.

    DDP keeps the parameters equal on all ranks, but each rank updates its buffers from its own shard after the
    last broadcast of an epoch; evaluating with them would score a model that no checkpoint holds, and a resumed
    run (whose ranks all load rank 0's buffers) would score differently from an uninterrupted one."""
    if not _initialized():
        return
    import torch.distributed as dist

    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=src)


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
