"""The chest anatomy task: mask scoring (Dice, Hausdorff in stored pixels, invalid masks), bad parameters, and the
whole pipeline end to end on a tiny simulated set (the UNet factory's test is in models/test_medseg_unet.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import sciconv
from sciconv.errors import ConfigError
from sciconv_medseg.chest_landmarks_io import landmarks_to_masks
from sciconv_medseg.chest_simulator import simulate_chest_case
from sciconv_medseg.chest_task import (
    ChestAnatomyTask,
    crossed_rings,
    hd95,
    rings_to_masks,
    score_masks,
)

TINY: dict[str, Any] = {
    "dataset.params.n_train": 6,
    "dataset.params.n_val": 2,
    "dataset.params.n_test": 3,
    "dataset.params.image_size": 64,
    "dataset.params.sim_shape": [96, 96],
    "train.epochs": 1,
    "train.batch_size": 4,
    "task.params.unet": {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0, "epochs": 1},
    "task.params.n_overlays": 2,
    "train.progress": False,
}


def _truth(n: int = 2, size: int = 64) -> np.ndarray:
    marks = np.stack([simulate_chest_case((size, size), seed=s)[1] for s in range(n)])
    return rings_to_masks(marks, size)


def test_scores_of_the_truth_are_perfect() -> None:
    truth = _truth()
    scores = score_masks(truth, truth, np.array([[64, 64], [64, 64]]))
    assert scores["dice_lungs"] == scores["dice_heart"] == 1.0
    assert scores["hd95_lungs_px"] == scores["hd95_heart_px"] == 0.0
    assert scores["invalid_masks"] == scores["invalid_rl"] == scores["invalid_ll"] == scores["invalid_h"] == 0


def test_invalid_masks_see_holes_extra_components_and_empty_masks() -> None:
    truth = _truth(3)
    pred = truth.copy()
    ys, xs = np.nonzero(truth[0, 0])
    cy, cx = int(ys.mean()), int(xs.mean())
    pred[0, 0, cy - 2 : cy + 2, cx - 1 : cx + 1] = False  # a hole in image 0's right lung
    assert pred[0, 0, cy - 3, cx] and pred[0, 0, cy + 3, cx]
    pred[1, 2, 0:2, 0:2] = True  # an extra component of image 1's heart
    pred[1, 1] = False  # and an empty left lung
    scores = score_masks(pred, truth, np.array([[64, 64]] * 3))
    assert scores["invalid_masks"] == 2
    assert (scores["invalid_rl"], scores["invalid_ll"], scores["invalid_h"]) == (1, 1, 1)
    assert scores["per_image"]["invalid"].tolist() == [[True, False, False], [False, True, True], [False] * 3]
    assert 0.5 < scores["dice_lungs"] < 1.0 and np.isfinite(scores["hd95_heart_px"])


def test_hausdorff_is_in_stored_pixels() -> None:
    a = np.zeros((32, 32), dtype=bool)
    a[8:20, 8:20] = True
    b = np.roll(a, 2, axis=1)  # two model pixels to the right
    assert hd95(a, b, (1.0, 1.0), 95) == pytest.approx(2.0)
    assert hd95(a, b, (4.0, 3.0), None) == pytest.approx(6.0)  # columns are 3 stored pixels wide
    assert np.isnan(hd95(a, np.zeros_like(a), (1.0, 1.0), 95))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"unet": {"epochz": 3}}, r"task\.params\.unet: unknown setting 'epochz'.*epochs"),
        ({"unet": {"epochs": 0}}, r"task\.params\.unet\.epochs"),
        ({"unet": {"lr": -1.0}}, r"task\.params\.unet\.lr"),
        ({"unet": [16, 32]}, r"task\.params\.unet"),
    ],
)
def test_bad_unet_settings(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ChestAnatomyTask(**params).validate()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"kl_weight": -1}, r"task\.params\.kl_weight: expected a number >= 0"),
        ({"kl_weight": float("inf")}, r"task\.params\.kl_weight"),
        ({"baseline": "yes"}, r"task\.params\.baseline"),
        ({"augment": 1}, r"task\.params\.augment"),
        ({"unet": {"epochs": 0}}, r"task\.params\.unet\.epochs"),
        ({"unet": [16, 32]}, r"task\.params\.unet"),
        ({"hd_percentile": 120}, r"task\.params\.hd_percentile: expected a number > 0\.0 and <= 100\.0 or null"),
        ({"n_overlays": -1}, r"task\.params\.n_overlays: expected an integer >= 0"),
    ],
)
def test_bad_task_params_are_refused_by_the_pipeline(params: dict[str, Any], match: str) -> None:
    overrides = {f"task.params.{key}": value for key, value in params.items()}
    with pytest.raises(ConfigError, match=match):
        sciconv.load_pipeline("medseg-hybridgnet", overrides)


def test_pipeline_end_to_end(tmp_path: Path) -> None:
    result = sciconv.run("medseg-hybridgnet", overrides=TINY, run_dir=tmp_path / "run")
    m = json.loads((result.run_dir / "metrics.json").read_text())
    assert m["n_test"] == 3
    for model in ("hybridgnet", "unet"):
        for key in ("dice_lungs", "dice_heart", "invalid_masks"):
            assert m[f"{model}.{key}"] == m[f"{model}.occluded.{key}"]
        for condition in ("clean", "occluded", "shifted"):
            prefix = f"{model}.{condition}."
            assert 0.0 <= m[prefix + "dice_lungs"] <= 1.0 and 0.0 <= m[prefix + "dice_heart"] <= 1.0
            assert 0 <= m[prefix + "invalid_masks"] <= 3
            assert (
                m[prefix + "invalid_masks"]
                <= m[prefix + "invalid_rl"] + m[prefix + "invalid_ll"] + m[prefix + "invalid_h"]
            )
            for key in ("hd95_lungs_px", "hd95_heart_px"):  # left out when every predicted mask is empty
                assert m.get(prefix + key, 0.0) >= 0.0
    for condition in ("clean", "occluded", "shifted"):
        assert 0.0 <= m[f"hybridgnet.{condition}.landmark_error_px"] < 96 * 1.5
        assert f"unet.{condition}.landmark_error_px" not in m
        assert 0 <= m[f"hybridgnet.{condition}.crossed_rings"] <= 3
    assert "hybridgnet.landmark_error_px" in m
    assert 0.5 < m["mean_shape.dice_lungs"] <= 1.0 and m["mean_shape.invalid_masks"] == 0
    plots = result.run_dir / "plots"
    assert (plots / "overlays.png").is_file() and (plots / "training_curves.png").is_file()
    report = (result.run_dir / "report.md").read_text()
    assert "Gaggion et al., IEEE TMI 2022" in report and "Deviations from the paper" in report
    assert "overlays.png" in report and "UNet (MONAI, no post-processing), occluded" in report
    history = (result.run_dir / "history.csv").read_text()
    assert "hybridgnet" in history and "unet" in history


def test_without_baseline_and_with_a_pixel_model_as_the_pipeline_model(tmp_path: Path) -> None:
    result = sciconv.run(
        "medseg-hybridgnet",
        overrides={**TINY, "task.params.baseline": False, "task.params.n_overlays": 0, "dataset.params.image_size": 32},
        run_dir=tmp_path / "run",
    )
    assert not any(k.startswith("unet.") for k in result.metrics)
    assert not (result.run_dir / "plots" / "overlays.png").exists()
    with pytest.raises(ConfigError, match=r"medseg\.hybridgnet"):
        sciconv.run(
            "medseg-hybridgnet",
            overrides={**TINY, "model.name": "medseg.unet", "model.params": {}},
            run_dir=tmp_path / "unet",
        )


def test_masks_of_rings_match_the_reader_convention() -> None:
    _, marks = simulate_chest_case((64, 64), seed=1)
    masks = rings_to_masks(marks[None], 64)[0]
    reference = landmarks_to_masks(marks, (64, 64))
    assert (masks[0] == reference["RL"]).all() and (masks[2] == reference["H"]).all()


def test_crossed_rings_counts_images_with_a_self_crossing_ring() -> None:
    marks = np.stack([simulate_chest_case((64, 64), seed=s)[1] for s in range(3)])
    assert crossed_rings(marks) == 0
    marks[1, [3, 30]] = marks[1, [30, 3]]  # two right-lung landmarks swapped
    assert crossed_rings(marks) == 1
    masks = rings_to_masks(marks, 64)
    assert score_masks(masks, masks, np.array([[64, 64]] * 3))["invalid_rl"] == 1


def test_intensity_augmentation_changes_images_only_stays_in_range_and_is_seeded() -> None:
    from sciconv_medseg.chest_task import IntensityAugmented

    items = []
    for i in range(6):
        image, landmarks = simulate_chest_case((64, 64), seed=i)
        items.append((torch.from_numpy(image)[None], torch.from_numpy(landmarks / 64.0)))
    a, b = IntensityAugmented(items, seed=3), IntensityAugmented(items, seed=3)
    changed = 0
    for i in range(len(items)):
        x, y = a[i]
        x2, y2 = b[i]
        assert torch.equal(x, x2) and y is items[i][1] and y2 is items[i][1]
        assert x.shape == (1, 64, 64) and x.dtype == torch.float32
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        changed += not torch.equal(x, items[i][0])
    assert changed >= 4  # each of five transforms fires with p = 0.5
