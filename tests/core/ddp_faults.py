"""Worker functions for the DDP tests: a pipeline rank that fails or stops answering on purpose.

Imported by name in the ranks the tests launch (spawned processes), hence a module of its own.
"""

from __future__ import annotations

import os
import time
from typing import Any


def pipeline_rank_with_fault(target: str, overrides: list[str], run_dir: str, fault: str) -> Any:
    """One rank of a pipeline run in which rank 1 raises (``fault="raise"``) or hangs (``"hang"``) at
    the start of its second training epoch; the other ranks run normally."""
    from sciconv import distributed
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
    return distributed._pipeline_worker(target, overrides, run_dir, None)


def rank_and_world() -> tuple[int, int]:
    """What a plain launched function sees (no pipeline): its rank and the world size."""
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
