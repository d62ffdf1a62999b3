"""The base of dense convolution backends.

A backend registered with ``register_conv_backends`` is any object with ``conv1d``, ``conv2d`` and
``conv3d`` of ``torch.nn.functional``'s signatures. Subclassing :class:`ConvBackend` gives those three
from one :meth:`~ConvBackend.convnd`, with the kernel's rank checked against the op.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch


class ConvBackend(ABC):
    """Implement :meth:`convnd`; ``conv1d``, ``conv2d`` and ``conv3d`` call it with ``nd`` = 1, 2, 3.

    Shapes (``convNd``): input ``(N, C_in, *spatial)`` (or unbatched ``(C_in, *spatial)`` where the backend
    accepts it, as torch does), weight ``(C_out, C_in / groups, *kernel)`` with ``nd`` kernel dimensions,
    bias ``(C_out,)`` -> ``(N, C_out, *out_spatial)``. ``stride``, ``padding`` (ints, tuples, ``'same'``,
    ``'valid'``), ``dilation`` and ``groups`` mean what they mean in torch.
    """

    @abstractmethod
    def convnd(
        self,
        nd: int,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> torch.Tensor:
        """The ``nd``-dimensional convolution (``weight`` already checked to have ``nd + 2`` dimensions)."""

    def _dispatch(self, nd: int, input: torch.Tensor, weight: torch.Tensor, *args: Any) -> torch.Tensor:
        if not isinstance(weight, torch.Tensor) or weight.dim() != nd + 2:
            got = list(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
            raise RuntimeError(f"conv{nd}d: expected a {nd + 2}D weight (C_out, C_in / groups, *kernel), got {got}")
        return self.convnd(nd, input, weight, *args)

    def conv1d(
        self,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
    ) -> torch.Tensor:
        """``F.conv1d``: input (N, C_in, L), weight (C_out, C_in / groups, K) -> (N, C_out, L_out)."""
        return self._dispatch(1, input, weight, bias, stride, padding, dilation, groups)

    def conv2d(
        self,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
    ) -> torch.Tensor:
        """``F.conv2d``: input (N, C_in, H, W), weight (C_out, C_in / groups, kH, kW) -> (N, C_out, H', W')."""
        return self._dispatch(2, input, weight, bias, stride, padding, dilation, groups)

    def conv3d(
        self,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
    ) -> torch.Tensor:
        """``F.conv3d``: input (N, C_in, D, H, W), weight (C_out, C_in / groups, kD, kH, kW)
        -> (N, C_out, D', H', W')."""
        return self._dispatch(3, input, weight, bias, stride, padding, dilation, groups)
