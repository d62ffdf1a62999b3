"""Sphere layers: SphereConv against healpy's neighbours (no seams at face edges), exact NESTED pooling against
healpy.ud_grade, unpooling undone by pooling, gradients, and the one-line errors."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
import torch

from sciconv.conv import record_calls
from sciconv.errors import ConfigError, DataError
from sciconv_cmb.healpix_faces import faces_to_map
from sciconv_cmb.sphere_layers import SphereConv, sphere_downsample, sphere_upsample


def _set_kernel(conv: SphereConv, kernel: torch.Tensor) -> None:
    """Put the same single-channel ``kernel`` (k, k) on a 1 -> 1 SphereConv and zero its bias."""
    with torch.no_grad():
        conv.conv.weight.copy_(kernel.reshape(1, 1, *kernel.shape))
        if conv.conv.bias is not None:
            conv.conv.bias.zero_()


@pytest.mark.parametrize(("nside", "kernel_size", "dilation"), [(1, 3, 1), (4, 3, 1), (8, 3, 4), (8, 5, 2), (8, 1, 1)])
def test_centre_kernel_is_identity(nside: int, kernel_size: int, dilation: int) -> None:
    conv = SphereConv(1, 1, nside, kernel_size=kernel_size, dilation=dilation)
    kernel = torch.zeros(kernel_size, kernel_size, dtype=torch.float64)
    kernel[kernel_size // 2, kernel_size // 2] = 1.0
    conv = conv.double()
    _set_kernel(conv, kernel)
    x = torch.randn(3, 1, 12 * nside**2, dtype=torch.float64)
    assert torch.equal(conv(x), x)


def test_averaging_kernel_equals_healpy_neighbour_mean() -> None:
    """With pad 1 the 3x3 window of each pixel is the pixel and its 8 healpy neighbours, so the averaging kernel
    gives mean(self + neighbours) exactly for every pixel of any map but the 8 three-face corner pixels per face
    corner (where healpy has only 7 neighbours)."""
    nside = 8
    npix = 12 * nside**2
    conv = SphereConv(1, 1, nside, kernel_size=3).double()
    _set_kernel(conv, torch.full((3, 3), 1 / 9, dtype=torch.float64))
    rng = np.random.default_rng(0)
    m = rng.normal(size=npix)
    out = conv(torch.as_tensor(m).reshape(1, 1, npix)).detach().reshape(npix).numpy()

    nb = hp.get_all_neighbours(nside, np.arange(npix), nest=True)  # (8, npix), -1 where there is none
    regular = (nb >= 0).all(axis=0)
    assert (~regular).sum() == 24  # 8 three-face points, each touching 3 faces
    expected = (m + m[nb].sum(axis=0)) / 9
    np.testing.assert_allclose(out[regular], expected[regular], rtol=0, atol=1e-12)


def test_no_seams_on_a_smooth_sky() -> None:
    """A smooth map stays smooth: the averaged map differs from the map by the same small amount on face edges
    as inside faces (a seam would show as a jump where the padding is wrong)."""
    nside = 16
    npix = 12 * nside**2
    vec = np.array(hp.pix2vec(nside, np.arange(npix), nest=True))
    m = 1.0 + 0.5 * vec[0] + 0.3 * vec[1] * vec[2]  # a low-order smooth field on the whole sphere
    conv = SphereConv(1, 1, nside, kernel_size=3).double()
    _set_kernel(conv, torch.full((3, 3), 1 / 9, dtype=torch.float64))
    out = conv(torch.as_tensor(m).reshape(1, 1, npix)).detach().reshape(npix).numpy()
    x, y, _ = hp.pix2xyf(nside, np.arange(npix), nest=True)
    edge = (x == 0) | (y == 0) | (x == nside - 1) | (y == nside - 1)
    diff = np.abs(out - m)
    pixel = hp.nside2resol(nside)
    # second order in the pixel size (measured 0.008 at Nside 16, pixel 0.064 rad); zero padding would give ~0.3
    assert diff.max() < 0.25 * pixel
    assert diff[edge].max() < 1.5 * diff[~edge].max()


def test_dilated_conv_matches_faces_to_map_and_records_calls() -> None:
    nside = 8
    conv = SphereConv(3, 5, nside, kernel_size=3, dilation=2)
    x = torch.randn(2, 3, 12 * nside**2)
    with record_calls() as calls:
        out = conv(x)
    assert out.shape == (2, 5, 12 * nside**2)
    assert len(calls) == 1
    # the stitched output is the face images put back with healpix_faces.faces_to_map
    reference = faces_to_map(conv.conv(conv.face_pad(x)))
    assert torch.equal(out, reference)


def test_gradients_flow() -> None:
    nside = 4
    conv = SphereConv(2, 3, nside, dilation=4)
    x = torch.randn(2, 2, 12 * nside**2, requires_grad=True)
    y = sphere_upsample(sphere_downsample(conv(x)))
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert conv.conv.weight.grad is not None and conv.conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("nside", [2, 8, 32])
def test_downsample_is_healpy_ud_grade(nside: int) -> None:
    rng = np.random.default_rng(nside)
    m = rng.normal(size=(2, 3, 12 * nside**2))
    down = sphere_downsample(torch.as_tensor(m)).numpy()
    assert down.shape == (2, 3, 12 * (nside // 2) ** 2)
    for b in range(2):
        for c in range(3):
            expected = hp.ud_grade(m[b, c], nside // 2, order_in="NESTED", order_out="NESTED")
            np.testing.assert_allclose(down[b, c], expected, rtol=0, atol=1e-12)


def test_upsample_then_downsample_is_identity() -> None:
    x = torch.randn(2, 4, 12 * 4**2, dtype=torch.float64)
    up = sphere_upsample(x)
    assert up.shape == (2, 4, 12 * 8**2)
    assert torch.equal(sphere_downsample(up), x)
    # each child holds its parent's value: healpy's NESTED ud_grade up does the same
    expected = hp.ud_grade(x[0, 0].numpy(), 8, order_in="NESTED", order_out="NESTED")
    np.testing.assert_array_equal(up[0, 0].numpy(), expected)


def test_bad_parameters_and_inputs() -> None:
    with pytest.raises(ConfigError, match="exceeds Nside 4"):
        SphereConv(1, 1, 4, kernel_size=3, dilation=8)
    with pytest.raises(ConfigError, match="odd positive"):
        SphereConv(1, 1, 4, kernel_size=2)
    with pytest.raises(ConfigError, match="dilation 0"):
        SphereConv(1, 1, 4, dilation=0)
    with pytest.raises(ConfigError, match="power of 2"):
        SphereConv(1, 1, 6)
    with pytest.raises(DataError, match=r"expected \(B, 2, 192\)"):
        SphereConv(2, 1, 4)(torch.zeros(1, 3, 192))
    with pytest.raises(DataError, match="NESTED maps"):
        sphere_downsample(torch.zeros(1, 1, 100))
    with pytest.raises(DataError, match="no coarser"):
        sphere_downsample(torch.zeros(1, 1, 12))
    with pytest.raises(DataError, match="NESTED maps"):
        sphere_upsample(torch.zeros(4, 12))
