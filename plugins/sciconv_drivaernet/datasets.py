"""Car designs in the DrivAerNet layout as sciconv dataset components: each design's point cloud and drag coefficient.

- :class:`SimulatedDrivAerNetDataset` (``drivaernet.simulated``): car bodies of the three DrivAerNet++ families
  built by :mod:`.car_body_simulator`, with drag from the physics proxy of :mod:`.drag_proxy`, written once into the
  simulation cache (:func:`sciconv.kit.cached_simulation`) in the real layout and read back with the real reader.
- :class:`DrivAerNetDataset` (``drivaernet.folder``): a DrivAerNet (v1) or DrivAerNet++ folder (``root``). A folder
  of STL meshes without a coefficient CSV is read as unlabelled designs (``pipeline predict`` on new designs).

Each design's mesh is read with open3d (:func:`.drivaernet_io.read_stl`) and turned into ``n_points`` points:
mesh vertices drawn without replacement and zero-padded when a mesh has fewer (``sampling: vertices``, the official
code's), or drawn uniformly over the surface (``sampling: surface``); ``resamples`` independent draws per design
(training draws among them; evaluation uses the first). The points are computed once per set of files and
parameters and kept as arrays (:func:`sciconv.kit.cached_arrays`), never as pickles.

The bundle: ``train`` / ``val`` / ``test`` hold ``(x, y)``: ``x`` float32 ``(3, n_points)`` the first draw in metres
(not normalised: the task normalises), ``y`` float32 ``(1,)`` the drag coefficient (NaN when unlabelled). The
splits are the dataset's split lists (a seeded 70 / 15 / 15 split where a labelled folder has none; every design in
``test`` when unlabelled). ``info``: ``designs`` (one dict per design: ``design_id``, ``family``, ``split``, ``cd``,
``path``, ``n_vertices``, ``n_real_points``), ``points`` float32 ``(n, resamples, n_points, 3)`` (m), ``cd``
``(n,)``, ``split_index`` (indices of each split), ``parameters`` ``(n, p)`` float64 and ``parameter_names`` (the
parametric table's design parameters, or ``None``), ``labelled``, ``kind`` (``simulated`` / ``folder``),
``release`` (``v1`` / ``plus`` / ``simulated``), ``sampling`` (``n_points``, ``method``, ``resamples``,
``n_padded``), ``skipped`` (counts by cause), ``proxy_note`` (simulated: how the labels were made), ``root``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_arrays, cached_simulation, derive_seed, file_fingerprints, random_split, require_root

POINTS_VERSION = "1"  # raise when a change of the sampling changes the cached points
SPLITS = ("train", "val", "test")
_V1_ID = re.compile(r"^F_D_WM_WW_\d{4}$")


class _DesignsDataset(DatasetBase):
    """Point clouds of a folder in the DrivAerNet layout (how the folder comes about differs, the rest is shared)."""

    component = "drivaernet"

    def __init__(
        self,
        n_points: Annotated[int, Field(ge=16, le=200_000)] = 5000,
        sampling: Literal["vertices", "surface"] = "vertices",
        pad: bool = True,
        resamples: Annotated[int, Field(ge=1, le=64)] = 1,
        sample_seed: int = 0,
        split_seed: int = 0,
        coefficients: str | None = None,
        cache_dir: str | None = None,
        points_cache_dir: str | None = None,
    ) -> None:
        self.n_points = int(n_points)
        self.sampling = sampling
        self.pad = bool(pad)
        self.resamples = int(resamples)
        self.sample_seed = int(sample_seed)
        self.split_seed = int(split_seed)
        self.coefficients = coefficients
        self.cache_dir = cache_dir
        self.points_cache_dir = points_cache_dir

    def folder(self) -> tuple[Path, str]:
        """The folder in the DrivAerNet layout, and the dataset's kind (``simulated`` or ``folder``)."""
        raise NotImplementedError

    def proxy_note(self) -> str | None:
        return None

    # -- reading ---------------------------------------------------------------------------------------------

    def load(self) -> DataBundle:
        from sciconv_drivaernet.drivaernet_io import find_coefficient_csv, scan_drivaernet

        root, kind = self.folder()
        try:
            labelled = self.coefficients is not None or find_coefficient_csv(root) is not None
        except DataError as exc:
            if "no coefficient csv" not in str(exc).lower():
                raise
            labelled = False
        if labelled:
            index = scan_drivaernet(root, self.coefficients, require_splits=False)
            ids, paths, families = index.design_ids, index.mesh_paths, index.families
            cd = np.asarray(index.cd, dtype=np.float64)
            splits = index.splits
            skipped = index.skipped_counts
            parametric = index.parametric
        else:
            from sciconv_drivaernet.drivaernet_io import family_of, list_meshes

            meshes = list_meshes(root)
            if not meshes:
                raise DataError(f"{root}: no STL mesh (<design id>.stl) and no coefficient CSV")
            ids = sorted(meshes)
            paths = [meshes[i] for i in ids]
            families = [family_of(i) for i in ids]
            cd = np.full(len(ids), np.nan)
            splits, skipped, parametric = {"train": [], "val": [], "test": list(ids)}, {}, None
        if splits is None:
            split = random_split(len(ids), self.split_seed, val=0.15, test=0.15, what="designs")
            splits = {name: [ids[i] for i in split[name]] for name in SPLITS}
            split_note = f"no split lists: a seeded 70 / 15 / 15 split (dataset.params.split_seed={self.split_seed})"
        else:
            split_note = "the dataset's split lists"
        arrays = self._points(paths)
        position = {d: i for i, d in enumerate(ids)}
        split_of = {d: name for name in SPLITS for d in splits[name]}
        split_index = {name: np.array([position[d] for d in splits[name]], dtype=np.int64) for name in SPLITS}
        padded = [ids[i] for i in np.flatnonzero(arrays["n_real"] < self.n_points)]
        if padded:  # with pad=False the sampling has raised already, naming the file
            warnings.warn(
                f"{root}: {len(padded)} design(s) have fewer vertices than the {self.n_points} points requested and "
                f"were zero-padded, as the official loader does (e.g. {', '.join(padded[:3])}); lower "
                "dataset.params.n_points or use sampling=surface",
                stacklevel=2,
            )
        parameters, names = self._parameters(parametric, ids)
        designs = [
            {
                "design_id": d,
                "family": families[i],
                "split": split_of.get(d, ""),
                "cd": float(cd[i]),
                "path": str(paths[i]),
                "n_vertices": int(arrays["n_vertices"][i]),
                "n_real_points": int(arrays["n_real"][i]),
            }
            for i, d in enumerate(ids)
        ]
        import torch
        from torch.utils.data import TensorDataset

        points = arrays["points"].astype(np.float32, copy=False)
        first = torch.from_numpy(np.ascontiguousarray(points[:, 0].transpose(0, 2, 1)))
        y = torch.from_numpy(cd.astype(np.float32)[:, None])

        def subset(name: str) -> Any:
            members = torch.from_numpy(split_index[name])
            return TensorDataset(first[members], y[members]) if len(members) else None

        spec = DataSpec(
            input_shape=(3, self.n_points),
            n_outputs=1,
            task_type="regression",
            units="m",
            extra={"labelled": labelled, "sampling": self.sampling},
        )
        info = {
            "designs": designs,
            "points": points,
            "cd": cd,
            "split_index": split_index,
            "split_source": split_note,
            "parameters": parameters,
            "parameter_names": names,
            "labelled": labelled,
            "kind": kind,
            "release": "simulated" if kind == "simulated" else _release(ids, parametric is not None),
            "sampling": {
                "n_points": self.n_points,
                "method": self.sampling,
                "resamples": self.resamples,
                "n_padded": len(padded),
            },
            "skipped": dict(skipped),
            "proxy_note": self.proxy_note(),
            "root": str(root),
        }
        return DataBundle(train=subset("train"), val=subset("val"), test=subset("test"), spec=spec, info=info)

    def _parameters(self, parametric: Any, ids: list[str]) -> tuple[np.ndarray | None, list[str] | None]:
        """The design-parameter matrix of every design, or ``(None, None)`` when the table lacks any design."""
        if parametric is None or len(parametric.columns) == 0:
            return None, None
        missing = [d for d in ids if d not in parametric.index]
        if missing:
            warnings.warn(
                f"the parametric table has no row for {len(missing)} design(s) (e.g. {', '.join(missing[:3])}); "
                "least squares on the design parameters is not run",
                stacklevel=3,
            )
            return None, None
        return parametric.loc[ids].to_numpy(dtype=np.float64), [str(c) for c in parametric.columns]

    def _points(self, paths: list[Path]) -> dict[str, np.ndarray]:
        params = {
            "files": file_fingerprints(paths),
            "n_points": self.n_points,
            "sampling": self.sampling,
            "pad": self.pad,
            "resamples": self.resamples,
            "sample_seed": self.sample_seed,
        }
        return cached_arrays(
            "drivaernet-points",
            params,
            lambda: draw_points(paths, self.n_points, self.sampling, self.resamples, self.sample_seed, self.pad),
            version=POINTS_VERSION,
            cache_dir=self.points_cache_dir,
        )


def _release(ids: list[str], has_parametric: bool) -> str:
    """``v1`` for a folder of DrivAerNet v1 ids only (``F_D_WM_WW_NNNN``) without a parametric table, else ``plus``."""
    return "v1" if not has_parametric and all(_V1_ID.match(d) for d in ids) else "plus"


def draw_points(
    paths: list[Path], n_points: int, sampling: str, resamples: int, seed: int, pad: bool
) -> dict[str, np.ndarray]:
    """Read each mesh and draw its points: ``points`` float32 ``(n, resamples, n_points, 3)`` (m), ``n_real``
    (real rows of the first draw; the rest zero padding) and ``n_vertices`` ``(n,)``. A mesh that cannot be read
    or sampled raises a DataError naming its file."""
    from sciconv_drivaernet.drivaernet_io import read_stl, sample_surface, sample_vertices

    points = np.zeros((len(paths), resamples, n_points, 3), dtype=np.float32)
    n_real = np.zeros(len(paths), dtype=np.int64)
    n_vertices = np.zeros(len(paths), dtype=np.int64)
    for i, path in enumerate(paths):
        vertices, triangles = read_stl(path)
        n_vertices[i] = len(vertices)
        for r in range(resamples):
            draw_seed = derive_seed(seed, f"{Path(path).stem}/{r}")
            try:
                if sampling == "surface":
                    points[i, r] = sample_surface(vertices, triangles, n_points, draw_seed % 2**31)
                    real = n_points
                else:
                    points[i, r], real = sample_vertices(vertices, n_points, draw_seed, pad=pad)
            except DataError as exc:
                raise DataError(f"{path}: {exc}") from None
            if r == 0:
                n_real[i] = real
    return {"points": points, "n_real": n_real, "n_vertices": n_vertices}


class SimulatedDrivAerNetDataset(_DesignsDataset):
    """Simulated car bodies (fastback, notchback, estateback) written in the DrivAerNet layout and read back.

    Args:
        n_designs: designs to simulate (split 70 / 15 / 15 within each family by the simulator's split lists).
        seed: the simulator's seed.
        families: which body families to simulate.
        noise: SD of the Gaussian noise added to each design's drag coefficient (CFD uncertainty).
        root: read this folder in the DrivAerNet layout instead of simulating (``pipeline predict RUN_DIR
            dataset.params.root=NEW``: a folder of new STL designs, with or without coefficients).
        (the rest as :class:`DrivAerNetDataset`.)
    """

    component = "drivaernet.simulated"

    def __init__(
        self,
        n_designs: Annotated[int, Field(ge=12, le=20_000)] = 300,
        seed: int = 0,
        families: list[Literal["fastback", "notchback", "estateback"]] = ["fastback", "notchback", "estateback"],  # noqa: B006
        noise: Annotated[float, Field(ge=0.0, le=0.05)] = 0.004,
        root: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.n_designs = int(n_designs)
        self.seed = int(seed)
        self.families = list(dict.fromkeys(families))
        self.noise = float(noise)

    def validate(self) -> None:
        if not self.families:
            raise ConfigError("dataset.params.families: name at least one of fastback, notchback, estateback")

    def folder(self) -> tuple[Path, str]:
        from sciconv_drivaernet.car_body_simulator import SIMULATOR_VERSION, simulate_drivaernet

        self.validate()
        if self.root is not None:
            return _folder(self.root, self.component), "folder"
        params = {"n_designs": self.n_designs, "seed": self.seed, "families": self.families, "noise": self.noise}

        def write(folder: Path) -> None:
            simulate_drivaernet(folder, **{**params, "families": tuple(self.families)})

        return cached_simulation(
            "drivaernet", params, write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir
        ), "simulated"

    def proxy_note(self) -> str | None:
        if self.root is not None:
            return None
        from sciconv_drivaernet import drag_proxy

        return drag_proxy.PROXY_NOTE


class DrivAerNetDataset(_DesignsDataset):
    """A DrivAerNet v1 or DrivAerNet++ folder.

    Args:
        root: the dataset folder (STL meshes, the coefficient CSV, the split lists and, for DrivAerNet++, the
            parametric table are found recursively under it).
        n_points: points per design (the published v1 protocol: 5000).
        sampling: ``vertices`` (the official sampling) or ``surface`` (uniform over the surface area, open3d).
        pad: zero-pad designs with fewer vertices than ``n_points`` (the official behaviour, with a warning);
            false: such a design is an error naming its file.
        resamples: independent draws per design (training draws among them).
        sample_seed: seed of the draws; split_seed: of the split of a labelled folder without split lists.
        coefficients: the coefficient CSV's name or path, where the folder has several.
        points_cache_dir: where the drawn points are cached (default: the core's feature cache).
    """

    component = "drivaernet.folder"

    def __init__(self, root: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root

    def folder(self) -> tuple[Path, str]:
        return _folder(self.root, self.component), "folder"


def _folder(root: str | None, component: str) -> Path:
    return require_root(
        root, component, "a DrivAerNet folder: <design id>.stl meshes, the coefficient CSV and the split lists"
    )
