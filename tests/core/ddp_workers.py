"""Functions the DDP and parallel tests run in other processes: pipeline ranks that fail or stop answering
on purpose, and jobs that show how they were seeded.

Imported by name in the ranks the tests launch (spawned processes), hence a module of its own.
"""

from __future__ import annotations

import os
import time
from typing import Any


def pipeline_rank_with_fault(target: str, overrides: list[str], run_dir: str, fault: str) -> Any:
    """One rank of a pipeline run in which rank 1 raises (``fault="raise"``) or hangs (``"hang"``) at
    the start of its second training epoch; the other ranks run normally."""
    from sciconv import launcher
    from sciconv.engine import Engine

    original = Engine._train_epoch
    epochs = [0]

    def faulty_epoch(self: Engine, *args: Any, **kwargs: Any) -> float:
        epochs[0] += 1
        if int(os.environ["RANK"]) == 1 and epochs[0] == 2:
            if fault == "raise":
                raise RuntimeError("injected failure in rank 1")
            time.sleep(300)
        return original(self, *args, **kwargs)

    Engine._train_epoch = faulty_epoch  # type: ignore[method-assign]
    return launcher._pipeline_worker(target, overrides, run_dir, None)


def rank_and_world() -> tuple[int, int]:
    """What a plain launched function sees (no pipeline): its rank and the world size."""
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])


def noisy_job(n: int, scale: float) -> list[float]:
    """A job that draws from every global generator and trains a little: its result shows its seeding."""
    import random

    import numpy as np
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(n, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(256, n), torch.randn(256, 1)
    for _ in range(20):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    return [scale * random.random(), scale * float(np.random.rand()), *model(x[:4]).detach().flatten().tolist()]


def jobs_shared_among_ranks() -> list[list[float]]:
    """In a 2-rank process group: run 5 jobs through run_jobs; returns what this rank got back."""
    from sciconv import distributed
    from sciconv.parallel import Job, run_jobs

    distributed.setup("cpu", 60)
    try:
        jobs = [Job(f"job-{i}", (8, float(i + 1))) for i in range(5)]
        return run_jobs(noisy_job, jobs, n_jobs=2, seed=7, threads_per_job=1)
    finally:
        distributed.teardown()


def fit_with_an_unused_branch(find_unused_parameters: bool) -> float:
    """In a 2-rank process group: train a model one of whose layers never contributes to the loss."""
    import torch
    from torch.utils.data import TensorDataset

    from sciconv import distributed
    from sciconv.config import TrainConfig
    from sciconv.engine import Engine

    class TwoHeads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = torch.nn.Linear(4, 2)
            self.unused = torch.nn.Linear(4, 2)  # e.g. an expert no sample was routed to

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    distributed.setup("cpu", 60)
    try:
        data = TensorDataset(torch.randn(32, 4), torch.randint(0, 2, (32,)))
        config = TrainConfig(epochs=2, batch_size=8, progress=False, find_unused_parameters=find_unused_parameters)
        result = Engine(config).fit(TwoHeads(), data)
        return float(result.history[-1]["train_loss"])
    finally:
        distributed.teardown()
