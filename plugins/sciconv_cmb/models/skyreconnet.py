"""SkyReconNet (arXiv 2501.06139): inpainting of full-sky CMB temperature maps on the HEALPix sphere, and its
SSIM + MSE loss.

What the paper's abstract fixes: the network combines dilated convolutions (a large receptive field: global
context) with standard convolutions (local detail), and trains on SSIM + MSE. Everything else here is OUR
choice, not the paper's (which does not give it in the abstract): the projection, the depth, the dilation rates,
the widths, the normalisation and the pass-through of observed pixels.

* Projection (ours): the 12 HEALPix NESTED base faces as Nside x Nside images, exact, with neighbour padding
  across face edges (:class:`~sciconv_cmb.sphere_layers.SphereConv`). Features travel between layers as NESTED
  maps ``(B, C, 12*Nside**2)``; pooling and unpooling are exact NESTED parent/children operations.
* Architecture (ours): a multi-resolution encoder-decoder on the sphere (U-Net layout). Level ``i`` works at
  ``Nside / 2**i`` with ``channels[i]`` features; every level is made of :class:`DualBlock` s (a standard 3x3
  branch beside a cascade of dilated 3x3 convolutions, concatenated and fused by a 1x1 convolution, with a
  residual connection); the decoder fuses each encoder level into the same resolution through a skip
  connection (concatenation, then a dual block). A final 1x1 convolution gives one channel.
* Output (ours): the network only fills holes: observed pixels (mask > 0) are passed through unchanged.

:class:`SSIMMSELoss` is ``alpha * MSE + (1 - alpha) * (1 - SSIM)`` on the whole maps, SSIM from MONAI on the 12
neighbour-padded faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec
from sciconv_cmb.healpix_faces import FacePad, face_index
from sciconv_cmb.sphere_layers import SphereConv, sphere_downsample, sphere_upsample

__all__ = ["DualBlock", "SSIMMSELoss", "SkyReconNet"]


class DualBlock(nn.Module):
    """One dual-branch residual block on NESTED maps (our design after the paper's abstract).

    * local branch: 3x3 :class:`SphereConv` -> BatchNorm -> ReLU (local detail);
    * context branch: a cascade of 3x3 :class:`SphereConv` s with dilations ``dilations`` (each capped at
      ``nside``, the largest reach the face padding allows), each followed by BatchNorm -> ReLU; the cascade's
      receptive field is ``1 + 2 * sum(dilations)`` pixels (31 for 1, 2, 4, 8): global context;
    * the two branches concatenated, fused by a 1x1 SphereConv -> BatchNorm, added to the shortcut (identity,
      or a 1x1 SphereConv when the channel count changes), then ReLU.

    Convolutions followed by BatchNorm have no bias. Parameters: ``9*i*o + 2o`` (local) ``+ 9*i*o +
    9*o*o*(k-1) + 2o*k`` (context, ``k = len(dilations)``) ``+ 2*o*o + 2o`` (fuse) ``+ (i*o + o if i != o)``
    (shortcut), with ``i, o`` the input and output channels.

    Shapes: ``(B, in_channels, 12*nside**2) -> (B, out_channels, 12*nside**2)``.
    """

    def __init__(self, in_channels: int, out_channels: int, nside: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.local = nn.Sequential(
            SphereConv(in_channels, out_channels, nside, 3, bias=False), nn.BatchNorm1d(out_channels), nn.ReLU()
        )
        layers: list[nn.Module] = []
        width = in_channels
        for d in dilations:
            layers += [SphereConv(width, out_channels, nside, 3, dilation=min(int(d), nside), bias=False)]
            layers += [nn.BatchNorm1d(out_channels), nn.ReLU()]
            width = out_channels
        self.context = nn.Sequential(*layers)
        self.fuse = nn.Sequential(
            SphereConv(2 * out_channels, out_channels, nside, 1, bias=False), nn.BatchNorm1d(out_channels)
        )
        self.shortcut: nn.Module = (
            nn.Identity() if in_channels == out_channels else SphereConv(in_channels, out_channels, nside, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        both = torch.cat([self.local(x), self.context(x)], dim=1)
        return F.relu(self.fuse(both) + self.shortcut(x))


class SkyReconNet(nn.Module):
    """SkyReconNet: CMB temperature inpainting on the HEALPix sphere, dilated + standard convolutions
    (arXiv 2501.06139; the layout below is OUR choice, see the module docstring).

    Encoder: level 0 at Nside, level ``i`` at ``Nside / 2**i`` after exact NESTED mean pooling, each level
    ``blocks_per_level`` :class:`DualBlock` s to ``channels[i]`` features (the first block of level 0 reads the
    2 input channels). Decoder: from the deepest level up, unpool (each pixel to its 4 children), concatenate the
    encoder features of the same level (skip connection), ``blocks_per_level`` dual blocks to ``channels[i]``.
    Head: a 1x1 convolution to one channel. Dilations are capped at each level's Nside (at Nside 8 the
    deepest of 4 levels is Nside 1, where every dilation is 1), so the parameter count does not depend on Nside.

    With the defaults (channels (16, 32, 64, 64), dilations (1, 2, 4, 8), one block per level) the network has
    **785,873** parameters; every convolution is a :class:`~sciconv_cmb.sphere_layers.SphereConv`
    (49 of them, each one :mod:`sciconv.conv` call per forward).

    Args:
        spec: ``input_shape == (2, 12*nside**2)`` and ``spec.extra["nside"] == nside`` (a power of 2).
        channels: features per level, one entry per level (``len(channels)`` levels);
            ``Nside / 2**(len(channels) - 1) >= 1``.
        dilations: dilation rates of the context branch's cascade of 3x3 convolutions.
        blocks_per_level: dual blocks per level, in the encoder and in the decoder.

    Shapes: ``(B, 2, 12*nside**2) -> (B, 1, 12*nside**2)``, NESTED; see :meth:`forward`.
    """

    def __init__(
        self,
        spec: DataSpec,
        channels: Sequence[Annotated[int, Field(ge=1)]] = (16, 32, 64, 64),
        dilations: Sequence[Annotated[int, Field(ge=1)]] = (1, 2, 4, 8),
        blocks_per_level: Annotated[int, Field(ge=1)] = 1,
    ) -> None:
        super().__init__()
        self.nside = _nside_of_spec(spec)
        channels, dilations = [int(c) for c in channels], [int(d) for d in dilations]
        if not channels or any(c < 1 for c in channels):
            raise ConfigError(f"skyreconnet: channels {channels}: expected one or more positive widths, one per level")
        if not dilations or any(d < 1 for d in dilations):
            raise ConfigError(f"skyreconnet: dilations {dilations}: expected one or more positive dilation rates")
        if int(blocks_per_level) != blocks_per_level or blocks_per_level < 1:
            raise ConfigError(f"skyreconnet: blocks_per_level {blocks_per_level}: expected an integer >= 1")
        levels = len(channels)
        if self.nside < 2 ** (levels - 1):
            raise ConfigError(
                f"skyreconnet: {levels} levels need Nside >= {2 ** (levels - 1)} (Nside / 2**(levels - 1) >= 1),"
                f" the data has Nside {self.nside}; use fewer channels entries"
            )
        self.channels, self.dilations, self.blocks_per_level = tuple(channels), tuple(dilations), int(blocks_per_level)

        def level(in_channels: int, out_channels: int, nside: int) -> nn.Sequential:
            widths = [in_channels] + [out_channels] * blocks_per_level
            return nn.Sequential(
                *(DualBlock(widths[b], widths[b + 1], nside, dilations) for b in range(blocks_per_level))
            )

        nsides = [self.nside // 2**i for i in range(levels)]
        self.encoder = nn.ModuleList(
            level(2 if i == 0 else channels[i - 1], channels[i], nsides[i]) for i in range(levels)
        )
        self.decoder = nn.ModuleList(
            level(channels[i + 1] + channels[i], channels[i], nsides[i]) for i in range(levels - 1)
        )
        self.head = SphereConv(channels[0], 1, self.nside, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Fill the masked pixels of NESTED maps.

        Args:
            x: (B, 2, 12*nside**2) NESTED. Channel 0 is the masked map, normalised (unit std, 0 at masked pixels);
                channel 1 the mask (1 observed, 0 masked; apodised values in between count as observed when > 0).

        Returns:
            (B, 1, 12*nside**2): ``obs * x[:, :1] + (1 - obs) * prediction`` with ``obs = (mask > 0)``, so observed
            pixels pass through unchanged and the network only fills the holes.
        """
        npix = 12 * self.nside**2
        if x.dim() != 3 or x.shape[1] != 2 or x.shape[2] != npix:
            raise DataError(
                f"skyreconnet (Nside {self.nside}) got input of shape {tuple(x.shape)}; expected (B, 2, {npix}):"
                " the masked map and the mask, NESTED"
            )
        skips: list[Tensor] = []
        h = x
        for i, block in enumerate(self.encoder):
            if i > 0:
                h = sphere_downsample(h)
            h = block(h)
            skips.append(h)
        for i in range(len(self.decoder) - 1, -1, -1):
            h = self.decoder[i](torch.cat([sphere_upsample(h), skips[i]], dim=1))
        prediction = self.head(h)
        observed = (x[:, 1:2] > 0).to(x.dtype)
        return observed * x[:, :1] + (1 - observed) * prediction


def _nside_of_spec(spec: DataSpec) -> int:
    """The Nside in ``spec.extra['nside']``, checked against ``spec.input_shape == (2, 12*nside**2)``."""
    extra = dict(spec.extra or {})
    if "nside" not in extra:
        raise DataError("skyreconnet: spec.extra['nside'] is missing; the dataset must give the maps' HEALPix Nside")
    nside = extra["nside"]
    try:
        face_index(nside)
    except (DataError, TypeError, ValueError):
        raise DataError(
            f"skyreconnet: spec.extra['nside'] = {nside!r}; expected a power of 2 (1, 2, 4, 8, ...)"
        ) from None
    nside = int(nside)
    shape = tuple(spec.input_shape)
    if shape != (2, 12 * nside**2):
        raise DataError(
            f"skyreconnet: spec.input_shape {shape} does not fit Nside {nside}; expected (2, {12 * nside**2}):"
            " the masked map and the mask"
        )
    return nside


class SSIMMSELoss(nn.Module):
    """``alpha * MSE + (1 - alpha) * (1 - SSIM)`` between predicted and true NESTED maps.

    Both terms are over the full maps (observed pixels pass through :class:`SkyReconNet` unchanged, so they add
    nothing to the MSE and SSIM 1 where the window sees only observed pixels). MSE: ``mean((pred - target)**2)``
    over every pixel and map. SSIM: MONAI's :class:`monai.losses.SSIMLoss` (2-D, Gaussian window
    ``win_size`` x ``win_size``, sigma 1.5, k1 0.01, k2 0.03) on the 12 base faces of each map, each padded with
    ``win_size // 2`` pixels of its neighbouring faces (:class:`~sciconv_cmb.healpix_faces.FacePad`): then every
    pixel of the sphere is the centre of exactly one SSIM window (without padding only the centres
    ``win_size // 2`` pixels away from a face edge would count: 48 of 768 pixels at Nside 8), and SSIM is their
    mean.

    SSIM's luminance term ``(2 mu_x mu_y + C1) / (mu_x**2 + mu_y**2 + C1)`` assumes values in ``[0, data_range]``
    (images). Normalised CMB maps are zero-mean, and with local means near 0 that term becomes a very steep
    penalty on small offsets (a uniform offset of 0.3 std gives SSIM 0.43 at Nside 8, worse than white noise of
    the same MSE, 0.88), whose weight varies a hundredfold with the local mean. So (our choice) both maps are
    shifted by ``shift`` (default ``data_range / 2``: +-4 std maps to [0, 8], the images SSIM is made for) before
    SSIM; ``shift=0`` gives SSIM of the maps as they are. The MSE does not depend on the shift.

    Args:
        nside: Nside of the maps (a power of 2, ``win_size // 2 <= nside``).
        alpha: weight of the MSE, in [0, 1].
        data_range: the dynamic range fixing SSIM's constants ``(0.01 * data_range)**2`` and
            ``(0.03 * data_range)**2``, in the maps' units (maps normalised to unit std: 8 covers +-4 sigma).
        win_size: odd SSIM window side, in pixels (7 by default: the faces at Nside 8 are 8 x 8).
        shift: added to both maps before SSIM, in the maps' units (``None``: ``data_range / 2``).

    Shapes: ``pred``, ``target`` (B, 1, 12*nside**2) -> a scalar.
    """

    def __init__(
        self,
        nside: int,
        alpha: float = 0.5,
        data_range: float = 8.0,
        win_size: int = 7,
        shift: float | None = None,
    ) -> None:
        super().__init__()
        from monai.losses import SSIMLoss

        try:
            face_index(nside)
        except DataError:
            raise ConfigError(f"SSIMMSELoss: nside {nside}: expected a power of 2 (1, 2, 4, 8, ...)") from None
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"SSIMMSELoss: alpha {alpha}: expected a weight in [0, 1]")
        if not data_range > 0:
            raise ConfigError(f"SSIMMSELoss: data_range {data_range}: expected a positive range")
        if int(win_size) != win_size or win_size < 3 or win_size % 2 == 0 or win_size // 2 > nside:
            raise ConfigError(
                f"SSIMMSELoss: win_size {win_size}: expected an odd integer >= 3 with win_size // 2 <= Nside ({nside})"
            )
        self.nside, self.alpha, self.data_range, self.win_size = (
            int(nside),
            float(alpha),
            float(data_range),
            int(win_size),
        )
        self.shift = self.data_range / 2 if shift is None else float(shift)
        self.face_pad = FacePad(self.nside, self.win_size // 2)
        self.ssim = SSIMLoss(spatial_dims=2, data_range=self.data_range, win_size=self.win_size)

    def terms(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        """The two terms: ``{"mse": MSE, "ssim": mean SSIM}`` (scalars, with gradients)."""
        npix = 12 * self.nside**2
        if pred.shape != target.shape or pred.dim() != 3 or pred.shape[1] != 1 or pred.shape[2] != npix:
            raise DataError(
                f"SSIMMSELoss (Nside {self.nside}): pred {tuple(pred.shape)} and target {tuple(target.shape)};"
                f" expected both (B, 1, {npix})"
            )
        mse = F.mse_loss(pred, target)
        ssim = 1 - self.ssim(self.face_pad(pred + self.shift), self.face_pad(target + self.shift))
        return {"mse": mse, "ssim": ssim}

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        terms = self.terms(pred, target)
        return self.alpha * terms["mse"] + (1 - self.alpha) * (1 - terms["ssim"])

    def extra_repr(self) -> str:
        return (
            f"nside={self.nside}, alpha={self.alpha}, data_range={self.data_range}, win_size={self.win_size}, "
            f"shift={self.shift}"
        )
