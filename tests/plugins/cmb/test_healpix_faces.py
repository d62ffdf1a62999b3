"""The 12-face HEALPix projection: exact round trip, neighbour padding against healpy, smooth-field continuity."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
import torch

from sciconv.errors import DataError
from sciconv_cmb.healpix_faces import (
    FacePad,
    face_index,
    faces_to_map,
    faces_to_nested,
    nested_to_faces,
    padded_index,
)

# healpy's neighbour slots by face-coordinate offset (dx, dy): SW, W, NW, N, NE, E, SE, S
SLOT_OFFSETS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


@pytest.mark.parametrize("nside", [1, 2, 8, 16])
def test_round_trip_exact_numpy_and_torch(nside: int) -> None:
    rng = np.random.default_rng(nside)
    m = rng.normal(size=(2, 3, 12 * nside * nside))
    faces = nested_to_faces(m)
    assert faces.shape == (2, 3, 12, nside, nside)
    np.testing.assert_array_equal(faces_to_nested(faces), m)
    t = torch.as_tensor(m)
    tfaces = nested_to_faces(t)
    assert isinstance(tfaces, torch.Tensor)
    np.testing.assert_array_equal(tfaces.numpy(), faces)
    assert torch.equal(faces_to_nested(tfaces), t)


@pytest.mark.parametrize("nside", [1, 4])
def test_axis_convention_is_healpy_xyf(nside: int) -> None:
    m = np.arange(12 * nside * nside)
    faces = nested_to_faces(m)
    for f in range(12):
        for x in range(nside):
            for y in range(nside):
                assert faces[f, x, y] == hp.xyf2pix(nside, x, y, f, nest=True)
    np.testing.assert_array_equal(face_index(nside), faces)


@pytest.mark.parametrize("nside", [1, 2, 4, 8])
def test_pad1_ring_is_healpy_neighbours_for_every_edge_pixel(nside: int) -> None:
    idx = padded_index(nside, 1)
    nb = hp.get_all_neighbours(nside, np.arange(12 * nside * nside), nest=True).T
    checked = 0
    for f in range(12):
        for x in range(nside):
            for y in range(nside):
                if x not in (0, nside - 1) and y not in (0, nside - 1):
                    continue
                centre = idx[f, 1 + x, 1 + y]
                for slot, (dx, dy) in enumerate(SLOT_OFFSETS):
                    true = nb[centre, slot]
                    if true >= 0:  # -1: the missing diagonal at a corner where only 3 faces meet
                        assert idx[f, 1 + x + dx, 1 + y + dy] == true, (f, x, y, slot)
                        checked += 1
    assert checked > 0


@pytest.mark.parametrize(("nside", "pads"), [(1, [0, 1]), (2, [1, 2]), (8, [1, 3, 8]), (32, [1, 5, 16])])
def test_every_padded_index_is_a_valid_pixel(nside: int, pads: list[int]) -> None:
    for pad in pads:
        idx = padded_index(nside, pad)
        assert idx.shape == (12, nside + 2 * pad, nside + 2 * pad)
        assert idx.min() >= 0 and idx.max() < 12 * nside * nside
        inner = idx[:, pad : pad + nside, pad : pad + nside]
        np.testing.assert_array_equal(inner, face_index(nside))


@pytest.mark.parametrize("nside", [8, 16])
def test_edge_pads_walk_away_from_the_edge(nside: int) -> None:
    pad = nside // 2
    idx = padded_index(nside, pad)
    vec = np.stack(hp.pix2vec(nside, np.arange(12 * nside * nside), nest=True), axis=-1)
    n, p = nside, pad
    # (edge pixel, pad pixels at k = 1..pad) for the four edges, all faces, all edge positions
    lines = [
        (idx[:, p, p : p + n], idx[:, p - 1 :: -1, p : p + n][:, :p]),  # -x: rows p-1 ... 0
        (idx[:, p + n - 1, p : p + n], idx[:, p + n :, p : p + n]),  # +x
        (idx[:, p : p + n, p], np.moveaxis(idx[:, p : p + n, p - 1 :: -1][:, :, :p], 2, 1)),  # -y
        (idx[:, p : p + n, p + n - 1], np.moveaxis(idx[:, p : p + n, p + n :], 2, 1)),  # +y
    ]
    for edge, pads in lines:
        assert pads.shape == (12, p, n)
        dist = np.arccos(np.clip(np.einsum("fknc,fnc->fkn", vec[pads], vec[edge]), -1, 1))
        dist = dist.transpose(1, 0, 2)  # (k, face, position)
        assert (np.diff(np.concatenate([np.zeros((1, 12, n)), dist]), axis=0) > 0).all()


def _smooth_field(nside: int) -> np.ndarray:
    """A smooth low-l field (dipole + quadrupole + an l=3 term) on the NESTED pixels."""
    x, y, z = hp.pix2vec(nside, np.arange(12 * nside * nside), nest=True)
    return x + 0.5 * y - 0.3 * z + 0.8 * x * z + 0.4 * (x * x - y * y) + 0.3 * x * y * z


def _three_face_wedges(nside: int, pad: int) -> np.ndarray:
    """Mask (12, H, W) of the corner-region pads at the face corners where only 3 faces meet."""
    n, p = nside, pad
    face = face_index(nside)
    wedge = np.zeros((12, n + 2 * p, n + 2 * p), dtype=bool)
    for sx, sy, slot in ((-1, -1, 7), (1, 1, 3), (-1, 1, 1), (1, -1, 5)):
        cx, cy = (0 if sx < 0 else n - 1), (0 if sy < 0 else n - 1)
        diagonal = hp.get_all_neighbours(nside, face[:, cx, cy], nest=True)[slot]
        rows = slice(0, p) if sx < 0 else slice(p + n, None)
        cols = slice(0, p) if sy < 0 else slice(p + n, None)
        wedge[diagonal < 0, rows, cols] = True
    return wedge


@pytest.mark.parametrize(("nside", "pad"), [(8, 1), (16, 3), (16, 16)])
def test_smooth_field_is_continuous_across_the_pads(nside: int, pad: int) -> None:
    field = _smooth_field(nside)
    idx = padded_index(nside, pad)
    img = field[idx]  # (12, H, W)
    inner = nested_to_faces(field)
    # largest step between adjacent pixels inside the faces: the map's local gradient times the spacing
    interior_step = max(np.abs(np.diff(inner, axis=1)).max(), np.abs(np.diff(inner, axis=2)).max())
    # everywhere but the 3-face corner wedges the padded image is as smooth as the faces themselves
    wedge = _three_face_wedges(nside, pad)
    assert wedge.sum() == 24 * pad * pad  # 8 points where 3 faces meet, each a corner of 3 faces
    for axis in (1, 2):
        step = np.abs(np.diff(img, axis=axis))
        outside = ~(np.delete(wedge, 0, axis=axis) | np.delete(wedge, -1, axis=axis))
        assert step[outside].max() <= 1.5 * interior_step
    # in the wedges (no pixel of the sphere lies there) the pads are real pixels near the face corner:
    # within (i + j) pixel spacings of it at depths i, j
    n, p = nside, pad
    vec = np.stack(hp.pix2vec(nside, np.arange(12 * n * n), nest=True), axis=-1)
    f, a, b = np.nonzero(wedge)
    cx, cy = np.clip(a - p, 0, n - 1), np.clip(b - p, 0, n - 1)
    depth = np.abs(a - p - cx) + np.abs(b - p - cy)
    dist = np.arccos(np.clip((vec[idx[f, a, b]] * vec[face_index(n)[f, cx, cy]]).sum(-1), -1, 1))
    assert (dist <= 1.5 * depth * hp.nside2resol(nside)).all()
    # a white-noise map is not smooth across the edges: the bound is a real test of the neighbours
    noise = np.random.default_rng(0).normal(size=field.shape)[idx]
    assert np.abs(noise[:, p - 1, p : p + n] - noise[:, p, p : p + n]).max() > 1.5 * interior_step


def test_facepad_and_faces_to_map_torch() -> None:
    nside, pad = 4, 2
    rng = np.random.default_rng(1)
    m = torch.as_tensor(rng.normal(size=(2, 3, 12 * nside * nside)), dtype=torch.float32)
    fp = FacePad(nside, pad)
    out = fp(m)
    assert out.shape == (2 * 12, 3, nside + 2 * pad, nside + 2 * pad)
    idx = padded_index(nside, pad)
    # row b*12 + f is face f of map b
    np.testing.assert_array_equal(out[12 + 5, 2].numpy(), m[1, 2].numpy()[idx[5]])
    back = fp.faces_to_map(out[:, :, pad:-pad, pad:-pad])
    assert torch.equal(back, m)
    assert torch.equal(faces_to_map(out[:, :, pad:-pad, pad:-pad]), m)
    # gradients flow through the gather
    m.requires_grad_(True)
    fp(m).sum().backward()
    assert m.grad is not None and float(m.grad.sum()) == out.numel()


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="13 pixels"):
        nested_to_faces(np.zeros(13))
    with pytest.raises(DataError, match=r"108 pixels.*Nside 3 is not a power of 2"):
        nested_to_faces(np.zeros(108))  # 12 * 3**2: a HEALPix length, but not NESTED-able
    with pytest.raises(DataError, match="Nside 3 is not a power of 2"):
        padded_index(3, 1)
    with pytest.raises(DataError, match="pad 5 for Nside 4"):
        padded_index(4, 5)
    with pytest.raises(DataError, match=r"\(2, 3, 100\)"):
        FacePad(4, 1)(torch.zeros(2, 3, 100))
    with pytest.raises(DataError, match="expected \\(\\.\\.\\., 12, Nside, Nside\\)"):
        faces_to_nested(np.zeros((11, 4, 4)))
    with pytest.raises(DataError, match="Nside 3"):
        faces_to_nested(np.zeros((12, 3, 3)))
