"""Finite element simulator writing the official DeepFEA dataset layout (scikit-fem, Newmark-beta).

Each case is an elastic body meshed as a structured grid of nodes (2D: ``H x W`` bilinear quads, 3D: ``D x H x W``
trilinear hexahedra), clamped on random nodes (one or two edges / faces, or a few node patches) and loaded at a random
free node (or a small node patch) by a force with a random direction, magnitude and time history. The transient
response is integrated with the Newmark-beta method (beta = 1/4, gamma = 1/2: average acceleration, unconditionally
stable and energy conserving without damping), optionally with Rayleigh damping ``C = a0 M + a1 K``.

Models
    * ``"linear"`` (2D): plane-STRESS linear elasticity of a plate of thickness ``t``; ``K`` and the consistent mass
      matrix ``M`` are assembled by scikit-fem once per case and ``M + gamma dt C + beta dt^2 K`` is factorised once.
    * ``"linear"`` (3D): small-strain linear elasticity on hexahedra.
    * ``"neo_hookean"``: compressible neo-Hookean solid, ``W = mu/2 (I1 - 3) - mu ln J + lambda/2 (ln J)^2``, in 2D
      under PLANE STRAIN (``F_zz = 1``), in 3D in full. Each Newmark step is solved by Newton iterations with the
      residual and the consistent tangent assembled by scikit-fem from the current displacement (total Lagrangian).

Units (SI): metres, seconds, newtons, pascals, kilograms. The default plate is 1 m x 1 m (3D: 1 m cube), 0.01 m thick,
of a soft rubber-like material (E 1-10 MPa, nu 0.2-0.4, density 900-1500 kg/m^3). The load magnitude is calibrated
per case from a static unit-load solve so that the peak displacement is about 1-4 % of the plate size, and the time
step so that the simulated span covers 1-2.5 periods of the first eigenmode.

Outputs (the contract with the dataset reader, ``T = n_steps``; node index order grid[i, j] = node at (y_i, x_j),
3D grid[k, i, j] = node at (z_k, y_i, x_j)):
    * ``dis_in`` float32 (T, 2*dim + 1, *grid): node coordinates x, y[, z] at step t (m), the nodal load Fx, Fy[, Fz]
      (N) of step t, and the clamp mask (1 where both / all dofs of the node are fixed). The load of step t is the
      external force at the END of the step, time t_{t+1} = (t + 1) dt, i.e. the load the implicit step t -> t+1
      equilibrates (with load histories that start from zero, the load at time t_t would carry no information at
      step 0).
    * ``dis_out`` float32 (T, dim, *grid): node coordinates at step t+1 (m).
    * ``eff_stress`` float32 (T, *elem_grid): von Mises stress (Pa) of each element at step t+1, evaluated at the
      element centre from the displacement gradient there (linear: Hooke's law, with sigma_zz = 0 under plane stress
      and sigma_zz = lambda tr(eps) under plane strain; neo-Hookean: the Cauchy stress, with its zz component).
    * ``eff_strain`` float32 (T, *elem_grid): effective (von Mises equivalent) strain ``sqrt(2/3 e_dev : e_dev)`` of
      the full 3 x 3 strain tensor at the element centre: the small-strain tensor for the linear model (the
      out-of-plane strain of plane stress, ``eps_zz = -nu / (1 - nu) (eps_xx + eps_yy)``, included), the
      Green-Lagrange strain ``(F^T F - I) / 2`` for the neo-Hookean model (``E_zz = 0`` under plane strain).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skfem import (
    Basis,
    BilinearForm,
    ElementHex1,
    ElementQuad1,
    ElementVector,
    Functional,
    LinearForm,
    MeshHex,
    MeshQuad,
)
from skfem.helpers import ddot, det, dot, grad, inv, transpose
from skfem.models.elasticity import lame_parameters, linear_elasticity, plane_stress

from sciconv.errors import ConfigError, DataError

SIMULATOR_VERSION = "1.0"

MATERIAL_MODELS = ("linear", "neo_hookean")
HISTORY_KINDS = ("ramp", "pulse", "harmonic", "ramp_release")
BC_KINDS = ("one_edge", "two_edges", "patches")
PLANE_KINDS = ("stress", "strain", "none")

NEWMARK_BETA = 0.25
NEWMARK_GAMMA = 0.5

_HISTORY_KEYS = {
    "ramp": ("t_ramp",),
    "pulse": ("t_pulse",),
    "harmonic": ("frequency",),
    "ramp_release": ("t_ramp", "t_release"),
}
# Names of the grid's faces (2D: edges): axis in the grid (C order: 3D (z, y, x), 2D (y, x)) and side.
_FACES_2D = {"bottom": (0, 0), "top": (0, -1), "left": (1, 0), "right": (1, -1)}
_FACES_3D = {"back": (0, 0), "front": (0, -1), "bottom": (1, 0), "top": (1, -1), "left": (2, 0), "right": (2, -1)}


@dataclass(frozen=True)
class FEACase:
    """Everything drawn for one simulation case.

    Node sets are flat indices into the node grid in C order (2D ``i * W + j``, 3D ``(k * H + i) * W + j``).
    ``size_xyz`` is the body's extent along x, y[, z] (m) whereas ``grid`` is in array order ((H, W) / (D, H, W)).
    """

    dim: int
    grid: tuple[int, ...]
    size_xyz: tuple[float, ...]
    thickness: float  # m, 2D only (scales K, M and the element forces); unused in 3D
    plane: str  # "stress" | "strain" (2D), "none" (3D)
    material_model: str
    young: float  # Pa
    poisson: float
    density: float  # kg/m^3
    damping_ratio: float  # Rayleigh damping ratio at the first eigenfrequency and at 4x it
    rayleigh: tuple[float, float]  # (a0 in 1/s, a1 in s): C = a0 M + a1 K
    bc_kind: str
    bc_detail: tuple[str, ...]  # clamped edges / faces, or patch descriptions
    fixed_nodes: tuple[int, ...]
    load_nodes: tuple[int, ...]
    direction: tuple[float, ...]  # unit vector (x, y[, z])
    magnitude: float  # N, total load, split equally over the load nodes
    history: str
    history_params: tuple[tuple[str, float], ...]  # seconds (t_*) or Hz (frequency)
    dt: float  # s
    n_steps: int
    first_frequency: float  # Hz, first eigenfrequency of the clamped linear model
    peak_fraction: float  # target peak displacement / largest body size used to calibrate ``magnitude``

    def __post_init__(self) -> None:
        _validate_case(self)

    @property
    def n_nodes(self) -> int:
        return int(np.prod(self.grid))

    @property
    def elem_grid(self) -> tuple[int, ...]:
        return tuple(n - 1 for n in self.grid)

    @property
    def params(self) -> dict[str, float]:
        return dict(self.history_params)

    def to_record(self) -> dict[str, Any]:
        """JSON-friendly dict of every field (history parameters as a dict)."""
        rec = dataclasses.asdict(self)
        rec["history_params"] = dict(self.history_params)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in rec.items()}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FEACase:
        """Inverse of :meth:`to_record` (extra keys such as ``case`` or ``simulator_version`` are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = names - set(record)
        if missing:
            raise DataError(f"case record lacks the fields {sorted(missing)}")
        kw: dict[str, Any] = {}
        for name in names:
            v = record[name]
            if name == "history_params":
                v = tuple((str(k), float(x)) for k, x in dict(v).items())
            elif name == "rayleigh":
                v = tuple(float(x) for x in v)
            elif isinstance(v, list):
                v = tuple(v)
            kw[name] = v
        return cls(**kw)


def _validate_case(c: FEACase) -> None:
    if c.dim not in (2, 3):
        raise ConfigError(f"dim must be 2 or 3, got {c.dim!r}")
    if len(c.grid) != c.dim or any(int(n) != n or n < 2 for n in c.grid):
        raise ConfigError(f"grid must be {c.dim} node counts >= 2, got {c.grid!r}")
    if len(c.size_xyz) != c.dim or not all(math.isfinite(s) and s > 0 for s in c.size_xyz):
        raise ConfigError(f"size_xyz must be {c.dim} positive lengths (m), got {c.size_xyz!r}")
    if not (math.isfinite(c.thickness) and c.thickness > 0):
        raise ConfigError(f"thickness must be > 0 (m), got {c.thickness!r}")
    if c.material_model not in MATERIAL_MODELS:
        raise ConfigError(f"material_model must be one of {MATERIAL_MODELS}, got {c.material_model!r}")
    if c.plane not in PLANE_KINDS or (c.dim == 3) != (c.plane == "none"):
        raise ConfigError(f"plane must be 'stress' or 'strain' in 2D and 'none' in 3D, got {c.plane!r}")
    if c.material_model == "neo_hookean" and c.plane == "stress":
        raise ConfigError("plane='stress' is not supported by material_model='neo_hookean' (use plane='strain')")
    if not (math.isfinite(c.young) and c.young > 0):
        raise ConfigError(f"young must be > 0 (Pa), got {c.young!r}")
    if not (-1.0 < c.poisson < 0.5):
        raise ConfigError(f"poisson must lie in (-1, 0.5), got {c.poisson!r}")
    if not (math.isfinite(c.density) and c.density > 0):
        raise ConfigError(f"density must be > 0 (kg/m^3), got {c.density!r}")
    if not (0.0 <= c.damping_ratio < 1.0):
        raise ConfigError(f"damping must lie in [0, 1), got {c.damping_ratio!r}")
    if len(c.rayleigh) != 2 or not all(math.isfinite(a) and a >= 0 for a in c.rayleigh):
        raise ConfigError(f"rayleigh must be two coefficients >= 0, got {c.rayleigh!r}")
    n = int(np.prod(c.grid))
    fixed = set(c.fixed_nodes)
    if not fixed or len(fixed) >= n or min(fixed) < 0 or max(fixed) >= n:
        raise ConfigError(f"fixed_nodes must clamp some but not all of the {n} nodes, got {len(fixed)} nodes")
    load = set(c.load_nodes)
    if not load or min(load) < 0 or max(load) >= n or load & fixed:
        raise ConfigError("load_nodes must be a non-empty set of free nodes of the grid")
    if len(c.direction) != c.dim or abs(float(np.linalg.norm(c.direction)) - 1.0) > 1e-6:
        raise ConfigError(f"direction must be a unit vector of length {c.dim}, got {c.direction!r}")
    if not (math.isfinite(c.magnitude) and c.magnitude >= 0):
        raise ConfigError(f"magnitude must be >= 0 (N), got {c.magnitude!r}")
    if c.history not in HISTORY_KINDS:
        raise ConfigError(f"history must be one of {HISTORY_KINDS}, got {c.history!r}")
    p = dict(c.history_params)
    if set(p) != set(_HISTORY_KEYS[c.history]) or not all(math.isfinite(v) and v > 0 for v in p.values()):
        raise ConfigError(f"history_params of {c.history!r} must be positive {_HISTORY_KEYS[c.history]}, got {p}")
    if c.history == "ramp_release" and p["t_release"] < p["t_ramp"]:
        raise ConfigError("history_params: t_release must be >= t_ramp")
    if int(c.n_steps) != c.n_steps or c.n_steps < 1:
        raise ConfigError(f"n_steps must be an integer >= 1, got {c.n_steps!r}")
    if not (math.isfinite(c.dt) and c.dt > 0):
        raise ConfigError(f"dt must be > 0 (s), got {c.dt!r}")


# ----------------------------------------------------------------------------------------------------------------
# Geometry and assembly (scikit-fem)


class _Geometry:
    """Mesh, bases, unit-material matrices and the maps between scikit-fem's numbering and the node grid."""

    def __init__(self, dim: int, grid: tuple[int, ...], size_xyz: tuple[float, ...]) -> None:
        axes_xyz = [np.linspace(0.0, size_xyz[a], grid[dim - 1 - a]) for a in range(dim)]  # grid is (.., y, x)
        if dim == 2:
            mesh = MeshQuad.init_tensor(*axes_xyz)
            elem = ElementVector(ElementQuad1())
        else:
            mesh = MeshHex.init_tensor(*axes_xyz)
            elem = ElementVector(ElementHex1())
        self.dim = dim
        self.grid = grid
        self.mesh = mesh
        self.basis = Basis(mesh, elem)
        self.centroid_basis = Basis(mesh, elem, quadrature=(np.full((dim, 1), 0.5), np.array([1.0])))
        spacing = [size_xyz[a] / (grid[dim - 1 - a] - 1) for a in range(dim)]
        # node grid index (array order) of every mesh node
        idx = [np.rint(mesh.p[a] / spacing[a]).astype(int) for a in range(dim)]
        flat_of_mesh = np.ravel_multi_index(tuple(reversed(idx)), grid)
        self.mesh_of_flat = np.empty(mesh.p.shape[1], dtype=int)
        self.mesh_of_flat[flat_of_mesh] = np.arange(mesh.p.shape[1])
        # dof of component c (x, y, z) at grid node n: dofs[n, c]
        self.dofs = self.basis.nodal_dofs[:, self.mesh_of_flat].T.copy()
        centres = mesh.p[:, mesh.t].mean(axis=1)
        eidx = [np.floor(centres[a] / spacing[a] + 1e-9).astype(int) for a in range(dim)]
        egrid = tuple(n - 1 for n in grid)
        flat_of_elem = np.ravel_multi_index(tuple(reversed(eidx)), egrid)
        self.elem_of_flat = np.empty(mesh.t.shape[1], dtype=int)
        self.elem_of_flat[flat_of_elem] = np.arange(mesh.t.shape[1])
        # reference coordinates (dim, *grid), channels x, y[, z]
        self.ref = mesh.p[:, self.mesh_of_flat].reshape((dim, *grid))
        self.k_lambda = linear_elasticity(Lambda=1.0, Mu=0.0).assemble(self.basis).tocsr()
        self.k_mu = linear_elasticity(Lambda=0.0, Mu=1.0).assemble(self.basis).tocsr()
        self.m_unit = _vector_mass.assemble(self.basis).tocsr()


@BilinearForm
def _vector_mass(u, v, w):
    return dot(u, v)


@lru_cache(maxsize=16)
def _geometry(dim: int, grid: tuple[int, ...], size_xyz: tuple[float, ...]) -> _Geometry:
    return _Geometry(dim, tuple(int(n) for n in grid), tuple(float(s) for s in size_xyz))


def _lame(young: float, poisson: float, plane: str) -> tuple[float, float]:
    """Lamé parameters (Pa) of the model: plane-stress reduced lambda for plane == 'stress'."""
    if plane == "stress":
        return plane_stress(young, poisson)
    return lame_parameters(young, poisson)


def _scale(dim: int, thickness: float) -> float:
    return thickness if dim == 2 else 1.0


def _matrices(
    geom: _Geometry, young: float, poisson: float, density: float, plane: str, thickness: float
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    lam, mu = _lame(young, poisson, plane)
    s = _scale(geom.dim, thickness)
    k = (s * lam) * geom.k_lambda + (s * mu) * geom.k_mu
    m = (s * density) * geom.m_unit
    return k.tocsr(), m.tocsr()


def _free_dofs(geom: _Geometry, fixed_nodes: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(geom.basis.N, dtype=bool)
    mask[geom.dofs[np.asarray(fixed_nodes, dtype=int)].ravel()] = False
    return np.flatnonzero(mask)


def _sub(a: sp.csr_matrix, idx: np.ndarray) -> sp.csc_matrix:
    return a[idx][:, idx].tocsc()


def _first_frequency(kff: sp.csc_matrix, mff: sp.csc_matrix) -> float:
    """First eigenfrequency (Hz) of K x = w^2 M x on the free dofs."""
    n = kff.shape[0]
    if n <= 40:
        w2 = scipy.linalg.eigh(kff.toarray(), mff.toarray(), eigvals_only=True)[0]
    else:  # shift-invert Lanczos about 0 (K is positive definite once clamped)
        w2 = spla.eigsh(kff, k=1, M=mff, sigma=0.0, which="LM", return_eigenvectors=False, tol=1e-10, v0=np.ones(n))[
            0
        ]  # fixed start vector: ARPACK's default is random, which would break determinism by seed
    return float(math.sqrt(max(w2, 0.0)) / (2 * math.pi))


def _unit_load(geom: _Geometry, load_nodes: tuple[int, ...], direction: tuple[float, ...]) -> np.ndarray:
    """Nodal force vector (ndof,) of a total load of 1 N along ``direction`` split over ``load_nodes``."""
    f = np.zeros(geom.basis.N)
    nodes = np.asarray(load_nodes, dtype=int)
    for c in range(geom.dim):
        f[geom.dofs[nodes, c]] += direction[c] / len(nodes)
    return f


# ----------------------------------------------------------------------------------------------------------------
# Random case drawing


def _face_nodes(grid: tuple[int, ...], face: str) -> np.ndarray:
    faces = _FACES_2D if len(grid) == 2 else _FACES_3D
    axis, side = faces[face]
    mask = np.zeros(grid, dtype=bool)
    sl: list[Any] = [slice(None)] * len(grid)
    sl[axis] = side
    mask[tuple(sl)] = True
    return np.flatnonzero(mask.ravel())


def _draw_bc(rng: np.random.Generator, grid: tuple[int, ...]) -> tuple[str, tuple[str, ...], np.ndarray]:
    """Random clamp set: one edge / face, two edges / faces, or 1-3 node blocks of 2-3 nodes per axis."""
    faces = list(_FACES_2D if len(grid) == 2 else _FACES_3D)
    n = int(np.prod(grid))
    kind = BC_KINDS[int(rng.integers(len(BC_KINDS)))]
    if kind == "one_edge":
        chosen = [faces[int(rng.integers(len(faces)))]]
        nodes = _face_nodes(grid, chosen[0])
        return kind, tuple(chosen), nodes
    if kind == "two_edges":
        pick = rng.choice(len(faces), size=2, replace=False)
        chosen = [faces[int(i)] for i in sorted(pick)]
        nodes = np.union1d(_face_nodes(grid, chosen[0]), _face_nodes(grid, chosen[1]))
        return kind, tuple(chosen), nodes
    # patches: blocks of >= 2 nodes per axis (non-collinear, so no rigid-body mode survives)
    mask = np.zeros(grid, dtype=bool)
    detail = []
    for _ in range(int(rng.integers(1, 4))):
        ext = [min(int(rng.integers(2, 4)), g - 1) for g in grid]
        start = [int(rng.integers(0, g - e + 1)) for g, e in zip(grid, ext, strict=True)]
        mask[tuple(slice(s, s + e) for s, e in zip(start, ext, strict=True))] = True
        detail.append("block start " + "x".join(map(str, start)) + " extent " + "x".join(map(str, ext)))
    nodes = np.flatnonzero(mask.ravel())
    if len(nodes) >= n - 1:  # tiny grids: keep at least a couple of free nodes
        nodes = nodes[: max(1, n // 2)]
    return kind, tuple(detail), nodes


def _draw_load_nodes(rng: np.random.Generator, grid: tuple[int, ...], fixed: np.ndarray) -> np.ndarray:
    """A random free node, or (probability 0.4) a free block of 2 nodes per axis containing it where one exists."""
    n = int(np.prod(grid))
    free = np.setdiff1d(np.arange(n), fixed)
    node = int(free[int(rng.integers(len(free)))])
    as_patch = rng.random() < 0.4
    if not as_patch:
        return np.array([node])
    fixed_mask = np.zeros(n, dtype=bool)
    fixed_mask[fixed] = True
    idx = np.unravel_index(node, grid)
    for offsets in np.ndindex(*([2] * len(grid))):
        start = [int(i) - int(o) for i, o in zip(idx, offsets, strict=True)]
        if any(s < 0 or s + 2 > g for s, g in zip(start, grid, strict=True)):
            continue
        block = np.zeros(grid, dtype=bool)
        block[tuple(slice(s, s + 2) for s in start)] = True
        nodes = np.flatnonzero(block.ravel())
        if not fixed_mask[nodes].any():
            return nodes
    return np.array([node])


def draw_case(
    rng: np.random.Generator,
    *,
    grid: tuple[int, ...] = (9, 9),
    n_steps: int = 20,
    dim: int = 2,
    material_model: str = "linear",
    damping: float = 0.0,
    size_xyz: tuple[float, ...] | None = None,
    thickness: float = 0.01,
) -> FEACase:
    """Draw one random case (material, clamps, load node / direction / history) and derive dt and the magnitude.

    ``grid``: node counts in array order ((H, W) in 2D, (D, H, W) in 3D), each >= 3. ``damping``: Rayleigh damping
    ratio at the first eigenfrequency and at 4x it (0 = undamped). ``size_xyz``: body extent (m) along x, y[, z]
    (default 1 m each). ``thickness``: plate thickness (m, 2D). The first eigenfrequency f1 of the clamped body sets
    dt = (1 to 2.5 periods) / n_steps; a static unit-load solve sets the magnitude so that the peak displacement is
    about 1-4 % of the body size (divided by an estimated dynamic amplification: 2, or 1/(1 - r) for a harmonic load
    at r f1).
    """
    if dim not in (2, 3):
        raise ConfigError(f"dim must be 2 or 3, got {dim!r}")
    try:
        grid = tuple(int(n) for n in grid)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"grid must be a tuple of {dim} node counts, got {grid!r}") from exc
    if len(grid) != dim or any(n < 3 for n in grid):
        raise ConfigError(f"grid must hold {dim} node counts >= 3 (array order), got {grid!r}")
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise ConfigError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    if material_model not in MATERIAL_MODELS:
        raise ConfigError(f"material_model must be one of {MATERIAL_MODELS}, got {material_model!r}")
    if not (isinstance(damping, int | float) and 0.0 <= damping < 1.0):
        raise ConfigError(f"damping must be a damping ratio in [0, 1), got {damping!r}")
    size_xyz = tuple(float(s) for s in (size_xyz if size_xyz is not None else (1.0,) * dim))
    if len(size_xyz) != dim or not all(s > 0 for s in size_xyz):
        raise ConfigError(f"size_xyz must be {dim} positive lengths (m), got {size_xyz!r}")
    if not (thickness > 0):
        raise ConfigError(f"thickness must be > 0 (m), got {thickness!r}")

    # all random draws first, in a fixed order
    young = float(10.0 ** rng.uniform(6.0, 7.0))
    poisson = float(rng.uniform(0.2, 0.4))
    density = float(rng.uniform(900.0, 1500.0))
    bc_kind, bc_detail, fixed = _draw_bc(rng, grid)
    load = _draw_load_nodes(rng, grid, fixed)
    if dim == 2:
        ang = rng.uniform(0.0, 2 * math.pi)
        direction = (math.cos(ang), math.sin(ang))
    else:
        vec = rng.normal(size=3)
        direction = tuple(float(x) for x in vec / np.linalg.norm(vec))
    history = HISTORY_KINDS[int(rng.integers(len(HISTORY_KINDS)))]
    peak_fraction = float(rng.uniform(0.01, 0.04))
    periods = float(rng.uniform(1.0, 2.5))
    u1, u2 = (float(x) for x in rng.random(2))

    plane = "none" if dim == 3 else ("stress" if material_model == "linear" else "strain")
    geom = _geometry(dim, grid, size_xyz)
    k, m = _matrices(geom, young, poisson, density, plane, thickness)
    free = _free_dofs(geom, tuple(int(i) for i in fixed))
    kff = _sub(k, free)
    f1 = _first_frequency(kff, _sub(m, free))
    duration = periods / f1
    dt = duration / n_steps
    if history == "ramp":
        params = {"t_ramp": (0.3 + 0.7 * u1) * duration}
        amp = 2.0
    elif history == "pulse":
        params = {"t_pulse": (0.15 + 0.35 * u1) * duration}
        amp = 2.0
    elif history == "harmonic":
        ratio = 0.2 + 0.7 * u1
        params = {"frequency": ratio * f1}
        amp = 1.0 / (1.0 - ratio)
    else:
        t_ramp = (0.15 + 0.25 * u1) * duration
        params = {"t_ramp": t_ramp, "t_release": t_ramp + (0.05 + 0.3 * u2) * duration}
        amp = 2.0
    unit = _unit_load(geom, tuple(int(i) for i in load), direction)
    u_unit = np.zeros(geom.basis.N)
    u_unit[free] = spla.splu(kff).solve(unit[free])
    peak_unit = float(np.max(np.linalg.norm(u_unit[geom.dofs], axis=1)))
    magnitude = peak_fraction * max(size_xyz) / (amp * peak_unit)
    w1 = 2 * math.pi * f1
    w2 = 4 * w1
    rayleigh = (2 * damping * w1 * w2 / (w1 + w2), 2 * damping / (w1 + w2))
    return FEACase(
        dim=dim,
        grid=grid,
        size_xyz=size_xyz,
        thickness=float(thickness),
        plane=plane,
        material_model=material_model,
        young=young,
        poisson=poisson,
        density=density,
        damping_ratio=float(damping),
        rayleigh=(float(rayleigh[0]), float(rayleigh[1])),
        bc_kind=bc_kind,
        bc_detail=bc_detail,
        fixed_nodes=tuple(int(i) for i in fixed),
        load_nodes=tuple(int(i) for i in load),
        direction=tuple(float(d) for d in direction),
        magnitude=float(magnitude),
        history=history,
        history_params=tuple((key, float(v)) for key, v in params.items()),
        dt=float(dt),
        n_steps=int(n_steps),
        first_frequency=f1,
        peak_fraction=peak_fraction,
    )


# ----------------------------------------------------------------------------------------------------------------
# Load history


def load_factor(case: FEACase, t: np.ndarray | float) -> np.ndarray:
    """Dimensionless load history g(t) (the load is ``g(t) * magnitude * direction``); ``t`` in seconds.

    ramp: ``min(t / t_ramp, 1)``; pulse: ``sin(pi t / t_pulse)`` for ``t < t_pulse``, then 0 (half-sine);
    harmonic: ``sin(2 pi f t)``; ramp_release: ramp to 1 over ``t_ramp``, hold, 0 from ``t_release`` on (sudden
    release, then free vibration).
    """
    t = np.asarray(t, dtype=float)
    p = case.params
    if case.history == "ramp":
        return np.minimum(t / p["t_ramp"], 1.0)
    if case.history == "pulse":
        return np.where(t < p["t_pulse"], np.sin(np.pi * np.clip(t / p["t_pulse"], 0.0, 1.0)), 0.0)
    if case.history == "harmonic":
        return np.sin(2 * np.pi * p["frequency"] * t)
    return np.where(t < p["t_release"], np.minimum(t / p["t_ramp"], 1.0), 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Time integration


@dataclass
class FEASystem:
    """Assembled system of a case: matrices (ndof x ndof, SI units), free dofs and the unit load vector."""

    case: FEACase
    geom: _Geometry
    stiffness: sp.csr_matrix
    mass: sp.csr_matrix
    damping: sp.csr_matrix
    free: np.ndarray
    unit_load: np.ndarray  # (ndof,) N per N of magnitude

    @property
    def times(self) -> np.ndarray:
        """(T+1,) step times t_n = n dt (s)."""
        return np.arange(self.case.n_steps + 1) * self.case.dt

    def loads(self) -> np.ndarray:
        """(T+1, ndof) external nodal force vectors f(t_n) (N)."""
        g = load_factor(self.case, self.times)
        return g[:, None] * (self.case.magnitude * self.unit_load)[None, :]


def assemble_system(case: FEACase) -> FEASystem:
    """Assemble K, M (scikit-fem, cached per geometry) and C = a0 M + a1 K for ``case``."""
    geom = _geometry(case.dim, case.grid, case.size_xyz)
    k, m = _matrices(geom, case.young, case.poisson, case.density, case.plane, case.thickness)
    a0, a1 = case.rayleigh
    c = (a0 * m + a1 * k).tocsr()
    return FEASystem(
        case=case,
        geom=geom,
        stiffness=k,
        mass=m,
        damping=c,
        free=_free_dofs(geom, case.fixed_nodes),
        unit_load=_unit_load(geom, case.load_nodes, case.direction),
    )


def integrate(system: FEASystem) -> dict[str, np.ndarray]:
    """Newmark-beta (1/4, 1/2) time stepping of ``system``; the function to time for the solver cost.

    Returns ``u``, ``v``, ``a`` (T+1, ndof) displacement (m), velocity (m/s), acceleration (m/s^2) at t_0..t_T
    (u0 = v0 = 0; a0 from M a0 = f(0) - K u0 - C v0), ``f`` (T+1, ndof) external loads (N), ``energy`` (T+1,) kinetic
    + strain energy (J) and ``external_work`` (T+1,) trapezoidal work of the external loads (J).
    """
    if system.case.material_model == "linear":
        return _integrate_linear(system)
    return _integrate_neo_hookean(system)


def _work(u: np.ndarray, f: np.ndarray) -> np.ndarray:
    du = np.diff(u, axis=0)
    fa = 0.5 * (f[1:] + f[:-1])
    return np.concatenate([[0.0], np.cumsum(np.einsum("ij,ij->i", du, fa))])


def _integrate_linear(system: FEASystem) -> dict[str, np.ndarray]:
    case = system.case
    beta, gamma, dt = NEWMARK_BETA, NEWMARK_GAMMA, case.dt
    free = system.free
    kff = _sub(system.stiffness, free)
    mff = _sub(system.mass, free)
    cff = _sub(system.damping, free)
    f = system.loads()
    ff = f[:, free]
    n_t = case.n_steps + 1
    nf = len(free)
    u = np.zeros((n_t, nf))
    v = np.zeros((n_t, nf))
    a = np.zeros((n_t, nf))
    if np.any(ff[0]):
        a[0] = spla.splu(mff).solve(ff[0])
    lu = spla.splu((mff + (gamma * dt) * cff + (beta * dt * dt) * kff).tocsc())
    for n in range(n_t - 1):
        u_pred = u[n] + dt * v[n] + (0.5 - beta) * dt * dt * a[n]
        v_pred = v[n] + (1.0 - gamma) * dt * a[n]
        a[n + 1] = lu.solve(ff[n + 1] - cff @ v_pred - kff @ u_pred)
        u[n + 1] = u_pred + beta * dt * dt * a[n + 1]
        v[n + 1] = v_pred + gamma * dt * a[n + 1]
    energy = 0.5 * np.einsum("ij,ij->i", v, (mff @ v.T).T) + 0.5 * np.einsum("ij,ij->i", u, (kff @ u.T).T)
    out = {}
    for name, arr in (("u", u), ("v", v), ("a", a)):
        full = np.zeros((n_t, system.geom.basis.N))
        full[:, free] = arr
        out[name] = full
    out["f"] = f
    out["energy"] = energy
    out["external_work"] = _work(out["u"], f)
    return out


# neo-Hookean forms (total Lagrangian). The quantities that depend on the current deformation gradient (first
# Piola-Kirchhoff stress ``p``, tangent modulus ``a`` = dP/dF) are evaluated once per Newton iteration at the
# quadrature points and passed to the forms, which then only contract them with the test / trial gradients.


@LinearForm
def _nh_internal(v, w):
    return ddot(w["p"], grad(v))


@BilinearForm
def _nh_tangent(du, v, w):
    return np.einsum("ijab...,ab...,ij...->...", w["a"], grad(du), grad(v))


@Functional
def _nh_energy(w):
    f = _deformation(w)
    log_j = np.log(det(f))
    return 0.5 * w["mu"] * (ddot(f, f) - f.shape[0]) - w["mu"] * log_j + 0.5 * w["lam"] * log_j**2


def _deformation(w):
    g = grad(w["u"])
    f = g.copy()
    for i in range(g.shape[0]):
        f[i, i] = f[i, i] + 1.0
    return f


def _nh_state(fdef: np.ndarray, lam: float, mu: float) -> tuple[np.ndarray, np.ndarray]:
    """First Piola-Kirchhoff stress ``P = mu (F - F^-T) + lam ln J F^-T`` (d, d, nel, nqp) and its tangent
    ``A_ijab = dP_ij / dF_ab = mu d_ia d_jb + (mu - lam ln J) G_ib G_aj + lam G_ij G_ab`` with ``G = F^-T``
    (d, d, d, d, nel, nqp), from the deformation gradient ``fdef`` (d, d, nel, nqp)."""
    g = transpose(inv(fdef))
    log_j = np.log(det(fdef))
    p = mu * (fdef - g) + lam * log_j * g
    eye = np.eye(fdef.shape[0])
    a = (
        mu * np.einsum("ia,jb->ijab", eye, eye)[..., None, None]
        + (mu - lam * log_j) * np.einsum("ib...,aj...->ijab...", g, g)
        + lam * np.einsum("ij...,ab...->ijab...", g, g)
    )
    return p, a


def _nh_deformation(basis: Basis, x: np.ndarray) -> np.ndarray | None:
    """Deformation gradient (d, d, nel, nqp) of the displacement ``x`` (ndof,), or None if some J <= 0."""
    fdef = _deformation({"u": basis.interpolate(x)})
    return fdef if np.all(det(fdef) > 0) else None


def _nh_params(case: FEACase) -> dict[str, float]:
    lam, mu = lame_parameters(case.young, case.poisson)
    s = _scale(case.dim, case.thickness)
    return {"lam": s * lam, "mu": s * mu}


def _integrate_neo_hookean(system: FEASystem, max_iter: int = 30) -> dict[str, np.ndarray]:
    case = system.case
    basis = system.geom.basis
    beta, gamma, dt = NEWMARK_BETA, NEWMARK_GAMMA, case.dt
    free = system.free
    m, c = system.mass, system.damping
    prm = _nh_params(case)
    f = system.loads()
    n_t, ndof = case.n_steps + 1, basis.N
    u = np.zeros((n_t, ndof))
    v = np.zeros((n_t, ndof))
    a = np.zeros((n_t, ndof))
    if np.any(f[0]):
        a[0, free] = spla.splu(_sub(m, free)).solve(f[0, free])
    c1, c2 = 1.0 / (beta * dt * dt), gamma / (beta * dt)
    dyn = (c1 * m + c2 * c).tocsr()
    scale = max(case.magnitude, 1e-300)
    fixed = np.setdiff1d(np.arange(ndof), free)
    for n in range(n_t - 1):
        u_star = u[n] + dt * v[n] + (0.5 - beta) * dt * dt * a[n]
        v_star = v[n] + (1.0 - gamma) * dt * a[n]
        x = u[n] + dt * v[n] + 0.5 * dt * dt * a[n]
        x[fixed] = 0.0
        fdef = _nh_deformation(basis, x)
        if fdef is None:  # the explicit predictor inverts an element: start from the last state instead
            x = u[n].copy()
            fdef = _nh_deformation(basis, x)
        for it in range(max_iter):
            acc = c1 * (x - u_star)
            vel = v_star + gamma * dt * acc
            p_stress, a_mod = _nh_state(fdef, prm["lam"], prm["mu"])
            r = m @ acc + c @ vel + _nh_internal.assemble(basis, p=p_stress) - f[n + 1]
            rf = r[free]
            jac = _sub((dyn + _nh_tangent.assemble(basis, a=a_mod)).tocsr(), free)
            dx = spla.spsolve(jac, -rf)
            # backtrack while the update would invert an element (J <= 0 at a quadrature point)
            step = 1.0
            for _ in range(12):
                trial = x.copy()
                trial[free] += step * dx
                fdef = _nh_deformation(basis, trial)
                if fdef is not None:
                    break
                step *= 0.5
            else:
                raise ConfigError(
                    f"neo-Hookean step {n}: the Newton update inverts an element (J <= 0); reduce the load "
                    f"magnitude ({case.magnitude:.4g} N) or dt ({case.dt:.4g} s)"
                )
            x = trial
            if step == 1.0 and (
                np.linalg.norm(dx) <= 1e-10 * max(np.linalg.norm(x), 1e-12 * max(case.size_xyz))
                or (np.linalg.norm(rf) <= 1e-11 * scale and it > 0)
            ):
                break
        else:
            raise ConfigError(
                f"neo-Hookean Newton iterations did not converge at step {n} in {max_iter} iterations; reduce the "
                f"load magnitude ({case.magnitude:.4g} N) or dt ({case.dt:.4g} s)"
            )
        u[n + 1] = x
        a[n + 1] = c1 * (x - u_star)
        v[n + 1] = v_star + gamma * dt * a[n + 1]
    kinetic = 0.5 * np.einsum("ij,ij->i", v, (m @ v.T).T)
    strain = np.array([_nh_energy.assemble(basis, u=basis.interpolate(un), **prm) for un in u])
    return {"u": u, "v": v, "a": a, "f": f, "energy": kinetic + strain, "external_work": _work(u, f)}


# ----------------------------------------------------------------------------------------------------------------
# Element quantities


def von_mises(sigma: np.ndarray) -> np.ndarray:
    """Von Mises value ``sqrt(3/2 s:s)`` of symmetric 3 x 3 stress tensors ``(..., 3, 3)`` (Pa), ``s`` deviatoric."""
    s = sigma - np.trace(sigma, axis1=-2, axis2=-1)[..., None, None] * np.eye(3) / 3.0
    return np.sqrt(1.5 * np.einsum("...ij,...ij->...", s, s))


def effective_strain(eps: np.ndarray) -> np.ndarray:
    """Effective strain ``sqrt(2/3 e:e)`` of symmetric 3 x 3 strain tensors ``(..., 3, 3)``, ``e`` deviatoric."""
    e = eps - np.trace(eps, axis1=-2, axis2=-1)[..., None, None] * np.eye(3) / 3.0
    return np.sqrt(2.0 / 3.0 * np.einsum("...ij,...ij->...", e, e))


def _embed3(t2: np.ndarray, zz: np.ndarray) -> np.ndarray:
    out = np.zeros((*t2.shape[:-2], 3, 3))
    out[..., :2, :2] = t2
    out[..., 2, 2] = zz
    return out


def element_fields(case: FEACase, displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Von Mises stress (Pa) and effective strain of every element from node displacements.

    ``displacement``: (T, dim, *grid) node displacements (m), channels x, y[, z]. Returns two (T, *elem_grid)
    float64 arrays evaluated at the element centres (see the module docstring for the definitions per model).
    """
    displacement = np.asarray(displacement, dtype=float)
    if displacement.ndim != case.dim + 2 or displacement.shape[1:] != (case.dim, *case.grid):
        raise DataError(f"displacement must have shape (T, {case.dim}, *{case.grid}), got {displacement.shape}")
    geom = _geometry(case.dim, case.grid, case.size_xyz)
    vec = np.zeros((displacement.shape[0], geom.basis.N))
    for c in range(case.dim):
        vec[:, geom.dofs[:, c]] = displacement[:, c].reshape(displacement.shape[0], -1)
    grads = np.stack([geom.centroid_basis.interpolate(x).grad[..., 0] for x in vec])  # (T, dim, dim, nel)
    grads = np.moveaxis(grads, -1, 1)[:, geom.elem_of_flat]  # (T, nel in grid order, dim, dim)
    d = case.dim
    eye_d = np.eye(d)
    if case.material_model == "linear":
        eps = 0.5 * (grads + np.swapaxes(grads, -1, -2))
        tr = np.trace(eps, axis1=-2, axis2=-1)
        lam, mu = _lame(case.young, case.poisson, case.plane)
        sig = lam * tr[..., None, None] * eye_d + 2 * mu * eps
        if d == 2:
            if case.plane == "stress":
                eps3 = _embed3(eps, -case.poisson / (1.0 - case.poisson) * tr)
                sig3 = _embed3(sig, np.zeros_like(tr))
            else:
                eps3 = _embed3(eps, np.zeros_like(tr))
                sig3 = _embed3(sig, lam * tr)
        else:
            eps3, sig3 = eps, sig
    else:
        lam, mu = lame_parameters(case.young, case.poisson)
        fdef = grads + eye_d
        jac = np.linalg.det(fdef)
        b = fdef @ np.swapaxes(fdef, -1, -2)
        cgreen = np.swapaxes(fdef, -1, -2) @ fdef
        sig = (mu * (b - eye_d) + (lam * np.log(jac))[..., None, None] * eye_d) / jac[..., None, None]
        green = 0.5 * (cgreen - eye_d)
        if d == 2:
            sig3 = _embed3(sig, lam * np.log(jac) / jac)
            eps3 = _embed3(green, np.zeros_like(jac))
        else:
            sig3, eps3 = sig, green
    shape = (displacement.shape[0], *case.elem_grid)
    return von_mises(sig3).reshape(shape), effective_strain(eps3).reshape(shape)


def _nodal(geom: _Geometry, vec: np.ndarray, grid: tuple[int, ...]) -> np.ndarray:
    """(T, ndof) -> (T, dim, *grid)."""
    return np.stack([vec[:, geom.dofs[:, c]].reshape((vec.shape[0], *grid)) for c in range(geom.dim)], axis=1)


def solve_case(case: FEACase) -> dict[str, np.ndarray]:
    """Simulate ``case`` and return its DeepFEA arrays (T = n_steps).

    ``dis_in`` float32 (T, 2*dim+1, *grid): coordinates at t_t (m), load of step t (at t_{t+1}, N), clamp mask;
    ``dis_out`` float32 (T, dim, *grid): coordinates at t_{t+1} (m); ``eff_stress`` (Pa) and ``eff_strain`` float32
    (T, *elem_grid) at t_{t+1}; ``energy`` (T+1,) total mechanical energy (kinetic + strain, J) at t_0..t_T;
    ``external_work`` (T+1,) trapezoidal work of the external loads (J); ``time`` (T+1,) step times (s).
    """
    system = assemble_system(case)
    res = integrate(system)
    geom = system.geom
    disp = _nodal(geom, res["u"], case.grid)  # (T+1, dim, *grid)
    coords = geom.ref[None] + disp
    loads = _nodal(geom, res["f"], case.grid)
    mask = np.zeros(case.n_nodes)
    mask[list(case.fixed_nodes)] = 1.0
    mask = np.broadcast_to(mask.reshape(case.grid), (case.n_steps, 1, *case.grid))
    dis_in = np.concatenate([coords[:-1], loads[1:], mask], axis=1).astype(np.float32)
    stress, strain = element_fields(case, disp[1:])
    return {
        "dis_in": dis_in,
        "dis_out": coords[1:].astype(np.float32),
        "eff_stress": stress.astype(np.float32),
        "eff_strain": strain.astype(np.float32),
        "energy": res["energy"],
        "external_work": res["external_work"],
        "time": system.times,
    }


def static_response(case: FEACase, load_at_step: np.ndarray) -> dict[str, np.ndarray]:
    """Quasi-static linear-elastic response ``K u = f`` for each step's nodal load.

    ``load_at_step``: (T, dim, *grid) nodal loads (N), e.g. the force channels of ``dis_in``. Uses the case's
    material, clamps and plane assumption with the LINEAR model (also for neo-Hookean cases). Returns ``dis_out``
    (T, dim, *grid) node coordinates (m), ``eff_stress`` (Pa) and ``eff_strain`` (T, *elem_grid), float32.
    """
    load_at_step = np.asarray(load_at_step, dtype=float)
    if load_at_step.ndim != case.dim + 2 or load_at_step.shape[1:] != (case.dim, *case.grid):
        raise DataError(f"load_at_step must have shape (T, {case.dim}, *{case.grid}), got {load_at_step.shape}")
    lin = dataclasses.replace(case, material_model="linear")
    system = assemble_system(lin)
    geom = system.geom
    n_t = load_at_step.shape[0]
    f = np.zeros((n_t, geom.basis.N))
    for c in range(case.dim):
        f[:, geom.dofs[:, c]] = load_at_step[:, c].reshape(n_t, -1)
    u = np.zeros_like(f)
    if n_t:
        u[:, system.free] = (
            spla.splu(_sub(system.stiffness, system.free)).solve(np.ascontiguousarray(f[:, system.free].T)).T
        )
    disp = _nodal(geom, u, case.grid)
    stress, strain = element_fields(lin, disp)
    return {
        "dis_out": (geom.ref[None] + disp).astype(np.float32),
        "eff_stress": stress.astype(np.float32),
        "eff_strain": strain.astype(np.float32),
    }


def static_solution(case: FEACase) -> dict[str, np.ndarray]:
    """Quasi-static baseline of ``case``: :func:`static_response` for the loads of steps 0..T-1 (those at t_1..t_T,
    the same instants as ``dis_out``)."""
    system = assemble_system(dataclasses.replace(case, material_model="linear"))
    loads = _nodal(system.geom, system.loads()[1:], case.grid)
    return static_response(case, loads)


# ----------------------------------------------------------------------------------------------------------------
# Dataset writer


def simulate_dataset(
    folder: Path,
    *,
    n_cases: int,
    grid: tuple[int, ...] = (9, 9),
    n_steps: int = 20,
    dim: int = 2,
    material_model: str = "linear",
    damping: float = 0.0,
    seed: int = 0,
) -> list[dict]:
    """Simulate ``n_cases`` random cases into ``folder`` in the official DeepFEA layout.

    Writes ``folder/<i>/dis_in.npz`` (``arr_0``), ``dis_out.npz`` (``arr_0``), ``effective_out.npz``
    (``eff_stress``, ``eff_strain``) for i = 1..n_cases, the root min/max arrays over ALL cases (``dis_c_*``: per
    coordinate channel over dis_in and dis_out, shape (dim,); ``dis_f_*``: per force channel, (dim,); ``eff_*``:
    (1,)), float32, and ``folder/cases.json``: a list of per-case records (``case``: folder number,
    ``simulator_version``, ``seed``, ``case_seed`` and every :class:`FEACase` field). Case i draws from
    ``np.random.default_rng([seed, i])``, so a case is reproducible alone. Returns the records.
    """
    if isinstance(n_cases, bool) or not isinstance(n_cases, int | np.integer) or n_cases < 1:
        raise ConfigError(f"n_cases must be an integer >= 1, got {n_cases!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"dataset folder {folder} exists and is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    stale = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name))
    stale = [i for i in stale if i < 1 or i > n_cases]
    if stale:
        raise DataError(
            f"dataset folder {folder} already holds case folders {stale[:5]} outside 1..{n_cases}; "
            "remove them or write to an empty folder"
        )
    records: list[dict] = []
    lo = {k: None for k in ("c", "f", "s", "e")}
    hi = dict(lo)

    def _upd(key: str, vmin: np.ndarray, vmax: np.ndarray) -> None:
        lo[key] = vmin if lo[key] is None else np.minimum(lo[key], vmin)
        hi[key] = vmax if hi[key] is None else np.maximum(hi[key], vmax)

    red = tuple(range(2, 2 + dim))
    for i in range(1, n_cases + 1):
        case = draw_case(
            np.random.default_rng([int(seed), i]),
            grid=grid,
            n_steps=n_steps,
            dim=dim,
            material_model=material_model,
            damping=damping,
        )
        out = solve_case(case)
        sub = folder / str(i)
        sub.mkdir(exist_ok=True)
        np.savez(sub / "dis_in.npz", arr_0=out["dis_in"])
        np.savez(sub / "dis_out.npz", arr_0=out["dis_out"])
        np.savez(sub / "effective_out.npz", eff_stress=out["eff_stress"], eff_strain=out["eff_strain"])
        coords_in = out["dis_in"][:, :dim]
        _upd(
            "c",
            np.minimum(coords_in.min(axis=(0, *red)), out["dis_out"].min(axis=(0, *red))),
            np.maximum(coords_in.max(axis=(0, *red)), out["dis_out"].max(axis=(0, *red))),
        )
        forces = out["dis_in"][:, dim : 2 * dim]
        _upd("f", forces.min(axis=(0, *red)), forces.max(axis=(0, *red)))
        _upd("s", out["eff_stress"].min(keepdims=True).ravel(), out["eff_stress"].max(keepdims=True).ravel())
        _upd("e", out["eff_strain"].min(keepdims=True).ravel(), out["eff_strain"].max(keepdims=True).ravel())
        records.append(
            {
                "case": i,
                "simulator_version": SIMULATOR_VERSION,
                "seed": int(seed),
                "case_seed": [int(seed), i],
                **case.to_record(),
            }
        )
    names = {"c": ("dis_c_min", "dis_c_max"), "f": ("dis_f_min", "dis_f_max")}
    names.update({"s": ("eff_stress_min", "eff_stress_max"), "e": ("eff_strain_min", "eff_strain_max")})
    for key, (nmin, nmax) in names.items():
        vmin = np.asarray(lo[key], dtype=np.float32)
        vmax = np.asarray(hi[key], dtype=np.float32)
        if np.any(vmax <= vmin):
            warnings.warn(
                f"{folder}: {nmin}/{nmax} has a channel with max == min over all cases; [-1, 1] scaling of it "
                "is undefined",
                UserWarning,
                stacklevel=2,
            )
        np.save(folder / f"{nmin}.npy", vmin)
        np.save(folder / f"{nmax}.npy", vmax)
    (folder / "cases.json").write_text(json.dumps(records, indent=1))
    return records
