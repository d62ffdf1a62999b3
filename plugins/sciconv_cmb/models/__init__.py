"""The cmb-inpainting plugin's models, one per module:

- :mod:`~sciconv_cmb.models.skyreconnet`: :class:`SkyReconNet` (dilated + standard convolutions on the HEALPix
  sphere's 12 base faces, arXiv 2501.06139) and its loss :class:`SSIMMSELoss` (SSIM + MSE).

The names are exported lazily (attribute access imports the one module), so that importing the package does not
import torch or MONAI.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DualBlock": "skyreconnet",
    "SSIMMSELoss": "skyreconnet",
    "SkyReconNet": "skyreconnet",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = ["DualBlock", "SSIMMSELoss", "SkyReconNet"]
