"""Transient finite element simulations in the official DeepFEA layout as sciconv dataset components.

- :class:`SimulatedFEADataset` (``deepfea.simulated``): load cases solved with scikit-fem (:mod:`.fea_simulator`:
  plane linear elastodynamics on a structured quad grid by default; ``dim: 3`` hexahedra; ``material_model:
  neo-hookean``) written once into the simulation cache in the official layout and read back with the official
  reader (:mod:`.official_io`).
- :class:`OfficialFEADataset` (``deepfea.official``): a folder of the Zenodo layout (``root``).

Cases are split at random (seeded) into train / validation / test (``val``, ``test`` fractions; the paper: a random
80 / 20 split). Every channel is min-max scaled to [-1, 1]: simulated data with the training cases' ranges, the
official data with the ranges its root files give (as the official code does).

Items: ``x`` float32 ``(T, C, *grid)`` (node coordinates, loads and the boundary-condition mask of each step,
scaled); ``y`` float32 ``(T, F)``: the next step's node coordinates ``(dim, *grid)`` and the element values
``(2, *elem_grid)`` (effective stress, effective strain), scaled and flattened per step (:func:`split_target`).
``info``: ``scaling`` (the 8 min/max arrays), ``cases`` (names per split), ``dim``, ``grid``, ``case_params``
(simulated: each case's drawn parameters, for the solver and quasi-static baselines), ``root``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError
from sciconv.kit import cached_simulation, random_split, require_root

Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]


def split_target(y: Any, dim: int, grid: tuple[int, ...]) -> tuple[Any, Any]:
    """``(node, element)`` views of a flattened target ``(..., F)``: node ``(..., dim, *grid)``, element
    ``(..., 2, *elem_grid)`` with ``elem_grid`` one smaller than ``grid`` per axis."""
    n_node = dim * int(np.prod(grid))
    elem_grid = tuple(g - 1 for g in grid)
    lead = tuple(y.shape[:-1])
    return y[..., :n_node].reshape(*lead, dim, *grid), y[..., n_node:].reshape(*lead, 2, *elem_grid)


def scale_inputs(dis_in: np.ndarray, scaling: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """``dis_in`` ``(N, T, C, *grid)`` scaled: coordinates with ``dis_c``, loads with ``dis_f``, the 0/1 mask to
    -1/+1."""
    from sciconv_deepfea.official_io import scale

    coords = scale(dis_in[:, :, :dim], scaling["dis_c_min"], scaling["dis_c_max"], axis=2)
    loads = scale(dis_in[:, :, dim : 2 * dim], scaling["dis_f_min"], scaling["dis_f_max"], axis=2)
    mask = 2.0 * dis_in[:, :, 2 * dim :] - 1.0
    return np.concatenate([coords, loads, mask], axis=2).astype(np.float32)


def scale_targets(
    dis_out: np.ndarray, stress: np.ndarray, strain: np.ndarray, scaling: dict[str, np.ndarray]
) -> np.ndarray:
    """Targets ``(N, T, F)``: the scaled next-step coordinates and element stress / strain, flattened per step."""
    from sciconv_deepfea.official_io import scale

    n, t = dis_out.shape[:2]
    node = scale(dis_out, scaling["dis_c_min"], scaling["dis_c_max"], axis=2).reshape(n, t, -1)
    s = scale(stress[:, :, None], scaling["eff_stress_min"], scaling["eff_stress_max"])
    e = scale(strain[:, :, None], scaling["eff_strain_min"], scaling["eff_strain_max"])
    elem = np.concatenate([s, e], axis=2).reshape(n, t, -1)
    return np.concatenate([node, elem], axis=2).astype(np.float32)


def unscale_targets(y: np.ndarray, scaling: dict[str, np.ndarray], dim: int, grid: tuple[int, ...]) -> dict[str, Any]:
    """Physical ``dis_out`` ``(N, T, dim, *grid)`` (m), ``eff_stress`` and ``eff_strain`` ``(N, T, *elem_grid)``
    from scaled targets ``(N, T, F)``."""
    from sciconv_deepfea.official_io import unscale

    node, elem = split_target(np.asarray(y, dtype=np.float64), dim, grid)
    return {
        "dis_out": unscale(node, scaling["dis_c_min"], scaling["dis_c_max"], axis=2),
        "eff_stress": unscale(elem[:, :, 0], scaling["eff_stress_min"], scaling["eff_stress_max"]),
        "eff_strain": unscale(elem[:, :, 1], scaling["eff_strain_min"], scaling["eff_strain_max"]),
    }


class _FEADataset(DatasetBase):
    component = "deepfea"

    def __init__(self, val: Fraction = 0.1, test: Fraction = 0.2, split_seed: int = 0) -> None:
        self.val = float(val)
        self.test = float(test)
        self.split_seed = int(split_seed)

    def validate(self) -> None:
        if self.val + self.test >= 1.0:
            raise ConfigError(
                f"dataset.params.val + dataset.params.test must leave training cases; got {self.val} + {self.test}"
            )

    def read(self) -> tuple[Any, Path, list[dict[str, Any]] | None]:
        """The official-layout data, its folder, and the cases' simulation parameters where known."""
        raise NotImplementedError

    def own_scaling(self) -> bool:
        """Whether the scaling comes from this run's training cases (simulated) or the folder's files."""
        return True

    def load(self) -> DataBundle:
        import torch
        from torch.utils.data import TensorDataset

        self.validate()
        data, root, params = self.read()
        n = len(data.cases)
        split = random_split(n, self.split_seed, val=self.val, test=self.test, what="cases")
        dim = int(data.dim)
        grid = tuple(int(g) for g in data.dis_in.shape[3:])
        if self.own_scaling():  # the training cases' ranges (the official reader's computation)
            from sciconv_deepfea.official_io import compute_min_max

            scaling = compute_min_max(data, [data.cases[i] for i in split["train"]])
        else:
            scaling = dict(data.scaling)
        x = scale_inputs(data.dis_in, scaling, dim)
        y = scale_targets(data.dis_out, data.eff_stress, data.eff_strain, scaling)

        def part(index: np.ndarray) -> Any:
            return TensorDataset(torch.from_numpy(x[index]), torch.from_numpy(y[index]))

        spec = DataSpec(
            input_shape=tuple(x.shape[1:]),
            n_outputs=int(y.shape[2]),
            task_type="forecasting",  # a rollout: per step, the next state's features (n_outputs per step)
            units="scaled to [-1, 1]",
            extra={"dim": dim, "node_channels": dim, "grid": list(grid), "n_steps": int(x.shape[1])},
        )
        info = {
            "scaling": {k: np.asarray(v, dtype=np.float64) for k, v in scaling.items()},
            "cases": {k: [data.cases[i] for i in v] for k, v in split.items()},
            "cases_all": list(data.cases),
            "split": {k: v for k, v in split.items()},
            "dim": dim,
            "grid": grid,
            "case_params": params,
            "root": str(root),
            "physical": {
                "dis_in": data.dis_in,
                "dis_out": data.dis_out,
                "eff_stress": data.eff_stress,
                "eff_strain": data.eff_strain,
            },
        }
        return DataBundle(
            train=part(split["train"]), val=part(split["val"]), test=part(split["test"]), spec=spec, info=info
        )


class SimulatedFEADataset(_FEADataset):
    """Load cases solved with scikit-fem (:func:`.fea_simulator.simulate_dataset`) in the official layout.

    Args:
        n_cases: simulations (split into train / val / test).
        grid: nodes per axis (``[9, 9]``: the paper's 2D default; ``[5, 5, 5]`` with ``dim: 3``).
        n_steps: Newmark steps per case (the sequence length T).
        dim: 2 (plane stress, quads) or 3 (hexahedra).
        material_model: ``linear`` or ``neo-hookean`` (Newton iterations per step).
        damping: Rayleigh damping ratio (0: none).
        seed: the simulation's seed.
        val, test: fractions of the cases; split_seed: the split's seed.
    """

    component = "deepfea.simulated"

    def __init__(
        self,
        n_cases: Annotated[int, Field(ge=5)] = 160,
        grid: Annotated[list[Annotated[int, Field(ge=3, le=129)]], Field(min_length=2, max_length=3)] = [9, 9],  # noqa: B006
        n_steps: Annotated[int, Field(ge=2, le=1000)] = 20,
        dim: Literal[2, 3] = 2,
        material_model: Literal["linear", "neo-hookean"] = "linear",
        damping: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0,
        seed: int = 0,
        val: Fraction = 0.1,
        test: Fraction = 0.2,
        split_seed: int = 0,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(val, test, split_seed)
        self.n_cases = int(n_cases)
        self.grid = [int(g) for g in grid]
        self.n_steps = int(n_steps)
        self.dim = int(dim)
        self.material_model = material_model
        self.damping = float(damping)
        self.seed = int(seed)
        self.cache_dir = cache_dir

    def validate(self) -> None:
        super().validate()
        if len(self.grid) != self.dim:
            raise ConfigError(
                f"dataset.params.grid: {self.dim}D needs {self.dim} node counts, got {self.grid} "
                "(e.g. grid=[9, 9] for dim=2, grid=[5, 5, 5] for dim=3)"
            )

    def read(self) -> tuple[Any, Path, list[dict[str, Any]] | None]:
        from sciconv_deepfea.fea_simulator import SIMULATOR_VERSION, simulate_dataset
        from sciconv_deepfea.official_io import read_official

        params = {
            "n_cases": self.n_cases,
            "grid": list(self.grid),
            "n_steps": self.n_steps,
            "dim": self.dim,
            "material_model": self.material_model,
            "damping": self.damping,
            "seed": self.seed,
        }

        def write(folder: Path) -> None:
            simulate_dataset(folder, **{**params, "grid": tuple(self.grid)})

        folder = cached_simulation("deepfea", params, write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir)
        records = json.loads((folder / "cases.json").read_text(encoding="utf-8"))
        return read_official(folder), folder, records


class OfficialFEADataset(_FEADataset):
    """A folder of the official DeepFEA layout (Zenodo 10.5281/zenodo.10870936): numbered case folders with
    ``dis_in.npz``, ``dis_out.npz``, ``effective_out.npz`` and the root min/max files (recomputed from the cases,
    with a notice, where missing). Read without unpickling."""

    component = "deepfea.official"

    def __init__(
        self,
        root: str | None = None,
        val: Fraction = 0.0,
        test: Fraction = 0.2,
        split_seed: int = 0,
    ) -> None:
        super().__init__(val, test, split_seed)
        self.root = root

    def own_scaling(self) -> bool:
        return False

    def read(self) -> tuple[Any, Path, list[dict[str, Any]] | None]:
        from sciconv_deepfea.official_io import read_official

        root = require_root(
            self.root, self.component, "a DeepFEA folder: <case>/dis_in.npz, dis_out.npz, effective_out.npz"
        )
        return read_official(root), root, None
