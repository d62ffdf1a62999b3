"""Labelled 3D shapes in the ModelNet layouts as sciconv dataset components: each shape's point cloud (xyz and
normals, on the unit sphere) and class.

- :class:`SimulatedShapesDataset` (``e3dsnn.simulated``): procedural shapes of :mod:`.shape_simulator` written once
  into the simulation cache (:func:`sciconv.kit.cached_simulation`) as OFF meshes in the ModelNet layout and read
  back with the real reader; ``root`` reads a folder instead (``pipeline predict`` on new shapes).
- :class:`ModelNetDataset` (``e3dsnn.modelnet``): a ModelNet40 / ModelNet10 folder, in either layout: OFF meshes
  (``<class>/{train,test}/<class>_NNNN.off``) or the resampled text files with their split lists.

A folder in neither layout is read as unlabelled shapes: every mesh (``.off``, ``.ply``, ``.obj``, ``.stl``) or
point file (``.txt``, ``.xyz``, ``.csv``, ``.npy``) under it, all in ``test``, with label -1.

Points: a mesh is sampled uniformly over its surface with open3d (normals from its triangles); a point file gives
``n_points`` of its points drawn without replacement (seeded). Computed once per set of files and parameters and
kept as arrays (:func:`sciconv.kit.cached_arrays`), never as pickles. Every cloud is then centred and scaled to
the unit sphere.

The bundle: ``train`` / ``val`` / ``test`` hold ``(points (n_points, 6) float32, label int64)``. ``test`` is the
dataset's test split; ``val`` is a seeded stratified ``val_fraction`` of its training shapes (model selection
never sees the test shapes). ``info``: ``shapes`` (one dict per shape: ``shape_id``, ``class_name``, ``label``,
``split``, ``path``), ``points`` float32 ``(n, n_points, 6)``, ``labels`` ``(n,)`` int64, ``classes``,
``split_index``, ``labelled``, ``layout`` (``off`` / ``resampled`` / ``files``), ``kind`` (``simulated`` /
``folder``), ``root``, ``n_points``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_arrays, cached_simulation, derive_seed, file_fingerprints, require_root, stratified_split

POINTS_VERSION = "1"  # raise when a change of the sampling changes the cached points
SHAPE_SUFFIXES = (".off", ".ply", ".obj", ".stl", ".txt", ".xyz", ".csv", ".npy")
SPLITS = ("train", "val", "test")


class _ShapesDataset(DatasetBase):
    """Point clouds of a folder of shapes (how the folder comes about differs, the rest is shared)."""

    component = "e3dsnn"

    def __init__(
        self,
        n_points: Annotated[int, Field(ge=16, le=200_000)] = 10_000,
        val_fraction: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.1,
        split_seed: int = 0,
        sample_seed: int = 0,
        variant: Literal["modelnet40", "modelnet10"] | None = None,
        points_cache_dir: str | None = None,
    ) -> None:
        self.n_points = int(n_points)
        self.variant = variant
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.sample_seed = int(sample_seed)
        self.points_cache_dir = points_cache_dir

    def folder(self) -> tuple[Path, str]:
        """The folder of shapes and the dataset's kind (``simulated`` or ``folder``)."""
        raise NotImplementedError

    def load(self) -> DataBundle:
        from sciconv_e3dsnn.modelnet_io import ModelNetIndex, ShapeEntry, scan_modelnet

        root, kind = self.folder()
        index: ModelNetIndex | None
        try:
            index = scan_modelnet(root, variant=self.variant)
        except DataError as exc:
            files = list_shape_files(root)
            if not files:
                raise DataError(
                    f"{root}: neither a ModelNet folder ({exc}) nor a folder of shape files "
                    f"({', '.join(SHAPE_SUFFIXES)})"
                ) from None
            index = None
            shapes = [ShapeEntry(p.stem, -1, "", "test", p) for p in files]
            classes: list[str] = []
            layout = "files"
        if index is not None:
            shapes, classes, layout = list(index.shapes), list(index.classes), index.layout
        labelled = index is not None
        paths = [Path(s.path) for s in shapes]
        arrays = cached_arrays(
            "e3dsnn-points",
            {
                "files": file_fingerprints(paths),
                "n_points": self.n_points,
                "sample_seed": self.sample_seed,
                "layout": layout,
                "variant": self.variant,
            },
            lambda: {"points": draw_clouds(paths, self.n_points, self.sample_seed)},
            version=POINTS_VERSION,
            cache_dir=self.points_cache_dir,
        )
        from sciconv_e3dsnn.voxels import ShapeClouds, normalise_to_unit_sphere

        points = normalise_to_unit_sphere(arrays["points"])
        labels = np.array([s.label for s in shapes], dtype=np.int64)
        split_index = self._split(shapes, labels)
        spec = DataSpec(
            input_shape=(self.n_points, 6),
            n_outputs=max(1, len(classes)),
            task_type="classification",
            classes=tuple(classes) if classes else ("unlabelled",),
            units="unit-sphere radius",
            extra={"classes": classes, "labelled": labelled},
        )
        info = {
            "shapes": [
                {
                    "shape_id": s.shape_id,
                    "class_name": s.class_name,
                    "label": int(s.label),
                    "split": s.split,
                    "path": str(s.path),
                }
                for s in shapes
            ],
            "points": points,
            "labels": labels,
            "classes": classes,
            "split_index": split_index,
            "labelled": labelled,
            "layout": layout,
            "kind": kind,
            "root": str(root),
            "n_points": self.n_points,
        }

        def subset(name: str) -> Any:
            members = split_index[name]
            return ShapeClouds(points[members], labels[members]) if len(members) else None

        return DataBundle(train=subset("train"), val=subset("val"), test=subset("test"), spec=spec, info=info)

    def _split(self, shapes: list[Any], labels: np.ndarray) -> dict[str, np.ndarray]:
        train = np.array([i for i, s in enumerate(shapes) if s.split == "train"], dtype=np.int64)
        test = np.array([i for i, s in enumerate(shapes) if s.split == "test"], dtype=np.int64)
        val = np.zeros(0, dtype=np.int64)
        if len(train) and self.val_fraction > 0:
            counts = np.bincount(labels[train])
            if counts[counts > 0].min() >= 2 and round(self.val_fraction * len(train)) >= len(counts[counts > 0]):
                parts = stratified_split(labels[train], self.split_seed, val=self.val_fraction)
            else:  # too few shapes per class to stratify
                rng = np.random.default_rng(self.split_seed)
                order = rng.permutation(len(train))
                k = max(1, round(self.val_fraction * len(train)))
                parts = {"train": np.sort(order[k:]), "val": np.sort(order[:k])}
            train, val = train[parts["train"]], train[parts["val"]]
        return {"train": train, "val": val, "test": test}


def list_shape_files(root: Path) -> list[Path]:
    """Every mesh or point file under ``root`` (recursively, sorted)."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in SHAPE_SUFFIXES)


def draw_clouds(paths: list[Path], n_points: int, seed: int) -> np.ndarray:
    """Each file's ``n_points`` points with normals. Shapes: -> (n, n_points, 6) float32 (the file's units). A file
    that cannot be read raises a DataError naming it."""
    from sciconv_e3dsnn.modelnet_io import read_shape

    out = np.zeros((len(paths), n_points, 6), dtype=np.float32)
    for i, path in enumerate(paths):
        out[i] = read_shape(path, n_points, derive_seed(seed, Path(path).stem) % 2**31)
    return out


class SimulatedShapesDataset(_ShapesDataset):
    """Procedural shapes of :mod:`.shape_simulator` written as OFF meshes in the ModelNet layout and read back.

    Args:
        classes: which simulated classes (default: all of them).
        n_train, n_test: shapes per class in the train and test folders.
        seed: the simulator's seed.
        root: read this folder (ModelNet layout, or a folder of shape files) instead of simulating.
        n_points: points sampled from each mesh's surface.
        (the rest as :class:`ModelNetDataset`.)
    """

    component = "e3dsnn.simulated"

    def __init__(
        self,
        classes: list[str] | None = None,
        n_train: Annotated[int, Field(ge=1, le=5000)] = 40,
        n_test: Annotated[int, Field(ge=1, le=5000)] = 10,
        seed: int = 0,
        root: str | None = None,
        cache_dir: str | None = None,
        n_points: Annotated[int, Field(ge=16, le=200_000)] = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_points=n_points, **kwargs)
        self.classes = None if classes is None else list(dict.fromkeys(classes))
        self.n_train = int(n_train)
        self.n_test = int(n_test)
        self.seed = int(seed)
        self.root = root
        self.cache_dir = cache_dir

    def validate(self) -> None:
        from sciconv_e3dsnn.shape_simulator import SHAPE_CLASSES

        unknown = [c for c in self.classes or [] if c not in SHAPE_CLASSES]
        if unknown or self.classes == []:
            raise ConfigError(
                f"dataset.params.classes: unknown {unknown or 'empty list'}; choose among {', '.join(SHAPE_CLASSES)}"
            )

    def folder(self) -> tuple[Path, str]:
        if self.root is not None:
            return _folder(self.root, self.component), "folder"
        from sciconv_e3dsnn.shape_simulator import SHAPE_CLASSES, SIMULATOR_VERSION, write_modelnet

        self.validate()
        classes = list(self.classes or SHAPE_CLASSES)
        params = {"classes": classes, "n_train": self.n_train, "n_test": self.n_test, "seed": self.seed}

        def write(folder: Path) -> None:
            write_modelnet(folder, classes, self.n_train, self.n_test, self.seed)

        return cached_simulation(
            "e3dsnn-shapes", params, write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir
        ), "simulated"


class ModelNetDataset(_ShapesDataset):
    """A ModelNet40 or ModelNet10 folder in either layout (see the module docstring).

    Args:
        root: the dataset folder (``ModelNet40/`` with class folders of OFF meshes, or
            ``modelnet40_normal_resampled/`` with the shape-names and split lists).
        n_points: points per shape (OFF meshes: sampled over the surface; text files: drawn from the file's
            10,000). The published protocol grid-samples all 10,000 points of the resampled files.
        val_fraction: share of the training shapes held out (stratified, seeded by ``split_seed``) for model
            selection.
        sample_seed: seed of the point draws.
        variant: ``modelnet40`` or ``modelnet10``, where a resampled folder holds the lists of both (the real
            ``modelnet40_normal_resampled/`` does); default ModelNet40 there.
        points_cache_dir: where the drawn points are cached (default: the core's feature cache).
    """

    component = "e3dsnn.modelnet"

    def __init__(self, root: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root

    def folder(self) -> tuple[Path, str]:
        return _folder(self.root, self.component), "folder"


def _folder(root: str | None, component: str) -> Path:
    return require_root(
        root,
        component,
        "a ModelNet folder (<class>/{train,test}/<class>_NNNN.off, or the resampled <class>/<class>_NNNN.txt with "
        "modelnet40_shape_names.txt and the split lists) or a folder of shape files",
    )
