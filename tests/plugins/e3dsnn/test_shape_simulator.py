"""Tests of the labelled 3D shape simulator (``sciconv_e3dsnn.shape_simulator``): the ModelNet layout and file
names, ASCII OFF files read back (numpy and open3d), determinism per seed and stability when more shapes are
asked for, every class's meshes (finite, valid, z up, class invariants), the occlusion, and argument errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_e3dsnn.shape_simulator import (
    OCCLUSION_FRACTION,
    SCALE_RANGE,
    SHAPE_CLASSES,
    SIMULATOR_VERSION,
    occlude,
    off_text,
    simulate_shape,
    triangle_areas,
    write_modelnet,
)

CLASSES = ("cup", "stool", "table")


def read_off(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A strict reader of the simulator's ASCII OFF: header, counts, vertices, triangles, nothing else."""
    lines = path.read_text().splitlines()
    assert lines[0] == "OFF"
    n_v, n_f, n_e = (int(x) for x in lines[1].split())
    assert n_e == 0
    assert len(lines) == 2 + n_v + n_f
    vertices = np.array([[float(x) for x in line.split()] for line in lines[2 : 2 + n_v]])
    faces = np.array([[int(x) for x in line.split()] for line in lines[2 + n_v :]])
    assert vertices.shape == (n_v, 3)
    assert faces.shape == (n_f, 4)
    assert np.all(faces[:, 0] == 3)
    return vertices, faces[:, 1:]


def off_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("modelnet") / "sim"
    assert write_modelnet(root, CLASSES, n_train=3, n_test=2, seed=7) == root
    return root


def test_layout_and_file_names(small: Path) -> None:
    assert SIMULATOR_VERSION == "1"
    assert sorted(p.name for p in small.iterdir()) == list(CLASSES)
    expected = []
    for name in CLASSES:
        assert sorted(p.name for p in (small / name).iterdir()) == ["test", "train"]
        expected += [f"{name}/train/{name}_{k:04d}.off" for k in (1, 2, 3)]
        expected += [f"{name}/test/{name}_{k:04d}.off" for k in (4, 5)]
    assert off_files(small) == sorted(expected)  # no temporary files left behind either


def test_files_are_ascii_off_matching_the_simulated_meshes(small: Path) -> None:
    for name in CLASSES:
        index = SHAPE_CLASSES.index(name)
        for k, split in [(0, "train"), (4, "test")]:
            path = small / name / split / f"{name}_{k + 1:04d}.off"
            vertices, faces = read_off(path)
            v, t = simulate_shape(name, np.random.default_rng([7, index, k]))
            np.testing.assert_allclose(vertices, v, atol=6e-7)
            np.testing.assert_array_equal(faces, t)
            mesh = o3d.io.read_triangle_mesh(str(path))
            assert len(mesh.vertices) == len(vertices)
            assert len(mesh.triangles) == len(faces)
            np.testing.assert_allclose(np.asarray(mesh.vertices), vertices, atol=1e-9)


def test_same_seed_same_bytes_other_seed_other_bytes(small: Path, tmp_path: Path) -> None:
    again = write_modelnet(tmp_path / "again", CLASSES, n_train=3, n_test=2, seed=7)
    other = write_modelnet(tmp_path / "other", CLASSES, n_train=3, n_test=2, seed=8)
    for rel in off_files(small):
        assert (again / rel).read_bytes() == (small / rel).read_bytes()
        assert (other / rel).read_bytes() != (small / rel).read_bytes()
    # writing the same simulation into the same folder again is allowed and changes nothing
    before = {rel: (again / rel).read_bytes() for rel in off_files(again)}
    write_modelnet(again, CLASSES, n_train=3, n_test=2, seed=7)
    assert {rel: (again / rel).read_bytes() for rel in off_files(again)} == before


def test_more_shapes_keep_the_earlier_ones(tmp_path: Path) -> None:
    few = write_modelnet(tmp_path / "few", ["bowl", "lamp"], n_train=2, n_test=1, seed=3)
    more = write_modelnet(tmp_path / "more", ["lamp", "bowl", "chair"], n_train=3, n_test=2, seed=3)
    for name in ("bowl", "lamp"):
        for k in (1, 2):
            rel = f"{name}/train/{name}_{k:04d}.off"
            assert (few / rel).read_bytes() == (more / rel).read_bytes()
        # id 0003 was a test shape and is now a training shape: the same shape
        assert (few / f"{name}/test/{name}_0003.off").read_bytes() == (
            more / f"{name}/train/{name}_0003.off"
        ).read_bytes()
    assert len(off_files(more)) == 15


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_every_class_builds_valid_z_up_meshes(name: str) -> None:
    index = SHAPE_CLASSES.index(name)
    extents = []
    for k in range(6):
        v, t = simulate_shape(name, np.random.default_rng([11, index, k]), occlusion_probability=0.0)
        assert v.dtype == np.float64 and v.ndim == 2 and v.shape[1] == 3
        assert t.dtype == np.int64 and t.ndim == 2 and t.shape[1] == 3
        assert 100 <= len(t) <= 10_000
        assert np.isfinite(v).all()
        assert t.min() >= 0 and t.max() < len(v)
        assert np.array_equal(np.unique(t), np.arange(len(v)))  # every vertex used
        assert np.all(triangle_areas(v, t) > 0)
        lo, hi = v.min(axis=0), v.max(axis=0)
        np.testing.assert_allclose(lo + hi, 0.0, atol=1e-12)  # centred on its bounding box
        extents.append(hi - lo)
        height, width = hi[2] - lo[2], max(hi[0] - lo[0], hi[1] - lo[1])
        if name == "lamp":
            assert height > 1.05 * width
        elif name == "bowl":
            assert height < 0.9 * min(hi[0] - lo[0], hi[1] - lo[1])
        elif name == "airplane":
            assert height < 0.6 * width
    # the shapes vary (structure, scale, rotation): no two have the same bounding box
    assert len({tuple(np.round(e, 6)) for e in extents}) == len(extents)


def test_seeded_scale_and_rotation_about_z() -> None:
    """One seed gives one shape; across seeds a bed's footprint turns to every direction about z while z stays
    the up axis (a bed is long and low at any scale), and its proportions vary with the anisotropic scale."""
    a = simulate_shape("bottle", np.random.default_rng(5))
    b = simulate_shape("bottle", np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    ratios, angles = [], []
    for k in range(16):
        v, _ = simulate_shape("bed", np.random.default_rng([0, k]), occlusion_probability=0.0)
        ratios.append(np.ptp(v[:, 2]) / np.ptp(v[:, :2], axis=0).max())
        xy = v[:, :2] - v[:, :2].mean(axis=0)
        axis = np.linalg.eigh(xy.T @ xy)[1][:, -1]  # the footprint's long axis
        angles.append(np.arctan2(axis[1], axis[0]) % np.pi)
    assert max(ratios) < 1.0
    assert max(ratios) / min(ratios) > 1.2
    assert len(set(np.floor(np.array(angles) / (np.pi / 4)).astype(int).tolist())) == 4
    assert SCALE_RANGE == (0.75, 1.3)


def test_occlusion_removes_a_side_in_some_shapes() -> None:
    index = SHAPE_CLASSES.index("table")
    cut = 0
    for k in range(20):
        key = [0, index, k]
        full_v, full_t = simulate_shape("table", np.random.default_rng(key), occlusion_probability=0.0)
        occ_v, occ_t = simulate_shape("table", np.random.default_rng(key), occlusion_probability=1.0)
        default_t = simulate_shape("table", np.random.default_rng(key))[1]
        assert len(default_t) in (len(full_t), len(occ_t))
        cut += len(default_t) < len(full_t)
        assert len(full_t) // 2 <= len(occ_t) < len(full_t)
        removed = 1.0 - triangle_areas(occ_v, occ_t).sum() / triangle_areas(full_v, full_t).sum()
        assert 0.0 < removed <= OCCLUSION_FRACTION[1] + 1e-9
    assert 2 <= cut <= 12  # about 30 % of the shapes


def test_occlude_cuts_beyond_a_plane() -> None:
    box = o3d.geometry.TriangleMesh.create_box(2.0, 1.0, 1.0).subdivide_midpoint(3)
    v, t = np.asarray(box.vertices), np.asarray(box.triangles)
    v2, t2 = occlude(v, t, np.array([1.0, 0.0, 0.0]), 0.2)
    assert len(t) // 2 <= len(t2) < len(t)
    assert np.array_equal(np.unique(t2), np.arange(len(v2)))
    kept = v2[t2].mean(axis=1)[:, 0]
    assert kept.max() < 2.0 - 1e-9  # the far face x = 2 is gone
    removed = 1.0 - triangle_areas(v2, t2).sum() / triangle_areas(v, t).sum()
    assert 0.15 < removed <= 0.2
    # asking for almost everything still keeps half of the triangles
    t3 = occlude(v, t, np.array([1.0, 0.0, 0.0]), 0.99)[1]
    assert len(t3) == len(t) - len(t) // 2


def test_off_text_format() -> None:
    text = off_text(np.array([[0.0, -0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.25]]), np.array([[0, 1, 2]]))
    assert text == (
        "OFF\n3 1 0\n0.000000 0.000000 1.000000\n1.000000 0.000000 0.000000\n0.000000 1.000000 0.250000\n3 0 1 2\n"
    )


def test_bad_arguments_raise(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"unknown shape class 'chiar'.*did you mean 'chair'.*airplane, bed"):
        simulate_shape("chiar", rng)
    with pytest.raises(ValueError, match="occlusion_probability"):
        simulate_shape("cup", rng, occlusion_probability=1.5)
    bad = [
        ({"n_train": 0}, "n_train must be an integer >= 1"),
        ({"n_train": True}, "n_train must be an integer >= 1"),
        ({"n_test": -1}, "n_test must be an integer >= 0"),
        ({"n_train": 2.5}, "n_train"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"classes": ["cup", "cup"]}, "unique.*cup"),
        ({"classes": ["cup", "teapot"]}, "unknown shape class 'teapot'"),
        ({"classes": "cup"}, "sequence of class names"),
        ({"classes": []}, "at least one class"),
        ({"n_train": 9000, "n_test": 1000}, "at most 9999"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message) as info:
            write_modelnet(tmp_path / "bad", **{"classes": ["cup"], **kwargs})
        assert isinstance(info.value, ConfigError)
    assert not (tmp_path / "bad").exists()  # nothing written before the arguments are checked


def test_refuses_a_folder_holding_other_shapes(tmp_path: Path) -> None:
    root = write_modelnet(tmp_path / "sim", ["cup"], n_train=3, n_test=1)
    with pytest.raises(DataError, match=r"cup.*2 \.off files this simulation does not write"):
        write_modelnet(root, ["cup"], n_train=2, n_test=1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        write_modelnet(tmp_path / "file", ["cup"], n_train=1, n_test=0)
