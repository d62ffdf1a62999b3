"""A simulator of labelled 3D shapes (furniture, vessels, lamps, monitors, aircraft), written in the ModelNet
layout (Wu et al. 2015, ModelNet40) so that the real dataset's reader reads it: a stand-in for ModelNet40 that a
point-cloud classifier trains on in minutes.

Each class is a parametric family built from open3d primitives (boxes, cylinders, cones, spheres, tori) and
composites (legs, seats, backs, rails, poles, shades), and from bodies of revolution of random radius profiles
(bottles, vases, cups, bowls, lamp shades, fuselages). Coordinates are arbitrary units (metres before the random
scaling), z up. The classes (:data:`SHAPE_CLASSES`, alphabetical as ModelNet's class indices are) are chosen so
that some pairs genuinely overlap, as they do in ModelNet40:

* flat tops on legs: ``table`` (rectangular on 4 legs, round on 3-5 legs or a pedestal, and small side tables),
  ``desk`` (on legs with a modesty panel, on drawer pedestals or on two side panels; sometimes a hutch),
  ``stool`` (small round or square seat on 3-4 splayed legs or a column, footrest, now and then a low back),
  ``bench`` (long and low, solid or slatted, sometimes a back and arms), ``chair`` (seat, back of panel, rails
  or slats, 4 legs or a 5-spoke swivel base, sometimes arms), ``sofa`` (upholstered blocks, arms, cushions),
  ``bed`` (mattress on a frame, headboard, sometimes a footboard and pillows), ``night_stand`` (a cabinet with
  drawers, sometimes an open shelf, on a plinth or short legs);
* bodies of revolution: ``bottle`` (body, shoulder, neck, lip; closed), ``vase`` (foot, belly, neck, flared lip;
  open, with a wall), ``cup`` (near-cylindrical, open, usually a handle), ``bowl`` (wider than tall, open,
  sometimes a foot ring), ``cone`` (solid or truncated, sometimes on a square base like a traffic cone),
  ``lamp`` (base + thin pole + open shade, floor, table or jointed desk lamps; always taller than wide);
* ``monitor`` (a thin slab on a neck and foot, sometimes a CRT-like back) and ``airplane`` (fuselage, swept
  wings, tailplane, fin, 0, 2 or 4 engines).

Variation per shape (all drawn from the ``rng`` given to :func:`simulate_shape`): the class's structural choices
and dimensions, then a random anisotropic scale (each axis x :data:`SCALE_RANGE`), a random rotation about z,
Gaussian vertex jitter (standard deviation :data:`JITTER_RANGE` of the largest extent), and, with probability
:data:`OCCLUSION_PROBABILITY`, a partial occlusion: the triangles whose centroids lie beyond a plane of random
normal are removed, a cut of :data:`OCCLUSION_FRACTION` of the surface area, never more than half of the
triangles (a side a scanner missed). The shape is finally centred on its bounding box. The random draws after the
class geometry come in a fixed order whether or not the occlusion applies, so ``occlusion_probability=0`` and
``1`` give the same shape without and with its cut. Meshes are coarse (a few hundred to a few thousand triangles;
large faces are subdivided to about 1/12 of the shape's size, so that a cut follows the geometry): readers
sample points from the surface.

Layout written by :func:`write_modelnet` (``<root>`` is the dataset folder, as in ModelNet40):
``<root>/<class>/train/<class>_NNNN.off`` for shape ids 0001 .. n_train and ``<root>/<class>/test/<class>_NNNN.off``
for the ids after them (n_train + 1 .. n_train + n_test). ASCII OFF: ``OFF``, ``V F 0``, ``V`` lines of ``x y z``,
``F`` lines of ``3 i j k`` (0-based). Shape ``NNNN`` of a class is drawn from
``np.random.default_rng([seed, index of the class in SHAPE_CLASSES, NNNN - 1])``: a file's content depends only on
the seed, its class and its id, so asking for more shapes keeps the earlier ones byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import open3d as o3d

from sciconv.errors import ConfigError, DataError, did_you_mean
from sciconv.kit import atomic_write_text

SIMULATOR_VERSION = "1"

SHAPE_CLASSES: tuple[str, ...] = (
    "airplane",
    "bed",
    "bench",
    "bottle",
    "bowl",
    "chair",
    "cone",
    "cup",
    "desk",
    "lamp",
    "monitor",
    "night_stand",
    "sofa",
    "stool",
    "table",
    "vase",
)

SCALE_RANGE = (0.75, 1.3)  # anisotropic scale factor per axis
JITTER_RANGE = (0.005, 0.01)  # vertex jitter standard deviation, as a fraction of the largest extent
OCCLUSION_PROBABILITY = 0.3
OCCLUSION_FRACTION = (0.1, 0.3)  # fraction of the surface area cut away by an occlusion
MAX_SHAPES_PER_CLASS = 9999  # 4-digit ids
EDGE_DIVISIONS = 12  # large faces are subdivided to edges of about (largest dimension) / EDGE_DIVISIONS

Mesh = tuple[np.ndarray, np.ndarray]


class ShapeParameterError(ConfigError, ValueError):
    """An invalid argument to the shape simulator (unknown class, bad count or seed): a :class:`ConfigError`
    for the CLI, and a :class:`ValueError` for Python callers."""


# ---------------------------------------------------------------------------------------------------------------
# Geometry helpers


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _up(dz: float) -> np.ndarray:
    return np.array([0.0, 0.0, dz])


def _z_to(direction: np.ndarray) -> np.ndarray:
    """The rotation taking the unit z axis onto the unit vector ``direction`` (Rodrigues)."""
    d = np.asarray(direction, dtype=np.float64)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, d)
    s, c = float(np.linalg.norm(axis)), float(d @ z)
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


def triangle_areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area of each triangle, (F,), in squared units of ``vertices`` (V, 3)."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles)
    return 0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)


class _Parts:
    """Collects the parts of one shape (vertices, triangles) in the canonical frame (metres, z up, floor z = 0).

    ``edge`` is the target edge length: boxes and cylinders longer than it are subdivided so that large faces
    are not single triangles."""

    def __init__(self, size: float) -> None:
        self.edge = float(size) / EDGE_DIVISIONS
        self._v: list[np.ndarray] = []
        self._t: list[np.ndarray] = []
        self._n = 0

    def add(self, vertices: np.ndarray, triangles: np.ndarray) -> None:
        v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
        self._v.append(v)
        self._t.append(np.asarray(triangles, dtype=np.int64).reshape(-1, 3) + self._n)
        self._n += len(v)

    def _add_o3d(self, mesh: o3d.geometry.TriangleMesh, rot: np.ndarray | None, offset: Sequence[float]) -> None:
        v = np.asarray(mesh.vertices)
        if rot is not None:
            v = v @ np.asarray(rot).T
        self.add(v + np.asarray(offset, dtype=np.float64), np.asarray(mesh.triangles))

    def arrays(self) -> Mesh:
        return np.concatenate(self._v), np.concatenate(self._t)

    # -- primitives
    def box(self, center: Sequence[float], size: Sequence[float], rot: np.ndarray | None = None) -> None:
        """A box of ``size`` (x, y, z extents) centred at ``center``, rotated by ``rot`` about its centre."""
        size = np.asarray(size, dtype=np.float64)
        mesh = o3d.geometry.TriangleMesh.create_box(*size)
        levels = int(np.clip(math.ceil(math.log2(max(size.max() / (1.5 * self.edge), 1.0))), 0, 3))
        if levels:
            mesh = mesh.subdivide_midpoint(levels)
        mesh.translate(-0.5 * size)
        self._add_o3d(mesh, rot, center)

    def box_between(self, lo: Sequence[float], hi: Sequence[float]) -> None:
        """An axis-aligned box from corner ``lo`` to corner ``hi``."""
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.box(0.5 * (lo + hi), hi - lo)

    def box_from(self, pivot: Sequence[float], size: Sequence[float], rot: np.ndarray) -> None:
        """A box standing on ``pivot`` (the centre of its bottom face), rotated by ``rot`` about the pivot."""
        self.box(np.asarray(pivot) + rot @ np.array([0.0, 0.0, 0.5 * size[2]]), size, rot)

    def cylinder(self, p0: Sequence[float], p1: Sequence[float], radius: float, resolution: int = 10) -> None:
        """A capped cylinder of ``radius`` from point ``p0`` to point ``p1``."""
        p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
        length = float(np.linalg.norm(p1 - p0))
        split = int(np.clip(round(length / self.edge), 1, 12))
        mesh = o3d.geometry.TriangleMesh.create_cylinder(radius, length, resolution, split)
        self._add_o3d(mesh, _z_to((p1 - p0) / length), 0.5 * (p0 + p1))

    def disk(self, center: Sequence[float], radius: float, thickness: float, resolution: int = 20) -> None:
        """A closed vertical-axis disc (cylinder) of ``radius`` and ``thickness`` centred at ``center``."""
        n = int(np.clip(math.ceil(radius / self.edge), 1, 6))  # rings, so that the faces are not long fans
        rings = radius * np.arange(1, n + 1) / n
        r = np.concatenate([[0.0], rings, rings[::-1], [0.0]])
        z = np.repeat([0.5 * thickness, -0.5 * thickness], n + 1)
        self.revolve(r, z, resolution, offset=center)

    def cone(self, base: Sequence[float], radius: float, height: float, resolution: int = 16) -> None:
        """A solid cone standing on ``base`` (the centre of its base disc), apex up."""
        split = int(np.clip(round(height / self.edge), 1, 12))
        self._add_o3d(o3d.geometry.TriangleMesh.create_cone(radius, height, resolution, split), None, base)

    def ellipsoid(self, center: Sequence[float], radii: Sequence[float], resolution: int = 6) -> None:
        mesh = o3d.geometry.TriangleMesh.create_sphere(1.0, resolution)
        v = np.asarray(mesh.vertices) * np.asarray(radii, dtype=np.float64) + np.asarray(center, dtype=np.float64)
        self.add(v, np.asarray(mesh.triangles))

    def torus(self, center: Sequence[float], radius: float, tube: float, resolution: int = 20) -> None:
        """A horizontal ring of ``radius`` and tube radius ``tube`` centred at ``center``."""
        self._add_o3d(o3d.geometry.TriangleMesh.create_torus(radius, tube, resolution, 6), None, center)

    def revolve(
        self,
        r: Sequence[float],
        z: Sequence[float],
        resolution: int = 18,
        rot: np.ndarray | None = None,
        offset: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> None:
        """The surface of revolution about the z axis of the profile ``(r[i], z[i])``. An end of the profile at
        ``r = 0`` closes it with a single vertex on the axis; elsewhere the profile must keep ``r > 0``."""
        v, t = revolve_profile(np.asarray(r, dtype=np.float64), np.asarray(z, dtype=np.float64), resolution)
        if rot is not None:
            v = v @ np.asarray(rot).T
        self.add(v + np.asarray(offset, dtype=np.float64), t)

    def tube(self, points: np.ndarray, radius: float, normal: Sequence[float], resolution: int = 8) -> None:
        """An open tube of ``radius`` along the polyline ``points`` (n, 3) lying in the plane of ``normal``."""
        pts = np.asarray(points, dtype=np.float64)
        tangent = np.gradient(pts, axis=0)
        tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
        b = np.asarray(normal, dtype=np.float64) / np.linalg.norm(normal)
        n = np.cross(b, tangent)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        theta = 2.0 * np.pi * np.arange(resolution) / resolution
        ring = np.cos(theta)[None, :, None] * n[:, None, :] + np.sin(theta)[None, :, None] * b[None, None, :]
        v = (pts[:, None, :] + radius * ring).reshape(-1, 3)
        self.add(v, _grid_triangles(len(pts), resolution))


def _grid_triangles(n_rings: int, resolution: int) -> np.ndarray:
    """Triangles joining consecutive rings of ``resolution`` vertices each (ring i at rows i * resolution ...)."""
    i = np.arange(n_rings - 1)[:, None]
    k = np.arange(resolution)[None, :]
    a = i * resolution + k
    b = i * resolution + (k + 1) % resolution
    c, d = a + resolution, b + resolution
    return np.stack([np.stack([a, b, d], -1), np.stack([a, d, c], -1)], axis=2).reshape(-1, 3)


def revolve_profile(r: np.ndarray, z: np.ndarray, resolution: int = 18) -> Mesh:
    """Vertices (V, 3) and triangles (F, 3) of the surface of revolution about z of the profile ``(r, z)``
    (n points). First or last point at ``r = 0``: a pole vertex closes that end; other points need ``r > 0``."""
    r, z = np.asarray(r, dtype=np.float64), np.asarray(z, dtype=np.float64)
    start_pole, end_pole = r[0] <= 0.0, r[-1] <= 0.0
    lo, hi = int(start_pole), len(r) - int(end_pole)
    if hi - lo < 1 or np.any(r[lo:hi] <= 0.0):
        raise ValueError("a profile of revolution needs r > 0 except at its ends")
    theta = 2.0 * np.pi * np.arange(resolution) / resolution
    rings = np.stack(
        [
            r[lo:hi, None] * np.cos(theta)[None, :],
            r[lo:hi, None] * np.sin(theta)[None, :],
            np.repeat(z[lo:hi, None], resolution, axis=1),
        ],
        axis=-1,
    ).reshape(-1, 3)
    n_rings = hi - lo
    parts_v, parts_t = [rings], [_grid_triangles(n_rings, resolution)]
    n = len(rings)
    k = np.arange(resolution)
    if start_pole:
        parts_v.append(np.array([[0.0, 0.0, z[0]]]))
        parts_t.append(np.stack([np.full(resolution, n), (k + 1) % resolution, k], -1))
        n += 1
    if end_pole:
        last = (n_rings - 1) * resolution
        parts_v.append(np.array([[0.0, 0.0, z[-1]]]))
        parts_t.append(np.stack([np.full(resolution, n), last + k, last + (k + 1) % resolution], -1))
    return np.concatenate(parts_v), np.concatenate(parts_t).astype(np.int64)


def _vessel_profile(r: np.ndarray, z: np.ndarray, wall: float, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed profile for an open vessel with a wall: from the axis at z = 0 out along the base, up the outer
    profile ``(r, z)`` (z increasing from 0, r > wall), over the rim, down the inner wall (``wall`` inside) to the
    inner floor at ``floor`` and back to the axis."""
    keep = z > floor + 1e-9
    r_in = np.maximum(r[keep][::-1] - wall, 0.25 * r[keep][::-1])
    z_in = z[keep][::-1]
    r_floor = max(float(np.interp(floor, z, r)) - wall, 0.25 * float(r[0]))
    rr = np.concatenate([[0.0], r, r_in, [r_floor, 0.0]])
    zz = np.concatenate([[0.0], z, z_in, [floor, floor]])
    return rr, zz


def _smooth(control_z: Sequence[float], control_r: Sequence[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` profile points through the control points (z increasing), cosine-eased between them."""
    cz, cr = np.asarray(control_z, dtype=np.float64), np.asarray(control_r, dtype=np.float64)
    z = np.linspace(cz[0], cz[-1], n)
    j = np.clip(np.searchsorted(cz, z, side="right") - 1, 0, len(cz) - 2)
    s = (z - cz[j]) / (cz[j + 1] - cz[j])
    w = 0.5 - 0.5 * np.cos(np.pi * s)
    return cr[j] + w * (cr[j + 1] - cr[j]), z


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _p(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _choice(rng: np.random.Generator, options: Sequence[str], p: Sequence[float]) -> str:
    return str(options[int(rng.choice(len(options), p=np.asarray(p) / np.sum(p)))])


# ---------------------------------------------------------------------------------------------------------------
# Classes. Each builder returns (vertices, triangles) in the canonical frame (metres, z up, floor at z = 0).


def _legs_rect(
    p: _Parts, rng: np.random.Generator, half_x: float, half_y: float, top: float, thick: float, square: bool
) -> list[np.ndarray]:
    """Four vertical legs at (+-half_x, +-half_y) from the floor to ``top``; returns their foot points."""
    feet = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * half_x, sy * half_y
            if square:
                p.box_between([x - thick / 2, y - thick / 2, 0.0], [x + thick / 2, y + thick / 2, top])
            else:
                p.cylinder([x, y, 0.0], [x, y, top], thick / 2, 8)
            feet.append(np.array([x, y, 0.0]))
    return feet


def _legs_round(p: _Parts, rng: np.random.Generator, n: int, r_top: float, r_foot: float, top: float, thick: float):
    """``n`` splayed round legs from radius ``r_top`` at height ``top`` to ``r_foot`` on the floor."""
    a0 = _u(rng, 0.0, 2.0 * np.pi)
    for i in range(n):
        a = a0 + 2.0 * np.pi * i / n
        d = np.array([math.cos(a), math.sin(a), 0.0])
        p.cylinder(d * r_foot, d * r_top + [0.0, 0.0, top], thick / 2, 8)


def _table(rng: np.random.Generator) -> Mesh:
    kind = _choice(rng, ["rect", "round", "side"], [0.5, 0.3, 0.2])
    t = _u(rng, 0.025, 0.05)
    if kind == "side":
        height, length = _u(rng, 0.45, 0.65), _u(rng, 0.4, 0.6)
        width = length if _p(rng, 0.6) else length * _u(rng, 0.7, 1.0)
        round_top = _p(rng, 0.5)
    elif kind == "round":
        height, length = _u(rng, 0.68, 0.78), _u(rng, 0.7, 1.2)
        width, round_top = length, True
    else:
        height, length = _u(rng, 0.68, 0.78), _u(rng, 0.9, 1.8)
        width, round_top = _u(rng, 0.6, min(1.0, length)), False
    p = _Parts(max(length, width, height))
    top = height - t
    if round_top:
        p.disk([0, 0, height - t / 2], length / 2, t, 24)
        if _p(rng, 0.4):  # pedestal
            col = _u(rng, 0.03, 0.07)
            p.cylinder([0, 0, 0.02], [0, 0, top], col, 12)
            if _p(rng, 0.5):
                p.disk([0, 0, 0.015], length * _u(rng, 0.25, 0.4), 0.03, 20)
            else:
                n_feet = int(rng.integers(3, 6))
                a0 = _u(rng, 0, 2 * np.pi)
                reach = length * _u(rng, 0.25, 0.4)
                for i in range(n_feet):
                    a = a0 + 2 * np.pi * i / n_feet
                    p.cylinder([0, 0, 0.08], [reach * math.cos(a), reach * math.sin(a), 0.015], 0.02, 8)
        else:
            n_legs = int(rng.choice([3, 4, 5], p=[0.35, 0.5, 0.15]))
            r_top = length / 2 * _u(rng, 0.55, 0.85)
            _legs_round(p, rng, n_legs, r_top, r_top * _u(rng, 1.0, 1.2), top, _u(rng, 0.03, 0.06))
            if _p(rng, 0.3):  # lower shelf
                p.disk([0, 0, _u(rng, 0.12, 0.3) * height], r_top, 0.02, 20)
    else:
        p.box([0, 0, height - t / 2], [length, width, t])
        thick = _u(rng, 0.035, 0.07)
        inset = _u(rng, 0.02, 0.1) * min(length, width)
        hx, hy = length / 2 - inset - thick / 2, width / 2 - inset - thick / 2
        _legs_rect(p, rng, hx, hy, top, thick, _p(rng, 0.5))
        if _p(rng, 0.5):  # apron
            ah = _u(rng, 0.06, 0.12)
            for sy in (-1, 1):
                p.box([0, sy * hy, top - ah / 2], [2 * hx, 0.02, ah])
            for sx in (-1, 1):
                p.box([sx * hx, 0, top - ah / 2], [0.02, 2 * hy, ah])
        if _p(rng, 0.3):  # stretchers
            sz = _u(rng, 0.1, 0.25)
            for sy in (-1, 1):
                p.cylinder([-hx, sy * hy, sz], [hx, sy * hy, sz], 0.012, 6)
        elif _p(rng, 0.25):  # lower shelf
            p.box([0, 0, _u(rng, 0.12, 0.3) * height], [2 * hx + thick, 2 * hy + thick, 0.02])
    return p.arrays()


def _desk(rng: np.random.Generator) -> Mesh:
    length, width, height, t = _u(rng, 1.0, 1.8), _u(rng, 0.5, 0.8), _u(rng, 0.70, 0.78), _u(rng, 0.025, 0.045)
    p = _Parts(max(length, width, height))
    top = height - t
    p.box([0, 0, height - t / 2], [length, width, t])
    support = _choice(rng, ["legs", "one_pedestal", "two_pedestals", "panels"], [0.3, 0.3, 0.2, 0.2])
    hx, hy = length / 2, width / 2
    depth = width * _u(rng, 0.85, 0.97)

    def pedestal(x_center: float, pw: float) -> None:
        plinth = _u(rng, 0.0, 0.08)
        p.box_between([x_center - pw / 2, -depth / 2, plinth], [x_center + pw / 2, depth / 2, top])
        n_drawers = int(rng.integers(2, 5))
        dh = (top - plinth) / n_drawers
        for i in range(n_drawers):
            zc = plinth + (i + 0.5) * dh
            p.box([x_center, -depth / 2 - 0.008, zc], [pw * 0.9, 0.016, dh * 0.85])

    def modesty_panel(x0: float, x1: float) -> None:
        low = _u(rng, 0.25, 0.5)
        p.box_between([x0, depth / 2 - 0.04, low], [x1, depth / 2 - 0.02, top])

    if support == "legs":
        thick = _u(rng, 0.035, 0.06)
        lx, ly = hx - thick / 2 - 0.02, hy - thick / 2 - 0.02
        _legs_rect(p, rng, lx, ly, top, thick, _p(rng, 0.6))
        if _p(rng, 0.6):
            modesty_panel(-lx, lx)
    elif support == "panels":
        pt = _u(rng, 0.025, 0.05)
        for sx in (-1, 1):
            p.box_between([sx * (hx - 0.02) - pt / 2, -depth / 2, 0], [sx * (hx - 0.02) + pt / 2, depth / 2, top])
        if _p(rng, 0.7):
            modesty_panel(-hx + 0.02, hx - 0.02)
    else:
        pw = _u(rng, 0.35, 0.5)
        pedestal(-hx + pw / 2 + 0.01, pw)
        if support == "two_pedestals":
            pedestal(hx - pw / 2 - 0.01, pw)
        else:
            thick = _u(rng, 0.035, 0.06)
            x = hx - thick / 2 - 0.02
            for sy in (-1, 1):
                p.box_between(
                    [x - thick / 2, sy * (hy - 0.03) - thick / 2, 0], [x + thick / 2, sy * (hy - 0.03) + thick / 2, top]
                )
            if _p(rng, 0.5):
                modesty_panel(-hx + pw, x)
    if _p(rng, 0.2):  # hutch: a shelf unit at the back of the top
        hh, hd = _u(rng, 0.25, 0.5), _u(rng, 0.18, 0.3)
        for sx in (-1, 1):
            p.box_between([sx * (hx - 0.02) - 0.01, hy - hd, height], [sx * (hx - 0.02) + 0.01, hy, height + hh])
        p.box_between([-hx, hy - hd, height + hh], [hx, hy, height + hh + 0.02])
        p.box_between([-hx + 0.03, hy - 0.015, height], [hx - 0.03, hy, height + hh])
    elif _p(rng, 0.2):  # keyboard tray
        p.box([0, -hy + 0.2, top - 0.07], [length * 0.4, 0.3, 0.015])
    return p.arrays()


def _stool(rng: np.random.Generator) -> Mesh:
    height = _u(rng, 0.45, 0.8)
    round_seat = _p(rng, 0.7)
    seat = _u(rng, 0.28, 0.42)
    t = _u(rng, 0.03, 0.07)
    p = _Parts(max(height, seat))
    top = height - t
    if round_seat:
        p.disk([0, 0, height - t / 2], seat / 2, t, 20)
    else:
        p.box([0, 0, height - t / 2], [seat, seat, t])
    if _p(rng, 0.8):
        n_legs = int(rng.choice([3, 4], p=[0.4, 0.6]))
        r_top = seat / 2 * _u(rng, 0.6, 0.85)
        r_foot = r_top * _u(rng, 1.0, 1.5)
        _legs_round(p, rng, n_legs, r_top, r_foot, top, _u(rng, 0.025, 0.045))
        zr = _u(rng, 0.25, 0.4) * height
        ring_r = r_foot + (r_top - r_foot) * zr / top
        if _p(rng, 0.5):
            p.torus([0, 0, zr], ring_r, 0.01, 16)
        elif _p(rng, 0.5):
            p.disk([0, 0, zr], ring_r, 0.02, 16)
    else:  # column with 5 feet (a bar stool)
        p.cylinder([0, 0, 0.05], [0, 0, top], _u(rng, 0.02, 0.04), 10)
        if _p(rng, 0.5):
            p.disk([0, 0, 0.015], seat * _u(rng, 0.45, 0.6), 0.03, 20)
        else:
            reach = seat * _u(rng, 0.5, 0.7)
            for i in range(5):
                a = 2 * np.pi * i / 5
                p.cylinder([0, 0, 0.06], [reach * math.cos(a), reach * math.sin(a), 0.015], 0.015, 6)
        if _p(rng, 0.4):
            p.torus([0, 0, _u(rng, 0.25, 0.4) * height], seat * 0.4, 0.01, 16)
    if _p(rng, 0.15):  # a low back
        bh = _u(rng, 0.12, 0.25)
        y = seat / 2 * 0.85
        for sx in (-1, 1):
            p.cylinder([sx * seat * 0.3, y, height], [sx * seat * 0.3, y, height + bh], 0.01, 6)
        p.box([0, y, height + bh], [seat * 0.75, 0.02, 0.06])
    return p.arrays()


def _seat_back(
    p: _Parts,
    rng: np.random.Generator,
    width: float,
    y_back: float,
    z_seat: float,
    back_height: float,
    style: str,
    thick: float,
) -> None:
    """A back from the seat at ``z_seat`` up ``back_height``, at y = ``y_back``, leaning back 0-15 degrees."""
    rot = _rot_x(-math.radians(_u(rng, 0.0, 15.0)))
    if style == "panel":
        p.box_from([0, y_back, z_seat], [width, thick, back_height], rot)
        return
    post = _u(rng, 0.02, 0.04)
    for sx in (-1, 1):
        p.box_from([sx * (width / 2 - post / 2), y_back, z_seat], [post, post, back_height], rot)
    if style == "rails":
        n = int(rng.integers(1, 4))
        rail_h = _u(rng, 0.04, 0.1)
        for i in range(n):
            z = back_height * (1.0 - i * 0.3) - rail_h
            p.box_from([0, y_back, z_seat] + rot @ np.array([0, 0, z]), [width - 2 * post, post * 0.8, rail_h], rot)
    else:  # slats
        p.box_from([0, y_back, z_seat] + rot @ np.array([0, 0, back_height - 0.06]), [width, post, 0.06], rot)
        n = int(rng.integers(3, 6))
        for i in range(n):
            x = (i + 1) / (n + 1) * (width - 2 * post) - (width / 2 - post)
            p.box_from([x, y_back, z_seat], [0.025, post * 0.6, back_height - 0.06], rot)


def _chair(rng: np.random.Generator) -> Mesh:
    width, depth, z_seat, t = _u(rng, 0.4, 0.55), _u(rng, 0.4, 0.55), _u(rng, 0.42, 0.5), _u(rng, 0.03, 0.08)
    back_height = _u(rng, 0.35, 0.6)
    p = _Parts(z_seat + back_height)
    p.box([0, 0, z_seat - t / 2], [width, depth, t])
    if _p(rng, 0.75):
        thick = _u(rng, 0.025, 0.05)
        inset = _u(rng, 0.0, 0.04)
        _legs_rect(
            p, rng, width / 2 - thick / 2 - inset, depth / 2 - thick / 2 - inset, z_seat - t, thick, _p(rng, 0.6)
        )
        if _p(rng, 0.25):
            zs = _u(rng, 0.1, 0.2)
            for sx in (-1, 1):
                x = sx * (width / 2 - thick / 2 - inset)
                p.cylinder([x, -depth / 2 + inset, zs], [x, depth / 2 - inset, zs], 0.01, 6)
    else:  # swivel base: column, five spokes, casters
        p.cylinder([0, 0, 0.1], [0, 0, z_seat - t], _u(rng, 0.02, 0.035), 10)
        reach = _u(rng, 0.25, 0.33)
        for i in range(5):
            a = 2 * np.pi * i / 5
            foot = np.array([reach * math.cos(a), reach * math.sin(a), 0.06])
            p.cylinder([0, 0, 0.1], foot, 0.018, 6)
            p.ellipsoid(foot - [0, 0, 0.03], [0.025, 0.025, 0.03], 4)
    style = _choice(rng, ["panel", "rails", "slats"], [0.45, 0.35, 0.2])
    _seat_back(p, rng, width, depth / 2 - 0.02, z_seat, back_height, style, _u(rng, 0.02, 0.06))
    if _p(rng, 0.35):  # armrests
        arm_z = z_seat + _u(rng, 0.18, 0.25)
        for sx in (-1, 1):
            x = sx * (width / 2 + 0.02)
            p.box([x, 0, arm_z], [0.05, depth * 0.9, 0.03])
            p.cylinder([x, -depth * 0.35, z_seat], [x, -depth * 0.35, arm_z], 0.012, 6)
    return p.arrays()


def _bench(rng: np.random.Generator) -> Mesh:
    length, width, height, t = _u(rng, 1.0, 2.0), _u(rng, 0.3, 0.5), _u(rng, 0.4, 0.5), _u(rng, 0.03, 0.06)
    back = _p(rng, 0.35)
    p = _Parts(max(length, height + (0.45 if back else 0.0)))
    top = height - t
    if _p(rng, 0.6):
        p.box([0, 0, height - t / 2], [length, width, t])
    else:  # slats
        n = int(rng.integers(3, 6))
        gap = _u(rng, 0.01, 0.03)
        sw = (width - (n - 1) * gap) / n
        for i in range(n):
            p.box([0, -width / 2 + sw / 2 + i * (sw + gap), height - t / 2], [length, sw, t])
    support = _choice(rng, ["legs", "slabs", "trestle"], [0.45, 0.3, 0.25])
    inset = _u(rng, 0.03, 0.15)
    if support == "legs":
        thick = _u(rng, 0.035, 0.06)
        hx = length / 2 - inset
        _legs_rect(p, rng, hx, width / 2 - thick / 2 - 0.01, top, thick, _p(rng, 0.6))
        if length > 1.5 and _p(rng, 0.5):
            for sy in (-1, 1):
                p.box_between(
                    [-thick / 2, sy * (width / 2 - thick / 2 - 0.01) - thick / 2, 0],
                    [thick / 2, sy * (width / 2 - thick / 2 - 0.01) + thick / 2, top],
                )
    elif support == "slabs":
        st = _u(rng, 0.03, 0.06)
        for sx in (-1, 1):
            x = sx * (length / 2 - inset)
            p.box_between([x - st / 2, -width / 2 * 0.9, 0], [x + st / 2, width / 2 * 0.9, top])
    else:  # trestle: an A-frame at each end and a stretcher
        for sx in (-1, 1):
            x = sx * (length / 2 - inset)
            for sy in (-1, 1):
                p.cylinder([x, sy * width * 0.5, 0], [x, sy * width * 0.15, top], 0.02, 6)
        p.cylinder([-(length / 2 - inset), 0, height * 0.35], [length / 2 - inset, 0, height * 0.35], 0.02, 6)
    if back:
        style = _choice(rng, ["panel", "rails", "slats"], [0.3, 0.5, 0.2])
        _seat_back(p, rng, length, width / 2 - 0.02, height, _u(rng, 0.3, 0.45), style, _u(rng, 0.02, 0.04))
        if _p(rng, 0.5):
            arm_z = height + _u(rng, 0.18, 0.25)
            for sx in (-1, 1):
                x = sx * (length / 2 - 0.03)
                p.box([x, 0, arm_z], [0.05, width * 0.9, 0.03])
                p.cylinder([x, -width * 0.35, height], [x, -width * 0.35, arm_z], 0.015, 6)
    return p.arrays()


def _sofa(rng: np.random.Generator) -> Mesh:
    length, depth, z_seat = _u(rng, 1.2, 2.4), _u(rng, 0.75, 1.0), _u(rng, 0.38, 0.48)
    back_top = z_seat + _u(rng, 0.3, 0.5)
    p = _Parts(max(length, depth, back_top))
    leg_h = _u(rng, 0.05, 0.15) if _p(rng, 0.5) else 0.0
    cushion = _u(rng, 0.1, 0.18)
    back_t = _u(rng, 0.15, 0.25)
    arms = _p(rng, 0.85)
    arm_w = _u(rng, 0.1, 0.25) if arms else 0.0
    inner = length - 2 * arm_w
    p.box_between([-inner / 2, -depth / 2, leg_h], [inner / 2, depth / 2 - back_t, z_seat - cushion])
    n_cushions = int(rng.integers(1, 4))
    cw = inner / n_cushions
    for i in range(n_cushions):
        x = -inner / 2 + (i + 0.5) * cw
        p.box([x, -back_t / 2, z_seat - cushion / 2], [cw * 0.97, depth - back_t, cushion])
    tilt = _rot_x(-math.radians(_u(rng, 0.0, 12.0)))
    p.box_from([0, depth / 2 - back_t / 2, leg_h], [inner, back_t, back_top - leg_h], tilt)
    if arms:
        arm_top = z_seat + _u(rng, 0.1, 0.25)
        rolled = _p(rng, 0.3)
        for sx in (-1, 1):
            x = sx * (length / 2 - arm_w / 2)
            p.box_between([x - arm_w / 2, -depth / 2, leg_h], [x + arm_w / 2, depth / 2, arm_top])
            if rolled:
                p.cylinder([x, -depth / 2, arm_top], [x, depth / 2, arm_top], arm_w * 0.55, 12)
    if leg_h > 0:
        _legs_rect(p, rng, length / 2 - 0.05, depth / 2 - 0.05, leg_h, 0.04, _p(rng, 0.5))
    if _p(rng, 0.15):  # a chaise: the seat continued forward at one end
        cl = _u(rng, 0.5, 0.8)
        x0 = length / 2 - arm_w - _u(rng, 0.55, 0.75) if not arms else inner / 2 - _u(rng, 0.55, 0.75)
        p.box_between([x0, -depth / 2 - cl, leg_h], [length / 2 - arm_w, -depth / 2, z_seat])
    return p.arrays()


def _bed(rng: np.random.Generator) -> Mesh:
    length, width = _u(rng, 1.9, 2.2), _u(rng, 0.9, 1.9)
    frame_top, mattress = _u(rng, 0.2, 0.4), _u(rng, 0.15, 0.3)
    head = _u(rng, 0.8, 1.3)
    p = _Parts(max(length, width, head))
    leg_h = _u(rng, 0.05, 0.2) if _p(rng, 0.5) else 0.0
    p.box_between([-length / 2, -width / 2, leg_h], [length / 2, width / 2, frame_top])
    p.box_between(
        [-length / 2 + 0.03, -width / 2 + 0.03, frame_top], [length / 2 - 0.03, width / 2 - 0.03, frame_top + mattress]
    )
    if leg_h > 0:
        _legs_rect(p, rng, length / 2 - 0.05, width / 2 - 0.05, leg_h, 0.05, _p(rng, 0.5))
    if _p(rng, 0.9):
        ht = _u(rng, 0.04, 0.1)
        p.box_between([length / 2, -width / 2 - 0.02, 0], [length / 2 + ht, width / 2 + 0.02, head])
    if _p(rng, 0.4):
        ft = _u(rng, 0.04, 0.08)
        p.box_between([-length / 2 - ft, -width / 2 - 0.02, 0], [-length / 2, width / 2 + 0.02, _u(rng, 0.4, 0.7)])
    if _p(rng, 0.7):
        n_pillows = 1 if width < 1.3 else int(rng.integers(1, 3))
        pw = width * 0.8 / n_pillows
        for i in range(n_pillows):
            y = -width * 0.4 + (i + 0.5) * pw
            p.ellipsoid([length / 2 - 0.25, y, frame_top + mattress + 0.05], [0.18, pw * 0.45, 0.07])
    return p.arrays()


def _night_stand(rng: np.random.Generator) -> Mesh:
    width, depth, height = _u(rng, 0.4, 0.6), _u(rng, 0.35, 0.5), _u(rng, 0.45, 0.7)
    p = _Parts(max(width, depth, height))
    legs = _p(rng, 0.5)
    base = _u(rng, 0.05, 0.15) if legs else _u(rng, 0.0, 0.05)
    body_h = height - base
    shelf = _p(rng, 0.3)
    pt = 0.02
    if shelf:  # a carcass open at the front in its lower part
        open_h = body_h * _u(rng, 0.35, 0.55)
        p.box_between([-width / 2, -depth / 2, base], [width / 2, depth / 2, base + pt])  # bottom
        for sx in (-1, 1):
            p.box_between(
                [sx * width / 2 - pt / 2, -depth / 2, base], [sx * width / 2 + pt / 2, depth / 2, base + open_h]
            )
        p.box_between([-width / 2, depth / 2 - pt, base], [width / 2, depth / 2, base + open_h])  # back
        p.box_between([-width / 2, -depth / 2, base + open_h], [width / 2, depth / 2, height])
        drawer_lo = base + open_h
    else:
        p.box_between([-width / 2, -depth / 2, base], [width / 2, depth / 2, height])
        drawer_lo = base
    n_drawers = int(rng.integers(1, 4))
    dh = (height - drawer_lo) / n_drawers
    knobs = _p(rng, 0.6)
    for i in range(n_drawers):
        zc = drawer_lo + (i + 0.5) * dh
        p.box([0, -depth / 2 - 0.006, zc], [width * 0.92, 0.012, dh * 0.85])
        if knobs:
            p.ellipsoid([0, -depth / 2 - 0.02, zc], [0.012, 0.012, 0.012], 4)
    if legs:
        _legs_rect(p, rng, width / 2 - 0.03, depth / 2 - 0.03, base, 0.03, _p(rng, 0.5))
    if _p(rng, 0.3):  # a top overhanging the body
        p.box([0, 0, height + 0.0125], [width + 0.04, depth + 0.03, 0.025])
    return p.arrays()


def _bottle(rng: np.random.Generator) -> Mesh:
    radius = _u(rng, 0.03, 0.05)
    body = _u(rng, 0.10, 0.22)
    shoulder = _u(rng, 0.015, 0.07)
    neck_r = radius * _u(rng, 0.22, 0.45)
    neck = _u(rng, 0.02, 0.08)
    waist = radius * _u(rng, 0.85, 1.0)
    r_sh, z_sh = _smooth([0, shoulder], [radius, neck_r], 6)
    lip = neck_r * _u(rng, 1.05, 1.25)
    top = body + shoulder + neck
    r = np.concatenate([[0.0, radius * 0.9, radius, waist, radius], r_sh[1:], [neck_r, lip, lip, 0.0]])
    z = np.concatenate([[0.0, 0.0, 0.012, body * 0.5, body], body + z_sh[1:], [top - 0.012, top - 0.012, top, top]])
    p = _Parts(top)
    p.revolve(r, z, 18)
    return p.arrays()


def _vase(rng: np.random.Generator) -> Mesh:
    height = _u(rng, 0.2, 0.5)
    belly = height * _u(rng, 0.18, 0.4)
    if _p(rng, 0.2):  # near-cylindrical
        cz = [0.0, height]
        cr = [belly * _u(rng, 0.85, 1.0), belly * _u(rng, 0.9, 1.1)]
    else:
        foot = belly * _u(rng, 0.45, 0.8)
        zb = height * _u(rng, 0.25, 0.6)
        neck = belly * _u(rng, 0.35, 0.8)
        zn = height * _u(rng, 0.75, 0.9)
        lip = neck * _u(rng, 1.0, 1.6)
        cz, cr = [0.0, zb, zn, height], [foot, belly, neck, lip]
    r, z = _smooth(cz, cr, 14)
    wall = 0.06 * float(r.min())
    p = _Parts(height)
    p.revolve(*_vessel_profile(r, z, wall, 0.04 * height), 18)
    return p.arrays()


def _cup(rng: np.random.Generator) -> Mesh:
    radius = _u(rng, 0.035, 0.05)
    if _p(rng, 0.25):  # a teacup: low, with a rounded wall rising from a small base (close to a bowl)
        height = 2 * radius * _u(rng, 0.5, 0.75)
        bottom = radius * _u(rng, 0.5, 0.7)
        s = np.linspace(0.0, 1.0, 8)
        r, z = bottom + (radius - bottom) * np.sin(0.5 * np.pi * s) ** _u(rng, 0.5, 1.0), s * height
    else:  # a mug or beaker
        height = 2 * radius * _u(rng, 0.75, 1.4)
        r, z = _smooth([0.0, height], [radius * _u(rng, 0.65, 1.0), radius], 8)
    p = _Parts(height + radius)
    p.revolve(*_vessel_profile(r, z, 0.004, 0.006), 18)
    if _p(rng, 0.75):
        z0, z1 = height * _u(rng, 0.15, 0.35), height * _u(rng, 0.7, 0.85)
        out = radius * _u(rng, 0.4, 0.8)
        s = np.linspace(0, np.pi, 9)
        zc, half = 0.5 * (z0 + z1), 0.5 * (z1 - z0)
        r_attach = np.interp([z0, z1], z, r)
        x = np.interp(s, [0, np.pi], r_attach) - 0.002 + out * np.sin(s)
        pts = np.stack([x, np.zeros_like(s), zc - half * np.cos(s)], axis=-1)
        p.tube(pts, _u(rng, 0.005, 0.008), [0, 1, 0], 6)
    return p.arrays()


def _bowl(rng: np.random.Generator) -> Mesh:
    radius = _u(rng, 0.06, 0.15)
    height = 2 * radius * _u(rng, 0.22, 0.42)
    base = radius * _u(rng, 0.3, 0.6)
    s = np.linspace(0.0, 1.0, 10)
    if _p(rng, 0.3):  # straight flared wall
        r = base + (radius - base) * s
    else:  # rounded wall
        r = base + (radius - base) * np.sin(0.5 * np.pi * s) ** _u(rng, 0.5, 1.0)
    z = s * height
    p = _Parts(2 * radius)
    p.revolve(*_vessel_profile(r, z, 0.03 * radius, 0.04 * height), 20)
    if _p(rng, 0.5):  # a foot ring below (the bowl is lifted onto it)
        foot = _u(rng, 0.05, 0.12) * height
        v, t = p.arrays()
        p = _Parts(2 * radius)
        p.add(v + _up(foot), t)
        ring_r = base * _u(rng, 0.7, 0.95)
        p.revolve([ring_r, ring_r * 1.08, ring_r * 1.08, ring_r], [foot, foot, 0.0, 0.0], 20)
    return p.arrays()


def _cone(rng: np.random.Generator) -> Mesh:
    height = _u(rng, 0.3, 0.9)
    radius = height * _u(rng, 0.15, 0.45)
    p = _Parts(height)
    z0 = 0.0
    if _p(rng, 0.5):  # a traffic cone's square base
        base_t = _u(rng, 0.02, 0.04)
        side = 2 * radius * _u(rng, 1.15, 1.4)
        p.box([0, 0, base_t / 2], [side, side, base_t])
        z0 = base_t
    if _p(rng, 0.4):  # truncated
        rt = radius * _u(rng, 0.1, 0.3)
        r, z = _smooth([0.0, height], [radius, rt], 10)
        p.revolve(np.concatenate([[0.0], r, [0.0]]), z0 + np.concatenate([[0.0], z, [height]]), 18)
    else:
        p.cone([0, 0, z0], radius, height, 18)
    return p.arrays()


def _shade(p: _Parts, rng: np.random.Generator, z0: float, r_bottom: float, r_top: float, h: float) -> None:
    """An open lamp shade (a frustum with a wall) from height ``z0`` up ``h``."""
    wall = 0.006
    r = np.array(
        [r_bottom, 0.5 * (r_bottom + r_top), r_top, r_top - wall, 0.5 * (r_bottom + r_top) - wall, r_bottom - wall]
    )
    z = z0 + np.array([0.0, 0.5 * h, h, h, 0.5 * h, 0.0])
    p.revolve(r, z, 20)


def _lamp(rng: np.random.Generator) -> Mesh:
    kind = _choice(rng, ["floor", "table", "desk"], [0.35, 0.45, 0.2])
    if kind == "desk":  # jointed arm with a small downward cone shade
        base_r = _u(rng, 0.07, 0.11)
        reach = _u(rng, 0.6, 1.0) * 2 * base_r
        total = max(_u(rng, 0.4, 0.6), 2.1 * (1.3 * reach + base_r + 0.07))
        p = _Parts(total)
        p.disk([0, 0, 0.012], base_r, 0.024, 16)
        elbow = np.array([-reach * 0.3, 0.0, total * 0.6])
        head = np.array([reach, 0.0, total - 0.05])
        p.cylinder([0, 0, 0.024], elbow, 0.01, 6)
        p.cylinder(elbow, head, 0.01, 6)
        hr, hh = _u(rng, 0.05, 0.07), _u(rng, 0.08, 0.12)
        p.revolve([0.0, 0.012, hr, hr - 0.004, 0.008], [0.0, 0.0, -hh, -hh, -0.004], 14, offset=head + _up(0.03))
        return p.arrays()
    if kind == "floor":
        pole = _u(rng, 1.2, 1.7)
        base_r = _u(rng, 0.12, 0.2)
        shade_rb, shade_h = _u(rng, 0.15, 0.25), _u(rng, 0.2, 0.35)
    else:
        shade_rb, shade_h = _u(rng, 0.1, 0.2), _u(rng, 0.13, 0.25)
        base_r = _u(rng, 0.06, 0.12)
        pole = max(_u(rng, 0.35, 0.55), 4.2 * max(shade_rb, base_r))
    p = _Parts(pole + shade_h)
    if kind == "table" and _p(rng, 0.6):  # a vase-like body as the base
        bh = _u(rng, 0.35, 0.6) * pole
        r, z = _smooth([0.0, 0.5 * bh, bh], [base_r * 0.7, base_r, 0.02], 8)
        p.revolve(np.concatenate([[0.0], r, [0.0]]), np.concatenate([[0.0], z, [bh]]), 16)
    elif _p(rng, 0.7):
        p.disk([0, 0, 0.015], base_r, 0.03, 18)
    else:
        p.box([0, 0, 0.015], [1.4 * base_r, 1.4 * base_r, 0.03])
    p.cylinder([0, 0, 0.0], [0, 0, pole], _u(rng, 0.008, 0.015), 8)
    shade_rt = shade_rb * _u(rng, 0.45, 0.9)
    if kind == "floor" and _p(rng, 0.3):  # torchiere: an upward-opening shade
        shade_rb, shade_rt = shade_rt * 0.5, shade_rb
    _shade(p, rng, pole - 0.6 * shade_h, shade_rb, shade_rt, shade_h)
    return p.arrays()


def _monitor(rng: np.random.Generator) -> Mesh:
    width = _u(rng, 0.4, 0.75)
    screen_h = width * _u(rng, 0.56, 0.8)
    thick = _u(rng, 0.015, 0.05)
    z0 = _u(rng, 0.06, 0.15)
    p = _Parts(max(width, z0 + screen_h))
    tilt = _rot_x(-math.radians(_u(rng, 0.0, 10.0)))
    p.box_from([0, 0, z0], [width, thick, screen_h], tilt)
    if _p(rng, 0.5):  # the panel inset in the bezel
        p.box_from([0, -thick / 2 - 0.002, z0 + 0.03], [width * 0.92, 0.004, screen_h * 0.88], tilt)
    if _p(rng, 0.25):  # a CRT-like back
        bd = _u(rng, 0.05, 0.2)
        p.box_from([0, thick / 2 + bd / 2, z0 + screen_h * 0.2], [width * 0.6, bd, screen_h * 0.6], tilt)
    neck_y = thick / 2 + 0.02
    p.box_between([-0.025, neck_y, 0.0], [0.025, neck_y + 0.02, z0 + screen_h * 0.5])
    foot = _choice(rng, ["plate", "disk", "v"], [0.5, 0.25, 0.25])
    fw, fd = width * _u(rng, 0.3, 0.5), _u(rng, 0.15, 0.25)
    if foot == "plate":
        p.box([0, neck_y, 0.008], [fw, fd, 0.016])
    elif foot == "disk":
        p.disk([0, neck_y, 0.008], fd / 2, 0.016, 18)
    else:
        for sx in (-1, 1):
            p.cylinder([0, neck_y, 0.01], [sx * fw / 2, neck_y - fd / 2, 0.01], 0.012, 6)
    return p.arrays()


def _airplane(rng: np.random.Generator) -> Mesh:
    length = 1.0
    fr = _u(rng, 0.04, 0.07)
    nose, tail = _u(rng, 0.08, 0.15), _u(rng, 0.15, 0.28)
    r = np.array([0.0, 0.5 * fr, 0.85 * fr, fr, fr, 0.55 * fr, 0.2 * fr, 0.0])
    z = np.array([0.0, 0.25 * nose, 0.6 * nose, nose, length - tail, length - 0.45 * tail, length - 0.05, length])
    p = _Parts(length)
    p.revolve(r, z, 14, rot=_rot_y(0.5 * np.pi), offset=[-0.5 * length, 0.0, 0.0])  # along +x, nose at -x/2
    span, chord = _u(rng, 0.8, 1.2), _u(rng, 0.1, 0.2)
    sweep = math.radians(_u(rng, 0.0, 35.0))
    dihedral = math.radians(_u(rng, 0.0, 6.0))
    x_wing = -0.5 * length + _u(rng, 0.35, 0.5) * length
    z_wing = _u(rng, -0.6, 0.4) * fr
    engines = int(rng.choice([0, 2, 4], p=[0.2, 0.6, 0.2]))
    for side in (-1, 1):
        rot = _rot_z(-side * sweep) @ _rot_x(side * dihedral)
        root = np.array([x_wing, 0.0, z_wing])
        p.box(root + rot @ np.array([0.0, side * span / 4, 0.0]), [chord, span / 2, 0.015], rot)
        for k in range(engines // 2):
            at = root + rot @ np.array([-0.3 * chord, side * span / 2 * (0.3 + 0.3 * k), -0.04])
            p.cylinder(at - np.array([0.06, 0.0, 0.0]), at + np.array([0.08, 0.0, 0.0]), _u(rng, 0.018, 0.03), 10)
        tspan, tchord = _u(rng, 0.25, 0.4), _u(rng, 0.06, 0.1)
        troot = np.array([0.5 * length - 0.6 * tail, 0.0, 0.2 * fr])
        trot = _rot_z(-side * (sweep + math.radians(5.0)))
        p.box(troot + trot @ np.array([0.0, side * tspan / 4, 0.0]), [tchord, tspan / 2, 0.01], trot)
    fin_h, fin_c = _u(rng, 0.12, 0.2), _u(rng, 0.08, 0.14)
    fin_rot = _rot_y(math.radians(_u(rng, 20.0, 45.0)))
    p.box_from([0.5 * length - 0.55 * tail, 0.0, 0.5 * fr], [fin_c, 0.01, fin_h], fin_rot)
    return p.arrays()


_BUILDERS: dict[str, Callable[[np.random.Generator], Mesh]] = {
    "airplane": _airplane,
    "bed": _bed,
    "bench": _bench,
    "bottle": _bottle,
    "bowl": _bowl,
    "chair": _chair,
    "cone": _cone,
    "cup": _cup,
    "desk": _desk,
    "lamp": _lamp,
    "monitor": _monitor,
    "night_stand": _night_stand,
    "sofa": _sofa,
    "stool": _stool,
    "table": _table,
    "vase": _vase,
}
assert tuple(_BUILDERS) == SHAPE_CLASSES


# ---------------------------------------------------------------------------------------------------------------
# Variation and the public API


def occlude(vertices: np.ndarray, triangles: np.ndarray, normal: np.ndarray, fraction: float) -> Mesh:
    """Remove the triangles whose centroids lie furthest along ``normal`` (3,), about ``fraction`` of the surface
    area, never more than half of the triangles; unreferenced vertices are dropped. Returns (V', 3), (F', 3)."""
    v, t = np.asarray(vertices, dtype=np.float64), np.asarray(triangles, dtype=np.int64)
    depth = v[t].mean(axis=1) @ (np.asarray(normal, dtype=np.float64) / np.linalg.norm(normal))
    order = np.argsort(-depth, kind="stable")
    cum = np.cumsum(triangle_areas(v, t)[order])
    k = min(int(np.searchsorted(cum, fraction * cum[-1])), len(t) // 2)
    keep = np.ones(len(t), dtype=bool)
    keep[order[:k]] = False
    return _compact(v, t[keep])


def _compact(v: np.ndarray, t: np.ndarray) -> Mesh:
    used = np.unique(t)
    index = np.full(len(v), -1, dtype=np.int64)
    index[used] = np.arange(len(used))
    return v[used], index[t]


def _check_class(class_name: str) -> int:
    if class_name not in _BUILDERS:
        raise ShapeParameterError(
            f"unknown shape class {class_name!r}{did_you_mean(str(class_name), SHAPE_CLASSES)}; "
            f"the classes are {', '.join(SHAPE_CLASSES)}"
        )
    return SHAPE_CLASSES.index(class_name)


def simulate_shape(
    class_name: str, rng: np.random.Generator, *, occlusion_probability: float = OCCLUSION_PROBABILITY
) -> tuple[np.ndarray, np.ndarray]:
    """One random shape of ``class_name``: vertices (V, 3) float64 (arbitrary units, centred on its bounding box,
    z up) and triangles (F, 3) int64 (0-based, every vertex used).

    The class geometry is drawn first, then scale, rotation, jitter and the occlusion (module docstring), always
    in the same order; ``occlusion_probability`` only decides whether the drawn cut is applied."""
    _check_class(class_name)
    if not 0.0 <= float(occlusion_probability) <= 1.0:
        raise ShapeParameterError(f"occlusion_probability must be in [0, 1], got {occlusion_probability!r}")
    v, t = _BUILDERS[class_name](rng)
    v = v - 0.5 * (v.min(axis=0) + v.max(axis=0))
    v = (v * rng.uniform(*SCALE_RANGE, size=3)) @ _rot_z(rng.uniform(0.0, 2.0 * np.pi)).T
    sigma = rng.uniform(*JITTER_RANGE) * float(np.ptp(v, axis=0).max())
    v = v + sigma * rng.standard_normal(v.shape)
    apply = rng.random() < occlusion_probability
    normal = rng.standard_normal(3)
    fraction = rng.uniform(*OCCLUSION_FRACTION)
    v, t = occlude(v, t, normal, fraction) if apply else _compact(v, t)
    v = v - 0.5 * (v.min(axis=0) + v.max(axis=0))
    return np.ascontiguousarray(v, dtype=np.float64), np.ascontiguousarray(t, dtype=np.int64)


def off_text(vertices: np.ndarray, triangles: np.ndarray) -> str:
    """The ASCII OFF text of a triangle mesh: ``OFF``, ``V F 0``, the vertices (6 decimals), ``3 i j k`` faces."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    v = np.where(v == 0.0, 0.0, v)  # no "-0.000000" from a negative zero
    head = f"OFF\n{len(v)} {len(t)} 0\n"
    return head + ("%.6f %.6f %.6f\n" * len(v)) % tuple(v.ravel()) + ("3 %d %d %d\n" * len(t)) % tuple(t.ravel())


def write_off(path: str | Path, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """Write an ASCII OFF file atomically (temporary name, then rename)."""
    atomic_write_text(path, off_text(vertices, triangles))


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ShapeParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def write_modelnet(
    root: Path,
    classes: Sequence[str] | None = None,
    n_train: int = 40,
    n_test: int = 10,
    seed: int = 0,
) -> Path:
    """Simulate ``n_train + n_test`` shapes of every class in ``classes`` (default :data:`SHAPE_CLASSES`) into
    ``root`` in the ModelNet layout (module docstring): ids 0001 .. n_train under ``train/``, the next n_test
    under ``test/``. Shape ``k`` (0-based) of a class is drawn from ``np.random.default_rng([seed, class index,
    k])``. Each file is written atomically. A class folder holding ``.off`` files this call does not write (an
    earlier, different simulation) is refused with a :class:`DataError`. Returns ``root``."""
    if classes is None:
        names: tuple[str, ...] = SHAPE_CLASSES
    else:
        if isinstance(classes, str) or not isinstance(classes, Sequence):
            raise ShapeParameterError(f"classes must be a sequence of class names, got {classes!r}")
        names = tuple(classes)
        if not names:
            raise ShapeParameterError("classes must name at least one class")
        for name in names:
            _check_class(name)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ShapeParameterError(f"classes must be unique, got {', '.join(duplicates)} more than once")
    n_train = _check_count("n_train", n_train, 1)
    n_test = _check_count("n_test", n_test, 0)
    seed = _check_count("seed", seed, 0)
    if n_train + n_test > MAX_SHAPES_PER_CLASS:
        raise ShapeParameterError(
            f"n_train + n_test must be at most {MAX_SHAPES_PER_CLASS} (4-digit ids), got {n_train + n_test}"
        )
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise DataError(f"dataset root {root} exists and is not a folder")
    for name in names:
        expected = {
            root / name / ("train" if k < n_train else "test") / f"{name}_{k + 1:04d}.off"
            for k in range(n_train + n_test)
        }
        stale = sorted(str(f) for f in (root / name).glob("*/*.off") if f not in expected)
        if stale:
            raise DataError(
                f"{root / name} already holds {len(stale)} .off files this simulation does not write "
                f"(e.g. {stale[0]}); use an empty folder"
            )
    for name in names:
        index = SHAPE_CLASSES.index(name)
        for k in range(n_train + n_test):
            split = "train" if k < n_train else "test"
            v, t = simulate_shape(name, np.random.default_rng([seed, index, k]))
            write_off(root / name / split / f"{name}_{k + 1:04d}.off", v, t)
    return root
