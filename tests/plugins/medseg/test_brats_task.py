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


class TinySegNet(torch.nn.Module):
    """A network of the user's own in the pipeline's model place (``pipe.model = TinySegNet``): two convolutions.

    Shapes: (N, C, X, Y, Z) -> (N, n_outputs, X, Y, Z) region logits."""

    def __init__(self, spec: sciconv.DataSpec, width: int = 2) -> None:
        super().__init__()
        self.width = width
        self.body = torch.nn.Sequential(
            torch.nn.Conv3d(spec.input_shape[0], width, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv3d(width, spec.n_outputs, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class WrongRegions(TinySegNet):
    """Two output channels where the task needs the three regions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[:, :2]


def test_a_network_of_the_users_own_is_named_for_what_it_is(tmp_path: Path, tiny_run: Path) -> None:
    """``pipe.model = TinySegNet``: the report's rows, protocol and plot caption and the log name TinySegNet and its
    own model.params (no Swin UNETR row of this run, none of its settings); the registered model's report keeps
    "Swin UNETR (this run, ...)"; predict with ``model=TinySegNet`` reproduces the run's test metrics; a network
    with the wrong number of outputs is refused before training."""
    from sciconv_medseg.plugin import TINY_SWIN_UNETR

    assert "| Swin UNETR (this run, test) |" in (tiny_run / "report.md").read_text()

    pipe = sciconv.load_pipeline("medseg-swin-unetr", TINY_SWIN_UNETR)
    pipe.model = TinySegNet
    pipe.config.model.params = {"width": 3}
    logged: list[str] = []
    result = pipe.run(run_dir=tmp_path / "run", log=logged.append)
    report = (result.run_dir / "report.md").read_text()
    assert "| TinySegNet (the pipeline's model, this run, test) |" in report
    assert "| TinySegNet (the pipeline's model, this run, validation) |" in report
    assert "Swin UNETR (this run" not in report and "feature size" not in report and "depths" not in report
    assert "built as `TinySegNet(spec, width=3)` from `model.params`" in report
    assert "predicted by TinySegNet (the pipeline's model) (dashed)" in report
    assert any(line.startswith("trained TinySegNet (the pipeline's model) for 1 epochs") for line in logged)
    assert not any("Swin UNETR" in line for line in logged)
    assert (result.run_dir / "trained" / "swin_unetr.safetensors").is_file()  # the internal name stays

    logged.clear()
    out = tmp_path / "predicted"
    prediction = sciconv.load_run(result.run_dir).predict(split="test", out=out, model=TinySegNet, log=logged.append)
    assert prediction.metrics == {k: result.metrics[k] for k in prediction.metrics}
    assert {"dice_tc", "dice_wt", "dice_et", "hd95_tc", "hd95_wt", "hd95_et", "dice_mean"} <= set(prediction.metrics)
    assert any(line.startswith("applying TinySegNet (the pipeline's model)") for line in logged)

    pipe.model = WrongRegions
    with pytest.raises(ConfigError, match=r"model WrongRegions \(the pipeline's model\) must map crops .* it returned"):
        pipe.run(run_dir=tmp_path / "wrong", log=logged.append)
    assert not (tmp_path / "wrong" / "checkpoints").exists()


def test_the_protocol_lists_the_simulators_settings_as_unused_for_a_folder_of_cases() -> None:
    """With ``dataset.params.root`` the simulator's settings (still in the pipeline's dataset.params) are named as
    not used, and the published row is not called a comparison with simulated volumes; simulated data: neither."""
    from types import SimpleNamespace

    from sciconv.spec import DataSpec

    task = BratsSegmentationTask(roi_size=64)
    spec = DataSpec(input_shape=(4, 48, 48, 48), n_outputs=3, task_type="segmentation", extra={"spacing_mm": [4.0] * 3})
    fit = SimpleNamespace(history=[{}], model=torch.nn.Linear(1, 1))
    config = sciconv.load_pipeline("medseg-swin-unetr").config
    ctx = SimpleNamespace(config=config, model_params={})
    simulated = SimpleNamespace(train=[0] * 3, val=[0], test=[0], spec=spec, info={"source": "simulated"})
    text = task._protocol(ctx, simulated, fit, 1.0)
    assert "were not used" not in text and "numbers on simulated volumes are not comparable" in text

    config.dataset.params["root"] = "/data/my_brats"
    folder = SimpleNamespace(train=[0] * 3, val=[0], test=[0], spec=spec, info={"source": "/data/my_brats"})
    text = task._protocol(ctx, folder, fit, 1.0)
    assert "(the folder `/data/my_brats`)" in text and "volumes 48x48x48 at 4, 4, 4 mm" in text
    assert "(`n_cases=16`, `shape=[64, 64, 64]`, `spacing_mm=3.0`, `seed=0`) apply to simulated data only" in text
    assert "simulated volumes" not in text
