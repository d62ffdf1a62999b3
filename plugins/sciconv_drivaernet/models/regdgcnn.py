"""RegDGCNN, the drag regressor of DrivAerNet (Elrefaie, Dai and Ahmed 2024): a dynamic graph CNN (DGCNN, Wang et
al. 2019) over the car's surface points, regressing the drag coefficient.

Layout of the official model (reproduced here; with the published widths and ``emb_dims=512`` it has 3,164,257
parameters, a test asserts it):

- four EdgeConv layers. Before each, the k-nearest-neighbour graph is recomputed on that layer's input (the
  coordinates, then the previous layer's features: a dynamic graph), each point being its own neighbour. The
  edge feature of the edge ``j -> i`` is ``[x_j - x_i, x_i]``, mapped by ``Linear(2C, C', bias=False)`` +
  BatchNorm + LeakyReLU(0.2) and max-pooled over the ``k`` neighbours; widths ``6 -> 256``, ``512 -> 512``,
  ``1024 -> 512``, ``1024 -> 1024``;
- the four outputs concatenated (2304 channels), ``Conv1d(2304, emb_dims, 1, bias=False)`` + BatchNorm +
  LeakyReLU(0.2);
- global max and global average pooling over the points, concatenated (``2 * emb_dims``);
- a head ``Linear(2 * emb_dims, 128, bias=False)``, ``Linear(128, 64)``, ``Linear(64, 32)``, ``Linear(32, 16)``,
  each + BatchNorm1d + LeakyReLU(0.2) + Dropout, then ``Linear(16, 1)``.

The message passing is torch-geometric's :class:`~torch_geometric.nn.EdgeConv` (max aggregation through torch's
``scatter_reduce``; neither torch_scatter nor torch_cluster is needed), on the graph of
:func:`~sciconv_drivaernet.models.knn_graph.knn_edge_index` (computed by chunks so that a large batch never holds
its whole distance matrix). PyG feeds its MLP ``[x_i, x_j - x_i]``; :class:`EdgeFeatureLinear` keeps its weight in
the official column order ``[x_j - x_i, x_i]`` and permutes the weight's two halves (not the edge features), so the
layer computes the official function with the official weight layout. The official BatchNorm2d over the
``(B, C, N, k)`` edge features is a BatchNorm1d over the ``B * N * k`` edges here: the same statistics.

As in the official code nothing is masked: zero-padded points of a cloud are ordinary points at the origin.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch_geometric.nn import EdgeConv

from sciconv.conv import Conv1d
from sciconv.errors import ConfigError
from sciconv.spec import DataSpec
from sciconv_drivaernet.models.knn_graph import knn_edge_index
from sciconv_drivaernet.models.point_cloud_input import Widths, check_point_cloud_spec, check_points

PUBLISHED_EDGE_CHANNELS = (256, 512, 512, 1024)
PUBLISHED_HEAD = (128, 64, 32, 16)
LEAKY_SLOPE = 0.2

FourWidths = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=4, max_length=4)]

__all__ = [
    "PUBLISHED_EDGE_CHANNELS",
    "PUBLISHED_HEAD",
    "EdgeFeatureLinear",
    "RegDGCNN",
    "RegDGCNNModel",
]


class EdgeFeatureLinear(nn.Linear):
    """``Linear(2C, C', bias=False)`` on edge features, its weight's columns in the official DGCNN order
    ``[x_j - x_i | x_i]`` while its input comes in PyG EdgeConv's order ``[x_i, x_j - x_i]``: the two halves of
    the weight are swapped at each call (a ``(C', 2C)`` copy, never a copy of the ``(E, 2C)`` edge features).

    Shapes: ``(E, 2C) -> (E, C')``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(2 * in_channels, out_channels, bias=False)
        self.in_channels = in_channels

    def forward(self, edges: torch.Tensor) -> torch.Tensor:
        c = self.in_channels
        return F.linear(edges, torch.cat([self.weight[:, c:], self.weight[:, :c]], dim=1))


def _edge_conv(in_channels: int, out_channels: int) -> EdgeConv:
    mlp = nn.Sequential(
        EdgeFeatureLinear(in_channels, out_channels),
        nn.BatchNorm1d(out_channels),
        nn.LeakyReLU(LEAKY_SLOPE),
    )
    return EdgeConv(mlp, aggr="max")


class RegDGCNNModel(nn.Module):
    """RegDGCNN: ``(B, 3, N)`` point coordinates -> ``(B, n_outputs)`` (the drag coefficient, ``n_outputs=1``).

    Args:
        spec: input_shape ``(3, N)``; ``n_outputs`` targets.
        k: neighbours per point in each graph (self included), ``k < N``.
        emb_dims: channels of the point embedding before the global pooling.
        dropout: dropout probability in the head.
        edge_channels: output channels of the four EdgeConv layers.
        head: widths of the hidden layers of the head (the first without bias, as published).
        knn_memory_mb: MiB of distance matrix the kNN may hold at once (see
            :func:`~sciconv_drivaernet.models.knn_graph.knn_edge_index`).
    """

    def __init__(
        self,
        spec: DataSpec,
        k: int = 40,
        emb_dims: int = 512,
        dropout: float = 0.4,
        edge_channels: tuple[int, ...] | list[int] = PUBLISHED_EDGE_CHANNELS,
        head: tuple[int, ...] | list[int] = PUBLISHED_HEAD,
        knn_memory_mb: float = 256.0,
    ) -> None:
        super().__init__()
        n_points = check_point_cloud_spec(spec, "RegDGCNN")
        if k >= n_points:
            raise ConfigError(
                f"RegDGCNN: k ({k}) must be smaller than the number of points per cloud N = {n_points} (input_shape)"
            )
        if len(edge_channels) != 4:
            raise ConfigError(f"RegDGCNN: edge_channels must list 4 EdgeConv widths, got {list(edge_channels)}")
        if not head:
            raise ConfigError("RegDGCNN: head must list at least one hidden width")
        self.k, self.knn_memory_mb = int(k), float(knn_memory_mb)
        widths = [int(c) for c in edge_channels]
        previous = 3
        self.edge_convs = nn.ModuleList()
        for width in widths:
            self.edge_convs.append(_edge_conv(previous, width))
            previous = width
        self.embedding = nn.Sequential(
            Conv1d(sum(widths), int(emb_dims), 1, bias=False),
            nn.BatchNorm1d(int(emb_dims)),
            nn.LeakyReLU(LEAKY_SLOPE),
        )
        layers: list[nn.Module] = []
        previous = 2 * int(emb_dims)
        for i, width in enumerate(int(w) for w in head):
            layers += [
                nn.Linear(previous, width, bias=i > 0),
                nn.BatchNorm1d(width),
                nn.LeakyReLU(LEAKY_SLOPE),
                nn.Dropout(float(dropout)),
            ]
            previous = width
        layers.append(nn.Linear(previous, spec.n_outputs))
        self.head = nn.Sequential(*layers)

    def point_features(self, x: torch.Tensor) -> torch.Tensor:
        """The concatenated EdgeConv outputs: ``(B, 3, N) -> (B * N, sum(edge_channels))``, node ``b * N + i``."""
        check_points(x, "RegDGCNN")
        b, _, n = x.shape
        h = x.transpose(1, 2).reshape(b * n, 3)
        outputs = []
        for conv in self.edge_convs:
            edge_index = knn_edge_index(h.view(b, n, -1), self.k, memory_mb=self.knn_memory_mb)
            h = conv(h, edge_index)
            outputs.append(h)
        return torch.cat(outputs, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, N)`` coordinates -> ``(B, n_outputs)``."""
        check_points(x, "RegDGCNN")
        b, _, n = x.shape
        features = self.point_features(x)  # (B * N, sum(edge_channels))
        emb = self.embedding(features.view(b, n, -1).transpose(1, 2))  # (B, emb_dims, N)
        pooled = torch.cat([emb.amax(dim=2), emb.mean(dim=2)], dim=1)  # (B, 2 * emb_dims)
        return self.head(pooled)


def RegDGCNN(
    spec: DataSpec,
    k: Annotated[int, Field(ge=1)] = 40,
    emb_dims: Annotated[int, Field(ge=1)] = 512,
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.4,
    edge_channels: FourWidths = list(PUBLISHED_EDGE_CHANNELS),  # noqa: B006
    head: Widths = list(PUBLISHED_HEAD),  # noqa: B006
    knn_memory_mb: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 256.0,
) -> RegDGCNNModel:
    """Factory of RegDGCNN, sized to ``spec`` (input_shape ``(3, N)``). The published DrivAerNet settings are
    the defaults (k 40, emb_dims 512, dropout 0.4, on 5000 points); the slim preset of ``drivaernet-drag`` for
    small machines is ``edge_channels=[32, 32, 32, 64], emb_dims=128, k=16, dropout=0``."""
    return RegDGCNNModel(spec, k, emb_dims, dropout, edge_channels, head, knn_memory_mb)
