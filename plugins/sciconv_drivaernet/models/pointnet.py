"""RegPointNet, the PointNet drag regressor of DrivAerNet++ (Elrefaie, Morar, Dai and Ahmed 2024).

A shared per-point MLP (PointNet, Qi et al. 2017, without its input and feature transforms), written as 1x1
convolutions over the points, with a shortcut from the coordinates, then a global max pool and an MLP head.
Layout of the official model (reproduced here):

- ``Conv1d(3, 512)``, ``Conv1d(512, 1024)``, three ``Conv1d(1024, 1024)``, ``Conv1d(1024, emb_dims)``: all 1x1,
  without bias, each + BatchNorm1d + ReLU, and dropout after each of the first five;
- a shortcut ``Conv1d(3, emb_dims, bias=False)`` + BatchNorm1d of the input coordinates, added to the last
  convolution's activated output;
- global max pooling over the points (``emb_dims``);
- a head ``Linear(emb_dims, 512, bias=False)``, ``Linear(512, 256, bias=False)``, ``Linear(256, 128)``,
  ``Linear(128, 64)``, each + BatchNorm1d + ReLU (no dropout), then ``Linear(64, 1)``.

The official forward also returns the last hidden features; this one returns the prediction only. As in the
official code nothing is masked: zero-padded points are ordinary points at the origin.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from sciconv.conv import Conv1d
from sciconv.errors import ConfigError
from sciconv.spec import DataSpec
from sciconv_drivaernet.models.point_cloud_input import Widths, check_point_cloud_spec, check_points

PUBLISHED_CHANNELS = (512, 1024, 1024, 1024, 1024)
PUBLISHED_HEAD = (512, 256, 128, 64)

__all__ = [
    "PUBLISHED_CHANNELS",
    "PUBLISHED_HEAD",
    "RegPointNet",
    "RegPointNetModel",
]


class RegPointNetModel(nn.Module):
    """RegPointNet: ``(B, 3, N)`` point coordinates -> ``(B, n_outputs)`` (the drag coefficient).

    Args:
        spec: input_shape ``(3, N)``; ``n_outputs`` targets.
        emb_dims: channels of the last point convolution (and of the pooled global feature).
        dropout: dropout probability after each convolution in ``channels``.
        channels: output channels of the point convolutions before the last one (``Conv1d(.., emb_dims)``).
        head: widths of the hidden layers of the head; as published, the first two have no bias.
    """

    def __init__(
        self,
        spec: DataSpec,
        emb_dims: int = 1024,
        dropout: float = 0.4,
        channels: tuple[int, ...] | list[int] = PUBLISHED_CHANNELS,
        head: tuple[int, ...] | list[int] = PUBLISHED_HEAD,
    ) -> None:
        super().__init__()
        check_point_cloud_spec(spec, "RegPointNet")
        if not channels or not head:
            raise ConfigError(
                f"RegPointNet: channels and head must each list at least one width, got {list(channels)} and "
                f"{list(head)}"
            )
        emb_dims = int(emb_dims)
        layers: list[nn.Module] = []
        previous = 3
        for width in (int(c) for c in channels):
            layers += [Conv1d(previous, width, 1, bias=False), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]
            previous = width
        layers += [Conv1d(previous, emb_dims, 1, bias=False), nn.BatchNorm1d(emb_dims), nn.ReLU()]
        self.points = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(Conv1d(3, emb_dims, 1, bias=False), nn.BatchNorm1d(emb_dims))
        mlp: list[nn.Module] = []
        previous = emb_dims
        for i, width in enumerate(int(w) for w in head):
            mlp += [nn.Linear(previous, width, bias=i >= 2), nn.BatchNorm1d(width), nn.ReLU()]
            previous = width
        mlp.append(nn.Linear(previous, spec.n_outputs))
        self.head = nn.Sequential(*mlp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, N)`` coordinates -> ``(B, n_outputs)``."""
        check_points(x, "RegPointNet")
        h = self.points(x) + self.shortcut(x)  # (B, emb_dims, N)
        return self.head(h.amax(dim=2))


def RegPointNet(
    spec: DataSpec,
    emb_dims: Annotated[int, Field(ge=1)] = 1024,
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.4,
    channels: Widths = list(PUBLISHED_CHANNELS),  # noqa: B006
    head: Widths = list(PUBLISHED_HEAD),  # noqa: B006
) -> RegPointNetModel:
    """Factory of RegPointNet, sized to ``spec`` (input_shape ``(3, N)``); the defaults are DrivAerNet++'s."""
    return RegPointNetModel(spec, emb_dims, dropout, channels, head)
