"""The exact HEALPix symmetries used to augment training skies: permutations that keep the power spectrum, and
the augmented items keep their mask."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
import torch

from sciconv_cmb.datasets import network_items
from sciconv_cmb.sky_augmentation import SkyAugmented, healpix_symmetries


@pytest.mark.parametrize("nside", [1, 4, 16])
def test_symmetries_are_16_distinct_pixel_permutations_with_the_identity_first(nside: int) -> None:
    perms = healpix_symmetries(nside)
    assert perms.shape == (16, 12 * nside**2)
    np.testing.assert_array_equal(perms[0], np.arange(12 * nside**2))
    assert len({tuple(row) for row in perms}) == 16
    assert all(np.array_equal(np.sort(row), np.arange(12 * nside**2)) for row in perms)


def test_symmetries_move_the_sky_rigidly_and_keep_its_power_spectrum() -> None:
    nside = 16
    perms = healpix_symmetries(nside)
    cl = np.zeros(3 * nside)
    cl[2:] = 1.0 / np.arange(2, 3 * nside) ** 2
    sky = hp.synfast(cl, nside, new=True, lmax=3 * nside - 1)
    sky = hp.reorder(sky, r2n=True)
    x, y, z = hp.pix2vec(nside, np.arange(12 * nside**2), nest=True)
    for row in perms:
        moved = sky[row]
        # every pixel pair keeps its angular distance: the map is the sky seen rotated or mirrored
        np.testing.assert_allclose(
            hp.anafast(hp.reorder(moved, n2r=True)), hp.anafast(hp.reorder(sky, n2r=True)), rtol=1e-8, atol=1e-14
        )
        source = np.stack([x[row], y[row], z[row]])
        np.testing.assert_allclose(np.abs(source[2]), np.abs(z))  # latitude kept up to the equatorial reflection
    # rotation by 90 degrees about the pole: the pixel at longitude phi shows the sky from phi - 90 degrees
    theta, phi = hp.pix2ang(nside, perms[4], nest=True)
    theta0, phi0 = hp.pix2ang(nside, np.arange(12 * nside**2), nest=True)
    np.testing.assert_allclose(theta, theta0)
    np.testing.assert_allclose(np.mod(phi0 - phi, 2 * np.pi), np.pi / 2, atol=1e-9)


def test_augmented_items_change_the_sky_and_keep_the_mask() -> None:
    nside = 4
    rng = np.random.default_rng(0)
    maps = rng.normal(0, 30, (3, 12 * nside**2))
    masks = (rng.random((3, 12 * nside**2)) > 0.3).astype(float)
    items = network_items(maps, masks, 30.0)
    augmented = SkyAugmented(items, nside, seed=5)
    assert len(augmented) == 3
    perms = torch.as_tensor(healpix_symmetries(nside))
    changed = 0
    for _ in range(10):
        for i in range(3):
            x0, y0 = items[i]
            x, y = augmented[i]
            assert x.shape == x0.shape and y.shape == y0.shape and x.dtype == x0.dtype
            torch.testing.assert_close(x[1], x0[1])
            torch.testing.assert_close(x[0], torch.where(x0[1] > 0, y[0], torch.zeros_like(y[0])))
            # the sky is one of the 32 transforms of the original
            assert any(torch.allclose(y[0], s * y0[0][p]) for p in perms for s in (1.0, -1.0))
            changed += not torch.equal(y, y0)
    assert changed > 20
    first, again = SkyAugmented(items, nside, seed=5), SkyAugmented(items, nside, seed=5)
    second = [again[i][1] for i in range(3)]
    first = [first[i][1] for i in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
