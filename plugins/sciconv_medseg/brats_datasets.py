"""BraTS brain tumour MRI as a sciconv dataset component: a BraTS-layout folder, or simulated cases written in it.

:class:`BratsDataset` reads a folder of BraTS case folders with :mod:`~sciconv_medseg.brats_io` (2021 or 2023
naming and labels, detected per case), or, without ``root``, first writes ``n_cases`` simulated cases
(:func:`~sciconv_medseg.brain_simulator.write_simulated_brats`) and reads those back with the same reader. It
returns a :class:`~sciconv.DataBundle`:

- ``train`` / ``val`` / ``test``: :class:`BratsCases`, one item per case, ``(image, regions)`` with ``image``
  float32 ``(4, H, W, D)`` in scanner units (channels t1, t1ce, t2, flair) and ``regions`` float32
  ``(3, H, W, D)`` in {0, 1} (channels TC, WT, ET, from :func:`~sciconv_medseg.brats_io.to_regions`). Nothing is
  normalised, cropped or resampled here: that is the task's MONAI transform chain.
- The split: ``train/``, ``val/`` and ``test/`` sub-folders of ``root`` when they exist (a fixed split, e.g. a
  published fold); otherwise a seeded random split of the labelled cases by ``val_fraction`` and
  ``test_fraction`` (the official Swin UNETR code uses 5-fold cross-validation over the 1251 training cases).
  Unlabelled cases (BraTS' validation release has no ``seg``) cannot be trained or scored; they are left out and
  counted in ``info["unlabelled"]``.
- New, unlabelled cases for ``pipeline predict`` (``labels="optional"``): every case is kept, with or without a
  ``seg`` file; a flat folder's cases all go to ``test`` (no random split, nothing to train on; ``train`` and ``val``
  are empty), a folder with ``train/``, ``val/``, ``test/`` keeps those splits. An unlabelled case's item is
  ``(image, None)``. A run refuses such a bundle (``info["labels"] == "optional"``): training needs labels.
- ``spec``: ``input_shape`` the first training case's (with ``labels="optional"``: the first case's)
  ``(4, H, W, D)`` (BraTS volumes share one 240 x 240 x 155 grid; a collection whose cases differ in shape still
  works, as the task crops and slides windows, and ``spec.extra["shapes_differ"]`` says so), ``n_outputs`` 3,
  ``task_type`` segmentation, the voxel spacing (mm) in ``spec.extra["spacing_mm"]``.

Simulated collections are written once per set of simulator settings into the simulation cache
(:func:`sciconv.kit.cached_simulation`: ``<cache>/brats-<hash of the settings>``, written atomically; ``cache_dir``,
default ``$SCICONV_CACHE_DIR/simulations`` or ``~/.cache/sciconv/simulations``) and reused by later runs.

Real collections are large (a BraTS 2021 case is 4 x 240 x 240 x 155 float32, 143 MB in memory), so cases are
read from disk when an item is requested (``in_memory=False``, the default with ``root``); simulated cases are
small and read once into memory (``in_memory=True``, the default without ``root``). Either source can be read
either way: ``in_memory=False`` on simulated data reads the cases lazily from the cache folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_simulation, random_split, require_root

Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]
"""A split fraction in [0, 1)."""

Grid3D = Annotated[Sequence[Annotated[int, Field(ge=16)]], Field(min_length=3, max_length=3)]
"""A 3-D grid, three sides of at least 16 voxels."""

ROOT_EXPECTED = "a folder of BraTS case folders (or train/, val/, test/ sub-folders of them)"


class BratsCases:
    """Map-style dataset of BraTS cases: item ``i`` is ``(image (4, H, W, D), regions (3, H, W, D))``, float32
    tensors (see the module docstring). Reads from disk on every access unless built with ``in_memory=True``.
    With ``allow_unlabelled``, a case without a segmentation file is ``(image, None)``; otherwise reading it is a
    DataError.

    Attributes:
        cases: the :class:`~sciconv_medseg.brats_io.BratsCase` records, in item order.
    """

    def __init__(self, cases: Sequence[Any], in_memory: bool = False, allow_unlabelled: bool = False) -> None:
        self.cases = list(cases)
        self.allow_unlabelled = allow_unlabelled
        self._cache: list[tuple[Any, Any, np.ndarray]] | None = None
        if in_memory:
            self._cache = [self._read(i) for i in range(len(self.cases))]

    def __len__(self) -> int:
        return len(self.cases)

    @property
    def case_ids(self) -> list[str]:
        """The case ids, in item order."""
        return [c.case_id for c in self.cases]

    def _read(self, index: int) -> tuple[Any, Any, np.ndarray]:
        import torch

        from sciconv_medseg.brats_io import read_case, to_regions

        case = self.cases[index]
        image, label, affine = read_case(case)
        if label is None and self.allow_unlabelled:
            return torch.from_numpy(image), None, affine
        if label is None:
            raise DataError(f"BraTS case {case.case_id}: no segmentation file; a labelled case is needed here")
        regions = to_regions(label, case.convention, f"BraTS case {case.case_id}: seg")
        return torch.from_numpy(image), torch.from_numpy(regions.astype(np.float32)), affine

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, regions, _ = self._cache[index] if self._cache is not None else self._read(index)
        return image, regions

    def affine(self, index: int) -> np.ndarray:
        """The ``(4, 4)`` voxel-to-world affine (mm) of case ``index``."""
        if self._cache is not None:
            return self._cache[index][2]
        from sciconv_medseg.brats_io import load_nifti

        return load_nifti(self.cases[index].modalities[0], self.cases[index].case_id)[1]


def spacing_of(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel spacing (mm) along the three voxel axes of a ``(4, 4)`` affine: the norms of its first three columns."""
    return tuple(float(v) for v in np.linalg.norm(np.asarray(affine)[:3, :3], axis=0))  # type: ignore[return-value]


class BratsDataset(DatasetBase):
    """Multi-modal brain MRI with tumour labels in the BraTS layout, or simulated cases written in it.

    Args:
        root: a folder of BraTS case folders (2021 ``BraTS2021_xxxxx`` or 2023 ``BraTS-GLI-xxxxx-xxx`` naming), or
            one with ``train/``, ``val/`` and ``test/`` sub-folders of case folders. ``None`` (the default):
            simulate.
        n_cases, shape, spacing_mm, convention, seed, simulator: the simulated collection (ignored with
            ``root``): how many cases, the grid, voxel size (mm), label convention, seed, and further keyword
            arguments of :func:`~sciconv_medseg.brain_simulator.write_simulated_brats` (``p_no_enhancing``,
            ``noise``, ``bias``, ...).
        val_fraction, test_fraction, split_seed: the random split when ``root`` has no split sub-folders
            (:func:`sciconv.kit.random_split`: a fraction ``f > 0`` of ``n`` cases gives ``max(1, round(f n))``).
        in_memory: hold the read cases in memory (default: yes for simulated data, no for a folder); ``false``
            reads each case from disk (the folder, or the simulation cache) when it is requested.
        cache_dir: the simulation cache's folder (default ``None``: ``$SCICONV_CACHE_DIR/simulations`` or
            ``~/.cache/sciconv/simulations``); the collection is kept in a sub-folder named by a hash of the
            simulator settings and reused on later runs.
        labels: ``required`` (the default): cases need a ``seg`` file; unlabelled ones are left out (counted in
            ``info["unlabelled"]``) and a folder needs 3 labelled cases. ``optional``: for ``pipeline predict`` on
            new cases: every case is kept, labelled or not (an unlabelled case is ``(image, None)``, predicted and
            not scored), all in ``test`` unless ``root`` has split sub-folders; a run refuses such data. Needs
            ``root``.
    """

    def __init__(
        self,
        root: str | None = None,
        n_cases: Annotated[int, Field(ge=3)] = 16,
        shape: Grid3D = (64, 64, 64),
        spacing_mm: Annotated[float, Field(gt=0.0)] = 3.0,
        convention: str = "2021",
        seed: int = 0,
        simulator: dict[str, Any] | None = None,
        val_fraction: Fraction = 0.2,
        test_fraction: Fraction = 0.2,
        split_seed: int = 0,
        in_memory: bool | None = None,
        cache_dir: str | None = None,
        labels: Literal["required", "optional"] = "required",
    ) -> None:
        self.root = root
        self.n_cases = n_cases
        self.shape = shape
        self.spacing_mm = spacing_mm
        self.convention = convention
        self.seed = seed
        self.simulator = simulator
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.in_memory = in_memory
        self.cache_dir = cache_dir
        self.labels = labels

    # -- parameters ------------------------------------------------------------------------------------

    def validate(self) -> None:
        """The checks the signature cannot declare: the fractions together, the root folder, the label
        convention and the simulator's settings. (Ranges of single parameters are declared in ``__init__``'s
        signature and checked with the pipeline's ``dataset.params``.)"""
        val, test = float(self.val_fraction), float(self.test_fraction)
        if val + test >= 1.0:
            raise ConfigError(
                f"dataset.params.val_fraction + test_fraction = {val + test:g}; they must leave cases to train on"
            )
        if self.root is not None:
            require_root(self.root, "medseg.brats", ROOT_EXPECTED)
            return
        if self.labels == "optional":
            raise ConfigError(
                "dataset.params.labels=optional: reads new, possibly unlabelled cases from a folder; give "
                "dataset.params.root (simulated cases always carry labels)"
            )
        from sciconv_medseg.brats_io import check_convention

        try:
            check_convention(str(self.convention))
        except ConfigError as exc:
            raise ConfigError(f"dataset.params.convention: {exc}") from None
        self._check_simulator_keys()

    def _check_simulator_keys(self) -> None:
        import inspect

        from sciconv_medseg.brain_simulator import simulate_case_with_tissues, write_simulated_brats

        allowed = (
            set(inspect.signature(write_simulated_brats).parameters)
            | set(inspect.signature(simulate_case_with_tissues).parameters)
        ) - {"root", "n_cases", "shape", "seed", "convention", "kwargs", "grid", "tumour", "enhancing"}
        unknown = sorted(set(self.simulator or {}) - allowed)
        if unknown:
            raise ConfigError(
                f"dataset.params.simulator: unknown setting(s) {', '.join(unknown)}; "
                f"the simulator takes {', '.join(sorted(allowed))}"
            )

    def _simulator_kwargs(self) -> dict[str, Any]:
        return {
            "n_cases": int(self.n_cases),
            "shape": [int(s) for s in self.shape],
            "seed": int(self.seed),
            "convention": str(self.convention),
            "spacing": float(self.spacing_mm),
            **dict(self.simulator or {}),
        }

    # -- loading ---------------------------------------------------------------------------------------

    def load(self) -> DataBundle:
        self.validate()
        if self.root is not None:
            root = require_root(self.root, "medseg.brats", ROOT_EXPECTED)
            in_memory = bool(self.in_memory) if self.in_memory is not None else False
            return self._bundle_from_folder(root, in_memory, name=root.name)
        kwargs = self._simulator_kwargs()
        from sciconv_medseg.brain_simulator import SIMULATOR_VERSION

        folder = cached_simulation(
            "brats", kwargs, self._write_simulated, version=SIMULATOR_VERSION, cache_dir=self.cache_dir
        )
        name = f"simulated BraTS (seed {self.seed}, {self.n_cases} cases)"
        in_memory = True if self.in_memory is None else bool(self.in_memory)
        return self._bundle_from_folder(folder, in_memory, name=name, simulated=kwargs)

    def _write_simulated(self, folder: Path) -> None:
        """Write the simulated collection's case folders into ``folder`` (the cache's, not yet in place)."""
        from sciconv_medseg.brain_simulator import write_simulated_brats

        write_simulated_brats(folder, **self._simulator_kwargs())

    def _split(self, root: Path) -> tuple[dict[str, list[Any]], int, str]:
        from sciconv_medseg.brats_io import list_cases

        optional = self.labels == "optional"
        subfolders = {s: root / s for s in ("train", "val", "test")}
        if subfolders["train"].is_dir() and subfolders["test"].is_dir():
            splits: dict[str, list[Any]] = {}
            unlabelled = 0
            for split, folder in subfolders.items():
                cases = list_cases(folder) if folder.is_dir() else []
                unlabelled += sum(c.seg is None for c in cases)
                splits[split] = [c for c in cases if optional or c.seg is not None]
            if not splits["train"] and not optional:
                raise DataError(f"BraTS root {root}: train/ holds no labelled case (no *seg.nii.gz files)")
            return splits, unlabelled, "the train/val/test sub-folders"
        cases = list_cases(root)
        labelled = [c for c in cases if c.seg is not None]
        unlabelled = len(cases) - len(labelled)
        if optional:
            return {"train": [], "val": [], "test": cases}, unlabelled, "every case in test (labels optional)"
        if len(labelled) < 3:
            hint = (
                "; to predict on unlabelled cases, give dataset.params.labels=optional to `pipeline predict`"
                if unlabelled
                else ""
            )
            raise DataError(
                f"BraTS root {root}: {len(labelled)} labelled case(s) (with a seg file); at least 3 are needed "
                f"to train, validate and test ({unlabelled} unlabelled case(s) found){hint}"
            )
        try:
            index = random_split(
                len(labelled),
                int(self.split_seed),
                float(self.val_fraction),
                float(self.test_fraction),
                what="labelled cases",
            )
        except DataError as exc:
            raise DataError(f"BraTS root {root}: {exc}") from None
        splits = {split: [labelled[i] for i in rows] for split, rows in index.items()}
        how = f"a random split (seed {self.split_seed}, val {self.val_fraction:g}, test {self.test_fraction:g})"
        return splits, unlabelled, how

    def _bundle_from_folder(
        self, root: Path, in_memory: bool, name: str, simulated: dict[str, Any] | None = None
    ) -> DataBundle:
        from sciconv_medseg.brats_io import check_case_geometry

        splits, unlabelled, how = self._split(root)
        if not in_memory:  # cases are read during training: reject a bad one now, from the headers
            for cases in splits.values():
                for case in cases:
                    check_case_geometry(case)
        optional = self.labels == "optional"
        data = {
            split: BratsCases(cases, in_memory=in_memory, allow_unlabelled=optional) for split, cases in splits.items()
        }
        first = next(d for d in data.values() if len(d))  # train's first case; with labels optional, any split's
        first_image, _ = first[0]
        affine = first.affine(0)
        shapes = {tuple(int(s) for s in first_image.shape)}
        if in_memory:
            shapes |= {tuple(int(s) for s in d[i][0].shape) for d in data.values() for i in range(len(d))}
        conventions = sorted({c.convention for cases in splits.values() for c in cases})
        spec = DataSpec(
            input_shape=tuple(int(s) for s in first_image.shape),
            n_outputs=3,
            task_type="segmentation",
            channels=("t1", "t1ce", "t2", "flair"),
            classes=("TC", "WT", "ET"),
            units="scanner intensity (arbitrary units)",
            extra={
                "dataset": name,
                "spacing_mm": list(spacing_of(affine)),
                "conventions": conventions,
                "shapes_differ": len(shapes) > 1,
                "n_cases": {split: len(d) for split, d in data.items()},
            },
        )
        info = {
            "source": str(root) if simulated is None else "simulated",
            "split": how,
            "unlabelled": unlabelled,
            "case_ids": {split: d.case_ids for split, d in data.items()},
            "simulator": simulated,
            "labels": str(self.labels),
        }
        val = data["val"] if len(data["val"]) else None
        test = data["test"] if len(data["test"]) else None
        return DataBundle(train=data["train"], val=val, test=test, spec=spec, info=info)
