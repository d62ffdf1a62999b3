"""The pixel-wise baseline of the chest anatomy task: MONAI's 2-D ``UNet`` with one sigmoid output per organ.

:func:`UNetNet` is the registered model ``medseg.unet``. :class:`~sciconv_medseg.chest_task.ChestAnatomyTask` builds
it by name (``ctx.build_model(spec, name="medseg.unet", ...)``) from ``task.params.unet`` beside the pipeline's
HybridGNet; it can also be a pipeline's ``model:``. Shapes: (N, C, S, S) -> (N, n_organs, S, S) logits (multi-label:
the heart overlaps both lungs' medial edges on a PA radiograph, so the organs are independent sigmoids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
from pydantic import Field
from torch import nn

from sciconv.errors import ConfigError
from sciconv.spec import DataSpec


def UNetNet(
    spec: DataSpec,
    channels: Sequence[Annotated[int, Field(ge=1)]] = (16, 32, 64, 128, 256),
    strides: Sequence[Annotated[int, Field(ge=1)]] = (2, 2, 2, 2),
    num_res_units: Annotated[int, Field(ge=0)] = 1,
    kernel_size: Annotated[int, Field(ge=1)] = 3,
    norm: str = "instance",
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0,
) -> nn.Module:
    """MONAI's ``UNet`` (2-D) with one output channel per organ of ``spec.classes`` (default three: right lung, left
    lung, heart), to be read through a sigmoid (multi-label: organs overlap).

    Shapes: (N, C, S, S) -> (N, n_organs, S, S) logits; ``S`` must be divisible by the product of ``strides``, and
    ``len(strides) == len(channels) - 1`` (ConfigError otherwise).
    """
    from monai.networks.nets import UNet

    shape = tuple(spec.input_shape)
    if len(shape) != 3:
        raise ConfigError(f"medseg.unet: spec.input_shape must be an image (C, H, W), got {shape}")
    channels, strides = list(channels), list(strides)
    if len(channels) < 2 or len(strides) != len(channels) - 1:
        raise ConfigError(
            f"medseg.unet: expected len(strides) == len(channels) - 1 >= 1, got channels {channels}, strides {strides}"
        )
    factor = int(np.prod(strides))
    if shape[1] % factor or shape[2] % factor:
        raise ConfigError(f"medseg.unet: the image side {shape[1:]} must be divisible by prod(strides) = {factor}")
    n_out = len(spec.classes) if spec.classes else 3
    return UNet(
        spatial_dims=2,
        in_channels=shape[0],
        out_channels=n_out,
        channels=channels,
        strides=strides,
        kernel_size=kernel_size,
        num_res_units=num_res_units,
        norm=norm,
        dropout=dropout,
    )


__all__ = ["UNetNet"]
