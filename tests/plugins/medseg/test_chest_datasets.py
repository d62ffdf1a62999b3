"""The chest landmark dataset: conformance, the simulated and real-layout paths, splits, the occluded and shifted test
sets paired with the clean one, the resolution bookkeeping, and bad input named by case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import sciconv
from sciconv.errors import ConfigError, DataError
from sciconv.testing import check_dataset
from sciconv_medseg.chest_datasets import ChestLandmarkDataset, ChestSplit
from sciconv_medseg.chest_landmarks_io import organ_slices, write_chest_case
from sciconv_medseg.chest_simulator import simulate_chest_case

SMALL: dict[str, Any] = {"n_train": 4, "n_val": 2, "n_test": 3, "image_size": 32, "sim_shape": [64, 64]}


@pytest.fixture(scope="module")
def bundle() -> Any:
    return check_dataset(ChestLandmarkDataset, SMALL)


def _layout(root: Path, n: int, shape: tuple[int, int] = (64, 64), seed: int = 0) -> list[str]:
    ids = []
    for i in range(n):
        image, landmarks = simulate_chest_case(shape, seed=seed + i)
        write_chest_case(root, f"c{i:02d}", image, landmarks)
        ids.append(f"c{i:02d}")
    return ids


def test_simulated_bundle_conforms_and_has_paired_stress_sets(bundle: Any) -> None:
    spec = bundle.spec
    assert spec.input_shape == (1, 32, 32) and spec.n_outputs == 240 and spec.task_type == "segmentation"
    assert spec.classes == ("right lung", "left lung", "heart")
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (4, 2, 3)
    x, y = bundle.train[0]
    assert x.shape == (1, 32, 32) and y.shape == (120, 2)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert float(y.min()) > 0.0 and float(y.max()) < 1.0
    test, occluded, shifted = bundle.test, bundle.info["test_occluded"], bundle.info["test_shifted"]
    for stressed in (occluded, shifted):
        assert isinstance(stressed, ChestSplit) and stressed.case_ids == test.case_ids
        assert (stressed.landmarks == test.landmarks).all() and (stressed.sizes == test.sizes).all()
    # every occluded case differs from its clean image in a patch; the shifted ones differ everywhere a little
    for i in range(len(test)):
        diff = (occluded.images[i] - test.images[i]).abs()
        assert float(diff.max()) > 0.05 and float((diff > 1e-3).float().mean()) < 0.6
    assert float((shifted.images - test.images).abs().mean()) > 0.02
    assert bundle.info["simulated"] is True and bundle.info["shift"]["gamma"] == 1.6
    # splits are different anatomies
    assert not np.allclose(bundle.train.landmarks[0].numpy(), test.landmarks[0].numpy())


def test_simulation_is_deterministic_and_cached(tmp_path: Path, bundle: Any) -> None:
    cached = ChestLandmarkDataset(**SMALL, cache_dir=str(tmp_path)).load()
    folders = list(tmp_path.glob("chest-*"))
    assert len(folders) == 1 and (folders[0] / "simulation.json").is_file()
    stamp = (folders[0] / "simulation.json").stat().st_mtime_ns
    again = ChestLandmarkDataset(**SMALL, cache_dir=str(tmp_path)).load()
    assert (folders[0] / "simulation.json").stat().st_mtime_ns == stamp  # reused, not simulated again
    for b in (cached, again):
        assert (b.train.images == bundle.train.images).all() and (b.test.landmarks == bundle.test.landmarks).all()
        assert (b.info["test_occluded"].images == bundle.info["test_occluded"].images).all()
    other = ChestLandmarkDataset(**{**SMALL, "seed": 1}).load()
    assert not (other.train.landmarks == bundle.train.landmarks).all()


def test_real_layout_random_split_and_resolution(tmp_path: Path) -> None:
    ids = _layout(tmp_path, 10, shape=(80, 64))  # not square: H 80, W 64
    params = {"root": str(tmp_path), "image_size": 32, "test_fraction": 0.2, "val_fraction": 0.1}
    bundle = check_dataset(ChestLandmarkDataset, params)
    splits = [bundle.train.case_ids, bundle.val.case_ids, bundle.test.case_ids]
    assert [len(s) for s in splits] == [7, 1, 2]
    assert sorted(i for s in splits for i in s) == ids
    assert ChestLandmarkDataset(**params).load().test.case_ids == bundle.test.case_ids  # seeded
    assert (bundle.test.sizes == [[80, 64]] * 2).all()
    # landmarks are normalised by the stored size and map back to the stored pixels
    k = ids.index(bundle.test.case_ids[0])
    _, landmarks = simulate_chest_case((80, 64), seed=k)
    np.testing.assert_allclose(bundle.test.pixels()[0], landmarks, atol=1e-3)
    assert bundle.info["simulated"] is False and "random split" in bundle.info["split"]
    occluded, shifted = bundle.info["test_occluded"], bundle.info["test_shifted"]
    assert occluded.case_ids == shifted.case_ids == bundle.test.case_ids
    assert not (occluded.images == bundle.test.images).all() and not (shifted.images == bundle.test.images).all()
    again = ChestLandmarkDataset(**params).load().info["test_occluded"]
    assert (again.images == occluded.images).all()  # occlusions drawn with a fixed seed


def test_real_layout_random_split_follows_the_kit_s_rounding_rule(tmp_path: Path) -> None:
    from sciconv.kit import split_sizes

    ids = _layout(tmp_path / "five", 5)
    bundle = ChestLandmarkDataset(root=str(tmp_path / "five"), image_size=32).load()  # val 0.1, test 0.2
    sizes = split_sizes(5, 0.1, 0.2)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (sizes["train"], sizes["val"], sizes["test"])
    assert (sizes["train"], sizes["val"], sizes["test"]) == (3, 1, 1)
    assert sorted(bundle.train.case_ids + bundle.val.case_ids + bundle.test.case_ids) == ids
    _layout(tmp_path / "two", 2)  # one test and one validation case (max(1, round(f n))) leave none to train on
    with pytest.raises(DataError, match=r"2 case\(s\) are too few for a validation split of 1 and a test split of 1"):
        ChestLandmarkDataset(root=str(tmp_path / "two"), image_size=32).load()
    no_val = ChestLandmarkDataset(root=str(tmp_path / "two"), image_size=32, val_fraction=0.0).load()
    assert (len(no_val.train), no_val.val, len(no_val.test)) == (1, None, 1)


def test_real_layout_with_split_folders(tmp_path: Path) -> None:
    _layout(tmp_path / "Train", 3)
    _layout(tmp_path / "Val", 1, seed=10)
    _layout(tmp_path / "Test", 2, seed=20)
    bundle = ChestLandmarkDataset(root=str(tmp_path), image_size=32).load()
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (3, 1, 2)
    assert "sub-folders" in bundle.info["split"]
    (tmp_path / "Test").rename(tmp_path / "elsewhere")
    with pytest.raises(DataError, match="no test/"):
        ChestLandmarkDataset(root=str(tmp_path), image_size=32).load()


def _corrupt(tmp_path: Path, organ: str, change: Any) -> None:
    _layout(tmp_path, 5)
    path = tmp_path / "landmarks" / organ / "c03.npy"
    np.save(path, change(np.load(path)))


@pytest.mark.parametrize(
    ("organ", "change", "message"),
    [
        ("RL", lambda a: a[:43], r"case 'c03'.*right lung landmarks of shape \(43, 2\).*43 landmarks instead of 44"),
        ("H", lambda a: a.T, r"case 'c03'.*heart.*transposed"),
        ("LL", lambda a: a[np.r_[0:10, 30:40, 10:30, 40:50]], r"case 'c03'.*left lung ring crosses itself"),
        ("H", lambda a: a[::-1].copy(), r"case 'c03'.*heart ring runs counter-clockwise.*reverse order"),
    ],
    ids=["count", "transposed", "order", "orientation"],
)
def test_bad_landmarks_name_the_case_and_the_problem(tmp_path: Path, organ: str, change: Any, message: str) -> None:
    _corrupt(tmp_path, organ, change)
    with pytest.raises(DataError, match=message):
        ChestLandmarkDataset(root=str(tmp_path), image_size=32).load()


def test_bad_images_name_the_case(tmp_path: Path) -> None:
    _layout(tmp_path, 4)
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[..., 0] = 200  # a colour image: channels differ
    Image.fromarray(image).save(tmp_path / "images" / "c01.png")
    with pytest.raises(DataError, match=r"case 'c01'.*colour image"):
        ChestLandmarkDataset(root=str(tmp_path), image_size=32).load()
    Image.fromarray(np.full((64, 64), 90, np.uint8)).save(tmp_path / "images" / "c01.png")
    frames = [Image.fromarray(np.full((64, 64), v, np.uint8)) for v in (10, 20, 30)]
    (tmp_path / "images" / "c02.png").unlink()
    frames[0].save(tmp_path / "images" / "c02.tif", save_all=True, append_images=frames[1:])
    with pytest.raises(DataError, match=r"case 'c02'.*3 frames.*2-D"):
        ChestLandmarkDataset(root=str(tmp_path), image_size=32).load()


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"image_size": 40}, "image_size"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction"),
        ({"shift": "extreme"}, "shift"),
        ({"shift": {"gama": 2.0}}, "shift"),
        ({"root": " "}, "root"),
    ],
)
def test_bad_params_name_the_parameter(params: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=rf"dataset\.params\.{name}"):
        ChestLandmarkDataset(**params).validate()


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_test": "many"}, "n_test"),
        ({"image_size": 40}, "image_size"),
        ({"image_size": 16}, "image_size"),
        ({"sim_shape": [16, 64]}, "sim_shape"),
        ({"sim_shape": 64}, "sim_shape"),
        ({"occlusion": 1.5}, "occlusion"),
        ({"occlusion_size": 0}, "occlusion_size"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction"),
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"shift": "extreme"}, "shift"),
        ({"shift": {"gama": 2.0}}, "shift"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_params_are_refused_by_the_pipeline(params: dict[str, Any], name: str) -> None:
    overrides = {f"dataset.params.{key}": value for key, value in params.items()}
    with pytest.raises(ConfigError, match=rf"dataset\.params\.{name}"):
        sciconv.load_pipeline("medseg-hybridgnet", overrides)


def test_a_missing_root_is_named_in_the_kit_s_format() -> None:
    message = r"dataset\.params\.root: /nonexistent/chest does not exist \(expected a chest X-ray landmark-layout"
    with pytest.raises(DataError, match=message):
        ChestLandmarkDataset(root="/nonexistent/chest").validate()
    with pytest.raises(DataError, match=message):
        sciconv.load_pipeline("medseg-hybridgnet", {"dataset.params.root": "/nonexistent/chest"})


def test_order_checks_accept_every_simulated_case() -> None:
    from sciconv_medseg.chest_datasets import check_orientations
    from sciconv_medseg.chest_landmarks_io import check_landmark_order

    marks = [simulate_chest_case((64, 64), seed=s)[1] for s in range(20)]
    for lm in marks:
        check_landmark_order(lm, "case")
    check_orientations(marks, [str(i) for i in range(20)], "sim")
    flipped = [m.copy() for m in marks]
    s = organ_slices()["LL"]
    flipped[7][s] = flipped[7][s][::-1]
    with pytest.raises(DataError, match=r"case '7'.*left lung.*19 of 20"):
        check_orientations(flipped, [str(i) for i in range(20)], "sim")
