"""The core's own plugin: the convolution backends of :mod:`sciconv.conv`.

Registered through the ``sciconv`` entry-point group like any other plugin. ``torch`` is the reference
every other backend is tested against; ``fft`` computes through real FFTs (long kernels and sequences);
``im2win`` is the window-order transform of Lu et al.; ``auto`` picks one of them per call from measured
crossovers (:mod:`sciconv.conv.auto`). The sparse
voxel convolutions (:mod:`sciconv.conv.sparse`) work on sparse tensors, not through this dense interface.
"""

from __future__ import annotations

from sciconv.hookspecs import Register, hookimpl


@hookimpl
def register_conv_backends(register: Register) -> None:
    # torch.nn.functional provides conv1d/conv2d/conv3d with exactly the backend signature.
    register("torch", "torch.nn:functional")
    register("im2win", "sciconv.conv.im2win:backend")
    register("fft", "sciconv.conv.fft:backend")
    register("auto", "sciconv.conv.auto:backend")
