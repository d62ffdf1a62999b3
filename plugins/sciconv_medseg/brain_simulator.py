"""A simulator of multi-modal brain MRI (T1, T1ce, T2, FLAIR) with a glioma, written in the BraTS layout.

:func:`simulate_case` returns one case as :func:`~sciconv_medseg.brats_io.read_case` returns a real one;
:func:`write_simulated_brats` writes a data set with :func:`~sciconv_medseg.brats_io.write_case`, which the
BraTS reader reads like the real folders. All randomness comes from ``seed``.

Geometry. The head fills the field of view whatever the grid (coordinates are fractions of the half field of
view); ``spacing`` (mm) only sets the affine, so the default 64^3 grid at 3 mm covers 192 mm, about a head.
Nested, noise-deformed ellipsoids (per-case size jitter) give scalp, skull, a thin outer CSF layer and the
brain; inside the brain, a white-matter core with a gyral (noise-deformed) boundary surrounded by a cortical
grey-matter ribbon, sulcal CSF cut into the ribbon, the interhemispheric fissure, two lateral ventricles and two
deep grey nuclei (thalami).

Tumour (glioblastoma-like, seeded in the white matter of one hemisphere, away from the midline): a randomly
rotated ellipsoid (radius 13-26 % of the half field of view, about 12-25 mm at the default grid) whose
boundary is deformed by a smooth random field. Its inside is the necrotic core (label 1, NCR) surrounded by
the enhancing rim (label ``ET``: 4 in the 2021 convention, 3 in 2023; at least 1.5 voxels thick, so that
necrosis touches nothing but the rim); vasogenic oedema (label 2) extends 1.4-2.2 tumour radii with a more
irregular boundary, fills white matter but enters grey matter only near the tumour and never the CSF (it
spreads along white-matter tracts and largely spares the cortex). With ``enhancing=False`` the whole core is
non-enhancing tumour (label 1, lower-grade-like), and with ``tumour=False`` the case is tumour-free; both occur
in real collections.

Contrast. Relative signal per tissue and modality (before scaling, see ``INTENSITIES``), as on clinical
sequences: T1 — white matter brightest in the brain, grey matter darker, CSF dark, tumour and oedema
hypointense, enhancing tumour hypo/iso; T1ce — like T1 except the enhancing rim, brighter than anything in
the brain (gadolinium), while the necrotic core stays dark; T2 — CSF brightest, oedema and necrotic core
bright, white matter darker than grey; FLAIR — CSF suppressed (dark), oedema brightest, grey above white.
Fat of the scalp is bright on T1 and bone dark everywhere.

Acquisition. Per tissue a mild texture (smooth multiplicative field, 4 %), partial-volume blur (Gaussian,
0.6 voxel), a smooth multiplicative bias field per modality (``exp(bias * field)``, a different field per
sequence), a per-case gain per modality (log-uniform 200-2000: scanner units are arbitrary, as in BraTS) and
Rician noise (magnitude of a complex signal with Gaussian noise of ``noise`` times the gain on both parts).
With ``skull_stripped=True`` (the default, as BraTS distributes its volumes after brain extraction) every
voxel outside the brain mask (brain plus the outer CSF layer) is exactly 0; with False the scalp, skull and
the Rayleigh background noise remain.

The affine is ``diag(-spacing, -spacing, spacing)`` (voxel axes towards left, posterior, superior as in BraTS'
stored volumes), the grid centre at the world origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from sciconv.errors import ConfigError
from sciconv_medseg.brats_io import ET_LABEL, MODALITIES, check_convention, write_case

SIMULATOR_VERSION = 1
"""Part of the simulation cache's key (:func:`sciconv.kit.cached_simulation`): raise it whenever a change here
changes the simulated data for the same parameters, so that cached files written before are not reused."""

AIR, SCALP, SKULL, CSF, GM, WM = 0, 1, 2, 3, 4, 5
"""Tissue codes of the phantom (the ``tissues`` map of :class:`SimulatedCase`)."""

TISSUE_NAMES: dict[int, str] = {AIR: "air", SCALP: "scalp", SKULL: "skull", CSF: "csf", GM: "gm", WM: "wm"}

INTENSITIES: dict[str, tuple[float, float, float, float]] = {
    # relative signal on (t1, t1ce, t2, flair)
    "air": (0.0, 0.0, 0.0, 0.0),
    "scalp": (0.90, 0.90, 0.60, 0.60),  # fat: bright on T1, fairly bright on fast spin-echo T2 / FLAIR
    "skull": (0.05, 0.05, 0.05, 0.05),  # cortical bone: no signal
    "csf": (0.15, 0.15, 1.00, 0.08),  # dark on T1, brightest on T2, suppressed on FLAIR
    "gm": (0.45, 0.47, 0.55, 0.50),
    "wm": (0.65, 0.66, 0.40, 0.40),
    "necrosis": (0.25, 0.25, 0.85, 0.55),  # fluid-like necrotic core, no enhancement
    "enhancing": (0.40, 1.10, 0.60, 0.65),  # hypo/iso on T1, bright on T1ce (blood-brain barrier breakdown)
    "nonenhancing": (0.35, 0.36, 0.75, 0.70),  # solid non-enhancing tumour
    "oedema": (0.40, 0.42, 0.80, 0.85),  # vasogenic oedema: T1 hypo, T2 / FLAIR bright
}
"""Relative signal of each tissue on (t1, t1ce, t2, flair), before texture, bias, gain and noise."""


@dataclass(frozen=True)
class SimulatedCase:
    """One simulated case.

    Attributes:
        image: ``(4, X, Y, Z)`` float32, channels t1, t1ce, t2, flair (arbitrary scanner units, >= 0).
        label: ``(X, Y, Z)`` uint8 in the requested convention (0, 1 NCR, 2 ED, 4 or 3 ET).
        affine: ``(4, 4)`` voxel-to-world affine (mm).
        tissues: ``(X, Y, Z)`` uint8 normal-tissue map under the tumour (codes ``AIR`` .. ``WM``): what each voxel
            would be without the tumour, for checking contrasts.
    """

    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray
    tissues: np.ndarray


def _field(rng: np.random.Generator, shape: tuple[int, int, int], sigma: float) -> np.ndarray:
    """A smooth Gaussian random field of unit standard deviation (smoothing ``sigma`` in voxels)."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def _ellipsoid(coords: np.ndarray, centre: Sequence[float], radii: Sequence[float]) -> np.ndarray:
    """Normalised ellipsoid radius ``sqrt(sum(((x - c) / r)^2))`` over ``coords`` ``(3, X, Y, Z)``."""
    c = np.asarray(centre, dtype=np.float64).reshape(3, 1, 1, 1)
    r = np.asarray(radii, dtype=np.float64).reshape(3, 1, 1, 1)
    return np.sqrt((((coords - c) / r) ** 2).sum(axis=0))


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _phantom(rng: np.random.Generator, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal anatomy: ``(tissues uint8 (X, Y, Z), brain mask bool, coords (3, X, Y, Z) in [-1, 1])``."""
    axes = [np.linspace(-1.0, 1.0, n) for n in shape]
    coords = np.stack(np.meshgrid(*axes, indexing="ij"))
    n_min = min(shape)
    jitter = 1.0 + 0.04 * rng.standard_normal(3)
    head_axes = np.array([0.78, 0.94, 0.86]) * jitter
    r = _ellipsoid(coords, (0.0, 0.0, 0.0), head_axes) * (1.0 + 0.02 * _field(rng, shape, 0.25 * n_min))
    tissues = np.full(shape, AIR, dtype=np.uint8)
    tissues[r < 1.0] = SCALP
    tissues[r < 0.92] = SKULL
    tissues[r < 0.84] = CSF
    brain = r < 0.80
    tissues[brain] = GM
    gyri = 1.0 + 0.07 * _field(rng, shape, 0.04 * n_min + 0.5)
    white = brain & (r * gyri < 0.60)
    tissues[white] = WM
    # sulcal CSF in the cortical ribbon, and the interhemispheric fissure
    sulci = brain & ~white & (_field(rng, shape, 0.03 * n_min + 0.5) > 1.1)
    tissues[sulci] = CSF
    half_voxel = 1.0 / (shape[0] - 1)
    fissure = brain & (np.abs(coords[0]) <= 1.2 * half_voxel) & (r > 0.50) & (coords[2] > -0.3)
    tissues[fissure] = CSF
    for side in (-1.0, 1.0):
        thalamus = _ellipsoid(coords, (0.15 * side, -0.02, -0.06), (0.10, 0.14, 0.10)) < 1.0
        tissues[thalamus] = GM
        ventricle = _ellipsoid(coords, (0.09 * side, 0.04, 0.12), (0.055, 0.30, 0.09)) < 1.0
        tissues[ventricle] = CSF
    return tissues, r < 0.84, coords


def _tumour(
    rng: np.random.Generator,
    tissues: np.ndarray,
    coords: np.ndarray,
    enhancing: bool,
    et_label: int,
) -> np.ndarray:
    """The tumour label map (uint8: 0, 1 NCR / non-enhancing, 2 ED, ``et_label``) over ``tissues``."""
    shape = tissues.shape
    n_min = min(shape)
    label = np.zeros(shape, dtype=np.uint8)
    brain_r = np.sqrt((coords[0] / 0.78) ** 2 + (coords[1] / 0.94) ** 2 + (coords[2] / 0.86) ** 2)
    candidates = np.flatnonzero((tissues == WM) & (np.abs(coords[0]) > 0.15) & (brain_r < 0.55))
    if candidates.size == 0:
        candidates = np.flatnonzero(tissues == WM)
    centre = coords.reshape(3, -1)[:, rng.choice(candidates)]
    radius = rng.uniform(0.13, 0.26)
    radii = radius * rng.uniform(0.75, 1.25, size=3)
    rot = _random_rotation(rng)
    local = np.einsum("ij,jxyz->ixyz", rot.T, coords - centre.reshape(3, 1, 1, 1))
    d = np.sqrt(((local / radii.reshape(3, 1, 1, 1)) ** 2).sum(axis=0))
    core_d = d * (1.0 + 0.15 * _field(rng, shape, 0.06 * n_min + 0.5))
    oedema_d = d * (1.0 + 0.30 * _field(rng, shape, 0.05 * n_min + 0.5))
    parenchyma = (tissues == WM) | (tissues == GM)
    inside_brain = parenchyma | ((tissues == CSF) & (brain_r < 0.70))
    core = inside_brain & (core_d < 1.0)
    extent = rng.uniform(1.4, 2.2)
    oedema = ~core & (((tissues == WM) & (oedema_d < extent)) | ((tissues == GM) & (oedema_d < 0.5 * (1.0 + extent))))
    label[oedema] = 2
    if not enhancing:
        label[core] = 1
        return label
    voxel = 2.0 / (n_min - 1)  # one voxel in the same units as ``radius``
    necrotic_fraction = min(rng.uniform(0.45, 0.75), 1.0 - 1.5 * voxel / radii.min())
    label[core] = et_label
    # necrosis only strictly inside the core, so the enhancing rim always encloses it
    label[core & (core_d < necrotic_fraction) & ndimage.binary_erosion(core)] = 1
    return label


def simulate_case_with_tissues(
    shape: Sequence[int] = (64, 64, 64),
    seed: int | np.random.SeedSequence = 0,
    *,
    spacing: float = 3.0,
    tumour: bool = True,
    enhancing: bool = True,
    convention: str = "2021",
    noise: float = 0.03,
    bias: float = 0.10,
    skull_stripped: bool = True,
) -> SimulatedCase:
    """One simulated case with its normal-tissue map; see the module docstring for the model.

    Args:
        shape: grid ``(X, Y, Z)`` (voxels, each at least 16).
        seed: the random seed (an int or a SeedSequence).
        spacing: voxel size in mm (isotropic), used for the affine only.
        tumour: ``False`` for a tumour-free case (an all-zero label).
        enhancing: ``False`` for a tumour without enhancing part (core labelled 1, non-enhancing).
        convention: ``"2021"`` (ET = 4) or ``"2023"`` (ET = 3), for the label values.
        noise: Rician noise level, as a fraction of the per-modality gain (white matter on T1 is 0.65 of it).
        bias: strength of the multiplicative bias field (log-scale standard deviation).
        skull_stripped: zero outside the brain mask, as BraTS distributes its volumes.
    """
    convention = check_convention(convention)
    shape_t = tuple(int(n) for n in shape)
    if len(shape_t) != 3 or min(shape_t) < 16:
        raise ConfigError(f"simulate_case: shape must be three sides of at least 16 voxels; got {tuple(shape)}")
    if spacing <= 0 or noise < 0 or bias < 0:
        raise ConfigError(f"simulate_case: spacing must be > 0, noise and bias >= 0; got {spacing}, {noise}, {bias}")
    grid: tuple[int, int, int] = (shape_t[0], shape_t[1], shape_t[2])
    root_seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # separate streams: anatomy, tumour and appearance
    rng_anatomy, rng_tumour, rng_appearance = (np.random.default_rng(s) for s in root_seed.spawn(3))
    tissues, brain_mask, coords = _phantom(rng_anatomy, grid)
    if tumour:
        label = _tumour(rng_tumour, tissues, coords, enhancing, ET_LABEL[convention])
    else:
        label = np.zeros(grid, dtype=np.uint8)

    et = ET_LABEL[convention]
    compartments: list[tuple[np.ndarray, str]] = [(tissues == code, name) for code, name in TISSUE_NAMES.items()]
    compartments += [(label == 2, "oedema"), (label == et, "enhancing")]
    compartments.append((label == 1, "necrosis" if enhancing else "nonenhancing"))

    n_min = min(grid)
    image = np.empty((len(MODALITIES), *grid), dtype=np.float32)
    for m in range(len(MODALITIES)):
        clean = np.zeros(grid)
        for mask, name in compartments:  # tumour compartments come last and overwrite the normal tissue
            clean[mask] = INTENSITIES[name][m]
        clean *= 1.0 + 0.04 * _field(rng_appearance, grid, 1.0)
        clean = ndimage.gaussian_filter(clean, 0.6)
        clean *= np.exp(bias * _field(rng_appearance, grid, 0.3 * n_min))
        gain = float(np.exp(rng_appearance.uniform(np.log(200.0), np.log(2000.0))))
        sigma = noise * gain
        real = gain * clean + sigma * rng_appearance.standard_normal(grid)
        imag = sigma * rng_appearance.standard_normal(grid)
        magnitude = np.sqrt(real**2 + imag**2)
        if skull_stripped:
            magnitude[~brain_mask] = 0.0
        image[m] = magnitude.astype(np.float32)

    affine = np.diag([-spacing, -spacing, spacing, 1.0])
    affine[:3, 3] = -affine[:3, :3] @ ((np.array(grid) - 1) / 2.0)
    return SimulatedCase(image=image, label=label, affine=affine, tissues=tissues)


def simulate_case(
    shape: Sequence[int] = (64, 64, 64),
    seed: int | np.random.SeedSequence = 0,
    **kwargs: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One simulated case ``(image (4, X, Y, Z) float32, label (X, Y, Z) uint8, affine (4, 4))``.

    The arrays :func:`~sciconv_medseg.brats_io.read_case` returns for a real case (channels t1, t1ce, t2, flair;
    labels of ``convention``). Keyword arguments as :func:`simulate_case_with_tissues`.
    """
    case = simulate_case_with_tissues(shape, seed, **kwargs)  # type: ignore[arg-type]
    return case.image, case.label, case.affine


def case_id(index: int, convention: str = "2021") -> str:
    """The BraTS-style id of case ``index``: ``BraTS2021_00007`` (2021) or ``BraTS-GLI-00007-000`` (2023)."""
    return f"BraTS2021_{index:05d}" if convention == "2021" else f"BraTS-GLI-{index:05d}-000"


def write_simulated_brats(
    root: str | Path,
    n_cases: int,
    shape: Sequence[int] = (64, 64, 64),
    seed: int = 0,
    convention: str = "2021",
    *,
    p_tumour_free: float = 0.0,
    p_no_enhancing: float = 0.1,
    **kwargs: object,
) -> list[Path]:
    """Write ``n_cases`` simulated cases under ``root`` in the BraTS layout of ``convention``; returns the folders.

    Case ``i`` is named by :func:`case_id` and drawn from its own child seed of ``seed``, so a case does not depend
    on ``n_cases``. Each case is tumour-free with probability ``p_tumour_free`` and, if not, has no enhancing part
    with probability ``p_no_enhancing`` (default 0.1; real BraTS glioma cases nearly always have a tumour, and a
    minority lack enhancement). Other keyword arguments go to :func:`simulate_case_with_tissues`.
    """
    convention = check_convention(convention)
    if n_cases < 1:
        raise ConfigError(f"write_simulated_brats: n_cases must be >= 1; got {n_cases}")
    if not (0.0 <= p_tumour_free <= 1.0 and 0.0 <= p_no_enhancing <= 1.0):
        raise ConfigError("write_simulated_brats: p_tumour_free and p_no_enhancing must be in [0, 1]")
    children = np.random.SeedSequence(seed).spawn(n_cases)
    folders = []
    for i, child in enumerate(children):
        draw_seed, case_seed = child.spawn(2)
        u = np.random.default_rng(draw_seed).uniform(size=2)
        case = simulate_case_with_tissues(
            shape,
            case_seed,
            tumour=bool(u[0] >= p_tumour_free),
            enhancing=bool(u[1] >= p_no_enhancing),
            convention=convention,
            **kwargs,  # type: ignore[arg-type]
        )
        folders.append(write_case(root, case_id(i, convention), case.image, case.label, case.affine, convention))
    return folders
