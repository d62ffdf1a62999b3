"""The BraTS dataset component: simulated and folder sources, splits, lazy reading, and bad input."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import sciconv
from sciconv.errors import ConfigError, DataError
from sciconv.testing import check_dataset
from sciconv_medseg.brain_simulator import write_simulated_brats
from sciconv_medseg.brats_datasets import BratsCases, BratsDataset, spacing_of
from sciconv_medseg.brats_io import list_cases, read_case, to_regions

SHAPE = (24, 24, 24)


def test_simulated_bundle_is_conformant_and_split() -> None:
    bundle = check_dataset(BratsDataset, {"n_cases": 5, "shape": list(SHAPE), "seed": 3})
    assert bundle.spec.input_shape == (4, *SHAPE) and bundle.spec.n_outputs == 3
    assert bundle.spec.classes == ("TC", "WT", "ET") and bundle.spec.channels == ("t1", "t1ce", "t2", "flair")
    assert bundle.spec.extra["spacing_mm"] == [3.0, 3.0, 3.0]
    ids = bundle.info["case_ids"]
    assert (len(ids["train"]), len(ids["val"]), len(ids["test"])) == (3, 1, 1)
    assert len(set(ids["train"]) | set(ids["val"]) | set(ids["test"])) == 5
    image, regions = bundle.train[0]
    assert image.dtype == torch.float32 and regions.shape == (3, *SHAPE)
    assert set(torch.unique(regions).tolist()) <= {0.0, 1.0}
    # TC and ET lie inside WT
    assert bool((regions[0] <= regions[1]).all()) and bool((regions[2] <= regions[1]).all())


def test_simulated_bundle_is_deterministic_and_cache_is_reused(tmp_path: Path) -> None:
    params = {"n_cases": 4, "shape": list(SHAPE), "seed": 1, "cache_dir": str(tmp_path)}
    a = BratsDataset(**params).load()
    (folder,) = list(tmp_path.iterdir())
    assert folder.name.startswith("brats-")
    stamp = (folder / "simulation.json").stat().st_mtime_ns
    b = BratsDataset(**params, in_memory=False).load()
    assert (folder / "simulation.json").stat().st_mtime_ns == stamp
    assert a.info["case_ids"] == b.info["case_ids"]
    assert torch.equal(a.test[0][0], b.test[0][0]) and torch.equal(a.test[0][1], b.test[0][1])


def test_simulated_cases_go_to_the_default_cache_and_can_be_read_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path))
    params = {"n_cases": 3, "shape": list(SHAPE), "seed": 4}
    eager = BratsDataset(**params).load()
    (folder,) = list((tmp_path / "simulations").iterdir())
    assert folder.name.startswith("brats-") and (folder / "simulation.json").is_file()
    assert eager.train._cache is not None  # simulated cases are read into memory by default
    lazy = BratsDataset(**params, in_memory=False).load()  # reads the cases from the cache folder on access
    assert lazy.train._cache is None and lazy.info["case_ids"] == eager.info["case_ids"]
    assert all(case.modalities[0].is_relative_to(folder) for case in lazy.train.cases)
    assert torch.equal(lazy.train[0][0], eager.train[0][0]) and torch.equal(lazy.train[0][1], eager.train[0][1])
    assert list((tmp_path / "simulations").iterdir()) == [folder]


def test_folder_items_equal_the_reader(tmp_path: Path) -> None:
    write_simulated_brats(tmp_path, 4, SHAPE, seed=2, convention="2023", spacing=2.0)
    bundle = BratsDataset(root=str(tmp_path), val_fraction=0.25, test_fraction=0.25).load()
    assert bundle.spec.extra["conventions"] == ["2023"] and bundle.spec.extra["spacing_mm"] == [2.0, 2.0, 2.0]
    assert isinstance(bundle.train, BratsCases) and bundle.train._cache is None  # read lazily
    case = bundle.train.cases[0]
    image, label, affine = read_case(case)
    x, y = bundle.train[0]
    assert np.array_equal(x.numpy(), image)
    assert np.array_equal(y.numpy(), to_regions(label, "2023").astype(np.float32))
    assert np.allclose(bundle.train.affine(0), affine) and spacing_of(affine) == pytest.approx((2.0, 2.0, 2.0))


def test_split_is_seeded_and_subfolders_are_a_fixed_split(tmp_path: Path) -> None:
    write_simulated_brats(tmp_path / "all", 6, SHAPE, seed=0)
    a = BratsDataset(root=str(tmp_path / "all"), split_seed=1).load().info["case_ids"]
    b = BratsDataset(root=str(tmp_path / "all"), split_seed=1).load().info["case_ids"]
    c = BratsDataset(root=str(tmp_path / "all"), split_seed=2).load().info["case_ids"]
    assert a == b and a != c
    fixed = tmp_path / "fixed"
    for split, n in (("train", 3), ("val", 1), ("test", 2)):
        write_simulated_brats(fixed / split, n, SHAPE, seed=len(split))
    bundle = BratsDataset(root=str(fixed)).load()
    assert [len(bundle.train), len(bundle.val), len(bundle.test)] == [3, 1, 2]
    assert bundle.info["split"] == "the train/val/test sub-folders"


def test_unlabelled_cases_are_left_out_and_counted(tmp_path: Path) -> None:
    folders = write_simulated_brats(tmp_path / "a", 6, SHAPE, seed=0)
    for folder in folders[:2]:
        next(folder.glob("*_seg.nii.gz")).unlink()
    bundle = BratsDataset(root=str(tmp_path / "a"), val_fraction=0.0, test_fraction=0.3).load()
    assert bundle.info["unlabelled"] == 2 and bundle.val is None
    assert len(bundle.train) + len(bundle.test) == 4
    folders = write_simulated_brats(tmp_path / "b", 4, SHAPE, seed=0)
    for folder in folders[:2]:
        next(folder.glob("*_seg.nii.gz")).unlink()
    with pytest.raises(DataError, match=r"2 labelled case\(s\) .*at least 3 .*\(2 unlabelled"):
        BratsDataset(root=str(tmp_path / "b")).load()


def test_a_bad_case_is_rejected_before_training_from_its_headers(tmp_path: Path) -> None:
    folders = write_simulated_brats(tmp_path, 4, SHAPE, seed=0)
    flair = next(folders[2].glob("*_flair.nii.gz"))
    img = nib.load(flair)
    nib.save(nib.Nifti1Image(np.zeros((24, 24, 20), np.float32), img.affine), flair)
    with pytest.raises(DataError, match=rf"BraTS case {folders[2].name}: flair .*shape \(24, 24, 20\) but t1"):
        BratsDataset(root=str(tmp_path), val_fraction=0.25, test_fraction=0.25).load()


def test_labels_outside_the_convention_name_the_case(tmp_path: Path) -> None:
    folders = write_simulated_brats(tmp_path, 3, SHAPE, seed=0)
    seg = next(folders[0].glob("*_seg.nii.gz"))
    img = nib.load(seg)
    data = np.asarray(img.dataobj).copy()
    data[0, 0, 0] = 3  # a 2023 enhancing label in a 2021 case
    nib.save(nib.Nifti1Image(data, img.affine), seg)
    data_set = BratsDataset(root=str(tmp_path), val_fraction=0.34, test_fraction=0.33, in_memory=False).load()
    who = [c.case_id for c in list_cases(tmp_path)].index(folders[0].name)
    split = next(s for s in ("train", "val", "test") if folders[0].name in data_set.info["case_ids"][s])
    items = getattr(data_set, split)
    with pytest.raises(DataError, match=rf"BraTS case {folders[0].name}.*labels 3 .*outside the BraTS 2021 set"):
        items[items.case_ids.index(folders[0].name)]
    assert who >= 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"convention": "2019"}, r"dataset\.params\.convention"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, r"must leave cases to train on"),
        ({"simulator": {"colour": 1}}, r"dataset\.params\.simulator: unknown setting\(s\) colour"),
        ({"root": ""}, r"dataset\.params\.root: medseg\.brats reads a folder of BraTS case folders"),
    ],
)
def test_bad_parameters(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BratsDataset(**{"n_cases": 3, "shape": list(SHAPE), **params}).load()  # type: ignore[arg-type]


def test_a_missing_root_is_named_in_the_kit_s_format() -> None:
    message = r"dataset\.params\.root: /no/such/folder does not exist \(expected a folder of BraTS case folders"
    with pytest.raises(DataError, match=message):
        BratsDataset(root="/no/such/folder").load()
    with pytest.raises(DataError, match=message):
        sciconv.load_pipeline("medseg-swin-unetr", {"dataset.params.root": "/no/such/folder"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_cases": 2}, r"dataset\.params\.n_cases: expected an integer >= 3"),
        ({"shape": [64, 64]}, r"dataset\.params\.shape: .*length >= 3"),
        ({"shape": [64, 64, 8]}, r"dataset\.params\.shape: .*greater than or equal to 16"),
        ({"spacing_mm": 0}, r"dataset\.params\.spacing_mm: expected a number > 0"),
        ({"val_fraction": 1.0}, r"dataset\.params\.val_fraction: expected a number >= 0\.0 and < 1\.0"),
        ({"simulator": [1]}, r"dataset\.params\.simulator"),
    ],
)
def test_bad_parameters_are_refused_by_the_pipeline(params: dict[str, object], message: str) -> None:
    overrides = {f"dataset.params.{key}": value for key, value in params.items()}
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("medseg-swin-unetr", overrides)
