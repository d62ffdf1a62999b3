"""ResNet-18 on sciconv.conv: torchvision's layout and parameter count, spectrogram shapes, every convolution on
the sciconv backends."""

from __future__ import annotations

import torch
from torch import nn

from sciconv.conv import record_calls
from sciconv.spec import DataSpec
from sciconv_uatr.models.resnet18 import ResNet18, ResNet18Backbone

TORCHVISION_RESNET18_PARAMETERS = 11_689_512  # torchvision.models.resnet18(): 3-channel input, 1000 classes


def n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_is_the_standard_resnet18() -> None:
    backbone = ResNet18Backbone(in_channels=3)
    assert n_parameters(backbone) + 512 * 1000 + 1000 == TORCHVISION_RESNET18_PARAMETERS
    # the spectrogram model: one input channel (Conv2d(1, 64, 7, 2, 3)) and a 4-class head
    model = ResNet18(DataSpec((1, 64, 94), 4, classes=tuple("abcd")))
    assert n_parameters(model) == TORCHVISION_RESNET18_PARAMETERS - 64 * 2 * 49 - 512 * 996 - 996
    assert model.backbone.stem[0].weight.shape == (64, 1, 7, 7)
    assert model.backbone.stem[0].stride == (2, 2) and model.backbone.stem[0].padding == (3, 3)


def test_shapes_and_every_convolution_through_sciconv() -> None:
    model = ResNet18(DataSpec((1, 32, 47), 5, classes=tuple("abcde")), widths=[8, 8, 16, 16]).eval()
    with record_calls() as calls:
        out = model(torch.randn(3, 1, 32, 47))
    assert out.shape == (3, 5)
    assert len(calls) == 1 + 4 * 4 + 3  # stem, 2 convolutions in each of 8 blocks, 3 projection shortcuts
    assert model.backbone(torch.randn(2, 1, 32, 47)).shape == (2, 16)
