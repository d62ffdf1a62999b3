"""Reader and writer of the chest X-ray landmark layout, the landmark graph, and masks drawn from landmarks.

The layout is that of the public "Chest X-ray landmark database" (Gaggion et al., IEEE TMI 2022; 911 images of
JSRT, Montgomery, Shenzhen and Padchest annotated with HybridGNet's 120 landmarks), one folder ``root`` holding::

    images/<id>.png            the radiograph, one grey channel (8- or 16-bit PNG; JPEG/TIFF/BMP also read)
    landmarks/RL/<id>.npy      right lung, float (44, 2)
    landmarks/LL/<id>.npy      left lung,  float (50, 2)
    landmarks/H/<id>.npy       heart,      float (26, 2)

or, as in HybridGNet's own JSRT folders, one combined file per image instead of the three organ files::

    landmarks/<id>.npy         float (120, 2): rows 0-43 right lung, 44-93 left lung, 94-119 heart

Folder names may also be capitalised (``Images``, ``Landmarks``). Where both forms exist for one image the
per-organ files (the public database's form) are read. Every image in ``images/`` is a case; its landmark files
must exist (lung-only annotations such as Montgomery's and Shenzhen's, which have no heart, are not cases here).

Conventions.

- Landmarks are ``(x, y)`` in pixels of the stored image: ``x`` the column, ``y`` the row, pixel ``[i, j]`` centred
  at ``(x=j, y=i)``. A landmark must lie within ``0 <= x <= W`` and ``0 <= y <= H`` (the published annotations
  reach the far border). The organ order is always right lung, left lung, heart (:data:`ORGANS`); "right" is the
  patient's right, which appears on the image's LEFT (radiological convention, posteroanterior view).
- Each organ is a closed contour: its points are ordered along the outline and the last joins the first.
- Images are returned as float32 ``(H, W)`` in ``[0, 1]``: stored integers are divided by the maximum of their
  storage type (255 for 8-bit, 65535 for 16-bit). A float image must already lie in ``[0, 1]``.
- Colour. A radiograph has one channel. An RGB(A) or palette file whose colour channels are equal (grey saved as
  colour, common in exported PNGs) is read as grey and any alpha is dropped; a file whose channels differ (an
  overlay, a photograph, a wrong file) is an error, as is a multi-frame file (a stack, not one 2-D image).

Every problem with the data is a :class:`~sciconv.errors.DataError` naming the case and the file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from sciconv.atomic import atomic_write_bytes
from sciconv.errors import DataError

ORGANS: dict[str, int] = {"RL": 44, "LL": 50, "H": 26}
"""Landmarks per organ, in the order they are stacked: right lung, left lung, heart."""

ORGAN_NAMES: dict[str, str] = {"RL": "right lung", "LL": "left lung", "H": "heart"}
N_LANDMARKS: int = sum(ORGANS.values())  # 120

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_IMAGE_DIRS = ("images", "Images")
_LANDMARK_DIRS = ("landmarks", "Landmarks")


@dataclass(frozen=True)
class ChestCase:
    """One image of the layout and where its landmarks are.

    ``organ_files`` maps each organ of :data:`ORGANS` to its ``.npy`` (per-organ form); ``combined_file`` is the
    one ``(120, 2)`` file (combined form). Exactly one of the two is set, except for an unlabelled case (listed with
    ``require_landmarks=False``, no landmark file at all): neither.
    """

    case_id: str
    image_file: Path
    organ_files: dict[str, Path] = field(default_factory=dict)
    combined_file: Path | None = None

    @property
    def labelled(self) -> bool:
        """Whether the case has landmark files (to read with :func:`read_chest_case`)."""
        return bool(self.organ_files) or self.combined_file is not None


# ----------------------------------------------------------------------------------------------------
# The landmark graph


def organ_slices() -> dict[str, slice]:
    """The rows of each organ in the stacked ``(120, 2)`` landmark array: RL 0:44, LL 44:94, H 94:120."""
    slices: dict[str, slice] = {}
    start = 0
    for organ, n in ORGANS.items():
        slices[organ] = slice(start, start + n)
        start += n
    return slices


def graph_edges() -> np.ndarray:
    """The landmark graph as int64 ``(2, E)`` edge indices, E = 240, in torch-geometric's ``edge_index`` form.

    Each organ is a ring: node ``k`` joins ``k + 1`` and the last node joins the first; no edge joins two organs.
    The graph is undirected, so each of the 120 ring edges is listed in both directions (source row 0, target
    row 1).
    """
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for s in organ_slices().values():
        nodes = np.arange(s.start, s.stop)
        following = np.roll(nodes, -1)
        sources += [nodes, following]
        targets += [following, nodes]
    return np.stack([np.concatenate(sources), np.concatenate(targets)]).astype(np.int64)


# ----------------------------------------------------------------------------------------------------
# Masks and their topology


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fill a closed polygon: bool ``(H, W)``, True where the pixel centre lies inside.

    ``points`` is float ``(N, 2)`` of ``(x, y)`` pixels (see the module's conventions). Filling is a scanline
    even-odd rule written with numpy: for each row ``y = i`` the polygon's edges are cut (each edge spans the
    half-open interval ``[min(y0, y1), max(y0, y1))`` so a vertex is counted once) and the pixels between
    successive pairs of crossings are set. For a simple (non-self-intersecting) ring this is the interior.
    """
    h, w = shape
    p = np.asarray(points, dtype=np.float64)
    x0, y0 = p[:, 0], p[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    rows = np.arange(h, dtype=np.float64)[:, None]  # (H, 1)
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    crosses = (rows >= lo) & (rows < hi)  # (H, N); horizontal edges never cross
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
    xc = np.where(crosses, xc, np.inf)
    xc.sort(axis=1)
    cols = np.arange(w, dtype=np.float64)
    mask = np.zeros((h, w), dtype=bool)
    for i in np.flatnonzero(crosses.any(axis=1)):
        row = xc[i][np.isfinite(xc[i])]
        # number of crossings left of each pixel centre; odd means inside
        mask[i] = (np.searchsorted(row, cols, side="right") % 2) == 1
    return mask


def landmarks_to_masks(landmarks: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """One bool ``(H, W)`` mask per organ (``"RL"``, ``"LL"``, ``"H"``), each its ring filled by
    :func:`polygon_mask`. ``landmarks`` is float ``(120, 2)`` of ``(x, y)`` pixels in the organ order of
    :data:`ORGANS`. Organs may overlap (the heart overlaps the lungs' medial edges)."""
    lm = np.asarray(landmarks)
    if lm.shape != (N_LANDMARKS, 2):
        raise ValueError(f"landmarks must be ({N_LANDMARKS}, 2), got {lm.shape}")
    return {organ: polygon_mask(lm[s], shape) for organ, s in organ_slices().items()}


_EIGHT = np.ones((3, 3), dtype=bool)


def invalid_mask(mask: np.ndarray) -> bool:
    """Whether a 2-D bool mask is topologically invalid as one organ: empty, more than one connected component,
    or holes.

    Digital topology needs complementary connectivities: the organ is labelled with 8-connectivity (diagonal
    neighbours join) and the background with 4-connectivity. The mask is padded with one background pixel on
    every side, so background touching the border is one component; any further background component is a hole.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"invalid_mask expects a 2-D mask, got shape {m.shape}")
    _, n_parts = ndimage.label(m, structure=_EIGHT)
    if n_parts != 1:
        return True
    _, n_background = ndimage.label(~np.pad(m, 1))  # scipy's default structure is 4-connectivity in 2-D
    return bool(n_background > 1)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap ``2 |a & b| / (|a| + |b|)`` of two bool masks of one shape; 1.0 when both are empty."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"dice: masks differ in shape, {a.shape} and {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


# ----------------------------------------------------------------------------------------------------
# Reading


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def list_chest_cases(root: str | os.PathLike[str], require_landmarks: bool = True) -> list[ChestCase]:
    """The cases of a landmark-layout folder, sorted by id: one per image file in ``images/``.

    Landmark files are located, not read: a missing one is reported by :func:`read_chest_case`. With
    ``require_landmarks=False`` (new radiographs to predict on) ``landmarks/`` may be absent and an image without any
    landmark file is an unlabelled case (:attr:`ChestCase.labelled` false; read its image with
    :func:`read_chest_image`); an image with some but not all organ files is still an error when read.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: {'is not a folder' if root.exists() else 'does not exist'}; expected a folder "
            "with images/ and landmarks/ (chest X-ray landmark layout)"
        )
    image_dir = _find_dir(root, _IMAGE_DIRS)
    landmark_dir = _find_dir(root, _LANDMARK_DIRS)
    if image_dir is None or (landmark_dir is None and require_landmarks):
        missing = "images/" if image_dir is None else "landmarks/"
        hint = (
            "; to predict on radiographs without landmarks, give dataset.params.labels=optional to `pipeline predict`"
            if image_dir is not None
            else ""
        )
        raise DataError(
            f"{root}: no {missing} folder; expected images/<id>.png and landmarks/RL|LL|H/<id>.npy "
            f"(or landmarks/<id>.npy of (120, 2)){hint}"
        )
    images: dict[str, Path] = {}
    for path in sorted(image_dir.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in images:
            raise DataError(
                f"case {path.stem!r}: two images, {images[path.stem].name} and {path.name}, in {image_dir}; keep one"
            )
        images[path.stem] = path
    if not images:
        raise DataError(f"{image_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    cases = []
    for case_id, image_file in images.items():
        if landmark_dir is None:
            cases.append(ChestCase(case_id, image_file))
            continue
        organ_files = {organ: landmark_dir / organ / f"{case_id}.npy" for organ in ORGANS}
        combined = landmark_dir / f"{case_id}.npy"
        if not require_landmarks and not combined.is_file() and not any(p.is_file() for p in organ_files.values()):
            cases.append(ChestCase(case_id, image_file))
        elif any(p.is_file() for p in organ_files.values()) or not combined.is_file():
            cases.append(ChestCase(case_id, image_file, organ_files=organ_files))
        else:
            cases.append(ChestCase(case_id, image_file, combined_file=combined))
    return cases


def _read_image(case: ChestCase) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    where = f"case {case.case_id!r}: {case.image_file}"
    if not case.image_file.is_file():
        raise DataError(f"{where}: the image file is missing")
    try:
        with Image.open(case.image_file) as img:
            n_frames = getattr(img, "n_frames", 1)
            if n_frames > 1:
                raise DataError(f"{where}: the image has {n_frames} frames; expected one 2-D grey radiograph")
            mode = img.mode
            if mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
                mode = img.mode
            array = np.array(img)
    except DataError:
        raise
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise DataError(f"{where}: the image cannot be read ({e})") from e
    if mode in ("RGB", "RGBA", "LA") and array.ndim == 3:
        colour = array[..., :-1] if mode in ("RGBA", "LA") else array
        if not (colour == colour[..., :1]).all():
            raise DataError(
                f"{where}: a colour image ({mode} with differing channels, shape {array.shape}); "
                "expected a grey radiograph (one channel, or equal colour channels)"
            )
        array = colour[..., 0]
    if array.ndim != 2:
        raise DataError(f"{where}: image of shape {array.shape} (mode {mode}); expected a 2-D grey image (H, W)")
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if np.issubdtype(array.dtype, np.integer):  # 16-bit PNGs open as I;16 or as 32-bit I
        if array.min() < 0 or array.max() > 65535:
            raise DataError(f"{where}: integer values outside 0..65535 (min {array.min()}, max {array.max()})")
        return (array.astype(np.float64) / 65535.0).astype(np.float32)
    values = array.astype(np.float32)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise DataError(f"{where}: a floating-point image must hold finite values in [0, 1]")
    return values


def read_chest_image(case: ChestCase) -> np.ndarray:
    """The radiograph of one case, float32 ``(H, W)`` in ``[0, 1]`` (as :func:`read_chest_case` reads it), whether or
    not the case has landmarks."""
    return _read_image(case)


def _load_npy(case_id: str, path: Path, what: str) -> np.ndarray:
    where = f"case {case_id!r}: {path}"
    if not path.is_file():
        raise DataError(f"{where}: the {what} landmark file is missing")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{where}: cannot be read as a .npy array ({e})") from e
    if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number) and array.dtype.kind != "c"):
        raise DataError(
            f"{where}: {what} landmarks of dtype {getattr(array, 'dtype', type(array))}; expected real numbers"
        )
    return array


def _check_points(points: np.ndarray, n: int, what: str, where: str) -> np.ndarray:
    """Shape ``(n, 2)`` and finite values, or a DataError with a hint for a transposed array."""
    if points.shape != (n, 2):
        if points.shape == (2, n):
            hint = f"; it looks transposed: store (x, y) rows, shape ({n}, 2), not (2, {n})"
        elif points.ndim == 2 and points.shape[1] == 2:
            hint = f"; {points.shape[0]} landmarks instead of {n}"
        else:
            hint = ""
        raise DataError(f"{where}: {what} landmarks of shape {points.shape}; expected ({n}, 2) of (x, y) pixels{hint}")
    bad = np.argwhere(~np.isfinite(points))
    if len(bad):
        raise DataError(
            f"{where}: {what} landmark {int(bad[0][0])} is {points[tuple(bad[0])]} ({len(bad)} non-finite "
            "values); every landmark needs finite coordinates"
        )
    return points.astype(np.float32)


def _check_inside(landmarks: np.ndarray, shape: tuple[int, int], where: str) -> None:
    h, w = shape
    outside = (landmarks[:, 0] < 0) | (landmarks[:, 0] > w) | (landmarks[:, 1] < 0) | (landmarks[:, 1] > h)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        organ = next(o for o, s in organ_slices().items() if s.start <= k < s.stop)
        x, y = landmarks[k]
        raise DataError(
            f"{where}: {int(outside.sum())} landmark(s) outside the {w}x{h} image, the first "
            f"{ORGAN_NAMES[organ]} landmark {k - organ_slices()[organ].start} at (x={x:.1f}, y={y:.1f}); "
            "landmarks are (x, y) pixels of the stored image"
        )


def read_chest_case(case: ChestCase) -> tuple[np.ndarray, np.ndarray]:
    """Read one case: ``(image, landmarks)``.

    ``image`` float32 ``(H, W)`` in ``[0, 1]``; ``landmarks`` float32 ``(120, 2)`` of ``(x, y)`` pixels, rows in
    the organ order right lung 44, left lung 50, heart 26 (:func:`organ_slices`).
    """
    if not case.labelled:
        raise DataError(f"case {case.case_id!r}: {case.image_file} has no landmark files; a labelled case is needed")
    image = _read_image(case)
    if case.combined_file is not None:
        raw = _load_npy(case.case_id, case.combined_file, "combined")
        landmarks = _check_points(raw, N_LANDMARKS, "combined", f"case {case.case_id!r}: {case.combined_file}")
        where = f"case {case.case_id!r}: {case.combined_file}"
    else:
        parts = []
        for organ, n in ORGANS.items():
            path = case.organ_files[organ]
            raw = _load_npy(case.case_id, path, ORGAN_NAMES[organ])
            parts.append(_check_points(raw, n, ORGAN_NAMES[organ], f"case {case.case_id!r}: {path}"))
        landmarks = np.concatenate(parts)
        where = f"case {case.case_id!r}: landmarks of {case.image_file.name}"
    _check_inside(landmarks, image.shape, where)
    return image, landmarks


# ----------------------------------------------------------------------------------------------------
# Writing


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_chest_case(
    root: str | os.PathLike[str],
    case_id: str,
    image: np.ndarray,
    landmarks: np.ndarray | Mapping[str, np.ndarray],
    *,
    bits: int = 8,
) -> ChestCase:
    """Write one case in the per-organ layout: ``images/<id>.png`` and ``landmarks/{RL,LL,H}/<id>.npy``.

    ``image`` is float ``(H, W)`` in ``[0, 1]``, stored as a grey PNG of ``bits`` 8 or 16 (rounded to the nearest
    level). ``landmarks`` is float ``(120, 2)`` of ``(x, y)`` pixels in the organ order of :data:`ORGANS`, or a
    mapping organ -> ``(n, 2)``; organ files are float32. Each file is written atomically, landmarks first and the
    image last, so a listed image always has its landmarks. Returns the written case.
    """
    from PIL import Image

    root = Path(root)
    where = f"case {case_id!r}"
    if not case_id or "/" in case_id or "\\" in case_id or case_id.startswith("."):
        raise DataError(f"{where}: not a usable file name")
    if bits not in (8, 16):
        raise DataError(f"{where}: bits must be 8 or 16, got {bits}")
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise DataError(f"{where}: image of shape {img.shape}; expected a 2-D grey image (H, W)")
    if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
        raise DataError(f"{where}: image values must be finite and in [0, 1]")
    if isinstance(landmarks, Mapping):
        missing = [o for o in ORGANS if o not in landmarks]
        if missing:
            raise DataError(f"{where}: no landmarks for {', '.join(missing)}")
        parts = [_check_points(np.asarray(landmarks[o]), n, ORGAN_NAMES[o], where) for o, n in ORGANS.items()]
        lm = np.concatenate(parts)
    else:
        lm = _check_points(np.asarray(landmarks), N_LANDMARKS, "combined", where)
    _check_inside(lm, img.shape, where)

    organ_files = {organ: root / "landmarks" / organ / f"{case_id}.npy" for organ in ORGANS}
    for organ, s in organ_slices().items():
        atomic_write_bytes(organ_files[organ], _npy_bytes(np.ascontiguousarray(lm[s], dtype=np.float32)))
    top = 255 if bits == 8 else 65535
    levels = np.rint(img * top).astype(np.uint8 if bits == 8 else np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    image_file = root / "images" / f"{case_id}.png"
    atomic_write_bytes(image_file, buffer.getvalue())
    return ChestCase(case_id, image_file, organ_files=organ_files)


# ----------------------------------------------------------------------------------------------------
# Landmark order


def ring_crossings(ring: np.ndarray) -> list[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, of edges of a closed ring that cross each other (a proper crossing: each edge
    has one end strictly on either side of the other). Edge ``i`` joins point ``i`` to point ``i + 1`` (the last to
    the first). Neighbouring edges (which share a point) are not compared. ``ring`` is float ``(N, 2)`` of ``(x, y)``;
    an empty list means the ring is simple, i.e. its points follow the outline in order."""
    p = np.asarray(ring, dtype=np.float64)
    n = len(p)
    if n < 4:
        return []
    a, b = p, np.roll(p, -1, axis=0)  # edge i: a[i] -> b[i]

    def orient(o: np.ndarray, d: np.ndarray, q: np.ndarray) -> np.ndarray:
        # sign of the cross product (d - o) x (q - o), broadcast over (N, N)
        return np.sign(
            (d[..., 0] - o[..., 0]) * (q[..., 1] - o[..., 1]) - (d[..., 1] - o[..., 1]) * (q[..., 0] - o[..., 0])
        )

    ai, bi = a[:, None, :], b[:, None, :]
    aj, bj = a[None, :, :], b[None, :, :]
    d1, d2 = orient(aj, bj, ai), orient(aj, bj, bi)
    d3, d4 = orient(ai, bi, aj), orient(ai, bi, bj)
    cross = (d1 * d2 < 0) & (d3 * d4 < 0)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))
    i, j = i[keep], j[keep]
    hits = cross[i, j]
    return [(int(x), int(y)) for x, y in zip(i[hits], j[hits], strict=True)]


def ring_orientations(landmarks: np.ndarray) -> dict[str, int]:
    """The orientation of each organ's ring in the stacked ``(120, 2)`` landmarks: ``+1`` clockwise on screen
    (positive shoelace area with ``y`` pointing down), ``-1`` counter-clockwise, ``0`` for a ring of no area."""
    lm = np.asarray(landmarks, dtype=np.float64)
    out = {}
    for organ, s in organ_slices().items():
        x, y = lm[s, 0], lm[s, 1]
        area = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
        out[organ] = int(np.sign(area))
    return out


def check_landmark_order(landmarks: np.ndarray, where: str) -> None:
    """Raise a :class:`DataError` (prefixed with ``where``, e.g. ``"case 'JPCLN001'"``) when an organ's ring crosses
    itself: its landmarks are not in the order of the outline (shuffled, or two organs' rows swapped). The
    orientation of the rings (which way round they run) is checked across cases by the dataset, as the published
    annotations fix one convention per organ."""
    lm = np.asarray(landmarks)
    for organ, s in organ_slices().items():
        crossings = ring_crossings(lm[s])
        if crossings:
            i, j = crossings[0]
            raise DataError(
                f"{where}: the {ORGAN_NAMES[organ]} ring crosses itself ({len(crossings)} crossing edge pair(s), the "
                f"first between landmarks {i}-{i + 1} and {j}-{(j + 1) % (s.stop - s.start)}); the landmarks must "
                "follow the outline in order"
            )
