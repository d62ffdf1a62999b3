"""Reader of the DrivAerNet and DrivAerNet++ dataset layouts (Elrefaie et al. 2024), and the point sampling that
turns a car's surface mesh into a network input.

Layout (found recursively under the root, so the release's sub-folders need no configuration):

- one STL mesh per design, ``<design id>.stl`` (binary or ASCII, coordinates in metres), e.g. in
  ``DrivAerNet_STLs_Combined/``. DrivAerNet v1 ids look like ``F_D_WM_WW_0001``; DrivAerNet++ ids like
  ``E_S_WWC_WM_005``, ``F_D_WM_WW_1234``, ``N_S_WW_WM_017``, whose first letter is the body
  (:func:`family_of`);
- a coefficient CSV keyed by design id: the one whose header holds ``Design`` and ``Average Cd`` (v1:
  ``AeroCoefficients_DrivAerNet_FilteredCorrected.csv`` with ``Average Cl``, ``Average Cl_f``, ``Average Cl_r``
  too; DrivAerNet++ has a similar drag table);
- the split lists ``train_design_ids.txt``, ``val_design_ids.txt`` and ``test_design_ids.txt``, one id a line
  (at the root or in a sub-folder such as ``train_val_test_splits/``);
- optionally, the DrivAerNet++ parametric table (``DrivAerNet_ParametricData.csv``): first column ``Experiment``
  (the design id), then the numeric design parameters, then coefficient columns (``Average *``, ``Std *``).

Point sampling follows the official code: mesh vertices subsampled without replacement, zero-padded when a mesh
has fewer vertices than asked (:func:`sample_vertices`), or points drawn uniformly over the surface area
(:func:`sample_surface`); then per-cloud, per-axis min-max scaling to [0, 1] (:func:`minmax_normalise`).
Nothing here reads or writes pickles.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import open3d as o3d
import pandas as pd

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv.kit import shown_items

__all__ = [
    "COEFFICIENT_PREFIXES",
    "DESIGN_COLUMN",
    "DRAG_COLUMN",
    "PARAMETRIC_ID_COLUMN",
    "SPLIT_FILES",
    "CoefficientTable",
    "DrivAerNetIndex",
    "family_of",
    "find_coefficient_csv",
    "find_parametric_csv",
    "list_meshes",
    "minmax_normalise",
    "read_coefficients",
    "read_parametric_table",
    "read_split_lists",
    "read_stl",
    "sample_surface",
    "sample_vertices",
    "scan_drivaernet",
]

DESIGN_COLUMN = "Design"
DRAG_COLUMN = "Average Cd"
PARAMETRIC_ID_COLUMN = "Experiment"
COEFFICIENT_PREFIXES = ("Average ", "Std ")
SPLIT_FILES = {"train": "train_design_ids.txt", "val": "val_design_ids.txt", "test": "test_design_ids.txt"}
_FAMILIES = {"E": "estateback", "F": "fastback", "N": "notchback"}


def _visible_files(root: Path) -> list[Path]:
    """Every file under ``root`` (recursively), sorted, skipping hidden files and folders (names starting with
    ``.``, such as the ``._*`` copies macOS leaves in archives)."""
    out = []
    for path in root.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.is_file():
            out.append(path)
    return sorted(out)


def _matching(files: Sequence[Path], pattern: str) -> list[Path]:
    """The files whose name matches the glob ``pattern``, case-insensitively."""
    wanted = pattern.lower()
    return [p for p in files if Path(p.name.lower()).match(wanted)]


# --------------------------------------------------------------------------------------------------- design ids


def family_of(design_id: str) -> str:
    """The body of a design from its id's first letter: ``"estateback"`` (E), ``"fastback"`` (F),
    ``"notchback"`` (N), else ``"unknown"``."""
    return _FAMILIES.get(design_id[:1].upper(), "unknown")


# --------------------------------------------------------------------------------------------------------- meshes


def read_stl(path: str | Path, *, merge_vertices: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One STL mesh (binary or ASCII), read with open3d.

    Args:
        path: the ``.stl`` file.
        merge_vertices: merge vertices with identical coordinates (an STL stores every triangle's three corners
            separately), so that each surface point appears once, as in the mesh the official code loads.

    Returns:
        ``vertices`` float64 ``(V, 3)`` in the file's unit (metres in DrivAerNet) and ``triangles`` int64
        ``(T, 3)``, indices into ``vertices``.

    Raises:
        MissingPathError: the file does not exist.
        DataError: naming the file, when it cannot be parsed or holds no triangles or vertices ("empty"), when a
            vertex has a NaN or infinite coordinate, or when a triangle index is out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingPathError(f"{path}: STL mesh not found (expected a file <design id>.stl)")
    if path.suffix.lower() != ".stl":
        raise DataError(f"{path}: not an STL file (expected the extension .stl)")
    # open3d reports an unreadable file with a printed warning and an empty mesh, not an exception
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        mesh = o3d.io.read_triangle_mesh(str(path))
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    triangles = np.asarray(mesh.triangles, dtype=np.int64)
    if len(vertices) == 0 or len(triangles) == 0:
        raise DataError(
            f"{path}: empty or unreadable STL ({len(vertices)} vertices, {len(triangles)} triangles); expected a "
            "binary or ASCII STL surface mesh with at least one triangle"
        )
    if vertices.ndim != 2 or vertices.shape[1] != 3 or triangles.ndim != 2 or triangles.shape[1] != 3:
        raise DataError(f"{path}: vertices {vertices.shape} and triangles {triangles.shape}; expected (V, 3), (T, 3)")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: {int(bad.sum())} of {len(vertices)} vertices have a NaN or infinite coordinate (first: "
            f"vertex {first}, {vertices[first].tolist()}); every coordinate must be finite"
        )
    lo, hi = int(triangles.min()), int(triangles.max())
    if lo < 0 or hi >= len(vertices):
        raise DataError(
            f"{path}: triangle vertex indices span [{lo}, {hi}] but the mesh has {len(vertices)} vertices; "
            f"expected indices in [0, {len(vertices) - 1}]"
        )
    if merge_vertices:
        mesh.remove_duplicated_vertices()
        vertices = np.asarray(mesh.vertices, dtype=np.float64).copy()
        triangles = np.asarray(mesh.triangles, dtype=np.int64).copy()
    return vertices, triangles


# ------------------------------------------------------------------------------------------------------ CSV tables


def _csv_header(path: Path) -> list[str]:
    """The first row of a CSV file, cells stripped; ``[]`` when it has none or cannot be decoded."""
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
            row = next(csv.reader(f), [])
    except (OSError, csv.Error):
        return []
    return [cell.strip() for cell in row]


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise MissingPathError(f"{path}: {what} not found")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise DataError(f"{path}: cannot be read as a CSV {what} ({e})") from e
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _ids(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """The id column, stripped; DataError naming the rows where it is blank (CSV line numbers, header = 1)."""
    ids = table[column].str.strip()
    blank = np.flatnonzero((ids == "").to_numpy())
    if len(blank):
        raise DataError(
            f"{path}: no {column!r} on line(s) {shown_items([int(i) + 2 for i in blank])}; every row needs one"
        )
    return ids


def _check_unique(ids: pd.Series, path: Path, column: str) -> None:
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        names = sorted(set(duplicated))
        raise DataError(
            f"{path}: {column} id(s) listed more than once: {shown_items(names)}; each design needs one row"
        )


def _is_coefficient(column: str) -> bool:
    return column.startswith(COEFFICIENT_PREFIXES)


class CoefficientTable(NamedTuple):
    """What :func:`read_coefficients` returns.

    Attributes:
        table: indexed by design id (index name ``"Design"``), column ``"Average Cd"`` float64 (finite), and the
            file's other columns kept: a column whose every non-blank cell is a number (``"Average Cl"``, ...)
            as float64 (blank cells NaN), any other as text.
        dropped: ``(design id, reason)`` for each row left out because its Cd is missing or not a finite number.
    """

    table: pd.DataFrame
    dropped: list[tuple[str, str]]


def read_coefficients(path: str | Path) -> CoefficientTable:
    """The aerodynamic coefficient CSV, keyed by design id (column ``Design``, drag in ``Average Cd``).

    Rows whose Cd is missing or not a finite number are left out and reported in ``dropped``, not raised.

    Raises:
        MissingPathError: the file does not exist.
        DataError: naming the file, when it is not a CSV, lacks the ``Design`` or ``Average Cd`` column, has a
            row without a design id, or lists a design id twice.
    """
    path = Path(path)
    table = _read_csv(path, "coefficient table")
    missing = [c for c in (DESIGN_COLUMN, DRAG_COLUMN) if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: no column {shown_items([repr(c) for c in missing])} (found: {shown_items(list(table.columns))}); "
            f"expected a coefficient table with {DESIGN_COLUMN!r} and {DRAG_COLUMN!r}"
        )
    ids = _ids(table, DESIGN_COLUMN, path)
    _check_unique(ids, path, DESIGN_COLUMN)
    table = table.drop(columns=[DESIGN_COLUMN])
    table.index = pd.Index(ids.to_numpy(), name=DESIGN_COLUMN)

    raw_cd = table[DRAG_COLUMN].str.strip()
    cd = pd.to_numeric(raw_cd, errors="coerce").astype(np.float64)
    dropped: list[tuple[str, str]] = []
    for design, text, value in zip(table.index, raw_cd, cd, strict=True):
        if text == "":
            dropped.append((design, f"{DRAG_COLUMN} missing"))
        elif not np.isfinite(value):
            dropped.append((design, f"{DRAG_COLUMN} {text!r} is not a finite number"))
    out = table.copy()
    out[DRAG_COLUMN] = cd
    for column in out.columns:
        if column == DRAG_COLUMN:
            continue
        stripped = out[column].str.strip()
        numeric = pd.to_numeric(stripped, errors="coerce")
        if numeric.notna().any() and (numeric.notna() | (stripped == "")).all():
            out[column] = numeric.astype(np.float64)
    keep = np.isfinite(out[DRAG_COLUMN].to_numpy())
    return CoefficientTable(out[keep], dropped)


def read_parametric_table(path: str | Path) -> pd.DataFrame:
    """The DrivAerNet++ parametric table, indexed by design id (its first column, ``Experiment``).

    Returns:
        float64 table of the design parameters only: every column but the id and the coefficient columns
        (``Average *``, ``Std *``), in file order (23 in the real table: ``B_Ramp_Angle``, ``A_Car_Length``,
        ...; lengths in the parametric model's units, angles in degrees).

    Raises:
        MissingPathError: the file does not exist.
        DataError: naming the file, when its first column is not ``Experiment``, an id is blank or repeated, or a
            parameter value is missing or not a number (naming the column and designs).
    """
    path = Path(path)
    table = _read_csv(path, "parametric table")
    if len(table.columns) == 0 or table.columns[0] != PARAMETRIC_ID_COLUMN:
        first = table.columns[0] if len(table.columns) else "none"
        raise DataError(f"{path}: first column is {first!r}; expected {PARAMETRIC_ID_COLUMN!r} (the design id)")
    ids = _ids(table, PARAMETRIC_ID_COLUMN, path)
    _check_unique(ids, path, PARAMETRIC_ID_COLUMN)
    columns = [c for c in table.columns[1:] if not _is_coefficient(c)]
    if not columns:
        raise DataError(f"{path}: no design-parameter column (only {PARAMETRIC_ID_COLUMN!r} and coefficients)")
    out = {}
    for column in columns:
        text = table[column].str.strip()
        values = pd.to_numeric(text, errors="coerce").astype(np.float64)
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            examples = [f"{i} ({t!r})" for i, t in zip(ids[bad], text[bad], strict=True)]
            raise DataError(
                f"{path}: design parameter {column!r} has {int(bad.sum())} missing or non-numeric value(s): "
                f"{shown_items(examples)}; every parameter must be a finite number"
            )
        out[column] = values.to_numpy()
    return pd.DataFrame(out, index=pd.Index(ids.to_numpy(), name=PARAMETRIC_ID_COLUMN))


def _find_one(root: Path, name: str, what: str, files: Sequence[Path]) -> Path:
    """A file the user named: absolute, relative to ``root``, or a file name searched for among ``files``."""
    given = Path(name).expanduser()
    if given.is_absolute():
        if not given.is_file():
            raise MissingPathError(f"{given}: {what} not found")
        return given
    if (root / given).is_file():
        return root / given
    found = [p for p in files if p.name == given.name]
    if not found:
        raise MissingPathError(f"{root}: no {what} named {name!r} under it")
    if len(found) > 1:
        raise DataError(
            f"{root}: {len(found)} files named {name!r}: {shown_items(found)}; give the path relative to root"
        )
    return found[0]


def find_coefficient_csv(root: str | Path, name: str | Path | None = None) -> Path:
    """The coefficient CSV under ``root``: the file ``name`` if given, else the one CSV whose header holds
    ``Design`` and ``Average Cd``. DataError when there is none or more than one (asking for the name)."""
    return _find_coefficient_csv(Path(root), name, _visible_files(Path(root)))


def _find_coefficient_csv(root: Path, name: str | Path | None, files: Sequence[Path]) -> Path:
    if name is not None:
        return _find_one(root, str(name), "coefficient CSV", files)
    found = [p for p in _matching(files, "*.csv") if {DESIGN_COLUMN, DRAG_COLUMN} <= set(_csv_header(p))]
    if not found:
        raise DataError(
            f"{root}: no coefficient CSV (a .csv whose header has {DESIGN_COLUMN!r} and {DRAG_COLUMN!r}, such as "
            "AeroCoefficients_DrivAerNet_FilteredCorrected.csv)"
        )
    if len(found) > 1:
        raise DataError(
            f"{root}: {len(found)} CSVs look like coefficient tables: {shown_items(found)}; name the one to use "
            "(dataset parameter coefficients=FILE)"
        )
    return found[0]


def find_parametric_csv(root: str | Path, name: str | Path | None = None) -> Path | None:
    """The parametric table under ``root``: the file ``name`` if given, else the one CSV whose first column is
    ``Experiment``, or None when there is none. DataError when there are several (asking for the name)."""
    return _find_parametric_csv(Path(root), name, _visible_files(Path(root)))


def _find_parametric_csv(root: Path, name: str | Path | None, files: Sequence[Path]) -> Path | None:
    if name is not None:
        return _find_one(root, str(name), "parametric table", files)
    found = [p for p in _matching(files, "*.csv") if _csv_header(p)[:1] == [PARAMETRIC_ID_COLUMN]]
    if len(found) > 1:
        raise DataError(
            f"{root}: {len(found)} CSVs look like parametric tables (first column {PARAMETRIC_ID_COLUMN!r}): "
            f"{shown_items(found)}; name the one to use (dataset parameter parametric=FILE)"
        )
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------------- split lists


def _split_files(root: Path, files: Sequence[Path]) -> dict[str, Path]:
    """The split files among ``files`` (each at most once; DataError when one is found twice)."""
    out = {}
    for split, name in SPLIT_FILES.items():
        found = _matching(files, name)
        if len(found) > 1:
            raise DataError(f"{root}: {name} found {len(found)} times: {shown_items(found)}; keep one")
        if found:
            out[split] = found[0]
    return out


def _read_id_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot be read as a list of design ids, one a line ({e})") from e
    ids = [line.strip() for line in lines if line.strip()]
    seen: set[str] = set()
    repeated = []
    for design in ids:
        if design in seen and design not in repeated:
            repeated.append(design)
        seen.add(design)
    if repeated:
        raise DataError(f"{path}: design id(s) listed more than once: {shown_items(repeated)}")
    return ids


def read_split_lists(root: str | Path) -> dict[str, list[str]]:
    """The official train / validation / test design ids, from ``train_design_ids.txt``,
    ``val_design_ids.txt`` and ``test_design_ids.txt`` found anywhere under ``root``.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, ids in file order, blank lines ignored.

    Raises:
        DataError: naming the file and id, when a split file is missing or found twice, an id appears twice in
            one list, or in two lists.
    """
    return _read_split_lists(Path(root), _visible_files(Path(root)))


def _read_split_lists(root: Path, listing: Sequence[Path]) -> dict[str, list[str]]:
    files = _split_files(root, listing)
    missing = [name for split, name in SPLIT_FILES.items() if split not in files]
    if missing:
        raise DataError(
            f"{root}: split list(s) {', '.join(missing)} not found (expected {', '.join(SPLIT_FILES.values())}, "
            "one design id a line, at the root or in a sub-folder such as train_val_test_splits/)"
        )
    splits = {split: _read_id_list(files[split]) for split in SPLIT_FILES}
    owner: dict[str, str] = {}
    for split, ids in splits.items():
        for design in ids:
            if design in owner:
                first = owner[design]
                raise DataError(
                    f"{files[split]}: design {design!r} is also in {files[first]}; a design belongs to one split"
                )
            owner[design] = split
    return splits


# -------------------------------------------------------------------------------------------------------- the scan


@dataclass
class DrivAerNetIndex:
    """What :func:`scan_drivaernet` found: the usable designs (a mesh and a finite Cd) and what was skipped.

    Attributes:
        root: the dataset folder.
        design_ids: the usable designs, sorted.
        mesh_paths: the STL of each design, aligned with ``design_ids``.
        cd: float64 ``(N,)``, drag coefficient (``Average Cd``) of each design.
        families: ``"estateback"`` / ``"fastback"`` / ``"notchback"`` / ``"unknown"`` of each design.
        coefficients: the coefficient table's rows of the usable designs, in ``design_ids`` order.
        coefficients_path: the coefficient CSV read.
        splits: ``{"train", "val", "test"}`` -> usable design ids in file order, or None when the layout has no
            split lists and they were not required.
        parametric: the design parameters (float64, indexed by design id) of the usable designs that have a row,
            or None when the layout has no parametric table.
        cd_without_mesh: designs with a Cd row but no STL, sorted.
        mesh_without_cd: designs with an STL but no usable Cd (no row, or a row dropped), sorted.
        split_ids_unknown: split-list ids with neither an STL nor a coefficient row, sorted.
        dropped_coefficients: ``(design id, reason)`` of coefficient rows left out (Cd missing or not a number).
    """

    root: Path
    design_ids: list[str]
    mesh_paths: list[Path]
    cd: np.ndarray
    families: list[str]
    coefficients: pd.DataFrame
    coefficients_path: Path
    splits: dict[str, list[str]] | None
    parametric: pd.DataFrame | None
    cd_without_mesh: list[str] = field(default_factory=list)
    mesh_without_cd: list[str] = field(default_factory=list)
    split_ids_unknown: list[str] = field(default_factory=list)
    dropped_coefficients: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.design_ids)

    @property
    def skipped_counts(self) -> dict[str, int]:
        """How many designs were skipped, by cause."""
        return {
            "cd_without_mesh": len(self.cd_without_mesh),
            "mesh_without_cd": len(self.mesh_without_cd),
            "split_ids_unknown": len(self.split_ids_unknown),
            "dropped_coefficients": len(self.dropped_coefficients),
        }


def _mesh_files(root: Path, files: Sequence[Path]) -> dict[str, Path]:
    meshes: dict[str, Path] = {}
    for path in _matching(files, "*.stl"):
        design = path.stem
        if design in meshes:
            raise DataError(
                f"{root}: design {design!r} has two STL meshes, {meshes[design]} and {path}; keep one of them"
            )
        meshes[design] = path
    return meshes


def list_meshes(root: str | Path) -> dict[str, Path]:
    """Every ``<design id>.stl`` under ``root`` (recursively, hidden files left out), by design id: the designs of
    a folder of new meshes without coefficients. DataError when two files have the same design id."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MissingPathError(f"{root}: folder of STL meshes not found")
    return _mesh_files(root, _visible_files(root))


def scan_drivaernet(
    root: str | Path,
    coefficients: str | Path | None = None,
    *,
    parametric: str | Path | None = None,
    require_splits: bool = True,
) -> DrivAerNetIndex:
    """Index a DrivAerNet / DrivAerNet++ folder (no mesh is read).

    Args:
        root: the dataset folder; meshes, tables and split lists are found recursively under it.
        coefficients: the coefficient CSV (absolute, relative to ``root``, or a file name under it); default: the
            one CSV whose header has ``Design`` and ``Average Cd``.
        parametric: the parametric table, likewise; default: the one CSV whose first column is ``Experiment``,
            if any.
        require_splits: when False, a layout with none of the three split lists gives ``splits=None``.

    Designs without a mesh or without a usable Cd, and split-list ids found nowhere, are skipped with one
    warning summarising the counts (with a few example ids).

    Raises:
        MissingPathError: ``root`` does not exist.
        DataError: two STL files with the same design id (naming both), no usable design, a split that ends up
            empty, and the errors of :func:`read_coefficients`, :func:`read_split_lists` and
            :func:`read_parametric_table`.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise MissingPathError(f"{root}: DrivAerNet folder not found")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (expected the DrivAerNet dataset folder)")

    files = _visible_files(root)
    meshes = _mesh_files(root, files)
    coefficients_path = _find_coefficient_csv(root, coefficients, files)
    table, dropped = read_coefficients(coefficients_path)
    with_cd = set(table.index)
    in_csv = with_cd | {design for design, _ in dropped}

    design_ids = sorted(with_cd & set(meshes))
    cd_without_mesh = sorted(with_cd - set(meshes))
    mesh_without_cd = sorted(set(meshes) - with_cd)
    if not design_ids:
        raise DataError(
            f"{root}: no design has both an STL mesh and a Cd ({len(meshes)} STL files, {len(with_cd)} Cd rows in "
            f"{coefficients_path}); expected <design id>.stl files named as the {DESIGN_COLUMN!r} column"
        )

    splits: dict[str, list[str]] | None = None
    unknown: set[str] = set()
    split_files = _split_files(root, files)
    if require_splits or split_files:
        raw = _read_split_lists(root, files)
        usable = set(design_ids)
        splits = {}
        for split, ids in raw.items():
            unknown.update(i for i in ids if i not in meshes and i not in in_csv)
            splits[split] = [i for i in ids if i in usable]
        empty = [s for s, ids in splits.items() if not ids]
        if empty:
            detail = "; ".join(f"{split_files[s]} ({len(raw[s])} ids listed)" for s in empty)
            raise DataError(f"no usable design (an STL and a Cd) in split list(s): {detail}")

    parametric_path = _find_parametric_csv(root, parametric, files)
    params = None
    if parametric_path is not None:
        params = read_parametric_table(parametric_path)
        params = params.loc[[i for i in design_ids if i in params.index]]

    split_ids_unknown = sorted(unknown)
    notes = []
    if cd_without_mesh:
        notes.append(f"{len(cd_without_mesh)} design(s) with a Cd but no STL (e.g. {shown_items(cd_without_mesh)})")
    if mesh_without_cd:
        notes.append(f"{len(mesh_without_cd)} STL(s) without a usable Cd (e.g. {shown_items(mesh_without_cd)})")
    if dropped:
        notes.append(
            f"{len(dropped)} coefficient row(s) dropped (e.g. {shown_items([f'{d}: {r}' for d, r in dropped])})"
        )
    if split_ids_unknown:
        notes.append(
            f"{len(split_ids_unknown)} split-list id(s) with neither an STL nor a coefficient row "
            f"(e.g. {shown_items(split_ids_unknown)})"
        )
    if notes:
        warnings.warn(f"DrivAerNet {root}: using {len(design_ids)} designs; skipped " + "; ".join(notes), stacklevel=2)

    return DrivAerNetIndex(
        root=root,
        design_ids=design_ids,
        mesh_paths=[meshes[i] for i in design_ids],
        cd=table.loc[design_ids, DRAG_COLUMN].to_numpy(dtype=np.float64),
        families=[family_of(i) for i in design_ids],
        coefficients=table.loc[design_ids],
        coefficients_path=coefficients_path,
        splits=splits,
        parametric=params,
        cd_without_mesh=cd_without_mesh,
        mesh_without_cd=mesh_without_cd,
        split_ids_unknown=split_ids_unknown,
        dropped_coefficients=dropped,
    )


# ------------------------------------------------------------------------------------------------- point sampling


def _check_points(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[1] != 3:
        raise DataError(f"{name}: shape {array.shape}; expected (N, 3)")
    return array


def _check_count(n_points: int) -> int:
    if int(n_points) != n_points or n_points < 1:
        raise ConfigError(f"n_points: {n_points!r}; expected an integer >= 1")
    return int(n_points)


def sample_vertices(
    vertices: np.ndarray, n_points: int, rng: np.random.Generator | int | None = None, *, pad: bool = True
) -> tuple[np.ndarray, int]:
    """A fixed-size point cloud from a mesh's vertices, as the official DrivAerNet loader makes it.

    With more vertices than ``n_points``, ``n_points`` distinct vertices drawn without replacement (in random
    order); with exactly ``n_points``, all of them in their order; with fewer, all of them followed by zero rows
    (when ``pad``).

    Args:
        vertices: ``(V, 3)`` vertex coordinates (metres).
        n_points: points wanted.
        rng: a numpy Generator, or a seed for one.
        pad: allow zero padding; when False, fewer vertices than ``n_points`` is a DataError.

    Returns:
        ``points`` float32 ``(n_points, 3)`` and ``n_real``, how many leading rows are real vertices
        (``min(V, n_points)``); the rest are padding zeros.

    Raises:
        DataError: no vertex, or (``pad=False``) fewer vertices than ``n_points``, naming both counts (the caller
            names the file).
    """
    vertices = _check_points(vertices, "vertices")
    n_points = _check_count(n_points)
    n_vertices = len(vertices)
    if n_vertices == 0:
        raise DataError(f"the mesh has no vertex; cannot sample {n_points} points")
    if n_vertices > n_points:
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        chosen = generator.choice(n_vertices, size=n_points, replace=False)
        return vertices[chosen].astype(np.float32), n_points
    if n_vertices < n_points and not pad:
        raise DataError(
            f"the mesh has {n_vertices} vertices, fewer than the {n_points} points requested (padding disabled)"
        )
    points = np.zeros((n_points, 3), dtype=np.float32)
    points[:n_vertices] = vertices
    return points, n_vertices


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, n_points: int, seed: int) -> np.ndarray:
    """``n_points`` points drawn uniformly over a mesh's surface area (open3d ``sample_points_uniformly``).

    The same ``seed`` gives the same points (open3d's own generator is seeded first).

    Args:
        vertices: ``(V, 3)`` coordinates (metres).
        triangles: ``(T, 3)`` int vertex indices.
        n_points: points wanted.
        seed: seed of open3d's random generator.

    Returns:
        float32 ``(n_points, 3)`` points on the triangles (metres).

    Raises:
        DataError: no triangle, an index out of range, or a surface of zero area.
    """
    vertices = _check_points(vertices, "vertices").astype(np.float64)
    triangles = np.asarray(triangles)
    n_points = _check_count(n_points)
    if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
        raise DataError(f"triangles: shape {triangles.shape}; expected (T, 3) with T >= 1")
    if triangles.min() < 0 or triangles.max() >= len(vertices):
        raise DataError(f"triangles: indices span [{triangles.min()}, {triangles.max()}] for {len(vertices)} vertices")
    corners = vertices[triangles]
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    if not np.isfinite(area).all() or area.sum() <= 0:
        raise DataError(f"the mesh's surface area is {area.sum()}; cannot sample points on it")
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(triangles.astype(np.int32))
    )
    o3d.utility.random.seed(int(seed))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        cloud = mesh.sample_points_uniformly(number_of_points=n_points)
    return np.asarray(cloud.points, dtype=np.float32)


def minmax_normalise(points: np.ndarray) -> np.ndarray:
    """Per-cloud, per-axis min-max scaling to [0, 1] (the official ``min_max_normalize``).

    Args:
        points: ``(N, C)`` one cloud, or ``(..., N, C)`` a batch; each cloud and axis is scaled on its own.

    Returns:
        the same shape and float dtype (float64 for integer input); an axis with zero extent gives 0 (the
        official code would divide by zero).
    """
    points = np.asarray(points)
    if points.ndim < 2 or points.shape[-2] == 0:
        raise DataError(f"points: shape {points.shape}; expected (N, C) or (..., N, C) with N >= 1")
    dtype = points.dtype if np.issubdtype(points.dtype, np.floating) else np.float64
    work = points.astype(np.float64)
    lo = work.min(axis=-2, keepdims=True)
    extent = work.max(axis=-2, keepdims=True) - lo
    safe = np.where(extent > 0, extent, 1.0)
    out = np.where(extent > 0, (work - lo) / safe, 0.0)
    return out.astype(dtype)
