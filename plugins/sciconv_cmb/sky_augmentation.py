"""Training-set augmentation for sky maps by the exact symmetries of the HEALPix grid.

The HEALPix grid is mapped onto itself, pixel centre onto pixel centre, by rotations of the sphere by multiples of
90 degrees about the polar axis, by the reflection through the equator (z -> -z) and by the reflection through a
meridian plane (y -> -y): 4 x 2 x 2 = 16 symmetries, each an exact permutation of the pixels (no interpolation). A
statistically isotropic Gaussian CMB sky transformed by any of them, or with its sign flipped, is as likely as the
sky itself, so these give 32 skies for every simulated one. :class:`SkyAugmented` draws one per training item and
applies it to the sky only: the item's mask stays where it was (a real map's Galactic cut is where it is), so
every epoch shows the network new sky behind the same masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["SkyAugmented", "healpix_symmetries"]


def healpix_symmetries(nside: int, *, nest: bool = True) -> np.ndarray:
    """The 16 pixel permutations of the HEALPix grid's exact symmetries, ``(16, 12*nside**2)`` int64.

    Row ``k`` maps a map ``m`` to the transformed map ``m[perm[k]]`` (its pixel ``p`` takes the value of pixel
    ``perm[k, p]``); row 0 is the identity. Rows ``4 * r + 2 * f + e``: rotation by ``r * 90`` degrees about the
    polar axis, then ``f`` the equatorial reflection, ``e`` the meridian reflection. Raises :class:`ValueError` if a
    transformed pixel centre does not land on a pixel centre (it always does for HEALPix).
    """
    import healpy as hp

    npix = 12 * nside * nside
    x, y, z = hp.pix2vec(nside, np.arange(npix), nest=nest)
    perms = []
    for turns in range(4):
        angle = turns * np.pi / 2
        cos, sin = round(np.cos(angle)), round(np.sin(angle))
        for flip in (1, -1):
            for mirror in (1, -1):
                # the pixel whose value lands on p is the one at the inverse transform of p's centre
                xi, yi, zi = x, mirror * y, flip * z
                xs, ys = cos * xi + sin * yi, -sin * xi + cos * yi
                source = hp.vec2pix(nside, xs, ys, zi, nest=nest)
                back_x, back_y, back_z = hp.pix2vec(nside, source, nest=nest)
                if np.abs(np.stack([back_x - xs, back_y - ys, back_z - zi])).max() > 1e-9:
                    raise ValueError(f"Nside {nside}: a symmetry does not map pixel centres onto pixel centres")
                perms.append(source.astype(np.int64))
    out = np.stack(perms)
    for row in out:
        if np.unique(row).size != npix:
            raise ValueError(f"Nside {nside}: a symmetry is not a permutation of the pixels")
    return out


class SkyAugmented:
    """Training items ``(x (2, npix), y (1, npix))`` (NESTED, from :func:`~sciconv_cmb.datasets.network_items`)
    with the sky replaced by a randomly chosen exact symmetry of it and a random sign, the mask kept.

    For an item with masked map ``x[0]``, mask ``x[1]`` and sky ``y``: ``y' = s * y[perm]`` and ``x'[0] = y'`` where
    ``x[1] > 0`` (0 elsewhere), ``x'[1] = x[1]``; ``perm`` one of the 16 :func:`healpix_symmetries`, ``s = +-1``.
    Draws come from a NumPy generator seeded once (``seed``), so a run is reproducible.
    """

    def __init__(self, split: Any, nside: int, seed: int) -> None:
        self.split = split
        self.perms = torch.as_tensor(healpix_symmetries(nside))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        x, y = self.split[index]
        k = int(self.rng.integers(len(self.perms)))
        sign = 1.0 if self.rng.random() < 0.5 else -1.0
        sky = y[:, self.perms[k]] * sign
        observed = (x[1:2] > 0).to(sky.dtype)
        return torch.cat([sky * observed, x[1:2]], dim=0), sky
