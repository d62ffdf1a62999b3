"""The uatr plugin's models, one per module:

- :mod:`~sciconv_uatr.models.resnet18`: :class:`ResNet18Backbone` on :mod:`sciconv.conv` and the plain ResNet-18
  classifier (registered as ``uatr.resnet18``);
- :mod:`~sciconv_uatr.models.cmoe`: :class:`CMoE` (registered as ``uatr.cmoe``; RCMoE with ``residual=true``).

The names are exported lazily, so that importing the package does not import torch.
"""

from __future__ import annotations

from sciconv.kit import lazy_exports

_EXPORTS = {
    "BasicBlock": "resnet18",
    "ResNet18": "resnet18",
    "ResNet18Backbone": "resnet18",
    "ResNet18Classifier": "resnet18",
    "CMoE": "cmoe",
    "CMoEModel": "cmoe",
    "MixtureOfExpertsHead": "cmoe",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BasicBlock",
    "CMoE",
    "CMoEModel",
    "MixtureOfExpertsHead",
    "ResNet18",
    "ResNet18Backbone",
    "ResNet18Classifier",
]
