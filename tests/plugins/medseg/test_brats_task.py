"""The Swin UNETR task: training crops, BraTS scoring conventions, bad parameters, and a run end to end (the model
factory's tests are in models/test_medseg_swin_unetr.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

import sciconv
from sciconv.errors import ConfigError
from sciconv_medseg.brats_io import ET_LABEL, to_regions
from sciconv_medseg.brats_task import (
    BRATS_MAX_HD95_MM,
    BratsSegmentationTask,
    TrainingCrops,
    region_scores,
    regions_to_labels,
)


def _cube(shape: tuple[int, int, int], lo: tuple[int, int, int], size: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[lo[0] : lo[0] + size, lo[1] : lo[1] + size, lo[2] : lo[2] + size] = True
    return mask


def test_region_scores_follow_the_brats_conventions() -> None:
    shape = (20, 20, 20)
    ref = np.stack([_cube(shape, (5, 5, 5), 6), _cube(shape, (4, 4, 4), 8), np.zeros(shape, bool)])
    perfect = region_scores(ref, ref, (1.0, 1.0, 1.0))
    assert perfect["dice_tc"] == perfect["dice_wt"] == 1.0 and perfect["hd95_tc"] == perfect["hd95_wt"] == 0.0
    # ET absent from both: Dice 1, HD95 0 (BraTS); a false ET: Dice 0 and the challenge's maximal HD95
    assert perfect["dice_et"] == 1.0 and perfect["hd95_et"] == 0.0
    pred = ref.copy()
    pred[2] = _cube(shape, (6, 6, 6), 2)
    pred[0] = np.zeros(shape, bool)  # missed TC
    pred[1] = np.roll(ref[1], 2, axis=0)  # WT shifted by 2 voxels of 1.5 mm
    scores = region_scores(pred, ref, (1.5, 1.0, 1.0))
    assert scores["dice_et"] == 0.0 and scores["hd95_et"] == BRATS_MAX_HD95_MM
    assert scores["dice_tc"] == 0.0 and scores["hd95_tc"] == BRATS_MAX_HD95_MM
    assert scores["dice_wt"] == pytest.approx(2 * 6 / 16)
    assert scores["hd95_wt"] == pytest.approx(3.0)


@pytest.mark.parametrize("convention", ["2021", "2023"])
def test_regions_to_labels_inverts_to_regions(convention: str) -> None:
    rng = np.random.default_rng(0)
    label = rng.choice(np.array([0, 1, 2, ET_LABEL[convention]]), size=(6, 5, 4)).astype(np.uint8)
    assert np.array_equal(regions_to_labels(to_regions(label, convention), convention), label)


def test_training_crops_keep_image_and_label_aligned_and_are_seeded() -> None:
    shape = (40, 72, 40)
    wt = _cube(shape, (10, 30, 12), 12)
    image = np.where(wt, 2.0, 1.0)[None].repeat(4, axis=0).astype(np.float32)
    image[:, :2] = 0.0  # background outside the "brain": cropped away, excluded from the normalisation
    regions = np.stack([wt, wt, wt]).astype(np.float32)
    cases = [(torch.from_numpy(image), torch.from_numpy(regions))]
    crops = TrainingCrops(cases, roi_size=32, crops_per_case=3, seed=5)
    assert len(crops) == 3
    again = TrainingCrops(cases, roi_size=32, crops_per_case=3, seed=5)
    for k in range(3):
        x, y = crops[k]
        assert type(x) is torch.Tensor and x.shape == (4, 32, 32, 32) and y.shape == (3, 32, 32, 32)
        # intensity scale/shift are affine per channel: the tumour stays the brightest set, exactly where WT is
        assert torch.equal(x[0] > x[0].mean() + 1e-3, y[1] > 0.5) or not bool(y[1].any())
        x2, y2 = again[k]
        assert torch.equal(x, x2) and torch.equal(y, y2)


def test_a_roi_that_is_not_a_multiple_of_32_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"roi_size: Swin UNETR needs a multiple of 32"):
        BratsSegmentationTask(roi_size=96 + 16).validate()
    with pytest.raises(ConfigError, match=r"task\.params\.roi_size: Swin UNETR needs a multiple of 32"):
        sciconv.load_pipeline("medseg-swin-unetr", {"task.params.roi_size": 80})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"roi_size": 48}, r"task\.params\.roi_size: expected an integer >= 64"),
        ({"overlap": 1.0}, r"task\.params\.overlap: expected a number >= 0\.0 and < 1\.0"),
        ({"threshold": 0}, r"task\.params\.threshold: expected a number > 0\.0 and < 1\.0"),
        ({"blend": "max"}, r"task\.params\.blend: .*'constant' or 'gaussian'"),
        ({"crops_per_case": 0}, r"task\.params\.crops_per_case: expected an integer >= 1"),
        ({"sw_batch_size": 0}, r"task\.params\.sw_batch_size: expected an integer >= 1"),
        ({"n_overlays": -1}, r"task\.params\.n_overlays: expected an integer >= 0"),
        ({"augment": "yes"}, r"task\.params\.augment"),
    ],
)
def test_bad_task_parameters_are_refused_by_the_pipeline(params: dict[str, object], message: str) -> None:
    overrides = {f"task.params.{key}": value for key, value in params.items()}
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("medseg-swin-unetr", overrides)


TINY = {
    "dataset.params.n_cases": 4,
    "dataset.params.val_fraction": 0.25,
    "dataset.params.test_fraction": 0.25,
    "train.epochs": 1,
    "task.params.n_overlays": 1,
    "train.progress": False,
    "train.scheduler.name": "cosine",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("swin") / "run"
    sciconv.run("medseg-swin-unetr", overrides=TINY, run_dir=run_dir)
    return run_dir


def test_the_pipeline_writes_brats_metrics_predictions_and_overlays(tiny_run: Path) -> None:
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    for key in ("dice_tc", "dice_wt", "dice_et", "hd95_tc", "hd95_wt", "hd95_et", "val.dice_wt", "dice_mean"):
        assert key in metrics
    for region in ("tc", "wt", "et"):
        assert 0.0 <= metrics[f"dice_{region}"] <= 1.0
        assert 0.0 <= metrics[f"hd95_{region}"] <= BRATS_MAX_HD95_MM
    assert metrics["n_test"] == 1
    rows = list(csv.DictReader((tiny_run / "per_case.csv").open()))
    assert [r["split"] for r in rows] == ["test", "val"]
    assert float(rows[0]["dice_wt"]) == pytest.approx(metrics["dice_wt"], abs=1e-5)
    (pred,) = list((tiny_run / "predictions").glob("*.nii.gz"))
    assert pred.name == f"{rows[0]['case']}.nii.gz"
    labels = np.asarray(nib.load(pred).dataobj)
    assert labels.shape == (64, 64, 64) and set(np.unique(labels).tolist()) <= {0, 1, 2, 4}
    assert (tiny_run / "plots" / "overlays.png").is_file()
    report = (tiny_run / "report.md").read_text()
    assert "Hatamizadeh" in report and "published" in report and "overlays.png" in report
    assert "cosine (to 0) learning rate" in report


def test_scores_match_a_rescoring_of_the_written_prediction(tiny_run: Path) -> None:
    from sciconv_medseg.brats_datasets import BratsDataset

    rows = list(csv.DictReader((tiny_run / "per_case.csv").open()))
    bundle = BratsDataset(n_cases=4, val_fraction=0.25, test_fraction=0.25).load()
    assert bundle.test.case_ids == [rows[0]["case"]]
    labels = np.asarray(nib.load(tiny_run / "predictions" / f"{rows[0]['case']}.nii.gz").dataobj)
    scores = region_scores(to_regions(labels, "2021"), bundle.test[0][1].numpy() > 0.5, (3.0, 3.0, 3.0))
    for key, value in scores.items():
        assert value == pytest.approx(float(rows[0][key]), rel=1e-5, abs=1e-5)
