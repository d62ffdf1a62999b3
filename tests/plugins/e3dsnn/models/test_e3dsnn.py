"""E-3DSNN: the published sizes, the official layout on sciconv's sparse convolutions, membrane shortcuts,
input forms and errors."""

from __future__ import annotations

import pytest
import torch

from sciconv.conv.sparse import SparseConv3d, SubMConv3d
from sciconv.errors import ConfigError
from sciconv.spec import DataSpec
from sciconv_e3dsnn.models.e3dsnn import (
    BN_EPS,
    BN_MOMENTUM,
    E3DSNN,
    PUBLISHED_PARAMS,
    count_parameters,
    preset_parameters,
)
from sciconv_e3dsnn.models.multispike import MultiSpikeNeuron, ReLUNeuron
from sciconv_e3dsnn.voxels import clouds_to_voxels


def spec(n_classes: int = 40, n_points: int = 64) -> DataSpec:
    return DataSpec(
        (n_points, 6), n_classes, task_type="classification", classes=tuple(f"c{i}" for i in range(n_classes))
    )


def clouds(b: int = 3, p: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xyz = torch.randn(b, p, 3, generator=g)
    xyz = xyz / xyz.norm(dim=2, keepdim=True)
    return torch.cat((xyz, xyz), dim=2)


@pytest.mark.parametrize("preset", ["T", "S", "L"])
def test_parameter_counts_are_the_papers(preset: str) -> None:
    model = E3DSNN(spec(), preset=preset)  # type: ignore[arg-type]
    n = count_parameters(model)
    assert n == preset_parameters(preset)
    assert round(n / 1e6, 2) == pytest.approx(PUBLISHED_PARAMS[preset] / 1e6, abs=0.01 if preset != "L" else 0.05)
    if preset == "T":
        assert n == 1_874_216  # 1.87 M


def test_layout_every_conv_sparse_with_the_official_order() -> None:
    model = E3DSNN(spec(), preset="T")
    units = model.units()
    assert len(units) == 3 + 4 * (1 + 3) + 1
    assert not any(isinstance(m, torch.nn.Conv3d) for m in model.modules())  # no dense fallback
    names = [n for n, _ in units]
    assert names[0] == "stem.0" and names[-1] == "head" and names[3] == "stages.0.down"
    kinds = {n: u for n, u in units}
    assert kinds["stem.0"].neuron is None and isinstance(kinds["stem.1"].neuron, MultiSpikeNeuron)
    down = kinds["stages.2.down"].conv
    assert isinstance(down, SparseConv3d) and down.kernel_size == (2, 2, 2) and down.stride == (2, 2, 2)
    assert down.bias is None and (down.in_channels, down.out_channels) == (32, 64)
    head = kinds["head"]
    assert isinstance(head.conv, SubMConv3d) and head.conv.kernel_size == (1, 1, 1) and head.conv.bias is not None
    assert head.neuron is None and head.norm is None
    bn = kinds["stages.0.blocks.0.first"].norm
    assert bn is not None and (bn.eps, bn.momentum) == (BN_EPS, BN_MOMENTUM)
    assert float(kinds["stem.1"].conv.weight.detach().std()) == pytest.approx(0.02, rel=0.15)  # truncated normal init


def test_forward_from_clouds_and_from_voxels_agree_and_backward_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = E3DSNN(spec(5), embed_channels=8, stage_channels=[8, 8, 16, 16], voxel_size=0.2)
    x = clouds()
    model.eval()
    with torch.no_grad():
        a = model(x)
        b = model(clouds_to_voxels(x, 0.2))
    assert a.shape == (3, 5) and torch.equal(a, b)
    model.train()
    model(x).square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_membrane_shortcut_adds_before_the_spike() -> None:
    """With every conv weight of a block zero, the block is the identity on membrane potentials (values that are
    not integers survive, which a shortcut after the spike could not give)."""
    model = E3DSNN(spec(3), embed_channels=4, stage_channels=[4, 4, 4, 4], voxel_size=0.3)
    block = model.stages[0].blocks[0]
    for unit in (block.first, block.second, block.third):
        torch.nn.init.zeros_(unit.conv.weight)
        torch.nn.init.zeros_(unit.norm.bias)
    block.eval()
    from sciconv.conv.sparse import SparseVoxelTensor

    coords = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 1, 1]])
    features = torch.tensor([[0.3, 1.7, -2.2, 0.0], [2.5, 0.1, 0.2, 3.3], [1.1, 1.2, 1.3, 1.4]])
    out = block(SparseVoxelTensor(features, coords, (2, 2, 2), 1))
    assert torch.allclose(out.features, features)


def test_ann_twin_uses_relu_and_the_same_size() -> None:
    snn, ann = E3DSNN(spec()), E3DSNN(spec(), neuron="relu")
    assert count_parameters(snn) == count_parameters(ann)
    assert any(isinstance(m, ReLUNeuron) for m in ann.modules())
    assert not any(isinstance(m, MultiSpikeNeuron) for m in ann.modules())


def test_bad_inputs() -> None:
    model = E3DSNN(spec(3), embed_channels=4, stage_channels=[4, 4, 4, 4])
    with pytest.raises(ValueError, match=r"\(B, P, 6\)"):
        model(torch.zeros(2, 10, 3))
    with pytest.raises(ValueError, match="dict with features"):
        model({"features": torch.zeros(1, 6)})  # type: ignore[arg-type]
    bad = clouds_to_voxels(clouds(), 0.5)
    bad["spatial_shape"] = torch.tensor([20, 16, 16])
    with pytest.raises(ValueError, match="multiple of 16"):
        model(bad)
    with pytest.raises(ConfigError, match="equally long"):
        E3DSNN(spec(), stage_channels=[8, 8], depths=[1, 1, 1])
    with pytest.raises(ConfigError, match="n_points, channels"):
        E3DSNN(DataSpec((6,), 2, task_type="classification", classes=("a", "b")))
