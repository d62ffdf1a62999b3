"""Time per sample of E-3DSNN's sparse path against its dense-voxel twin, forward and training step, on the same
batches of clouds at the model's voxel size.

Both sides start from the same grid-sampled batch (:func:`.voxels.clouds_to_voxels`, not timed). The sparse side
builds its rulebooks inside the timed forward, as it must for every new input. The dense side gets its dense grids
ready-made (:func:`.models.dense_twin.dense_input`, not timed), all of one size (the per-axis largest of the
batches' grids, as a dense voxel network has one input size; so its convolutions are set up once, in the
warm-up). Each batch is timed sparse then dense, side by side, after one untimed warm-up of each; wall-clock
milliseconds per sample. The training step (forward, cross-entropy, backward, an SGD step) runs on a copy of the
network, so timing never changes the trained weights. A dense grid too large for memory (``max_dense_gb``) is
not timed and is reported as such.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sciconv.kit import markdown_table
from sciconv_e3dsnn.models.dense_twin import DenseTwin, dense_input
from sciconv_e3dsnn.voxels import clouds_to_voxels

_ACTIVATIONS_KEPT = 40  # dense activations of the stem's width a training step keeps, for the memory estimate


@dataclass
class SparseDenseTiming:
    """Milliseconds per sample (NaN where the dense grid was too large to time) and what was timed."""

    voxel_size: float
    batch_size: int
    batches: int
    sites_per_sample: float
    grid: tuple[int, int, int]
    sparse_forward_ms: float
    dense_forward_ms: float
    sparse_train_ms: float
    dense_train_ms: float
    dense_skipped: str = ""

    def metrics(self) -> dict[str, float]:
        """``sparse.ms_per_sample`` / ``dense.ms_per_sample`` (forward), ``*.train_ms_per_sample`` and the ratios
        ``sparse.speedup`` / ``sparse.train_speedup`` (dense time / sparse time)."""
        return {
            "sparse.ms_per_sample": self.sparse_forward_ms,
            "dense.ms_per_sample": self.dense_forward_ms,
            "sparse.train_ms_per_sample": self.sparse_train_ms,
            "dense.train_ms_per_sample": self.dense_train_ms,
            "sparse.speedup": self.dense_forward_ms / self.sparse_forward_ms,
            "sparse.train_speedup": self.dense_train_ms / self.sparse_train_ms,
        }

    def markdown(self) -> str:
        rows = [
            {
                "pass": name,
                "sparse (ms / sample)": f"{sparse:.2f}",
                "dense conv3d (ms / sample)": "not timed" if math.isnan(dense) else f"{dense:.2f}",
                "dense / sparse": "" if math.isnan(dense) else f"{dense / sparse:.1f}x",
            }
            for name, sparse, dense in (
                ("forward (evaluation)", self.sparse_forward_ms, self.dense_forward_ms),
                ("training step", self.sparse_train_ms, self.dense_train_ms),
            )
        ]
        occupancy = self.sites_per_sample / math.prod(self.grid)
        text = (
            f"{self.batches} batch(es) of {self.batch_size} test clouds spread over the test set, at voxel size "
            f"{self.voxel_size:g}: {self.sites_per_sample:.0f} active voxels per cloud; the dense twin's grid is "
            f"{self.grid[0]} x {self.grid[1]} x {self.grid[2]} (holding every batch; {100 * occupancy:.2f} % of its "
            "sites active). Wall-clock time on this run's device, each batch timed sparse then dense after a "
            "warm-up; the sparse forward includes building its rulebooks."
        )
        if self.dense_skipped:
            text += f" Dense not timed: {self.dense_skipped}."
        return markdown_table(rows) + "\n\n" + text


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_sparse_and_dense(
    model: Any,
    clouds: np.ndarray,
    batches: int,
    batch_size: int,
    label_smoothing: float = 0.2,
    max_dense_gb: float = 6.0,
) -> SparseDenseTiming:
    """Time ``model`` (an :class:`~sciconv_e3dsnn.models.e3dsnn.E3DSNNModel`) and its dense twin on the first
    ``batches`` batches of ``batch_size`` of ``clouds`` (n, P, 6). See the module docstring."""
    device = next(model.parameters()).device
    n = min(len(clouds), batches * batch_size)
    if n == 0:
        raise ValueError("no clouds to time")
    chosen = clouds[np.linspace(0, len(clouds) - 1, n).round().astype(np.int64)]  # spread over the set's classes
    groups = [chosen[i : min(n, i + batch_size)] for i in range(0, n, batch_size)]
    inputs = [
        clouds_to_voxels(torch.from_numpy(np.ascontiguousarray(g, dtype=np.float32)), model.voxel_size) for g in groups
    ]
    inputs = [{k: v.to(device) for k, v in inp.items()} for inp in inputs]
    grids = np.array([inp["spatial_shape"].tolist() for inp in inputs])
    grid = tuple(int(s) for s in grids.max(axis=0))  # the dense twin's one grid, holding every batch
    sites = sum(int(inp["features"].shape[0]) for inp in inputs) / n
    stem_width = model.stem[0].conv.out_channels
    dense_gb = batch_size * math.prod(grid) * stem_width * 4 * _ACTIVATIONS_KEPT / 1e9
    skipped = ""
    if dense_gb > max_dense_gb:
        skipped = (
            f"a training step on a batch of {batch_size} dense {grid} grids would need about {dense_gb:.0f} GB "
            f"(limit {max_dense_gb:g} GB)"
        )
    net = copy.deepcopy(model)
    twin = DenseTwin(net)
    fixed = torch.tensor(grid, dtype=torch.int64)
    dense = [dense_input({**inp, "spatial_shape": fixed}) for inp in inputs] if not skipped else []
    sparse_fwd = dense_fwd = sparse_train = dense_train = 0.0
    net.eval()
    with torch.no_grad():
        net(inputs[0])
        if dense:
            twin(*dense[0])
        for i, inp in enumerate(inputs):
            sparse_fwd += _timed(lambda inp=inp: net(inp), device)
            if dense:
                dense_fwd += _timed(lambda i=i: twin(*dense[i]), device)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def step(forward: Any, b: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(forward(), torch.zeros(b, dtype=torch.long, device=device))
        loss.backward()
        optimizer.step()

    step(lambda: net(inputs[0]), len(groups[0]))
    if dense:
        step(lambda: twin(*dense[0]), len(groups[0]))
    for i, inp in enumerate(inputs):
        b = len(groups[i])
        sparse_train += _timed(lambda inp=inp, b=b: step(lambda: net(inp), b), device)
        if dense:
            dense_train += _timed(lambda i=i, b=b: step(lambda: twin(*dense[i]), b), device)
    nan = float("nan")
    return SparseDenseTiming(
        voxel_size=float(model.voxel_size),
        batch_size=batch_size,
        batches=len(groups),
        sites_per_sample=sites,
        grid=grid,  # type: ignore[arg-type]
        sparse_forward_ms=1000.0 * sparse_fwd / n,
        dense_forward_ms=1000.0 * dense_fwd / n if dense else nan,
        sparse_train_ms=1000.0 * sparse_train / n,
        dense_train_ms=1000.0 * dense_train / n if dense else nan,
        dense_skipped=skipped,
    )


def _timed(run: Any, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    run()
    _sync(device)
    return time.perf_counter() - start
