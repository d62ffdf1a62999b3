"""The DeepFEA NEP net (ConvLSTM with peepholes): shapes, parameter count, feedback of the node predictions,
teacher forcing, gradients and routing of every convolution through sciconv.conv."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sciconv.conv
from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv_deepfea.models.nep_net import NEPNet, NEPNetModel, split_output

SMALL = [4, 8]


def make_spec(grid: tuple[int, ...], steps: int = 3) -> DataSpec:
    dim = len(grid)
    return DataSpec(
        input_shape=(steps, 2 * dim + 1, *grid),
        n_outputs=1,
        task_type="regression",
        extra={"dim": dim, "node_channels": dim},
    )


def make_input(grid: tuple[int, ...], batch: int = 2, steps: int = 3, seed: int = 0) -> torch.Tensor:
    """Scaled inputs in [-1, 1]; the mask (last channel) is +1 on the nodes of the first column, -1 elsewhere."""
    gen = torch.Generator().manual_seed(seed)
    dim = len(grid)
    x = torch.rand(batch, steps, 2 * dim + 1, *grid, generator=gen) * 2 - 1
    mask = -torch.ones(grid)
    mask[..., 0] = 1.0
    x[:, :, -1] = mask
    return x


def test_shapes_2d_default_channels() -> None:
    model = NEPNet(make_spec((9, 9)))
    x = make_input((9, 9), batch=2, steps=3)
    out = model(x)
    assert out.shape == (2, 3, 2 * 81 + 2 * 64)
    assert model.output_size == out.shape[-1]
    node, elem = model.split_output(out)
    assert node.shape == (2, 3, 2, 9, 9)
    assert elem.shape == (2, 3, 2, 8, 8)
    assert out.abs().max() <= 1
    # split_output is the inverse of the concatenation in forward
    flat = torch.cat([node.flatten(2), elem.flatten(2)], dim=2)
    assert torch.equal(flat, out)


def test_shapes_3d() -> None:
    model = NEPNet(make_spec((4, 4, 4), steps=2)).eval()
    assert [cell.hidden for cell in model.cells] == [64, 128, 256]
    assert isinstance(model.cells[0].conv, sciconv.conv.Conv3d)
    out = model(make_input((4, 4, 4), batch=1, steps=2))
    assert out.shape == (1, 2, 3 * 64 + 2 * 27)
    node, elem = split_output(out, 3, (4, 4, 4))
    assert node.shape == (1, 2, 3, 4, 4, 4)
    assert elem.shape == (1, 2, 2, 3, 3, 3)


def test_parameter_count_9x9_by_hand() -> None:
    model = NEPNet(make_spec((9, 9)))
    # ConvLSTM layer: conv over cat(x, h) -> 4 gates: (in + hid) * 4 hid * 3 * 3 weights + 4 hid biases,
    # plus 3 peephole maps of hid x 9 x 9.
    layer0 = (5 + 64) * 256 * 9 + 256 + 3 * 64 * 81  # 174784
    layer1 = (64 + 128) * 512 * 9 + 512 + 3 * 128 * 81  # 916352
    layer2 = (128 + 256) * 1024 * 9 + 1024 + 3 * 256 * 81  # 3602176
    node_head = 256 * 2 + 2
    elem_head = 256 * 2 * 2 * 2 + 2
    expected = layer0 + layer1 + layer2 + node_head + elem_head
    assert expected == 4_695_876
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("grid", [(9, 9), (5, 7), (4, 4, 4)])
def test_peephole_shapes_match_grid(grid: tuple[int, ...]) -> None:
    model = NEPNet(make_spec(grid), channels=SMALL)
    for cell, hidden in zip(model.cells, SMALL, strict=True):
        for w in (cell.w_ci, cell.w_cf, cell.w_co):
            assert w.shape == (hidden, *grid)
    assert model.cells[0].conv.in_channels == 2 * len(grid) + 1 + SMALL[0]
    assert model.cells[1].conv.in_channels == SMALL[0] + SMALL[1]


def test_eval_is_free_running() -> None:
    torch.manual_seed(0)
    model = NEPNet(make_spec((9, 9)), channels=SMALL).eval()
    x = make_input((9, 9))
    free = x[0, 0, -1] <= 0
    with torch.no_grad():
        ref = model(x)
        # true future coordinates of free nodes are never read
        y = x.clone()
        y[:, 1:, :2][..., free] += 0.5
        assert torch.equal(model(y), ref)
        # coordinates of fixed nodes at t >= 1 are read (they are given by the boundary condition)
        y = x.clone()
        y[:, 1:, :2][..., ~free] += 0.5
        assert not torch.allclose(model(y)[:, 1:], ref[:, 1:])
        assert torch.equal(model(y)[:, 0], ref[:, 0])
        # loads are read at every step
        y = x.clone()
        y[:, 2, 2:4] += 0.5
        out = model(y)
        assert torch.equal(out[:, :2], ref[:, :2])
        assert not torch.allclose(out[:, 2], ref[:, 2])
        # the initial state is read
        y = x.clone()
        y[:, 0, :2] += 0.5
        assert not torch.allclose(model(y)[:, 0], ref[:, 0])


def _stack_inputs(model: NEPNetModel, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run the model and capture the frame fed to the first ConvLSTM cell at each step."""
    seen: list[torch.Tensor] = []
    handle = model.cells[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    try:
        out = model(x)
    finally:
        handle.remove()
    return seen, out


def test_fed_back_input_keeps_fixed_nodes_and_loads() -> None:
    torch.manual_seed(1)
    model = NEPNet(make_spec((9, 9)), channels=SMALL).eval()
    x = make_input((9, 9))
    with torch.no_grad():
        seen, out = _stack_inputs(model, x)
    node, _ = model.split_output(out)
    fixed = x[0, 0, -1] > 0
    assert len(seen) == 3
    assert torch.equal(seen[0], x[:, 0])
    for t in (1, 2):
        fed = seen[t]
        assert torch.equal(fed[:, 2:], x[:, t, 2:])  # loads and mask from x
        assert torch.equal(fed[:, :2][..., fixed], x[:, t, :2][..., fixed])  # fixed nodes: given coordinates
        assert torch.equal(fed[:, :2][..., ~fixed], node[:, t - 1][..., ~fixed])  # free nodes: prediction
        assert not torch.allclose(fed[:, :2], x[:, t, :2])


def test_next_input_helper() -> None:
    model = NEPNetModel(2, (3, 4), channels=SMALL)
    frame = torch.zeros(2, 5, 3, 4)
    frame[:, :2] = 1.0
    frame[:, 2:4] = 7.0
    frame[:, 4] = -1.0
    frame[:, 4, 0, :] = 1.0  # row 0 fixed
    pred = torch.full((2, 2, 3, 4), -0.5)
    fed = model.next_input(frame, pred)
    assert torch.equal(fed[:, :2, 0], frame[:, :2, 0])
    assert torch.equal(fed[:, :2, 1:], pred[:, :, 1:])
    assert torch.equal(fed[:, 2:], frame[:, 2:])
    fed = model.next_input(frame, pred, torch.tensor([True, False]))
    assert torch.equal(fed[0], frame[0])
    assert torch.equal(fed[1, :2, 1:], pred[1, :, 1:])


def test_teacher_forcing_in_training_uses_true_coordinates() -> None:
    torch.manual_seed(2)
    model = NEPNet(make_spec((9, 9)), channels=SMALL, teacher_forcing=1.0)
    x = make_input((9, 9))
    model.train()
    with torch.no_grad():
        seen, out = _stack_inputs(model, x)
    for t in range(3):
        assert torch.equal(seen[t], x[:, t])
    # a step's output then depends on the true coordinates of the free nodes at that step
    free = x[0, 0, -1] <= 0
    y = x.clone()
    y[:, 2, :2][..., free] += 0.5
    with torch.no_grad():
        assert not torch.allclose(model(y)[:, 2], out[:, 2])
    # eval mode ignores teacher forcing
    model.eval()
    with torch.no_grad():
        seen, _ = _stack_inputs(model, x)
    assert not torch.allclose(seen[1], x[:, 1])
    # p = 0 while training is free-running, as in eval
    model.train()
    model.teacher_forcing = 0.0
    with torch.no_grad():
        train_out = model(x)
        assert torch.equal(train_out, model.eval()(x))


def test_teacher_forcing_draws_per_sample_and_step() -> None:
    torch.manual_seed(3)
    model = NEPNet(make_spec((6, 6), steps=8), channels=SMALL, teacher_forcing=0.5).train()
    x = make_input((6, 6), batch=8, steps=8)
    with torch.no_grad():
        seen, _ = _stack_inputs(model, x)
    true_used = torch.stack([(seen[t][:, :2] == x[:, t, :2]).flatten(1).all(1) for t in range(1, 8)])
    assert true_used.any() and not true_used.all()  # 56 draws at p = 0.5
    with pytest.raises(ConfigError, match="teacher_forcing"):
        model.teacher_forcing = 1.5


def test_every_parameter_gets_a_gradient() -> None:
    torch.manual_seed(4)
    model = NEPNet(make_spec((5, 6)), channels=SMALL)
    out = model(make_input((5, 6), steps=3))
    (out**2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("grid", [(5, 6), (3, 4, 5)])
def test_convolutions_go_through_sciconv_conv(grid: tuple[int, ...]) -> None:
    model = NEPNet(make_spec(grid), channels=SMALL).eval()
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            assert isinstance(module, (sciconv.conv.Conv2d, sciconv.conv.Conv3d))
    x = make_input(grid, batch=2, steps=3)
    with sciconv.conv.record_calls() as calls:
        model(x)
    assert len(calls) == 3 * (len(SMALL) + 2)  # per step: one conv per cell, two heads
    assert all(c.nd == len(grid) for c in calls)
    in_ch = 2 * len(grid) + 1
    first = calls[0]
    assert first.weight_shape == (4 * SMALL[0], in_ch + SMALL[0], *([3] * len(grid)))
    assert first.padding == "same"
    heads = calls[len(SMALL) : len(SMALL) + 2]
    assert heads[0].weight_shape == (len(grid), SMALL[-1], *([1] * len(grid)))
    assert heads[1].weight_shape == (2, SMALL[-1], *([2] * len(grid)))


def test_bad_inputs_and_parameters() -> None:
    spec = make_spec((9, 9))
    with pytest.raises(ConfigError, match="kernel"):
        NEPNet(spec, kernel=2)
    with pytest.raises(ConfigError, match="channels"):
        NEPNet(spec, channels=[])
    bad = DataSpec(input_shape=(3, 4, 9, 9), n_outputs=1, task_type="regression", extra={"dim": 2, "node_channels": 2})
    with pytest.raises(DataError, match="channels"):
        NEPNet(bad)
    model = NEPNet(spec, channels=SMALL)
    with pytest.raises(DataError, match="grid"):
        model(make_input((8, 9)))
