"""The dataset components: the simulator's folder read back with the real reader, both ModelNet layouts, the
held-out validation split, unlabelled folders, cached points, bad folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_e3dsnn.datasets import ModelNetDataset, SimulatedShapesDataset
from sciconv_e3dsnn.shape_simulator import write_modelnet

CLASSES = ["table", "lamp", "bowl"]


@pytest.fixture(scope="module")
def off_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_modelnet(tmp_path_factory.mktemp("mn") / "ModelNet", CLASSES, n_train=5, n_test=2, seed=4)


def _resampled(root: Path, rng: np.random.Generator) -> Path:
    """A tiny folder in the resampled text layout (what modelnet40_normal_resampled/ holds)."""
    root.mkdir(parents=True)
    (root / "modelnet10_shape_names.txt").write_text("chair\nnight_stand\n")
    ids = {
        "train": ["chair_0001", "chair_0002", "night_stand_0001", "night_stand_0002"],
        "test": ["chair_0003", "night_stand_0003"],
    }
    for split, names in ids.items():
        (root / f"modelnet10_{split}.txt").write_text("\n".join(names) + "\n")
        for name in names:
            folder = root / name.rsplit("_", 1)[0]
            folder.mkdir(exist_ok=True)
            xyz = rng.normal(size=(60, 3))
            normals = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
            np.savetxt(folder / f"{name}.txt", np.hstack((xyz, normals)), delimiter=",", fmt="%.6f")
    return root


def test_simulated_shapes_are_read_back_in_the_modelnet_layout(tmp_path: Path) -> None:
    dataset = SimulatedShapesDataset(
        classes=CLASSES,
        n_train=5,
        n_test=2,
        n_points=64,
        cache_dir=str(tmp_path / "sim"),
        points_cache_dir=str(tmp_path / "pts"),
        val_fraction=0.2,
    )
    bundle = dataset.load()
    info = bundle.info
    assert info["layout"] == "off" and info["kind"] == "simulated" and info["classes"] == sorted(CLASSES)
    assert (
        bundle.spec.input_shape == (64, 6)
        and bundle.spec.n_outputs == 3
        and bundle.spec.classes == tuple(sorted(CLASSES))
    )
    sizes = {k: len(v) for k, v in info["split_index"].items()}
    assert sizes == {"train": 12, "val": 3, "test": 6}
    val_labels = info["labels"][info["split_index"]["val"]]
    assert sorted(val_labels.tolist()) == [0, 1, 2]  # stratified
    assert all(info["shapes"][i]["split"] == "train" for i in info["split_index"]["val"])  # held out of train
    points = info["points"]
    np.testing.assert_allclose(np.linalg.norm(points[..., :3], axis=2).max(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(points[..., 3:], axis=2), 1.0, rtol=1e-4)
    x, y = bundle.train[0]
    assert tuple(x.shape) == (64, 6) and int(y) in (0, 1, 2)
    again = dataset.load()  # cached points: identical
    np.testing.assert_array_equal(again.info["points"], points)


def test_both_layouts_and_modelnet10(off_folder: Path, tmp_path: Path) -> None:
    off = ModelNetDataset(root=str(off_folder), n_points=32, points_cache_dir=str(tmp_path)).load()
    assert off.info["layout"] == "off" and len(off.info["split_index"]["test"]) == 6
    text = _resampled(tmp_path / "modelnet_resampled", np.random.default_rng(0))
    res = ModelNetDataset(root=str(text), n_points=40, val_fraction=0.0, points_cache_dir=str(tmp_path)).load()
    assert res.info["layout"] == "resampled" and res.info["classes"] == ["chair", "night_stand"]
    assert len(res.info["split_index"]["val"]) == 0 and len(res.info["split_index"]["train"]) == 4
    test_ids = [res.info["shapes"][i]["shape_id"] for i in res.info["split_index"]["test"]]
    assert sorted(test_ids) == ["chair_0003", "night_stand_0003"]
    # the real folder holds the ModelNet40 and the ModelNet10 lists side by side: variant picks
    (text / "modelnet40_shape_names.txt").write_text("chair\n")
    (text / "modelnet40_train.txt").write_text("chair_0001\nchair_0002\n")
    (text / "modelnet40_test.txt").write_text("chair_0003\n")
    forty = ModelNetDataset(root=str(text), n_points=40, val_fraction=0.0, points_cache_dir=str(tmp_path)).load()
    assert forty.info["classes"] == ["chair"] and len(forty.info["labels"]) == 3
    ten = ModelNetDataset(
        root=str(text), n_points=40, val_fraction=0.0, variant="modelnet10", points_cache_dir=str(tmp_path)
    ).load()
    assert ten.info["classes"] == ["chair", "night_stand"] and len(ten.info["labels"]) == 6


def test_a_folder_of_loose_shape_files_is_unlabelled(off_folder: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    for path in sorted(off_folder.rglob("*.off"))[:2]:
        (loose / path.name).write_bytes(path.read_bytes())
    np.savetxt(loose / "scan.xyz", np.random.default_rng(1).normal(size=(50, 3)), fmt="%.5f")
    bundle = SimulatedShapesDataset(root=str(loose), n_points=32, points_cache_dir=str(tmp_path)).load()
    info = bundle.info
    assert not info["labelled"] and info["layout"] == "files" and info["classes"] == []
    assert len(info["split_index"]["test"]) == 3 and (info["labels"] == -1).all()


def test_bad_folders_and_parameters(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.params\.root"):
        ModelNetDataset().load()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="neither a ModelNet folder"):
        ModelNetDataset(root=str(empty)).load()
    with pytest.raises(ConfigError, match="unknown"):
        SimulatedShapesDataset(classes=["spaceship"]).load()
    broken = tmp_path / "broken"
    (broken / "table" / "train").mkdir(parents=True)
    (broken / "table" / "train" / "table_0001.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    with pytest.raises(DataError, match=r"table_0001\.off"):
        ModelNetDataset(root=str(broken), points_cache_dir=str(tmp_path)).load()
