"""A non-recurrent baseline for DeepFEA: :class:`FrameCNNModel` and its factory :func:`FrameCNN`.

Each frame is mapped on its own to that frame's outputs (node positions and element values at step ``t + 1``),
with no recurrence and no feedback: the network sees the initial node coordinates (``x[:, 0]``'s coordinate
channels), the frame's loads and mask, and the step index as a constant channel. It never reads the coordinate
channels of frames ``t >= 1`` (those hold the true positions, unknown at prediction time). Same input and output
format as the NEP net (:mod:`sciconv_deepfea.models.nep_net`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciconv.conv import Conv2d, Conv3d
from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv_deepfea.models.nep_net import check_input, output_size, spec_layout, split_output


class FrameCNNModel(nn.Module):
    """Per-frame CNN: ``depth`` blocks of (3x3 or 3x3x3 convolution with padding 'same', no bias, BatchNorm,
    GELU) of ``width`` channels, then the NEP net's heads: node ``Conv(width, nc, 1)`` + tanh and element
    ``Conv(width, 2, 2)`` without padding + tanh. Frames are folded into the batch.

    Per-frame input, ``2 * nc + 2`` channels: initial coordinates (``nc``), loads (``nc``), mask (1) and the
    step as a constant ``2 * t / (horizon - 1) - 1`` (``horizon``: the spec's ``T``, so that a step keeps its
    value whatever the length of the sequence at hand; 0 when ``horizon`` is 1).

    Shapes: x (B, T, 2 * nc + 1, *grid) -> (B, T, nc * prod(grid) + 2 * prod(grid - 1)).
    """

    def __init__(self, node_channels: int, grid: Sequence[int], horizon: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.grid = tuple(int(n) for n in grid)
        dim = len(self.grid)
        if dim not in (2, 3) or node_channels != dim:
            raise DataError(
                f"frame CNN: node_channels ({node_channels}) and the grid {self.grid} must both be 2D or 3D"
            )
        if int(width) != width or width < 1:
            raise ConfigError(f"frame CNN: width must be a positive number of channels, got {width}")
        if int(depth) != depth or depth < 1:
            raise ConfigError(f"frame CNN: depth must be a positive number of layers, got {depth}")
        if horizon < 1:
            raise DataError(f"frame CNN: horizon (time steps of the spec) must be positive, got {horizon}")
        self.dim, self.node_channels, self.horizon = dim, node_channels, int(horizon)
        self.in_channels = 2 * node_channels + 1
        self.elem_grid = tuple(n - 1 for n in self.grid)
        conv = Conv2d if dim == 2 else Conv3d
        norm = nn.BatchNorm2d if dim == 2 else nn.BatchNorm3d
        layers: list[nn.Module] = []
        previous = 2 * node_channels + 2
        for _ in range(int(depth)):
            layers += [conv(previous, int(width), 3, padding="same", bias=False), norm(int(width)), nn.GELU()]
            previous = int(width)
        self.encoder = nn.Sequential(*layers)
        self.node_head = conv(previous, node_channels, 1)
        self.elem_head = conv(previous, 2, 2)

    @property
    def output_size(self) -> int:
        """Features per step of the flat output."""
        return output_size(self.node_channels, self.grid)

    def split_output(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, F)`` -> ``node (B, T, nc, *grid)``, ``elem (B, T, 2, *elem_grid)``."""
        return split_output(out, self.node_channels, self.grid)

    def frame_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The per-frame network inputs of ``x (B, T, 2 * nc + 1, *grid)``: ``(B, T, 2 * nc + 2, *grid)`` with
        the initial coordinates, the loads and mask of each frame, and the step channel."""
        nc = self.node_channels
        b, steps = x.shape[:2]
        initial = x[:, :1, :nc].expand(b, steps, nc, *self.grid)
        t = torch.arange(steps, device=x.device, dtype=x.dtype)
        t = 2 * t / (self.horizon - 1) - 1 if self.horizon > 1 else torch.zeros_like(t)
        time = t.reshape(1, steps, 1, *([1] * self.dim)).expand(b, steps, 1, *self.grid)
        return torch.cat([initial, x[:, :, nc:], time], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, T, 2 * nc + 1, *grid)`` -> ``(B, T, F)``, ``F = nc * prod(grid) + 2 * prod(grid - 1)``."""
        check_input(x, self.in_channels, self.grid, "frame CNN")
        b, steps = x.shape[:2]
        h = self.encoder(self.frame_inputs(x).flatten(0, 1))
        node = torch.tanh(self.node_head(h)).reshape(b, steps, -1)
        elem = torch.tanh(self.elem_head(h)).reshape(b, steps, -1)
        return torch.cat([node, elem], dim=2)


def FrameCNN(spec: DataSpec, width: int = 64, depth: int = 4) -> nn.Module:
    """The factory of the frame CNN baseline, sized to the spec (``input_shape`` ``(T, C, *grid)``, ``extra``
    ``{"dim", "node_channels"}``): ``depth`` conv blocks of ``width`` channels. Shapes: (B, T, C, *grid) ->
    (B, T, nc * prod(grid) + 2 * prod(grid - 1))."""
    _, nc, grid = spec_layout(spec)
    return FrameCNNModel(nc, grid, horizon=spec.input_shape[0], width=width, depth=depth)


__all__ = ["FrameCNN", "FrameCNNModel"]
