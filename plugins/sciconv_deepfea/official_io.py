"""Reader of the official DeepFEA dataset layout (Triantafyllou et al., ESWA 2025; Zenodo 10.5281/zenodo.10870936).

Layout: one numbered folder per simulation under ``root`` (``1/``, ``2/``, ..., ``10/``), each holding

- ``dis_in.npz``: ``arr_0`` float32, 2D ``(T, 5, H, W)`` with channels x, y (node coordinates at step t, m),
  Fx, Fy (nodal load at step t, N) and mask (1 where a boundary condition fixes the node, else 0; constant over
  t); 3D ``(T, 7, D, H, W)`` with x, y, z, Fx, Fy, Fz, mask;
- ``dis_out.npz``: ``arr_0`` float32 ``(T, dim, *grid)``, the node coordinates at step t + 1 (the target of t);
- ``effective_out.npz``: ``eff_stress`` (von Mises stress, Pa) and ``eff_strain`` (von Mises equivalent strain),
  each ``(T, *elem_grid)`` with one value per element (one fewer than nodes along every axis) at step t + 1;

and, at the root, the min/max arrays of the [-1, 1] scaling computed over the training cases: ``dis_c_min.npy``,
``dis_c_max.npy`` (shape ``(dim,)``, per coordinate channel, over the coordinates of ``dis_in`` and ``dis_out``
together), ``dis_f_min.npy``, ``dis_f_max.npy`` (``(dim,)``, per force channel of ``dis_in``) and
``eff_stress_min.npy``, ``eff_stress_max.npy``, ``eff_strain_min.npy``, ``eff_strain_max.npy`` (``(1,)``).
Grid index order: ``grid[i, j]`` is the node at (y_i, x_j); in 3D ``grid[k, i, j]`` at (z_k, y_i, x_j).

The official loader opens these files with pickling allowed; this one never does (``allow_pickle=False``): a file
holding an object array is refused with a :class:`~sciconv.errors.DataError`.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv.kit import shown_items

__all__ = [
    "CASE_FILES",
    "SCALING_STEMS",
    "FEADataset",
    "compute_min_max",
    "read_official",
    "scale",
    "unscale",
    "write_min_max",
]

CASE_FILES = ("dis_in.npz", "dis_out.npz", "effective_out.npz")
SCALING_STEMS = (
    "dis_c_min",
    "dis_c_max",
    "dis_f_min",
    "dis_f_max",
    "eff_stress_min",
    "eff_stress_max",
    "eff_strain_min",
    "eff_strain_max",
)
_LAYOUT = (
    "expected one numbered folder per simulation (1/, 2/, ...) holding dis_in.npz, dis_out.npz and "
    "effective_out.npz, plus the min/max .npy files (dis_c_min.npy, ...) at the root"
)
_CASE_NAME = re.compile(r"\d+")


@dataclass
class FEADataset:
    """The simulations of a DeepFEA root, stacked.

    Attributes:
        cases: case folder names, in the order of the first axis of the arrays (numeric order when discovered).
        dis_in: ``(N, T, C, *grid)`` float32, ``C = 2 * dim + 1``: coordinates (m), loads (N), boundary mask.
        dis_out: ``(N, T, dim, *grid)`` float32, node coordinates at step t + 1 (m).
        eff_stress: ``(N, T, *elem_grid)`` float32, von Mises stress of each element at step t + 1 (Pa).
        eff_strain: ``(N, T, *elem_grid)`` float32, von Mises equivalent strain of each element at step t + 1.
        dim: 2 or 3; ``grid`` is ``(H, W)`` or ``(D, H, W)`` nodes, ``elem_grid`` one fewer per axis.
        scaling: the 8 min/max arrays by file stem (``"dis_c_min"``, ...): ``dis_c_*`` and ``dis_f_*`` float32
            ``(dim,)``, ``eff_*`` float32 ``(1,)``.
    """

    cases: list[str]
    dis_in: np.ndarray
    dis_out: np.ndarray
    eff_stress: np.ndarray
    eff_strain: np.ndarray
    dim: int
    scaling: dict[str, np.ndarray]

    @property
    def grid(self) -> tuple[int, ...]:
        """Nodes per axis, ``(H, W)`` or ``(D, H, W)``."""
        return tuple(self.dis_in.shape[3:])

    @property
    def steps(self) -> int:
        """Time steps per case, ``T``."""
        return int(self.dis_in.shape[1])


def _pickle_refusal(where: str, error: Exception) -> DataError:
    return DataError(
        f"{where}: holds an object array that would need unpickling to load, which this reader never does "
        f"(allow_pickle=False); re-save it as a plain numeric array ({error})"
    )


def _check_numeric(array: np.ndarray, where: str) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise DataError(f"{where}: dtype {getattr(array, 'dtype', type(array))}; expected real numbers")
    return array


def _load_npy(path: Path) -> np.ndarray:
    """One ``.npy`` array, never unpickled; DataError naming the file when unreadable or not numeric."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise _pickle_refusal(str(path), e) from e
        raise DataError(f"{path}: cannot be read as a .npy array ({e})") from e
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot be read as a .npy array ({e})") from e
    if not isinstance(array, np.ndarray):  # an .npz under a .npy name
        raise DataError(f"{path}: is not a single .npy array")
    return _check_numeric(array, str(path))


def _load_npz(path: Path, keys: Sequence[str], where: str) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an ``.npz``, never unpickled; DataError naming the case and file on any problem."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{where}: {path.name} cannot be read as an .npz archive ({e})") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{where}: {path.name} is a single .npy array, not an .npz archive")
    out: dict[str, np.ndarray] = {}
    with archive:
        missing = [k for k in keys if k not in archive.files]
        if missing:
            raise DataError(
                f"{where}: {path.name} has no array {shown_items([repr(k) for k in missing])} "
                f"(found: {shown_items(sorted(archive.files)) or 'none'}; expected {', '.join(keys)})"
            )
        for key in keys:
            try:
                array = archive[key]
            except ValueError as e:
                if "pickle" in str(e).lower():
                    raise _pickle_refusal(f"{where}: {path.name}[{key!r}]", e) from e
                raise DataError(f"{where}: {path.name}[{key!r}] cannot be read ({e})") from e
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise DataError(f"{where}: {path.name}[{key!r}] cannot be read ({e})") from e
            out[key] = _check_numeric(array, f"{where}: {path.name}[{key!r}]")
    return out


def _finite_float32(array: np.ndarray, what: str) -> np.ndarray:
    """``array`` as float32, or a DataError saying how many NaN / infinite values it holds."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(array, dtype=np.float32)
    if not np.isfinite(out).all():
        n_nan = int(np.isnan(out).sum())
        n_inf = int(np.isinf(out).sum())
        raise DataError(f"{what} has {n_nan} NaN and {n_inf} infinite values (of {out.size}); all must be finite")
    return out


@dataclass
class _Case:
    dis_in: np.ndarray
    dis_out: np.ndarray
    eff_stress: np.ndarray
    eff_strain: np.ndarray
    dim: int


def _read_case(folder: Path, name: str) -> _Case:
    """Load and check one simulation folder (shapes within the case, finiteness, boundary mask)."""
    where = f"case {name!r} ({folder})"
    missing = [f for f in CASE_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)} ({_LAYOUT})")
    dis_in = _load_npz(folder / "dis_in.npz", ["arr_0"], where)["arr_0"]
    dis_out = _load_npz(folder / "dis_out.npz", ["arr_0"], where)["arr_0"]
    eff = _load_npz(folder / "effective_out.npz", ["eff_stress", "eff_strain"], where)

    if dis_in.ndim == 4:
        dim = 2
    elif dis_in.ndim == 5:
        dim = 3
    else:
        raise DataError(
            f"{where}: dis_in.npz['arr_0'] has rank {dis_in.ndim} (shape {dis_in.shape}); expected rank 4 "
            "(T, 5, H, W) for 2D or rank 5 (T, 7, D, H, W) for 3D"
        )
    n_channels = 2 * dim + 1
    layout_in = "(T, 5, H, W)" if dim == 2 else "(T, 7, D, H, W)"
    if dis_in.shape[1] != n_channels:
        raise DataError(
            f"{where}: dis_in.npz['arr_0'] has {dis_in.shape[1]} channels (shape {dis_in.shape}); a {dim}D case "
            f"{layout_in} has {n_channels} (coordinates, forces, mask)"
        )
    grid = tuple(dis_in.shape[2:])
    if min(grid) < 2:
        raise DataError(f"{where}: dis_in.npz grid {grid} has an axis with fewer than 2 nodes (no elements)")
    steps = dis_in.shape[0]
    if steps < 1:
        raise DataError(f"{where}: dis_in.npz['arr_0'] has no time steps (shape {dis_in.shape})")
    expected_out = (steps, dim, *grid)
    if dis_out.ndim != dim + 2 or dis_out.shape[1] != dim or tuple(dis_out.shape[2:]) != grid:
        raise DataError(
            f"{where}: dis_out.npz['arr_0'] has shape {dis_out.shape}; expected (T, {dim}, *grid) = "
            f"{expected_out} to match dis_in.npz {dis_in.shape} (node grid {grid})"
        )
    elem_grid = tuple(g - 1 for g in grid)
    for key in ("eff_stress", "eff_strain"):
        a = eff[key]
        if a.ndim != dim + 1 or tuple(a.shape[1:]) != elem_grid:
            raise DataError(
                f"{where}: effective_out.npz[{key!r}] has shape {a.shape}; expected (T, *elem_grid) = "
                f"{(steps, *elem_grid)}: one element fewer than the node grid {grid} along every axis"
            )
    lengths = {
        "dis_in": steps,
        "dis_out": dis_out.shape[0],
        "eff_stress": eff["eff_stress"].shape[0],
        "eff_strain": eff["eff_strain"].shape[0],
    }
    if len(set(lengths.values())) != 1:
        listed = ", ".join(f"{k} {v}" for k, v in lengths.items())
        raise DataError(f"{where}: inconsistent time lengths within the case ({listed} steps)")

    dis_in = _finite_float32(dis_in, f"{where}: dis_in.npz['arr_0']")
    dis_out = _finite_float32(dis_out, f"{where}: dis_out.npz['arr_0']")
    stress = _finite_float32(eff["eff_stress"], f"{where}: effective_out.npz['eff_stress']")
    strain = _finite_float32(eff["eff_strain"], f"{where}: effective_out.npz['eff_strain']")

    mask = dis_in[:, 2 * dim]
    bad = np.unique(mask[(mask != 0) & (mask != 1)])
    if bad.size:
        raise DataError(
            f"{where}: the boundary mask (dis_in channel {2 * dim}) holds values other than 0 and 1: "
            f"{shown_items([float(v) for v in bad])}"
        )
    fixed = int(mask[0].sum())
    if fixed == 0:
        raise DataError(f"{where}: the boundary mask at t = 0 fixes no node (the solution would be undetermined)")
    if fixed == mask[0].size:
        raise DataError(f"{where}: the boundary mask at t = 0 fixes every node (nothing can move)")
    changed = [t for t in range(1, steps) if not np.array_equal(mask[t], mask[0])]
    if changed:
        raise DataError(
            f"{where}: the boundary mask changes over time (differs from t = 0 at steps {shown_items(changed)}); "
            "it must be constant"
        )
    return _Case(dis_in, dis_out, stress, strain, dim)


def _list_cases(root: Path) -> list[str]:
    names = [p.name for p in root.iterdir() if p.is_dir() and _CASE_NAME.fullmatch(p.name)]
    return sorted(names, key=lambda n: (int(n), n))


def _check_names(value: Sequence[str] | None, parameter: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigError(f"{parameter}: expected a list of case folder names, got {value!r}")
    names = [str(v) for v in value]
    if not names:
        raise ConfigError(f"{parameter}: empty; name at least one case folder (or leave it unset for all)")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{parameter}: case folder(s) named more than once: {shown_items(duplicates)}")
    return names


def compute_min_max(data: FEADataset, train_cases: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The 8 scaling arrays computed over ``train_cases`` of ``data`` (all of its cases when None).

    ``dis_c_*``: per coordinate channel over the coordinates of ``dis_in`` and ``dis_out`` together, float32
    ``(dim,)`` (m); ``dis_f_*``: per force channel of ``dis_in``, ``(dim,)`` (N); ``eff_*``: scalars ``(1,)``.

    Raises:
        ConfigError: ``train_cases`` is empty, repeats a case or names one that ``data`` does not hold.
    """
    names = _check_names(train_cases, "train_cases")
    if names is None:
        index = np.arange(len(data.cases))
    else:
        unknown = [n for n in names if n not in data.cases]
        if unknown:
            raise ConfigError(
                f"train_cases: {shown_items(unknown)} not among the cases read ({shown_items(data.cases)}); name "
                "case folders of the dataset"
            )
        index = np.array([data.cases.index(n) for n in names])
    d = data.dim
    reduce_axes = (0, 1, *range(3, 3 + d))  # all but the channel axis of (N, T, C, *grid)
    coords_in = data.dis_in[index, :, :d]
    coords_out = data.dis_out[index]
    forces = data.dis_in[index, :, d : 2 * d]
    out = {
        "dis_c_min": np.minimum(coords_in.min(axis=reduce_axes), coords_out.min(axis=reduce_axes)),
        "dis_c_max": np.maximum(coords_in.max(axis=reduce_axes), coords_out.max(axis=reduce_axes)),
        "dis_f_min": forces.min(axis=reduce_axes),
        "dis_f_max": forces.max(axis=reduce_axes),
        "eff_stress_min": data.eff_stress[index].min().reshape(1),
        "eff_stress_max": data.eff_stress[index].max().reshape(1),
        "eff_strain_min": data.eff_strain[index].min().reshape(1),
        "eff_strain_max": data.eff_strain[index].max().reshape(1),
    }
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def _read_scaling(root: Path, dim: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """The min/max files present at ``root`` (shapes and values checked) and the stems of those missing."""
    found: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for stem in SCALING_STEMS:
        path = root / f"{stem}.npy"
        if not path.is_file():
            missing.append(stem)
            continue
        array = _load_npy(path)
        if stem.startswith("dis_"):
            if array.shape != (dim,):
                raise DataError(
                    f"{path}: shape {array.shape}; expected ({dim},), one value per "
                    f"{'coordinate' if stem.startswith('dis_c') else 'force'} channel of the {dim}D data"
                )
        else:
            if array.size != 1 or array.ndim > 1:
                raise DataError(f"{path}: shape {array.shape}; expected (1,), a single value")
            array = array.reshape(1)
        found[stem] = _finite_float32(array, str(path))
    for prefix in ("dis_c", "dis_f", "eff_stress", "eff_strain"):
        lo, hi = found.get(f"{prefix}_min"), found.get(f"{prefix}_max")
        if lo is not None and hi is not None and (lo > hi).any():
            raise DataError(
                f"{root}: {prefix}_min.npy exceeds {prefix}_max.npy ({lo.tolist()} > {hi.tolist()}); swapped files?"
            )
    return found, missing


def read_official(
    root: Path, *, cases: Sequence[str] | None = None, train_cases: Sequence[str] | None = None
) -> FEADataset:
    """Read, check and stack the simulations of a DeepFEA root (the layout in this module's docstring).

    Every case must have the same dimension, node grid and number of time steps ``T``: one model serves one
    grid and one ``T``, so cases of different lengths are refused (never truncated). Files are opened with
    ``allow_pickle=False``. Arrays are returned as float32.

    Args:
        root: the dataset folder.
        cases: the case folder names to read, in this order; None reads every numbered folder, in numeric order
            (``1, 2, 10``). Folders whose name is not a number are ignored.
        train_cases: the cases over which min/max files missing at ``root`` are recomputed (all read cases when
            None); must be among the read cases. Unused when all 8 files are present.

    Returns:
        The stacked dataset; ``scaling`` holds the root's min/max arrays, any missing one recomputed (with a
        ``UserWarning`` naming the missing files; nothing is written into ``root``).

    Raises:
        MissingPathError: ``root`` or a case named in ``cases`` does not exist (a :class:`DataError`).
        DataError: no case folder; a case lacks a file or an array; an array is an object array (would need
            unpickling), not numeric, of the wrong rank, channel count or grid, or holds NaN / infinite values;
            time lengths differ within a case or across cases; the boundary mask is not 0/1, fixes no node or
            every node at t = 0, or changes over time; a min/max file has the wrong shape or min > max.
        ConfigError: ``cases`` or ``train_cases`` is empty, repeats a name, or ``train_cases`` names an unread case.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingPathError(f"DeepFEA root {root} does not exist or is not a folder ({_LAYOUT})")
    names = _check_names(cases, "cases")
    if names is None:
        names = _list_cases(root)
        if not names:
            raise DataError(f"DeepFEA root {root}: no numbered case folders ({_LAYOUT})")
    else:
        absent = [n for n in names if not (root / n).is_dir()]
        if absent:
            raise MissingPathError(f"cases: no case folder {shown_items(absent)} under DeepFEA root {root} ({_LAYOUT})")
    train = _check_names(train_cases, "train_cases")
    if train is not None:
        unknown = [n for n in train if n not in names]
        if unknown:
            raise ConfigError(f"train_cases: {shown_items(unknown)} not among the cases read ({shown_items(names)})")

    first = _read_case(root / names[0], names[0])
    n = len(names)
    dis_in = np.empty((n, *first.dis_in.shape), dtype=np.float32)
    dis_out = np.empty((n, *first.dis_out.shape), dtype=np.float32)
    stress = np.empty((n, *first.eff_stress.shape), dtype=np.float32)
    strain = np.empty((n, *first.eff_strain.shape), dtype=np.float32)
    ref = f"case {names[0]!r}"
    for i, name in enumerate(names):
        case = first if i == 0 else _read_case(root / name, name)
        where = f"case {name!r} ({root / name})"
        if case.dim != first.dim:
            raise DataError(f"{where}: a {case.dim}D case among {first.dim}D ones (as {ref}); do not mix them")
        if case.dis_in.shape[2:] != first.dis_in.shape[2:]:
            raise DataError(
                f"{where}: node grid {case.dis_in.shape[2:]} differs from {ref}'s {first.dis_in.shape[2:]}; every "
                "case must share one grid"
            )
        if case.dis_in.shape[0] != first.dis_in.shape[0]:
            raise DataError(
                f"{where}: {case.dis_in.shape[0]} time steps while {ref} has {first.dis_in.shape[0]}; every case "
                "must have the same T (one model serves one T; this reader does not truncate)"
            )
        dis_in[i], dis_out[i], stress[i], strain[i] = case.dis_in, case.dis_out, case.eff_stress, case.eff_strain

    scaling, missing = _read_scaling(root, first.dim)
    data = FEADataset(
        cases=list(names),
        dis_in=dis_in,
        dis_out=dis_out,
        eff_stress=stress,
        eff_strain=strain,
        dim=first.dim,
        scaling=scaling,
    )
    if missing:
        over = "all read cases" if train is None else f"train_cases {shown_items(train)}"
        warnings.warn(
            f"DeepFEA root {root}: missing {', '.join(s + '.npy' for s in missing)}; recomputed from {over} "
            "(not written to the folder)",
            UserWarning,
            stacklevel=2,
        )
        computed = compute_min_max(data, train)
        data.scaling.update({s: computed[s] for s in missing})
    data.scaling = {s: data.scaling[s] for s in SCALING_STEMS}
    return data


def write_min_max(
    root: Path, data: FEADataset, train_cases: Sequence[str] | None = None, *, overwrite: bool = False
) -> dict[str, np.ndarray]:
    """Compute the 8 scaling arrays over ``train_cases`` of ``data`` (all when None) and save them as
    ``<root>/<stem>.npy`` (float32, no pickling). Returns them by stem.

    Raises:
        MissingPathError: ``root`` is not a folder.
        DataError: a file exists and ``overwrite`` is False (nothing is written then).
        ConfigError: bad ``train_cases`` (see :func:`compute_min_max`).
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingPathError(f"DeepFEA root {root} does not exist or is not a folder")
    scaling = compute_min_max(data, train_cases)
    existing = [f"{s}.npy" for s in SCALING_STEMS if (root / f"{s}.npy").exists()]
    if existing and not overwrite:
        raise DataError(f"{root}: {shown_items(existing)} already exist; pass overwrite=True to replace them")
    for stem, array in scaling.items():
        np.save(root / f"{stem}.npy", array, allow_pickle=False)
    return scaling


def _bounds(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``lo``, ``hi`` shaped to broadcast against ``x`` along ``axis`` (per channel) or as scalars."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.shape != hi.shape or lo.ndim > 1:
        raise ConfigError(f"lo, hi: expected two arrays of the same shape (C,) or (1,), got {lo.shape} and {hi.shape}")
    if lo.size == 1:
        return lo.reshape(()), hi.reshape(())
    if axis is None:
        raise ConfigError(f"axis: required for per-channel bounds of shape {lo.shape} (which axis of x is the channel)")
    if not -x.ndim <= axis < x.ndim:
        raise ConfigError(f"axis: {axis} is out of range for an array of rank {x.ndim}")
    axis %= x.ndim
    if x.shape[axis] != lo.size:
        raise ConfigError(f"axis: x has {x.shape[axis]} channels along axis {axis} but the bounds have {lo.size}")
    shape = [1] * x.ndim
    shape[axis] = lo.size
    return lo.reshape(shape), hi.reshape(shape)


def scale(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, axis: int | None = None) -> np.ndarray:
    """Map ``x`` from ``[lo, hi]`` to ``[-1, 1]``: ``2 (x - lo) / (hi - lo) - 1``, per channel.

    Args:
        x: any shape, e.g. the coordinates ``(N, T, dim, *grid)``.
        lo, hi: ``(C,)`` per-channel bounds (``C = x.shape[axis]``) or ``(1,)`` / scalar bounds for all of ``x``.
        axis: the channel axis of ``x``; required when the bounds have more than one value.

    Returns:
        The scaled array, same shape, float32 when ``x`` is float32 (else float64). A constant channel
        (``hi == lo``) maps to 0 instead of dividing by zero.
    """
    x = np.asarray(x)
    lo_b, hi_b = _bounds(x, lo, hi, axis)
    span = hi_b - lo_b
    safe = np.where(span == 0, 1.0, span)
    y = np.where(span == 0, 0.0, 2.0 * (x - lo_b) / safe - 1.0)
    return y.astype(np.float32 if x.dtype == np.float32 else np.float64)


def unscale(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, axis: int | None = None) -> np.ndarray:
    """Inverse of :func:`scale`: ``(y + 1) / 2 (hi - lo) + lo``, same arguments; a constant channel maps to ``lo``."""
    y = np.asarray(y)
    lo_b, hi_b = _bounds(y, lo, hi, axis)
    x = (y + 1.0) * 0.5 * (hi_b - lo_b) + lo_b
    return x.astype(np.float32 if y.dtype == np.float32 else np.float64)
