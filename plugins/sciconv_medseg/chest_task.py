"""Anatomical segmentation of chest radiographs as a landmark graph (HybridGNet; Gaggion et al., "Improving anatomical
plausibility in medical image segmentation via hybrid graph neural networks: applications to chest x-ray analysis",
IEEE TMI 2022) against a pixel-wise baseline (MONAI UNet), clean, under occlusion and under domain shift.

Protocol (:class:`ChestAnatomyTask`):

1. **HybridGNet** (the pipeline's model, ``medseg.hybridgnet``:
   :func:`~sciconv_medseg.models.hybridgnet.HybridGNetNet`, built with ``ctx.build_model``) is trained through the
   core engine with the paper's loss (:class:`~sciconv_medseg.models.hybridgnet.HybridGNetLoss`: landmark MSE, the
   MSE of the two image-to-graph skip predictions, and ``kl_weight`` times the KL of the latent), with the pipeline's
   ``train`` section (optimizer, learning rate, batch size, epochs); the validation loss is the landmark MSE (the
   loss in evaluation mode) and, with ``train.early_stopping.restore_best`` (the default), the best validated epoch's
   weights are kept.
2. **UNet baseline** (``baseline: true``): the registered model ``medseg.unet``
   (:func:`~sciconv_medseg.models.unet.UNetNet`, MONAI's ``UNet``), built by name with ``ctx.build_model(spec,
   name="medseg.unet", ...)`` from ``task.params.unet``'s model settings: one sigmoid output per organ (right
   lung, left lung, heart: multi-label, since the heart overlaps both lungs' medial edges on a PA radiograph, which
   a softmax would forbid), trained with MONAI's ``DiceCELoss(sigmoid=True)`` on masks rasterised from the landmark
   rings (:func:`~sciconv_medseg.chest_landmarks_io.landmarks_to_masks`). Its schedule is ``task.params.unet``
   (``epochs``, ``lr``, ``batch_size``; default the ``train`` section's).
3. **Masks.** HybridGNet's mask of an organ is its predicted ring filled
   (:func:`~sciconv_medseg.chest_landmarks_io.landmarks_to_masks`); the UNet's is ``sigmoid > 0.5`` per channel, with
   **no post-processing** (no largest component, no hole filling): what the paper compares. Ground truth is the
   annotated rings filled the same way. Masks are drawn at the models' resolution ``S x S``.
4. **Scores** on three test sets paired case by case (the dataset's ``test``, ``info["test_occluded"]`` and
   ``info["test_shifted"]``):

   - ``dice_lungs`` (the union of both lungs, as the paper reports "lungs") and ``dice_heart``, averaged over images;
   - ``hd95_lungs_px`` and ``hd95_heart_px``: the 95th-percentile symmetric Hausdorff distance (MONAI's
     ``compute_hausdorff_distance``, ``percentile=95``) in pixels of the stored image (the pixel spacing of the
     ``S x S`` masks is passed as ``H / S, W / S``), averaged over the images where the model produced a non-empty
     mask (an empty mask has no distance; it is counted as invalid below);
   - ``landmark_error_px`` (HybridGNet only): the mean Euclidean distance between predicted and annotated landmarks
     in pixels of the stored image;
   - ``invalid_masks``: the number of test images with at least one topologically invalid organ mask (empty, more
     than one connected component, or holes; :func:`~sciconv_medseg.chest_landmarks_io.invalid_mask`, 8-connected
     organ and 4-connected background), and per organ ``invalid_rl``, ``invalid_ll``, ``invalid_h``; for HybridGNet
     also ``crossed_rings``, the images with a predicted ring that crosses itself (how a ring's mask becomes invalid).

``metrics.json`` holds ``<model>.<condition>.<metric>`` for ``model`` in ``hybridgnet``, ``unet`` and ``condition``
in ``clean``, ``occluded``, ``shifted``; the headline keys ``<model>.dice_lungs``, ``<model>.dice_heart``,
``<model>.invalid_masks`` and ``hybridgnet.landmark_error_px`` are the **occluded** condition's (the paper's point:
plausibility when part of the anatomy is hidden); ``mean_shape.*``, the scores of the training set's mean landmarks
predicted for every test image (a model that ignores the image; what an image model must beat); and ``n_test``. A
Hausdorff distance is left out when every predicted mask of that organ was empty.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field, StrictBool

from sciconv import ResultRow, TaskBase, TaskResult
from sciconv.errors import ConfigError, DataError
from sciconv.kit import derive_seed, new_figure, save_figure, seed_everything
from sciconv_medseg.published import CHEST_TASK

CONDITIONS: tuple[str, ...] = ("clean", "occluded", "shifted")
_ORGAN_KEYS = {"RL": "rl", "LL": "ll", "H": "h"}

UNET_MODEL = "medseg.unet"
"""The registered model the task trains as its pixel baseline (``task.params.unet`` holds its settings)."""

_UNET_MODEL_KEYS = ("channels", "strides", "num_res_units", "kernel_size", "norm", "dropout")
_UNET_FIT_KEYS = ("epochs", "lr", "batch_size")

HYBRIDGNET_WEIGHTS = "hybridgnet"
UNET_WEIGHTS = "unet"
MEAN_SHAPE = "mean_shape"
"""Names in the run's ``trained/`` folder: the two networks' weights and the training set's mean landmarks."""


class MaskSplit:
    """A landmark split as ``(image, masks)`` items for a pixel model: ``masks`` float32 ``(3, S, S)``, the organ
    rings (right lung, left lung, heart) filled at the image's resolution."""

    def __init__(self, split: Any) -> None:
        self.split = split
        self.masks = torch.from_numpy(gt_masks(split).astype(np.float32))

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split.images[index], self.masks[index]


class IntensityAugmented:
    """Training items ``(image, target)`` of ``split`` with the image randomly changed in intensity, the target kept:
    gamma (MONAI ``RandAdjustContrast``, 0.6-1.6), contrast about the mean (``RandScaleIntensity`` by up to 25 %),
    brightness (``RandShiftIntensity`` by up to 0.08), Gaussian noise (sd up to 0.03) and blur (sigma 0.3-1.2
    pixels), each with probability 0.5, then clipped to [0, 1]: the acquisition changes between scanners and sites
    (the authors' trainer changes brightness and contrast likewise). Both models train on it, so the comparison
    stays fair. The transforms draw from their own generator, seeded once."""

    def __init__(self, split: Any, seed: int) -> None:
        from monai import transforms as mt

        self.split = split
        self.transform = mt.Compose(
            [
                mt.RandAdjustContrast(prob=0.5, gamma=(0.6, 1.6)),
                mt.RandScaleIntensity(factors=0.25, prob=0.5),
                mt.RandShiftIntensity(offsets=0.08, prob=0.5),
                mt.RandGaussianNoise(prob=0.5, std=0.03),
                mt.RandGaussianSmooth(sigma_x=(0.3, 1.2), sigma_y=(0.3, 1.2), prob=0.5),
            ]
        )
        self.transform.set_random_state(seed=seed)

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, target = self.split[index]
        out = self.transform(image)
        out = out.as_tensor() if hasattr(out, "as_tensor") else torch.as_tensor(out)
        return out.float().clamp(0.0, 1.0).contiguous(), target


def rings_to_masks(model_pixels: np.ndarray, size: int) -> np.ndarray:
    """Bool ``(n, 3, size, size)`` organ masks (RL, LL, H) from landmarks ``(n, 120, 2)`` in pixels of the
    ``size x size`` image."""
    from sciconv_medseg.chest_landmarks_io import ORGANS, landmarks_to_masks

    out = np.zeros((len(model_pixels), len(ORGANS), size, size), dtype=bool)
    for i, lm in enumerate(model_pixels):
        masks = landmarks_to_masks(lm, (size, size))
        for k, organ in enumerate(ORGANS):
            out[i, k] = masks[organ]
    return out


def gt_masks(split: Any) -> np.ndarray:
    """The ground-truth organ masks of a split, bool ``(n, 3, S, S)``."""
    return rings_to_masks(split.model_pixels(), split.image_size)


def hd95(pred: np.ndarray, truth: np.ndarray, spacing: tuple[float, float], percentile: float | None) -> float:
    """The (percentile) symmetric Hausdorff distance between two bool ``(H, W)`` masks in units of ``spacing``
    (row, column); NaN when either mask is empty."""
    from monai.metrics import compute_hausdorff_distance

    if not pred.any() or not truth.any():
        return math.nan
    with warnings.catch_warnings():  # MONAI 1.5+ warns about its own deprecated internal argument
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        value = compute_hausdorff_distance(
            torch.from_numpy(pred[None, None]),
            torch.from_numpy(truth[None, None]),
            include_background=True,
            percentile=percentile,
            spacing=[list(spacing)],
        )
    return float(value.reshape(-1)[0])


def score_masks(
    pred: np.ndarray,
    truth: np.ndarray,
    sizes: np.ndarray,
    percentile: float | None = 95.0,
) -> dict[str, Any]:
    """Scores of predicted organ masks against the truth, both bool ``(n, 3, S, S)`` (RL, LL, H), ``sizes`` ``(n,
    2)`` the stored images' ``(H, W)``.

    Returns ``dice_lungs``, ``dice_heart`` (means over images), ``hd95_lungs_px``, ``hd95_heart_px`` (means over
    images with a non-empty prediction, stored-image pixels), ``invalid_masks`` (images with at least one invalid
    organ mask), ``invalid_rl``, ``invalid_ll``, ``invalid_h``, and per image ``per_image`` arrays.
    """
    from sciconv_medseg.chest_landmarks_io import dice, invalid_mask

    n, _, s, _ = pred.shape
    dl, dh, hl, hh = (np.zeros(n) for _ in range(4))
    invalid = np.zeros((n, 3), dtype=bool)
    for i in range(n):
        spacing = (float(sizes[i][0]) / s, float(sizes[i][1]) / s)
        lungs_p, lungs_t = pred[i, 0] | pred[i, 1], truth[i, 0] | truth[i, 1]
        dl[i] = dice(lungs_p, lungs_t)
        dh[i] = dice(pred[i, 2], truth[i, 2])
        hl[i] = hd95(lungs_p, lungs_t, spacing, percentile)
        hh[i] = hd95(pred[i, 2], truth[i, 2], spacing, percentile)
        invalid[i] = [invalid_mask(pred[i, k]) for k in range(3)]

    def finite_mean(a: np.ndarray) -> float:
        ok = np.isfinite(a)
        return float(a[ok].mean()) if ok.any() else math.nan

    return {
        "dice_lungs": float(dl.mean()),
        "dice_heart": float(dh.mean()),
        "hd95_lungs_px": finite_mean(hl),
        "hd95_heart_px": finite_mean(hh),
        "invalid_masks": int(invalid.any(axis=1).sum()),
        "invalid_rl": int(invalid[:, 0].sum()),
        "invalid_ll": int(invalid[:, 1].sum()),
        "invalid_h": int(invalid[:, 2].sum()),
        "per_image": {"dice_lungs": dl, "dice_heart": dh, "invalid": invalid},
    }


def crossed_rings(landmarks: np.ndarray) -> int:
    """The number of images, of landmarks ``(n, 120, 2)``, with at least one organ ring that crosses itself (the way a
    landmark model's mask becomes invalid: the filled ring gets a hole or a second component)."""
    from sciconv_medseg.chest_landmarks_io import organ_slices, ring_crossings

    return int(sum(any(ring_crossings(lm[s]) for s in organ_slices().values()) for lm in landmarks))


def landmark_error_px(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean distance per landmark, ``(n, 120)``, between two ``(n, 120, 2)`` arrays in pixels."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(truth, np.float64), axis=-1)


class ChestAnatomyTask(TaskBase):
    """HybridGNet against a UNet on chest radiographs: Dice, Hausdorff, landmark error and anatomical plausibility
    (topologically invalid masks), clean, occluded and domain-shifted. See the module docstring for the protocol.

    Args:
        kl_weight: weight of the latent's KL term in HybridGNet's loss, the KL averaged over the latent's dimensions
            (official trainer: 1e-5).
        deep_supervision: include the skip connections' intermediate predictions in the loss (the paper does).
        baseline: train and score the UNet baseline.
        unet: the baseline's settings: model (``channels``, ``strides``, ``num_res_units``, ``kernel_size``,
            ``norm``, ``dropout``; the registered ``medseg.unet``,
            :func:`~sciconv_medseg.models.unet.UNetNet`) and schedule (``epochs``, ``lr``, ``batch_size``; default the
            pipeline's ``train`` section).
        hd_percentile: percentile of the Hausdorff distance (95; ``null`` for the plain maximum distance).
        augment: random intensity changes of the training images for both models (:class:`IntensityAugmented`).
        n_overlays: test cases shown in the overlay figure (0: none).
    """

    def __init__(
        self,
        kl_weight: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 1e-5,
        deep_supervision: StrictBool = True,
        baseline: StrictBool = True,
        unet: Mapping[str, Any] | None = None,
        hd_percentile: Annotated[float, Field(gt=0.0, le=100.0)] | None = 95.0,
        augment: StrictBool = True,
        n_overlays: Annotated[int, Field(ge=0)] = 4,
    ) -> None:
        self.augment = augment
        self.kl_weight = kl_weight
        self.deep_supervision = deep_supervision
        self.baseline = baseline
        self.unet = unet
        self.hd_percentile = hd_percentile
        self.n_overlays = n_overlays

    # -- parameters -------------------------------------------------------------------------------------

    def validate(self) -> None:
        """The check the signature cannot declare: the settings inside ``task.params.unet`` (a mapping of the
        baseline's model and schedule settings). Ranges of the other parameters are declared in ``__init__``'s
        signature and checked with the pipeline's ``task.params``."""
        self._unet_params()

    def _unet_params(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The baseline's model parameters and its fit overrides."""
        if self.unet is None:
            return {}, {}
        if not isinstance(self.unet, Mapping):
            raise ConfigError(f"task.params.unet: expected a mapping of UNet settings, got {self.unet!r}")
        known = (*_UNET_MODEL_KEYS, *_UNET_FIT_KEYS)
        unknown = sorted(set(self.unet) - set(known))
        if unknown:
            from sciconv.errors import did_you_mean

            raise ConfigError(
                f"task.params.unet: unknown setting {unknown[0]!r}{did_you_mean(unknown[0], known)}; "
                f"known: {', '.join(known)}"
            )
        fit = {k: self.unet[k] for k in _UNET_FIT_KEYS if self.unet.get(k) is not None}
        for key in ("epochs", "batch_size"):
            value = fit.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"task.params.unet.{key}: expected a positive integer, got {value!r}")
        lr = fit.get("lr", 1.0)
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ConfigError(f"task.params.unet.lr: expected a positive number, got {lr!r}")
        model = {k: self.unet[k] for k in _UNET_MODEL_KEYS if k in self.unet}
        return model, fit

    # -- the run ----------------------------------------------------------------------------------------

    def run(self, ctx: Any) -> TaskResult:
        from monai.losses import DiceCELoss

        from sciconv_medseg.brats_task import refuse_unlabelled
        from sciconv_medseg.models.hybridgnet import HybridGNet, HybridGNetLoss

        self.validate()
        data = ctx.load_data()
        refuse_unlabelled(data, "medseg.chest-anatomy", "radiograph")
        sets = {
            "clean": data.test,
            "occluded": data.info.get("test_occluded"),
            "shifted": data.info.get("test_shifted"),
        }
        for name, split in sets.items():
            if split is None or not hasattr(split, "model_pixels"):
                raise DataError(
                    f"medseg.chest-anatomy needs the landmark dataset's {name} test set (medseg.chest gives test, "
                    "info['test_occluded'] and info['test_shifted'])"
                )
            if len(split) != len(data.test):
                raise DataError(f"the {name} test set has {len(split)} cases, the clean one {len(data.test)}")
        n_test = len(data.test)

        # 1. HybridGNet, through the engine with the pipeline's train section
        seed_everything(derive_seed(ctx.seed, "hybridgnet-init"))
        model = ctx.build_model(data.spec)
        if not isinstance(model, HybridGNet):
            raise ConfigError(
                "model.name: medseg.chest-anatomy trains a landmark model (medseg.hybridgnet) as the pipeline model, "
                f"got {type(model).__name__}; the UNet baseline is built by the task (task.params.unet)"
            )
        loss = HybridGNetLoss(model, kl_weight=float(self.kl_weight), deep_supervision=self.deep_supervision)
        ctx.log(f"medseg.chest-anatomy: training HybridGNet on {len(data.train)} images of {data.spec.input_shape}")
        train = IntensityAugmented(data.train, derive_seed(ctx.seed, "hybridgnet-aug")) if self.augment else data.train
        fit = ctx.fit(model, train, data.val, loss_fn=loss, name="hybridgnet")
        model = fit.model

        # 2. the UNet baseline
        unet = None
        if self.baseline:
            unet_model, unet_fit = self._unet_params()
            seed_everything(derive_seed(ctx.seed, "unet-init"))
            unet = ctx.build_model(data.spec, name=UNET_MODEL, **unet_model)
            ctx.log("medseg.chest-anatomy: training the UNet baseline")
            train_masks: Any = MaskSplit(data.train)
            if self.augment:
                train_masks = IntensityAugmented(train_masks, derive_seed(ctx.seed, "unet-aug"))
            val_masks = MaskSplit(data.val) if data.val is not None and len(data.val) else None
            unet = ctx.fit(
                unet, train_masks, val_masks, loss_fn=DiceCELoss(sigmoid=True), name="unet", **unet_fit
            ).model

        ctx.save_weights(HYBRIDGNET_WEIGHTS, model)  # what `pipeline predict` applies
        if unet is not None:
            ctx.save_weights(UNET_WEIGHTS, unet)
        mean_shape = data.train.landmarks.mean(dim=0)
        ctx.save_arrays(MEAN_SHAPE, {"landmarks": mean_shape})

        # 3-4. scores on the three test sets
        metrics, kept, reference = self._evaluate(ctx, model, unet, sets, mean_shape)
        plots = []
        if self.n_overlays > 0:
            plots.append(self._overlays(ctx, sets, kept))
        table = self._table(kept, reference)
        sections = self._sections(ctx, data, kept, n_test, fit)
        h = kept[("hybridgnet", "occluded")]
        line = f"occluded: HybridGNet Dice lungs {h['dice_lungs']:.3f}, invalid masks {h['invalid_masks']}/{n_test}"
        if ("unet", "occluded") in kept:
            u = kept[("unet", "occluded")]
            line += f"; UNet Dice lungs {u['dice_lungs']:.3f}, invalid masks {u['invalid_masks']}/{n_test}"
        ctx.log(line)
        return TaskResult(metrics=metrics, model=model, table=table, plots=plots, sections=sections)

    # -- predict ----------------------------------------------------------------------------------------

    def predict(self, ctx: Any, bundle: Any) -> Any:
        """HybridGNet's 120 landmarks and organ masks for each radiograph, with the run's weights
        (``trained/hybridgnet.safetensors``; the UNet's, ``trained/unet.safetensors``, where the run trained it).

        Writes ``masks/<organ>/<case>.png`` (organ ``RL``, ``LL``, ``H``, as the landmark layout names them): the
        predicted ring filled at the stored image's size, 8-bit 0/255 (the organs overlap, so one PNG per organ).
        Tables: ``landmarks`` (``case``, ``organ``, ``index``, ``x``, ``y`` in pixels of the stored image, 120 rows
        per image) and ``predictions`` (one row per image: ``case``, ``split``, ``height``, ``width``,
        ``crossed_ring``, ``invalid_rl`` / ``_ll`` / ``_h``; with labels ``landmark_error_px``, ``dice_lungs``,
        ``dice_heart``, and the UNet's ``unet_dice_lungs``, ``unet_dice_heart``, ``unet_invalid``).

        Metrics: with ``--split test`` the run's test metrics (clean, occluded and shifted test sets, the mean-shape
        reference from the training set's saved mean landmarks), reproduced exactly; otherwise the clean scores of
        every image as ``all.<model>.<metric>``.

        Images without landmarks (``dataset.params.labels=optional``) are predicted and not scored: their rows have
        no ``landmark_error_px`` / ``dice_*`` (the UNet's ``unet_invalid`` needs no labels); the metrics are the
        clean scores of the labelled images only (``n_test`` / ``all.n_images`` counts them), none when no image
        has landmarks.
        """
        import pandas as pd

        from sciconv import PredictionResult
        from sciconv.errors import DataError
        from sciconv_medseg.chest_landmarks_io import ORGANS, organ_slices, ring_crossings

        self.validate()
        spec = ctx.spec or bundle.spec
        model = ctx.load_weights(HYBRIDGNET_WEIGHTS, ctx.build_model(spec))
        unet = None
        if ctx.trained.has(UNET_WEIGHTS):
            unet = ctx.load_weights(UNET_WEIGHTS, ctx.build_model(spec, name=UNET_MODEL, **self._unet_params()[0]))
        mean_shape = torch.from_numpy(ctx.load_arrays(MEAN_SHAPE)["landmarks"])
        unlabelled = [
            p for name in (("test",) if ctx.split == "test" else ("train", "val", "test"))
            if (p := getattr(bundle, name)) is not None and len(p) and not torch.isfinite(p.landmarks).all()
        ]  # fmt: skip
        if unlabelled:
            return self._predict_unlabelled(ctx, bundle, model, unet, mean_shape)
        if ctx.split == "test":
            if bundle.test is None or not len(bundle.test):
                raise DataError("--split test: the chest data have no test images")
            sets = {"clean": bundle.test}
            for condition in ("occluded", "shifted"):
                extra = bundle.info.get(f"test_{condition}")
                if extra is not None and len(extra) == len(bundle.test):
                    sets[condition] = extra
            split_names = ["test"] * len(bundle.test)
            metrics, kept, _ = self._evaluate(ctx, model, unet, sets, mean_shape)
        else:
            parts = [(name, p) for name in ("train", "val", "test") if (p := getattr(bundle, name)) is not None]
            parts = [(name, p) for name, p in parts if len(p)]
            if not parts:
                raise DataError("the chest data hold no image to predict")
            sets = {"clean": _concat_splits([p for _, p in parts])}
            split_names = [name for name, p in parts for _ in range(len(p))]
            scores, kept, _ = self._evaluate(ctx, model, unet, sets, mean_shape)
            metrics = {f"all.{k}": v for k, v in scores.items() if k != "n_test" and not k.startswith("mean_shape.")}
            metrics["all.n_images"] = len(sets["clean"])
        clean = sets["clean"]
        hgn = kept[("hybridgnet", "clean")]
        pixels = clean.pixels(hgn["landmarks"])
        slices = organ_slices()
        folder = Path(ctx.out_dir) / "masks"
        marks = _write_masks(folder, clean, pixels)
        rows = []
        for i, case in enumerate(clean.case_ids):
            h, w = (int(v) for v in clean.sizes[i])
            invalid = hgn["per_image"]["invalid"][i]
            row: dict[str, Any] = {
                "case": case,
                "split": split_names[i],
                "height": h,
                "width": w,
                "crossed_ring": any(ring_crossings(pixels[i, s]) for s in slices.values()),
                **{f"invalid_{_ORGAN_KEYS[o]}": bool(invalid[k]) for k, o in enumerate(ORGANS)},
                "landmark_error_px": float(hgn["landmark_error_per_image"][i]),
                "dice_lungs": float(hgn["per_image"]["dice_lungs"][i]),
                "dice_heart": float(hgn["per_image"]["dice_heart"][i]),
            }
            if ("unet", "clean") in kept:
                u = kept[("unet", "clean")]["per_image"]
                row["unet_dice_lungs"] = float(u["dice_lungs"][i])
                row["unet_dice_heart"] = float(u["dice_heart"][i])
                row["unet_invalid"] = bool(u["invalid"][i].any())
            rows.append(row)
        ctx.log(f"medseg.chest-anatomy: landmarks and masks of {len(rows)} image(s)")
        tables = {"predictions": pd.DataFrame(rows), "landmarks": pd.DataFrame(marks)}
        return PredictionResult(tables=tables, metrics=metrics, files=[folder])

    def _predict_unlabelled(self, ctx: Any, bundle: Any, model: Any, unet: Any, mean_shape: torch.Tensor) -> Any:
        """``predict`` on data of which some images have no landmarks (NaN): landmarks, masks and the label-free
        columns for every image; scores (clean condition) for the labelled ones only."""
        import pandas as pd

        from sciconv import PredictionResult
        from sciconv.errors import DataError
        from sciconv_medseg.chest_landmarks_io import (
            ORGANS,
            invalid_mask,
            organ_slices,
            ring_crossings,
        )

        names = ("test",) if ctx.split == "test" else ("train", "val", "test")
        parts = [(name, p) for name in names if (p := getattr(bundle, name)) is not None and len(p)]
        if not parts:
            raise DataError("the chest data hold no image to predict")
        clean = _concat_splits([p for _, p in parts])
        split_names = [name for name, p in parts for _ in range(len(p))]
        pred_lm = ctx.predict(model, clean)[0].numpy()
        size = clean.image_size
        pred_masks = rings_to_masks(clean.model_pixels(pred_lm), size)
        invalid = np.array([[invalid_mask(m[k]) for k in range(3)] for m in pred_masks], dtype=bool).reshape(-1, 3)
        unet_invalid = None
        if unet is not None:
            logits = ctx.predict(unet, clean)[0].numpy()  # the UNet sees the image only
            unet_invalid = [any(invalid_mask(m[k]) for k in range(3)) for m in logits > 0.0]

        labelled = np.flatnonzero(torch.isfinite(clean.landmarks).all(dim=2).all(dim=1).numpy())
        metrics: dict[str, Any] = {}
        scores: dict[int, dict[str, Any]] = {}
        if len(labelled):
            sub = _subset(clean, labelled)
            found, kept, _ = self._evaluate(ctx, model, unet, {"clean": sub}, mean_shape)
            if ctx.split == "test":
                metrics = found
            else:
                metrics = {f"all.{k}": v for k, v in found.items() if k != "n_test" and not k.startswith("mean_shape.")}
                metrics["all.n_images"] = len(sub)
            hgn = kept[("hybridgnet", "clean")]
            for j, i in enumerate(labelled):
                scores[int(i)] = {
                    "landmark_error_px": float(hgn["landmark_error_per_image"][j]),
                    "dice_lungs": float(hgn["per_image"]["dice_lungs"][j]),
                    "dice_heart": float(hgn["per_image"]["dice_heart"][j]),
                }
                if ("unet", "clean") in kept:
                    u = kept[("unet", "clean")]["per_image"]
                    scores[int(i)]["unet_dice_lungs"] = float(u["dice_lungs"][j])
                    scores[int(i)]["unet_dice_heart"] = float(u["dice_heart"][j])

        pixels = clean.pixels(pred_lm)
        slices = organ_slices()
        folder = Path(ctx.out_dir) / "masks"
        marks = _write_masks(folder, clean, pixels)
        rows = []
        for i, case in enumerate(clean.case_ids):
            h, w = (int(v) for v in clean.sizes[i])
            row: dict[str, Any] = {
                "case": case,
                "split": split_names[i],
                "height": h,
                "width": w,
                "crossed_ring": any(ring_crossings(pixels[i, s]) for s in slices.values()),
                **{f"invalid_{_ORGAN_KEYS[o]}": bool(invalid[i, k]) for k, o in enumerate(ORGANS)},
                **scores.get(i, {}),
            }
            if unet_invalid is not None:
                row["unet_invalid"] = bool(unet_invalid[i])
            rows.append(row)
        ctx.log(
            f"medseg.chest-anatomy: landmarks and masks of {len(rows)} image(s), {len(rows) - len(labelled)} without "
            "landmarks (not scored)"
        )
        tables = {"predictions": pd.DataFrame(rows), "landmarks": pd.DataFrame(marks)}
        return PredictionResult(tables=tables, metrics=metrics, files=[folder])

    def _evaluate(
        self, ctx: Any, model: Any, unet: Any, sets: Mapping[str, Any], mean_shape: torch.Tensor
    ) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
        """The run's test metrics (module docstring, steps 3-4) of the trained models on the paired test ``sets``
        (``clean``, and ``occluded`` / ``shifted`` where given), the per-condition scores, and the mean-shape
        reference's scores. ``run`` and ``predict --split test`` both score through here."""
        n_test = len(sets["clean"])
        metrics: dict[str, Any] = {"n_test": n_test}
        kept: dict[tuple[str, str], dict[str, Any]] = {}
        for condition, split in sets.items():
            truth = gt_masks(split)
            pred_lm, _ = ctx.predict(model, split)
            pred_lm = pred_lm.numpy()
            hgn = score_masks(
                rings_to_masks(split.model_pixels(pred_lm), split.image_size), truth, split.sizes, self.hd_percentile
            )
            errors = landmark_error_px(split.pixels(pred_lm), split.pixels())
            hgn["landmark_error_px"] = float(errors.mean())
            hgn["landmark_error_per_image"] = errors.mean(axis=1)
            hgn["crossed_rings"] = crossed_rings(split.model_pixels(pred_lm))
            hgn["landmarks"] = pred_lm
            kept[("hybridgnet", condition)] = hgn
            if unet is not None:
                logits, _ = ctx.predict(unet, MaskSplit(split))
                masks = logits.numpy() > 0.0  # sigmoid > 0.5, no post-processing
                scored = score_masks(masks, truth, split.sizes, self.hd_percentile)
                scored["masks"] = masks
                kept[("unet", condition)] = scored
        # the reference every image model must beat: the training set's mean shape, whatever the image
        clean = sets["clean"]
        mean = mean_shape[None].repeat(n_test, 1, 1).numpy()
        reference = score_masks(
            rings_to_masks(clean.model_pixels(mean), clean.image_size), gt_masks(clean), clean.sizes, self.hd_percentile
        )
        reference["landmark_error_px"] = float(landmark_error_px(clean.pixels(mean), clean.pixels()).mean())
        for key in ("dice_lungs", "dice_heart", "landmark_error_px", "invalid_masks"):
            metrics[f"mean_shape.{key}"] = reference[key]
        names = ("dice_lungs", "dice_heart", "hd95_lungs_px", "hd95_heart_px", "landmark_error_px", "invalid_masks")
        names += ("invalid_rl", "invalid_ll", "invalid_h", "crossed_rings")
        for (model_name, condition), scores in kept.items():
            for key in names:
                # a Hausdorff distance is undefined when every predicted mask is empty: the key is left out
                if key in scores and math.isfinite(scores[key]):
                    metrics[f"{model_name}.{condition}.{key}"] = scores[key]
        for model_name in ("hybridgnet", "unet"):
            if (model_name, "occluded") in kept:
                occluded = kept[(model_name, "occluded")]
                for key in ("dice_lungs", "dice_heart", "landmark_error_px", "invalid_masks"):
                    if key in occluded:
                        metrics[f"{model_name}.{key}"] = occluded[key]
        return metrics, kept, reference

    # -- report -----------------------------------------------------------------------------------------

    def _table(
        self, kept: Mapping[tuple[str, str], Mapping[str, Any]], reference: Mapping[str, Any]
    ) -> list[ResultRow]:
        label = {"hybridgnet": "HybridGNet", "unet": "UNet (MONAI, no post-processing)"}
        rows = []
        for condition in CONDITIONS:
            for model_name in ("hybridgnet", "unet"):
                scores = kept.get((model_name, condition))
                if scores is None:
                    continue
                shown = {
                    "dice_lungs": scores["dice_lungs"],
                    "dice_heart": scores["dice_heart"],
                    "hd95_lungs_px": scores["hd95_lungs_px"],
                    "hd95_heart_px": scores["hd95_heart_px"],
                    "landmark_error_px": scores.get("landmark_error_px", "n/a"),
                    "invalid_masks": scores["invalid_masks"],
                }
                rows.append(ResultRow(f"{label[model_name]}, {condition}", shown))
        rows.append(
            ResultRow(
                "mean shape (training mean, ignores the image)",
                {
                    "dice_lungs": reference["dice_lungs"],
                    "dice_heart": reference["dice_heart"],
                    "hd95_lungs_px": reference["hd95_lungs_px"],
                    "hd95_heart_px": reference["hd95_heart_px"],
                    "landmark_error_px": reference["landmark_error_px"],
                    "invalid_masks": reference["invalid_masks"],
                },
                source="this run: the reference an image model must beat (same on every condition)",
            )
        )
        rows += [record.row() for record in CHEST_TASK]
        return rows

    def _sections(
        self, ctx: Any, data: Any, kept: Mapping[tuple[str, str], Any], n_test: int, fit: Any
    ) -> dict[str, str]:
        info = data.info
        shift = ", ".join(f"{k} {v:g}" for k, v in info.get("shift", {}).items())
        train = ctx.config.train
        pct = (
            "95th-percentile"
            if self.hd_percentile == 95
            else ("maximum" if self.hd_percentile is None else f"{self.hd_percentile:g}th-percentile")
        )
        lines = [
            f"Test sets: {n_test} images, each scored three times: clean; occluded (each case occluded with "
            f"probability {info.get('occlusion', 1.0):g} by one to three rectangles or blobs of side "
            f"{info.get('occlusion_size', 0.2):g} of the image, centred on the lungs or heart); and under the domain "
            f"shift `{info.get('shift_name', '?')}` ({shift}). The three are the same cases (same anatomy and "
            "landmarks).",
            "",
            "HybridGNet's masks are its predicted rings filled; the UNet's are `sigmoid > 0.5` per organ channel, with "
            "no post-processing. A mask is *invalid* when it is empty, has more than one connected component "
            "(8-connectivity) or holes (4-connected background); `invalid_masks` counts images with at least one "
            "invalid organ mask (per organ: `invalid_rl`, `invalid_ll`, `invalid_h` in metrics.json). Dice of the "
            "lungs is that of the union of both lungs; HD is the "
            f"{pct} symmetric Hausdorff distance (MONAI) in pixels of the stored images, averaged over images with "
            "a non-empty predicted mask; the landmark error is the mean Euclidean distance of the 120 landmarks in "
            "pixels of the stored images.",
            "",
            f"Data: {info.get('source', '?')}; models see {data.spec.input_shape[1]}x{data.spec.input_shape[2]} px. "
            f"HybridGNet trained {len(fit.history)} epochs (best validated epoch {fit.best_epoch}) with "
            f"{train.optimizer} lr {train.lr:g}, batch {train.batch_size}, KL weight {float(self.kl_weight):g}.",
        ]
        deviations = [
            "- Image size: the paper trains at 1024x1024 px; this run's models see "
            f"{data.spec.input_shape[1]} px (`dataset.params.image_size`).",
            "- Schedule: the authors' reference trainer uses Adam, lr 1e-4, batch 4, for thousands of epochs with "
            "random scale, crop, colour and rotation augmentation; this run uses the pipeline's `train` section and "
            "no augmentation.",
            "- The published numbers are on real JSRT radiographs; on simulated data they are a reference for the "
            "scale of the numbers, not a comparison.",
            "- The paper's pixel baselines (UNet and others) are its own implementations; here the baseline is "
            "MONAI's UNet with a sigmoid per organ (the heart overlaps the lungs) trained with Dice + BCE. Its "
            "instance normalisation rescales each image's intensities, which shields it from a global contrast or "
            "gamma change; HybridGNet's encoder has no such normalisation and, without the authors' intensity "
            "augmentation, has never seen such a change in training.",
            "- A HybridGNet mask can be invalid only where a predicted ring crosses itself (`crossed_rings` counts "
            "images with a crossing; a crossing loop smaller than a pixel leaves the mask valid): the graph fixes one "
            "closed contour per organ, not that the contour is simple.",
        ]
        return {"Protocol": "\n".join(lines), "Deviations from the paper": "\n".join(deviations)}

    def _overlays(self, ctx: Any, sets: Mapping[str, Any], kept: Mapping[tuple[str, str], Any]) -> tuple[Path, str]:
        from sciconv_medseg.chest_landmarks_io import organ_slices

        n_test = len(sets["clean"])
        if ("unet", "occluded") in kept:
            bad = kept[("unet", "occluded")]["per_image"]["invalid"].sum(axis=1)
            order = sorted(range(n_test), key=lambda i: (-int(bad[i]), i))
            how = "the cases where the UNet's occluded masks have the most invalid organs"
        else:
            order = list(range(n_test))
            how = "the first test cases"
        cases = order[: min(self.n_overlays, n_test)]
        conditions = list(CONDITIONS)
        fig, axes = new_figure(len(conditions), len(cases), figsize=(2.6 * len(cases), 2.7 * len(conditions)))
        slices = organ_slices()
        for r, condition in enumerate(conditions):
            split = sets[condition]
            gt = split.model_pixels()
            hgn = split.model_pixels(kept[("hybridgnet", condition)]["landmarks"])
            unet = kept.get(("unet", condition))
            for c, i in enumerate(cases):
                ax = axes[r, c]
                ax.imshow(split.images[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                for s in slices.values():
                    ring = np.vstack([gt[i, s], gt[i, s][:1]])
                    ax.plot(ring[:, 0], ring[:, 1], color="lime", lw=0.9)
                    ring = np.vstack([hgn[i, s], hgn[i, s][:1]])
                    ax.plot(ring[:, 0], ring[:, 1], color="red", lw=0.9)
                if unet is not None:
                    for k in range(3):
                        mask = unet["masks"][i, k].astype(float)
                        if mask.any():
                            ax.contour(mask, levels=[0.5], colors="deepskyblue", linewidths=0.8)
                title = f"{split.case_ids[i]} {condition}"
                if unet is not None:
                    title += f"\nUNet invalid: {int(unet['per_image']['invalid'][i].sum())}/3"
                ax.set_title(title, fontsize=7)
                ax.set_axis_off()
        fig.suptitle("ground truth (green), HybridGNet (red), UNet sigmoid > 0.5 (blue)", fontsize=8)
        fig.tight_layout()
        path = save_figure(fig, ctx.plots_dir / "overlays.png")
        caption = (
            f"Test images clean, occluded and shifted ({how}): annotated rings (green), HybridGNet's predicted rings "
            "(red) and the UNet's mask outlines (blue, no post-processing)."
        )
        return path, caption


def _subset(split: Any, index: Any) -> Any:
    """The items ``index`` (in that order) of a :class:`~sciconv_medseg.chest_datasets.ChestSplit`."""
    from sciconv_medseg.chest_datasets import ChestSplit

    rows = [int(i) for i in index]
    return ChestSplit(
        images=split.images[rows],
        landmarks=split.landmarks[rows],
        sizes=split.sizes[rows],
        case_ids=[split.case_ids[i] for i in rows],
    )


def _concat_splits(splits: list[Any]) -> Any:
    """One :class:`~sciconv_medseg.chest_datasets.ChestSplit` of several, in order."""
    from sciconv_medseg.chest_datasets import ChestSplit

    if len(splits) == 1:
        return splits[0]
    return ChestSplit(
        images=torch.cat([s.images for s in splits]),
        landmarks=torch.cat([s.landmarks for s in splits]),
        sizes=np.concatenate([s.sizes for s in splits]),
        case_ids=[c for s in splits for c in s.case_ids],
    )


def _write_masks(folder: Path, images: Any, pixels: np.ndarray) -> list[dict[str, Any]]:
    """Write each image's filled organ masks as ``folder/<organ>/<case>.png`` (0/255, at the stored image size)
    from its predicted landmarks ``pixels`` (n, 120, 2) in stored-image pixels; returns the landmark rows
    (case, organ, index, x, y)."""
    from PIL import Image

    from sciconv_medseg.chest_landmarks_io import ORGANS, landmarks_to_masks, organ_slices

    slices = organ_slices()
    marks: list[dict[str, Any]] = []
    for i, case in enumerate(images.case_ids):
        h, w = (int(v) for v in images.sizes[i])
        masks = landmarks_to_masks(pixels[i], (h, w))
        for organ in ORGANS:
            (folder / organ).mkdir(parents=True, exist_ok=True)
            Image.fromarray(masks[organ].astype(np.uint8) * 255).save(folder / organ / f"{case}.png")
            for k, (x, y) in enumerate(pixels[i, slices[organ]]):
                marks.append({"case": case, "organ": organ, "index": k, "x": float(x), "y": float(y)})
    return marks
