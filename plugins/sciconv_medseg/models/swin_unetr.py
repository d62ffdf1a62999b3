"""Swin UNETR (Hatamizadeh et al. 2022) for 3-D brain tumour MRI: MONAI's ``SwinUNETR``, sized from the data.

:func:`SwinUNETRNet` is the registered model ``medseg.swin-unetr`` (old name ``medseg.swin_unetr``), the pipeline
model of ``medseg-swin-unetr`` (:class:`~sciconv_medseg.brats_task.BratsSegmentationTask`). Shapes: (N, C, X, Y, Z)
-> (N, n_outputs, X, Y, Z) logits, every spatial side divisible by 32 (five 2x downsamplings); for BraTS ``C`` is the
4 MRI modalities (t1, t1ce, t2, flair) and ``n_outputs`` the 3 regions (TC, WT, ET).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field, StrictBool
from torch import nn

from sciconv.errors import ConfigError
from sciconv.spec import DataSpec

Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


def SwinUNETRNet(
    spec: DataSpec,
    feature_size: Annotated[int, Field(gt=0, multiple_of=12)] = 48,
    depths: Sequence[Annotated[int, Field(ge=1)]] = (2, 2, 2, 2),
    num_heads: Sequence[Annotated[int, Field(ge=1)]] = (3, 6, 12, 24),
    drop_rate: Fraction = 0.0,
    attn_drop_rate: Fraction = 0.0,
    dropout_path_rate: Fraction = 0.0,
    use_checkpoint: StrictBool = False,
    use_v2: StrictBool = False,
) -> nn.Module:
    """MONAI's ``SwinUNETR`` sized from ``spec``: ``input_shape[0]`` input channels (4 MRI modalities),
    ``n_outputs`` output channels (3 regions, logits).

    Shapes: (N, C, X, Y, Z) -> (N, n_outputs, X, Y, Z), every side divisible by 32. ``feature_size`` (the paper:
    48) is a positive multiple of 12 (checked with the pipeline's ``model.params``). Raises ConfigError when the
    data are not 3-D volumes or a side is not divisible by 32.
    """
    from monai.networks.nets import SwinUNETR

    if len(spec.input_shape) != 4:
        raise ConfigError(f"medseg.swin-unetr: expects 3D volumes (C, X, Y, Z); the data has shape {spec.input_shape}")
    bad = [s for s in spec.input_shape[1:] if s % 32]
    if bad:
        raise ConfigError(
            f"medseg.swin-unetr: every side of the input must be divisible by 32 (5 downsamplings); got "
            f"{spec.input_shape[1:]} (set task.params.roi_size to a multiple of 32)"
        )
    return SwinUNETR(
        in_channels=spec.input_shape[0],
        out_channels=spec.n_outputs,
        feature_size=feature_size,
        depths=tuple(depths),
        num_heads=tuple(num_heads),
        drop_rate=drop_rate,
        attn_drop_rate=attn_drop_rate,
        dropout_path_rate=dropout_path_rate,
        use_checkpoint=use_checkpoint,
        use_v2=use_v2,
        spatial_dims=3,
    )


__all__ = ["SwinUNETRNet"]
