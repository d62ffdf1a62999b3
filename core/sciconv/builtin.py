"""The core's own plugin: the reference convolution backend.

Registered through the ``sciconv`` entry-point group like any other plugin.
"""

from __future__ import annotations

from sciconv.hookspecs import Register, hookimpl


@hookimpl
def register_conv_backends(register: Register) -> None:
    # torch.nn.functional provides conv1d/conv2d/conv3d with exactly the backend signature.
    register("torch", "torch.nn:functional")
