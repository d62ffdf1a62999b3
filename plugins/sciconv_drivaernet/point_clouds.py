"""The networks' inputs: a design's sampled points, augmented for training as the official DrivAerNet code does,
then normalised per cloud.

Augmentation (training only, in this order, on the points in metres): a per-axis scale drawn from U(2/3, 3/2) and a
per-axis shift from U(-0.2, 0.2) (the official ``translate_pointcloud``), then Gaussian jitter of SD 0.01 clipped at
±0.02 per coordinate (``jitter_pointcloud``). Normalisation ``minmax``: per cloud and per axis to [0, 1]
(``min_max_normalize``); note that it undoes any per-axis scale and shift, so after it only the jitter changes a
cloud, exactly as in the official pipeline. ``none`` keeps metres.

Where the dataset kept several independent subsamples of a design's vertices (``resamples``), training draws one
at random each time the design is seen (the official loader draws a new subsample every time); evaluation always
uses the first.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

Normalise = Literal["minmax", "none"]


def augment_cloud(points: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``points`` ``(N, 3)`` (m) scaled per axis by U(2/3, 3/2), shifted by U(-0.2, 0.2) m and jittered by
    N(0, 0.01²) clipped at ±0.02 m; a new tensor."""
    scale = torch.empty(3).uniform_(2.0 / 3.0, 1.5, generator=generator)
    shift = torch.empty(3).uniform_(-0.2, 0.2, generator=generator)
    jitter = torch.clamp(0.01 * torch.randn(points.shape, generator=generator), -0.02, 0.02)
    return points * scale + shift + jitter


def normalise_cloud(points: torch.Tensor, how: Normalise) -> torch.Tensor:
    """``points`` ``(..., N, 3)`` per cloud and axis to [0, 1] (``minmax``, the reader's
    :func:`~sciconv_drivaernet.drivaernet_io.minmax_normalise`) or unchanged (``none``)."""
    if how == "none":
        return points
    from sciconv_drivaernet.drivaernet_io import minmax_normalise

    return torch.from_numpy(minmax_normalise(points.numpy()))


class CloudDataset(Dataset):
    """Items ``(x, y)``: ``x`` float32 ``(3, N)`` (the network's channels-first input), ``y`` float32 ``(1,)``.

    Args:
        points: ``(n, R, N, 3)`` float32 in metres, ``R`` independent subsamples per design.
        targets: ``(n,)`` the regression targets (NaN where unknown).
        augment: draw a subsample and augment it at every access (training).
        normalise: ``minmax`` or ``none`` (see the module docstring).
    """

    def __init__(self, points: Any, targets: Any, *, augment: bool, normalise: Normalise) -> None:
        self.points = torch.as_tensor(np.asarray(points, dtype=np.float32))
        if self.points.ndim != 4 or self.points.shape[-1] != 3:
            raise ValueError(f"points: expected (n, R, N, 3), got {tuple(self.points.shape)}")
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.float32)).reshape(-1, 1)
        if len(self.targets) != len(self.points):
            raise ValueError(f"{len(self.points)} clouds but {len(self.targets)} targets")
        self.augment = bool(augment)
        self.normalise: Normalise = normalise

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        n_resamples = self.points.shape[1]
        r = int(torch.randint(n_resamples, ())) if self.augment and n_resamples > 1 else 0
        cloud = self.points[index, r]
        if self.augment:
            cloud = augment_cloud(cloud)
        return normalise_cloud(cloud, self.normalise).T.contiguous(), self.targets[index]

    def inputs(self) -> torch.Tensor:
        """Every design's evaluation input ``(n, 3, N)``: the first subsample, normalised, not augmented."""
        return normalise_cloud(self.points[:, 0], self.normalise).transpose(1, 2).contiguous()
