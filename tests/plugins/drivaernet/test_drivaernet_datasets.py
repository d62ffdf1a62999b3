"""The dataset components: simulated bodies read back through the real reader, a DrivAerNet folder, point sampling
and its cache, padding, folders without split lists or coefficients."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from sciconv.errors import DataError
from sciconv_drivaernet.car_body_simulator import simulate_drivaernet
from sciconv_drivaernet.datasets import DrivAerNetDataset, SimulatedDrivAerNetDataset


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drivaernet-data") / "DrivAerNet"
    simulate_drivaernet(root, n_designs=15, seed=4)
    return root


def _dataset(root: Path, tmp_path: Path, **params: object) -> DrivAerNetDataset:
    return DrivAerNetDataset(root=str(root), points_cache_dir=str(tmp_path / "points"), **params)  # type: ignore[arg-type]


def test_a_folder_reads_into_splits_points_and_parameters(folder: Path, tmp_path: Path) -> None:
    bundle = _dataset(folder, tmp_path, n_points=256, resamples=2).load()
    info = bundle.info
    n = len(info["designs"])
    assert n == 15 and info["labelled"] and info["kind"] == "folder" and info["release"] == "plus"
    assert info["points"].shape == (15, 2, 256, 3) and info["points"].dtype == np.float32
    sizes = {name: len(info["split_index"][name]) for name in ("train", "val", "test")}
    assert sum(sizes.values()) == n and all(v > 0 for v in sizes.values())
    assert len(bundle.train) == sizes["train"] and len(bundle.test) == sizes["test"]
    x, y = bundle.train[0]
    assert x.shape == (3, 256) and y.shape == (1,) and 0.15 < float(y) < 0.45
    first = info["split_index"]["train"][0]
    assert np.allclose(x.numpy().T, info["points"][first, 0])
    assert not np.allclose(info["points"][:, 0], info["points"][:, 1])  # independent draws
    assert bundle.spec.input_shape == (3, 256) and bundle.spec.task_type == "regression"
    assert info["parameters"].shape == (15, len(info["parameter_names"])) and "A_Car_Length" in info["parameter_names"]
    assert {d["family"] for d in info["designs"]} <= {"fastback", "notchback", "estateback"}
    # each point is one of the mesh's vertices (the official sampling)
    from sciconv_drivaernet.drivaernet_io import read_stl

    vertices, _ = read_stl(info["designs"][0]["path"])
    distances = np.linalg.norm(info["points"][0, 0][:, None, :] - vertices[None, :, :].astype(np.float32), axis=2)
    assert distances.min(axis=1).max() < 1e-5


def test_points_are_cached_and_reused(folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    first = _dataset(folder, tmp_path, n_points=128).load().info["points"]
    second = _dataset(folder, tmp_path, n_points=128).load().info["points"]
    assert np.array_equal(first, second)
    assert len(list((tmp_path / "points").glob("drivaernet-points-*.npz"))) == 1
    surface = _dataset(folder, tmp_path, n_points=128, sampling="surface").load().info["points"]
    assert not np.array_equal(first, surface)
    assert len(list((tmp_path / "points").glob("drivaernet-points-*.npz"))) == 2


def test_fewer_vertices_than_points_is_padded_with_a_warning_or_refused(folder: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"fewer vertices than the 200000 points requested and were zero-padded"):
        info = _dataset(folder, tmp_path, n_points=200_000).load().info
    assert info["sampling"]["n_padded"] == 15
    assert (info["points"][0, 0, info["designs"][0]["n_real_points"] :] == 0).all()
    with pytest.raises(DataError, match=r"\.stl: the mesh has \d+ vertices, fewer than the 200000"):
        _dataset(folder, tmp_path, n_points=200_000, pad=False).load()


def test_a_folder_without_split_lists_gets_a_seeded_split(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "train_val_test_splits")
    a = _dataset(copy, tmp_path, n_points=64).load().info
    b = _dataset(copy, tmp_path, n_points=64).load().info
    assert "seeded 70 / 15 / 15" in a["split_source"]
    assert all(np.array_equal(a["split_index"][s], b["split_index"][s]) for s in ("train", "val", "test"))


def test_a_folder_of_new_meshes_without_coefficients_is_unlabelled(folder: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    new.mkdir()
    for stl in sorted(folder.rglob("*.stl"))[:2]:
        shutil.copy(stl, new / stl.name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bundle = _dataset(new, tmp_path, n_points=64).load()
    info = bundle.info
    assert not info["labelled"] and np.isnan(info["cd"]).all() and info["parameters"] is None
    assert bundle.train is None and len(bundle.test) == 2


def test_a_corrupt_mesh_names_its_file(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "corrupt"
    shutil.copytree(folder, copy)
    victim = sorted(copy.rglob("*.stl"))[3]
    victim.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(DataError, match=victim.name):
        _dataset(copy, tmp_path, n_points=64).load()


def test_the_simulated_dataset_is_written_once_and_read_with_the_real_reader(tmp_path: Path) -> None:
    params = {"n_designs": 12, "seed": 2, "n_points": 64, "cache_dir": str(tmp_path / "sim")}
    bundle = SimulatedDrivAerNetDataset(**params, points_cache_dir=str(tmp_path / "points")).load()  # type: ignore[arg-type]
    info = bundle.info
    assert info["kind"] == "simulated" and "proxy" in info["proxy_note"].lower()
    assert len(list((tmp_path / "sim").iterdir())) == 1
    again = SimulatedDrivAerNetDataset(**params, points_cache_dir=str(tmp_path / "points")).load()  # type: ignore[arg-type]
    assert np.array_equal(again.info["cd"], info["cd"])
    assert len(list((tmp_path / "sim").iterdir())) == 1
