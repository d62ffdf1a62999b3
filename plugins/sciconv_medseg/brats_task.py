"""Swin UNETR brain tumour segmentation (Hatamizadeh et al. 2022, BraTS 2021) with MONAI's network, transforms,
loss, sliding-window inference and metrics.

Protocol (:class:`BratsSegmentationTask`), following the official MONAI research code (``SwinUNETR/BRATS21``):

1. **Targets.** The three overlapping BraTS regions, tumour core (TC), whole tumour (WT) and enhancing tumour (ET),
   as three sigmoid channels (:func:`~sciconv_medseg.brats_io.to_regions`, equal to MONAI's
   ``ConvertToMultiChannelBasedOnBratsClasses``).
2. **Training transforms** (MONAI, per sampled crop): ``CropForegroundd`` (the non-zero brain box, kept divisible
   by the crop), ``SpatialPadd`` up to the crop where a volume is smaller, ``RandSpatialCropd`` of ``roi_size``
   (the paper: 128^3), ``RandFlipd`` on each axis (p = 0.5), ``NormalizeIntensityd`` (non-zero voxels,
   channel-wise), ``RandScaleIntensityd`` (factor 0.1) and ``RandShiftIntensityd`` (offset 0.1), both with p = 1.
   ``crops_per_case`` crops are drawn from each case per epoch.
3. **Model and loss.** The pipeline's model, built with ``ctx.build_model`` for the crop shape: by default
   ``medseg.swin-unetr``, MONAI's ``SwinUNETR`` (:func:`~sciconv_medseg.models.swin_unetr.SwinUNETRNet`; the paper:
   feature size 48),
   or a network of the user's own in the pipeline's model place (``pipe.model = MyNet``: any module that maps
   ``(N, 4, roi, roi, roi)`` crops to ``(N, 3, roi, roi, roi)`` region logits, checked on one crop before
   training, and named by its class in the report and the log; its weights keep the internal name
   ``swin_unetr``), ``monai.losses.DiceLoss(sigmoid=True)``, trained by the core engine with the pipeline's
   ``train`` section
   (the official code: AdamW, lr 1e-4, weight decay 1e-5, batch 1, a linear warm-up over 50 epochs then cosine
   decay over 300 epochs on 4 GPUs: ``train.scheduler.name=warmup_cosine train.scheduler.warmup_epochs=50``).
4. **Inference.** ``monai.inferers.sliding_window_inference`` over the whole normalised volume with windows of
   ``roi_size``, ``overlap`` (official: 0.5 in training, 0.6 at test) and ``sw_batch_size`` windows per
   forward; sigmoid, then threshold 0.5 per region (no post-processing).
5. **Metrics** per case and region: Dice (``monai.metrics.compute_dice``, ``include_background=True`` so no region
   is dropped) and the 95th-percentile Hausdorff distance in mm
   (``monai.metrics.compute_hausdorff_distance(percentile=95, spacing=voxel size)``). Where a region is absent
   from the reference, the BraTS challenge convention applies: Dice 1 and HD95 0 if the prediction is empty too,
   else Dice 0 and HD95 373.13 mm (the challenge's value: the 240 x 240 x 155 mm diagonal); a region absent
   from the prediction but present in the reference also scores HD95 373.13 mm. ``metrics.json`` holds the means
   over the test cases (``dice_tc``, ``dice_wt``, ``dice_et``, ``hd95_tc``, ...) and over the validation cases
   (``val.dice_tc``, ...); ``per_case.csv`` every case; ``predictions/`` each test case's label map in its own
   convention (1 NCR, 2 oedema, 4 or 3 ET), as the official ``test.py`` writes them.
"""

from __future__ import annotations

import csv
import io
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, StrictBool

from sciconv import ResultRow, TaskBase, TaskResult
from sciconv.errors import ConfigError
from sciconv.kit import atomic_write_text, check_model_output, new_figure, save_figure
from sciconv.spec import DataSpec
from sciconv_medseg.published import BRATS_TASK

REGION_NAMES: tuple[str, ...] = ("tc", "wt", "et")
WEIGHTS = "swin_unetr"
"""Name of the trained network's weights in the run's ``trained/`` folder (``trained/swin_unetr.safetensors``)."""
BRATS_MAX_HD95_MM = 373.13
"""HD95 (mm) the BraTS challenge assigns when a region is missing from exactly one of prediction and reference."""


class TrainingCrops:
    """Randomly augmented training crops of BraTS cases (the MONAI chain of the module docstring, step 2).

    Item ``k`` is a crop of case ``k // crops_per_case``: ``(image (4, r, r, r), regions (3, r, r, r))`` float32
    tensors. The transforms draw from their own generator, seeded once by ``seed`` (MONAI's
    ``Randomizable.set_random_state``), so a run is reproducible for a given loader order.
    """

    def __init__(self, cases: Any, roi_size: int, crops_per_case: int = 1, augment: bool = True, seed: int = 0) -> None:
        from monai import transforms as mt

        self.cases = cases
        self.crops_per_case = crops_per_case
        roi = [roi_size] * 3
        chain: list[Any] = [
            mt.CropForegroundd(keys=["image", "label"], source_key="image", k_divisible=roi, allow_smaller=True),
            mt.SpatialPadd(keys=["image", "label"], spatial_size=roi),
            mt.RandSpatialCropd(keys=["image", "label"], roi_size=roi, random_size=False),
        ]
        if augment:
            chain += [mt.RandFlipd(keys=["image", "label"], prob=0.5, spatial_axis=a) for a in (0, 1, 2)]
        chain.append(mt.NormalizeIntensityd(keys="image", nonzero=True, channel_wise=True))
        if augment:
            chain += [
                mt.RandScaleIntensityd(keys="image", factors=0.1, prob=1.0),
                mt.RandShiftIntensityd(keys="image", offsets=0.1, prob=1.0),
            ]
        self.transform = mt.Compose(chain)
        self.transform.set_random_state(seed=seed)

    def __len__(self) -> int:
        return len(self.cases) * self.crops_per_case

    def __getitem__(self, index: int) -> tuple[Any, Any]:

        image, regions = self.cases[index // self.crops_per_case]
        out = self.transform({"image": image, "label": regions})
        return _plain(out["image"]), _plain(out["label"])


class CentreCrops:
    """Deterministic crops of ``roi_size`` centred on the brain's bounding box, normalised like training crops:
    the validation data of the training curve (the final scores use whole volumes and sliding windows)."""

    def __init__(self, cases: Any, roi_size: int) -> None:
        from monai import transforms as mt

        self.cases = cases
        roi = [roi_size] * 3
        self.transform = mt.Compose(
            [
                mt.CropForegroundd(keys=["image", "label"], source_key="image", allow_smaller=True),
                mt.ResizeWithPadOrCropd(keys=["image", "label"], spatial_size=roi),
                mt.NormalizeIntensityd(keys="image", nonzero=True, channel_wise=True),
            ]
        )

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> tuple[Any, Any]:

        image, regions = self.cases[index]
        out = self.transform({"image": image, "label": regions})
        return _plain(out["image"]), _plain(out["label"])


def _plain(value: Any) -> Any:
    """A plain float32 contiguous tensor from a MONAI ``MetaTensor`` (whose per-operation metadata handling would
    otherwise follow the crop through the network and slow every layer down)."""
    import torch

    tensor = value.as_tensor() if hasattr(value, "as_tensor") else torch.as_tensor(value)
    return tensor.float().contiguous()


def method_label(own: str | None) -> str:
    """The name the report, the plots and the log give the pipeline's network: ``"Swin UNETR"`` for the registered
    model, ``"MyNet (the pipeline's model)"`` for a network of the user's own (``own``: its class name, from
    ``ctx.own_model_name()``)."""
    return "Swin UNETR" if own is None else f"{own} (the pipeline's model)"


def check_own_model(model: Any, spec: DataSpec, own: str, device: Any) -> None:
    """A ConfigError, before training, when a network of the user's own (class name ``own``) does not map one crop
    ``(1, C, roi, roi, roi)`` of ``spec.input_shape`` to region logits ``(1, spec.n_outputs, roi, roi, roi)``: the
    Dice loss and the sliding windows need exactly that. The crop is zeros and goes through in eval mode without
    gradients (:func:`sciconv.kit.check_model_output`); ``model`` is left on ``device`` in the mode it was in."""
    import torch

    x = torch.zeros((1, *(int(s) for s in spec.input_shape)), device=device)
    expected = (1, int(spec.n_outputs), *x.shape[2:])
    check_model_output(
        model.to(device),
        x,
        [expected],
        needs=f"model {own} (the pipeline's model) must map crops (N, {', '.join(map(str, x.shape[1:]))}) to region "
        f"logits (N, {', '.join(map(str, expected[1:]))}) (TC, WT, ET, before the sigmoid)",
    )


def refuse_unlabelled(data: Any, task: str, what: str) -> None:
    """A ConfigError when ``data`` was loaded with ``dataset.params.labels=optional`` (new data for ``pipeline
    predict``, possibly unlabelled, every case in one split): a run trains and scores, and needs labels."""
    if data.info.get("labels") != "optional":
        return
    n = sum(len(part) for part in (data.train, data.val, data.test) if part is not None)
    raise ConfigError(
        f"{task}: dataset.params.labels=optional loads new {what}s for `pipeline predict` ({n} {what}(s), labels "
        "not required); a run trains on labelled data: drop dataset.params.labels (or set it to required), or "
        "apply a finished run with `pipeline predict RUN_DIR dataset.params.root=... dataset.params.labels=optional`"
    )


def mean_dice(outputs: Any, targets: Any) -> float:
    """Mean Dice over regions and cases of thresholded sigmoid ``outputs`` (logits ``(N, 3, ...)``) against
    ``targets`` (``(N, 3, ...)`` in {0, 1}), empty-reference convention of BraTS."""
    from monai.metrics import compute_dice

    pred = (outputs.sigmoid() > 0.5).float()
    return float(compute_dice(pred, targets.float(), include_background=True, ignore_empty=False).nanmean())


def region_scores(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """Dice and HD95 (mm) per region of one case: ``pred`` and ``ref`` bool ``(3, X, Y, Z)`` (TC, WT, ET);
    keys ``dice_tc`` ... ``hd95_et``. Empty regions follow the BraTS convention (module docstring)."""
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance

    p = torch.from_numpy(np.ascontiguousarray(pred, dtype=np.float32))[None]
    r = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float32))[None]
    dice = compute_dice(p, r, include_background=True, ignore_empty=False)[0]
    scores: dict[str, float] = {}
    for k, name in enumerate(REGION_NAMES):
        scores[f"dice_{name}"] = float(dice[k])
        has_p, has_r = bool(pred[k].any()), bool(ref[k].any())
        if not has_p and not has_r:
            hd = 0.0
        elif has_p != has_r:
            hd = BRATS_MAX_HD95_MM
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hd = float(
                    compute_hausdorff_distance(
                        p[:, k : k + 1], r[:, k : k + 1], include_background=True, percentile=95, spacing=list(spacing)
                    )[0, 0]
                )
        scores[f"hd95_{name}"] = hd
    return scores


def regions_to_labels(regions: np.ndarray, convention: str) -> np.ndarray:
    """BraTS label map (uint8 ``(X, Y, Z)``) from predicted regions bool ``(3, X, Y, Z)`` (TC, WT, ET), as the
    official code writes predictions: ET -> 4 (3 in 2023), the rest of TC -> 1, the rest of WT -> 2. A voxel in
    ET but not WT (inconsistent sigmoid channels) is still labelled ET."""
    from sciconv_medseg.brats_io import ET_LABEL

    tc, wt, et = regions[0], regions[1], regions[2]
    label = np.zeros(regions.shape[1:], dtype=np.uint8)
    label[wt] = 2
    label[tc] = 1
    label[et] = ET_LABEL[convention]
    return label


class BratsSegmentationTask(TaskBase):
    """Train Swin UNETR on BraTS-layout data and score it with sliding-window inference (module docstring).

    Args:
        roi_size: side of the cubic training crops and inference windows (voxels; a multiple of 32, at least 64;
            the paper: 128).
        crops_per_case: random crops drawn from each training case per epoch.
        augment: the paper's random flips and intensity scale/shift (off: crops only).
        overlap: sliding-window overlap at inference (official code: 0.5 during training, 0.6 at test).
        sw_batch_size: windows per forward pass at inference (official: 4).
        blend: ``constant`` (official) or ``gaussian`` weighting of overlapping windows.
        threshold: sigmoid threshold per region.
        validate_crops: a centre crop per validation case after every epoch (the training curve's val_loss and
            val_dice); the final validation scores always use whole volumes.
        save_predictions: write each test case's predicted label map to ``predictions/<case>.nii.gz``.
        n_overlays: test cases drawn in ``plots/overlays.png``.
    """

    def __init__(
        self,
        roi_size: Annotated[int, Field(ge=64)] = 128,
        crops_per_case: Annotated[int, Field(ge=1)] = 1,
        augment: StrictBool = True,
        overlap: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.5,
        sw_batch_size: Annotated[int, Field(ge=1)] = 4,
        blend: Literal["constant", "gaussian"] = "constant",
        threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5,
        validate_crops: StrictBool = True,
        save_predictions: StrictBool = True,
        n_overlays: Annotated[int, Field(ge=0)] = 3,
    ) -> None:
        self.roi_size = roi_size
        self.crops_per_case = crops_per_case
        self.augment = augment
        self.overlap = overlap
        self.sw_batch_size = sw_batch_size
        self.blend = blend
        self.threshold = threshold
        self.validate_crops = validate_crops
        self.save_predictions = save_predictions
        self.n_overlays = n_overlays

    def validate(self) -> None:
        """The check the signature does not declare, with its reason: ``roi_size`` a multiple of 32 (the
        network downsamples five times; 64 at least is declared in the signature: at 32 the bottleneck is one
        voxel, which instance normalisation cannot train on). Ranges of single parameters are declared in
        ``__init__``'s signature and checked with the pipeline's ``task.params``."""
        roi = int(self.roi_size)
        if roi % 32:
            raise ConfigError(f"task.params.roi_size: Swin UNETR needs a multiple of 32 (64 at least), got {roi}")

    def model_spec(self, spec: DataSpec) -> DataSpec:
        """The crop the network sees: ``(C, roi, roi, roi)``."""
        roi = int(self.roi_size)
        return DataSpec(
            input_shape=(spec.input_shape[0], roi, roi, roi),
            n_outputs=spec.n_outputs,
            task_type=spec.task_type,
            channels=spec.channels,
            classes=spec.classes,
            units="normalised intensity (z-score over the brain, per channel)",
            extra=dict(spec.extra),
        )

    # -- the run ---------------------------------------------------------------------------------------

    def run(self, ctx: Any) -> TaskResult:
        import torch
        from monai.losses import DiceLoss

        self.validate()
        data = ctx.load_data()
        refuse_unlabelled(data, "medseg.brats-segmentation", "case")
        if data.test is None or len(data.test) == 0:
            raise ConfigError("the dataset has no test cases; give dataset.params.test_fraction > 0 or a test/ folder")
        spec = self.model_spec(data.spec)
        small = [s for s in data.spec.input_shape[1:] if s < int(self.roi_size)]
        if small:
            ctx.log(f"volumes {data.spec.input_shape[1:]} are smaller than roi_size {self.roi_size}: crops are padded")
        torch.manual_seed(ctx.seed)
        model = ctx.build_model(spec)
        own = ctx.own_model_name()
        label = method_label(own)
        if own is not None:
            check_own_model(model, spec, own, ctx.device)
        train = TrainingCrops(data.train, int(self.roi_size), int(self.crops_per_case), bool(self.augment), ctx.seed)
        val_crops = None
        if data.val is not None and self.validate_crops:
            val_crops = CentreCrops(data.val, int(self.roi_size))
        loss_fn = DiceLoss(sigmoid=True)
        t0 = time.perf_counter()
        # the fit's (and checkpoints') name stays "swin_unetr" for any pipeline model, like the weights' file
        fit = ctx.fit(model, train, val_crops, loss_fn=loss_fn, metrics={"dice": mean_dice}, name="swin_unetr")
        train_s = time.perf_counter() - t0
        model = fit.model
        ctx.save_weights(WEIGHTS, model)  # what `pipeline predict` applies (sliding windows, as below)
        ctx.log(f"trained {label} for {len(fit.history)} epochs in {train_s:.0f} s; sliding-window inference")

        t0 = time.perf_counter()
        test_rows, test_preds = self._score(ctx, model, data.test, "test")
        val_rows = self._score(ctx, model, data.val, "val")[0] if data.val is not None else []
        infer_s = time.perf_counter() - t0

        metrics: dict[str, float] = {}
        for prefix, rows in (("", test_rows), ("val.", val_rows)):
            if not rows:
                continue
            for key in (f"{m}_{r}" for m in ("dice", "hd95") for r in REGION_NAMES):
                metrics[prefix + key] = float(np.mean([row[key] for row in rows]))
            metrics[prefix + "dice_mean"] = float(np.mean([metrics[prefix + f"dice_{r}"] for r in REGION_NAMES]))
        metrics["n_test"] = float(len(test_rows))
        metrics["train_seconds"] = train_s
        metrics["inference_seconds_per_case"] = infer_s / max(1, len(test_rows) + len(val_rows))

        run_dir = Path(ctx.run_dir.path)
        self._write_per_case(run_dir / "per_case.csv", test_rows + val_rows)
        if self.save_predictions:
            self._write_predictions(run_dir / "predictions", data.test, test_preds)
        plots = []
        if self.n_overlays and ctx.config.output.plots:
            path = self._overlays(ctx.plots_dir / "overlays.png", data.test, test_preds, test_rows)
            by = "" if own is None else f" by {label}"
            plots.append(
                (
                    path,
                    "Test cases, axial slice with the largest tumour area: FLAIR and T1ce with reference "
                    f"(solid) and predicted{by} (dashed) contours of WT (yellow), TC (red) and ET (cyan).",
                )
            )
        # "Swin UNETR (this run, test)"; a network of the user's own: "MyNet (the pipeline's model, this run, test)"
        row = "Swin UNETR (" if own is None else f"{own} (the pipeline's model, "
        table = [ResultRow(f"{row}this run, test)", {k: metrics[k] for k in _TABLE_KEYS})]
        if val_rows:
            table.append(ResultRow(f"{row}this run, validation)", {k: metrics["val." + k] for k in _TABLE_KEYS}))
        table += [record.row() for record in BRATS_TASK]
        sections = {"Protocol": self._protocol(ctx, data, fit, train_s, own)}
        return TaskResult(metrics=metrics, model=model, table=table, plots=plots, sections=sections)

    def infer(self, model: Any, image: Any, device: Any) -> np.ndarray:
        """Thresholded region channels, bool ``(3, X, Y, Z)`` (TC, WT, ET), of one case's ``image`` ``(4, X, Y, Z)``
        (scanner units): per-channel z-score over the brain, sliding windows of ``roi_size``, sigmoid > threshold
        (module docstring, step 4). The run's scores and ``predict`` both go through here."""
        import torch
        from monai.inferers import sliding_window_inference
        from monai.transforms import NormalizeIntensity

        normalise = NormalizeIntensity(nonzero=True, channel_wise=True)
        x = _plain(normalise(image))[None].to(device)
        with torch.no_grad():
            logits = sliding_window_inference(
                x,
                roi_size=[int(self.roi_size)] * 3,
                sw_batch_size=int(self.sw_batch_size),
                predictor=model,
                overlap=float(self.overlap),
                mode=self.blend,
            )
        return (torch.as_tensor(logits)[0].sigmoid() > float(self.threshold)).cpu().numpy()

    def _score(self, ctx: Any, model: Any, cases: Any, split: str) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
        from sciconv_medseg.brats_datasets import spacing_of
        from sciconv_medseg.brats_io import to_regions

        rows: list[dict[str, Any]] = []
        preds: list[np.ndarray] = []
        model.eval()
        for i in range(len(cases)):
            image, regions = cases[i]
            # Scored as the label map the run writes (and the BraTS challenge scores): nested ET in TC in WT.
            convention = cases.cases[i].convention
            pred = to_regions(regions_to_labels(self.infer(model, image, ctx.device), convention), convention)
            ref = regions.numpy() > 0.5
            scores = region_scores(pred, ref, spacing_of(cases.affine(i)))
            rows.append({"case": cases.case_ids[i], "split": split, **scores})
            preds.append(pred)
        return rows, preds

    # -- predict ---------------------------------------------------------------------------------------

    def check_compatible(self, trained: DataSpec, new: DataSpec) -> None:
        """Sliding windows take volumes of any size, so the grid may differ from the training data's; the
        modalities (channels), the regions (classes), the task and the voxel spacing (the network does not
        resample: a different spacing shows it differently sized anatomy, within 5 %) must agree."""
        from sciconv.errors import DataError
        from sciconv.spec import check_compatible, describe_spec

        check_compatible(trained, new, fields=("n_outputs", "task_type", "channels", "classes"))
        if trained.input_shape[0] != new.input_shape[0]:
            raise DataError(
                f"the run trained on {describe_spec(trained)}; these data have {describe_spec(new)} "
                f"({new.input_shape[0]} modalities, not {trained.input_shape[0]}): the trained model cannot be applied"
            )
        a, b = trained.extra.get("spacing_mm"), new.extra.get("spacing_mm")
        if a and b and not np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=0.05, atol=0.0):
            shown = ["x".join(f"{v:g}" for v in side) for side in (a, b)]
            raise DataError(
                f"the run trained on volumes of {shown[0]} mm voxels ({describe_spec(trained)}); these data have "
                f"{shown[1]} mm voxels ({describe_spec(new)}): resample them to the training spacing first"
            )

    def predict(self, ctx: Any, bundle: Any) -> Any:
        """A NIfTI label map per case (``<case>.nii.gz`` in the case's own label convention, on its grid with the
        affine and header of its first modality file), by the run's sliding-window inference with the run's
        weights (``trained/swin_unetr.safetensors``). Table ``predictions``: one row per case (``case``, ``split``,
        ``label_map``, ``convention``, ``shape``, ``volume_ml_tc`` / ``_wt`` / ``_et``; with labels ``dice_*`` and
        ``hd95_*``). Metrics: with ``--split test`` the run's test keys (``dice_tc`` ... ``hd95_et``,
        ``dice_mean``, ``n_test``), reproduced exactly; over every split ``all.<key>``. Cases without a ``seg`` file
        (``dataset.params.labels=optional``) are predicted and not scored: no ``dice_*`` / ``hd95_*`` in their rows,
        metrics over the labelled cases only (none when no case has one)."""
        import pandas as pd

        from sciconv import PredictionResult
        from sciconv.errors import DataError
        from sciconv_medseg.brats_datasets import spacing_of
        from sciconv_medseg.brats_io import save_label_map, to_regions

        self.validate()
        spec = ctx.spec or bundle.spec
        model = ctx.load_weights(WEIGHTS, ctx.build_model(self.model_spec(spec))).to(ctx.device)
        own = ctx.own_model_name()
        if own is not None:
            ctx.log(f"applying {method_label(own)} with the run's weights (trained/{WEIGHTS}.safetensors)")
        names = ("test",) if ctx.split == "test" else ("train", "val", "test")
        parts = [(name, part) for name in names if (part := getattr(bundle, name)) is not None and len(part)]
        if not parts:
            where = " in a test split" if names == ("test",) else ""
            raise DataError(f"the BraTS data hold no case to predict{where}")
        rows: list[dict[str, Any]] = []
        files: list[Path] = []
        for split, cases in parts:
            for i in range(len(cases)):
                case = cases.cases[i]
                image, regions = cases[i]
                affine = cases.affine(i)
                label = regions_to_labels(self.infer(model, image, ctx.device), case.convention)
                path = Path(ctx.out_dir) / f"{case.case_id}.nii.gz"
                save_label_map(label, case.modalities[0], path)
                files.append(path)
                pred = to_regions(label, case.convention)
                voxel_ml = float(np.prod(spacing_of(affine))) / 1000.0
                row: dict[str, Any] = {
                    "case": case.case_id,
                    "split": split,
                    "label_map": path.name,
                    "convention": case.convention,
                    "shape": "x".join(str(int(n)) for n in label.shape),
                    **{f"volume_ml_{r}": float(pred[k].sum()) * voxel_ml for k, r in enumerate(REGION_NAMES)},
                }
                if regions is not None:
                    row.update(region_scores(pred, regions.numpy() > 0.5, spacing_of(affine)))
                rows.append(row)
                ctx.log(f"{case.case_id}: predicted ({split})")
        table = pd.DataFrame(rows)
        metrics: dict[str, float] = {}
        scored = [row for row in rows if "dice_tc" in row]
        if scored:
            prefix = "" if ctx.split == "test" else "all."
            for key in (f"{m}_{r}" for m in ("dice", "hd95") for r in REGION_NAMES):
                metrics[prefix + key] = float(np.mean([row[key] for row in scored]))
            metrics[prefix + "dice_mean"] = float(np.mean([metrics[prefix + f"dice_{r}"] for r in REGION_NAMES]))
            metrics[prefix + ("n_test" if ctx.split == "test" else "n_cases")] = float(len(scored))
        return PredictionResult(tables={"predictions": table}, metrics=metrics, files=files)

    @staticmethod
    def _write_per_case(path: Path, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        atomic_write_text(path, buf.getvalue())

    @staticmethod
    def _write_predictions(folder: Path, cases: Any, preds: list[np.ndarray]) -> None:
        from sciconv_medseg.brats_io import save_volume

        folder.mkdir(parents=True, exist_ok=True)
        for i, pred in enumerate(preds):
            case = cases.cases[i]
            save_volume(regions_to_labels(pred, case.convention), cases.affine(i), folder / f"{case.case_id}.nii.gz")

    def _overlays(self, path: Path, cases: Any, preds: list[np.ndarray], rows: list[dict[str, Any]]) -> Path:
        n = min(int(self.n_overlays), len(preds))
        fig, axes = new_figure(n, 2, figsize=(6.4, 3.2 * n))
        colours = {1: "yellow", 0: "red", 2: "cyan"}  # WT, TC, ET
        for row_i in range(n):
            image, regions = cases[row_i]
            ref = regions.numpy() > 0.5
            z = int(np.argmax(ref[1].sum(axis=(0, 1)))) if ref[1].any() else ref.shape[-1] // 2
            for col, (channel, title) in enumerate(((3, "FLAIR"), (1, "T1ce"))):
                ax = axes[row_i][col]
                ax.imshow(np.rot90(image[channel, :, :, z].numpy()), cmap="gray")
                for k, colour in colours.items():
                    for mask, style in ((ref[k], "solid"), (preds[row_i][k], "dashed")):
                        sl = np.rot90(mask[:, :, z].astype(float))
                        if sl.any():
                            ax.contour(sl, levels=[0.5], colors=colour, linewidths=1.0, linestyles=style)
                scores = rows[row_i]
                ax.set_title(
                    f"{scores['case']} {title}\nDice WT {scores['dice_wt']:.2f} TC {scores['dice_tc']:.2f} "
                    f"ET {scores['dice_et']:.2f}",
                    fontsize=7,
                )
                ax.axis("off")
        fig.tight_layout()
        return save_figure(fig, path)

    @staticmethod
    def _schedule(cfg: Any) -> str:
        schedule = cfg.scheduler
        if schedule.name == "constant":
            return "constant"
        warm = f"{schedule.warmup_epochs}-epoch warm-up then " if schedule.name == "warmup_cosine" else ""
        return f"{warm}cosine (to {schedule.min_lr:g})"

    def _protocol(self, ctx: Any, data: Any, fit: Any, train_s: float, own: str | None = None) -> str:
        """The report's Protocol section. ``own``: the class name of a network of the user's own in the pipeline's
        model place (``ctx.own_model_name()``), described by its ``model.params`` alone; ``None``: Swin UNETR."""
        cfg = ctx.config.train
        n = {k: (len(getattr(data, k)) if getattr(data, k) is not None else 0) for k in ("train", "val", "test")}
        shape = "x".join(str(s) for s in data.spec.input_shape[1:])
        spacing = ", ".join(f"{s:g}" for s in data.spec.extra.get("spacing_mm", []))
        simulated = data.info.get("source") == "simulated"
        source = "" if simulated else f" (the folder `{data.info.get('source')}`)"
        # with a folder, the simulator's parameters (listed with the dataset's under "What ran") were not used
        unused = {} if simulated else {k: v for k, v in ctx.config.dataset.params.items() if k in _SIMULATOR_PARAMS}
        lines = [
            f"- Data: {data.spec.extra.get('dataset')}{source}, {n['train']} training / {n['val']} validation / "
            f"{n['test']} test cases ({data.info.get('split')}), volumes {shape} at {spacing} mm"
            + (", shapes differ between cases" if data.spec.extra.get("shapes_differ") else "")
            + (f"; {data.info['unlabelled']} unlabelled case(s) left out" if data.info.get("unlabelled") else "")
            + "."
            + (
                " The simulator's settings among the dataset's parameters ("
                + ", ".join(f"`{k}={v!r}`" for k, v in unused.items())
                + ") apply to simulated data only and were not used: the cases, grid and voxel size are the "
                "folder's, as given here."
                if unused
                else ""
            ),
        ]
        if own is not None:
            given = "".join(f", {k}={v!r}" for k, v in ctx.model_params.items())
            crop = "(" + ", ".join(str(int(s)) for s in self.model_spec(data.spec).input_shape) + ")"
            n_params = sum(p.numel() for p in fit.model.parameters() if p.requires_grad)
            lines.append(
                f"- Model: `{own}`, a network of the user's own in the pipeline's model place (not Swin UNETR), "
                f"built as `{own}(spec{given})` from `model.params` for crops of {crop} -> "
                f"{data.spec.n_outputs} region logits (TC, WT, ET), {n_params:,} trainable parameters. This run's "
                f"rows and metrics (`dice_tc` ... `hd95_et`, `val.*`) are `{own}`'s scores; its fit and weights "
                f"keep the task's internal name `{WEIGHTS}` for any pipeline model (the `fit` column of "
                f"`history.csv`, `checkpoints/`, `trained/{WEIGHTS}.safetensors`), and hold `{own}`."
            )
        paper = (
            "The paper: 128^3 crops, feature size 48, AdamW lr "
            if own is None
            else "The published Swin UNETR protocol: 128^3 crops, AdamW lr "
        )
        lines += [
            f"- Training: {len(fit.history)} epochs x {n['train']} cases x {self.crops_per_case} random "
            f"{self.roi_size}^3 crop(s), batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr:g} weight decay "
            f"{cfg.weight_decay:g}, {self._schedule(cfg)} learning rate, DiceLoss(sigmoid), augmentation "
            f"{'on' if self.augment else 'off'}; {train_s:.0f} s. {paper}"
            "1e-4 / weight decay 1e-5 with a 50-epoch linear warm-up then cosine decay, 300 epochs over 1251 cases "
            "on 4 GPUs.",
            f"- Inference: sliding windows of {self.roi_size}^3, overlap {self.overlap:g}, {self.blend} blending, "
            f"sigmoid > {self.threshold:g} per region, no post-processing.",
            "- Metrics: mean over cases of Dice and HD95 (mm) per region, `include_background=True`; a region empty "
            f"in exactly one of prediction and reference scores Dice 0 and HD95 {BRATS_MAX_HD95_MM} mm, empty in "
            "both Dice 1 and HD95 0 (BraTS convention).",
            "- The published row is "
            + ("" if own is None else f"Swin UNETR's (not `{own}`'s) on ")
            + "BraTS 2021's validation set (real scans, 1251 training cases, full schedule); "
            + (
                "numbers on simulated volumes are not comparable to it, only the protocol is."
                if simulated
                else "this run's numbers are on other cases and a schedule of its own, comparable to it only as "
                "far as these match."
            ),
        ]
        return "\n".join(lines) + "\n"


_SIMULATOR_PARAMS = ("n_cases", "shape", "spacing_mm", "convention", "seed", "simulator")
"""``medseg.brats`` parameters of the simulated collection, unused when ``dataset.params.root`` names a folder."""
_TABLE_KEYS = ("dice_wt", "dice_tc", "dice_et", "hd95_wt", "hd95_tc", "hd95_et")
