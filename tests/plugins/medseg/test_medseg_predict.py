"""``predict`` of the medseg tasks: a finished tiny run applied to its own test data reproduces its test metrics
exactly, applied to new data writes the field's files (NIfTI label maps; landmark CSV and PNG masks), and data the
trained model cannot take are refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import sciconv
from sciconv.errors import DataError
from sciconv_medseg.plugin import TINY_HYBRIDGNET, TINY_SWIN_UNETR

# -- BraTS, Swin UNETR ----------------------------------------------------------------------------------

BRATS_TEST_KEYS = [f"{m}_{r}" for m in ("dice", "hd95") for r in ("tc", "wt", "et")] + ["dice_mean", "n_test"]
BRATS_TINY = {**TINY_SWIN_UNETR, "task.params.roi_size": 64, "task.params.n_overlays": 0}


@pytest.fixture(scope="module")
def swin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("swin") / "run"
    sciconv.run("medseg-swin-unetr", overrides=BRATS_TINY, run_dir=run_dir)
    return run_dir


def test_brats_predict_on_the_test_split_reproduces_the_run_exactly(swin_run: Path, tmp_path: Path) -> None:
    assert (swin_run / "trained" / "swin_unetr.safetensors").is_file()
    metrics = json.loads((swin_run / "metrics.json").read_text())
    out = tmp_path / "out"
    pred = sciconv.load_run(swin_run).predict(split="test", out=out)
    assert sorted(pred.metrics) == sorted(BRATS_TEST_KEYS)
    for key in BRATS_TEST_KEYS:
        assert pred.metrics[key] == metrics[key], key
    table = pred.tables["predictions"]
    assert len(table) == 1 and list(table["split"]) == ["test"]
    (case,) = table["case"]
    written = out / f"{case}.nii.gz"
    assert pred.files == [written]
    # the same label map the run wrote, with the affine and header of the case's input
    run_map = nib.load(swin_run / "predictions" / f"{case}.nii.gz")
    new_map = nib.load(written)
    assert np.array_equal(np.asarray(new_map.dataobj), np.asarray(run_map.dataobj))
    assert new_map.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(new_map.affine, run_map.affine)


def test_brats_predict_on_new_cases_of_another_grid_writes_a_label_map_per_case(swin_run: Path, tmp_path: Path) -> None:
    from sciconv_medseg.brain_simulator import write_simulated_brats

    root = tmp_path / "new"
    write_simulated_brats(root, n_cases=3, shape=(40, 36, 32), seed=7, spacing=3.0)
    pred = sciconv.load_run(swin_run).predict({"dataset.params.root": str(root)}, out=tmp_path / "out")
    table = pred.tables["predictions"]
    assert len(table) == 3 and sorted(table["split"]) == ["test", "train", "val"]
    for column in ("case", "label_map", "convention", "shape", "volume_ml_tc", "volume_ml_wt", "volume_ml_et"):
        assert column in table
    assert set(table["shape"]) == {"40x36x32"}
    assert pred.metrics["all.n_cases"] == 3 and "all.dice_wt" in pred.metrics
    for case in table["case"]:
        written = nib.load(tmp_path / "out" / f"{case}.nii.gz")
        source = nib.load(next((root / case).glob("*_flair.nii.gz")))
        assert written.shape == (40, 36, 32)
        np.testing.assert_array_equal(written.affine, source.affine)
        assert set(np.unique(np.asarray(written.dataobj)).tolist()) <= {0, 1, 2, 4}
    assert (tmp_path / "out" / "report.md").is_file()


def test_brats_predict_refuses_other_spacing_and_writes_nothing(swin_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"the run trained on volumes of 3x3x3 mm.*these data have 2x2x2 mm") as err:
        sciconv.load_run(swin_run).predict({"dataset.params.spacing_mm": 2.0, "dataset.params.seed": 3}, out=out)
    assert "(4, 32, 32, 32)" in str(err.value)
    assert not out.exists()


# -- chest X-rays, HybridGNet ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chest_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("chest") / "run"
    sciconv.run("medseg-hybridgnet", overrides={**TINY_HYBRIDGNET, "task.params.n_overlays": 0}, run_dir=run_dir)
    return run_dir


def test_chest_predict_on_the_test_split_reproduces_every_test_metric_exactly(chest_run: Path, tmp_path: Path) -> None:
    trained = {p.name for p in (chest_run / "trained").iterdir()}
    assert {"hybridgnet.safetensors", "unet.safetensors", "mean_shape.arrays.safetensors"} <= trained
    metrics = json.loads((chest_run / "metrics.json").read_text())
    pred = sciconv.load_run(chest_run).predict(split="test", out=tmp_path / "out")
    run_test_keys = [k for k in metrics if k.startswith(("hybridgnet.", "unet.", "mean_shape.")) or k == "n_test"]
    assert "hybridgnet.occluded.dice_lungs" in run_test_keys and "unet.shifted.invalid_masks" in run_test_keys
    assert sorted(pred.metrics) == sorted(run_test_keys)
    for key in run_test_keys:
        assert pred.metrics[key] == metrics[key], key
    table = pred.tables["predictions"]
    assert len(table) == 2 and set(table["split"]) == {"test"}


def test_chest_predict_on_new_radiographs_writes_landmarks_and_masks(chest_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    from sciconv_medseg.chest_simulator import write_simulated_chest

    root = tmp_path / "new"
    write_simulated_chest(root, 5, (80, 72), seed=11)
    out = tmp_path / "out"
    pred = sciconv.load_run(chest_run).predict({"dataset.params.root": str(root)}, out=out)
    table = pred.tables["predictions"]
    assert len(table) == 5
    for column in ("case", "split", "height", "width", "crossed_ring", "invalid_rl", "landmark_error_px", "dice_lungs"):
        assert column in table
    assert "unet_dice_lungs" in table
    landmarks = pred.tables["landmarks"]
    assert list(landmarks.columns) == ["case", "organ", "index", "x", "y"] and len(landmarks) == 5 * 120
    assert landmarks.groupby("organ").size().to_dict() == {"H": 5 * 26, "LL": 5 * 50, "RL": 5 * 44}
    assert (out / "landmarks.csv").is_file() and (out / "predictions.csv").is_file()
    assert pred.files == [out / "masks"]
    for organ in ("RL", "LL", "H"):
        for case in table["case"]:
            mask = np.asarray(Image.open(out / "masks" / organ / f"{case}.png"))
            assert mask.shape == (80, 72) and set(np.unique(mask).tolist()) <= {0, 255}
    assert pred.metrics["all.n_images"] == 5 and "all.hybridgnet.clean.dice_lungs" in pred.metrics


def test_chest_predict_refuses_another_model_image_size_and_writes_nothing(chest_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"the run trained on .*\(1, 32, 32\).*these data have .*\(1, 64, 64\)"):
        sciconv.load_run(chest_run).predict({"dataset.params.image_size": 64}, out=out)
    assert not out.exists()


# -- unlabelled new data (dataset.params.labels=optional) -----------------------------------------------


def _unlabelled_brats(root: Path, n_cases: int = 3, keep: int = 0) -> list[str]:
    """Simulated BraTS cases in the real layout, every ``*_seg.nii.gz`` but the first ``keep`` cases' deleted."""
    from sciconv_medseg.brain_simulator import write_simulated_brats

    folders = write_simulated_brats(root, n_cases=n_cases, shape=(32, 32, 32), seed=21, spacing=3.0)
    for folder in folders[keep:]:
        for seg in Path(folder).glob("*seg.nii*"):
            seg.unlink()
    return [Path(f).name for f in folders]


def test_brats_predict_on_unlabelled_cases_writes_a_label_map_per_case_and_no_metrics(
    swin_run: Path, tmp_path: Path
) -> None:
    root = tmp_path / "new"
    cases = _unlabelled_brats(root)
    out = tmp_path / "out"
    pred = sciconv.load_run(swin_run).predict(
        {"dataset.params.root": str(root), "dataset.params.labels": "optional"}, out=out
    )
    table = pred.tables["predictions"]
    assert sorted(table["case"]) == sorted(cases) and set(table["split"]) == {"test"}
    assert list(table.columns) == [
        "case", "split", "label_map", "convention", "shape", "volume_ml_tc", "volume_ml_wt", "volume_ml_et"
    ]  # fmt: skip
    assert pred.metrics == {} and not (out / "metrics.json").exists()
    assert sorted(pred.files) == sorted(out / f"{case}.nii.gz" for case in cases)
    for case in cases:
        assert nib.load(out / f"{case}.nii.gz").shape == (32, 32, 32)
    # --split test predicts the same cases: every case of an unlabelled folder is in one split
    again = sciconv.load_run(swin_run).predict(
        {"dataset.params.root": str(root), "dataset.params.labels": "optional"}, split="test"
    )
    assert sorted(again.tables["predictions"]["case"]) == sorted(cases) and again.metrics == {}


def test_brats_predict_on_partly_labelled_cases_scores_only_the_labelled_ones(swin_run: Path, tmp_path: Path) -> None:
    root = tmp_path / "new"
    cases = _unlabelled_brats(root, keep=1)
    pred = sciconv.load_run(swin_run).predict({"dataset.params.root": str(root), "dataset.params.labels": "optional"})
    table = pred.tables["predictions"].set_index("case")
    assert len(table) == 3 and np.isfinite(table.loc[cases[0], "dice_wt"])
    assert table.loc[cases[1:], "dice_wt"].isna().all()
    assert pred.metrics["all.n_cases"] == 1 and pred.metrics["all.dice_wt"] == table.loc[cases[0], "dice_wt"]


def test_brats_run_on_unlabelled_cases_is_refused_in_one_line(tmp_path: Path) -> None:
    from sciconv.errors import ConfigError

    root = tmp_path / "new"
    _unlabelled_brats(root)
    overrides = {**BRATS_TINY, "dataset.params.root": str(root)}
    with pytest.raises(DataError, match=r"0 labelled case.*dataset\.params\.labels=optional") as err:
        sciconv.run("medseg-swin-unetr", overrides=overrides, run_dir=tmp_path / "run1")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"dataset\.params\.labels=optional.*a run trains on labelled") as err2:
        sciconv.run(
            "medseg-swin-unetr", overrides={**overrides, "dataset.params.labels": "optional"}, run_dir=tmp_path / "r2"
        )
    assert "\n" not in str(err2.value)


def _unlabelled_chest(root: Path, n_cases: int, keep: int = 0) -> list[str]:
    """Simulated radiographs in the landmark layout, the landmark files of all but the first ``keep`` deleted (the
    whole ``landmarks/`` folder when ``keep`` is 0)."""
    import shutil

    from sciconv_medseg.chest_simulator import write_simulated_chest

    ids = write_simulated_chest(root, n_cases, (80, 72), seed=13)
    if keep == 0:
        shutil.rmtree(root / "landmarks")
    for case in ids[keep:]:
        for path in root.glob(f"landmarks/*/{case}.npy"):
            path.unlink()
    return ids


def test_chest_predict_on_unlabelled_radiographs_writes_landmarks_and_masks_and_no_metrics(
    chest_run: Path, tmp_path: Path
) -> None:
    from PIL import Image

    root = tmp_path / "new"
    ids = _unlabelled_chest(root, 3)
    out = tmp_path / "out"
    pred = sciconv.load_run(chest_run).predict(
        {"dataset.params.root": str(root), "dataset.params.labels": "optional"}, out=out
    )
    table = pred.tables["predictions"]
    assert sorted(table["case"]) == sorted(ids) and set(table["split"]) == {"test"}
    assert list(table.columns) == [
        "case", "split", "height", "width", "crossed_ring", "invalid_rl", "invalid_ll", "invalid_h", "unet_invalid"
    ]  # fmt: skip
    assert pred.metrics == {} and not (out / "metrics.json").exists()
    landmarks = pred.tables["landmarks"]
    assert len(landmarks) == 3 * 120 and np.isfinite(landmarks[["x", "y"]].to_numpy()).all()
    for organ in ("RL", "LL", "H"):
        for case in ids:
            assert np.asarray(Image.open(out / "masks" / organ / f"{case}.png")).shape == (80, 72)
    again = sciconv.load_run(chest_run).predict(
        {"dataset.params.root": str(root), "dataset.params.labels": "optional"}, split="test"
    )
    assert sorted(again.tables["predictions"]["case"]) == sorted(ids) and again.metrics == {}


def test_chest_predict_on_partly_labelled_radiographs_scores_only_the_labelled_ones(
    chest_run: Path, tmp_path: Path
) -> None:
    root = tmp_path / "new"
    ids = _unlabelled_chest(root, 3, keep=2)
    pred = sciconv.load_run(chest_run).predict({"dataset.params.root": str(root), "dataset.params.labels": "optional"})
    table = pred.tables["predictions"].set_index("case")
    assert np.isfinite(table.loc[ids[:2], "dice_lungs"]).all() and np.isnan(table.loc[ids[2], "dice_lungs"])
    assert pred.metrics["all.n_images"] == 2 and "all.hybridgnet.clean.dice_lungs" in pred.metrics


def test_chest_run_on_unlabelled_radiographs_is_refused_in_one_line(tmp_path: Path) -> None:
    from sciconv.errors import ConfigError

    root = tmp_path / "new"
    _unlabelled_chest(root, 4)
    overrides = {**TINY_HYBRIDGNET, "task.params.n_overlays": 0, "dataset.params.root": str(root)}
    with pytest.raises(DataError, match=r"no landmarks/ folder.*dataset\.params\.labels=optional") as err:
        sciconv.run("medseg-hybridgnet", overrides=overrides, run_dir=tmp_path / "run1")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"dataset\.params\.labels=optional.*a run trains on labelled") as err2:
        sciconv.run(
            "medseg-hybridgnet", overrides={**overrides, "dataset.params.labels": "optional"}, run_dir=tmp_path / "r2"
        )
    assert "\n" not in str(err2.value)
