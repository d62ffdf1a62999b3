"""The medical segmentation plugin's models, one per module, each with its registered factory:

- :mod:`~sciconv_medseg.models.swin_unetr`: :func:`SwinUNETRNet`, MONAI's 3-D ``SwinUNETR`` (``medseg.swin-unetr``);
- :mod:`~sciconv_medseg.models.hybridgnet`: :class:`HybridGNet` (landmark graph decoder with image-to-graph skip
  connections), its loss :class:`HybridGNetLoss` and factory :func:`HybridGNetNet` (``medseg.hybridgnet``);
- :mod:`~sciconv_medseg.models.unet`: :func:`UNetNet`, MONAI's 2-D ``UNet`` with a sigmoid per organ
  (``medseg.unet``, the chest task's pixel baseline).

The names are exported lazily (attribute access imports the one module), so that a Swin UNETR run does not import
torch-geometric and a HybridGNet run does not import MONAI's transformer code.
"""

from __future__ import annotations

from sciconv.kit import lazy_exports

_EXPORTS = {
    "SwinUNETRNet": "swin_unetr",
    "HybridGNet": "hybridgnet",
    "HybridGNetLoss": "hybridgnet",
    "HybridGNetNet": "hybridgnet",
    "UNetNet": "unet",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["HybridGNet", "HybridGNetLoss", "HybridGNetNet", "SwinUNETRNet", "UNetNet"]
