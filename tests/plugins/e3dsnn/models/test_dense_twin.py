"""The dense-voxel twin: the same network on dense grids with conv3d gives the sparse network's logits."""

from __future__ import annotations

import torch

from sciconv.spec import DataSpec
from sciconv_e3dsnn.models.dense_twin import DenseTwin, dense_input
from sciconv_e3dsnn.models.e3dsnn import E3DSNN
from sciconv_e3dsnn.voxels import clouds_to_voxels


def _trained_like(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    spec = DataSpec((48, 6), 4, task_type="classification", classes=("a", "b", "c", "d"))
    model = E3DSNN(spec, embed_channels=6, stage_channels=[6, 8, 8, 12], voxel_size=0.15)
    # spread the weights and the BN statistics so that neurons fire (an untrained network barely does)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.4)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _clouds(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xyz = torch.rand(3, 48, 3, generator=g) * 2 - 1
    return torch.cat((xyz, torch.randn(3, 48, 3, generator=g)), dim=2)


def test_dense_twin_equals_the_sparse_network_in_evaluation() -> None:
    model = _trained_like().eval()
    inputs = clouds_to_voxels(_clouds(), model.voxel_size)
    with torch.no_grad():
        sparse = model(inputs)
        dense = DenseTwin(model)(*dense_input(inputs))
    assert sparse.abs().max() > 1e-3
    torch.testing.assert_close(dense, sparse, rtol=1e-4, atol=1e-4)


def test_dense_twin_training_step_matches_the_sparse_gradients() -> None:
    model = _trained_like(2).train()
    inputs = clouds_to_voxels(_clouds(3), model.voxel_size)
    model(inputs).square().sum().backward()
    sparse_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    DenseTwin(model)(*dense_input(inputs)).square().sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, sparse_grads[name], rtol=2e-3, atol=2e-4, msg=name)


def test_dense_input_marks_the_active_sites() -> None:
    inputs = clouds_to_voxels(_clouds(), 0.15)
    x, mask = dense_input(inputs)
    assert x.shape[:2] == (3, 6) and mask.shape[1] == 1
    assert int(mask.sum()) == inputs["features"].shape[0]
    b, z, y, w = inputs["coords"][5].tolist()
    torch.testing.assert_close(x[b, :, z, y, w], inputs["features"][5])
