"""The convolution-based mixture of experts (CMoE) and its residual variant (RCMoE) of Xie, Ren and Xu (Expert
Systems with Applications 2024, arXiv 2402.11919), on the ResNet-18 backbone.

From the paper and its released code: a router ``Linear(512, E)`` (sigmoid in the released test; linear and
softmax are options) chooses ONE expert per sample (hard top-1); each expert is a ``Linear(512, n_classes)``; the
chosen expert's logits are the output, not scaled by the router score, so the router learns only through the
balance loss ``weight * E * sum_i f_i * P_i`` (Switch Transformer style; f_i the fraction of the batch routed to
expert i, P_i the mean router score of expert i; the paper's weight 0.01). RCMoE adds a shared residual expert
``Linear(512, n_classes)`` whose logits are added to the routed expert's. ``scale_by_score=True`` (not the
paper's) multiplies the chosen logits by the router score so the router also learns from the classification
loss.

The released code loops over samples on CUDA tensors; here all experts are one batched matrix product and the
chosen rows are gathered, on any device. Every expert receives a gradient (zero for experts no sample chose).
The balance loss of the last forward is :meth:`CMoE.auxiliary_loss`, which the core's engine adds to the task's
loss while training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from sciconv.spec import DataSpec
from sciconv_uatr.models.resnet18 import RESNET18_STAGES, ResNet18Backbone, check_spectrogram_spec

RouterKind = Literal["sigmoid", "softmax", "linear"]


class MixtureOfExpertsHead(nn.Module):
    """Router + E linear experts (+ an optional residual expert) on a feature vector.

    Shapes: ``(B, in_features) -> (B, n_classes)`` logits; :attr:`last_route` ``(B,)`` the chosen expert of each
    sample of the last forward, :attr:`last_balance_loss` a scalar.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        experts: int = 8,
        router: RouterKind = "sigmoid",
        residual: bool = False,
        scale_by_score: bool = False,
        balance_weight: float = 0.01,
    ) -> None:
        super().__init__()
        if experts < 1:
            raise ValueError(f"experts must be >= 1, got {experts}")
        self.n_experts = int(experts)
        self.router_kind = router
        self.scale_by_score = bool(scale_by_score)
        self.balance_weight = float(balance_weight)
        self.router = nn.Linear(in_features, self.n_experts)
        bound = 1.0 / in_features**0.5  # nn.Linear's default initialisation, one weight matrix per expert
        self.expert_weight = nn.Parameter(torch.empty(self.n_experts, n_classes, in_features).uniform_(-bound, bound))
        self.expert_bias = nn.Parameter(torch.empty(self.n_experts, n_classes).uniform_(-bound, bound))
        self.residual = nn.Linear(in_features, n_classes) if residual else None
        self.last_route: torch.Tensor | None = None
        self.last_balance_loss: torch.Tensor | None = None

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """Router scores ``(B, E)``: sigmoid, softmax or the raw linear output."""
        logits = self.router(features)
        if self.router_kind == "sigmoid":
            return torch.sigmoid(logits)
        if self.router_kind == "softmax":
            return torch.softmax(logits, dim=1)
        return logits

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scores = self.scores(features)
        route = scores.argmax(dim=1)  # hard top-1 routing
        all_logits = torch.einsum("bf,ecf->bec", features, self.expert_weight) + self.expert_bias
        index = route[:, None, None].expand(-1, 1, all_logits.shape[2])
        logits = all_logits.gather(1, index).squeeze(1)
        if self.scale_by_score:
            logits = logits * scores.gather(1, route[:, None])
        if self.residual is not None:
            logits = logits + self.residual(features)
        fraction = torch.bincount(route, minlength=self.n_experts).to(scores.dtype) / max(len(route), 1)
        self.last_balance_loss = self.balance_weight * self.n_experts * (fraction * scores.mean(dim=0)).sum()
        self.last_route = route.detach()
        return logits


class CMoE(nn.Module):
    """ResNet-18 backbone + :class:`MixtureOfExpertsHead` (CMoE; RCMoE with ``residual=True``).

    Shapes: ``(B, 1, n_bands, n_frames) -> (B, n_classes)`` logits; :meth:`forward_with_routes` also gives the
    expert each sample was routed to.
    """

    def __init__(
        self,
        spec: DataSpec,
        experts: int = 8,
        router: RouterKind = "sigmoid",
        residual: bool = False,
        scale_by_score: bool = False,
        balance_weight: float = 0.01,
        widths: Sequence[int] = RESNET18_STAGES,
    ) -> None:
        super().__init__()
        self.backbone = ResNet18Backbone(check_spectrogram_spec(spec, "uatr.cmoe"), widths)
        self.head = MixtureOfExpertsHead(
            self.backbone.out_features, spec.n_outputs, experts, router, residual, scale_by_score, balance_weight
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def forward_with_routes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, n_classes)`` and the chosen expert of each sample ``(B,)`` (int64)."""
        logits = self.forward(x)
        assert self.head.last_route is not None
        return logits, self.head.last_route

    def auxiliary_loss(self) -> torch.Tensor | None:
        """The balance loss of the last forward (a scalar), which training adds to the classification loss."""
        return self.head.last_balance_loss


def CMoEModel(
    spec: DataSpec,
    experts: Annotated[int, Field(ge=1)] = 8,
    router: RouterKind = "sigmoid",
    residual: bool = False,
    scale_by_score: bool = False,
    balance_weight: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.01,
    widths: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=4, max_length=4)] = list(RESNET18_STAGES),  # noqa: B006
) -> CMoE:
    """Factory of the registered model ``uatr.cmoe``: ResNet-18 + a mixture of ``experts`` linear experts behind a
    hard top-1 router (the released model: 8 experts, sigmoid router); ``residual=True`` gives RCMoE."""
    return CMoE(spec, experts, router, residual, scale_by_score, balance_weight, widths)
