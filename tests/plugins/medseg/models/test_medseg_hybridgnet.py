"""Tests of HybridGNet (IGSC variant): ring graph hierarchy, ROI sampling, decoder locality, loss and training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import sciconv
from sciconv import DataSpec
from sciconv.errors import ConfigError
from sciconv.testing import check_model
from sciconv_medseg.chest_landmarks_io import N_LANDMARKS, ORGANS, graph_edges, organ_slices
from sciconv_medseg.chest_simulator import simulate_chest_case
from sciconv_medseg.models.hybridgnet import (
    GRAPH_LEVELS,
    HybridGNet,
    HybridGNetLoss,
    HybridGNetNet,
    kl_divergence,
    ring_edges,
    ring_hierarchy,
    ring_pool_matrix,
    ring_unpool_matrix,
    roi_sample,
)

LEVEL_RINGS = [(44, 50, 26), (22, 25, 13), (11, 13, 7), (6, 7, 4)]


def _spec(size: int = 64, channels: int = 1) -> DataSpec:
    return DataSpec((channels, size, size), n_outputs=2 * N_LANDMARKS, task_type="reconstruction")


def _ring_of(ring_sizes: tuple[int, ...]) -> np.ndarray:
    return np.repeat(np.arange(len(ring_sizes)), ring_sizes)


@pytest.fixture(scope="module")
def small_model() -> HybridGNet:
    torch.manual_seed(0)
    return HybridGNet(image_size=64)


# ----------------------------------------------------------------------------------------------------
# Conformance and configuration


@pytest.mark.parametrize("skip_connections", [True, False])
def test_conformance(skip_connections: bool) -> None:
    check_model(HybridGNetNet, _spec(64), {"skip_connections": skip_connections})


def test_output_shape_and_aux(small_model: HybridGNet) -> None:
    small_model.train()
    out = small_model(torch.randn(3, 1, 64, 64))
    assert out.shape == (3, N_LANDMARKS, 2)
    aux = small_model.aux
    assert aux is not None and aux.skip1 is not None and aux.skip2 is not None
    assert aux.skip1.shape == (3, sum(LEVEL_RINGS[aux.skip1_level]), 2)
    assert aux.skip2.shape == (3, N_LANDMARKS, 2)
    assert aux.mu.shape == aux.logvar.shape == (3, 64)


def test_factory_sizes_from_spec() -> None:
    model = HybridGNetNet(_spec(96), latent_dim=16, graph_filters=8)
    assert model.image_size == 96 and model.latent_dim == 16
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 96, 96)).shape == (1, N_LANDMARKS, 2)


@pytest.mark.parametrize(
    ("shape", "params", "names"),
    [
        ((1, 64, 96), {}, "input_shape"),
        ((1, 64), {}, "input_shape"),
        ((1, 48, 48), {}, "image_size"),
        ((1, 64, 64), {"encoder_channels": (8, 16, 32, 64, 128, 128, 128, 128)}, "image_size"),
        ((1, 64, 64), {"encoder_channels": (8, 16, 32)}, "encoder_channels"),
    ],
)
def test_config_errors(shape: tuple[int, ...], params: dict, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        HybridGNetNet(DataSpec(shape, n_outputs=240, task_type="reconstruction"), **params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"encoder_channels": [8, 16, 32]}, r"model\.params\.encoder_channels: .*length >= 4"),
        ({"encoder_channels": [8, 0, 32, 64]}, r"model\.params\.encoder_channels: .*greater than or equal to 1"),
        ({"cheb_k": 0}, r"model\.params\.cheb_k: expected an integer >= 1"),
        ({"latent_dim": 2.5}, r"model\.params\.latent_dim"),
        ({"graph_filters": -1}, r"model\.params\.graph_filters: expected an integer >= 1"),
        ({"roi_window": 0}, r"model\.params\.roi_window: expected an integer >= 1"),
        ({"skip_connections": "yes"}, r"model\.params\.skip_connections"),
    ],
)
def test_the_pipeline_refuses_bad_parameters(params: dict, message: str) -> None:
    overrides = {f"model.params.{key}": value for key, value in params.items()}
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("medseg-hybridgnet", overrides)


# ----------------------------------------------------------------------------------------------------
# Ring hierarchy, pooling and unpooling


def test_ring_hierarchy_levels() -> None:
    assert ring_hierarchy(tuple(ORGANS.values()), GRAPH_LEVELS) == LEVEL_RINGS
    with pytest.raises(ConfigError, match="below 3"):
        ring_hierarchy(tuple(ORGANS.values()), GRAPH_LEVELS + 1)
    assert torch.equal(ring_edges(LEVEL_RINGS[0]), torch.from_numpy(graph_edges()))


def test_model_graph_buffers(small_model: HybridGNet) -> None:
    assert small_model.ring_sizes == LEVEL_RINGS
    assert small_model.n_nodes == [120, 60, 31, 17]
    for level, rings in enumerate(LEVEL_RINGS):
        assert torch.equal(small_model.edge_index(level), ring_edges(rings))
    # The graph structure is rebuilt deterministically, not stored with the weights.
    assert not any(k.startswith(("edge_index", "pool", "unpool")) for k in small_model.state_dict())


@pytest.mark.parametrize("level", range(GRAPH_LEVELS))
def test_pool_unpool_matrices(level: int) -> None:
    fine, coarse = LEVEL_RINGS[level], LEVEL_RINGS[level + 1]
    pool, unpool = ring_pool_matrix(fine), ring_unpool_matrix(fine)
    assert pool.shape == (sum(coarse), sum(fine)) and unpool.shape == (sum(fine), sum(coarse))
    for matrix in (pool, unpool):
        assert torch.allclose(matrix.sum(dim=1), torch.ones(matrix.shape[0]))
        assert (matrix >= 0).all()
    fine_ring, coarse_ring = _ring_of(fine), _ring_of(coarse)
    mixing = coarse_ring[:, None] != fine_ring[None, :]
    assert (pool.numpy()[mixing] == 0).all()
    assert (unpool.numpy()[mixing.T] == 0).all()


def test_pool_averages_pairs_and_odd_ring() -> None:
    pool = ring_pool_matrix((5,))
    expected = torch.tensor([[0.5, 0.5, 0, 0, 0], [0, 0, 0.5, 0.5, 0], [0, 0, 0, 0, 1.0]])
    assert torch.equal(pool, expected)


@pytest.mark.parametrize("n", [44, 50, 26, 25, 13])
def test_unpool_inverts_pool_on_linear_signal(n: int) -> None:
    pool, unpool = ring_pool_matrix((n,)), ring_unpool_matrix((n,))
    ramp = torch.arange(n, dtype=torch.float32)[:, None] * torch.tensor([[0.3, -1.0]]) + 2.0
    back = unpool @ (pool @ ramp)
    # Exact wherever the interpolation does not wrap around the ring's seam (first and last two nodes).
    assert torch.allclose(back[2:-2], ramp[2:-2], atol=1e-5)
    # A smooth closed contour (a unit circle) comes back within the chord shrinkage of one node step.
    t = 2 * math.pi * torch.arange(n, dtype=torch.float32) / n
    circle = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    err = (unpool @ (pool @ circle) - circle).norm(dim=1).max()
    assert err < 1.05 * (1 - math.cos(2 * math.pi / n))


# ----------------------------------------------------------------------------------------------------
# Graph convolutions and ROI sampling


@pytest.mark.parametrize("level", [0, 1])
def test_graph_convs_stay_within_organs(small_model: HybridGNet, level: int) -> None:
    block = small_model.conv0 if level == 0 else small_model.conv1
    rings = LEVEL_RINGS[level]
    edges = small_model.edge_index(level)
    gen = torch.Generator().manual_seed(level)
    x = torch.randn(2, sum(rings), block.conv.in_channels, generator=gen)
    perturbed = x.clone()
    perturbed[:, : rings[0]] += torch.randn(2, rings[0], x.shape[2], generator=gen)  # right lung only
    with torch.no_grad():
        a, b = block(x, edges), block(perturbed, edges)
    assert not torch.allclose(a[:, : rings[0]], b[:, : rings[0]])
    assert torch.equal(a[:, rings[0] :], b[:, rings[0] :])


def test_full_graph_conv_locality_by_organ(small_model: HybridGNet) -> None:
    slices = organ_slices()
    x = torch.randn(1, N_LANDMARKS, small_model.conv0.conv.in_channels)
    perturbed = x.clone()
    perturbed[:, slices["H"]] += 1.0
    with torch.no_grad():
        a = small_model.out(small_model.conv0(x, small_model.edge_index(0)), small_model.edge_index(0))
        b = small_model.out(small_model.conv0(perturbed, small_model.edge_index(0)), small_model.edge_index(0))
    assert torch.equal(a[:, :94], b[:, :94])
    assert not torch.allclose(a[:, slices["H"]], b[:, slices["H"]])


def test_roi_sample_coordinates() -> None:
    size, h = 64, 16  # a map at stride 4
    cols = torch.arange(h, dtype=torch.float32)
    feature = torch.stack([cols.expand(h, h), cols[:, None].expand(h, h)])[None]  # channel 0 = column, 1 = row
    pos = torch.tensor([[[20.0 / size, 30.0 / size], [40.0 / size, 8.0 / size]]])
    got = roi_sample(feature, pos, size, window=1)
    # Image pixel x lies at map index (x + 0.5) / stride - 0.5.
    expected = (pos * size + 0.5) / 4 - 0.5
    assert torch.allclose(got, expected, atol=1e-5)
    got3 = roi_sample(feature, pos, size, window=3).reshape(1, 2, 2, 3, 3)  # (N, V, C, dy, dx)
    assert torch.allclose(got3[0, 0, 0, 1], expected[0, 0, 0] + torch.tensor([-1.0, 0.0, 1.0]), atol=1e-5)
    assert torch.allclose(got3[0, 0, 1, :, 1], expected[0, 0, 1] + torch.tensor([-1.0, 0.0, 1.0]), atol=1e-5)


# ----------------------------------------------------------------------------------------------------
# Loss


def test_kl_value() -> None:
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # Row 0: 0.5 * [(1 + 1 - 1 - 0) + (2 + 0 - 1 - log 2)] = 1 - log(2) / 2 over its 2 dimensions; row 1: 0.
    # Averaged over the 2 latent dimensions and the 2 rows, as the official trainer does.
    assert kl_divergence(mu, logvar).item() == pytest.approx((1 - math.log(2) / 2) / 4, rel=1e-6)


def test_loss_uses_aux_in_training_only(small_model: HybridGNet) -> None:
    target = torch.rand(2, N_LANDMARKS, 2)
    x = torch.randn(2, 1, 64, 64)
    loss_fn = HybridGNetLoss(small_model)
    assert list(loss_fn.parameters()) == [] and loss_fn.state_dict() == {}
    small_model.train()
    out = small_model(x)
    aux = small_model.aux
    mse = torch.nn.functional.mse_loss
    expected = (
        mse(out, target)
        + mse(aux.skip1, small_model.coarsen(target, 2))
        + mse(aux.skip2, target)
        + 1e-5 * kl_divergence(aux.mu, aux.logvar)
    )
    assert torch.allclose(loss_fn(out, target), expected)
    plain = HybridGNetLoss(small_model, kl_weight=0.0, deep_supervision=False)
    assert torch.allclose(plain(out, target), mse(out, target))
    small_model.eval()
    with torch.no_grad():
        out = small_model(x)
    assert torch.equal(loss_fn(out, target), mse(out, target))
    small_model.train()
    # the engine validates in training mode on outputs predicted without gradients: landmark MSE only
    with torch.no_grad():
        batch = torch.randn(5, 1, 64, 64)
        out = small_model.eval()(batch)
    small_model.train()
    assert torch.equal(loss_fn(out, torch.zeros(5, N_LANDMARKS, 2)), mse(out, torch.zeros(5, N_LANDMARKS, 2)))
    with pytest.raises(RuntimeError, match="aux"):
        loss_fn(torch.zeros(3, N_LANDMARKS, 2, requires_grad=True), torch.zeros(3, N_LANDMARKS, 2))


def test_coarsen_matches_pooling(small_model: HybridGNet) -> None:
    target = torch.rand(1, N_LANDMARKS, 2)
    two = small_model.pool_matrix(1) @ (small_model.pool_matrix(0) @ target)
    assert torch.allclose(small_model.coarsen(target, 2), two)
    assert torch.equal(small_model.coarsen(target, 0), target)


# ----------------------------------------------------------------------------------------------------
# Behaviour


def test_eval_is_deterministic_and_training_samples(small_model: HybridGNet) -> None:
    x = torch.randn(2, 1, 64, 64)
    small_model.eval()
    with torch.no_grad():
        assert torch.equal(small_model(x), small_model(x))
    small_model.train()
    with torch.no_grad():
        assert not torch.equal(small_model(x), small_model(x))


def test_overfits_four_simulated_cases() -> None:
    torch.manual_seed(0)
    cases = [simulate_chest_case(shape=(64, 64), seed=i) for i in range(4)]
    images = torch.from_numpy(np.stack([c[0] for c in cases]))[:, None]
    targets = torch.from_numpy(np.stack([c[1] for c in cases])) / 64.0
    model = HybridGNet(image_size=64)
    loss_fn = HybridGNetLoss(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def eval_mse() -> float:
        model.eval()
        with torch.no_grad():
            return torch.nn.functional.mse_loss(model(images), targets).item()

    before = eval_mse()
    model.train()
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = loss_fn(model(images), targets)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    after = eval_mse()
    # Typically the evaluation MSE falls 8-20 fold in 60 steps (from about 0.06, the spread of the landmarks).
    assert np.mean(losses[-5:]) < 0.3 * losses[0]
    assert after < 0.3 * before
