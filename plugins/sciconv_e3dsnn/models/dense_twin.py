"""The dense-voxel twin of E-3DSNN: the same weights run on dense grids with ``torch.nn.functional.conv3d``.

It exists only to time the sparse path against dense convolution on the same inputs (the benchmark and the
task's ``dense.ms_per_sample``); it is never trained for results. Each submanifold conv is the dense conv with
``padding = k // 2`` masked back to the active sites, each strided conv the dense stride-2 conv whose active
sites are the 2x2x2 max-pool of the input's, batch normalisation uses statistics over the active sites only
(training) or the running ones (evaluation), and the head averages over each sample's active sites; so in
evaluation mode its logits equal the sparse network's. It shares the sparse network's parameters; its training
step does not update the BN running statistics.

Input: ``x`` (B, C, D, H, W) float with zeros at inactive sites and ``mask`` (B, 1, D, H, W) float of 0/1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sciconv.conv.sparse import SparseConv3d, SubMConv3d
from sciconv_e3dsnn.models.e3dsnn import BasicBlock, ConvUnit, E3DSNNModel


class DenseTwin(nn.Module):
    """``E3DSNNModel`` on dense grids. Shapes: (x (B, C, D, H, W), mask (B, 1, D, H, W)) -> (B, n_classes)."""

    def __init__(self, sparse: E3DSNNModel) -> None:
        super().__init__()
        self.net = sparse

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        net = self.net
        for unit in net.stem:
            x, mask = _unit(unit, x, mask)
        for stage in net.stages:
            x, mask = _unit(stage.down, x, mask)
            for block in stage.blocks:
                x = _block(block, x, mask)
        y, mask = _unit(net.head, x, mask)
        return (y * mask).sum(dim=(2, 3, 4)) / mask.sum(dim=(2, 3, 4)).clamp_min(1.0)


def _block(block: BasicBlock, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    a = x + _unit(block.first, x, mask)[0]
    return a + _unit(block.third, _unit(block.second, a, mask)[0], mask)[0]


def _unit(unit: ConvUnit, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if unit.neuron is not None:
        x = unit.neuron(x)
    conv = unit.conv
    if isinstance(conv, SubMConv3d):
        pad = tuple(k // 2 for k in conv.kernel_size)
        y = F.conv3d(x, conv.weight, conv.bias, padding=pad, dilation=conv.dilation)
    elif isinstance(conv, SparseConv3d):
        y = F.conv3d(x, conv.weight, conv.bias, stride=conv.stride, padding=conv.padding, dilation=conv.dilation)
        mask = F.max_pool3d(mask, conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    else:  # pragma: no cover - ConvUnit only holds the two
        raise TypeError(type(conv).__name__)
    y = y * mask
    if unit.norm is not None:
        y = _masked_batch_norm(y, mask, unit.norm)
    return y, mask


def _masked_batch_norm(y: torch.Tensor, mask: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
    """Batch normalisation over the active sites (training: their batch statistics; evaluation: the running
    ones), zero at inactive sites. Shapes: y (B, C, D, H, W), mask (B, 1, D, H, W) -> (B, C, D, H, W)."""
    shape = (1, -1, 1, 1, 1)
    if bn.training:
        n = mask.sum().clamp_min(1.0)
        mean = (y * mask).sum(dim=(0, 2, 3, 4)) / n
        var = (((y - mean.view(shape)) * mask) ** 2).sum(dim=(0, 2, 3, 4)) / n
    else:
        assert bn.running_mean is not None and bn.running_var is not None
        mean, var = bn.running_mean, bn.running_var
    out = (y - mean.view(shape)) * torch.rsqrt(var.view(shape) + bn.eps)
    if bn.affine:
        out = out * bn.weight.view(shape) + bn.bias.view(shape)
    return out * mask


def dense_input(inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """E-3DSNN's input dict as dense grids. Shapes: -> x (B, C, D, H, W), mask (B, 1, D, H, W)."""
    coords, features = inputs["coords"], inputs["features"]
    b = int(inputs["batch_size"])
    d, h, w = (int(s) for s in inputs["spatial_shape"].tolist())
    x = features.new_zeros((b, d, h, w, features.shape[1]))
    idx = tuple(coords.unbind(dim=1))
    x = x.index_put(idx, features)
    mask = features.new_zeros((b, d, h, w, 1)).index_put(idx, features.new_ones((len(coords), 1)))
    return x.permute(0, 4, 1, 2, 3).contiguous(), mask.permute(0, 4, 1, 2, 3).contiguous()


__all__ = ["DenseTwin", "dense_input"]
