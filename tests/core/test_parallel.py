"""Independent jobs: joblib workers give the serial results, whatever their number; DDP ranks share them."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from ddp_workers import jobs_shared_among_ranks, noisy_job

from sciconv.errors import ConfigError
from sciconv.launcher import launch
from sciconv.parallel import Job, effective_n_jobs, job_slots, run_jobs, threads_for

JOBS = [Job(f"subject-{i:02d}", (8, float(i + 1))) for i in range(5)]


def test_workers_give_the_serial_results_bitwise() -> None:
    serial = run_jobs(noisy_job, JOBS, n_jobs=1, seed=3, threads_per_job=1)
    assert run_jobs(noisy_job, JOBS, n_jobs=2, seed=3, threads_per_job=1) == serial
    assert run_jobs(noisy_job, JOBS[::-1], n_jobs=2, seed=3, threads_per_job=1) == serial[::-1]  # order-free


def test_thread_counts_change_only_rounding() -> None:
    serial = np.array(run_jobs(noisy_job, JOBS, n_jobs=1, seed=3))  # all cores in one job at a time
    parallel = np.array(run_jobs(noisy_job, JOBS, n_jobs=2, seed=3))  # a core each
    np.testing.assert_allclose(parallel, serial, rtol=1e-4, atol=1e-5)


def test_each_job_is_seeded_by_its_name_and_the_run_seed() -> None:
    one = run_jobs(noisy_job, JOBS[:2], seed=3, threads_per_job=1)
    assert one[0] != one[1]
    assert run_jobs(noisy_job, [JOBS[1]], seed=3, threads_per_job=1) == [one[1]]  # whatever ran before it
    assert run_jobs(noisy_job, JOBS[:1], seed=4, threads_per_job=1) != one[:1]


def test_serial_jobs_leave_the_callers_random_state_and_threads() -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    threads = torch.get_num_threads()
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    run_jobs(noisy_job, JOBS[:2], n_jobs=1, seed=0, threads_per_job=1)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected
    assert torch.get_num_threads() == threads


def test_results_arrive_through_on_result() -> None:
    seen: dict[str, list[float]] = {}
    results = run_jobs(noisy_job, JOBS, n_jobs=2, seed=3, on_result=lambda job, r: seen.__setitem__(job.name, r))
    assert seen == {job.name: r for job, r in zip(JOBS, results, strict=True)}


def test_ddp_ranks_share_the_jobs_and_all_get_every_result() -> None:
    serial = run_jobs(noisy_job, [Job(f"job-{i}", (8, float(i + 1))) for i in range(5)], seed=7, threads_per_job=1)
    per_rank = launch(jobs_shared_among_ranks, (), 2)
    assert per_rank[0] == serial and per_rank[1] == serial


def test_bad_jobs() -> None:
    with pytest.raises(ValueError, match="unique"):
        run_jobs(noisy_job, [JOBS[0], JOBS[0]])
    with pytest.raises(ConfigError, match="n_jobs"):
        effective_n_jobs(0)
    assert run_jobs(noisy_job, []) == []
    assert effective_n_jobs(-1) >= 1
    assert threads_for(2, None) >= 1 and threads_for(2, 3) == 3
    assert job_slots(2) == 2 and job_slots(-1) == effective_n_jobs(-1)  # no DDP: the workers
