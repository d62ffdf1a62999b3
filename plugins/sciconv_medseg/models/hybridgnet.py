"""HybridGNet with two image-to-graph skip connections (Gaggion et al., IEEE TMI 2022).

"Improving anatomical plausibility in medical image segmentation via hybrid graph neural networks": a
convolutional variational encoder reads the chest X-ray and a spectral graph decoder turns the latent code into the
120 landmarks of the right lung, left lung and heart (:mod:`~sciconv_medseg.chest_landmarks_io`). The model of the
official code that this module follows is ``HybridGNet2IGSC`` (github ngaggion/HybridGNet,
``models/HybridGNet_2_IGSC.py``).

Encoder. Six residual blocks with 8, 16, 32, 64, 128, 128 channels (each ``conv3x3-BN-ReLU-conv3x3-BN`` plus a
``1x1 conv-BN`` projection shortcut when the channels change, then ReLU) with 2x2 max-pooling between blocks, so the
last map is ``S / 32`` pixels wide for an ``S x S`` image. It is flattened and two linear layers give the mean and the
log-variance of a 64-dimensional Gaussian latent; training decodes a reparameterised sample, evaluation the mean.
(The official blocks are pre-activation and their batch norms keep no running statistics; here the blocks are
post-activation with ordinary running statistics, so that evaluation of one image does not depend on its batch.)
All image convolutions are :class:`sciconv.conv.Conv2d`, so they run on the pipeline's ``conv.backend``.

Graph hierarchy. Every organ is a closed ring (no edges between organs). Pooling averages neighbour pairs along each
ring (ring of ``n`` -> ``ceil(n / 2)`` nodes; for odd ``n`` the last node is kept alone); unpooling puts each fine
node back by linear interpolation along the ring between its two nearest coarse nodes, placed at the arclength of
the fine nodes they average (the inverse of the pooling for a signal linear along the ring). Three pooling steps
are used, the most that keep every ring at >= 3 nodes (:data:`GRAPH_LEVELS`):

====== ========================== =====
level  rings (RL, LL, H)          nodes
====== ========================== =====
0      44, 50, 26                 120
1      22, 25, 13                 60
2      11, 13, 7                  31
3      6, 7, 4                    17
====== ========================== =====

The matrices are small dense tensors built once from the ring sizes (deterministic; kept as non-persistent
buffers, so they follow ``.to(device)`` but are not part of the weights).

Decoder. ``ChebConv`` (torch-geometric, Chebyshev order ``K = 6``, 32 filters) layers; after each one, as in the
official code, ``InstanceNorm1d`` over a ``(batch, nodes, features)`` tensor (each node normalised across its
features), then ReLU::

    z -> Linear -> ReLU -> (17 nodes x 32)         level 3
      ChebConv -> unpool                           level 3 -> 2
      ChebConv ; IGSC 1 (encoder block 4) ; ChebConv -> unpool     level 2 -> 1
      ChebConv -> unpool                           level 1 -> 0
      IGSC 2 (encoder block 3) ; ChebConv ; ChebConv(K=1) -> (120, 2)

Image-to-graph skip connections (IGSC). A ``ChebConv(K=1)`` predicts intermediate node positions ``pos``
(2 channels, normalised image coordinates ``(x / W, y / H)``); the encoder feature map is sampled bilinearly
(:func:`torch.nn.functional.grid_sample`) on a ``roi_window x roi_window`` grid of points one feature-map pixel
apart centred on each position (a ``roi_window``-pixel-wide region of interest of that map), the samples are
flattened to ``roi_window**2 * C`` features per node and concatenated with the node features and ``pos``. The
official code samples its two deepest maps at 32 and 64 pixels (1024-pixel inputs); for the 128-256 pixel images
used here the maps of the same resolution are those of blocks 4 (64 channels, ``S / 8``) and 3 (32 channels,
``S / 4``), which are used (:data:`IGSC_BLOCKS`). The official code pools each window to one value per channel with
``roi_align``; here the window's points are kept (flattened), which keeps their spatial layout.

The three position heads (both IGSC predictors and the output layer, ``ChebConv`` of order 1, i.e. a per-node
linear map) have no bias in the official code; here they have one, initialised to 0.5 with the weights scaled by
0.1, so that every prediction starts near the image centre (and the ROI windows on the image): on four simulated
64-pixel cases this brought the evaluation MSE after 100 Adam steps (lr 1e-3) from 0.010 to 0.001.

Output: ``(N, 120, 2)`` landmarks in normalised image coordinates ``(x / W, y / H)`` (pixel ``j`` centred at
``x = j``), rows ordered RL, LL, H. Auxiliary outputs of the last forward are in :attr:`HybridGNet.aux`: the first
IGSC's positions live on the level-2 graph (31 nodes), the second's on the full graph; :meth:`HybridGNet.coarsen`
brings a target to a level. :class:`HybridGNetLoss` is the paper's loss: landmark MSE, the MSE of both IGSC
predictions (deep supervision), and ``1e-5`` times the KL divergence of the latent. The paper trains with Adam, lr
``1e-4``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, StrictBool
from torch import Tensor, nn
from torch_geometric.nn import ChebConv

from sciconv import DataSpec
from sciconv.conv import Conv2d
from sciconv.errors import ConfigError
from sciconv_medseg.chest_landmarks_io import N_LANDMARKS, ORGANS, graph_edges

GRAPH_LEVELS: int = 3
"""Number of ring-halving pooling steps of the decoder's graph hierarchy (levels 0-3: 120, 60, 31, 17 nodes)."""

IGSC_BLOCKS: tuple[int, int] = (4, 3)
"""Encoder blocks (1-based) whose output maps the first and second image-to-graph skip connections sample."""

IGSC_LEVELS: tuple[int, int] = (2, 0)
"""Graph levels at which the first and second skip connections predict positions (31 and 120 nodes)."""

MIN_RING: int = 3


# ----------------------------------------------------------------------------------------------------
# Ring graphs: hierarchy, edges, pooling and unpooling


def ring_hierarchy(ring_sizes: Sequence[int], levels: int = GRAPH_LEVELS) -> list[tuple[int, ...]]:
    """Ring sizes at each level, level 0 being ``ring_sizes``; each pooling step turns ``n`` into ``ceil(n / 2)``.

    Raises ConfigError if a ring falls below 3 nodes (a ring needs 3)."""
    sizes = [tuple(int(n) for n in ring_sizes)]
    for _ in range(levels):
        sizes.append(tuple((n + 1) // 2 for n in sizes[-1]))
    if min(sizes[-1]) < MIN_RING:
        raise ConfigError(f"{levels} pooling levels shrink a ring of {ring_sizes} below {MIN_RING} nodes: {sizes}")
    return sizes


def ring_edges(ring_sizes: Sequence[int]) -> Tensor:
    """int64 ``(2, 2 * sum(ring_sizes))`` edge index of disjoint closed rings stacked in order, both directions."""
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    start = 0
    for n in ring_sizes:
        nodes = np.arange(start, start + n)
        following = np.roll(nodes, -1)
        sources += [nodes, following]
        targets += [following, nodes]
        start += n
    return torch.from_numpy(np.stack([np.concatenate(sources), np.concatenate(targets)]).astype(np.int64))


def _coarse_members(n: int) -> list[list[int]]:
    return [[2 * i, 2 * i + 1] if 2 * i + 1 < n else [2 * i] for i in range((n + 1) // 2)]


def ring_pool_matrix(ring_sizes: Sequence[int]) -> Tensor:
    """Pooling of stacked rings: float32 ``(n_coarse, n_fine)``, coarse node ``i`` of a ring the mean of the ring's
    fine nodes ``2i`` and ``2i + 1`` (the last node alone for an odd ring). Rows sum to 1; block diagonal by ring."""
    n_fine = sum(ring_sizes)
    n_coarse = sum((n + 1) // 2 for n in ring_sizes)
    matrix = torch.zeros(n_coarse, n_fine)
    row, start = 0, 0
    for n in ring_sizes:
        for members in _coarse_members(n):
            matrix[row, [start + m for m in members]] = 1.0 / len(members)
            row += 1
        start += n
    return matrix


def ring_unpool_matrix(ring_sizes: Sequence[int]) -> Tensor:
    """Unpooling of stacked rings (``ring_sizes`` are the fine rings): float32 ``(n_fine, n_coarse)``.

    Coarse node ``i`` sits at the mean arclength of the fine nodes it pools (``2i + 0.5``, or ``n - 1`` for the
    lone last node of an odd ring); fine node ``j`` (at arclength ``j``) is the linear interpolation of the nearest
    coarse node behind and ahead of it along the ring (weights ``3/4, 1/4`` for pairs). Rows sum to 1."""
    n_fine = sum(ring_sizes)
    n_coarse = sum((n + 1) // 2 for n in ring_sizes)
    matrix = torch.zeros(n_fine, n_coarse)
    fine_start, coarse_start = 0, 0
    for n in ring_sizes:
        positions = np.array([np.mean(m) for m in _coarse_members(n)])
        for j in range(n):
            ahead = np.mod(positions - j, n)  # distance forward from j to each coarse node
            behind = np.mod(j - positions, n)
            a, b = int(np.argmin(ahead)), int(np.argmin(behind))
            if ahead[a] == 0.0:
                matrix[fine_start + j, coarse_start + a] = 1.0
            else:
                span = ahead[a] + behind[b]
                matrix[fine_start + j, coarse_start + a] = float(behind[b] / span)
                matrix[fine_start + j, coarse_start + b] = float(ahead[a] / span)
        fine_start += n
        coarse_start += len(positions)
    return matrix


# ----------------------------------------------------------------------------------------------------
# Encoder


class ResidualBlock(nn.Module):
    """``conv3x3-BN-ReLU-conv3x3-BN`` plus the input (through ``1x1 conv-BN`` when channels change), then ReLU.

    Shapes: (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut: nn.Module = (
            nn.Sequential(Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class HybridGNetEncoder(nn.Module):
    """Residual blocks with 2x2 max-pooling between them, flattened to a Gaussian latent.

    Shapes: (N, C, S, S) -> mu (N, latent_dim), logvar (N, latent_dim), and the list of every block's output,
    block ``b`` (1-based) of shape (N, channels[b - 1], S / 2**(b - 1), S / 2**(b - 1))."""

    def __init__(self, image_size: int, in_channels: int, latent_dim: int, channels: Sequence[int]) -> None:
        super().__init__()
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(ResidualBlock(widths[i], widths[i + 1]) for i in range(len(channels)))
        side = image_size // 2 ** (len(channels) - 1)
        flat = channels[-1] * side * side
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_logvar = nn.Linear(flat, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        maps: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            maps.append(x)
        flat = x.flatten(1)
        return self.fc_mu(flat), self.fc_logvar(flat), maps


# ----------------------------------------------------------------------------------------------------
# Graph decoder


def roi_sample(feature_map: Tensor, positions: Tensor, image_size: int, window: int) -> Tensor:
    """Bilinear samples of ``feature_map`` on a ``window x window`` grid around each position, flattened.

    ``positions`` are normalised image coordinates ``(x / S, y / S)`` with pixel ``j`` centred at ``x = j``; the grid's
    points are one pixel of ``feature_map`` apart (a region ``window`` map pixels wide); outside the map the border
    value is used.

    Shapes: feature_map (N, C, h, w), positions (N, V, 2) -> (N, V, C * window**2), channel-major.
    """
    n, c, h, w = feature_map.shape
    v = positions.shape[1]
    # grid_sample (align_corners=False) maps [-1, 1] onto the map's outer pixel edges, which are the image's edges.
    centre = 2.0 * (positions + 0.5 / image_size) - 1.0
    steps = torch.arange(window, dtype=positions.dtype, device=positions.device) - (window - 1) / 2.0
    dy, dx = torch.meshgrid(steps * (2.0 / h), steps * (2.0 / w), indexing="ij")
    offsets = torch.stack([dx.reshape(-1), dy.reshape(-1)], dim=-1)  # (window**2, 2) as (x, y)
    grid = centre.unsqueeze(2) + offsets  # (N, V, window**2, 2)
    samples = F.grid_sample(feature_map, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return samples.permute(0, 2, 1, 3).reshape(n, v, c * window * window)


class GraphConvBlock(nn.Module):
    """``ChebConv`` then per-node ``InstanceNorm1d`` (each node normalised across its features) then ReLU.

    Shapes: x (N, V, F_in) -> (N, V, F_out)."""

    def __init__(self, in_features: int, out_features: int, k: int, n_nodes: int) -> None:
        super().__init__()
        self.conv = ChebConv(in_features, out_features, k)
        self.norm = nn.InstanceNorm1d(n_nodes)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x, edge_index)))


@dataclass
class HybridGNetAux:
    """Auxiliary outputs of the last :meth:`HybridGNet.forward`.

    Attributes:
        skip1: first IGSC positions on the level-``skip1_level`` graph, (N, 31, 2) normalised coordinates, or
            ``None`` without skip connections; compare with ``model.coarsen(target, skip1_level)``.
        skip2: second IGSC positions on the level-``skip2_level`` (full, 120-node) graph, (N, 120, 2), or ``None``.
        mu: latent mean, (N, latent_dim).
        logvar: latent log-variance, (N, latent_dim).
        skip1_level: graph level of ``skip1`` (2).
        skip2_level: graph level of ``skip2`` (0).
    """

    skip1: Tensor | None
    skip2: Tensor | None
    mu: Tensor
    logvar: Tensor
    skip1_level: int = IGSC_LEVELS[0]
    skip2_level: int = IGSC_LEVELS[1]


class HybridGNet(nn.Module):
    """HybridGNet with two image-to-graph skip connections (``HybridGNet2IGSC``); see the module docstring.

    Args:
        image_size: side ``S`` of the square input in pixels, divisible by ``2**(len(encoder_channels) - 1)``.
        in_channels: image channels (1 for a radiograph).
        latent_dim: size of the variational latent (64).
        encoder_channels: channels of the residual blocks (8, 16, 32, 64, 128, 128); at least 4 blocks.
        cheb_k: Chebyshev order of the graph convolutions (6).
        graph_filters: features of the graph convolutions (32).
        skip_connections: use the two image-to-graph skip connections (otherwise plain HybridGNet).
        roi_window: points per side of the window sampled around each predicted position (3).

    Shapes:
        x (N, in_channels, S, S) -> (N, 120, 2) landmarks ``(x / S, y / S)``, rows RL, LL, H.
        After each forward, :attr:`aux` holds a :class:`HybridGNetAux`.
    """

    def __init__(
        self,
        image_size: int = 256,
        in_channels: int = 1,
        latent_dim: int = 64,
        encoder_channels: Sequence[int] = (8, 16, 32, 64, 128, 128),
        cheb_k: int = 6,
        graph_filters: int = 32,
        skip_connections: bool = True,
        roi_window: int = 3,
    ) -> None:
        super().__init__()
        channels = _check_structure(int(image_size), encoder_channels)
        self.image_size = int(image_size)
        self.latent_dim = int(latent_dim)
        self.skip_connections = bool(skip_connections)
        self.roi_window = int(roi_window)
        self.aux: HybridGNetAux | None = None

        self.ring_sizes = ring_hierarchy(tuple(ORGANS.values()), GRAPH_LEVELS)
        self.n_nodes = [sum(r) for r in self.ring_sizes]
        assert self.n_nodes[0] == N_LANDMARKS
        for level, rings in enumerate(self.ring_sizes):
            edges = torch.from_numpy(graph_edges()) if level == 0 else ring_edges(rings)
            self.register_buffer(f"edge_index_{level}", edges, persistent=False)
        for level in range(GRAPH_LEVELS):
            self.register_buffer(f"pool_{level}", ring_pool_matrix(self.ring_sizes[level]), persistent=False)
            self.register_buffer(f"unpool_{level}", ring_unpool_matrix(self.ring_sizes[level]), persistent=False)

        self.encoder = HybridGNetEncoder(self.image_size, in_channels, self.latent_dim, channels)
        f, k, n = graph_filters, cheb_k, self.n_nodes
        self.dec_lin = nn.Linear(self.latent_dim, n[3] * f)
        self.conv3 = GraphConvBlock(f, f, k, n[3])
        self.conv2a = GraphConvBlock(f, f, k, n[2])
        extra1 = extra2 = 0
        if self.skip_connections:
            w2 = self.roi_window**2
            self.pos1 = ChebConv(f, 2, 1)
            self.pos2 = ChebConv(f, 2, 1)
            extra1 = channels[IGSC_BLOCKS[0] - 1] * w2 + 2
            extra2 = channels[IGSC_BLOCKS[1] - 1] * w2 + 2
        self.conv2b = GraphConvBlock(f + extra1, f, k, n[2])
        self.conv1 = GraphConvBlock(f, f, k, n[1])
        self.conv0 = GraphConvBlock(f + extra2, f, k, n[0])
        self.out = ChebConv(f, 2, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise the latent-to-graph layer as the official code does (weights N(0, 0.1^2)), and the position
        heads (the two IGSC predictors and the output layer) to start near the image centre: their weights are
        scaled by 0.1 from torch-geometric's default and their biases set to 0.5."""
        nn.init.normal_(self.dec_lin.weight, 0.0, 0.1)
        heads = [self.out, self.pos1, self.pos2] if self.skip_connections else [self.out]
        with torch.no_grad():
            for head in heads:
                head.reset_parameters()
                head.lins[0].weight.mul_(0.1)
                head.bias.fill_(0.5)

    def edge_index(self, level: int) -> Tensor:
        """int64 (2, E) ring edges of the level-``level`` graph."""
        return getattr(self, f"edge_index_{level}")

    def pool_matrix(self, level: int) -> Tensor:
        """(n_{level+1}, n_level) pooling matrix from graph level ``level`` to ``level + 1``."""
        return getattr(self, f"pool_{level}")

    def unpool_matrix(self, level: int) -> Tensor:
        """(n_level, n_{level+1}) unpooling matrix from graph level ``level + 1`` to ``level``."""
        return getattr(self, f"unpool_{level}")

    def coarsen(self, nodes: Tensor, level: int) -> Tensor:
        """Pool full-graph node values to graph level ``level``. Shapes: (N, 120, F) -> (N, n_level, F)."""
        for lvl in range(level):
            nodes = self.pool_matrix(lvl) @ nodes
        return nodes

    def _skip(self, head: nn.Module, x: Tensor, level: int, feature_map: Tensor) -> tuple[Tensor, Tensor]:
        pos = head(x, self.edge_index(level))
        sampled = roi_sample(feature_map, pos, self.image_size, self.roi_window)
        return torch.cat([x, sampled, pos], dim=-1), pos

    def forward(self, x: Tensor) -> Tensor:
        """Landmarks of a batch of images. Shapes: (N, C, S, S) -> (N, 120, 2) normalised ``(x / S, y / S)``."""
        mu, logvar, maps = self.encoder(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        h = F.relu(self.dec_lin(z)).reshape(z.shape[0], self.n_nodes[3], -1)
        h = self.unpool_matrix(2) @ self.conv3(h, self.edge_index(3))
        h = self.conv2a(h, self.edge_index(2))
        skip1 = skip2 = None
        if self.skip_connections:
            h, skip1 = self._skip(self.pos1, h, IGSC_LEVELS[0], maps[IGSC_BLOCKS[0] - 1])
        h = self.unpool_matrix(1) @ self.conv2b(h, self.edge_index(2))
        h = self.unpool_matrix(0) @ self.conv1(h, self.edge_index(1))
        if self.skip_connections:
            h, skip2 = self._skip(self.pos2, h, IGSC_LEVELS[1], maps[IGSC_BLOCKS[1] - 1])
        h = self.conv0(h, self.edge_index(0))
        out = self.out(h, self.edge_index(0))
        self.aux = HybridGNetAux(skip1=skip1, skip2=skip2, mu=mu, logvar=logvar)
        return out


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, I))`` per latent dimension: averaged over the latent's dimensions and the
    batch (nats per dimension), as the official HybridGNet trainer reduces it, so that its ``kl_weight`` of 1e-5
    means what it means there. (Summed over a 64-dimensional latent, the same weight pulls 64 times harder: measured
    here, the latent then carried almost nothing of the image, the landmarks came from the image-to-graph skips
    alone, and hiding part of the image threw them off.)

    Shapes: mu, logvar (N, latent) -> scalar."""
    return (-0.5 * (1.0 + logvar - mu.square() - logvar.exp())).mean()


class HybridGNetLoss(nn.Module):
    """The paper's training loss: ``MSE(out, y) + MSE(skip1, y_2) + MSE(skip2, y) + kl_weight * KL``.

    ``y`` are the target landmarks, (N, 120, 2) normalised like the output; ``y_2`` is ``y`` pooled to the first
    skip connection's graph level (:meth:`HybridGNet.coarsen`). In training mode the skip predictions and the latent
    are read from ``model.aux`` (set by the forward that produced ``output``); in evaluation mode (the decoder reads
    the latent mean), or for an output computed without gradients (the engine validates by predicting the whole split
    under ``no_grad`` and then calling the loss), the loss is the landmark MSE alone. The model is referenced, not
    registered as a submodule, so the loss has no parameters or state of its own.

    Args:
        model: the :class:`HybridGNet` whose outputs are scored.
        kl_weight: weight of the KL term, averaged over the latent's dimensions (1e-5 in the official trainer).
        deep_supervision: include the MSE of the two intermediate predictions.

    Shapes: output (N, 120, 2), target (N, 120, 2) -> scalar.
    """

    def __init__(self, model: HybridGNet, kl_weight: float = 1e-5, deep_supervision: bool = True) -> None:
        super().__init__()
        if not (isinstance(kl_weight, int | float) and math.isfinite(kl_weight) and kl_weight >= 0):
            raise ConfigError(f"kl_weight must be a finite number >= 0, got {kl_weight!r}")
        object.__setattr__(self, "model", model)
        self.kl_weight = float(kl_weight)
        self.deep_supervision = bool(deep_supervision)

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        loss = F.mse_loss(output, target)
        model: HybridGNet = self.model  # type: ignore[assignment]
        if not model.training or not output.requires_grad:
            # An evaluation forward (eval mode, or outputs predicted without gradients, as the engine validates):
            # its aux, if any, belongs to another forward, so only the landmark MSE applies.
            return loss
        aux = model.aux
        if aux is None or aux.mu.shape[0] != output.shape[0]:
            raise RuntimeError("HybridGNetLoss needs model.aux from the training forward that produced the output")
        if self.deep_supervision:
            if aux.skip1 is not None:
                loss = loss + F.mse_loss(aux.skip1, model.coarsen(target, aux.skip1_level))
            if aux.skip2 is not None:
                loss = loss + F.mse_loss(aux.skip2, model.coarsen(target, aux.skip2_level))
        return loss + self.kl_weight * kl_divergence(aux.mu, aux.logvar)


# ----------------------------------------------------------------------------------------------------
# Structure checks and the sciconv factory


def _check_structure(image_size: int, encoder_channels: Sequence[int]) -> list[int]:
    """The encoder's channels as a list, after the checks that relate the parameters: at least
    ``max(IGSC_BLOCKS)`` blocks (the skip connections sample block 4) and an image side divisible by
    ``2**(len(encoder_channels) - 1)``. Raises ConfigError naming the parameter."""
    channels = list(encoder_channels)
    if len(channels) < max(IGSC_BLOCKS):
        raise ConfigError(
            f"hybridgnet: encoder_channels must be at least {max(IGSC_BLOCKS)} positive integers, got {channels!r}"
        )
    factor = 2 ** (len(channels) - 1)
    if image_size < factor or image_size % factor:
        raise ConfigError(
            f"hybridgnet: image_size must be a positive multiple of 2**(len(encoder_channels) - 1) = {factor} "
            f"(the encoder pools {len(channels) - 1} times), got {image_size!r}"
        )
    return [int(c) for c in channels]


PositiveInt = Annotated[int, Field(ge=1)]


def HybridGNetNet(
    spec: DataSpec,
    latent_dim: PositiveInt = 64,
    encoder_channels: Annotated[Sequence[PositiveInt], Field(min_length=max(IGSC_BLOCKS))] = (8, 16, 32, 64, 128, 128),
    cheb_k: PositiveInt = 6,
    graph_filters: PositiveInt = 32,
    skip_connections: StrictBool = True,
    roi_window: PositiveInt = 3,
) -> HybridGNet:
    """The sciconv model factory (``medseg.hybridgnet``): a :class:`HybridGNet` sized from ``spec.input_shape ==
    (C, S, S)``. The output is (N, 120, 2) normalised landmarks.

    The parameters' ranges are declared in the signature (checked with the pipeline's ``model.params``); raises
    ConfigError (naming the parameter) if the image is not square, its side not divisible by
    ``2**(len(encoder_channels) - 1)``, or there are fewer than 4 encoder blocks.
    """
    shape = tuple(spec.input_shape)
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"hybridgnet: spec.input_shape must be a square image (C, S, S), got {shape}")
    return HybridGNet(
        image_size=shape[1],
        in_channels=shape[0],
        latent_dim=latent_dim,
        encoder_channels=encoder_channels,
        cheb_k=cheb_k,
        graph_filters=graph_filters,
        skip_connections=skip_connections,
        roi_window=roi_window,
    )


__all__ = [
    "GRAPH_LEVELS",
    "IGSC_BLOCKS",
    "IGSC_LEVELS",
    "HybridGNet",
    "HybridGNetAux",
    "HybridGNetEncoder",
    "HybridGNetLoss",
    "HybridGNetNet",
    "kl_divergence",
    "ring_edges",
    "ring_hierarchy",
    "ring_pool_matrix",
    "ring_unpool_matrix",
    "roi_sample",
]
