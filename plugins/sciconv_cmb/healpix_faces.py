"""The exact sphere-to-plane projection: the 12 HEALPix base faces of a NESTED map as Nside x Nside images.

In NESTED ordering every one of the 12 base faces is an Nside x Nside grid of pixels, so a full-sky map is
12 square images with no interpolation and nothing lost; :func:`nested_to_faces` and :func:`faces_to_nested`
are exact inverses (pure index permutations).

Axis convention (healpy's face coordinates, ``healpy.pix2xyf(nside, ipix, nest=True)``)::

    faces[..., f, x, y] == map[..., healpy.xyf2pix(nside, x, y, f, nest=True)]

``f`` is the base face (0-3 north polar, 4-7 equatorial, 8-11 south polar), ``x`` (the first image axis)
runs from the face's southern corner towards its north-east edge, ``y`` (the second image axis) from the
southern corner towards its north-west edge. In healpy's neighbour order (SW, W, NW, N, NE, E, SE, S, as
returned by ``healpy.get_all_neighbours``) the offsets (dx, dy) are SW (-1, 0), W (-1, +1), NW (0, +1),
N (+1, +1), NE (+1, 0), E (+1, -1), SE (0, -1), S (-1, -1).

Convolutions across face edges need each face surrounded by its true neighbours: :func:`padded_index`
builds, from ``healpy.get_all_neighbours``, the NESTED pixel indices of every face with ``pad`` pixels of
its neighbouring faces around it, and :class:`FacePad` applies it to batches of maps in torch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import healpy as hp
import numpy as np
import torch

from sciconv.errors import DataError

__all__ = ["FacePad", "face_index", "faces_to_map", "faces_to_nested", "nested_to_faces", "padded_index"]

# healpy's neighbour slots (SW, W, NW, N, NE, E, SE, S) by face-coordinate offset (dx, dy).
_SLOT = {(-1, 0): 0, (-1, 1): 1, (0, 1): 2, (1, 1): 3, (1, 0): 4, (1, -1): 5, (0, -1): 6, (-1, -1): 7}


def _nside_of_npix(npix: int, what: str = "map") -> int:
    """The Nside of a NESTED map of ``npix`` pixels, or a one-line :class:`DataError` naming the length."""
    nside = round(float(np.sqrt(npix / 12))) if npix > 0 else 0
    if nside < 1 or 12 * nside * nside != npix:
        raise DataError(
            f"{what} has {npix} pixels on its last axis; a HEALPix map has 12*Nside**2 pixels "
            f"(Nside 1, 2, 4, ...: 12, 48, 192, 768, ...)"
        )
    _check_nside(nside, f"{what} of {npix} pixels")
    return nside


def _check_nside(nside: int, what: str = "nside") -> None:
    """Refuse an Nside that is not a positive power of 2 (NESTED ordering needs one)."""
    if int(nside) != nside or nside < 1 or (int(nside) & (int(nside) - 1)) != 0:
        raise DataError(f"{what}: Nside {nside} is not a power of 2 (NESTED HEALPix maps need Nside 1, 2, 4, 8, ...)")


@lru_cache(maxsize=32)
def _face_index_cached(nside: int) -> np.ndarray:
    npix = 12 * nside * nside
    ipix = np.arange(npix, dtype=np.int64)
    x, y, f = hp.pix2xyf(nside, ipix, nest=True)
    index = np.empty((12, nside, nside), dtype=np.int64)
    index[f, x, y] = ipix
    index.setflags(write=False)
    return index


def face_index(nside: int) -> np.ndarray:
    """NESTED pixel indices of the 12 faces, shape (12, Nside, Nside): ``index[f, x, y]`` (read-only)."""
    _check_nside(nside)
    return _face_index_cached(int(nside))


def _as_index(index: np.ndarray, like: Any) -> Any:
    if isinstance(like, torch.Tensor):
        return torch.tensor(index, dtype=torch.long, device=like.device)  # a copy: the cached array is read-only
    return index


def nested_to_faces(m: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """A NESTED map (..., 12*Nside**2) as 12 face images (..., 12, Nside, Nside); numpy or torch.

    ``faces[..., f, x, y]`` is the pixel at healpy face coordinates (x, y) of base face f (see the module
    docstring). Exact: a pure permutation, undone by :func:`faces_to_nested`.
    """
    nside = _nside_of_npix(int(m.shape[-1]))
    return m[..., _as_index(face_index(nside), m)]


def faces_to_nested(faces: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """12 face images (..., 12, Nside, Nside) back to the NESTED map (..., 12*Nside**2); exact inverse."""
    shape = tuple(faces.shape)
    if len(shape) < 3 or shape[-3] != 12 or shape[-1] != shape[-2]:
        raise DataError(f"face images have shape {shape}; expected (..., 12, Nside, Nside)")
    nside = int(shape[-1])
    _check_nside(nside, f"face images of shape {shape}")
    flat = faces.reshape(*shape[:-3], 12 * nside * nside)
    # inverse permutation: position of NESTED pixel p in the flattened face stack
    inverse = np.argsort(face_index(nside).reshape(-1))
    return flat[..., _as_index(inverse, faces)]


def _step(nb: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """The straight continuation of the walk prev -> cur: cur's neighbour opposite to prev in cur's list."""
    rows = nb[cur]
    hit = rows == prev[:, None]
    if not hit.any(axis=1).all():  # pragma: no cover - a walk always steps to a neighbour
        raise AssertionError("HEALPix walk lost adjacency")
    slot = hit.argmax(axis=1)
    return rows[np.arange(len(cur)), (slot + 4) % 8]


@lru_cache(maxsize=32)
def _padded_index_cached(nside: int, pad: int) -> np.ndarray:
    n, p = nside, pad
    npix = 12 * n * n
    nb = hp.get_all_neighbours(n, np.arange(npix), nest=True).T.astype(np.int64)  # (npix, 8)
    face = _face_index_cached(n)
    out = np.full((12, n + 2 * p, n + 2 * p), -1, dtype=np.int64)
    out[:, p : p + n, p : p + n] = face

    def put(x: int | np.ndarray, y: int | np.ndarray, values: np.ndarray) -> None:
        out[:, p + np.asarray(x), p + np.asarray(y)] = values

    def get(x: int | np.ndarray, y: int | np.ndarray) -> np.ndarray:
        return out[:, p + np.asarray(x), p + np.asarray(y)]

    # 1. Edge pads: walk straight outward from each edge pixel, perpendicular to the edge.
    inner = np.arange(n)
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        if dx:
            edge_x, edge_y = (0 if dx < 0 else n - 1), inner
        else:
            edge_x, edge_y = inner, (0 if dy < 0 else n - 1)
        edge = get(edge_x, edge_y).reshape(-1)
        prev, cur = edge, nb[edge, _SLOT[(dx, dy)]]
        for k in range(1, p + 1):
            if k > 1:
                prev, cur = cur, _step(nb, prev, cur)
            put(np.asarray(edge_x) + k * dx, np.asarray(edge_y) + k * dy, cur.reshape(12, -1))

    # 2. Corner regions: extend the edge-pad lines straight past the face corner.
    for sx in (-1, 1):
        for sy in (-1, 1):
            cx, cy = (0 if sx < 0 else n - 1), (0 if sy < 0 else n - 1)
            corner = get(cx, cy)
            diagonal = nb[corner, _SLOT[(sx, sy)]]
            for i in range(1, p + 1):
                for j in range(1, p + 1):
                    if n == 1:
                        # one pixel per face: the only corner pad (pad <= Nside) is the diagonal neighbour,
                        # or at a 3-face corner the nearer edge pad (the x-edge one)
                        value = np.where(diagonal >= 0, diagonal, get(cx + sx, cy))
                    elif i >= j:  # along the x-edge pad line at depth i, j steps past the corner
                        prev, cur = get(cx + sx * i, cy - sy), get(cx + sx * i, cy)
                        for _ in range(j):
                            prev, cur = cur, _step(nb, prev, cur)
                        value = cur
                    else:  # along the y-edge pad line at depth j, i steps past the corner
                        prev, cur = get(cx - sx, cy + sy * j), get(cx, cy + sy * j)
                        for _ in range(i):
                            prev, cur = cur, _step(nb, prev, cur)
                        value = cur
                    put(cx + sx * i, cy + sy * j, value)
    if (out < 0).any():  # pragma: no cover - guarded by the tests for every Nside <= 32
        raise AssertionError(f"padded_index({nside}, {pad}) left {(out < 0).sum()} pixels unfilled")
    out.setflags(write=False)
    return out


def padded_index(nside: int, pad: int) -> np.ndarray:
    """NESTED indices of every face with ``pad`` pixels of its true neighbours around it.

    Returns a read-only int64 array (12, Nside + 2*pad, Nside + 2*pad): ``m[..., padded_index(nside, pad)]``
    is each face (axes as :func:`nested_to_faces`, the face itself at ``[pad:-pad, pad:-pad]``) surrounded by
    the pixels of its neighbouring faces. ``0 <= pad <= nside``. Every index is a valid pixel (>= 0).

    Fill rule, built only from ``healpy.get_all_neighbours(nest=True)``:

    * Edge pads (beside an edge pixel, at distance k = 1..pad outside the face): walk straight outward from
      the edge pixel. The first step is the edge pixel's neighbour in the outward direction; each further
      step is the straight continuation a -> b -> c, where c is the neighbour of b opposite (slot + 4 mod 8)
      to a in b's own neighbour list. So with pad=1 these are exactly healpy's neighbours.
    * Corner-region pads (outside both an x-edge and a y-edge, at depths i and j): continue the edge-pad
      line of the deeper side straight past the corner (the x-edge line at depth i for j steps if i >= j,
      else the y-edge line at depth j for i steps). Where 4 faces meet at the corner this is exactly the
      grid of the diagonal face (with pad=1, healpy's diagonal neighbour). At the 8 points where only 3
      faces meet (healpy returns -1 there) there is no diagonal face: the lines run on into the other
      adjacent face, so the corner wedge repeats pixels of the two adjacent faces, each taken from the
      side it is nearer to (an approximation: never -1, within i + j pixel spacings of the face corner, but
      with a jump along the wedge's diagonal, where the two faces' lines meet). At Nside 1 (one pixel per face,
      pad 1) the corner pad is healpy's diagonal neighbour, or the x-edge pad where that is -1.
    """
    _check_nside(nside)
    if int(pad) != pad or not 0 <= pad <= nside:
        raise DataError(f"pad {pad} for Nside {nside}: expected an integer 0 <= pad <= Nside")
    return _padded_index_cached(int(nside), int(pad))


class FacePad(torch.nn.Module):
    """(B, C, 12*Nside**2) NESTED maps -> (B*12, C, Nside+2*pad, Nside+2*pad) neighbour-padded face images.

    Row ``b*12 + f`` of the output is face f of map b (axes as :func:`nested_to_faces`), padded per
    :func:`padded_index`. :meth:`faces_to_map` (or :func:`faces_to_map`) turns (B*12, C, Nside, Nside)
    face images back into (B, C, 12*Nside**2) NESTED maps.
    """

    index: torch.Tensor

    def __init__(self, nside: int, pad: int) -> None:
        super().__init__()
        self.nside = int(nside)
        self.pad = int(pad)
        self.register_buffer("index", torch.tensor(padded_index(nside, pad)), persistent=False)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        if m.dim() != 3 or m.shape[-1] != 12 * self.nside**2:
            raise DataError(
                f"FacePad(nside={self.nside}) got maps of shape {tuple(m.shape)}; expected (B, C, {12 * self.nside**2})"
            )
        b, c, _ = m.shape
        size = self.nside + 2 * self.pad
        faces = m[..., self.index]  # (B, C, 12, H, W)
        return faces.permute(0, 2, 1, 3, 4).reshape(b * 12, c, size, size)

    def faces_to_map(self, faces: torch.Tensor) -> torch.Tensor:
        """(B*12, C, Nside, Nside) face images -> (B, C, 12*Nside**2) NESTED maps."""
        return faces_to_map(faces)

    def extra_repr(self) -> str:
        return f"nside={self.nside}, pad={self.pad}"


def faces_to_map(faces: torch.Tensor) -> torch.Tensor:
    """(B*12, C, Nside, Nside) face images (rows ordered map-major, face-minor) -> (B, C, 12*Nside**2)."""
    shape = tuple(faces.shape)
    if faces.dim() != 4 or shape[0] % 12 != 0 or shape[-1] != shape[-2]:
        raise DataError(f"face images have shape {shape}; expected (B*12, C, Nside, Nside)")
    b, c, n = shape[0] // 12, shape[1], shape[-1]
    stacked = faces.reshape(b, 12, c, n, n).permute(0, 2, 1, 3, 4)  # (B, C, 12, N, N)
    return faces_to_nested(stacked)
