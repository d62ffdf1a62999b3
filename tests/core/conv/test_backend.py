"""ConvBackend: one convnd gives the three torch-compatible ops, with the kernel's rank checked."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sciconv import hookimpl
from sciconv.conv import ConvBackend, available_backends, get_backend
from sciconv.testing import check_plugin, registered_plugin


class Reference(ConvBackend):
    """The smallest backend: torch itself, through convnd."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def convnd(self, nd, input, weight, bias, stride, padding, dilation, groups):
        self.calls.append(nd)
        return getattr(F, f"conv{nd}d")(input, weight, bias, stride, padding, dilation, groups)


def test_the_three_ops_route_to_convnd_with_their_rank() -> None:
    backend = Reference()
    backend.conv1d(torch.randn(1, 2, 9), torch.randn(3, 2, 3))
    backend.conv2d(torch.randn(1, 2, 9, 9), torch.randn(3, 2, 3, 3), padding="same")
    backend.conv3d(torch.randn(1, 2, 5, 5, 5), torch.randn(4, 1, 3, 3, 3), groups=2)
    assert backend.calls == [1, 2, 3]


def test_a_subclass_passes_the_conformance_kit_as_a_plugin_backend() -> None:
    class Plugin:
        @hookimpl
        def register_conv_backends(self, register):
            register("reference-subclass", Reference())

    with registered_plugin(Plugin(), "reference-subclass-plugin"):
        assert check_plugin("reference-subclass-plugin").conv_backends == ["reference-subclass"]


@pytest.mark.parametrize("name", [b for b in ("fft", "im2win") if b in available_backends()])
@pytest.mark.parametrize(("op", "weight_rank"), [("conv1d", 4), ("conv2d", 3), ("conv3d", 4)])
def test_a_kernel_of_the_wrong_rank_is_refused(name: str, op: str, weight_rank: int) -> None:
    backend = get_backend(name)
    assert isinstance(backend, ConvBackend)
    nd = int(op[4])
    x = torch.randn(1, 2, *([6] * nd))
    w = torch.randn(3, 2, *([3] * (weight_rank - 2)))
    with pytest.raises(RuntimeError, match=rf"{op}: expected a {nd + 2}D weight"):
        getattr(backend, op)(x, w)
