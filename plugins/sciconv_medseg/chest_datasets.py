"""The chest X-ray landmark dataset (HybridGNet's 120 landmarks) as a sciconv dataset component.

:class:`ChestLandmarkDataset` reads a folder in the landmark layout of the public "Chest X-ray landmark database"
(Gaggion et al., IEEE TMI 2022; :mod:`.chest_landmarks_io`), or, without ``root``, simulates one with the shape-model
simulator (:mod:`.chest_simulator`), writes it in that layout and reads it back with the same reader, so the real
reader is what every run exercises.

Items are ``(x, y)``: ``x`` float32 ``(1, S, S)``, the radiograph in ``[0, 1]`` resized to the side ``S =
image_size`` the models see (MONAI ``Resize``: area averaging when shrinking, bilinear when enlarging; a non-square
image is stretched to the square, as HybridGNet's preprocessing rescales to a square); ``y`` float32 ``(120, 2)``,
the landmarks normalised by the stored image's size, ``(x / W, y / H)`` in ``[0, 1]``, rows right lung 44, left lung
50, heart 26. Normalised landmarks do not depend on ``S``; a split's :attr:`ChestSplit.sizes` keeps each stored
image's ``(H, W)``, so that errors can be reported in pixels of the stored image.

The bundle's ``info`` carries the stress-test sets of HybridGNet's paper, paired case by case with ``test``:

- ``info["test_occluded"]``: the same test cases with occlusions (:func:`.chest_simulator.apply_occlusions`: one to
  three rectangles or blobs over the lungs and heart, each case occluded with probability ``occlusion``). Simulated:
  the same seeds simulated with occlusion, so the anatomy and the radiograph are those of the clean case; real: the
  occlusions drawn on the stored test images with a fixed seed.
- ``info["test_shifted"]``: the same cases under a domain shift (:class:`.chest_simulator.DomainShift`: gamma,
  contrast, brightness, extra noise and blur; preset ``shift``). Simulated: rendered with the shift; real:
  :func:`.chest_simulator.apply_domain_shift` on the stored test images.

Simulated data are written once per set of simulation parameters into the simulation cache
(:func:`sciconv.kit.cached_simulation`: ``<cache>/chest-<hash of the parameters>``, written atomically; ``cache_dir``,
default ``$SCICONV_CACHE_DIR/simulations`` or ``~/.cache/sciconv/simulations``), reused by later runs, and read back
into memory.

Splits of a real folder. If ``root`` holds sub-folders ``train/`` and ``test/`` (and optionally ``val/``; names may be
capitalised, as in HybridGNet's own ``Train``/``Val``/``Test`` folders), each in the landmark layout, they are the
splits. Otherwise the cases of ``root`` are split at random with ``seed`` (:func:`sciconv.kit.random_split`):
``test_fraction`` for test, ``val_fraction`` for validation (a fraction ``f > 0`` of ``n`` cases gives
``max(1, round(f n))`` of them), the rest for training.

New radiographs for ``pipeline predict`` (``labels="optional"``): images without landmark files (or a folder
without ``landmarks/``) are kept as unlabelled cases, their landmarks NaN (an image with some but not all organ
files is still an error); a flat folder's cases all go to ``test`` (no random split, nothing to train on), a folder
with split sub-folders keeps them; there are no occluded or shifted test sets (``info["test_occluded"]`` and
``info["test_shifted"]`` are ``None``). A run refuses such a bundle (``info["labels"] == "optional"``).

Checks beyond the reader's (which names the case and file for a wrong landmark count, a transposed array, a colour or
multi-frame image, landmarks outside the image): each organ's ring must not cross itself (landmarks out of outline
order), and every case's rings must run the same way round as most cases' rings of that organ (a ring stored in
reverse order breaks the point-to-point correspondence the model learns). Both raise a
:class:`~sciconv.errors.DataError` naming the case and the organ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_simulation, derive_seed, random_split, require_root

_SPLIT_DIRS: dict[str, tuple[str, ...]] = {
    "train": ("train", "Train"),
    "val": ("val", "Val", "validation", "Validation"),
    "test": ("test", "Test"),
}
_CACHE_VERSION = 1
ROOT_EXPECTED = "a chest X-ray landmark-layout folder (images/, landmarks/) or one with train/ and test/ in it"

ImageShape = Annotated[Sequence[Annotated[int, Field(ge=32)]], Field(min_length=2, max_length=2)]
"""``[H, W]`` of a simulated radiograph, two sides of at least 32 pixels."""


@dataclass
class ChestSplit:
    """One split, map-style: item ``i`` is ``(images[i], landmarks[i])``.

    Attributes:
        images: float32 ``(n, 1, S, S)`` in ``[0, 1]``, resized to the models' side ``S``.
        landmarks: float32 ``(n, 120, 2)``, ``(x / W, y / H)`` of each stored image.
        sizes: int64 ``(n, 2)``, each stored image's ``(H, W)`` in pixels.
        case_ids: the cases' ids, in item order.
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    sizes: np.ndarray
    case_ids: list[str]

    def __len__(self) -> int:
        return len(self.case_ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.landmarks[index]

    @property
    def image_size(self) -> int:
        """The side ``S`` of the images the models see."""
        return int(self.images.shape[-1])

    def pixels(self, normalised: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        """Landmarks ``(n, 120, 2)`` (default: this split's) from normalised units to pixels of each stored image:
        ``(x W, y H)``."""
        lm = self.landmarks if normalised is None else normalised
        lm = lm.detach().cpu().numpy() if isinstance(lm, torch.Tensor) else np.asarray(lm)
        return lm * self.sizes[:, None, ::-1].astype(np.float64)

    def model_pixels(self, normalised: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        """Landmarks ``(n, 120, 2)`` (default: this split's) from normalised units to pixels of the resized
        ``S x S`` image, with pixel centres mapped as the resize maps them: ``x_S = (x + 1/2) S / W - 1/2``."""
        px = self.pixels(normalised)
        scale = self.image_size / self.sizes[:, None, ::-1].astype(np.float64)
        return (px + 0.5) * scale - 0.5


def resize_image(image: np.ndarray, size: int) -> torch.Tensor:
    """A float ``(H, W)`` image as float32 ``(1, size, size)``: MONAI ``Resize`` with area averaging when shrinking
    (no aliasing) and bilinear interpolation when enlarging."""
    from monai.transforms import Resize

    h, w = image.shape
    mode = "area" if size <= min(h, w) else "bilinear"
    kwargs: dict[str, Any] = {} if mode == "area" else {"align_corners": False}
    out = Resize((size, size), mode=mode, **kwargs)(torch.from_numpy(np.ascontiguousarray(image, np.float32))[None])
    out = out.as_tensor() if hasattr(out, "as_tensor") else out
    return out.to(torch.float32).clamp_(0.0, 1.0)


def make_split(
    images: Sequence[np.ndarray], landmarks: Sequence[np.ndarray], case_ids: Sequence[str], size: int
) -> ChestSplit:
    """A :class:`ChestSplit` from stored images (float ``(H, W)`` in ``[0, 1]``) and their landmarks (float
    ``(120, 2)`` pixels)."""
    sizes = np.array([img.shape for img in images], dtype=np.int64).reshape(-1, 2)
    x = torch.stack([resize_image(img, size) for img in images]) if len(images) else torch.zeros(0, 1, size, size)
    norm = [
        np.asarray(lm, np.float64) / np.array([s[1], s[0]], np.float64) for lm, s in zip(landmarks, sizes, strict=True)
    ]
    y = torch.from_numpy(np.stack(norm).astype(np.float32)) if norm else torch.zeros(0, 120, 2)
    return ChestSplit(images=x, landmarks=y, sizes=sizes, case_ids=list(case_ids))


def _read_cases(
    root: Path, only: Sequence[str] | None = None, require_landmarks: bool = True
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Read the cases of a layout folder (all, or the ids ``only`` in that order), checking landmark order. With
    ``require_landmarks=False`` a case without landmark files gets NaN landmarks ``(120, 2)``."""
    from sciconv_medseg.chest_landmarks_io import (
        N_LANDMARKS,
        check_landmark_order,
        list_chest_cases,
        read_chest_case,
        read_chest_image,
    )

    cases = {c.case_id: c for c in list_chest_cases(root, require_landmarks=require_landmarks)}
    ids = list(cases) if only is None else list(only)
    images, marks = [], []
    for case_id in ids:
        if not cases[case_id].labelled:
            images.append(read_chest_image(cases[case_id]))
            marks.append(np.full((N_LANDMARKS, 2), np.nan, np.float32))
            continue
        image, lm = read_chest_case(cases[case_id])
        check_landmark_order(lm, f"case {case_id!r} ({root})")
        images.append(image)
        marks.append(lm)
    return images, marks, ids


def check_orientations(landmarks: Sequence[np.ndarray], case_ids: Sequence[str], where: str) -> None:
    """Raise a :class:`DataError` naming the case and organ when a case's ring runs the other way round from most
    cases' rings of that organ (ties go to the simulator's convention, clockwise on screen)."""
    from sciconv_medseg.chest_landmarks_io import ORGAN_NAMES, ORGANS, ring_orientations

    if not landmarks:
        return
    signs = [ring_orientations(lm) for lm in landmarks]
    for organ in ORGANS:
        values = np.array([s[organ] for s in signs])
        reference = 1 if (values > 0).sum() >= (values < 0).sum() else -1
        bad = np.flatnonzero(values != reference)
        if len(bad):
            k = int(bad[0])
            way = {1: "clockwise", -1: "counter-clockwise", 0: "with no area"}
            raise DataError(
                f"case {case_ids[k]!r} ({where}): the {ORGAN_NAMES[organ]} ring runs {way[int(values[k])]} on screen "
                f"while {int((values == reference).sum())} of {len(values)} cases' rings run {way[reference]}; its "
                f"landmarks look stored in reverse order ({len(bad)} case(s) disagree)"
            )


class ChestLandmarkDataset(DatasetBase):
    """Chest radiographs with HybridGNet's 120 landmarks (right lung 44, left lung 50, heart 26): a real folder in
    the landmark layout (``root``), or simulated data written in that layout and read back. See the module
    docstring for items, splits, the stress-test sets in ``info`` and the checks.

    Args:
        root: a landmark-layout folder (``images/``, ``landmarks/``), or one with ``train/``, ``val/``, ``test/``
            sub-folders in that layout; ``None`` simulates.
        n_train, n_val, n_test: simulated cases per split.
        image_size: the side ``S`` (pixels) the images are resized to for the models; a multiple of 16.
        sim_shape: ``(H, W)`` of the simulated radiographs (the stored resolution errors are reported in).
        seed: seeds the simulation (each split its own stream) and the random split of a real folder.
        val_fraction, test_fraction: shares of a real folder's cases held out, when it has no split sub-folders
            (the test share must be positive: the task scores the test set).
        occlusion: probability that a case of the occluded test set is occluded (1.0: every case).
        occlusion_size: side of an occluding shape as a fraction of the image side.
        shift: the domain shift of the shifted test set: a preset (``mild``, ``strong``) or a mapping of
            :class:`~sciconv_medseg.chest_simulator.DomainShift` fields.
        cache_dir: the simulation cache's folder (default ``None``: ``$SCICONV_CACHE_DIR/simulations`` or
            ``~/.cache/sciconv/simulations``); simulated data are kept in a sub-folder named by a hash of the
            simulation's parameters and reused.
        labels: ``required`` (the default): every image needs its landmark files. ``optional``: for ``pipeline
            predict`` on new radiographs: images without landmarks are kept (NaN landmarks; predicted, not scored),
            all in ``test`` unless ``root`` has split sub-folders, with no occluded or shifted test sets; a run
            refuses such data. Needs ``root``.
    """

    def __init__(
        self,
        root: str | None = None,
        n_train: Annotated[int, Field(ge=1)] = 160,
        n_val: Annotated[int, Field(ge=0)] = 20,
        n_test: Annotated[int, Field(ge=1)] = 40,
        image_size: Annotated[int, Field(ge=32)] = 128,
        sim_shape: ImageShape = (256, 256),
        seed: Annotated[int, Field(ge=0)] = 0,
        val_fraction: Annotated[float, Field(ge=0.0, le=0.9)] = 0.1,
        test_fraction: Annotated[float, Field(gt=0.0, le=0.9)] = 0.2,
        occlusion: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0,
        occlusion_size: Annotated[float, Field(gt=0.0, le=1.0)] = 0.2,
        shift: str | Mapping[str, float] = "strong",
        cache_dir: str | None = None,
        labels: Literal["required", "optional"] = "required",
    ) -> None:
        self.root = root
        self.n_train = n_train
        self.n_val = n_val
        self.n_test = n_test
        self.image_size = image_size
        self.sim_shape = sim_shape
        self.seed = seed
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.occlusion = occlusion
        self.occlusion_size = occlusion_size
        self.shift = shift
        self.cache_dir = cache_dir
        self.labels = labels

    # -- parameters ---------------------------------------------------------------------------------

    def validate(self) -> None:
        """The checks the signature cannot declare: the image side a multiple of 16, the two fractions together,
        the domain shift and the root folder. (Ranges of single parameters are declared in ``__init__``'s
        signature and checked with the pipeline's ``dataset.params``.)"""
        from sciconv_medseg.chest_simulator import DomainShift

        size = int(self.image_size)
        if size % 16:
            raise ConfigError(
                f"dataset.params.image_size: expected a multiple of 16 (the models halve it 4 to 5 times), got {size}"
            )
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                "dataset.params.val_fraction + dataset.params.test_fraction: must leave cases for training, got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        try:
            DomainShift.coerce(self.shift)
        except ConfigError as exc:
            raise ConfigError(f"dataset.params.shift: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"dataset.params.shift: expected a preset name or a mapping, got {self.shift!r} ({exc})"
            ) from None
        if self.root is not None:
            require_root(self.root, "medseg.chest", ROOT_EXPECTED)
        elif self.labels == "optional":
            raise ConfigError(
                "dataset.params.labels=optional: reads new, possibly unlabelled radiographs from a folder; give "
                "dataset.params.root (simulated radiographs always carry landmarks)"
            )

    # -- loading ------------------------------------------------------------------------------------

    def load(self) -> DataBundle:
        self.validate()
        if self.root is None:
            return self._load_simulated()
        return self._load_real(require_root(self.root, "medseg.chest", ROOT_EXPECTED))

    def _spec(self, source: str) -> DataSpec:
        from sciconv_medseg.chest_landmarks_io import N_LANDMARKS, ORGAN_NAMES, ORGANS

        s = int(self.image_size)
        return DataSpec(
            input_shape=(1, s, s),
            n_outputs=2 * N_LANDMARKS,
            task_type="segmentation",
            channels=("radiograph",),
            classes=tuple(ORGAN_NAMES[o] for o in ORGANS),
            units="attenuation image scaled to [0, 1]",
            extra={
                "target": "landmarks (120, 2), (x / W, y / H) of the stored image",
                "n_landmarks": N_LANDMARKS,
                "organs": dict(ORGANS),
                "image_size": s,
                "source": source,
            },
        )

    def _info(self, test_occluded: ChestSplit | None, test_shifted: ChestSplit | None, **extra: Any) -> dict[str, Any]:
        from sciconv_medseg.chest_simulator import DomainShift

        return {
            "test_occluded": test_occluded,
            "test_shifted": test_shifted,
            "occlusion": float(self.occlusion),
            "occlusion_size": float(self.occlusion_size),
            "shift": asdict(DomainShift.coerce(self.shift)),
            "shift_name": self.shift if isinstance(self.shift, str) else "custom",
            "labels": str(self.labels),
            **extra,
        }

    def _split_seed(self, split: str) -> int:
        """The simulation seed of a split's stream (``train``, ``val``, ``test``): ``derive_seed`` of the
        namespaced seed ``chest:<seed>`` and the stream's name (a 63-bit integer)."""
        # derive_seed hashes "<seed>:<name>": the namespaced seed keeps the streams "chest:<seed>:<split>" that
        # every earlier simulation (and cache entry) of this dataset was drawn from.
        return derive_seed(f"chest:{self.seed}", split)  # type: ignore[arg-type]

    def _sim_params(self) -> dict[str, Any]:
        from sciconv_medseg.chest_simulator import DomainShift

        return {
            "version": _CACHE_VERSION,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "sim_shape": [int(s) for s in self.sim_shape],
            "seed": self.seed,
            "occlusion": float(self.occlusion),
            "occlusion_size": float(self.occlusion_size),
            "shift": asdict(DomainShift.coerce(self.shift)),
        }

    def _write_simulated(self, folder: Path) -> None:
        from sciconv_medseg.chest_simulator import write_simulated_chest

        shape = (int(self.sim_shape[0]), int(self.sim_shape[1]))
        plan = [
            ("train", self.n_train, "train", {}),
            ("val", self.n_val, "val", {}),
            ("test", self.n_test, "test", {}),
            ("test-occluded", self.n_test, "test", {"occlusion": float(self.occlusion)}),
            ("test-shifted", self.n_test, "test", {"shift": self.shift}),
        ]
        for name, n, stream, kwargs in plan:
            if n > 0:
                write_simulated_chest(
                    folder / name,
                    n,
                    shape,
                    seed=self._split_seed(stream),
                    occlusion_size=float(self.occlusion_size),
                    **kwargs,
                )

    def _read_simulated(self, folder: Path) -> DataBundle:
        s = int(self.image_size)
        splits = {}
        for name in ("train", "val", "test", "test-occluded", "test-shifted"):
            if (folder / name).is_dir():
                images, marks, ids = _read_cases(folder / name)
                splits[name] = make_split(images, marks, ids, s)
        source = f"simulated chest radiographs (seed {self.seed}, {self.sim_shape[0]}x{self.sim_shape[1]} px)"
        return DataBundle(
            train=splits["train"],
            val=splits.get("val"),
            test=splits["test"],
            spec=self._spec(source),
            info=self._info(
                splits["test-occluded"], splits["test-shifted"], source=source, simulated=True, split="simulated"
            ),
        )

    def _load_simulated(self) -> DataBundle:
        from sciconv_medseg.chest_simulator import SIMULATOR_VERSION

        folder = cached_simulation(
            "chest", self._sim_params(), self._write_simulated, version=SIMULATOR_VERSION, cache_dir=self.cache_dir
        )
        return self._read_simulated(folder)

    def _load_real(self, root: Path) -> DataBundle:
        from sciconv_medseg.chest_simulator import apply_domain_shift, apply_occlusions

        s = int(self.image_size)
        optional = self.labels == "optional"
        found = {
            split: next((root / n for n in names if (root / n).is_dir()), None) for split, names in _SPLIT_DIRS.items()
        }
        parts: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[str]]] = {}
        if found["train"] is not None or found["test"] is not None:
            if found["train"] is None or found["test"] is None:
                missing = "train/" if found["train"] is None else "test/"
                raise DataError(
                    f"{root}: has split sub-folders but no {missing}; give train/ and test/ (val/ optional)"
                )
            for split, folder in found.items():
                if folder is not None:
                    parts[split] = _read_cases(folder, require_landmarks=not optional)
            how = "the folder's train/, val/ and test/ sub-folders"
        elif optional:
            parts["test"] = _read_cases(root, require_landmarks=False)
            how = "every case in test (labels optional)"
        else:
            images, marks, ids = _read_cases(root)
            try:
                index = random_split(
                    len(ids), int(self.seed), float(self.val_fraction), float(self.test_fraction), what="case(s)"
                )
            except DataError as exc:
                raise DataError(f"{root}: {exc}") from None
            for split in ("test", "val", "train"):
                rows = index[split]
                parts[split] = ([images[i] for i in rows], [marks[i] for i in rows], [ids[i] for i in rows])
            how = f"a random split with seed {self.seed}: test {self.test_fraction:g}, validation {self.val_fraction:g}"
        labelled = [(lm, i) for p in parts.values() for lm, i in zip(p[1], p[2], strict=True) if np.isfinite(lm).all()]
        check_orientations([lm for lm, _ in labelled], [i for _, i in labelled], str(root))
        splits = {split: make_split(*p, s) for split, p in parts.items()}
        source = f"chest X-ray landmark folder {root}"
        if optional:  # new radiographs for predict: no stress-test sets (occlusions are placed by the landmarks)
            return DataBundle(
                train=splits.get("train", make_split([], [], [], s)),
                val=splits.get("val") if splits.get("val") is not None and len(splits["val"]) else None,
                test=splits["test"],
                spec=self._spec(source),
                info=self._info(None, None, source=source, simulated=False, split=how),
            )

        test_images, test_marks, test_ids = parts["test"]
        occluded, shifted = [], []
        for k, (image, lm) in enumerate(zip(test_images, test_marks, strict=True)):
            rng = np.random.default_rng([self.seed, k, 1])
            occluded.append(apply_occlusions(image, lm, rng, float(self.occlusion), float(self.occlusion_size))[0])
            shifted.append(apply_domain_shift(image, self.shift, np.random.default_rng([self.seed, k, 2])))
        return DataBundle(
            train=splits["train"],
            val=splits.get("val") if splits.get("val") is not None and len(splits["val"]) else None,
            test=splits["test"],
            spec=self._spec(source),
            info=self._info(
                make_split(occluded, test_marks, test_ids, s),
                make_split(shifted, test_marks, test_ids, s),
                source=source,
                simulated=False,
                split=how,
            ),
        )
