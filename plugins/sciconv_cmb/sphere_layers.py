"""Convolution, pooling and unpooling of NESTED HEALPix maps in torch, on the 12 base faces.

Features travel between layers as NESTED maps ``(B, C, 12*Nside**2)``. :class:`SphereConv` cuts them into the
12 Nside x Nside base-face images with ``pad`` pixels of the true neighbouring faces around each
(:class:`~sciconv_cmb.healpix_faces.FacePad`), convolves those with :class:`sciconv.conv.Conv2d` (so the run's
convolution backend does the work and :func:`sciconv.conv.record_calls` sees every call), and stitches the
result back into a NESTED map. With ``pad = dilation * (kernel_size // 2)`` the output has the input's Nside and
there is no seam at face edges: a 3x3 window of a pixel is the pixel and its 8 healpy neighbours everywhere but
at the 8 points where only three faces meet (see :func:`~sciconv_cmb.healpix_faces.padded_index`).

:func:`sphere_downsample` and :func:`sphere_upsample` change the resolution by a factor 2 exactly: in NESTED
ordering the 4 children of pixel ``p`` at Nside ``2N`` are ``4p .. 4p + 3``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from sciconv.conv import Conv2d
from sciconv.errors import ConfigError, DataError
from sciconv_cmb.healpix_faces import FacePad, face_index

__all__ = ["SphereConv", "sphere_downsample", "sphere_upsample"]


class SphereConv(nn.Module):
    """A 2-D convolution on the sphere: ``(B, C_in, 12*nside**2)`` NESTED -> ``(B, C_out, 12*nside**2)`` NESTED.

    ``FacePad(nside, pad=dilation * (kernel_size // 2))`` turns the maps into ``(B*12, C_in, N + 2p, N + 2p)``
    neighbour-padded faces, :class:`sciconv.conv.Conv2d` ``(C_in, C_out, kernel_size, dilation=dilation,
    padding=0)`` convolves them to ``(B*12, C_out, N, N)``, and the faces go back to NESTED maps. A 1x1 kernel
    needs no neighbours: it runs as the same ``Conv2d`` on the maps viewed as ``(B, C_in, npix, 1)`` images,
    skipping the two gathers (the result is the same).

    Args:
        in_channels, out_channels: feature channels.
        nside: HEALPix Nside of the maps (a power of 2).
        kernel_size: odd kernel side, in pixels.
        dilation: kernel dilation; ``dilation * (kernel_size // 2) <= nside`` (a window reaches no further than
            the neighbouring faces).
        bias: learn an additive bias.
        backend: the :mod:`sciconv.conv` backend (``None``: the run's active one).

    Shapes: ``(B, C_in, 12*nside**2) -> (B, C_out, 12*nside**2)``.
    """

    inverse: Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        nside: int,
        kernel_size: int = 3,
        dilation: int = 1,
        bias: bool = True,
        backend: str | None = None,
    ) -> None:
        super().__init__()
        try:
            faces = face_index(nside)
        except DataError as exc:
            raise ConfigError(f"SphereConv: {exc}") from None
        if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"SphereConv: kernel_size {kernel_size}: expected an odd positive integer")
        if int(dilation) != dilation or dilation < 1:
            raise ConfigError(f"SphereConv: dilation {dilation}: expected a positive integer")
        pad = int(dilation) * (int(kernel_size) // 2)
        if pad > nside:
            raise ConfigError(
                f"SphereConv: dilation * (kernel_size // 2) = {pad} exceeds Nside {nside}; a window may reach only"
                " the neighbouring faces (use a smaller dilation or kernel at this resolution)"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.nside, self.kernel_size, self.dilation, self.pad = int(nside), int(kernel_size), int(dilation), pad
        self.face_pad = FacePad(self.nside, pad) if self.kernel_size > 1 else None
        self.conv = Conv2d(in_channels, out_channels, kernel_size, dilation=dilation, padding=0, bias=bias,
                           backend=backend)  # fmt: skip
        # position in the (face, x, y)-flattened stack of every NESTED pixel: faces -> map in one gather
        inverse = np.argsort(faces.reshape(-1))
        self.register_buffer("inverse", torch.as_tensor(inverse, dtype=torch.long), persistent=False)

    def reset_parameters(self) -> None:
        """Re-initialise the convolution's weight and bias (torch's default initialisation)."""
        self.conv.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        npix = 12 * self.nside**2
        if x.dim() != 3 or x.shape[1] != self.in_channels or x.shape[2] != npix:
            raise DataError(
                f"SphereConv(nside={self.nside}) got input of shape {tuple(x.shape)}; expected"
                f" (B, {self.in_channels}, {npix})"
            )
        if self.face_pad is None:
            return self.conv(x.unsqueeze(-1)).squeeze(-1)
        b = x.shape[0]
        faces = self.conv(self.face_pad(x))  # (B*12, C_out, N, N)
        stacked = faces.reshape(b, 12, self.out_channels, npix // 12).transpose(1, 2)
        return stacked.reshape(b, self.out_channels, npix)[..., self.inverse]

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, nside={self.nside}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, pad={self.pad}, bias={self.conv.bias is not None}"
        )


def _map_nside(x: Tensor, what: str) -> int:
    npix = int(x.shape[-1]) if x.dim() == 3 else 0
    nside = round(float(np.sqrt(npix / 12))) if npix else 0
    if x.dim() != 3 or nside < 1 or 12 * nside * nside != npix or nside & (nside - 1):
        raise DataError(f"{what} got input of shape {tuple(x.shape)}; expected NESTED maps (B, C, 12*Nside**2)")
    return nside


def sphere_downsample(x: Tensor) -> Tensor:
    """Halve the Nside of NESTED maps: ``(B, C, 12*N**2) -> (B, C, 12*(N/2)**2)``, each pixel the mean of its 4
    children; exactly ``healpy.ud_grade(m, N // 2, order_in='NESTED', order_out='NESTED')``. Needs N >= 2."""
    if _map_nside(x, "sphere_downsample") < 2:
        raise DataError(f"sphere_downsample got Nside 1 maps of shape {tuple(x.shape)}; there is no coarser Nside")
    b, c, npix = x.shape
    return x.reshape(b, c, npix // 4, 4).mean(-1)


def sphere_upsample(x: Tensor) -> Tensor:
    """Double the Nside of NESTED maps: ``(B, C, 12*N**2) -> (B, C, 12*(2N)**2)``, each pixel copied to its 4
    children (nearest-neighbour unpooling; :func:`sphere_downsample` undoes it exactly)."""
    _map_nside(x, "sphere_upsample")
    return x.repeat_interleave(4, dim=-1)
