"""The cmb-inpainting plugin's models, one per module:

- :mod:`~sciconv_cmb.models.skyreconnet`: :class:`SkyReconNet` (dilated + standard convolutions on the HEALPix
  sphere's 12 base faces, arXiv 2501.06139) and its loss :class:`SSIMMSELoss` (SSIM + MSE).

The names are exported lazily (attribute access imports the one module), so that importing the package does not
import torch or MONAI.
"""

from __future__ import annotations

from sciconv.kit import lazy_exports

_EXPORTS = {
    "DualBlock": "skyreconnet",
    "SSIMMSELoss": "skyreconnet",
    "SkyReconNet": "skyreconnet",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["DualBlock", "SSIMMSELoss", "SkyReconNet"]
