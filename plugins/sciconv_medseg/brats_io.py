"""Reader and writer of the BraTS layout (per-case folders of NIfTI volumes), both label conventions.

Layouts. ``root`` holds one folder per case, named by the case id; inside, one gzip NIfTI per modality and an
optional segmentation (absent for the unlabelled validation cases):

- BraTS 2021 (convention ``"2021"``): ``BraTS2021_00000/BraTS2021_00000_{t1,t1ce,t2,flair,seg}.nii.gz``.
  Labels 0 background, 1 necrotic / non-enhancing tumour core (NCR), 2 peritumoural oedema (ED), 4 enhancing
  tumour (ET).
- BraTS 2023 (convention ``"2023"``, the GLI challenge and its MEN / MET / PED / SSA siblings):
  ``BraTS-GLI-00000-000/BraTS-GLI-00000-000-{t1n,t1c,t2w,t2f,seg}.nii.gz``. Labels 0, 1 NCR, 2 ED, 3 ET.

The convention of a case is detected from its file names (``_t1ce`` versus ``-t1c`` and so on), per case; the
files are ``<case id><sep><suffix>.nii.gz`` (uncompressed ``.nii`` is read too). Modalities are returned in the
canonical order :data:`MODALITIES` = (t1, t1ce, t2, flair), i.e. 2023's (t1n, t1c, t2w, t2f).

Arrays. :func:`read_case` returns the volumes in their stored voxel order, ``(4, H, W, D)`` float32 (scanner
intensities in arbitrary units, scaling slope applied), the label map ``(H, W, D)`` uint8 in the case's own
convention, and the ``(4, 4)`` voxel-to-world affine (mm, RAS+ as nibabel reports it). Nothing is reoriented or
resampled: BraTS volumes are co-registered to one template at 1 mm, and MONAI's ``Orientationd`` /
``Spacingd`` can follow if wanted. :func:`to_regions` gives the three overlapping evaluation regions
(TC, WT, ET), exactly as MONAI's ``ConvertToMultiChannelBasedOnBratsClasses(et_label=4 or 3)``.

Every problem with the data is a :class:`~sciconv.errors.DataError` naming the case (or file) and what was
expected; a bad argument to the writer is a :class:`~sciconv.errors.ConfigError`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from sciconv.atomic import atomic_path
from sciconv.errors import ConfigError, DataError

Convention = Literal["2021", "2023"]

MODALITIES: tuple[str, ...] = ("t1", "t1ce", "t2", "flair")
"""The canonical modality order (the channel order of every image array here)."""

REGIONS: tuple[str, ...] = ("TC", "WT", "ET")
"""The evaluation regions, in the channel order of :func:`to_regions`."""

SUFFIXES: dict[str, tuple[str, ...]] = {"2021": ("t1", "t1ce", "t2", "flair"), "2023": ("t1n", "t1c", "t2w", "t2f")}
"""File-name suffix of each canonical modality, per convention."""

SEPARATORS: dict[str, str] = {"2021": "_", "2023": "-"}
"""Separator between the case id and the suffix, per convention."""

LABELS: dict[str, tuple[int, ...]] = {"2021": (0, 1, 2, 4), "2023": (0, 1, 2, 3)}
"""The label values allowed in a segmentation, per convention."""

ET_LABEL: dict[str, int] = {"2021": 4, "2023": 3}
"""The enhancing-tumour label, per convention (necrotic core is 1 and oedema 2 in both)."""

AFFINE_ATOL = 1e-3
"""Default tolerance (mm, absolute, on every entry) when comparing the affines of a case's volumes."""

_NIFTI = re.compile(r"\.nii(\.gz)?$")


@dataclass(frozen=True)
class BratsCase:
    """One case of a BraTS folder.

    Attributes:
        case_id: the folder name, e.g. ``BraTS2021_00000`` or ``BraTS-GLI-00000-000``.
        modalities: the paths of the four modalities in canonical order (t1, t1ce, t2, flair).
        seg: the path of the segmentation, or ``None`` for an unlabelled (validation) case.
        convention: ``"2021"`` or ``"2023"``, detected from the file names.
    """

    case_id: str
    modalities: tuple[Path, Path, Path, Path]
    seg: Path | None
    convention: Convention


# ----------------------------------------------------------------------------------------------------
# Listing


def check_convention(convention: str) -> Convention:
    """``convention`` if it is ``"2021"`` or ``"2023"``; else a ConfigError."""
    if convention not in LABELS:
        raise ConfigError(f"BraTS convention {convention!r} is unknown; expected '2021' or '2023'")
    return convention  # type: ignore[return-value]


def _find(folder: Path, case_id: str, convention: str, suffix: str) -> Path | None:
    stem = f"{case_id}{SEPARATORS[convention]}{suffix}"
    for ext in (".nii.gz", ".nii"):
        path = folder / (stem + ext)
        if path.is_file():
            return path
    return None


def _detect(folder: Path, names: Sequence[str]) -> Convention:
    """The convention a case folder's file names follow (by their suffixes), or a DataError."""
    case_id = folder.name
    found: dict[str, list[str]] = {}
    for convention in ("2021", "2023"):
        sep = SEPARATORS[convention]
        for suffix in (*SUFFIXES[convention], "seg"):
            stem = f"{case_id}{sep}{suffix}"
            if stem + ".nii.gz" in names or stem + ".nii" in names:
                found.setdefault(convention, []).append(suffix)
    specific = {c: [s for s in v if s != "seg"] for c, v in found.items()}
    hits = [c for c, v in specific.items() if v]
    if len(hits) == 2:
        raise DataError(
            f"BraTS case {case_id} ({folder}): file names mix the 2021 convention ({', '.join(specific['2021'])}) "
            f"and the 2023 one ({', '.join(specific['2023'])})"
        )
    if not hits:
        listing = ", ".join(sorted(names)[:6]) + (", ..." if len(names) > 6 else "")
        raise DataError(
            f"BraTS case {case_id} ({folder}): no modality file named after the case; expected "
            f"{case_id}_t1.nii.gz ... (2021) or {case_id}-t1n.nii.gz ... (2023); found {listing}"
        )
    return hits[0]  # type: ignore[return-value]


def read_case_folder(folder: str | Path) -> BratsCase:
    """The :class:`BratsCase` of one case folder (its name is the case id); a DataError for a missing modality."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"BraTS case {folder.name} ({folder}): not a folder")
    names = [p.name for p in folder.iterdir() if _NIFTI.search(p.name) and not p.name.startswith(".")]
    convention = _detect(folder, names)
    paths: list[Path] = []
    missing: list[str] = []
    for canonical, suffix in zip(MODALITIES, SUFFIXES[convention], strict=True):
        path = _find(folder, folder.name, convention, suffix)
        if path is None:
            sep = SEPARATORS[convention]
            missing.append(f"{canonical} ({folder.name}{sep}{suffix}.nii.gz)")
        else:
            paths.append(path)
    if missing:
        raise DataError(
            f"BraTS case {folder.name} ({folder}): missing modality file(s) {', '.join(missing)}; "
            f"every case needs {', '.join(MODALITIES)}"
        )
    seg = _find(folder, folder.name, convention, "seg")
    return BratsCase(folder.name, (paths[0], paths[1], paths[2], paths[3]), seg, convention)


def list_cases(root: str | Path) -> list[BratsCase]:
    """The cases under ``root``, sorted by case id.

    Every sub-folder holding NIfTI files is a case (hidden folders and folders without NIfTI files are
    skipped). Raises a DataError when ``root`` is missing or holds no case, and for a case with a missing
    modality or mixed conventions (naming the case).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"BraTS root {root}: {'not a folder' if root.exists() else 'does not exist'}")
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any(_NIFTI.search(p.name) for p in folder.iterdir()):
            cases.append(read_case_folder(folder))
    if not cases:
        raise DataError(
            f"BraTS root {root}: no cases; expected one folder per case holding "
            "<case>_t1.nii.gz, _t1ce, _t2, _flair[, _seg] (2021) or <case>-t1n.nii.gz, -t1c, -t2w, -t2f[, -seg] (2023)"
        )
    return cases


# ----------------------------------------------------------------------------------------------------
# Reading


def load_nifti(path: str | Path, case_id: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One 3D NIfTI volume as ``(float32 (H, W, D) array in stored voxel order, (4, 4) float64 affine)``.

    A trailing singleton dimension (``(H, W, D, 1)``) is dropped. A DataError (naming ``case_id`` when given,
    and the file) for an unreadable file, a volume that is not 3D, or non-finite values.
    """
    path = Path(path)
    who = f"BraTS case {case_id}: {path.name}" if case_id else str(path)
    try:
        img = nib.load(path)
        data = np.asarray(img.get_fdata(dtype=np.float32))
        affine = np.asarray(img.affine, dtype=np.float64)
    except (ImageFileError, HeaderDataError, OSError, EOFError, ValueError, zlib.error) as e:
        raise DataError(f"{who}: not a readable NIfTI file ({type(e).__name__}: {e})") from e
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"{who}: a 3D volume is expected; the file holds shape {tuple(img.shape)}")
    if not np.isfinite(data).all():
        raise DataError(f"{who}: {int((~np.isfinite(data)).sum())} voxel(s) are NaN or infinite")
    return data, affine


def check_labels(label: np.ndarray, convention: str, source: str) -> np.ndarray:
    """``label`` as uint8 after checking that it holds whole numbers of the convention's set; else DataError."""
    convention = check_convention(convention)
    values = np.unique(label)
    if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        bad = values[values != np.round(values)]
        raise DataError(f"{source}: label values must be whole numbers; found {bad[:5].tolist()}")
    allowed = LABELS[convention]
    outside = [v for v in values.tolist() if v not in allowed]
    if outside:
        hint = ""
        if convention == "2021" and 3 in outside:
            hint = " (label 3 is the 2023 enhancing label: is this a BraTS 2023 case?)"
        elif convention == "2023" and 4 in outside:
            hint = " (label 4 is the 2021 enhancing label: is this a BraTS 2021 case?)"
        shown = ", ".join(str(int(v)) if float(v).is_integer() else str(v) for v in outside[:5])
        raise DataError(f"{source}: labels {shown} are outside the BraTS {convention} set {list(allowed)}{hint}")
    return np.asarray(label).astype(np.uint8)


def read_case(case: BratsCase, affine_atol: float = AFFINE_ATOL) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Read a case: ``(image (4, H, W, D) float32, label (H, W, D) uint8 or None, affine (4, 4))``.

    The image channels are in canonical order (t1, t1ce, t2, flair); the label keeps the case's convention
    (use :func:`to_regions` for the TC/WT/ET channels); the affine is the first modality's. Every volume must
    be 3D with the same shape, and affines equal within ``affine_atol`` (mm, every entry); otherwise, and for
    an unreadable file or labels outside the convention, a DataError naming the case and the problem.
    """
    cid = case.case_id
    volumes: list[np.ndarray] = []
    affine: np.ndarray | None = None
    for name, path in zip(MODALITIES, case.modalities, strict=True):
        data, aff = load_nifti(path, cid)
        if affine is None:
            affine = aff
        else:
            _check_geometry(cid, f"{name} ({path.name})", data.shape, aff, volumes[0].shape, affine, affine_atol)
        volumes.append(data)
    assert affine is not None
    image = np.stack(volumes).astype(np.float32, copy=False)
    label = None
    if case.seg is not None:
        seg, aff = load_nifti(case.seg, cid)
        _check_geometry(cid, f"seg ({case.seg.name})", seg.shape, aff, volumes[0].shape, affine, affine_atol)
        label = check_labels(seg, case.convention, f"BraTS case {cid}: {case.seg.name}")
    return image, label, affine


def check_case_geometry(case: BratsCase, affine_atol: float = AFFINE_ATOL) -> tuple[tuple[int, int, int], np.ndarray]:
    """Check a case's files from their NIfTI headers only (no voxel data read): every modality and the
    segmentation 3D, on one grid (same shape, affines equal within ``affine_atol`` mm). Returns the grid's shape and
    t1's affine; a DataError naming the case and the file otherwise, as :func:`read_case` would raise it. Lets a
    reader of a large collection reject a bad case before any training starts."""
    cid = case.case_id
    ref_shape: tuple[int, ...] | None = None
    ref_affine: np.ndarray | None = None
    paths = [(name, path) for name, path in zip(MODALITIES, case.modalities, strict=True)]
    if case.seg is not None:
        paths.append(("seg", case.seg))
    for name, path in paths:
        try:
            img = nib.load(path)
            shape = tuple(int(s) for s in img.shape)
            affine = np.asarray(img.affine, dtype=np.float64)
        except (ImageFileError, HeaderDataError, OSError, EOFError, ValueError, zlib.error) as e:
            problem = f"not a readable NIfTI file ({type(e).__name__}: {e})"
            raise DataError(f"BraTS case {cid}: {path.name}: {problem}") from e
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) != 3:
            raise DataError(f"BraTS case {cid}: {path.name}: a 3D volume is expected; the file holds shape {shape}")
        if ref_shape is None or ref_affine is None:
            ref_shape, ref_affine = shape, affine
        else:
            _check_geometry(cid, f"{name} ({path.name})", shape, affine, ref_shape, ref_affine, affine_atol)
    assert ref_shape is not None and ref_affine is not None
    return (ref_shape[0], ref_shape[1], ref_shape[2]), ref_affine


def _check_geometry(
    cid: str,
    what: str,
    shape: tuple[int, ...],
    affine: np.ndarray,
    ref_shape: tuple[int, ...],
    ref_affine: np.ndarray,
    atol: float,
) -> None:
    if tuple(shape) != tuple(ref_shape):
        raise DataError(
            f"BraTS case {cid}: {what} has shape {tuple(shape)} but t1 has {tuple(ref_shape)}; "
            "the modalities of a case must be co-registered on one grid"
        )
    diff = float(np.max(np.abs(affine - ref_affine)))
    if diff > atol:
        raise DataError(
            f"BraTS case {cid}: the affine of {what} differs from t1's by up to {diff:.4g} mm (tolerance "
            f"{atol:g}); the modalities of a case must be co-registered on one grid\n{what}:\n{affine}\nt1:\n"
            f"{ref_affine}"
        )


def to_regions(label: np.ndarray, convention: str = "2021", source: str = "label") -> np.ndarray:
    """The overlapping BraTS evaluation regions of a label map: bool ``(3, *label.shape)``, channels TC, WT, ET.

    TC (tumour core) = NCR + ET, WT (whole tumour) = NCR + ED + ET, ET = enhancing (4 in 2021, 3 in 2023): the
    same as MONAI's ``ConvertToMultiChannelBasedOnBratsClasses(et_label=ET_LABEL[convention])``. Values outside
    the convention's set are a DataError naming ``source``. A leading singleton channel is dropped.
    """
    convention = check_convention(convention)
    label = np.asarray(label)
    if label.ndim == 4 and label.shape[0] == 1:
        label = label[0]
    label = check_labels(label, convention, source)
    et = label == ET_LABEL[convention]
    ncr = label == 1
    return np.stack([ncr | et, label > 0, et])


# ----------------------------------------------------------------------------------------------------
# Writing


def save_volume(data: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Save one volume as gzip NIfTI atomically: to a temporary name in the same folder, then ``os.replace``."""
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    with atomic_path(path, suffix=".nii.gz") as tmp:  # the .nii.gz ending makes nibabel compress
        nib.save(img, tmp)


def save_label_map(label: np.ndarray, reference: str | Path, path: Path) -> None:
    """Save a predicted label map (uint8 ``(X, Y, Z)``) as gzip NIfTI with the affine and header of the case's own
    input file ``reference`` (its qform/sform codes, units, orientation, description), the data type set to uint8
    and any intensity scaling dropped: the map lies on the input's grid, as the official ``test.py`` writes it."""
    ref = nib.load(reference)
    header = ref.header.copy()
    img = nib.Nifti1Image(np.asarray(label, dtype=np.uint8), ref.affine, header=header)
    img.set_data_dtype(np.uint8)
    img.header.set_slope_inter(1.0, 0.0)
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(img, tmp)


def write_case(
    root: str | Path,
    case_id: str,
    image: np.ndarray,
    label: np.ndarray | None,
    affine: np.ndarray,
    convention: str = "2021",
) -> Path:
    """Write one case in the BraTS layout that :func:`list_cases` / :func:`read_case` read back; returns its folder.

    Args:
        root: the dataset folder (created if needed); the case goes to ``root / case_id``.
        case_id: the case id, e.g. ``BraTS2021_00000`` or ``BraTS-GLI-00000-000`` (any folder name works).
        image: ``(4, H, W, D)`` in canonical order (t1, t1ce, t2, flair), saved as float32.
        label: ``(H, W, D)`` in ``convention``'s labels (saved as uint8), or ``None`` for an unlabelled case.
        affine: ``(4, 4)`` voxel-to-world (mm), stored as both qform and sform.
        convention: ``"2021"`` (``_t1 _t1ce _t2 _flair _seg``) or ``"2023"`` (``-t1n -t1c -t2w -t2f -seg``).

    Each file is gzip NIfTI written atomically (temporary name, then ``os.replace``). A ConfigError for arrays of
    the wrong shape or labels outside the convention.
    """
    convention = check_convention(convention)
    if not case_id or "/" in case_id or case_id.startswith("."):
        raise ConfigError(f"write_case: {case_id!r} is not a usable case id (folder name)")
    image = np.asarray(image)
    affine = np.asarray(affine, dtype=np.float64)
    if image.ndim != 4 or image.shape[0] != len(MODALITIES):
        raise ConfigError(f"write_case {case_id}: image must be (4, H, W, D) (t1, t1ce, t2, flair); got {image.shape}")
    if not np.isfinite(image).all():
        raise ConfigError(f"write_case {case_id}: image holds NaN or infinite values")
    if affine.shape != (4, 4):
        raise ConfigError(f"write_case {case_id}: affine must be (4, 4); got {affine.shape}")
    if label is not None:
        label = np.asarray(label)
        if label.shape != image.shape[1:]:
            raise ConfigError(f"write_case {case_id}: label shape {label.shape} differs from image {image.shape[1:]}")
        try:
            label = check_labels(label, convention, f"write_case {case_id}: label")
        except DataError as e:
            raise ConfigError(str(e)) from None
    folder = Path(root) / case_id
    folder.mkdir(parents=True, exist_ok=True)
    sep = SEPARATORS[convention]
    for channel, suffix in enumerate(SUFFIXES[convention]):
        save_volume(image[channel].astype(np.float32), affine, folder / f"{case_id}{sep}{suffix}.nii.gz")
    seg_path = folder / f"{case_id}{sep}seg.nii.gz"
    if label is not None:
        save_volume(label.astype(np.uint8), affine, seg_path)
    else:
        seg_path.unlink(missing_ok=True)  # an unlabelled case: no stale segmentation from an earlier write
    return folder
