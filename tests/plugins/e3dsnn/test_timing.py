"""Timing the sparse path against the dense twin: what is timed, the metrics, the memory guard (values of the
times are never asserted)."""

from __future__ import annotations

import math

import numpy as np
import torch

from sciconv.spec import DataSpec
from sciconv_e3dsnn.models.e3dsnn import E3DSNN
from sciconv_e3dsnn.timing import time_sparse_and_dense


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    spec = DataSpec((32, 6), 2, task_type="classification", classes=("a", "b"))
    return E3DSNN(spec, embed_channels=4, stage_channels=[4, 4, 8, 8], voxel_size=0.25)


def _clouds(n: int = 5) -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, (n, 32, 6)).astype(np.float32)


def test_timing_reports_both_paths_and_leaves_the_weights_alone() -> None:
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    timing = time_sparse_and_dense(model, _clouds(), batches=2, batch_size=2)
    assert timing.batches == 2 and timing.grid[0] % 16 == 0 and timing.sites_per_sample > 0
    metrics = timing.metrics()
    for key in (
        "sparse.ms_per_sample",
        "dense.ms_per_sample",
        "sparse.train_ms_per_sample",
        "dense.train_ms_per_sample",
    ):
        assert metrics[key] > 0
    assert math.isclose(metrics["sparse.speedup"], metrics["dense.ms_per_sample"] / metrics["sparse.ms_per_sample"])
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert "training step" in timing.markdown() and "sites active)" in timing.markdown()


def test_a_dense_grid_too_large_is_not_timed_and_says_why() -> None:
    timing = time_sparse_and_dense(_model(), _clouds(2), batches=1, batch_size=2, max_dense_gb=1e-9)
    assert math.isnan(timing.dense_forward_ms) and math.isnan(timing.metrics()["dense.ms_per_sample"])
    assert timing.sparse_forward_ms > 0 and "would need about" in timing.markdown()
