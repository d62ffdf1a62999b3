"""The signature of one convolution call: what the ``auto`` backend decides on and what tuning measures.

A :class:`ConvCall` holds the shapes and arguments of a ``convNd`` call, normalised (``stride=2`` and
``stride=(2, 2)`` are the same call), plus the dtype, the device type and whether gradients flow
(``train``: forward and backward, ``infer``: forward only). Its :attr:`~ConvCall.key` is a stable string,
used as the key of the tuning cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["ConvCall", "grad_mode"]


def _ints(value: Any, nd: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * nd
    out = tuple(int(v) for v in value)
    return out * nd if len(out) == 1 else out


def grad_mode(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> str:
    """``"train"`` when this call will be differentiated (grad enabled and a tensor requires grad), else
    ``"infer"``."""
    if torch.is_grad_enabled() and (
        input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    ):
        return "train"
    return "infer"


@dataclass(frozen=True)
class ConvCall:
    """One convolution's signature.

    Attributes:
        nd: spatial dimensions (1, 2 or 3).
        input_shape: ``(N, C_in, *spatial)`` (or unbatched ``(C_in, *spatial)``).
        weight_shape: ``(C_out, C_in / groups, *kernel)``.
        stride, dilation: ``nd`` ints each.
        padding: ``"same"``, ``"valid"`` or ``nd`` ints (zeros padding on both sides).
        groups: channel groups.
        bias: whether a bias is added.
        dtype: torch dtype name, e.g. ``"float32"``.
        device: device type, ``"cpu"`` or ``"cuda"``.
        mode: ``"train"`` (forward and backward) or ``"infer"`` (forward only).
    """

    nd: int
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    stride: tuple[int, ...]
    padding: str | tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int = 1
    bias: bool = True
    dtype: str = "float32"
    device: str = "cpu"
    mode: str = "infer"

    def __post_init__(self) -> None:
        if self.nd not in (1, 2, 3):
            raise ValueError(f"ConvCall.nd must be 1, 2 or 3, got {self.nd}")
        if self.mode not in ("train", "infer"):
            raise ValueError(f"ConvCall.mode must be 'train' or 'infer', got {self.mode!r}")
        if len(self.weight_shape) != self.nd + 2 or len(self.input_shape) not in (self.nd + 1, self.nd + 2):
            raise ValueError(
                f"ConvCall: conv{self.nd}d needs a {self.nd + 2}D weight and a {self.nd + 2}D (or unbatched "
                f"{self.nd + 1}D) input, got {self.weight_shape} and {self.input_shape}"
            )

    @classmethod
    def from_args(
        cls,
        nd: int,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> ConvCall:
        """The signature of ``convNd(input, weight, bias, stride, padding, dilation, groups)`` as called now
        (the grad mode is read from autograd's state)."""
        pad: str | tuple[int, ...] = padding if isinstance(padding, str) else _ints(padding, nd)
        return cls(
            nd=nd,
            input_shape=tuple(input.shape),
            weight_shape=tuple(weight.shape),
            stride=_ints(stride, nd),
            padding=pad,
            dilation=_ints(dilation, nd),
            groups=int(groups),
            bias=bias is not None,
            dtype=str(input.dtype).removeprefix("torch."),
            device=input.device.type,
            mode=grad_mode(input, weight, bias),
        )

    @property
    def kernel(self) -> tuple[int, ...]:
        """Kernel sizes, ``nd`` ints."""
        return self.weight_shape[2:]

    @property
    def taps(self) -> int:
        """Kernel volume: multiply-adds per output element and input channel of a group."""
        return math.prod(self.kernel)

    @property
    def kind(self) -> str:
        """``"depthwise"`` (one input channel per group) or ``"dense"`` (every other grouping)."""
        return "depthwise" if self.weight_shape[1] == 1 else "dense"

    @property
    def key(self) -> str:
        """A stable, readable string naming the signature (the tuning cache's key)."""

        def dims(values: tuple[int, ...]) -> str:
            return "x".join(str(v) for v in values)

        pad = self.padding if isinstance(self.padding, str) else dims(self.padding)
        return (
            f"conv{self.nd}d in={dims(self.input_shape)} w={dims(self.weight_shape)} s={dims(self.stride)} "
            f"p={pad} d={dims(self.dilation)} g={self.groups} b={int(self.bias)} {self.dtype} {self.device} "
            f"{self.mode}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields (:meth:`from_dict` inverts it)."""
        return {
            "nd": self.nd,
            "input_shape": list(self.input_shape),
            "weight_shape": list(self.weight_shape),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias,
            "dtype": self.dtype,
            "device": self.device,
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConvCall:
        """The call described by :meth:`to_dict`'s output."""
        padding = data["padding"]
        return cls(
            nd=int(data["nd"]),
            input_shape=tuple(int(v) for v in data["input_shape"]),
            weight_shape=tuple(int(v) for v in data["weight_shape"]),
            stride=tuple(int(v) for v in data["stride"]),
            padding=padding if isinstance(padding, str) else tuple(int(v) for v in padding),
            dilation=tuple(int(v) for v in data["dilation"]),
            groups=int(data.get("groups", 1)),
            bias=bool(data.get("bias", True)),
            dtype=str(data.get("dtype", "float32")),
            device=str(data.get("device", "cpu")),
            mode=str(data.get("mode", "infer")),
        )

    def with_mode(self, mode: str) -> ConvCall:
        """The same call in another grad mode."""
        return ConvCall(**{**self.__dict__, "mode": mode})

    def tensors(self, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Random input, weight (scaled by 1/sqrt(fan-in)) and bias of this signature, on its device."""
        gen = torch.Generator().manual_seed(seed)
        dtype = getattr(torch, self.dtype)
        x = torch.randn(self.input_shape, generator=gen, dtype=dtype)
        w = torch.randn(self.weight_shape, generator=gen, dtype=dtype) / math.sqrt(self.weight_shape[1] * self.taps)
        b = torch.randn(self.weight_shape[0], generator=gen, dtype=dtype) if self.bias else None
        tensors = (x, w, b)
        return tuple(t.to(self.device) if t is not None else None for t in tensors)  # type: ignore[return-value]
