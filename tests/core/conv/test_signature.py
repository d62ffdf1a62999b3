"""ConvCall: normalisation, keys, serialisation and the grad mode read from autograd."""

from __future__ import annotations

import pytest
import torch

from sciconv.conv.signature import ConvCall


def _call(**kwargs):
    x = torch.randn(2, 4, 10, 12)
    w = torch.randn(8, 2, 3, 3)
    args = {"stride": 1, "padding": 1, "dilation": 1, "groups": 2, **kwargs}
    return ConvCall.from_args(2, x, w, None, args["stride"], args["padding"], args["dilation"], args["groups"])


def test_equivalent_arguments_give_one_signature() -> None:
    assert _call(stride=2, padding=1).key == _call(stride=(2, 2), padding=[1, 1]).key
    assert _call(padding="same").key != _call(padding=1).key
    call = _call()
    assert call.stride == (1, 1) and call.padding == (1, 1) and call.kernel == (3, 3) and call.taps == 9
    assert call.kind == "dense" and call.bias is False and call.mode == "infer"


def test_mode_follows_autograd() -> None:
    x = torch.randn(1, 3, 16, requires_grad=True)
    w = torch.randn(3, 1, 5)
    assert ConvCall.from_args(1, x, w, None, 1, 0, 1, 3).mode == "train"
    with torch.no_grad():
        assert ConvCall.from_args(1, x, w, None, 1, 0, 1, 3).mode == "infer"
    assert ConvCall.from_args(1, x.detach(), w, None, 1, 0, 1, 3).kind == "depthwise"


def test_round_trip_and_tensors() -> None:
    call = _call(padding="same").with_mode("train")
    again = ConvCall.from_dict(call.to_dict())
    assert again == call and again.key == call.key
    x, w, b = call.tensors()
    assert tuple(x.shape) == call.input_shape and tuple(w.shape) == call.weight_shape and b is None


def test_inconsistent_signatures_are_rejected() -> None:
    with pytest.raises(ValueError, match="conv2d needs a 4D weight"):
        ConvCall(2, (1, 3, 8, 8), (3, 3, 3), (1, 1), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="mode"):
        ConvCall(1, (1, 3, 8), (3, 3, 3), (1,), (0,), (1,), mode="backward")
