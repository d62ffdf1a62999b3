"""The DeepFEA non-recurrent frame CNN baseline: shapes, what each frame reads (no future coordinates, no
recurrence), the step channel, gradients and routing of every convolution through sciconv.conv."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sciconv.conv
from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv_deepfea.models.frame_cnn import FrameCNN, FrameCNNModel


def make_spec(grid: tuple[int, ...], steps: int = 4) -> DataSpec:
    dim = len(grid)
    return DataSpec(
        input_shape=(steps, 2 * dim + 1, *grid),
        n_outputs=1,
        task_type="regression",
        extra={"dim": dim, "node_channels": dim},
    )


def make_input(grid: tuple[int, ...], batch: int = 2, steps: int = 4, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    dim = len(grid)
    x = torch.rand(batch, steps, 2 * dim + 1, *grid, generator=gen) * 2 - 1
    mask = -torch.ones(grid)
    mask[..., 0] = 1.0
    x[:, :, -1] = mask
    return x


def _trained_stats(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """A few training-mode passes so that BatchNorm's running statistics are not the identity, then eval."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)
    return model.eval()


def test_shapes_2d() -> None:
    model = FrameCNN(make_spec((9, 9)))
    out = model(make_input((9, 9), batch=2, steps=4))
    assert out.shape == (2, 4, 2 * 81 + 2 * 64)
    assert model.output_size == out.shape[-1]
    node, elem = model.split_output(out)
    assert node.shape == (2, 4, 2, 9, 9)
    assert elem.shape == (2, 4, 2, 8, 8)
    assert out.abs().max() <= 1
    assert torch.equal(torch.cat([node.flatten(2), elem.flatten(2)], dim=2), out)


def test_shapes_3d() -> None:
    model = FrameCNN(make_spec((4, 4, 4), steps=3), width=16, depth=3).eval()
    out = model(make_input((4, 4, 4), batch=2, steps=3))
    assert out.shape == (2, 3, 3 * 64 + 2 * 27)
    node, elem = model.split_output(out)
    assert node.shape == (2, 3, 3, 4, 4, 4)
    assert elem.shape == (2, 3, 2, 3, 3, 3)


def test_frames_read_initial_coordinates_loads_and_mask_only() -> None:
    torch.manual_seed(0)
    x = make_input((9, 9))
    model = _trained_stats(FrameCNN(make_spec((9, 9)), width=16, depth=3), x)
    with torch.no_grad():
        ref = model(x)
        # coordinates at t >= 1 (the truth) are never read, for free and fixed nodes alike
        y = x.clone()
        y[:, 1:, :2] += 0.5
        assert torch.equal(model(y), ref)
        # a load change at step 2 changes step 2 only: no recurrence
        y = x.clone()
        y[:, 2, 2:4] += 0.5
        out = model(y)
        assert not torch.allclose(out[:, 2], ref[:, 2])
        for t in (0, 1, 3):
            assert torch.equal(out[:, t], ref[:, t])
        # the initial coordinates reach every step
        y = x.clone()
        y[:, 0, :2] += 0.5
        out = model(y)
        for t in range(4):
            assert not torch.allclose(out[:, t], ref[:, t])
        # so does the mask
        y = x.clone()
        y[:, :, -1] = -y[:, :, -1]
        assert not torch.allclose(model(y), ref)


def test_step_channel() -> None:
    model = FrameCNNModel(2, (3, 3), horizon=5, width=4, depth=1)
    x = make_input((3, 3), batch=1, steps=5)
    inputs = model.frame_inputs(x)
    assert inputs.shape == (1, 5, 6, 3, 3)
    assert torch.allclose(inputs[0, :, -1, 0, 0], torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    assert torch.equal(inputs[:, :, :2], x[:, :1, :2].expand(1, 5, 2, 3, 3))
    assert torch.equal(inputs[:, :, 2:5], x[:, :, 2:5])
    # a shorter sequence keeps the same value per step (scaled to the spec's horizon)
    short = model.frame_inputs(x[:, :3])
    assert torch.allclose(short[0, :, -1, 0, 0], torch.tensor([-1.0, -0.5, 0.0]))
    # the same frame at a different step gives a different output
    same = x[:, :1].expand(1, 5, *x.shape[2:]).contiguous()
    out = model.eval()(same)
    assert not torch.allclose(out[:, 0], out[:, 4])


def test_every_parameter_gets_a_gradient() -> None:
    torch.manual_seed(1)
    model = FrameCNN(make_spec((5, 6)), width=8, depth=3).train()
    out = model(make_input((5, 6)))
    (out**2).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("grid", [(5, 6), (3, 4, 5)])
def test_convolutions_go_through_sciconv_conv(grid: tuple[int, ...]) -> None:
    model = FrameCNN(make_spec(grid), width=8, depth=3).eval()
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            assert isinstance(module, (sciconv.conv.Conv2d, sciconv.conv.Conv3d))
    with sciconv.conv.record_calls() as calls:
        model(make_input(grid, batch=2, steps=4))
    assert len(calls) == 3 + 2  # frames folded into the batch: one call per layer
    assert all(c.nd == len(grid) and c.input_shape[0] == 8 for c in calls)
    assert calls[0].weight_shape == (8, 2 * len(grid) + 2, *([3] * len(grid)))
    assert calls[-2].weight_shape == (len(grid), 8, *([1] * len(grid)))
    assert calls[-1].weight_shape == (2, 8, *([2] * len(grid)))


def test_bad_inputs_and_parameters() -> None:
    spec = make_spec((9, 9))
    with pytest.raises(ConfigError, match="width"):
        FrameCNN(spec, width=0)
    with pytest.raises(ConfigError, match="depth"):
        FrameCNN(spec, depth=0)
    bad = DataSpec(input_shape=(3, 5, 9, 9), n_outputs=1, task_type="regression", extra={"dim": 3, "node_channels": 3})
    with pytest.raises(DataError):
        FrameCNN(bad)
    model = FrameCNN(spec, width=4, depth=1)
    with pytest.raises(DataError, match="expected"):
        model(make_input((9, 9))[:, :, :4])
