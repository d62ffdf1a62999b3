"""Seeds and thread counts: the reproducibility leaf of the core.

Every part of a run that draws random numbers (a fit, a fold, a subject, an ensemble member, a simulated
case) gets its own seed, derived from the run's seed and the part's name with :func:`derive_seed`, so the
part is reproducible whatever ran before it and in whichever process. :func:`seeded` runs a block with the
global generators seeded and puts their states back afterwards; :func:`torch_threads` does the same for
torch's intra-op thread count. Imports nothing of sciconv, and torch only when a function needs it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


def derive_seed(seed: int | str, name: str) -> int:
    """A seed for the named part of a run (a fit, a fold, a subject), derived from the run's seed (or a
    string that names a stream, ``"chest:0"``), so that each part is reproducible whatever ran before it
    or in which process. Returns a 63-bit integer."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and torch's global generators (numpy with ``seed mod 2**32``)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def seeded(seed: int, *, restore: bool = True) -> Iterator[None]:
    """Run the block with python's, numpy's and torch's global generators seeded with ``seed``; with
    ``restore`` (the default) their states are put back afterwards, as if the block had run elsewhere."""
    import torch

    saved = (random.getstate(), np.random.get_state(), torch.random.get_rng_state()) if restore else None
    seed_everything(seed)
    try:
        yield
    finally:
        if saved is not None:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.random.set_rng_state(saved[2])


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (``None``: leave the count as it is), then restore
    the previous count."""
    import torch

    saved = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n is not None:
            torch.set_num_threads(saved)


__all__ = ["derive_seed", "seed_everything", "seeded", "torch_threads"]
