"""The deepfea plugin's models, one per module:

- :mod:`~sciconv_deepfea.models.nep_net`: the NEP net, a ConvLSTM stack with peephole weights sized to the grid
  and node / element heads, rolled out autoregressively (registered as ``deepfea.nep-net``);
- :mod:`~sciconv_deepfea.models.frame_cnn`: the non-recurrent frame CNN baseline (``deepfea.frame-cnn``).

The names are exported lazily, so that importing the package does not import torch.
"""

from __future__ import annotations

from sciconv.kit import lazy_exports

_EXPORTS = {
    "ConvLSTMCell": "nep_net",
    "NEPNet": "nep_net",
    "NEPNetModel": "nep_net",
    "FrameCNN": "frame_cnn",
    "FrameCNNModel": "frame_cnn",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["ConvLSTMCell", "FrameCNN", "FrameCNNModel", "NEPNet", "NEPNetModel"]
