"""The UNet factory (``medseg.unet``, the chest task's pixel baseline): one output per organ, and its structural
checks."""

from __future__ import annotations

import pytest
import torch

from sciconv import DataSpec
from sciconv.errors import ConfigError
from sciconv_medseg.models.unet import UNetNet


def test_unet_factory() -> None:
    spec = DataSpec((1, 32, 32), 240, "segmentation", classes=("right lung", "left lung", "heart"))
    net = UNetNet(spec, channels=(4, 8, 16), strides=(2, 2), num_res_units=0)
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError, match="divisible"):
        UNetNet(DataSpec((1, 34, 34), 240, "segmentation"), channels=(4, 8, 16), strides=(2, 2))
    with pytest.raises(ConfigError, match="len\\(strides\\)"):
        UNetNet(spec, channels=(4, 8), strides=(2, 2))
