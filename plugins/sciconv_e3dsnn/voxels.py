"""Spike Voxel Coding's input side: point clouds -> batches of sparse voxels for E-3DSNN.

Each cloud arrives normalised to the unit sphere (the dataset does that: centred on its centroid, scaled by its
largest radius; Pointcept's ``NormalizeCoord``). In training, the official augmentation follows: a random
isotropic scale in ``[0.9, 1.1]`` and a random shift in ``[-0.2, 0.2]`` per axis. The cloud is then grid-sampled
at ``voxel_size`` (the paper: 0.01, in units of the unit-sphere radius): one active site per occupied cell,
whose 6 features are the ``xyz`` (after augmentation) and the normal of one of the cell's points (a random one in
training, as the official ``GridSample`` in ``train`` mode; the first one at evaluation, so that evaluation is
deterministic). The network grid-samples its input itself (:func:`clouds_to_voxels`), so that a trained model
takes plain clouds. Site coordinates start at 0 in each cloud; the grid is rounded up to a multiple of 16 so that
the four stride-2 stages keep every border site.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from sciconv.conv.sparse import voxelize

DOWNSAMPLING = 16  # four stride-2 stages: grids must be multiples of 16 to keep every border site


class ShapeClouds(Dataset):
    """Point clouds and labels, with the official training augmentation when ``augment`` is on.

    Shapes: points (n, P, 6) float32 (xyz on the unit sphere, unit normals), labels (n,) int64 -> items
    ``(points (P, 6) float32 tensor, label int64 tensor)``. Augmentation (torch's global RNG, so the engine's
    seeding makes it reproducible): xyz scaled by one factor drawn in ``scale`` and shifted by a vector drawn in
    ``[-shift, shift]^3``; normals unchanged.
    """

    def __init__(
        self,
        points: np.ndarray,
        labels: np.ndarray,
        augment: bool = False,
        scale: tuple[float, float] = (0.9, 1.1),
        shift: float = 0.2,
    ) -> None:
        if points.ndim != 3 or points.shape[2] != 6:
            raise ValueError(f"points must be (n, P, 6), got {points.shape}")
        if len(points) != len(labels):
            raise ValueError(f"{len(points)} clouds but {len(labels)} labels")
        self.points = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        self.augment = bool(augment)
        self.scale = (float(scale[0]), float(scale[1]))
        self.shift = float(shift)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        cloud = self.points[index]
        if self.augment:
            lo, hi = self.scale
            factor = torch.empty(()).uniform_(lo, hi)
            offset = torch.empty(3).uniform_(-self.shift, self.shift)
            cloud = torch.cat((cloud[:, :3] * factor + offset, cloud[:, 3:]), dim=1)
        return cloud, self.labels[index]


def clouds_to_voxels(
    clouds: torch.Tensor, voxel_size: float, pick: Literal["first", "random"] = "first"
) -> dict[str, torch.Tensor]:
    """Grid-sample a batch of clouds into E-3DSNN's input dict: ``features`` (N, C) float32 (the picked point's
    xyz and normal), ``coords`` (N, 4) int64 (batch, z, y, x), ``spatial_shape`` (3,) int64 (a multiple of 16),
    ``batch_size`` () int64. ``pick``: the first point of each cell, or a random one (training).
    Shapes: clouds (B, P, C >= 3) -> the dict."""
    if not np.isfinite(voxel_size) or voxel_size <= 0:
        raise ValueError(f"voxel_size must be a positive number, got {voxel_size}")
    b, p, _ = clouds.shape
    points = clouds[..., :3].reshape(-1, 3)
    features = clouds.reshape(b * p, -1)
    batch = torch.arange(b, device=clouds.device).repeat_interleave(p)
    sparse, _ = voxelize(
        points, batch, float(voxel_size), features, batch_size=b, pick=pick, shape_multiple=DOWNSAMPLING
    )
    return {
        "features": sparse.features,
        "coords": sparse.coords,
        "spatial_shape": torch.tensor(sparse.spatial_shape, dtype=torch.int64),
        "batch_size": torch.tensor(b, dtype=torch.int64),
    }


def normalise_to_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Centre each cloud on its centroid and scale it by its largest radius (normals unchanged).
    Shapes: (n, P, 6) or (P, 6) float -> same, float32."""
    out = np.array(points, dtype=np.float32, copy=True)
    xyz = out[..., :3]
    xyz -= xyz.mean(axis=-2, keepdims=True)
    radius = np.linalg.norm(xyz, axis=-1).max(axis=-1)
    xyz /= np.maximum(radius, 1e-12)[..., None, None]
    return out
