"""Independent jobs in parallel: subjects, folds, seeds, ensemble members.

:func:`run_jobs` runs ``fn`` once per :class:`Job` with joblib (loky worker processes), in job order
or, with ``n_jobs=1``, one after the other in this process. Every job runs with the global RNGs seeded
from the run's seed and the job's name (:func:`~sciconv.seeding.derive_seed`) and with a fixed number of
torch threads, so its result does not depend on how many workers there are, which worker ran it, or
what ran before it. In serial mode the caller's RNG state is restored after each job, as if the job had
run elsewhere.

Under DDP (:mod:`sciconv.distributed`) no worker processes are started inside a rank: the ranks share
the jobs (job ``i`` runs on rank ``i % world_size``, its fits local to that rank) and gather the
results, so every rank ends with the full list.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sciconv import distributed
from sciconv.errors import ConfigError
from sciconv.seeding import derive_seed, seeded, torch_threads

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One independent job: ``fn(*args, **kwargs)``. ``name`` (unique within a call) seeds it."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def effective_n_jobs(n_jobs: int) -> int:
    """``n_jobs`` as a count of processes (``-1``: one per core of this machine)."""
    if n_jobs == 0 or n_jobs < -1:
        raise ConfigError(f"parallel.n_jobs: expected a positive count or -1, got {n_jobs}")
    return os.cpu_count() or 1 if n_jobs == -1 else n_jobs


def job_slots(n_jobs: int) -> int:
    """How many jobs :func:`run_jobs` runs at once: the ranks under DDP, else ``n_jobs`` workers (for tasks
    that size their jobs to keep every slot busy)."""
    world_size = distributed.world().world_size
    return world_size if world_size > 1 else effective_n_jobs(n_jobs)


def threads_for(n_workers: int, threads_per_job: int | None) -> int:
    """Torch threads per job: ``threads_per_job``, or this machine's cores shared among the workers."""
    if threads_per_job is not None:
        return threads_per_job
    return max(1, (os.cpu_count() or 1) // max(n_workers, 1))


def run_jobs(
    fn: Callable[..., T],
    jobs: Sequence[Job],
    *,
    n_jobs: int = 1,
    seed: int = 0,
    threads_per_job: int | None = None,
    on_result: Callable[[Job, T], None] | None = None,
) -> list[T]:
    """``[fn(*job.args, **job.kwargs) for job in jobs]``, computed in parallel.

    Args:
        fn: a module-level function (worker processes import it by name); its arguments and result
            must pickle.
        jobs: the jobs, with unique names.
        n_jobs: worker processes (``-1``: one per core); at most ``len(jobs)`` are started.
        seed: the run's seed; job ``j`` runs seeded with ``derive_seed(seed, j.name)``.
        threads_per_job: torch threads in each job (default: the cores shared among the workers).
        on_result: called in this process with each job and its result as results arrive (in
            completion order), e.g. to journal finished jobs of a run that may be resumed.

    Returns:
        The results, in the order of ``jobs``.
    """
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"run_jobs: job names must be unique (repeated: {repeated})")
    if not jobs:
        return []
    seeds = [derive_seed(seed, job.name) for job in jobs]
    results: list[Any] = [None] * len(jobs)

    if distributed.active():
        w = distributed.world()
        mine = list(range(w.rank, len(jobs), w.world_size))
        with distributed.local_only():  # a rank keeps its own threads unless threads_per_job says otherwise
            local = [(i, _call(fn, jobs[i], seeds[i], threads_per_job, restore=True)) for i in mine]
        for part in distributed.all_gather_objects(local):
            for i, value in part:
                results[i] = value
        if on_result is not None:
            for job, value in zip(jobs, results, strict=True):
                on_result(job, value)
        return results

    workers = min(effective_n_jobs(n_jobs), len(jobs))
    threads = threads_for(workers, threads_per_job)
    if workers == 1:
        for i, job in enumerate(jobs):
            results[i] = _call(fn, job, seeds[i], threads, restore=True)
            if on_result is not None:
                on_result(job, results[i])
        return results

    from joblib import Parallel, delayed

    stream = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")(
        delayed(_indexed_call)(i, fn, job, seeds[i], threads) for i, job in enumerate(jobs)
    )
    for i, value in stream:
        results[i] = value
        if on_result is not None:
            on_result(jobs[i], value)
    return results


def _indexed_call(index: int, fn: Callable[..., T], job: Job, seed: int, threads: int) -> tuple[int, T]:
    return index, _call(fn, job, seed, threads, restore=False)


def _call(fn: Callable[..., T], job: Job, seed: int, threads: int | None, *, restore: bool) -> T:
    """Run one job seeded (:func:`~sciconv.seeding.seeded`) and with ``threads`` torch threads, then put this
    process's thread count back and, with ``restore``, its RNG states."""
    with torch_threads(threads), seeded(seed, restore=restore):
        return fn(*job.args, **job.kwargs)


__all__ = ["Job", "effective_n_jobs", "job_slots", "run_jobs", "threads_for"]
