"""The Swin UNETR factory (``medseg.swin-unetr``): MONAI's network sized from the data, conformant, and its bad sizes
refused (spec-dependent ones by the factory, parameter ranges by the pipeline's check of ``model.params``)."""

from __future__ import annotations

import pytest
import torch

import sciconv
from sciconv import DataSpec
from sciconv.errors import ConfigError
from sciconv.testing import check_model
from sciconv_medseg.models.swin_unetr import SwinUNETRNet


def _spec(side: int = 64) -> DataSpec:
    return DataSpec((4, side, side, side), 3, "segmentation", classes=("TC", "WT", "ET"))


def test_swin_unetr_factory_is_monai_and_conformant() -> None:
    from monai.networks.nets import SwinUNETR

    model = check_model(SwinUNETRNet, _spec(), {"feature_size": 12})
    assert isinstance(model, SwinUNETR)
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 4, 64, 64, 64)).shape == (1, 3, 64, 64, 64)


@pytest.mark.parametrize(
    ("spec", "params", "message"),
    [
        (_spec(48), {}, r"divisible by 32"),
        (DataSpec((4, 64, 64), 3, "segmentation"), {}, r"3D volumes"),
    ],
)
def test_swin_unetr_factory_rejects_bad_sizes(spec: DataSpec, params: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SwinUNETRNet(spec, **params)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (20, r"model\.params\.feature_size: expected an integer > 0 and a multiple of 12"),
        (0, r"model\.params\.feature_size: expected an integer > 0 and a multiple of 12"),
        (12.5, r"model\.params\.feature_size"),
    ],
)
def test_the_pipeline_refuses_a_bad_feature_size(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("medseg-swin-unetr", {"model.params.feature_size": value})
