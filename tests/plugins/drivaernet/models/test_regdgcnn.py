"""RegDGCNN: the official layout and parameter count, the official function (checked against a dense
re-implementation of the official forward, padded clouds included), the graph recomputed at every layer,
gradients, permutation invariance, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv.testing import check_model
from sciconv_drivaernet.models.knn_graph import knn_edge_index
from sciconv_drivaernet.models.regdgcnn import EdgeFeatureLinear, RegDGCNN, RegDGCNNModel

SPEC = DataSpec((3, 64), 1, task_type="regression")
SLIM = {"k": 8, "emb_dims": 32, "edge_channels": [16, 16, 16, 32], "head": [32, 16, 8, 4]}
OFFICIAL_PARAMETERS = 3_164_257  # DrivAerNet RegDGCNN, emb_dims 512


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def official_graph_feature(x: torch.Tensor, k: int) -> torch.Tensor:
    """The official get_graph_feature, densely: (B, C, N) -> (B, 2C, N, k) with [x_j - x_i, x_i]."""
    inner = -2 * torch.matmul(x.transpose(2, 1), x)
    xx = x.square().sum(dim=1, keepdim=True)
    idx = (-xx - inner - xx.transpose(2, 1)).topk(k, dim=-1).indices  # (B, N, k)
    points = x.transpose(1, 2)  # (B, N, C)
    neighbours = points[torch.arange(x.shape[0])[:, None, None], idx]  # (B, N, k, C)
    centre = points.unsqueeze(2).expand_as(neighbours)
    return torch.cat([neighbours - centre, centre], dim=3).permute(0, 3, 1, 2)


def official_edge_layer(conv: nn.Module, x: torch.Tensor, k: int, training: bool) -> torch.Tensor:
    """Conv2d 1x1 (bias-free) + BatchNorm2d + LeakyReLU(0.2) on the edge features, max over k."""
    linear, bn, _ = conv.nn
    y = F.conv2d(official_graph_feature(x, k), linear.weight[:, :, None, None])
    mean, var = (None, None) if training else (bn.running_mean, bn.running_var)
    y = F.batch_norm(y, mean, var, bn.weight, bn.bias, training=training, eps=bn.eps)
    return F.leaky_relu(y, 0.2).amax(dim=-1)


def official_forward(model: RegDGCNNModel, x: torch.Tensor) -> torch.Tensor:
    """The official RegDGCNN forward in eval mode, with the model's weights."""
    h, outputs = x, []
    for conv in model.edge_convs:
        h = official_edge_layer(conv, h, model.k, training=False)
        outputs.append(h)
    conv5, bn5, _ = model.embedding
    emb = F.conv1d(torch.cat(outputs, dim=1), conv5.weight)
    emb = F.leaky_relu(F.batch_norm(emb, bn5.running_mean, bn5.running_var, bn5.weight, bn5.bias, eps=bn5.eps), 0.2)
    pooled = torch.cat([F.adaptive_max_pool1d(emb, 1).flatten(1), F.adaptive_avg_pool1d(emb, 1).flatten(1)], 1)
    return model.head(pooled)


def trained_statistics(model: nn.Module, n: int = 64) -> None:
    """A few training-mode forwards so that the BatchNorm running statistics are not the identity."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, n) * 2 + 0.5)
    model.eval()


def test_published_layout_and_parameter_count() -> None:
    model = RegDGCNN(DataSpec((3, 5000), 1, task_type="regression"))
    assert n_parameters(model) == OFFICIAL_PARAMETERS
    assert [tuple(c.nn[0].weight.shape) for c in model.edge_convs] == [(256, 6), (512, 512), (512, 1024), (1024, 1024)]
    assert all(c.nn[0].bias is None and c.aggr == "max" for c in model.edge_convs)
    assert all(c.nn[2].negative_slope == 0.2 for c in model.edge_convs)
    assert tuple(model.embedding[0].weight.shape) == (512, 2304, 1) and model.embedding[0].bias is None
    linears = [m for m in model.head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is not None) for m in linears] == [
        (1024, 128, False),
        (128, 64, True),
        (64, 32, True),
        (32, 16, True),
        (16, 1, True),
    ]
    assert [m.p for m in model.head if isinstance(m, nn.Dropout)] == [0.4] * 4
    assert model.k == 40


def test_edge_linear_keeps_the_official_column_order() -> None:
    torch.manual_seed(0)
    layer = EdgeFeatureLinear(3, 5)
    centre, neighbour = torch.randn(7, 3), torch.randn(7, 3)
    pyg_input = torch.cat([centre, neighbour - centre], dim=1)  # what PyG's EdgeConv feeds its nn
    official_input = torch.cat([neighbour - centre, centre], dim=1)  # what the official Conv2d sees
    torch.testing.assert_close(layer(pyg_input), official_input @ layer.weight.T)


def test_edge_layer_in_training_mode_is_the_official_one() -> None:
    """BatchNorm1d over the B * N * k edges = the official BatchNorm2d over (B, C, N, k)."""
    torch.manual_seed(1)
    model = RegDGCNN(SPEC, **SLIM).train()
    x = torch.randn(3, 3, 64)
    nodes = x.transpose(1, 2).reshape(-1, 3)
    ours = model.edge_convs[0](nodes, knn_edge_index(x.transpose(1, 2), 8))
    reference = official_edge_layer(model.edge_convs[0], x, 8, training=True)
    torch.testing.assert_close(ours, reference.transpose(1, 2).reshape(-1, 16), rtol=1e-5, atol=1e-5)


def test_forward_is_the_official_forward_also_on_padded_clouds() -> None:
    torch.manual_seed(2)
    model = RegDGCNN(SPEC, **SLIM)
    trained_statistics(model)
    x = torch.randn(4, 3, 64)
    x[1, :, 40:] = 0.0  # zero padding, as a loader pads a short cloud: ordinary points at the origin
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, official_forward(model, x), rtol=1e-4, atol=1e-5)
        # no masking: the padded cloud is not the cloud of its 40 real points
        short = model(x[1:2, :, :40].contiguous())
    assert out.shape == (4, 1)
    assert not torch.allclose(out[1:2], short, atol=1e-4)


def test_graph_is_recomputed_on_each_layers_input() -> None:
    torch.manual_seed(3)
    model = RegDGCNN(SPEC, **SLIM).eval()
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [
        conv.register_forward_pre_hook(lambda _m, args: seen.append((args[0].detach(), args[1])))
        for conv in model.edge_convs
    ]
    x = torch.randn(2, 3, 64)
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    assert len(seen) == 4
    assert torch.equal(seen[0][1], knn_edge_index(x.transpose(1, 2), 8))  # layer 1: the coordinates' graph
    for features, edge_index in seen:
        assert torch.equal(edge_index, knn_edge_index(features.view(2, 64, -1), 8))  # each: its input's graph
    assert seen[1][0].shape == (128, 16)
    for later in seen[1:]:
        assert not torch.equal(later[1], seen[0][1])  # a dynamic graph, not the coordinates' graph again


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(4)
    model = RegDGCNN(SPEC, **SLIM).train()
    model(torch.randn(4, 3, 64)).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0, name


def test_conformance_kit() -> None:
    check_model(RegDGCNN, SPEC, SLIM)
    with pytest.raises(ConfigError, match="edge_channels"):
        check_model(RegDGCNN, SPEC, {**SLIM, "edge_channels": [16, 16, 32]})


def test_permutation_invariance_in_eval_mode() -> None:
    torch.manual_seed(5)
    model = RegDGCNN(SPEC, **SLIM)
    trained_statistics(model)
    x = torch.randn(3, 3, 64)
    with torch.no_grad():
        out = model(x)
        shuffled = model(x[:, :, torch.randperm(64)])
    torch.testing.assert_close(shuffled, out, rtol=0, atol=1e-5)


def test_errors() -> None:
    with pytest.raises(ConfigError, match=r"k \(64\).*N = 64"):
        RegDGCNN(SPEC, k=64)
    with pytest.raises(DataError, match=r"\(3, N\)"):
        RegDGCNN(DataSpec((64, 3), 1, task_type="regression"), **SLIM)
    model = RegDGCNN(SPEC, **SLIM)
    with pytest.raises(DataError, match=r"\(B, 3, N\)"):
        model(torch.randn(2, 64, 3))
