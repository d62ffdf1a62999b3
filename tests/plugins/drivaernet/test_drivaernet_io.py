"""Tests of the DrivAerNet layout reader and point sampling (``sciconv_drivaernet.drivaernet_io``) on tiny meshes
and tables written in ``tmp_path``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv_drivaernet import drivaernet_io
from sciconv_drivaernet.drivaernet_io import (
    DrivAerNetIndex,
    family_of,
    find_coefficient_csv,
    find_parametric_csv,
    minmax_normalise,
    read_coefficients,
    read_parametric_table,
    read_split_lists,
    read_stl,
    sample_surface,
    sample_vertices,
    scan_drivaernet,
)

TWO_TRIANGLES = """solid square
facet normal 0 0 1
 outer loop
  vertex 0 0 0
  vertex 1 0 0
  vertex 0 1 0
 endloop
endfacet
facet normal 0 0 1
 outer loop
  vertex 1 0 0
  vertex 1 1 0
  vertex 0 1 0
 endloop
endfacet
endsolid square
"""


def write_box(path: Path, size: float = 1.0) -> Path:
    """A binary STL of the box [0, size]^3 (12 triangles), written by open3d."""
    mesh = o3d.geometry.TriangleMesh.create_box(size, size, size)
    mesh.compute_triangle_normals()
    path.parent.mkdir(parents=True, exist_ok=True)
    assert o3d.io.write_triangle_mesh(str(path), mesh)
    return path


def write_tetrahedron(path: Path, scale: float = 1.0) -> Path:
    """A binary STL of a tetrahedron (4 triangles)."""
    vertices = scale * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    triangles = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(triangles))
    mesh.compute_triangle_normals()
    path.parent.mkdir(parents=True, exist_ok=True)
    assert o3d.io.write_triangle_mesh(str(path), mesh)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------------------- family_of


@pytest.mark.parametrize(
    ("design", "family"),
    [
        ("E_S_WWC_WM_005", "estateback"),
        ("F_D_WM_WW_1234", "fastback"),
        ("F_D_WM_WW_0001", "fastback"),
        ("N_S_WW_WM_017", "notchback"),
        ("X_S_WW_WM_017", "unknown"),
        ("", "unknown"),
    ],
)
def test_family_of(design: str, family: str) -> None:
    assert family_of(design) == family


# -------------------------------------------------------------------------------------------------------- read_stl


def test_read_stl_binary_box_merges_vertices(tmp_path: Path) -> None:
    path = write_box(tmp_path / "box.stl", size=2.0)
    vertices, triangles = read_stl(path)
    assert vertices.dtype == np.float64 and vertices.shape == (8, 3)
    assert triangles.dtype == np.int64 and triangles.shape == (12, 3)
    assert np.allclose(vertices.min(axis=0), 0.0) and np.allclose(vertices.max(axis=0), 2.0)
    assert triangles.min() >= 0 and triangles.max() == 7
    corners = {tuple(v) for v in vertices.tolist()}
    assert corners == {(x, y, z) for x in (0.0, 2.0) for y in (0.0, 2.0) for z in (0.0, 2.0)}

    raw_vertices, raw_triangles = read_stl(path, merge_vertices=False)
    assert raw_vertices.shape[0] > 8  # the STL stores every triangle's corners separately
    assert {tuple(v) for v in raw_vertices.tolist()} == corners
    assert raw_triangles.shape == (12, 3)


def test_read_stl_ascii_written_by_hand(tmp_path: Path) -> None:
    vertices, triangles = read_stl(write_text(tmp_path / "square.stl", TWO_TRIANGLES))
    assert vertices.shape == (4, 3) and triangles.shape == (2, 3)
    assert {tuple(v) for v in vertices.tolist()} == {(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)}
    # both triangles, as sets of corner coordinates
    faces = {frozenset(tuple(vertices[i]) for i in tri) for tri in triangles}
    assert faces == {
        frozenset({(0, 0, 0), (1, 0, 0), (0, 1, 0)}),
        frozenset({(1, 0, 0), (1, 1, 0), (0, 1, 0)}),
    }


def test_read_stl_uppercase_extension(tmp_path: Path) -> None:
    vertices, triangles = read_stl(write_box(tmp_path / "BOX.STL"))
    assert vertices.shape == (8, 3) and triangles.shape == (12, 3)


def test_read_stl_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "F_D_WM_WW_0001.stl"
    with pytest.raises(MissingPathError, match=r"F_D_WM_WW_0001\.stl: STL mesh not found"):
        read_stl(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.random.default_rng(0).bytes(1000), "empty or unreadable STL"),
        (b"", "empty or unreadable STL"),
        (b"solid nothing\nendsolid nothing\n", "empty or unreadable STL"),
        (TWO_TRIANGLES.replace("vertex 1 1 0", "vertex nan 1 0").encode(), "NaN or infinite coordinate"),
        (TWO_TRIANGLES.replace("vertex 1 1 0", "vertex 1 inf 0").encode(), "NaN or infinite coordinate"),
    ],
    ids=["random-bytes", "empty-file", "no-facets", "nan-vertex", "inf-vertex"],
)
def test_read_stl_bad_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "N_S_WW_WM_017.stl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_stl(path)
    assert str(path) in str(info.value)


def test_read_stl_nan_error_says_which_vertex(tmp_path: Path) -> None:
    path = write_text(tmp_path / "nan.stl", TWO_TRIANGLES.replace("vertex 1 1 0", "vertex nan 1 0"))
    with pytest.raises(DataError, match=r"1 of \d+ vertices have a NaN"):
        read_stl(path)


def test_read_stl_wrong_extension(tmp_path: Path) -> None:
    path = write_text(tmp_path / "square.txt", TWO_TRIANGLES)
    with pytest.raises(DataError, match=r"square.txt: not an STL file"):
        read_stl(path)


def test_read_stl_triangle_index_out_of_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """open3d never builds such a mesh from an STL, but the reader checks what it gets."""
    path = write_text(tmp_path / "square.stl", TWO_TRIANGLES)

    def broken_reader(filename: str) -> o3d.geometry.TriangleMesh:
        vertices = o3d.utility.Vector3dVector(np.eye(3))
        return o3d.geometry.TriangleMesh(vertices, o3d.utility.Vector3iVector(np.array([[0, 1, 5]])))

    monkeypatch.setattr(drivaernet_io.o3d.io, "read_triangle_mesh", broken_reader)
    with pytest.raises(DataError, match=r"indices span \[0, 5\] but the mesh has 3 vertices") as info:
        read_stl(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------------------------ coefficient CSV


COEFFICIENTS = """Design,Average Cd,Average Cl,Average Cl_f,Average Cl_r
F_D_WM_WW_0001,0.2801,0.051,-0.02,0.071
F_D_WM_WW_0002,0.3012,,0.01,0.05
F_D_WM_WW_0003,,0.10,0.02,0.08
F_D_WM_WW_0004,abc,0.10,0.02,0.08
F_D_WM_WW_0005,inf,0.10,0.02,0.08
 F_D_WM_WW_0006 , 0.2950 ,0.12,0.03,0.09
"""


def test_read_coefficients_keeps_good_rows_and_reports_dropped(tmp_path: Path) -> None:
    table, dropped = read_coefficients(write_text(tmp_path / "coefficients.csv", COEFFICIENTS))
    assert list(table.index) == ["F_D_WM_WW_0001", "F_D_WM_WW_0002", "F_D_WM_WW_0006"]
    assert table.index.name == "Design"
    assert table["Average Cd"].dtype == np.float64
    assert np.allclose(table["Average Cd"].to_numpy(), [0.2801, 0.3012, 0.2950])
    assert list(table.columns) == ["Average Cd", "Average Cl", "Average Cl_f", "Average Cl_r"]
    assert table["Average Cl"].dtype == np.float64 and np.isnan(table.loc["F_D_WM_WW_0002", "Average Cl"])
    assert table.loc["F_D_WM_WW_0001", "Average Cl_f"] == pytest.approx(-0.02)
    reasons = dict(dropped)
    assert set(reasons) == {"F_D_WM_WW_0003", "F_D_WM_WW_0004", "F_D_WM_WW_0005"}
    assert "missing" in reasons["F_D_WM_WW_0003"]
    assert "'abc' is not a finite number" in reasons["F_D_WM_WW_0004"]
    assert "'inf' is not a finite number" in reasons["F_D_WM_WW_0005"]


def test_read_coefficients_duplicate_ids(tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "Design,Average Cd\nA_1,0.3\nB_2,0.31\nA_1,0.32\nB_2,0.4\nC_3,0.2\n")
    with pytest.raises(DataError, match=r"c\.csv: Design id\(s\) listed more than once: A_1, B_2"):
        read_coefficients(path)


def test_read_coefficients_missing_column_and_blank_id(tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "Design,Cd\nA_1,0.3\n")
    with pytest.raises(DataError, match=r"c\.csv: no column 'Average Cd'"):
        read_coefficients(path)
    path = write_text(tmp_path / "d.csv", "Design,Average Cd\nA_1,0.3\n,0.31\n")
    with pytest.raises(DataError, match=r"d\.csv: no 'Design' on line\(s\) 3"):
        read_coefficients(path)
    with pytest.raises(MissingPathError, match=r"nothing\.csv"):
        read_coefficients(tmp_path / "nothing.csv")


# ---------------------------------------------------------------------------------------------------- split lists


def write_splits(folder: Path, train: str, val: str, test: str) -> None:
    for name, text in (("train", train), ("val", val), ("test", test)):
        write_text(folder / f"{name}_design_ids.txt", text)


def test_read_split_lists_in_a_subfolder(tmp_path: Path) -> None:
    write_splits(tmp_path / "train_val_test_splits", "A_1\n\nA_2\n  \n", "B_1\n", "\nC_1\nC_2")
    assert read_split_lists(tmp_path) == {"train": ["A_1", "A_2"], "val": ["B_1"], "test": ["C_1", "C_2"]}


def test_read_split_lists_duplicates(tmp_path: Path) -> None:
    write_splits(tmp_path / "s", "A_1\nA_2\nA_1\n", "B_1\n", "C_1\n")
    with pytest.raises(DataError, match=r"train_design_ids\.txt: design id\(s\) listed more than once: A_1"):
        read_split_lists(tmp_path)
    write_splits(tmp_path / "s", "A_1\nA_2\n", "B_1\n", "C_1\nA_2\n")
    with pytest.raises(DataError, match=r"test_design_ids\.txt: design 'A_2' is also in .*train_design_ids\.txt"):
        read_split_lists(tmp_path)


def test_read_split_lists_missing_or_twice(tmp_path: Path) -> None:
    write_text(tmp_path / "train_design_ids.txt", "A_1\n")
    write_text(tmp_path / "test_design_ids.txt", "C_1\n")
    with pytest.raises(DataError, match=r"split list\(s\) val_design_ids\.txt not found"):
        read_split_lists(tmp_path)
    write_text(tmp_path / "val_design_ids.txt", "B_1\n")
    write_text(tmp_path / "copy" / "val_design_ids.txt", "B_1\n")
    with pytest.raises(DataError, match=r"val_design_ids\.txt found 2 times"):
        read_split_lists(tmp_path)


# ----------------------------------------------------------------------------------------------- parametric table


PARAMETRIC = """Experiment,B_Ramp_Angle,A_Car_Length,A_Car_Width,Average Cd,Std Cd,Average Cl
E_S_WWC_WM_005,10.5,4.6,1.8,0.30,0.01,0.1
F_D_WM_WW_1234,12.0,4.5,1.9,0.28,0.02,0.05
"""


def test_read_parametric_table(tmp_path: Path) -> None:
    table = read_parametric_table(write_text(tmp_path / "DrivAerNet_ParametricData.csv", PARAMETRIC))
    assert list(table.columns) == ["B_Ramp_Angle", "A_Car_Length", "A_Car_Width"]
    assert list(table.index) == ["E_S_WWC_WM_005", "F_D_WM_WW_1234"]
    assert all(table[c].dtype == np.float64 for c in table.columns)
    assert table.loc["F_D_WM_WW_1234", "A_Car_Width"] == pytest.approx(1.9)


def test_read_parametric_table_errors(tmp_path: Path) -> None:
    path = write_text(tmp_path / "p.csv", PARAMETRIC + "E_S_WWC_WM_005,1,2,3,0.3,0.1,0.1\n")
    with pytest.raises(DataError, match=r"p\.csv: Experiment id\(s\) listed more than once: E_S_WWC_WM_005"):
        read_parametric_table(path)
    path = write_text(tmp_path / "q.csv", PARAMETRIC.replace("4.5,", "long,"))
    with pytest.raises(DataError, match=r"q\.csv: design parameter 'A_Car_Length' has 1 missing or non-numeric"):
        read_parametric_table(path)
    path = write_text(tmp_path / "r.csv", PARAMETRIC.replace("Experiment", "Design"))
    with pytest.raises(DataError, match=r"r\.csv: first column is 'Design'; expected 'Experiment'"):
        read_parametric_table(path)


# ------------------------------------------------------------------------------------------------------------ scan


IDS = ["E_S_WWC_WM_005", "F_D_WM_WW_1234", "N_S_WW_WM_017", "F_D_WM_WW_0001", "N_S_WW_WM_018", "E_S_WWC_WM_006"]


def make_layout(root: Path, *, extras: bool = False) -> None:
    """A DrivAerNet++-like folder: STLs in a sub-folder, the drag CSV, split lists and the parametric table.

    With ``extras``: a Cd row without mesh, a mesh without Cd row, a row whose Cd is not a number (with a mesh),
    and a split-list id that exists nowhere."""
    stl_dir = root / "DrivAerNet_STLs_Combined"
    template = write_tetrahedron(stl_dir / f"{IDS[0]}.stl")
    for design in IDS[1:]:
        (stl_dir / f"{design}.stl").write_bytes(template.read_bytes())
    rows = [f"{d},{0.25 + 0.01 * i:.3f},{0.1 * i:.2f}" for i, d in enumerate(IDS)]
    splits = {"train": IDS[:3], "val": IDS[3:4], "test": IDS[4:]}
    if extras:
        rows += ["F_D_WM_WW_9999,0.31,0.2", "N_S_WW_WM_500,n/a,0.2"]  # no mesh; Cd not a number
        (stl_dir / "N_S_WW_WM_500.stl").write_bytes(template.read_bytes())
        (stl_dir / "E_S_WWC_WM_777.stl").write_bytes(template.read_bytes())  # no Cd row
        splits["train"] = [*splits["train"], "E_S_WWC_WM_777", "F_D_WM_WW_9999", "X_NOWHERE_1"]
    write_text(root / "DrivAerNetPlusPlus_Drag.csv", "Design,Average Cd,Average Cl\n" + "\n".join(rows) + "\n")
    split_dir = root / "train_val_test_splits"
    for split, ids in splits.items():
        write_text(split_dir / f"{split}_design_ids.txt", "\n".join(ids) + "\n")
    params = [f"{d},{10 + i},{4.5 + 0.01 * i},0.3,0.01" for i, d in enumerate(IDS)]
    write_text(root / "DrivAerNet_ParametricData.csv", "Experiment,B_Ramp_Angle,A_Car_Length,Average Cd,Std Cd\n")
    with (root / "DrivAerNet_ParametricData.csv").open("a") as f:
        f.write("\n".join(params) + "\n")


def test_scan_clean_layout_without_warning(tmp_path: Path) -> None:
    make_layout(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = scan_drivaernet(tmp_path)
    assert isinstance(index, DrivAerNetIndex)
    assert index.design_ids == sorted(IDS) and len(index) == len(IDS)
    assert [p.name for p in index.mesh_paths] == [f"{d}.stl" for d in sorted(IDS)]
    assert all(p.parent.name == "DrivAerNet_STLs_Combined" for p in index.mesh_paths)
    expected_cd = {d: 0.25 + 0.01 * i for i, d in enumerate(IDS)}
    assert index.cd.dtype == np.float64
    assert np.allclose(index.cd, [expected_cd[d] for d in index.design_ids])
    assert index.families == [family_of(d) for d in sorted(IDS)]
    assert index.families.count("estateback") == 2 and index.families.count("notchback") == 2
    assert index.splits == {"train": IDS[:3], "val": IDS[3:4], "test": IDS[4:]}
    assert index.coefficients_path.name == "DrivAerNetPlusPlus_Drag.csv"
    assert list(index.coefficients.index) == index.design_ids
    assert "Average Cl" in index.coefficients.columns
    assert index.parametric is not None
    assert list(index.parametric.columns) == ["B_Ramp_Angle", "A_Car_Length"]
    assert list(index.parametric.index) == index.design_ids
    assert index.skipped_counts == dict.fromkeys(
        ("cd_without_mesh", "mesh_without_cd", "split_ids_unknown", "dropped_coefficients"), 0
    )
    vertices, triangles = read_stl(index.mesh_paths[0])
    assert vertices.shape == (4, 3) and triangles.shape == (4, 3)


def test_scan_skips_with_exactly_one_warning(tmp_path: Path) -> None:
    make_layout(tmp_path, extras=True)
    with pytest.warns(UserWarning) as record:
        index = scan_drivaernet(tmp_path)
    assert len(record) == 1
    message = str(record[0].message)
    assert "using 6 designs" in message
    assert "1 design(s) with a Cd but no STL (e.g. F_D_WM_WW_9999)" in message
    assert "2 STL(s) without a usable Cd (e.g. E_S_WWC_WM_777, N_S_WW_WM_500)" in message
    assert "1 coefficient row(s) dropped (e.g. N_S_WW_WM_500: Average Cd 'n/a' is not a finite number)" in message
    assert "1 split-list id(s) with neither an STL nor a coefficient row (e.g. X_NOWHERE_1)" in message
    assert index.design_ids == sorted(IDS)
    assert index.cd_without_mesh == ["F_D_WM_WW_9999"]
    assert index.mesh_without_cd == ["E_S_WWC_WM_777", "N_S_WW_WM_500"]
    assert index.split_ids_unknown == ["X_NOWHERE_1"]
    assert index.dropped_coefficients == [("N_S_WW_WM_500", "Average Cd 'n/a' is not a finite number")]
    assert index.skipped_counts == {
        "cd_without_mesh": 1,
        "mesh_without_cd": 2,
        "split_ids_unknown": 1,
        "dropped_coefficients": 1,
    }
    assert index.splits is not None and index.splits["train"] == IDS[:3]


def test_scan_duplicate_stl_stems(tmp_path: Path) -> None:
    make_layout(tmp_path)
    copy = write_tetrahedron(tmp_path / "other" / f"{IDS[1]}.stl")
    with pytest.raises(DataError, match=f"design '{IDS[1]}' has two STL meshes") as info:
        scan_drivaernet(tmp_path)
    assert str(copy) in str(info.value)
    assert str(tmp_path / "DrivAerNet_STLs_Combined" / f"{IDS[1]}.stl") in str(info.value)


def test_scan_hidden_files_are_ignored(tmp_path: Path) -> None:
    make_layout(tmp_path)
    write_text(tmp_path / "DrivAerNet_STLs_Combined" / f"._{IDS[0]}.stl", "macOS resource fork")
    write_text(tmp_path / ".cache" / f"{IDS[0]}.stl", "not a mesh")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scan_drivaernet(tmp_path).design_ids == sorted(IDS)


def test_scan_two_coefficient_csvs_asks_for_the_name(tmp_path: Path) -> None:
    make_layout(tmp_path)
    other = write_text(tmp_path / "old" / "AeroCoefficients_DrivAerNet_FilteredCorrected.csv", "Design,Average Cd\n")
    with pytest.raises(DataError, match=r"2 CSVs look like coefficient tables: .*name the one to use"):
        scan_drivaernet(tmp_path)
    assert find_coefficient_csv(tmp_path, "DrivAerNetPlusPlus_Drag.csv") == tmp_path / "DrivAerNetPlusPlus_Drag.csv"
    assert find_coefficient_csv(tmp_path, "AeroCoefficients_DrivAerNet_FilteredCorrected.csv") == other
    index = scan_drivaernet(tmp_path, coefficients="DrivAerNetPlusPlus_Drag.csv")
    assert index.design_ids == sorted(IDS)
    with pytest.raises(MissingPathError, match=r"no coefficient CSV named 'nope\.csv'"):
        scan_drivaernet(tmp_path, coefficients="nope.csv")


def test_scan_split_that_ends_up_empty(tmp_path: Path) -> None:
    make_layout(tmp_path)
    write_text(tmp_path / "train_val_test_splits" / "val_design_ids.txt", "X_NOWHERE_1\nX_NOWHERE_2\n")
    with pytest.raises(DataError, match=r"no usable design .* in split list\(s\): .*val_design_ids\.txt \(2 ids"):
        scan_drivaernet(tmp_path)


def test_scan_without_split_lists(tmp_path: Path) -> None:
    make_layout(tmp_path)
    for split in ("train", "val", "test"):
        (tmp_path / "train_val_test_splits" / f"{split}_design_ids.txt").unlink()
    with pytest.raises(DataError, match="split list"):
        scan_drivaernet(tmp_path)
    index = scan_drivaernet(tmp_path, require_splits=False)
    assert index.splits is None and index.design_ids == sorted(IDS)


def test_scan_missing_pieces(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match="DrivAerNet folder not found"):
        scan_drivaernet(tmp_path / "absent")
    make_layout(tmp_path)
    (tmp_path / "DrivAerNetPlusPlus_Drag.csv").unlink()
    with pytest.raises(DataError, match="no coefficient CSV"):
        scan_drivaernet(tmp_path)
    assert find_parametric_csv(tmp_path) == tmp_path / "DrivAerNet_ParametricData.csv"
    write_text(tmp_path / "c.csv", "Design,Average Cd\nZ_1,0.3\n")
    with pytest.raises(DataError, match="no design has both an STL mesh and a Cd"):
        scan_drivaernet(tmp_path)


# -------------------------------------------------------------------------------------------------- point sampling


def test_sample_vertices_without_replacement() -> None:
    rng = np.random.default_rng(0)
    vertices = rng.standard_normal((200, 3))
    points, n_real = sample_vertices(vertices, 64, np.random.default_rng(1))
    assert points.shape == (64, 3) and points.dtype == np.float32 and n_real == 64
    assert len(np.unique(points, axis=0)) == 64
    pool = {tuple(v) for v in vertices.astype(np.float32).tolist()}
    assert all(tuple(p) in pool for p in points.tolist())
    again, _ = sample_vertices(vertices, 64, 1)
    assert np.array_equal(points, again)
    other, _ = sample_vertices(vertices, 64, 2)
    assert not np.array_equal(points, other)
    everything, n_all = sample_vertices(vertices, 200, 0)
    assert n_all == 200 and np.array_equal(everything, vertices.astype(np.float32))


def test_sample_vertices_padding() -> None:
    vertices = np.arange(30, dtype=float).reshape(10, 3) + 1.0
    points, n_real = sample_vertices(vertices, 16, 0)
    assert points.shape == (16, 3) and n_real == 10
    assert np.array_equal(points[:10], vertices.astype(np.float32))
    assert not points[10:].any()
    with pytest.raises(DataError, match="has 10 vertices, fewer than the 16 points requested"):
        sample_vertices(vertices, 16, 0, pad=False)
    with pytest.raises(ConfigError, match="n_points"):
        sample_vertices(vertices, 0, 0)
    with pytest.raises(DataError, match="no vertex"):
        sample_vertices(np.zeros((0, 3)), 4, 0)


def test_sample_surface_points_lie_on_the_box_faces(tmp_path: Path) -> None:
    vertices, triangles = read_stl(write_box(tmp_path / "box.stl"))
    points = sample_surface(vertices, triangles, 2000, seed=3)
    assert points.shape == (2000, 3) and points.dtype == np.float32
    assert (points >= -1e-6).all() and (points <= 1 + 1e-6).all()
    on_a_face = (np.abs(points) < 1e-6) | (np.abs(points - 1.0) < 1e-6)
    assert on_a_face.any(axis=1).all()
    # uniform over area: each of the six unit faces gets about a sixth of the points
    for axis in range(3):
        for value in (0.0, 1.0):
            share = np.mean(np.abs(points[:, axis] - value) < 1e-6)
            assert abs(share - 1 / 6) < 0.04
    assert np.array_equal(points, sample_surface(vertices, triangles, 2000, seed=3))
    assert not np.array_equal(points, sample_surface(vertices, triangles, 2000, seed=4))


def test_sample_surface_weights_triangles_by_area() -> None:
    # two separate triangles in the z = 0 and z = 5 planes, of areas 0.5 and 4.5
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 5], [3, 0, 5], [0, 3, 5]], dtype=float)
    triangles = np.array([[0, 1, 2], [3, 4, 5]])
    points = sample_surface(vertices, triangles, 4000, seed=0)
    on_large = np.abs(points[:, 2] - 5.0) < 1e-6
    assert (on_large | (np.abs(points[:, 2]) < 1e-6)).all()
    assert abs(on_large.mean() - 0.9) < 0.03
    with pytest.raises(DataError, match="surface area"):
        sample_surface(np.zeros((3, 3)), np.array([[0, 1, 2]]), 10, seed=0)
    with pytest.raises(DataError, match="indices span"):
        sample_surface(vertices, np.array([[0, 1, 9]]), 10, seed=0)


def test_minmax_normalise_ranges() -> None:
    rng = np.random.default_rng(0)
    points = (rng.standard_normal((50, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]).astype(np.float32)
    out = minmax_normalise(points)
    assert out.dtype == np.float32 and out.shape == points.shape
    assert np.allclose(out.min(axis=0), 0.0) and np.allclose(out.max(axis=0), 1.0)
    # affine per axis: order along each axis is kept
    assert all(np.array_equal(np.argsort(out[:, a]), np.argsort(points[:, a])) for a in range(3))


def test_minmax_normalise_flat_axis_and_batch() -> None:
    flat = np.array([[0.0, 2.0, 7.0], [1.0, 2.0, 9.0], [3.0, 2.0, 8.0]])
    out = minmax_normalise(flat)
    assert np.array_equal(out[:, 1], [0.0, 0.0, 0.0])
    assert np.allclose(out[:, 0], [0.0, 1 / 3, 1.0]) and np.allclose(out[:, 2], [0.0, 1.0, 0.5])
    batch = np.stack([flat, 10.0 * flat + 1.0])
    outs = minmax_normalise(batch)
    assert outs.shape == (2, 3, 3) and np.allclose(outs[0], out) and np.allclose(outs[1], out)
    assert minmax_normalise(np.array([[1, 2], [3, 2]])).dtype == np.float64
