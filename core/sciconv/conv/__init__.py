"""Convolutions routed through a registered backend.

``sciconv.conv.conv1d/conv2d/conv3d`` take torch's arguments plus ``backend=``; the modules
``Conv1d/Conv2d/Conv3d`` are drop-in subclasses of torch's with a ``backend`` attribute. With
``backend=None`` the backend active for the run is used (the pipeline's ``conv.backend``, set with
:func:`use_backend`). Backends are registered by plugins through ``register_conv_backends``; the core
registers ``torch`` (``torch.nn.functional``), the reference every other backend is tested against,
``fft``, ``im2win`` and ``auto`` (the fastest for each call, :mod:`sciconv.conv.auto`); new backends can
subclass :class:`ConvBackend`. :func:`record_calls` lists the signatures of the convolutions run inside it
(what ``pipeline bench-conv`` tunes for a pipeline). Sparse voxel convolutions live in
:mod:`sciconv.conv.sparse`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

import torch
from torch import nn

from sciconv.conv.backend import ConvBackend
from sciconv.conv.signature import ConvCall
from sciconv.errors import ConfigError, NotFoundError
from sciconv.registry import get_registry

_ACTIVE: ContextVar[str] = ContextVar("sciconv_conv_backend", default="torch")
_RECORDER: ContextVar[list[ConvCall] | None] = ContextVar("sciconv_conv_recorder", default=None)
_REQUIRED = ("conv1d", "conv2d", "conv3d")


def available_backends() -> list[str]:
    """Names of the registered convolution backends."""
    return get_registry().names("conv_backends")


def get_backend(name: str | None = None) -> Any:
    """The backend object registered as ``name`` (default: the active one)."""
    name = name or _ACTIVE.get()
    try:
        backend = get_registry().load("conv_backends", name)
    except NotFoundError as exc:
        raise ConfigError(f"conv backend: {exc}") from None
    missing = [op for op in _REQUIRED if not callable(getattr(backend, op, None))]
    if missing:
        raise ConfigError(f"conv backend {name!r} does not provide {', '.join(missing)}")
    return backend


def active_backend() -> str:
    """Name of the backend used when ``backend=None``."""
    return _ACTIVE.get()


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Make ``name`` the active backend inside the block."""
    get_backend(name)  # fail early on an unknown name
    token = _ACTIVE.set(name)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


@contextmanager
def record_calls() -> Iterator[list[ConvCall]]:
    """Record the signature of every ``sciconv.conv`` convolution run inside the block (functional ops and
    modules alike), in call order, into the yielded list."""
    calls: list[ConvCall] = []
    token = _RECORDER.set(calls)
    try:
        yield calls
    finally:
        _RECORDER.reset(token)


def _run(
    nd: int,
    backend: str | None,
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> torch.Tensor:
    recorder = _RECORDER.get()
    if recorder is not None:
        with suppress(TypeError, ValueError):  # a malformed call: the backend raises its own error below
            recorder.append(ConvCall.from_args(nd, input, weight, bias, stride, padding, dilation, groups))
    return getattr(get_backend(backend), f"conv{nd}d")(input, weight, bias, stride, padding, dilation, groups)


def conv1d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    backend: str | None = None,
) -> torch.Tensor:
    """1D convolution with ``torch.nn.functional.conv1d``'s semantics. Shapes: input (N, C_in, L),
    weight (C_out, C_in / groups, K) -> (N, C_out, L_out)."""
    return _run(1, backend, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    backend: str | None = None,
) -> torch.Tensor:
    """2D convolution with ``torch.nn.functional.conv2d``'s semantics. Shapes: input (N, C_in, H, W),
    weight (C_out, C_in / groups, kH, kW) -> (N, C_out, H_out, W_out)."""
    return _run(2, backend, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    *,
    backend: str | None = None,
) -> torch.Tensor:
    """3D convolution with ``torch.nn.functional.conv3d``'s semantics. Shapes: input (N, C_in, D, H, W),
    weight (C_out, C_in / groups, kD, kH, kW) -> (N, C_out, D_out, H_out, W_out)."""
    return _run(3, backend, input, weight, bias, stride, padding, dilation, groups)


class _BackendConv:
    """Mixin routing torch's ``_conv_forward`` through a sciconv backend."""

    backend: str | None
    _nd: int

    def __init__(self, *args: Any, backend: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backend = backend

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        padding = self.padding  # type: ignore[attr-defined]
        if self.padding_mode != "zeros":  # type: ignore[attr-defined]
            input = nn.functional.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)  # type: ignore[attr-defined]
            padding = 0
        return _run(self._nd, self.backend, input, weight, bias, self.stride, padding, self.dilation, self.groups)  # type: ignore[attr-defined]


class Conv1d(_BackendConv, nn.Conv1d):
    """``torch.nn.Conv1d`` whose convolution runs on a sciconv backend (``backend=None``: the active
    one). Shapes: (N, C_in, L) -> (N, C_out, L_out)."""

    _nd = 1


class Conv2d(_BackendConv, nn.Conv2d):
    """``torch.nn.Conv2d`` on a sciconv backend. Shapes: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    _nd = 2


class Conv3d(_BackendConv, nn.Conv3d):
    """``torch.nn.Conv3d`` on a sciconv backend. Shapes: (N, C_in, D, H, W) -> (N, C_out, D', H', W')."""

    _nd = 3


__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvBackend",
    "ConvCall",
    "active_backend",
    "available_backends",
    "conv1d",
    "conv2d",
    "conv3d",
    "get_backend",
    "record_calls",
    "use_backend",
]
