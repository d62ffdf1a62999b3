"""MOGONET's networks: omics-specific graph convolutional networks fused by a View Correlation Discovery Network,
and the registered model component ``omics-sguq.mogonet`` (:class:`MOGONETNet`).

Wang et al., "MOGONET integrates multi-omics data using graph convolutional networks allowing patient
classification and biomarker identification", Nat Commun 12, 3445 (2021). SGUQ builds its staged,
uncertainty-aware AD diagnosis on these per-omics GCNs.

**Per omics type** ``v`` (:class:`GCNEncoder` + a linear classifier): three graph convolutions
``H <- Â H W + b`` over the patient graph of :mod:`~sciconv_omics_sguq.patient_graph` (``Â`` row-normalised,
self loops included), hidden sizes ``(200, 200, 100)`` for ROSMAP, each followed by LeakyReLU(0.25); dropout
0.5 after the activation of the first two (none after the third, and none on the input), then
``Linear(100, C)`` to class logits. The convolutions are torch-geometric's ``GCNConv(normalize=False,
add_self_loops=False)``: the graph is already normalised and holds its self loops, so the message
``Â[i, j] x_j W`` summed at ``i`` is MOGONET's sparse ``Â (X W) + b`` exactly. Weights are Xavier-normal,
biases zero, as in the official code.

**Fusion** (:class:`VCDN`, for ``V >= 2`` views): each view's logits pass through a *sigmoid*, as in the
official code (``vcdn_input="softmax"`` reads them as probability distributions instead); the cross-view
discovery tensor ``T[a_1, .., a_V] = prod_v p_v[a_v]`` (``C^V`` entries, flattened with view 1 most
significant) goes through ``Linear(C^V, C^V)``, LeakyReLU(0.25), ``Linear(C^V, C)``. With one view the fused
output is that view's logits.

**The model component** (:class:`MOGONETNet`, registered as ``omics-sguq.mogonet``): ``MOGONETNet(spec,
**model.params)`` sizes a :class:`MOGONET` from a data spec (one view per modality of ``spec.extra``). The SGUQ
task builds every network it trains with it (:mod:`~sciconv_omics_sguq.sguq_task`) and trains them with
MOGONET's own full-batch schedule (:mod:`~sciconv_omics_sguq.mogonet_training`).

Dropout masks come from a :class:`DropoutMasks` stream of their own during training (so a run is
reproducible without touching the global RNG).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn
from torch_geometric.nn import GCNConv

from sciconv import DataSpec
from sciconv.errors import ConfigError, DataError

__all__ = ["LEAKY_SLOPE", "MOGONET", "VCDN", "VCDN_INPUTS", "DropoutMasks", "GCNEncoder", "Graph", "MOGONETNet"]

LEAKY_SLOPE = 0.25
VCDN_INPUTS = ("sigmoid", "softmax")
"""The VCDN's readings of each view's logits (:class:`VCDN`'s ``vcdn_input``)."""

Graph = tuple[Tensor, Tensor, Tensor]
"""One view's ``(x, edge_index, edge_weight)``."""


class DropoutMasks:
    """The dropout masks of one training run, drawn from their own numpy PCG64 stream seeded with ``seed``.

    ``mask(shape, p)`` is the scaled keep mask ``keep / (1 - p)`` (float32) of inverted dropout, each entry kept
    independently with probability ``1 - p``. For ``p = 0.5`` (MOGONET's dropout) every entry is one random bit
    (bytes from the generator, unpacked): the exact Bernoulli(1/2) draw, about 6x faster on CPU than
    ``torch.rand`` and a comparison (17 us against 100-140 us for a 245 x 200 mask, one thread), which matters
    because a member draws 12 such masks per epoch. Other ``p``: ``uniform >= p`` on float32 uniforms.

    Shapes: ``mask((N, F), p) -> (N, F)``.
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def mask(self, shape: Sequence[int], p: float) -> Tensor:
        """The next ``(*shape)`` mask for dropout probability ``p`` in ``[0, 1)``: entries ``0`` or ``1 / (1 - p)``."""
        n = math.prod(shape)
        if p == 0.5:
            packed = self.rng.integers(0, 256, (n + 7) // 8, dtype=np.uint8)
            keep = np.unpackbits(packed, count=n)
        else:
            keep = self.rng.random(n, dtype=np.float32) >= p
        return torch.from_numpy(keep.reshape(tuple(shape))).to(torch.float32).mul_(1.0 / (1.0 - p))


class GCNEncoder(nn.Module):
    """MOGONET's omics-specific GCN (``GCN_E``): graph convolutions, each with LeakyReLU(0.25).

    ``H_{l+1} = LeakyReLU(Â H_l W_l + b_l)``, with dropout on ``H_{l+1}`` between layers (after the
    activation; none on the input or the output). Dropout masks come from :attr:`masks` (a
    :class:`DropoutMasks`) when it is set (training sets it, for runs reproducible without touching the global
    RNG), else from the global RNG (``torch.rand``, ~3x faster on CPU than ``F.dropout``'s Bernoulli sampling).

    Args:
        in_features: features of the omics type.
        hidden: output sizes of the convolutions (MOGONET: ``(200, 200, 100)`` for ROSMAP, ``(400, 400,
            200)`` for BRCA).
        dropout: dropout probability between layers (0.5).

    Shapes:
        x (N, in_features), edge_index (2, E), edge_weight (E,) -> (N, hidden[-1]).
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (200, 200, 100), dropout: float = 0.5) -> None:
        super().__init__()
        sizes = [in_features, *hidden]
        self.convs = nn.ModuleList(
            GCNConv(a, b, normalize=False, add_self_loops=False) for a, b in itertools.pairwise(sizes)
        )
        self.dropout = dropout
        self.masks: DropoutMasks | None = None
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights, zero biases (the official initialisation)."""
        for conv in self.convs:
            nn.init.xavier_normal_(conv.lin.weight, generator=generator)
            nn.init.zeros_(conv.bias)

    def _dropout(self, x: Tensor) -> Tensor:
        if not self.training or self.dropout == 0.0:
            return x
        if self.masks is not None:
            return x * self.masks.mask(x.shape, self.dropout).to(x.device)
        keep = torch.rand(x.shape, device=x.device) >= self.dropout
        return x * keep / (1.0 - self.dropout)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            if i > 0:
                x = self._dropout(x)
            x = F.leaky_relu(conv(x, edge_index, edge_weight), LEAKY_SLOPE)
        return x


class VCDN(nn.Module):
    """View Correlation Discovery Network: an MLP on the cross-view discovery tensor.

    Args:
        n_views: number of views ``V`` (>= 2).
        n_classes: number of classes ``C``.
        hidden: hidden width; default ``C^V`` as in MOGONET.
        vcdn_input: ``"sigmoid"`` (official code) or ``"softmax"`` applied to each view's logits.

    Shapes:
        V tensors (N, C) of logits -> discovery tensor (N, C^V) -> output (N, C) logits.
    """

    def __init__(self, n_views: int, n_classes: int, hidden: int | None = None, vcdn_input: str = "sigmoid") -> None:
        super().__init__()
        if n_views < 2:
            raise ConfigError(f"VCDN: fuses at least 2 views, got {n_views}")
        if vcdn_input not in VCDN_INPUTS:
            raise ConfigError(f"vcdn_input: expected one of {VCDN_INPUTS}, got {vcdn_input!r}")
        self.n_views, self.n_classes, self.vcdn_input = n_views, n_classes, vcdn_input
        width = n_classes**n_views
        hidden = width if hidden is None else hidden
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.LeakyReLU(LEAKY_SLOPE), nn.Linear(hidden, n_classes))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights, zero biases (the official initialisation)."""
        for layer in (self.mlp[0], self.mlp[2]):
            nn.init.xavier_normal_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def discovery_tensor(self, logits: Sequence[Tensor]) -> Tensor:
        """The flattened outer product of the views' class scores, ``(N, C^V)``, view 1 most significant."""
        if len(logits) != self.n_views:
            raise DataError(f"VCDN: expected {self.n_views} views, got {len(logits)}")
        act = torch.sigmoid if self.vcdn_input == "sigmoid" else (lambda t: torch.softmax(t, dim=1))
        out = act(logits[0])
        for view in logits[1:]:
            out = (out.unsqueeze(2) * act(view).unsqueeze(1)).flatten(1)
        return out

    def forward(self, logits: Sequence[Tensor]) -> Tensor:
        return self.mlp(self.discovery_tensor(logits))


class MOGONET(nn.Module):
    """V omics-specific GCNs with their classifiers, fused by a :class:`VCDN` when ``V >= 2``.

    Args:
        in_features: features of each view.
        n_classes: number of classes ``C``.
        hidden: the GCNs' hidden sizes.
        dropout: the GCNs' dropout.
        vcdn_hidden: the VCDN's hidden width (default ``C^V``).
        vcdn_input: ``"sigmoid"`` or ``"softmax"``, see :class:`VCDN`.

    Shapes:
        forward takes V triples ``(x (N, F_v), edge_index (2, E_v), edge_weight (E_v,))`` over the same
        N patients and returns ``(per-view logits: V x (N, C), fused logits (N, C))``.
    """

    def __init__(
        self,
        in_features: Sequence[int],
        n_classes: int,
        hidden: Sequence[int] = (200, 200, 100),
        dropout: float = 0.5,
        vcdn_hidden: int | None = None,
        vcdn_input: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.n_views, self.n_classes = len(in_features), n_classes
        self.encoders = nn.ModuleList(GCNEncoder(f, hidden, dropout) for f in in_features)
        self.classifiers = nn.ModuleList(nn.Linear(hidden[-1], n_classes) for _ in in_features)
        self.vcdn = VCDN(self.n_views, n_classes, vcdn_hidden, vcdn_input) if self.n_views >= 2 else None
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Xavier-normal weights, zero biases everywhere; drawn from ``generator`` when given."""
        for encoder, clf in zip(self.encoders, self.classifiers, strict=True):
            encoder.reset_parameters(generator)
            nn.init.xavier_normal_(clf.weight, generator=generator)
            nn.init.zeros_(clf.bias)
        if self.vcdn is not None:
            self.vcdn.reset_parameters(generator)

    @classmethod
    def from_parts(cls, encoders: Sequence[GCNEncoder], classifiers: Sequence[nn.Linear], vcdn: VCDN | None) -> MOGONET:
        """A MOGONET made of existing modules (shared, not copied): one encoder and classifier per view, and a
        VCDN over all of them (``None`` for one view)."""
        if len(encoders) != len(classifiers) or not encoders:
            raise ConfigError(
                f"MOGONET: expected one classifier per encoder, got {len(encoders)} and {len(classifiers)}"
            )
        if (vcdn is None) != (len(encoders) == 1) or (vcdn is not None and vcdn.n_views != len(encoders)):
            raise ConfigError(
                f"MOGONET: {len(encoders)} views need {'no VCDN' if len(encoders) == 1 else 'a VCDN over them'}"
            )
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.n_views, model.n_classes = len(encoders), classifiers[0].out_features
        model.encoders = nn.ModuleList(encoders)
        model.classifiers = nn.ModuleList(classifiers)
        model.vcdn = vcdn
        return model

    def set_dropout_masks(self, masks: DropoutMasks | Sequence[DropoutMasks] | None) -> None:
        """The source of the GCNs' dropout masks: one for all views, one per view, or ``None`` (the global RNG)."""
        sources = list(masks) if isinstance(masks, Sequence) else [masks] * self.n_views
        if len(sources) != self.n_views:
            raise ConfigError(f"MOGONET: expected {self.n_views} dropout mask sources, got {len(sources)}")
        for encoder, source in zip(self.encoders, sources, strict=True):
            encoder.masks = source

    def view_logits(self, v: int, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        """Class logits ``(N, C)`` of view ``v`` alone."""
        return self.classifiers[v](self.encoders[v](x, edge_index, edge_weight))

    def fuse(self, logits: Sequence[Tensor]) -> Tensor:
        """The fused logits: the VCDN's output, or the single view's logits."""
        return logits[0] if self.vcdn is None else self.vcdn(logits)

    def forward(self, views: Sequence[Graph]) -> tuple[list[Tensor], Tensor]:
        if len(views) != self.n_views:
            raise DataError(f"MOGONET: expected {self.n_views} views, got {len(views)}")
        logits = [self.view_logits(v, *g) for v, g in enumerate(views)]
        return logits, self.fuse(logits)


# ---------------------------------------------------------------------------------------------------------
# the registered model component


class MOGONETNet(nn.Module):
    """MOGONET (omics-specific GCNs fused by a VCDN) as a sciconv model: ``MOGONETNet(spec, **params)``.

    The views are the modalities of ``spec.extra["modalities"]``, with ``spec.extra["n_features"]`` features
    each (a spec without them is one view of ``input_shape[0]`` features); a sample is the modalities'
    features concatenated in that order. MOGONET is transductive: its graph convolutions run over a patient
    similarity graph, so :meth:`forward` builds each view's graph over the samples of the batch (MOGONET's
    adaptive cosine threshold, ``k`` edges per node, capped at ``N - 1`` for a batch of ``N``) and returns the
    fused logits. The SGUQ task builds the networks it trains with this factory and trains their
    :attr:`mogonet` with MOGONET's own full-batch schedule (:mod:`~sciconv_omics_sguq.mogonet_training`),
    passing it :meth:`training_params`.

    The parameters are checked by the pipeline against this signature (``model.params.k=0`` is refused
    there, naming the key).

    Args:
        spec: the data spec (``input_shape``, ``n_outputs``, ``extra["modalities"]``, ``extra["n_features"]``).
        hidden: the GCN layer sizes (ROSMAP ``(200, 200, 100)``; BRCA ``(400, 400, 200)``).
        dropout: GCN dropout (0.5).
        vcdn_hidden: the VCDN's hidden width (default ``C^V``).
        vcdn_input: ``"sigmoid"`` (official code) or ``"softmax"``.
        k: average edges per node of the patient graphs, self loop included (ROSMAP 2, BRCA 10).
        train_edges: whether inference graphs keep the training-training edges (official: no).

    Shapes:
        x (N, sum of n_features) -> fused logits (N, n_outputs).
    """

    def __init__(
        self,
        spec: DataSpec,
        hidden: Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(min_length=1)] = (200, 200, 100),
        dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.5,
        vcdn_hidden: Annotated[int, Field(ge=1)] | None = None,
        vcdn_input: Literal["sigmoid", "softmax"] = "sigmoid",
        k: Annotated[int, Field(ge=1)] = 2,
        train_edges: bool = False,
    ) -> None:
        super().__init__()
        n_features = [int(f) for f in spec.extra.get("n_features", [spec.input_shape[0]])]
        modalities = [str(m) for m in spec.extra.get("modalities", [f"view{v}" for v in range(len(n_features))])]
        if len(spec.input_shape) != 1 or sum(n_features) != spec.input_shape[0] or len(modalities) != len(n_features):
            raise DataError(
                f"omics-sguq.mogonet: spec.input_shape {spec.input_shape} does not match the views' feature counts "
                f"{n_features} (spec.extra['n_features'], one per modality of spec.extra['modalities'])"
            )
        hidden = tuple(hidden)
        self.modalities = modalities
        self.n_features = n_features
        self.k = int(k)
        self.train_edges = bool(train_edges)
        self.mogonet = MOGONET(n_features, spec.n_outputs, hidden, dropout, vcdn_hidden, vcdn_input)
        self._params = {
            "hidden": hidden,
            "dropout": float(dropout),
            "vcdn_hidden": vcdn_hidden,
            "vcdn_input": vcdn_input,
            "k": self.k,
            "train_edges": self.train_edges,
        }

    def training_params(self) -> dict[str, Any]:
        """The architecture and graph keywords of :func:`~sciconv_omics_sguq.mogonet_training.train_mogonet`."""
        return dict(self._params)

    def _graph(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        from sciconv_omics_sguq.patient_graph import train_graph

        n = x.shape[0]
        if n == 1:
            return x, torch.zeros((2, 1), dtype=torch.long), torch.ones(1)
        edge_index, edge_weight, _ = train_graph(x.detach().cpu().double().numpy(), min(self.k, n - 1))
        return x, edge_index.to(x.device), edge_weight.to(x.device, x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        parts = torch.split(x, self.n_features, dim=1)
        return self.mogonet([self._graph(p) for p in parts])[1]
