"""CMoE / RCMoE: hard top-1 routing, only the chosen expert's logits, the Switch-style balance loss, the residual
expert, the router learning only through the balance loss (or the classification loss with scale_by_score)."""

from __future__ import annotations

import pytest
import torch

from sciconv.spec import DataSpec
from sciconv_uatr.models.cmoe import CMoEModel, MixtureOfExpertsHead

SPEC = DataSpec((1, 16, 24), 3, classes=("a", "b", "c"))
SMALL = [4, 8, 8, 8]


def test_output_is_the_chosen_experts_logits() -> None:
    torch.manual_seed(0)
    head = MixtureOfExpertsHead(6, 3, experts=4)
    features = torch.randn(10, 6)
    logits = head(features)
    route = torch.sigmoid(head.router(features)).argmax(1)
    assert torch.equal(head.last_route, route)
    for i in range(10):
        e = int(route[i])
        expected = features[i] @ head.expert_weight[e].T + head.expert_bias[e]
        torch.testing.assert_close(logits[i], expected)


def test_balance_loss_is_the_switch_formula() -> None:
    torch.manual_seed(1)
    head = MixtureOfExpertsHead(6, 3, experts=4, balance_weight=0.01)
    features = torch.randn(32, 6)
    head(features)
    scores = torch.sigmoid(head.router(features))
    f = torch.bincount(scores.argmax(1), minlength=4).float() / 32
    expected = 0.01 * 4 * (f * scores.mean(0)).sum()
    torch.testing.assert_close(head.last_balance_loss, expected)


def test_router_learns_only_through_the_balance_loss_unless_scaled() -> None:
    torch.manual_seed(2)
    features = torch.randn(8, 6)
    head = MixtureOfExpertsHead(6, 3, experts=4)
    head(features).sum().backward()
    assert head.router.weight.grad is None  # the classification output does not reach the router
    head.zero_grad()
    head(features)
    head.last_balance_loss.backward()
    assert head.router.weight.grad is not None and head.router.weight.grad.abs().sum() > 0
    scaled = MixtureOfExpertsHead(6, 3, experts=4, scale_by_score=True)
    scaled(features).sum().backward()
    assert scaled.router.weight.grad is not None and scaled.router.weight.grad.abs().sum() > 0


def test_residual_expert_adds_shared_logits() -> None:
    torch.manual_seed(3)
    head = MixtureOfExpertsHead(6, 3, experts=2, residual=True)
    features = torch.randn(5, 6)
    with_residual = head(features)
    residual = head.residual
    head.residual = None
    torch.testing.assert_close(with_residual, head(features) + residual(features))


@pytest.mark.parametrize("router", ["sigmoid", "softmax", "linear"])
def test_model_shapes_routes_and_auxiliary_loss(router: str) -> None:
    model = CMoEModel(SPEC, experts=3, router=router, widths=SMALL)
    logits, route = model.forward_with_routes(torch.randn(4, 1, 16, 24))
    assert logits.shape == (4, 3) and route.shape == (4,) and int(route.max()) < 3
    assert model.auxiliary_loss().ndim == 0


def test_parameter_count_adds_the_experts_to_resnet18() -> None:
    model = CMoEModel(DataSpec((1, 64, 94), 4, classes=tuple("abcd")), experts=8, residual=True)
    backbone = sum(p.numel() for p in model.backbone.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    assert backbone == 11_689_512 - 64 * 2 * 49 - 513_000  # torchvision's ResNet-18 less fc, one input channel
    assert head == 512 * 8 + 8 + 8 * (512 * 4 + 4) + (512 * 4 + 4)  # router, 8 experts, residual expert
