"""CMB temperature maps with masks as sciconv dataset components.

Two datasets, both read HEALPix FITS files with the real reader (:mod:`.healpix_io`):

- :class:`SimulatedSkyDataset` (``cmb-inpainting.simulated``): Gaussian CMB skies of the Planck 2018 best-fit
  spectrum with a beam, the pixel window and white noise, each with its own mask (an irregular Galactic cut and
  point-source discs), written once per set of parameters into the simulation cache
  (:func:`sciconv.kit.cached_simulation`, ``<cache>/cmb-<hash>``) in the layout of :mod:`.sky_simulator`
  (``maps/sky_0000.fits``, ``masks/mask_0000.fits``, ``spectrum.txt``, ``sky_simulation.json``) and read back.
  The first ``n_train`` maps train, the next ``n_val`` validate, the last ``n_test`` test.
- :class:`SkyMapDataset` (``cmb-inpainting.map``): a real map (``root``: a folder holding one map FITS and one mask
  FITS, or give both file names). Its ``info["real"]`` is the map to inpaint; ``train``/``val``/``test`` are
  simulations that match it: its Nside, the beam and noise given as parameters, and its own mask (every training
  mask is the real mask times random point-source discs, so the network learns to fill the real cut).

Items of every split are ``(x, y)`` float32 in NESTED order (the network's projection, :mod:`.healpix_faces`):
``x`` ``(2, npix)``: channel 0 the map divided by ``scale_uK`` and set to 0 where masked, channel 1 the mask
(1 observed, 0 masked, apodised values in between); ``y`` ``(1, npix)``: the whole map divided by ``scale_uK``.
``scale_uK`` is the expected pixel standard deviation of the simulated sky (signal with beam and pixel window plus
noise), from the spectrum, so the real map and the simulations are scaled alike.

``info`` holds what the baselines and metrics need, in µK and RING order (healpy's default):
``maps`` / ``masks`` per split (``{"train": (n, npix), ...}``), ``cl_theory`` (C_l of the spectrum, no beam),
``cl_sky`` (C_l b_l² p_l², the spectrum the maps see), ``noise_uK``, ``fwhm_arcmin``, ``scale_uK``, ``nside``, and
for the real map ``real`` (:class:`RealSky`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError, DataError
from sciconv.kit import cached_simulation, derive_seed, require_root

MAP_UNITS = {"K": 1e6, "MK": 1e3, "UK": 1.0}
"""Temperature units a map header may give (``TUNIT``) and their factor to µK (thermodynamic). Read without regard
to case or spaces, with µ, μ or mu for micro and an optional ``_CMB`` or ``CMB`` suffix (``K_CMB``, ``uK``, ``µK``)."""

ROOT_EXPECTED = "a folder holding one HEALPix map FITS file and one mask FITS file (a name with 'mask' in it)"

PowerOf2 = Annotated[int, Field(ge=2, le=1024)]


@dataclass(frozen=True)
class RealSky:
    """A real map to inpaint, in µK and RING order.

    ``values`` (npix,) with the monopole and dipole fitted on the observed pixels removed (``dipole_removed_uK``
    gives the monopole and the three dipole components); ``mask`` (npix,) in [0, 1] from the mask file, times the
    map's own unobserved pixels; ``observed`` = ``mask > 0``; ``map_path`` and ``mask_path`` the files; ``unit`` the
    unit the file stated (or was given); ``fsky`` the observed fraction.
    """

    values: np.ndarray
    mask: np.ndarray
    map_path: Path
    mask_path: Path
    unit: str
    dipole_removed_uK: tuple[float, float, float, float]

    @property
    def observed(self) -> np.ndarray:
        """Boolean (npix,): the pixels the mask keeps."""
        return self.mask > 0

    @property
    def fsky(self) -> float:
        """The observed fraction of the sky."""
        return float(np.mean(self.observed))

    @property
    def nside(self) -> int:
        import healpy as hp

        return int(hp.npix2nside(self.values.size))


def check_nside(nside: int, key: str = "dataset.params.nside") -> None:
    """Refuse an Nside that is not a power of 2 >= 2 (the network halves it on the NESTED faces)."""
    if nside < 2 or nside & (nside - 1):
        raise ConfigError(f"{key}: expected a power of 2 >= 2 (HEALPix NESTED faces), got {nside}")


def _check_supersample(value: int) -> None:
    if int(value) & (int(value) - 1):
        raise ConfigError(f"dataset.params.supersample: expected a power of 2 (1, 2, 4, ...), got {value}")


def read_simulation_folder(folder: Path) -> dict[str, Any]:
    """Read a folder in the simulator's layout with the real reader: ``maps`` (n, npix) µK RING, ``masks``
    (n, npix), ``cl_theory`` (lmax+1,) µK², and the ``record`` of ``sky_simulation.json``."""
    from sciconv_cmb.healpix_io import read_mask, read_sky_map

    record = json.loads((folder / "sky_simulation.json").read_text())
    map_files = sorted((folder / "maps").glob("*.fits"))
    mask_files = sorted((folder / "masks").glob("*.fits"))
    if not map_files or len(map_files) != len(mask_files):
        raise DataError(
            f"{folder}: expected as many masks/*.fits as maps/*.fits (at least one), found {len(map_files)} maps "
            f"and {len(mask_files)} masks"
        )
    maps, masks = [], []
    for map_file, mask_file in zip(map_files, mask_files, strict=True):
        sky = read_sky_map(map_file)
        maps.append(sky.values * _unit_factor(sky.unit, map_file))
        masks.append(read_mask(mask_file, sky.nside, map_path=map_file))
    table = np.loadtxt(folder / "spectrum.txt", comments="#")
    cl = np.zeros(int(table[:, 0].max()) + 1)
    cl[table[:, 0].astype(int)] = table[:, 1]
    return {"maps": np.stack(maps), "masks": np.stack(masks), "cl_theory": cl, "record": record}


def _unit_factor(unit: str, path: Path, key: str = "dataset.params.unit") -> float:
    name = unit.replace(" ", "").replace("µ", "u").replace("μ", "u").upper()
    name = name.removesuffix("_CMB").removesuffix("CMB")
    if name.startswith("MU"):
        name = "U" + name[2:]
    if name not in MAP_UNITS:
        if not unit.strip():
            raise DataError(f"{path}: the header gives no temperature unit (TUNIT); give {key} (K, mK or uK)")
        raise DataError(f"{path}: unit {unit!r} is not a CMB temperature unit; expected K, mK or uK (K_CMB)")
    return MAP_UNITS[name]


def scale_of(cl_sky: np.ndarray, noise_uK: float) -> float:
    """The expected pixel standard deviation (µK) of a map with spectrum ``cl_sky`` (beam and pixel window in) and
    white noise ``noise_uK`` per pixel: sqrt(Σ (2l+1)/(4π) C_l + noise²)."""
    ell = np.arange(cl_sky.size)
    return float(np.sqrt(np.sum((2 * ell + 1) / (4 * np.pi) * cl_sky) + noise_uK**2))


def network_items(maps: np.ndarray, masks: np.ndarray, scale_uK: float) -> Any:
    """A TensorDataset of ``(x (2, npix), y (1, npix))`` float32 NESTED items from RING maps and masks (µK)."""
    import healpy as hp
    import torch
    from torch.utils.data import TensorDataset

    nest_maps = np.stack([hp.reorder(m, r2n=True) for m in maps]) / scale_uK
    nest_masks = np.stack([hp.reorder(m, r2n=True) for m in masks])
    observed = nest_masks > 0
    x = np.stack([np.where(observed, nest_maps, 0.0), nest_masks], axis=1).astype(np.float32)
    y = nest_maps[:, None].astype(np.float32)
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def _spec(nside: int, name: str, extra: dict[str, Any]) -> DataSpec:
    return DataSpec(
        input_shape=(2, 12 * nside**2),
        n_outputs=12 * nside**2,
        task_type="reconstruction",
        channels=("masked_map", "mask"),
        units="map / scale_uK (dimensionless); the task reports µK (K_CMB)",
        extra={"dataset": name, "nside": nside, "ordering": "NESTED", **extra},
    )


class _SimulationParams:
    """The simulation parameters both datasets share (stored by their ``__init__``)."""

    n_train: int
    n_val: int
    n_test: int
    nside: int
    fwhm_arcmin: float
    noise_uK: float
    spectrum: str
    seed: int
    supersample: int
    cache_dir: str | None

    def _simulate(
        self,
        n_maps: int,
        *,
        foreground_uK: float,
        fsky_galactic: float,
        n_sources: int,
        source_radius_arcmin: float,
        irregularity_deg: float,
        apodisation_arcmin: float,
    ) -> dict[str, Any]:
        from sciconv_cmb.sky_simulator import SIMULATOR_VERSION, simulate_dataset

        params = {
            "n_maps": int(n_maps),
            "nside": int(self.nside),
            "fwhm_arcmin": float(self.fwhm_arcmin),
            "noise_uK": float(self.noise_uK),
            "foreground_uK": float(foreground_uK),
            "fsky_galactic": float(fsky_galactic),
            "n_sources": int(n_sources),
            "source_radius_arcmin": float(source_radius_arcmin),
            "irregularity_deg": float(irregularity_deg),
            "apodisation_arcmin": float(apodisation_arcmin),
            "spectrum": str(self.spectrum),
            "seed": int(self.seed),
            "supersample": int(self.supersample),
        }

        def write(folder: Path) -> None:
            simulate_dataset(folder, **params, cache_dir=self.cache_dir)

        folder = cached_simulation("cmb", params, write, version=SIMULATOR_VERSION, cache_dir=self.cache_dir)
        return read_simulation_folder(folder)

    def _sky_spectra(self, cl_theory: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The spectrum the maps see (up to 3 Nside - 1), the pixel rms of the power above it (µK, see
        :func:`~sciconv_cmb.sky_simulator.unresolved_variance`), and the maps' expected pixel std (µK)."""
        from sciconv_cmb.sky_simulator import observed_cl, unresolved_variance

        nside, fwhm = int(self.nside), float(self.fwhm_arcmin)
        cl_sky = observed_cl(cl_theory, nside, fwhm)
        unresolved = np.sqrt(unresolved_variance(cl_theory, nside, fwhm_arcmin=fwhm, supersample=int(self.supersample)))
        return cl_sky, float(unresolved), scale_of(cl_sky, float(np.hypot(self.noise_uK, unresolved)))

    def _bundle(
        self, sim: dict[str, Any], masks_all: np.ndarray, nside: int, name: str, source: str, real: RealSky | None
    ) -> DataBundle:
        """The simulations cut into train/val/test (in that order), as network items and as ``info``."""
        n_train, n_val = int(self.n_train), int(self.n_val)
        cl_sky, unresolved, scale = self._sky_spectra(sim["cl_theory"])
        cuts = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, None)}
        maps = {k: sim["maps"][a:b] for k, (a, b) in cuts.items()}
        masks = {k: masks_all[a:b] for k, (a, b) in cuts.items()}
        splits = {k: network_items(maps[k], masks[k], scale) for k in cuts}
        extra = {
            "scale_uK": scale,
            "fwhm_arcmin": float(self.fwhm_arcmin),
            "noise_uK": float(self.noise_uK),
            "spectrum": self.spectrum,
        }
        info = {
            "maps": maps,
            "masks": masks,
            "cl_theory": sim["cl_theory"],
            "cl_sky": cl_sky,
            "noise_uK": float(self.noise_uK),
            "unresolved_uK": unresolved,
            "fwhm_arcmin": float(self.fwhm_arcmin),
            "scale_uK": scale,
            "nside": nside,
            "simulation": sim["record"],
            "real": real,
            "source": source,
        }
        return DataBundle(splits["train"], splits["val"], splits["test"], _spec(nside, name, extra), info)

    def _check_common(self) -> None:
        from sciconv_cmb.sky_simulator import SPECTRUM_SOURCES

        check_nside(int(self.nside))
        _check_supersample(self.supersample)
        if self.spectrum not in SPECTRUM_SOURCES:
            raise ConfigError(
                f"dataset.params.spectrum: expected one of {', '.join(SPECTRUM_SOURCES)}, got {self.spectrum!r}"
            )


class SimulatedSkyDataset(_SimulationParams, DatasetBase):
    """Simulated CMB skies and masks (see the module docstring).

    Args:
        n_train, n_val, n_test: maps per split.
        nside: HEALPix Nside of the maps (a power of 2).
        fwhm_arcmin: Gaussian beam FWHM in arcmin (the pixel window of ``nside`` is applied too).
        noise_uK: white noise per pixel, µK.
        foreground_uK: amplitude of the simple Galactic foreground at the plane (0 for none), µK.
        fsky_galactic: observed fraction left by the Galactic cut alone.
        n_sources, source_radius_arcmin: point-source discs masked in each map.
        irregularity_deg: how far the Galactic cut's edge wanders from a constant latitude, degrees.
        apodisation_arcmin: FWHM of the apodisation of each mask (0: binary masks).
        spectrum: ``camb`` (Planck 2018 best fit, computed once and cached) or ``healpy`` (healpy's shipped file).
        seed: simulation seed.
        supersample: synthesise each sky at ``supersample`` x Nside and average the sub-pixels, so the maps
            hold the power above 3 Nside - 1 as real maps do (1: band-limited skies; with the default 180
            arcmin beam at Nside 32 that power is 1 µK², negligible).
        cache_dir: the simulation cache (default ``$SCICONV_CACHE_DIR/simulations`` or ``~/.cache/sciconv``).
    """

    def __init__(
        self,
        n_train: Annotated[int, Field(ge=1)] = 160,
        n_val: Annotated[int, Field(ge=1)] = 16,
        n_test: Annotated[int, Field(ge=1)] = 8,
        nside: PowerOf2 = 32,
        fwhm_arcmin: Annotated[float, Field(ge=0)] = 180.0,
        noise_uK: Annotated[float, Field(ge=0)] = 1.0,
        foreground_uK: Annotated[float, Field(ge=0)] = 0.0,
        fsky_galactic: Annotated[float, Field(gt=0, le=1)] = 0.8,
        n_sources: Annotated[int, Field(ge=0)] = 100,
        source_radius_arcmin: Annotated[float, Field(gt=0)] = 120.0,
        irregularity_deg: Annotated[float, Field(ge=0)] = 5.0,
        apodisation_arcmin: Annotated[float, Field(ge=0)] = 0.0,
        spectrum: str = "camb",
        seed: int = 0,
        supersample: Annotated[int, Field(ge=1, le=16)] = 1,
        cache_dir: str | None = None,
    ) -> None:
        self.n_train = n_train
        self.n_val = n_val
        self.n_test = n_test
        self.nside = nside
        self.fwhm_arcmin = fwhm_arcmin
        self.noise_uK = noise_uK
        self.foreground_uK = foreground_uK
        self.fsky_galactic = fsky_galactic
        self.n_sources = n_sources
        self.source_radius_arcmin = source_radius_arcmin
        self.irregularity_deg = irregularity_deg
        self.apodisation_arcmin = apodisation_arcmin
        self.spectrum = spectrum
        self.seed = seed
        self.supersample = supersample
        self.cache_dir = cache_dir

    def validate(self) -> None:
        self._check_common()

    def load(self) -> DataBundle:
        self.validate()
        n_train, n_val, n_test = int(self.n_train), int(self.n_val), int(self.n_test)
        sim = self._simulate(
            n_train + n_val + n_test,
            foreground_uK=self.foreground_uK,
            fsky_galactic=self.fsky_galactic,
            n_sources=self.n_sources,
            source_radius_arcmin=self.source_radius_arcmin,
            irregularity_deg=self.irregularity_deg,
            apodisation_arcmin=self.apodisation_arcmin,
        )
        nside = int(self.nside)
        source = f"simulated CMB skies (Nside {nside}, {self.fwhm_arcmin:g} arcmin beam)"
        return self._bundle(sim, sim["masks"], nside, "simulated", source, None)


class SkyMapDataset(_SimulationParams, DatasetBase):
    """A real HEALPix temperature map and its mask, with simulations that match it for training.

    Args:
        root: the folder holding the map and the mask (or None when both ``map`` and ``mask`` are paths).
        map: the map's file name in ``root`` (or a path); default the one FITS file without 'mask' in its name.
        mask: the mask's file name in ``root`` (or a path); default the one FITS file with 'mask' in its name.
        field: the map's field (0 = temperature, or a column name).
        unit: the map's unit when its header has none (``K``, ``mK``, ``uK``); ignored when the header has one.
        fwhm_arcmin: the map's beam FWHM in arcmin, for the matching simulations.
        noise_uK: the map's white noise per pixel, µK, for the matching simulations.
        n_train, n_val, n_test: matching simulated maps per split (their masks: the real mask times random discs).
        n_sources, source_radius_arcmin: the random discs masked in each simulation besides the real mask.
        supersample: sub-pixels per side of the matching simulations (4: the power above 3 Nside - 1 that a
            map downgraded from a finer one holds, as the WMAP sample does).
        spectrum, seed, cache_dir: as :class:`SimulatedSkyDataset`.
    """

    def __init__(
        self,
        root: str | None = None,
        map: str | None = None,
        mask: str | None = None,
        field: int | str = 0,
        unit: str | None = None,
        fwhm_arcmin: Annotated[float, Field(ge=0)] = 21.0,
        noise_uK: Annotated[float, Field(ge=0)] = 5.0,
        n_train: Annotated[int, Field(ge=1)] = 160,
        n_val: Annotated[int, Field(ge=1)] = 16,
        n_test: Annotated[int, Field(ge=1)] = 8,
        n_sources: Annotated[int, Field(ge=0)] = 40,
        source_radius_arcmin: Annotated[float, Field(gt=0)] = 150.0,
        spectrum: str = "camb",
        seed: int = 0,
        supersample: Annotated[int, Field(ge=1, le=16)] = 4,
        cache_dir: str | None = None,
    ) -> None:
        self.root = root
        self.map = map
        self.mask = mask
        self.field = field
        self.unit = unit
        self.fwhm_arcmin = fwhm_arcmin
        self.noise_uK = noise_uK
        self.n_train = n_train
        self.n_val = n_val
        self.n_test = n_test
        self.n_sources = n_sources
        self.source_radius_arcmin = source_radius_arcmin
        self.spectrum = spectrum
        self.seed = seed
        self.supersample = supersample
        self.cache_dir = cache_dir
        self.nside = 0  # read from the map in load()

    def validate(self) -> None:
        from sciconv_cmb.sky_simulator import SPECTRUM_SOURCES

        if self.root is None and (self.map is None or self.mask is None):
            raise ConfigError(
                "dataset.params.root: expected a folder holding the map and its mask (or give both "
                "dataset.params.map and dataset.params.mask as paths)"
            )
        if self.spectrum not in SPECTRUM_SOURCES:
            raise ConfigError(
                f"dataset.params.spectrum: expected one of {', '.join(SPECTRUM_SOURCES)}, got {self.spectrum!r}"
            )
        _check_supersample(self.supersample)

    def _files(self) -> tuple[Path, Path]:
        from sciconv.kit import require_file

        if self.root is None:
            return (
                require_file(str(self.map), "a HEALPix map FITS file", key="dataset.params.map"),
                require_file(str(self.mask), "a HEALPix mask FITS file", key="dataset.params.mask"),
            )
        root = require_root(self.root, "cmb-inpainting.map", ROOT_EXPECTED)
        if root.is_file():
            raise DataError(f"dataset.params.root: {root} is a file; expected {ROOT_EXPECTED}")
        fits = sorted(
            p for p in root.iterdir() if p.suffix.lower() in {".fits", ".fit", ".fz"} or p.name.endswith(".fits.gz")
        )

        def pick(given: str | None, want_mask: bool, key: str) -> Path:
            if given is not None:
                path = Path(given) if Path(given).is_absolute() else root / given
                return require_file(str(path), "a HEALPix FITS file", key=key)
            found = [p for p in fits if ("mask" in p.name.lower()) == want_mask]
            if len(found) != 1:
                what = "mask (a FITS file with 'mask' in its name)" if want_mask else "map (a FITS file without 'mask')"
                names = ", ".join(p.name for p in found) or "none"
                raise DataError(f"{root}: expected exactly one {what}, found {names}; name it with {key}")
            return found[0]

        return pick(self.map, False, "dataset.params.map"), pick(self.mask, True, "dataset.params.mask")

    def read_real(self) -> RealSky:
        """The real map (µK, RING, monopole and dipole removed) and its mask, checked."""
        import healpy as hp

        from sciconv_cmb.healpix_io import read_mask, read_sky_map

        map_path, mask_path = self._files()
        sky = read_sky_map(map_path, self.field, default_unit=self.unit or "")
        factor = _unit_factor(sky.unit, map_path)
        mask = read_mask(mask_path, sky.nside, map_path=map_path) * sky.observed
        if not (mask > 0).any():
            raise DataError(f"{mask_path}: the mask leaves no observed pixel of the map {map_path}")
        check_nside(sky.nside, key=f"{map_path} Nside")
        values = np.where(sky.observed, sky.values * factor, 0.0)
        mono, dipole = hp.fit_dipole(np.where(mask > 0, values, hp.UNSEEN), bad=hp.UNSEEN)  # on the observed sky
        x, y, z = hp.pix2vec(sky.nside, np.arange(values.size))
        cleaned = values - mono - (dipole[0] * x + dipole[1] * y + dipole[2] * z)
        out = np.where(sky.observed, cleaned, 0.0)
        return RealSky(out, mask, map_path, mask_path, sky.unit, (float(mono), *(float(d) for d in dipole)))

    def load(self) -> DataBundle:
        self.validate()
        real = self.read_real()
        self.nside = real.nside
        n_train, n_val, n_test = int(self.n_train), int(self.n_val), int(self.n_test)
        sim = self._simulate(
            n_train + n_val + n_test,
            foreground_uK=0.0,
            fsky_galactic=1.0,
            n_sources=self.n_sources,
            source_radius_arcmin=self.source_radius_arcmin,
            irregularity_deg=0.0,
            apodisation_arcmin=0.0,
        )
        source = f"{real.map_path.name} with {real.mask_path.name} (Nside {real.nside}, fsky {real.fsky:.3f})"
        return self._bundle(sim, sim["masks"] * real.mask[None], real.nside, "map", source, real)


def hole_mask(real: RealSky, n_holes: int, radius_arcmin: float, seed: int) -> np.ndarray:
    """Boolean (npix,): discs punched into the real map's observed pixels for the hole-punch validation (their
    truth is the observed map); at least one pixel. Seeded (``derive_seed(seed, "holes")``)."""
    from sciconv_cmb.sky_simulator import point_source_mask

    discs = point_source_mask(real.nside, n_holes, radius_arcmin, seed=derive_seed(seed, "holes")) < 0.5
    holes = discs & real.observed
    if not holes.any():
        raise ConfigError(f"task.params.holes: {n_holes} discs of {radius_arcmin:g} arcmin hit no observed pixel")
    return holes
