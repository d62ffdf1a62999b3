"""RegPointNet (DrivAerNet++): the official layout and parameter count, the official forward (shortcut added after
the last ReLU, dropout only between the point convolutions), gradients, permutation invariance, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv.testing import check_model
from sciconv_drivaernet.models.pointnet import RegPointNet, RegPointNetModel

SPEC = DataSpec((3, 64), 1, task_type="regression")
SLIM = {"emb_dims": 32, "channels": [16, 32, 32], "head": [32, 16, 8, 4]}


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_published_layout_and_parameter_count() -> None:
    model = RegPointNet(DataSpec((3, 5000), 1, task_type="regression"))
    # by hand from the official layer list (emb_dims 1024): conv1..conv6 without bias, their six BatchNorms,
    # the shortcut conv + BatchNorm, linear1 and linear2 without bias, linear3 and linear4 with bias, their four
    # BatchNorms, and final_linear(64, 1)
    convs = 3 * 512 + 512 * 1024 + 3 * 1024 * 1024 + 1024 * 1024
    conv_norms = 2 * (512 + 4 * 1024 + 1024)
    shortcut = 3 * 1024 + 2 * 1024
    linears = 1024 * 512 + 512 * 256 + (256 * 128 + 128) + (128 * 64 + 64) + (64 + 1)
    linear_norms = 2 * (512 + 256 + 128 + 64)
    assert n_parameters(model) == convs + conv_norms + shortcut + linears + linear_norms == 5_435_009
    convolutions = [m for m in model.points if isinstance(m, nn.Conv1d)]
    assert [tuple(c.weight.shape) for c in convolutions] == [
        (512, 3, 1),
        (1024, 512, 1),
        (1024, 1024, 1),
        (1024, 1024, 1),
        (1024, 1024, 1),
        (1024, 1024, 1),
    ]
    assert all(c.bias is None for c in convolutions) and model.shortcut[0].bias is None
    assert [m.p for m in model.points if isinstance(m, nn.Dropout)] == [0.4] * 5
    assert not any(isinstance(m, nn.Dropout) for m in model.head)
    assert [(m.out_features, m.bias is not None) for m in model.head if isinstance(m, nn.Linear)] == [
        (512, False),
        (256, False),
        (128, True),
        (64, True),
        (1, True),
    ]


def official_forward(model: RegPointNetModel, x: torch.Tensor) -> torch.Tensor:
    """The official RegPointNet forward in eval mode (dropout off), with the model's weights."""

    def bn(norm: nn.Module, h: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(h, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)

    shortcut = bn(model.shortcut[1], F.conv1d(x, model.shortcut[0].weight))
    convs = [m for m in model.points if isinstance(m, nn.Conv1d)]
    norms = [m for m in model.points if isinstance(m, nn.BatchNorm1d)]
    h = x
    for conv, norm in zip(convs, norms, strict=True):
        h = F.relu(bn(norm, F.conv1d(h, conv.weight)))
    h = F.adaptive_max_pool1d(h + shortcut, 1).squeeze(-1)
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    head_norms = [m for m in model.head if isinstance(m, nn.BatchNorm1d)]
    for linear, norm in zip(linears[:-1], head_norms, strict=True):
        h = F.relu(bn(norm, linear(h)))
    return linears[-1](h)


def test_forward_is_the_official_forward() -> None:
    torch.manual_seed(0)
    model = RegPointNet(SPEC, **SLIM).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, 64) * 2 + 0.5)
    model.eval()
    x = torch.randn(5, 3, 64)
    x[2, :, 50:] = 0.0  # zero padding: points at the origin, not masked
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, official_forward(model, x), rtol=1e-5, atol=1e-5)
    assert out.shape == (5, 1)


def test_gradients_reach_every_parameter_and_conformance() -> None:
    torch.manual_seed(1)
    model = RegPointNet(SPEC, **SLIM).train()
    model(torch.randn(4, 3, 64)).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0, name
    check_model(RegPointNet, SPEC, SLIM)


def test_permutation_invariance_in_eval_mode() -> None:
    torch.manual_seed(2)
    model = RegPointNet(SPEC, **SLIM).train()
    with torch.no_grad():
        model(torch.randn(4, 3, 64))
    model.eval()
    x = torch.randn(3, 3, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, :, torch.randperm(64)]), model(x), rtol=0, atol=1e-5)


def test_errors() -> None:
    with pytest.raises(DataError, match=r"\(3, N\)"):
        RegPointNet(DataSpec((64, 3), 1, task_type="regression"))
    with pytest.raises(DataError, match=r"\(B, 3, N\)"):
        RegPointNet(SPEC, **SLIM)(torch.randn(2, 64, 3))
    with pytest.raises(ConfigError, match="dropout"):
        check_model(RegPointNet, SPEC, {**SLIM, "dropout": 1.0})
