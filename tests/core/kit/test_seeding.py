"""The seeding leaf: named seeds, scoped RNG and thread state."""

from __future__ import annotations

import random

import numpy as np
import torch

from sciconv.seeding import derive_seed, seeded, torch_threads


def test_derived_seeds_are_stable_and_distinct() -> None:
    assert derive_seed(0, "subject-01") == derive_seed(0, "subject-01")
    assert len({derive_seed(0, "a"), derive_seed(0, "b"), derive_seed(1, "a")}) == 3
    assert 0 <= derive_seed(7, "x") < 2**63


def test_seeded_blocks_draw_the_same_and_restore_the_caller_state() -> None:
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    before = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    with seeded(11):
        first = (random.random(), np.random.rand(), torch.rand(1).item())
    after = (random.random(), np.random.rand(), torch.rand(1).item())
    with seeded(11):
        second = (random.random(), np.random.rand(), torch.rand(1).item())
    assert first == second and after == before


def test_torch_threads_are_restored() -> None:
    saved = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == saved
    with torch_threads(None):
        assert torch.get_num_threads() == saved
