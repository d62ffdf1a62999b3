"""Tests of the ModelNet readers (``sciconv_e3dsnn.modelnet_io``) on tiny OFF meshes, point files and folders
written in ``tmp_path``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from sciconv.errors import DataError, MissingPathError
from sciconv_e3dsnn.modelnet_io import (
    ModelNetIndex,
    ShapeEntry,
    detect_layout,
    read_off,
    read_point_text,
    read_shape,
    sample_mesh,
    scan_modelnet,
    scan_modelnet_off,
    scan_modelnet_resampled,
)

# the unit cube [0, 1]^3: 8 corners, 12 triangles wound counter-clockwise seen from outside
CUBE_VERTICES = "\n".join(
    ["0 0 0", "1 0 0", "1 1 0", "0 1 0", "0 0 1", "1 0 1", "1 1 1", "0 1 1"],
)
CUBE_TRIANGLES = [
    (0, 2, 1), (0, 3, 2),  # z = 0
    (4, 5, 6), (4, 6, 7),  # z = 1
    (0, 1, 5), (0, 5, 4),  # y = 0
    (3, 7, 6), (3, 6, 2),  # y = 1
    (0, 4, 7), (0, 7, 3),  # x = 0
    (1, 2, 6), (1, 6, 5),  # x = 1
]  # fmt: skip
CUBE_FACES = "\n".join(f"3 {a} {b} {c}" for a, b, c in CUBE_TRIANGLES)
CUBE_QUADS = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (3, 7, 6, 2), (0, 4, 7, 3), (1, 2, 6, 5)]


def cube_off(header: str = "OFF\n8 12 0") -> str:
    return f"{header}\n{CUBE_VERTICES}\n{CUBE_FACES}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def on_cube_surface(xyz: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    inside = ((xyz >= -tol) & (xyz <= 1 + tol)).all(axis=1)
    on_face = (np.abs(xyz) < tol).any(axis=1) | (np.abs(xyz - 1) < tol).any(axis=1)
    return inside & on_face


def assert_outward_cube_normals(cloud: np.ndarray) -> None:
    xyz, normals = cloud[:, :3].astype(np.float64), cloud[:, 3:].astype(np.float64)
    assert on_cube_surface(xyz).all()
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    # each normal is the axis of the face the point lies on, pointing away from the centre
    axis = np.abs(normals).argmax(axis=1)
    np.testing.assert_allclose(np.abs(normals).max(axis=1), 1.0, atol=1e-5)
    side = np.sign(normals[np.arange(len(cloud)), axis])
    np.testing.assert_allclose(xyz[np.arange(len(cloud)), axis], (side + 1) / 2, atol=1e-5)


# ----------------------------------------------------------------------------------------------------------- read_off


def test_cube_round_trip_samples_the_surface_with_outward_unit_normals(tmp_path: Path) -> None:
    vertices, triangles = read_off(write(tmp_path / "cube.off", "# a comment\n\n" + cube_off()))
    assert vertices.shape == (8, 3) and vertices.dtype == np.float64
    assert triangles.shape == (12, 3) and triangles.dtype == np.int64
    np.testing.assert_array_equal(triangles, np.array(CUBE_TRIANGLES))
    cloud = sample_mesh(vertices, triangles, 2000, seed=0)
    assert cloud.shape == (2000, 6) and cloud.dtype == np.float32
    assert_outward_cube_normals(cloud)
    # uniform over the area: each of the 6 faces gets about 1/6 of the points
    axis = np.abs(cloud[:, 3:]).argmax(axis=1)
    side = cloud[np.arange(len(cloud)), 3 + axis] > 0
    counts = np.bincount(2 * axis + side, minlength=6)
    assert (np.abs(counts - 2000 / 6) < 80).all(), counts


def test_counts_glued_to_the_keyword_as_in_modelnet40(tmp_path: Path) -> None:
    vertices, triangles = read_off(write(tmp_path / "glued.off", cube_off("OFF8 12 0")))
    assert vertices.shape == (8, 3) and triangles.shape == (12, 3)
    spaced, _ = read_off(write(tmp_path / "spaced.off", cube_off("OFF 8 12 0")))
    np.testing.assert_array_equal(vertices, spaced)


def test_quads_are_fan_triangulated(tmp_path: Path) -> None:
    faces = "\n".join("4 " + " ".join(map(str, q)) for q in CUBE_QUADS)
    vertices, triangles = read_off(write(tmp_path / "quads.off", f"OFF\n8 6 0\n{CUBE_VERTICES}\n{faces}\n"))
    assert triangles.shape == (12, 3)
    expected = [t for a, b, c, d in CUBE_QUADS for t in ((a, b, c), (a, c, d))]
    np.testing.assert_array_equal(triangles, np.array(expected))
    assert_outward_cube_normals(sample_mesh(vertices, triangles, 500, seed=1))


def test_a_pentagon_and_face_colours(tmp_path: Path) -> None:
    text = "OFF\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0.5 2 0\n0 1 0\n5 0 1 2 3 4 255 0 0\n3 0 1 2 10 20 30 255\n"
    _, triangles = read_off(write(tmp_path / "penta.off", text))
    np.testing.assert_array_equal(triangles, [[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 1, 2]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (cube_off("PLY\n8 12 0"), "starts with 'PLY'; expected the keyword 'OFF'"),
        (cube_off("COFF\n8 12 0"), "expected the keyword 'OFF'"),
        (cube_off("OFF\n8 12"), "expected the counts 'V F E' as 3 non-negative integers"),
        (cube_off("OFF\n8 twelve 0"), "line 2 is '8 twelve 0'"),
        ("OFF\n", "no counts line"),
        ("", "empty file"),
        ("OFF\n0 0 0\n", "empty mesh (0 vertices, 0 faces)"),
        ("OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", "empty mesh (3 vertices, 0 faces)"),
        # too few vertex rows: one corner dropped
        (
            cube_off().replace("0 1 1\n", ""),
            "8 vertex rows and 12 face rows (20 rows after the counts), found only 19 row(s)",
        ),
        # too few faces
        (cube_off().replace("3 1 6 5\n", ""), "found only 19 row(s) ("),
        (cube_off() + "3 0 1 2\n", "found 21 row(s)"),
        (cube_off().replace("3 1 6 5", "3 1 6 8"), "line 22 refers to vertex 8 but the mesh has 8 vertices"),
        (cube_off().replace("3 1 6 5", "3 1 -6 5"), "refers to vertex -6"),
        (cube_off().replace("3 1 6 5", "2 1 6"), "a face of 2 corners"),
        (cube_off().replace("3 1 6 5", "3 1 6 5 7"), "line 22 has 5 values for a face of 3 corners"),
        (cube_off().replace("3 1 6 5", "3 1 6 x"), "line 22 holds a vertex index that is not an integer"),
        (cube_off().replace("1 1 1\n", "1 1\n"), "line 9 has 2 values, expected 3"),
        (cube_off().replace("1 1 1\n", "1 1 one\n"), "line 9 holds a value that is not a number"),
        (cube_off().replace("1 1 1\n", "nan 1 inf\n").replace("0 1 1\n", "0 nan 1\n"), "2 of 8 vertices"),
    ],
)
def test_bad_off_files_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.off", text)
    with pytest.raises(DataError, match=r"bad\.off") as info:
        read_off(path)
    assert message in str(info.value)


def test_missing_and_binary_off(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match=r"none\.off"):
        read_off(tmp_path / "none.off")
    (tmp_path / "bin.off").write_bytes(b"\xff\xfe\x00OFF")
    with pytest.raises(DataError, match="not a text file"):
        read_off(tmp_path / "bin.off")


def test_read_off_is_vectorised_for_large_meshes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n_vertices, n_faces = 100_000, 200_000
    vertices = rng.normal(size=(n_vertices, 3))
    faces = rng.integers(0, n_vertices, size=(n_faces, 3))
    lines = ["OFF", f"{n_vertices} {n_faces} 0"]
    lines += [f"{x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += [f"3 {a} {b} {c}" for a, b, c in faces]
    path = write(tmp_path / "big.off", "\n".join(lines) + "\n")
    start = time.perf_counter()
    got_vertices, got_faces = read_off(path)
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(got_vertices, vertices, atol=1e-6)
    np.testing.assert_array_equal(got_faces, faces)
    assert elapsed < 3.0, f"read_off took {elapsed:.2f} s for 1e5 vertices"


# -------------------------------------------------------------------------------------------------------- sample_mesh


def test_sampling_is_deterministic_for_a_seed() -> None:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    triangles = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    a = sample_mesh(vertices, triangles, 300, seed=7)
    b = sample_mesh(vertices, triangles, 300, seed=7)
    c = sample_mesh(vertices, triangles, 300, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # normals of the tetrahedron point away from its centroid
    centroid = vertices.mean(axis=0)
    assert (np.einsum("ij,ij->i", a[:, 3:] - 0, a[:, :3] - centroid) > 0).all()


def test_degenerate_and_malformed_meshes_are_refused() -> None:
    flat = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]], dtype=float)  # collinear: zero area
    with pytest.raises(DataError, match="degenerate mesh"):
        sample_mesh(flat, np.array([[0, 1, 2]]), 10, seed=0)
    square = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)
    with pytest.raises(DataError, match="indices span"):
        sample_mesh(square, np.array([[0, 1, 3]]), 10, seed=0)
    with pytest.raises(DataError, match="expected a positive integer"):
        sample_mesh(square, np.array([[0, 1, 2]]), 0, seed=0)
    with pytest.raises(DataError, match=r"expected \(T, 3\)"):
        sample_mesh(square, np.zeros((0, 3), dtype=int), 10, seed=0)
    with pytest.raises(DataError, match="NaN or infinite"):
        sample_mesh(np.array([[0, 0, 0], [1, 0, 0], [0, np.nan, 0]]), np.array([[0, 1, 2]]), 10, seed=0)


# ---------------------------------------------------------------------------------------------------- read_point_text


def test_six_column_text_with_commas_or_spaces(tmp_path: Path) -> None:
    rows = np.array([[0.1, 0.2, 0.3, 0.0, 0.0, 1.0], [-0.5, 0.25, 1.0, 1.0, 0.0, 0.0]])
    comma = write(tmp_path / "a.txt", "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows) + "\n")
    space = write(tmp_path / "b.xyz", "\n".join("  ".join(f"{v:.6f}" for v in r) for r in rows) + "\n\n")
    mixed = write(tmp_path / "c.csv", "\n".join(", ".join(f"{v:.6f}" for v in r) for r in rows))
    for path in (comma, space, mixed):
        got = read_point_text(path)
        assert got.shape == (2, 6) and got.dtype == np.float32
        np.testing.assert_allclose(got, rows, atol=1e-6)


def sphere_points(n: int, seed: int = 0) -> np.ndarray:
    xyz = np.random.default_rng(seed).normal(size=(n, 3))
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def test_three_columns_get_estimated_outward_unit_normals(tmp_path: Path) -> None:
    xyz = sphere_points(400)
    path = write(tmp_path / "sphere.xyz", "\n".join(" ".join(f"{v:.6f}" for v in p) for p in xyz))
    got = read_point_text(path)
    assert got.shape == (400, 6)
    np.testing.assert_allclose(np.linalg.norm(got[:, 3:], axis=1), 1.0, atol=1e-5)
    # on a sphere the outward normal is the point itself
    cosine = np.einsum("ij,ij->i", got[:, 3:], xyz)
    assert (cosine > 0.9).all(), cosine.min()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3,4,5\n", "line 1 has 5 values; expected 6 (x, y, z, nx, ny, nz) or 3 (x, y, z)"),
        ("1,2,3,0,0,1\n1,2,3,0,0\n", "line 2 has 5 values, expected 6"),
        ("\n1 2 3\n1 2 3\n4 5 6 7 8\n", "line 4 has 5 values, expected 3"),
        ("1,2,3,0,0,1\n1,2,x,0,0,1\n", "line 2 holds a value that is not a number"),
        ("1,,3,0,0,1\n", "line 1 has an empty field"),
        ("1,2,3,0,0,1\n1,2,nan,0,0,1\n", "1 of 2 points have a NaN or infinite"),
        ("\n \n# only a comment\n", "empty"),
        ("1 2 3\n4 5 6\n", "2 point(s) without normals"),
    ],
)
def test_bad_point_text_names_the_file_line_and_count(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataError, match=r"bad\.txt") as info:
        read_point_text(path)
    assert message in str(info.value)


# --------------------------------------------------------------------------------------------------------- read_shape


def write_o3d_cube(path: Path) -> Path:
    vertices = np.array([list(map(float, line.split())) for line in CUBE_VERTICES.splitlines()])
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(np.array(CUBE_TRIANGLES, dtype=np.int32))
    )
    mesh.compute_triangle_normals()
    mesh.compute_vertex_normals()
    assert o3d.io.write_triangle_mesh(str(path), mesh)
    return path


@pytest.mark.parametrize("suffix", [".off", ".ply", ".obj", ".stl", ".OFF"])
def test_read_shape_samples_meshes(tmp_path: Path, suffix: str) -> None:
    if suffix.lower() == ".off":
        path = write(tmp_path / f"cube{suffix}", cube_off())
    else:
        path = write_o3d_cube(tmp_path / f"cube{suffix}")
    cloud = read_shape(path, 256, seed=3)
    assert cloud.shape == (256, 6) and cloud.dtype == np.float32
    assert_outward_cube_normals(cloud)
    np.testing.assert_array_equal(cloud, read_shape(path, 256, seed=3))


def test_read_shape_points_drawn_without_then_with_replacement(tmp_path: Path) -> None:
    rows = np.concatenate([sphere_points(50), sphere_points(50)], axis=1).astype(np.float32)
    files = {
        ".txt": write(tmp_path / "p.txt", "\n".join(",".join(f"{v:.7f}" for v in r) for r in rows)),
        ".xyz": write(tmp_path / "p.xyz", "\n".join(" ".join(f"{v:.7f}" for v in r) for r in rows)),
        ".csv": write(tmp_path / "p.csv", "\n".join(",".join(f"{v:.7f}" for v in r) for r in rows)),
        ".npy": tmp_path / "p.npy",
    }
    np.save(files[".npy"], rows)
    for suffix, path in files.items():
        fewer = read_shape(path, 20, seed=0)
        assert fewer.shape == (20, 6) and fewer.dtype == np.float32, suffix
        # without replacement: 20 distinct rows of the file
        assert len(np.unique(fewer, axis=0)) == 20
        assert all(np.isclose(rows, r, atol=1e-6).all(axis=1).any() for r in fewer)
        np.testing.assert_array_equal(fewer, read_shape(path, 20, seed=0))
        assert not np.array_equal(fewer, read_shape(path, 20, seed=1))
        more = read_shape(path, 80, seed=0)
        assert more.shape == (80, 6)
        np.testing.assert_allclose(more[:50], rows, atol=1e-6)  # every point kept, then repeats
        assert all(np.isclose(rows, r, atol=1e-6).all(axis=1).any() for r in more[50:])
        np.testing.assert_allclose(read_shape(path, 50, seed=0), rows, atol=1e-6)


def test_read_shape_npy_xyz_gets_normals_and_bad_arrays_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "xyz.npy", sphere_points(200))
    cloud = read_shape(tmp_path / "xyz.npy", 100, seed=0)
    assert cloud.shape == (100, 6)
    assert (np.einsum("ij,ij->i", cloud[:, 3:], cloud[:, :3]) > 0.9).all()
    np.save(tmp_path / "four.npy", np.zeros((10, 4)))
    with pytest.raises(DataError, match=r"four.npy: an array of shape \(10, 4\); expected \(M, 3\)"):
        read_shape(tmp_path / "four.npy", 10, seed=0)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="without pickles"):
        read_shape(tmp_path / "objects.npy", 10, seed=0)


def test_read_shape_refuses_unknown_extensions_missing_files_and_point_clouds_as_meshes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unsupported extension '\.vtk'.*\.off, \.ply, \.obj, \.stl.*\.npy"):
        read_shape(write(tmp_path / "shape.vtk", "x"), 10, seed=0)
    with pytest.raises(MissingPathError, match=r"gone\.off"):
        read_shape(tmp_path / "gone.off", 10, seed=0)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(sphere_points(30)))
    assert o3d.io.write_point_cloud(str(tmp_path / "cloud.ply"), cloud)
    with pytest.raises(DataError, match=r"cloud\.ply: no triangles"):
        read_shape(tmp_path / "cloud.ply", 10, seed=0)
    flat = "OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n"
    with pytest.raises(DataError, match=r"flat\.off: degenerate mesh"):
        read_shape(write(tmp_path / "flat.off", flat), 10, seed=0)


# ------------------------------------------------------------------------------------------------------ the layouts


def make_off_root(root: Path) -> Path:
    for class_name, split, number in [
        ("night_stand", "train", 1),
        ("night_stand", "train", 2),
        ("night_stand", "test", 201),
        ("airplane", "train", 1),
        ("airplane", "test", 627),
        ("bed", "test", 516),
    ]:
        write(root / class_name / split / f"{class_name}_{number:04d}.off", cube_off())
    write(root / "README.txt", "not a class")
    (root / "._airplane").mkdir()  # macOS archive debris is skipped
    return root


def test_scan_off_layout(tmp_path: Path) -> None:
    root = make_off_root(tmp_path / "ModelNet40")
    index = scan_modelnet_off(root)
    assert isinstance(index, ModelNetIndex)
    assert index.layout == "off" and index.root == root
    assert index.classes == ["airplane", "bed", "night_stand"]
    got = [(s.split, s.class_name, s.shape_id, s.label) for s in index.shapes]
    assert got == [
        ("test", "airplane", "airplane_0627", 0),
        ("test", "bed", "bed_0516", 1),
        ("test", "night_stand", "night_stand_0201", 2),
        ("train", "airplane", "airplane_0001", 0),
        ("train", "night_stand", "night_stand_0001", 2),
        ("train", "night_stand", "night_stand_0002", 2),
    ]
    first = index.shapes[0]
    assert first == ShapeEntry("airplane_0627", 0, "airplane", "test", root / "airplane" / "test" / "airplane_0627.off")
    assert [s.shape_id for s in index.split("train")] == ["airplane_0001", "night_stand_0001", "night_stand_0002"]
    assert read_off(first.path)[1].shape == (12, 3)
    assert detect_layout(root) == "off"
    assert scan_modelnet(root) == index


def test_off_layout_errors(tmp_path: Path) -> None:
    root = make_off_root(tmp_path / "m")
    (root / "chair" / "train").mkdir(parents=True)
    (root / "chair" / "test").mkdir()
    write(root / "chair" / "test" / "notes.txt", "no meshes")
    with pytest.raises(DataError, match=r"m/chair: class folder without any \.off file"):
        scan_modelnet_off(root)
    (tmp_path / "flat").mkdir()
    write(tmp_path / "flat" / "x.off", cube_off())
    with pytest.raises(DataError, match=r"no class folder .*<class>/\{train,test\}/<class>_NNNN.off .*found: x.off"):
        scan_modelnet_off(tmp_path / "flat")
    for scan in (scan_modelnet_off, scan_modelnet_resampled, scan_modelnet, detect_layout):
        with pytest.raises(MissingPathError, match="absent: ModelNet root does not exist"):
            scan(tmp_path / "absent")


def make_resampled_root(root: Path, variant: str = "modelnet40", classes: tuple[str, ...] = ()) -> Path:
    classes = classes or ("airplane", "night_stand", "bathtub")  # the file's order, not alphabetical
    train = ["airplane_0001", "night_stand_0001", "night_stand_0002", "bathtub_0010"]
    test = ["airplane_0700", "bathtub_0107"]
    write(root / f"{variant}_shape_names.txt", "\n".join(classes) + "\n")
    write(root / f"{variant}_train.txt", "\n".join(train) + "\n")
    write(root / f"{variant}_test.txt", "\n".join(test) + "\n\n")
    row = "0.1,0.2,0.3,0.0,0.0,1.0\n"
    for shape_id in train + test:
        write(root / shape_id.rsplit("_", 1)[0] / f"{shape_id}.txt", row * 4)
    return root


@pytest.mark.parametrize("variant", ["modelnet40", "modelnet10"])
def test_scan_resampled_layout(tmp_path: Path, variant: str) -> None:
    root = make_resampled_root(tmp_path / "modelnet40_normal_resampled", variant)
    index = scan_modelnet_resampled(root)
    assert index.layout == "resampled"
    assert index.classes == ["airplane", "night_stand", "bathtub"]
    got = [(s.split, s.shape_id, s.class_name, s.label) for s in index.shapes]
    assert got == [
        ("test", "airplane_0700", "airplane", 0),
        ("test", "bathtub_0107", "bathtub", 2),
        ("train", "airplane_0001", "airplane", 0),
        ("train", "bathtub_0010", "bathtub", 2),
        ("train", "night_stand_0001", "night_stand", 1),
        ("train", "night_stand_0002", "night_stand", 1),
    ]
    entry = index.split("train")[-1]
    assert entry.path == root / "night_stand" / "night_stand_0002.txt"
    assert read_point_text(entry.path).shape == (4, 6)
    assert detect_layout(root) == "resampled"
    assert scan_modelnet(root) == index


def test_resampled_folder_with_both_variants(tmp_path: Path) -> None:
    root = make_resampled_root(tmp_path / "r", "modelnet40", ("airplane", "night_stand", "bathtub", "cup"))
    make_resampled_root(root, "modelnet10", ("bathtub", "night_stand", "airplane"))
    assert scan_modelnet(root).classes == ["airplane", "night_stand", "bathtub", "cup"]
    ten = scan_modelnet(root, variant="modelnet10")
    assert ten.classes == ["bathtub", "night_stand", "airplane"]
    assert {s.shape_id: s.label for s in ten.shapes}["airplane_0001"] == 2
    with pytest.raises(DataError, match="variant 'modelnet20'"):
        scan_modelnet_resampled(root, variant="modelnet20")


def test_resampled_layout_errors(tmp_path: Path) -> None:
    root = make_resampled_root(tmp_path / "r")
    (root / "bathtub" / "bathtub_0107.txt").unlink()
    (root / "night_stand" / "night_stand_0002.txt").unlink()
    with pytest.raises(DataError, match="2 shape file") as info:
        scan_modelnet_resampled(root)
    assert str(root / "bathtub" / "bathtub_0107.txt") in str(info.value)
    assert str(root / "night_stand" / "night_stand_0002.txt") in str(info.value)

    root = make_resampled_root(tmp_path / "unknown")
    write(root / "modelnet40_test.txt", "airplane_0700\nairplanes_0001\n")
    expected = r"modelnet40_test\.txt: line 2: 'airplanes_0001' is of class 'airplanes'.*did you mean 'airplane'"
    with pytest.raises(DataError, match=expected):
        scan_modelnet_resampled(root)

    write(root / "modelnet40_test.txt", "airplane_0001\n")
    with pytest.raises(DataError, match="'airplane_0001' is listed again"):
        scan_modelnet_resampled(root)
    write(root / "modelnet40_test.txt", "airplane\n")
    with pytest.raises(DataError, match="expected a shape id <class>_NNNN"):
        scan_modelnet_resampled(root)

    root = make_resampled_root(tmp_path / "nolist")
    (root / "modelnet40_train.txt").unlink()
    with pytest.raises(DataError, match=r"modelnet40_train\.txt: the train list is missing"):
        scan_modelnet_resampled(root)

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"neither modelnet40_shape_names\.txt nor modelnet10_shape_names\.txt"):
        scan_modelnet_resampled(tmp_path / "empty")
    with pytest.raises(DataError, match="no class folder"):
        scan_modelnet(tmp_path / "empty")
