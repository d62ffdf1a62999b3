"""The NEP net of DeepFEA: a stack of ConvLSTM cells with peephole (Hadamard) weights, rolled out
autoregressively over the time steps of one simulation, with a node branch (next node positions) and an element
branch (effective stress and strain per element). :class:`NEPNetModel` and its factory :func:`NEPNet`.

Data layout (see the plugin's data contract): an input sequence ``x`` of shape ``(B, T, C, *grid)`` scaled to
[-1, 1], with ``C = 2 * nc + 1`` channels: ``nc`` node coordinates (``nc`` = 2 or 3), ``nc`` nodal loads, one
mask (0/1 before scaling, -1/+1 after; ``> 0`` marks a node fixed by a boundary condition). Step ``t`` predicts
the node coordinates at step ``t + 1`` and the element values at step ``t + 1``.

The output is one tensor so that the core engine's loss can use it: ``(B, T, nc * prod(grid) + 2 *
prod(elem_grid))``, node values first; :func:`split_output` cuts it back into ``node (B, T, nc, *grid)`` and
``elem (B, T, 2, *elem_grid)`` (channel 0 stress, channel 1 strain), with ``elem_grid = grid - 1`` per axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from sciconv.conv import Conv2d, Conv3d
from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec


def _conv_cls(dim: int) -> type[nn.Module]:
    return Conv2d if dim == 2 else Conv3d


def spec_layout(spec: DataSpec) -> tuple[int, int, tuple[int, ...]]:
    """``(dim, node_channels, grid)`` of a DeepFEA :class:`DataSpec` (``input_shape`` ``(T, C, *grid)``,
    ``extra`` ``{"dim": 2|3, "node_channels": 2|3}``), checked against each other: ``C == 2 * nc + 1`` and
    ``len(grid) == dim``, every grid axis at least 2 nodes (so that there is at least one element).

    Raises :class:`DataError` when the spec does not describe DeepFEA sequences."""
    extra = dict(spec.extra or {})
    shape = tuple(spec.input_shape)
    dim = int(extra.get("dim", len(shape) - 2))
    nc = int(extra.get("node_channels", dim))
    if dim not in (2, 3):
        raise DataError(f"DeepFEA spec: extra['dim'] must be 2 or 3, got {dim}")
    if nc != dim:
        raise DataError(f"DeepFEA spec: extra['node_channels'] ({nc}) must equal extra['dim'] ({dim})")
    if len(shape) != dim + 2:
        raise DataError(
            f"DeepFEA spec: input_shape must be (T, C, *grid) with {dim} grid axes for dim={dim}, got {shape}"
        )
    if shape[1] != 2 * nc + 1:
        raise DataError(
            f"DeepFEA spec: input_shape {shape} has {shape[1]} channels; {dim}D sequences have {2 * nc + 1} "
            f"(coordinates, loads, mask)"
        )
    grid = shape[2:]
    if any(n < 2 for n in grid):
        raise DataError(f"DeepFEA spec: every grid axis needs at least 2 nodes, got grid {grid}")
    return dim, nc, grid


def output_size(node_channels: int, grid: Sequence[int]) -> int:
    """Features per step of the flat output: ``node_channels * prod(grid) + 2 * prod(grid - 1)``."""
    return node_channels * math.prod(grid) + 2 * math.prod(n - 1 for n in grid)


def split_output(out: torch.Tensor, node_channels: int, grid: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut the flat output ``(B, T, F)`` of a DeepFEA model into ``node (B, T, nc, *grid)`` (scaled node
    coordinates) and ``elem (B, T, 2, *elem_grid)`` (scaled effective stress, strain), ``elem_grid = grid - 1``.
    Views, no copy."""
    grid = tuple(int(n) for n in grid)
    elem_grid = tuple(n - 1 for n in grid)
    n_node = node_channels * math.prod(grid)
    if out.ndim != 3 or out.shape[-1] != n_node + 2 * math.prod(elem_grid):
        raise DataError(
            f"DeepFEA output of shape {tuple(out.shape)} does not match (B, T, {output_size(node_channels, grid)}) "
            f"for {node_channels} node channels on grid {grid}"
        )
    b, t = out.shape[:2]
    node = out[..., :n_node].reshape(b, t, node_channels, *grid)
    elem = out[..., n_node:].reshape(b, t, 2, *elem_grid)
    return node, elem


def check_input(x: torch.Tensor, in_channels: int, grid: tuple[int, ...], name: str) -> None:
    """Refuse an input that is not ``(B, T, in_channels, *grid)`` with a :class:`DataError`."""
    if x.ndim != len(grid) + 3 or x.shape[2] != in_channels or tuple(x.shape[3:]) != grid:
        raise DataError(
            f"{name}: input of shape {tuple(x.shape)}, expected (B, T, {in_channels}, {', '.join(map(str, grid))}) "
            f"(the model is sized to one grid)"
        )
    if x.shape[1] < 1:
        raise DataError(f"{name}: input has no time steps (shape {tuple(x.shape)})")


class ConvLSTMCell(nn.Module):
    """One ConvLSTM cell with peepholes (Shi et al. 2015). One convolution over ``cat(x, h)`` gives the four
    gate pre-activations; the peephole weights ``W_ci, W_cf, W_co`` (shape ``(hidden, *grid)``, initialised to
    zero) act elementwise on the cell state:

    ``i = sigmoid(Wxi*x + Whi*h + Wci∘c + bi)``, ``f = sigmoid(Wxf*x + Whf*h + Wcf∘c + bf)``,
    ``c' = f∘c + i∘tanh(Wxc*x + Whc*h + bc)``, ``o = sigmoid(Wxo*x + Who*h + Wco∘c' + bo)``, ``h' = o∘tanh(c')``.

    Shapes: x (B, in_channels, *grid), h and c (B, hidden, *grid) -> h', c' (B, hidden, *grid).
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int, grid: Sequence[int]) -> None:
        super().__init__()
        self.grid = tuple(int(n) for n in grid)
        self.hidden = hidden
        conv = _conv_cls(len(self.grid))
        self.conv = conv(in_channels + hidden, 4 * hidden, kernel, padding="same")
        self.w_ci = nn.Parameter(torch.zeros(hidden, *self.grid))
        self.w_cf = nn.Parameter(torch.zeros(hidden, *self.grid))
        self.w_co = nn.Parameter(torch.zeros(hidden, *self.grid))

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``x (B, C_in, *grid)``, ``(h, c)`` each ``(B, hidden, *grid)`` -> ``(h', c')``."""
        h, c = state
        gi, gf, gc, go = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        i = torch.sigmoid(gi + self.w_ci * c)
        f = torch.sigmoid(gf + self.w_cf * c)
        c_new = f * c + i * torch.tanh(gc)
        o = torch.sigmoid(go + self.w_co * c_new)
        return o * torch.tanh(c_new), c_new


class NEPNetModel(nn.Module):
    """The NEP net: ConvLSTM cells of ``channels`` hidden channels stacked (each feeds its ``h`` to the next),
    then two heads on the last ``h``: node branch ``Conv(channels[-1], nc, 1)`` + tanh (next node positions,
    scaled) and element branch ``Conv(channels[-1], 2, 2)`` without padding + tanh (effective stress and strain
    per element, scaled).

    Autoregressive rollout: at step 0 the given frame ``x[:, 0]`` is used; at step ``t >= 1`` the coordinate
    channels of the free nodes (mask ``<= 0``) are replaced by the previous step's node prediction (see
    :meth:`next_input`), fixed nodes keep their given coordinates, loads and mask always come from ``x``. With
    :attr:`teacher_forcing` ``p > 0`` and the module in training mode, each sample at each step ``t >= 1`` uses the
    true coordinates from ``x`` instead, with probability ``p``; in eval mode the rollout is always free-running.

    Shapes: x (B, T, 2 * nc + 1, *grid) -> (B, T, nc * prod(grid) + 2 * prod(grid - 1)); see
    :meth:`split_output`.
    """

    def __init__(
        self,
        node_channels: int,
        grid: Sequence[int],
        channels: Sequence[int] = (64, 128, 256),
        kernel: int = 3,
        teacher_forcing: float = 0.0,
    ) -> None:
        super().__init__()
        self.grid = tuple(int(n) for n in grid)
        dim = len(self.grid)
        if dim not in (2, 3) or node_channels != dim:
            raise DataError(f"NEP net: node_channels ({node_channels}) and the grid {self.grid} must both be 2D or 3D")
        channels = [int(c) for c in channels]
        if not channels or any(c < 1 for c in channels):
            raise ConfigError(f"NEP net: channels must be a non-empty list of positive sizes, got {channels}")
        if int(kernel) != kernel or kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"NEP net: kernel must be a positive odd size (padding 'same'), got {kernel}")
        self.dim = dim
        self.node_channels = node_channels
        self.in_channels = 2 * node_channels + 1
        self.elem_grid = tuple(n - 1 for n in self.grid)
        self.channels = tuple(channels)
        cells = []
        previous = self.in_channels
        for hidden in channels:
            cells.append(ConvLSTMCell(previous, hidden, int(kernel), self.grid))
            previous = hidden
        self.cells = nn.ModuleList(cells)
        conv = _conv_cls(dim)
        self.node_head = conv(previous, node_channels, 1)
        self.elem_head = conv(previous, 2, 2)
        self.teacher_forcing = teacher_forcing

    @property
    def teacher_forcing(self) -> float:
        """Probability of feeding the true coordinates at a step ``t >= 1`` while training (0: never)."""
        return self._teacher_forcing

    @teacher_forcing.setter
    def teacher_forcing(self, p: float) -> None:
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"NEP net: teacher_forcing must be a probability in [0, 1], got {p}")
        self._teacher_forcing = p

    @property
    def output_size(self) -> int:
        """Features per step of the flat output."""
        return output_size(self.node_channels, self.grid)

    def split_output(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T, F)`` -> ``node (B, T, nc, *grid)``, ``elem (B, T, 2, *elem_grid)``; see :func:`split_output`."""
        return split_output(out, self.node_channels, self.grid)

    def next_input(
        self, frame: torch.Tensor, prev_node: torch.Tensor, use_true: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The frame fed to the stack at a step ``t >= 1``.

        ``frame (B, C, *grid)`` is ``x[:, t]``; ``prev_node (B, nc, *grid)`` the node prediction of step
        ``t - 1``; ``use_true (B,)`` bool, samples that take the true coordinates (teacher forcing; ``None``:
        none). Coordinates of free nodes (mask channel ``<= 0``) come from ``prev_node``, of fixed nodes (mask
        ``> 0``) from ``frame``; loads and mask always from ``frame``. Returns ``(B, C, *grid)``."""
        nc = self.node_channels
        true_coords = frame[:, :nc]
        fixed = frame[:, -1:] > 0
        coords = torch.where(fixed, true_coords, prev_node)
        if use_true is not None:
            sel = use_true.reshape(-1, *([1] * (frame.ndim - 1)))
            coords = torch.where(sel, true_coords, coords)
        return torch.cat([coords, frame[:, nc:]], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Roll out over the ``T`` steps of ``x (B, T, 2 * nc + 1, *grid)``; returns ``(B, T, F)`` with
        ``F = nc * prod(grid) + 2 * prod(grid - 1)`` (node values first, see :meth:`split_output`)."""
        check_input(x, self.in_channels, self.grid, "NEP net")
        b, steps = x.shape[:2]
        states = [
            (x.new_zeros(b, cell.hidden, *self.grid), x.new_zeros(b, cell.hidden, *self.grid)) for cell in self.cells
        ]
        p = self._teacher_forcing if self.training else 0.0
        outputs = []
        node = None
        for t in range(steps):
            frame = x[:, t]
            if node is not None:
                use_true = torch.rand(b, device=x.device) < p if p > 0 else None
                frame = self.next_input(frame, node, use_true)
            h = frame
            for k, cell in enumerate(self.cells):
                states[k] = cell(h, states[k])
                h = states[k][0]
            node = torch.tanh(self.node_head(h))
            elem = torch.tanh(self.elem_head(h))
            outputs.append(torch.cat([node.flatten(1), elem.flatten(1)], dim=1))
        return torch.stack(outputs, dim=1)


def NEPNet(
    spec: DataSpec, channels: Sequence[int] = (64, 128, 256), kernel: int = 3, teacher_forcing: float = 0.0
) -> nn.Module:
    """The factory of the NEP net: a :class:`NEPNetModel` sized to the spec's grid (``input_shape`` ``(T, C,
    *grid)``, ``extra`` ``{"dim", "node_channels"}``). ``channels``: hidden channels of the ConvLSTM cells, first
    to last (the paper: 64, 128, 256); ``kernel``: odd convolution size (3: 3x3 or 3x3x3); ``teacher_forcing``:
    the initial :attr:`NEPNetModel.teacher_forcing` probability.

    Shapes: (B, T, C, *grid) -> (B, T, nc * prod(grid) + 2 * prod(grid - 1))."""
    _, nc, grid = spec_layout(spec)
    return NEPNetModel(nc, grid, channels=channels, kernel=kernel, teacher_forcing=teacher_forcing)


__all__ = ["ConvLSTMCell", "NEPNet", "NEPNetModel", "output_size", "spec_layout", "split_output"]
