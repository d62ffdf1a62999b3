"""Readers of the ModelNet40 / ModelNet10 layouts (Wu et al. 2015) and of single shapes for prediction.

Two published layouts, found under a root folder the user gives:

- **OFF meshes** (the Princeton release, ``ModelNet40/`` or ``ModelNet10/``): ``<root>/<class>/{train,test}/
  <class>_NNNN.off``. Class names may contain underscores (``night_stand/train/night_stand_0001.off``). The label
  order is the sorted class-folder names (:func:`scan_modelnet_off`). Meshes are read by :func:`read_off` (the
  text is parsed here: open3d returns an empty mesh, without an error, on a malformed file) and turned into points
  by :func:`sample_mesh` (uniform over the surface area, with the triangle's normal).
- **Resampled points** (``modelnet40_normal_resampled/``, used by most point-cloud papers): ``<root>/<class>/
  <class>_NNNN.txt`` with 10,000 lines ``x,y,z,nx,ny,nz`` each, beside ``modelnet40_shape_names.txt`` (one class a
  line; the line order is the label order), ``modelnet40_train.txt`` and ``modelnet40_test.txt`` (one shape id a
  line). The same folder also holds ``modelnet10_shape_names.txt``, ``modelnet10_train.txt`` and
  ``modelnet10_test.txt`` for the ModelNet10 subset (:func:`scan_modelnet_resampled`, ``variant=``).

Coordinates are in the file's own unit (ModelNet has none: the resampled clouds are centred and scaled to the unit
sphere, the OFF meshes are not). Normals are unit vectors. Every error is a :class:`~sciconv.errors.DataError`
naming the file and what was expected (a missing path: :class:`~sciconv.errors.MissingPathError`, a DataError).
Nothing here reads pickles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import open3d as o3d

from sciconv.errors import DataError, MissingPathError, did_you_mean
from sciconv.kit import shown_items

__all__ = [
    "MESH_SUFFIXES",
    "NORMAL_NEIGHBOURS",
    "POINT_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "Layout",
    "ModelNetIndex",
    "ShapeEntry",
    "Split",
    "detect_layout",
    "read_off",
    "read_point_text",
    "read_shape",
    "sample_mesh",
    "scan_modelnet",
    "scan_modelnet_off",
    "scan_modelnet_resampled",
]

Layout = Literal["off", "resampled"]
Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")
MESH_SUFFIXES = (".off", ".ply", ".obj", ".stl")
POINT_SUFFIXES = (".txt", ".xyz", ".csv", ".npy")
SUPPORTED_SUFFIXES = MESH_SUFFIXES + POINT_SUFFIXES
NORMAL_NEIGHBOURS = 16  # neighbours of the local plane fit that estimates a normal for xyz-only points
_VARIANTS = ("modelnet40", "modelnet10")
_SHAPE_ID = re.compile(r"^(?P<cls>.+)_(?P<num>\d+)$")


def _read_text(path: Path, what: str) -> str:
    """The file as text (UTF-8, a BOM dropped); MissingPathError / DataError naming it otherwise."""
    if not path.is_file():
        state = "is not a file" if path.exists() else "not found"
        raise MissingPathError(f"{path}: {what} {state}")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a text file (byte {e.start} is not UTF-8); expected {what} as text") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from e


def _content_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of each line that holds something once ``#`` comments are removed (numbers from 1)."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" in line:
            line = line[: line.index("#")]
        line = line.strip()
        if line:
            out.append((number, line))
    return out


def _floats(path: Path, rows: list[tuple[int, str]], width: int, what: str) -> np.ndarray:
    """``rows`` parsed as ``(len(rows), width)`` float64; DataError naming the first line with another number of
    values or a value that is not a number."""
    tokens = " ".join(line for _, line in rows).split()
    if len(tokens) == width * len(rows):
        try:
            return np.array(tokens, dtype=np.float64).reshape(len(rows), width)
        except ValueError:
            pass  # a token that is not a number: found line by line below
    for number, line in rows:
        values = line.split()
        if len(values) != width:
            raise DataError(f"{path}: line {number} has {len(values)} values, expected {width} ({what}): {line!r}")
        try:
            [float(v) for v in values]
        except ValueError:
            raise DataError(f"{path}: line {number} holds a value that is not a number ({what}): {line!r}") from None
    raise DataError(f"{path}: rows that cannot be read as {width} numbers each ({what})")  # pragma: no cover


def _check_finite(path: Path | str, values: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: {int(bad.sum())} of {len(values)} {what} have a NaN or infinite coordinate (first: number "
            f"{first}, {values[first].tolist()}); every value must be finite"
        )


# ---------------------------------------------------------------------------------------------------------- meshes


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One mesh in the OFF text format, as ModelNet stores it.

    Layout: the keyword ``OFF``; a counts line ``V F E`` (vertices, faces, edges; the edge count is not used); ``V``
    rows ``x y z``; ``F`` rows ``n i1 ... in`` (0-based vertex indices), optionally followed by an RGB or RGBA
    colour (3 or 4 values, ignored). One vertex or face a line, as OFF writers (and ModelNet) put them. Comments
    (``#`` to the end of a line) and blank lines are skipped. The counts may be glued to the keyword (``OFF490 518
    0``), as in some ModelNet40 files. A polygon with ``n > 3`` corners is split into ``n - 2`` triangles fanned
    from its first corner (exact for the convex planar polygons OFF files hold).

    Args:
        path: the ``.off`` file.

    Returns:
        ``vertices`` float64 ``(V, 3)`` in the file's unit and ``triangles`` int64 ``(T, 3)``, indices into
        ``vertices`` (``T = F`` when every face is a triangle).

    Raises:
        MissingPathError: the file does not exist.
        DataError: naming the file: not an OFF file (another first keyword, a binary OFF), a counts line that is
            not three integers, an empty mesh (``V == 0`` or ``F == 0``), fewer (or more) rows than the counts
            promise, a vertex row that is not 3 numbers, NaN or infinite coordinates, a face with fewer than 3
            corners or the wrong number of values, or a vertex index out of range.
    """
    path = Path(path)
    text = _read_text(path, "OFF mesh")
    lines = _content_lines(text)
    if not lines:
        raise DataError(f"{path}: empty file; expected an OFF mesh (first line 'OFF', then 'V F E' counts)")
    number, first = lines[0]
    if not first.startswith("OFF"):
        keyword = first.split()[0]
        raise DataError(f"{path}: line {number} starts with {keyword!r}; expected the keyword 'OFF' of an OFF mesh")
    rest = first[3:].strip()
    if rest.upper().startswith("BINARY"):
        raise DataError(f"{path}: a binary OFF file; only the text OFF format is read")
    if rest:  # counts glued to the keyword: "OFF490 518 0"
        counts_number, counts_line, body = number, rest, lines[1:]
    elif len(lines) > 1:
        (counts_number, counts_line), body = lines[1], lines[2:]
    else:
        raise DataError(f"{path}: no counts line after 'OFF'; expected 'V F E' (vertex, face and edge counts)")
    counts = counts_line.split()
    if len(counts) != 3 or not all(re.fullmatch(r"\d+", c) for c in counts):
        raise DataError(
            f"{path}: line {counts_number} is {counts_line!r}; expected the counts 'V F E' as 3 non-negative integers"
        )
    n_vertices, n_faces = int(counts[0]), int(counts[1])
    if n_vertices == 0 or n_faces == 0:
        raise DataError(f"{path}: empty mesh ({n_vertices} vertices, {n_faces} faces); expected at least one face")
    expected = n_vertices + n_faces
    if len(body) != expected:
        tokens = sum(len(line.split()) for _, line in body)
        fewer = "only " if len(body) < expected else ""
        raise DataError(
            f"{path}: the counts promise {n_vertices} vertex rows and {n_faces} face rows ({expected} rows after the "
            f"counts), found {fewer}{len(body)} row(s) ({tokens} values)"
        )
    vertices = _floats(path, body[:n_vertices], 3, "a vertex row 'x y z'")
    _check_finite(path, vertices, "vertices")
    triangles = _off_faces(path, body[n_vertices:], n_vertices)
    return vertices, triangles


def _off_faces(path: Path, rows: list[tuple[int, str]], n_vertices: int) -> np.ndarray:
    """The face rows of an OFF file as int64 ``(T, 3)`` triangles (polygons fanned), indices checked."""
    tokens = " ".join(line for _, line in rows).split()
    if len(tokens) == 4 * len(rows) and all(t == "3" for t in tokens[::4]):  # all triangles, no colours: vectorised
        try:
            table = np.array(tokens, dtype=np.int64).reshape(len(rows), 4)
        except ValueError:
            table = None  # a value that is not an integer: found line by line below
        if table is not None:
            triangles = table[:, 1:]
            lo, hi = int(triangles.min()), int(triangles.max())
            if lo >= 0 and hi < n_vertices:
                return triangles
    pieces = []
    for number, line in rows:
        values = line.split()
        try:
            n = int(values[0])
        except ValueError:
            raise DataError(f"{path}: line {number} is {line!r}; expected a face 'n i1 ... in'") from None
        if n < 3:
            raise DataError(f"{path}: line {number} is a face of {n} corners ({line!r}); a face needs at least 3")
        extra = len(values) - 1 - n
        if extra not in (0, 3, 4):
            raise DataError(
                f"{path}: line {number} has {len(values)} values for a face of {n} corners ({line!r}); expected "
                f"{n + 1} ('n' then {n} vertex indices), optionally followed by an RGB or RGBA colour"
            )
        try:
            corners = [int(v) for v in values[1 : n + 1]]
        except ValueError:
            raise DataError(f"{path}: line {number} holds a vertex index that is not an integer: {line!r}") from None
        bad = [i for i in corners if i < 0 or i >= n_vertices]
        if bad:
            raise DataError(
                f"{path}: line {number} refers to vertex {bad[0]} but the mesh has {n_vertices} vertices; expected "
                f"indices in [0, {n_vertices - 1}]"
            )
        fan = [(corners[0], corners[k], corners[k + 1]) for k in range(1, n - 1)]
        pieces.append(np.array(fan, dtype=np.int64))
    return np.concatenate(pieces, axis=0)


def _mesh_area(vertices: np.ndarray, triangles: np.ndarray) -> float:
    corners = vertices[triangles]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return float(0.5 * np.linalg.norm(cross, axis=1).sum())


def sample_mesh(vertices: np.ndarray, triangles: np.ndarray, n_points: int, seed: int) -> np.ndarray:
    """``n_points`` points drawn uniformly over a mesh's surface area, each with its triangle's unit normal.

    Uses open3d (``TriangleMesh.compute_triangle_normals`` then ``sample_points_uniformly(use_triangle_normal=
    True)``): a triangle is picked with probability proportional to its area, then a point uniformly inside it.
    The normal follows the triangle's winding (counter-clockwise seen from outside: outward). The same ``seed``
    gives the same points (open3d's generator is seeded first).

    Args:
        vertices: ``(V, 3)`` coordinates.
        triangles: ``(T, 3)`` integer vertex indices.
        n_points: points wanted (>= 1).
        seed: seed of open3d's random generator.

    Returns:
        float32 ``(n_points, 6)``: ``x, y, z`` (the vertices' unit) then the unit normal ``nx, ny, nz``.

    Raises:
        DataError: wrong shapes, no triangle, NaN or infinite coordinates, an index out of range, or a surface of
            zero area (a degenerate mesh).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    triangles = np.asarray(triangles)
    n_points = _check_count(n_points)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise DataError(f"vertices: shape {vertices.shape}; expected (V, 3) with V >= 1")
    if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
        raise DataError(f"triangles: shape {triangles.shape}; expected (T, 3) with T >= 1")
    if not np.issubdtype(triangles.dtype, np.integer):
        raise DataError(f"triangles: dtype {triangles.dtype}; expected integer vertex indices")
    _check_finite("vertices", vertices, "vertices")
    lo, hi = int(triangles.min()), int(triangles.max())
    if lo < 0 or hi >= len(vertices):
        raise DataError(f"triangles: indices span [{lo}, {hi}] for {len(vertices)} vertices")
    area = _mesh_area(vertices, triangles)
    if not np.isfinite(area) or area <= 0:
        raise DataError(
            f"degenerate mesh: its {len(triangles)} triangles have a total area of {area}; cannot sample its surface"
        )
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(triangles.astype(np.int32))
    )
    mesh.compute_triangle_normals()
    o3d.utility.random.seed(int(seed))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        cloud = mesh.sample_points_uniformly(number_of_points=n_points, use_triangle_normal=True)
    points = np.asarray(cloud.points, dtype=np.float64)
    normals = np.asarray(cloud.normals, dtype=np.float64)
    return np.concatenate([points, normals], axis=1).astype(np.float32)


def _check_count(n_points: int) -> int:
    if isinstance(n_points, bool) or not isinstance(n_points, int | np.integer) or n_points < 1:
        raise DataError(f"n_points: {n_points!r}; expected a positive integer")
    return int(n_points)


def _read_mesh_open3d(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A ``.ply`` / ``.obj`` / ``.stl`` surface mesh read with open3d, checked."""
    # open3d reports an unreadable file with a printed warning and an empty mesh, not an exception
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        mesh = o3d.io.read_triangle_mesh(str(path))
    vertices = np.asarray(mesh.vertices, dtype=np.float64).copy()
    triangles = np.asarray(mesh.triangles, dtype=np.int64).copy()
    if len(triangles) == 0:
        raise DataError(
            f"{path}: no triangles ({len(vertices)} vertices); expected a surface mesh (a point cloud goes in a "
            f".txt, .xyz, .csv or .npy file)"
        )
    _check_finite(path, vertices, "vertices")
    return vertices, triangles


# ---------------------------------------------------------------------------------------------------------- points


def read_point_text(path: str | Path) -> np.ndarray:
    """One point cloud in a text file: one point a line, values separated by commas or whitespace.

    Six columns are ``x, y, z, nx, ny, nz`` (the ModelNet resampled files; normals kept as written). Three
    columns are ``x, y, z`` only: normals are then estimated by :func:`_estimate_normals` (a plane fitted to each
    point's 16 nearest neighbours, oriented away from the cloud's centroid). Blank lines and ``#`` comments are
    skipped.

    Args:
        path: the ``.txt`` / ``.xyz`` / ``.csv`` file.

    Returns:
        float32 ``(M, 6)``: coordinates (the file's unit) then normals.

    Raises:
        MissingPathError: the file does not exist.
        DataError: naming the file: no point, an empty field (``1,,2``), a line with other than 3 or 6 values or
            with a different count from the first line (naming the line number and the count), a value that is
            not a number, NaN or infinite values, or fewer than 3 points when normals must be estimated.
    """
    path = Path(path)
    text = _read_text(path, "point file")
    empty_field = re.search(r"^[ \t]*,|,[ \t]*,|,[ \t]*$", text, flags=re.MULTILINE)
    if empty_field:
        number = text.count("\n", 0, empty_field.start()) + 1
        raise DataError(f"{path}: line {number} has an empty field (two separators in a row); expected numbers")
    rows = [(number, line.replace(",", " ")) for number, line in _content_lines(text)]
    if not rows:
        raise DataError(f"{path}: empty; expected one point a line, 'x y z' or 'x y z nx ny nz'")
    number, first = rows[0]
    width = len(first.split())
    if width not in (3, 6):
        raise DataError(
            f"{path}: line {number} has {width} values; expected 6 (x, y, z, nx, ny, nz) or 3 (x, y, z) per line"
        )
    values = _floats(path, rows, width, "x, y, z, nx, ny, nz" if width == 6 else "x, y, z like the first line")
    _check_finite(path, values, "points")
    if width == 3:
        values = np.concatenate([values, _estimate_normals(values, path)], axis=1)
    return values.astype(np.float32)


def _estimate_normals(xyz: np.ndarray, source: Path | str) -> np.ndarray:
    """Unit normals ``(M, 3)`` for points given without them.

    open3d's ``estimate_normals`` fits a plane to each point's ``NORMAL_NEIGHBOURS`` nearest neighbours (PCA:
    the normal is the direction of least variance); the sign of a plane's normal is arbitrary, so every normal is
    then turned to point away from the cloud's centroid (``orient_normals_towards_camera_location`` at the
    centroid, negated). That is outward everywhere on a star-shaped closed surface such as most ModelNet
    objects, deterministic, and needs no neighbourhood graph; in deep concavities (the inside of a cup) some
    normals point inward, as they would with any rule that does not know the surface.
    """
    if len(xyz) < 3:
        raise DataError(f"{source}: {len(xyz)} point(s) without normals; at least 3 are needed to estimate normals")
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz.astype(np.float64)))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        cloud.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=NORMAL_NEIGHBOURS))
        cloud.orient_normals_towards_camera_location(xyz.mean(axis=0))
    normals = -np.asarray(cloud.normals, dtype=np.float64)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.where(length > 0, length, 1.0), 0.0)


def _read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` array ``(M, 3)`` or ``(M, 6)`` as float32 ``(M, 6)`` (normals estimated for ``(M, 3)``)."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as e:  # an object array (needs pickles) or a corrupt header
        raise DataError(f"{path}: cannot be read as a plain .npy array without pickles ({e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    if not isinstance(array, np.ndarray) or array.ndim != 2 or array.shape[1] not in (3, 6) or len(array) == 0:
        shape = getattr(array, "shape", None)
        raise DataError(f"{path}: an array of shape {shape}; expected (M, 3) points or (M, 6) points and normals")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DataError(f"{path}: an array of dtype {array.dtype}; expected numbers")
    values = array.astype(np.float64)
    _check_finite(path, values, "points")
    if values.shape[1] == 3:
        values = np.concatenate([values, _estimate_normals(values, path)], axis=1)
    return values.astype(np.float32)


def _draw(points: np.ndarray, n_points: int, seed: int) -> np.ndarray:
    """``n_points`` rows of ``points``: drawn without replacement when there are more (seeded), all of them when
    there are exactly as many, and all of them followed by ``n_points - M`` rows drawn with replacement when there
    are fewer."""
    m = len(points)
    if m == n_points:
        return points
    rng = np.random.default_rng(seed)
    if m > n_points:
        return points[np.sort(rng.choice(m, size=n_points, replace=False))]
    return np.concatenate([points, points[rng.integers(0, m, size=n_points - m)]], axis=0)


def read_shape(path: str | Path, n_points: int, seed: int) -> np.ndarray:
    """One shape from a file, as the ``(n_points, 6)`` cloud a classifier takes (for prediction on new data).

    - ``.off``: :func:`read_off`, then :func:`sample_mesh`;
    - ``.ply`` / ``.obj`` / ``.stl``: a surface mesh read with open3d (it must have triangles), then
      :func:`sample_mesh`;
    - ``.txt`` / ``.xyz`` / ``.csv``: :func:`read_point_text`; ``.npy``: an ``(M, 3)`` or ``(M, 6)`` array (read
      without pickles; normals estimated for ``(M, 3)``). Then ``n_points`` of the ``M`` points: drawn without
      replacement (seeded) when ``M > n_points``; all, topped up with points drawn with replacement, when fewer.

    The extension is matched case-insensitively. No centring or scaling is applied here.

    Args:
        path: the file.
        n_points: points wanted (>= 1).
        seed: seed of the sampling (the same seed gives the same cloud).

    Returns:
        float32 ``(n_points, 6)``: ``x, y, z`` (the file's unit) then unit normals.

    Raises:
        MissingPathError: the file does not exist.
        DataError: an unsupported extension (listing the supported ones), or what the reader of the format raises.
    """
    path = Path(path)
    n_points = _check_count(n_points)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported extension {path.suffix!r}; expected a mesh ({', '.join(MESH_SUFFIXES)}) or points "
            f"({', '.join(POINT_SUFFIXES)})"
        )
    if not path.is_file():
        state = "is not a file" if path.exists() else "not found"
        raise MissingPathError(f"{path}: shape file {state}")
    if suffix in MESH_SUFFIXES:
        vertices, triangles = read_off(path) if suffix == ".off" else _read_mesh_open3d(path)
        try:
            return sample_mesh(vertices, triangles, n_points, seed)
        except DataError as e:
            raise DataError(f"{path}: {e}") from e
    points = _read_npy(path) if suffix == ".npy" else read_point_text(path)
    return _draw(points, n_points, seed)


# ---------------------------------------------------------------------------------------------------- the datasets


@dataclass(frozen=True)
class ShapeEntry:
    """One shape of a ModelNet split: its id (``night_stand_0001``), label (index into the index's ``classes``),
    class name, split and file (``.off`` mesh or ``.txt`` points)."""

    shape_id: str
    label: int
    class_name: str
    split: Split
    path: Path


@dataclass
class ModelNetIndex:
    """What a ModelNet root holds: the layout, the classes in label order and every shape.

    Attributes:
        root: the folder scanned.
        layout: ``"off"`` (meshes) or ``"resampled"`` (points with normals).
        classes: class names; ``classes[label]`` is the name of a label.
        shapes: every shape of both splits, sorted by (split, class, id): "test" before "train".
    """

    root: Path
    layout: Layout
    classes: list[str]
    shapes: list[ShapeEntry] = field(default_factory=list)

    def split(self, split: Split) -> list[ShapeEntry]:
        """The shapes of one split (``"train"`` or ``"test"``), in the index's order."""
        if split not in SPLITS:
            raise DataError(f"split {split!r}; expected one of {', '.join(SPLITS)}")
        return [s for s in self.shapes if s.split == split]


def _require_root(root: str | Path, expected: str) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise MissingPathError(f"{path}: ModelNet root does not exist (expected {expected})")
    if not path.is_dir():
        raise DataError(f"{path}: ModelNet root is not a folder (expected {expected})")
    return path


def _visible(children: list[Path]) -> list[Path]:
    """Children whose name does not start with ``.`` (hidden, or the ``._*`` copies macOS leaves in archives)."""
    return [p for p in children if not p.name.startswith(".")]


_OFF_EXPECTED = "the ModelNet OFF layout <root>/<class>/{train,test}/<class>_NNNN.off"
_RESAMPLED_EXPECTED = (
    "the ModelNet resampled layout: modelnet40_shape_names.txt (or modelnet10_...), the train / test lists and "
    "<root>/<class>/<class>_NNNN.txt"
)


def scan_modelnet_off(root: str | Path) -> ModelNetIndex:
    """Index the ModelNet OFF layout: ``<root>/<class>/{train,test}/<class>_NNNN.off``.

    The classes are the folders holding a ``train`` or ``test`` folder, sorted by name: the label order (the
    order of the official ModelNet40 / ModelNet10 class lists, which are alphabetical). Shape ids are the file
    names without ``.off``. Hidden files and folders (``.``, ``._*``) are skipped.

    Raises:
        MissingPathError: ``root`` does not exist.
        DataError: ``root`` is not a folder, holds no class folder (naming what it holds instead), or a class
            folder has no ``.off`` file in ``train`` and ``test`` (naming the folder).
    """
    root = _require_root(root, _OFF_EXPECTED)
    class_dirs = sorted(
        (p for p in _visible(list(root.iterdir())) if p.is_dir() and any((p / s).is_dir() for s in SPLITS)),
        key=lambda p: p.name,
    )
    if not class_dirs:
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in _visible(list(root.iterdir())))
        raise DataError(
            f"{root}: no class folder holding a train/ or test/ folder; expected {_OFF_EXPECTED} (found: "
            f"{shown_items(found) or 'nothing'})"
        )
    classes = [p.name for p in class_dirs]
    shapes = []
    for label, class_dir in enumerate(class_dirs):
        found_any = False
        for split in SPLITS:
            folder = class_dir / split
            if not folder.is_dir():
                continue
            for file in _visible(list(folder.iterdir())):
                if file.suffix.lower() == ".off" and file.is_file():
                    shapes.append(ShapeEntry(file.stem, label, class_dir.name, split, file))
                    found_any = True
        if not found_any:
            raise DataError(
                f"{class_dir}: class folder without any .off file in train/ or test/; expected "
                f"{class_dir.name}/{{train,test}}/{class_dir.name}_NNNN.off"
            )
    shapes.sort(key=lambda s: (s.split, s.class_name, s.shape_id))
    return ModelNetIndex(root=root, layout="off", classes=classes, shapes=shapes)


def _list_lines(path: Path, what: str) -> list[tuple[int, str]]:
    return _content_lines(_read_text(path, what))


def _resolve_variant(root: Path, variant: str | None) -> str:
    if variant is not None:
        if variant not in _VARIANTS:
            raise DataError(f"variant {variant!r}; expected one of {', '.join(_VARIANTS)}")
        if not (root / f"{variant}_shape_names.txt").is_file():
            raise MissingPathError(
                f"{root / f'{variant}_shape_names.txt'}: not found; expected {_RESAMPLED_EXPECTED} for {variant}"
            )
        return variant
    for name in _VARIANTS:
        if (root / f"{name}_shape_names.txt").is_file():
            return name
    raise DataError(
        f"{root}: neither modelnet40_shape_names.txt nor modelnet10_shape_names.txt found; expected "
        f"{_RESAMPLED_EXPECTED}"
    )


def scan_modelnet_resampled(root: str | Path, *, variant: str | None = None) -> ModelNetIndex:
    """Index the resampled layout (``modelnet40_normal_resampled/``).

    Files read: ``<variant>_shape_names.txt`` (one class a line, in label order), ``<variant>_train.txt`` and
    ``<variant>_test.txt`` (one shape id a line); each shape is ``<root>/<class>/<id>.txt``, where the class of an
    id is the id without its trailing ``_NNNN`` (``night_stand_0001`` -> ``night_stand``).

    Args:
        root: the folder.
        variant: ``"modelnet40"`` or ``"modelnet10"`` (the released folder holds the lists of both); ``None``:
            ModelNet40 when its lists are there, else ModelNet10.

    Raises:
        MissingPathError: ``root`` or a list file named by the variant does not exist.
        DataError: no shape-names file; a train or test list missing (naming it); a duplicated class; an id without
            a ``_NNNN`` suffix, of a class not in the shape names, listed twice or in both splits (naming the file
            and line); shape files missing (how many, and the first expected paths).
    """
    root = _require_root(root, _RESAMPLED_EXPECTED)
    variant = _resolve_variant(root, variant)
    names_file = root / f"{variant}_shape_names.txt"
    classes = [line for _, line in _list_lines(names_file, "class list")]
    if not classes:
        raise DataError(f"{names_file}: no class names; expected one class name a line")
    duplicated = sorted({c for c in classes if classes.count(c) > 1})
    if duplicated:
        raise DataError(f"{names_file}: class(es) listed more than once: {shown_items(duplicated)}")
    labels = {name: i for i, name in enumerate(classes)}
    list_files = {split: root / f"{variant}_{split}.txt" for split in SPLITS}
    for split, file in list_files.items():
        if not file.is_file():
            raise DataError(
                f"{file}: the {split} list is missing ({names_file.name} is there); expected {file.name} with one "
                "shape id a line"
            )
    shapes: list[ShapeEntry] = []
    seen: dict[str, Path] = {}
    missing: list[Path] = []
    for split, file in list_files.items():
        for number, shape_id in _list_lines(file, f"{split} list"):
            match = _SHAPE_ID.match(shape_id)
            if match is None:
                raise DataError(
                    f"{file}: line {number} is {shape_id!r}; expected a shape id <class>_NNNN (e.g. airplane_0001)"
                )
            class_name = match["cls"]
            if class_name not in labels:
                raise DataError(
                    f"{file}: line {number}: {shape_id!r} is of class {class_name!r}, which {names_file.name} does "
                    f"not list{did_you_mean(class_name, classes)}"
                )
            if shape_id in seen:
                raise DataError(f"{file}: line {number}: {shape_id!r} is listed again (first in {seen[shape_id].name})")
            seen[shape_id] = file
            path = root / class_name / f"{shape_id}.txt"
            if not path.is_file():
                missing.append(path)
            shapes.append(ShapeEntry(shape_id, labels[class_name], class_name, split, path))
    if missing:
        raise DataError(
            f"{root}: {len(missing)} shape file(s) listed in the {variant} train/test lists are missing: "
            f"{shown_items([str(p) for p in missing])}"
        )
    shapes.sort(key=lambda s: (s.split, s.class_name, s.shape_id))
    return ModelNetIndex(root=root, layout="resampled", classes=classes, shapes=shapes)


def detect_layout(root: str | Path) -> Layout:
    """``"resampled"`` when ``root`` holds a ``modelnet*_shape_names.txt``, else ``"off"``.

    Raises:
        MissingPathError: ``root`` does not exist.
        DataError: ``root`` is not a folder.
    """
    root = _require_root(root, f"{_OFF_EXPECTED}, or {_RESAMPLED_EXPECTED}")
    if any(p.is_file() for p in root.glob("modelnet*_shape_names.txt")):
        return "resampled"
    return "off"


def scan_modelnet(root: str | Path, *, variant: str | None = None) -> ModelNetIndex:
    """Index a ModelNet root in either layout (:func:`detect_layout`): :func:`scan_modelnet_resampled` (with
    ``variant``) or :func:`scan_modelnet_off` (the OFF releases are one folder per variant; ``variant`` is then
    not used)."""
    if detect_layout(root) == "resampled":
        return scan_modelnet_resampled(root, variant=variant)
    return scan_modelnet_off(root)
