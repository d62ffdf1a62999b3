"""ResNet-18 on :mod:`sciconv.conv` for spectrograms: the backbone of the CMoE paper (Xie, Ren and Xu 2024), and
the plain ResNet-18 classifier it is compared with.

The layout is torchvision's ResNet-18 (He et al. 2016), written here because torchvision is not installable:
a stem ``Conv2d(in, 64, 7, stride 2, padding 3)`` + BatchNorm + ReLU + ``MaxPool2d(3, 2, 1)``; four layers of two
basic blocks each (3x3 convolutions, 64 / 128 / 256 / 512 channels, the first block of layers 2-4 with stride 2
and a 1x1 strided projection on its shortcut); global average pooling to a 512-d representation. With
``in_channels=3`` and a 1000-class linear head it has torchvision's 11,689,512 parameters (a test asserts it);
the spectrogram model reads one channel (``Conv2d(1, 64, ...)``), as in the paper's released code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from sciconv.conv import Conv2d
from sciconv.spec import DataSpec

RESNET18_STAGES = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual connection (a 1x1 strided projection when the shape
    changes). Shapes: ``(B, C_in, H, W) -> (B, C_out, ceil(H / stride), ceil(W / stride))``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18Backbone(nn.Module):
    """ResNet-18 without its classifier: ``(B, in_channels, H, W) -> (B, 512)`` (global average pooling).

    Args:
        in_channels: input channels (1 for a spectrogram).
        widths: channels of the four layers (ResNet-18: 64, 128, 256, 512); smaller widths make a quick
            test network, never the default.
    """

    def __init__(self, in_channels: int = 1, widths: Sequence[int] = RESNET18_STAGES) -> None:
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"ResNet-18 has 4 layers; widths must list 4 channel counts, got {list(widths)}")
        w = [int(v) for v in widths]
        self.stem = nn.Sequential(
            Conv2d(in_channels, w[0], 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        layers = []
        previous = w[0]
        for i, width in enumerate(w):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(previous, width, stride), BasicBlock(width, width)))
            previous = width
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_features = w[-1]
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.layers(self.stem(x))), 1)


def check_spectrogram_spec(spec: DataSpec, what: str) -> int:
    """The input channels of a spectrogram spec ``(C, n_bands, n_frames)``; ValueError naming ``what`` otherwise."""
    if len(spec.input_shape) != 3:
        raise ValueError(
            f"{what} reads spectrograms of shape (channels, bands, frames); got input_shape {spec.input_shape}"
        )
    return int(spec.input_shape[0])


class ResNet18Classifier(nn.Module):
    """The plain ResNet-18 baseline: backbone + ``Linear(512, n_classes)``.
    Shapes: ``(B, 1, n_bands, n_frames) -> (B, n_classes)`` logits."""

    def __init__(self, spec: DataSpec, widths: Sequence[int] = RESNET18_STAGES) -> None:
        super().__init__()
        self.backbone = ResNet18Backbone(check_spectrogram_spec(spec, "uatr.resnet18"), widths)
        self.head = nn.Linear(self.backbone.out_features, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def ResNet18(
    spec: DataSpec,
    widths: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=4, max_length=4)] = list(RESNET18_STAGES),  # noqa: B006
) -> ResNet18Classifier:
    """Factory of the registered model ``uatr.resnet18``: ResNet-18 with one linear classifier."""
    return ResNet18Classifier(spec, widths)
