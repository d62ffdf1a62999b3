"""Simulated posteroanterior chest radiographs from a statistical shape model (SSM) of the lungs and heart.

Shape model. The 120 landmarks of HybridGNet (right lung 44, left lung 50, heart 26; :mod:`.chest_landmarks_io`)
are modelled as a point distribution model, ``x = mean + sum_k b_k sd_k phi_k`` with ``b_k ~ N(0, 1)`` clipped to
``[-2.5, 2.5]``, in normalised image coordinates (``(x, y)`` in ``[0, 1]``, y down; scaled to pixels at the end).

- The mean shape: each organ a closed contour through a handful of anatomical control points (apex, lateral wall,
  costophrenic angle, diaphragm dome, cardiophrenic angle, hilum, for the lungs; the heart's cardiac borders),
  interpolated by a periodic Catmull-Rom spline and resampled at equal arc length, starting at the apex (lungs) or
  the top of the heart, all oriented the same way (positive shoelace area in ``(x, y)`` with y down, i.e.
  clockwise on screen). The patient's right lung is on the image's left; the heart sits left of the midline (on
  the image's right), overlapping the left lung's medial edge and reaching the right lung's cardiophrenic angle.
- Modes ``phi_k`` (:data:`MODE_NAMES`, standard deviations :data:`MODE_SD`): global size, thorax width, lung height
  (diaphragm level), heart size, in-plane rotation (linearised), horizontal and vertical translation, and two
  smooth per-organ contour deformations (low-frequency Fourier modes of the normal displacement). Each is a linear
  displacement field of the 120 points, like the principal modes of a PCA shape model, with amplitudes chosen to
  stay anatomically plausible (no ring self-intersects within the clipped range; tested).

Rendering (:func:`render_chest`) approximates the attenuation picture of a PA radiograph, brighter = more
attenuating: air outside the body dark; soft tissue of the chest wall, mediastinum and abdomen (below the
diaphragm) bright; aerated lungs dark, darkest laterally and at mid height; posterior ribs as curved bright bands
visible over the lungs; clavicles; the spine behind the mediastinum; the heart shadow bright over whatever lung it
overlaps. Then a Gaussian blur (the detector's point spread, :func:`scipy.ndimage.gaussian_filter`), quantum noise
(Gaussian, variance growing with the dose reaching the detector, i.e. with darkness), and intensity windowing to
``[0, 1]``.

Occlusions (:func:`apply_occlusions`): with probability ``occlusion`` a case gets one to three rectangles or
elliptical blobs, centred on a random lung or heart pixel, of side ``occlusion_size`` times the image side (jittered)
and filled with a constant or a noisy random intensity: the stress test of HybridGNet's paper (anatomical
plausibility when part of an organ is hidden). Domain shift (:class:`DomainShift`): gamma, contrast, brightness,
noise and blur changes applied to the rendering, as between scanners or sites.

Random streams. ``simulate_chest_case(seed=s)`` draws the shape, the anatomy rendering and the occlusions from three
independent streams spawned from ``s``: the same seed gives the same landmarks and the same underlying radiograph
with or without occlusion or shift, so clean and occluded sets are paired case by case.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from scipy import ndimage

from sciconv.errors import ConfigError
from sciconv_medseg.chest_landmarks_io import ORGANS, landmarks_to_masks, organ_slices, write_chest_case

SIMULATOR_VERSION = 1
"""Part of the simulation cache's key (:func:`sciconv.kit.cached_simulation`): raise it whenever a change here
changes the simulated data for the same parameters, so that cached files written before are not reused."""

# Control points of the mean contours, normalised (x, y), y down, clockwise on screen, starting at the top.
_CONTROL: dict[str, list[tuple[float, float]]] = {
    # patient's right lung, image left: apex, medial wall (mediastinum), hilum, cardiophrenic angle, diaphragm dome,
    # costophrenic angle, lateral wall
    "RL": [
        (0.300, 0.130),
        (0.360, 0.170),
        (0.405, 0.260),
        (0.415, 0.400),
        (0.425, 0.560),
        (0.440, 0.690),
        (0.380, 0.720),
        (0.300, 0.735),
        (0.220, 0.770),
        (0.155, 0.815),
        (0.140, 0.700),
        (0.145, 0.500),
        (0.170, 0.300),
        (0.220, 0.180),
    ],
    # patient's left lung, image right: apex, lateral wall, costophrenic angle, diaphragm, heart border (concave,
    # the cardiac notch), aortic knob region, medial wall
    "LL": [
        (0.690, 0.140),
        (0.780, 0.185),
        (0.830, 0.300),
        (0.855, 0.500),
        (0.860, 0.700),
        (0.850, 0.835),
        (0.780, 0.795),
        (0.710, 0.765),
        (0.650, 0.745),
        (0.630, 0.640),
        (0.600, 0.500),
        (0.575, 0.400),
        (0.590, 0.300),
        (0.620, 0.200),
    ],
    # heart: top (great vessels' base), left heart border (image right), apex, inferior border, right atrium border
    "H": [
        (0.520, 0.440),
        (0.590, 0.460),
        (0.650, 0.530),
        (0.690, 0.630),
        (0.680, 0.720),
        (0.600, 0.770),
        (0.500, 0.770),
        (0.430, 0.740),
        (0.405, 0.650),
        (0.420, 0.530),
        (0.460, 0.460),
    ],
}

MODE_NAMES: tuple[str, ...] = (
    "size",
    "width",
    "lung_height",
    "heart_size",
    "rotation",
    "shift_x",
    "shift_y",
    "contour_2",
    "contour_3",
)
MODE_SD: np.ndarray = np.array([0.06, 0.05, 0.06, 0.09, np.deg2rad(3.0), 0.02, 0.015, 0.006, 0.004])
"""Standard deviation of each mode's coefficient: relative (size, width, height, heart size), radians (rotation),
image fractions (shifts, contour modes' normal displacement)."""

_CLIP = 2.5


def _catmull_rom_ring(control: np.ndarray, n: int, oversample: int = 64) -> np.ndarray:
    """``n`` points at equal arc length along the closed uniform Catmull-Rom spline through
    ``control`` (K, 2), starting at ``control[0]``."""
    k = len(control)
    t = np.linspace(0.0, 1.0, oversample, endpoint=False)[:, None]
    dense = []
    for i in range(k):
        p0, p1, p2, p3 = (control[(i + j) % k] for j in (-1, 0, 1, 2))
        dense.append(
            0.5
            * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    curve = np.concatenate(dense)
    closed = np.vstack([curve, curve[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    s = np.linspace(0.0, arc[-1], n, endpoint=False)
    return np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)


def signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a closed ring ``(N, 2)`` of ``(x, y)``; positive when clockwise on screen (y down)."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def mean_shape() -> np.ndarray:
    """The SSM's mean shape: float64 ``(120, 2)`` normalised ``(x, y)`` in ``[0, 1]``, organ order RL, LL, H."""
    return np.concatenate([_catmull_rom_ring(np.array(_CONTROL[o]), n) for o, n in ORGANS.items()])


def _normals(shape: np.ndarray) -> np.ndarray:
    """Outward unit normals ``(120, 2)`` of each ring (central differences; clockwise rings on screen)."""
    normals = np.zeros_like(shape)
    for s in organ_slices().values():
        ring = shape[s]
        tangent = np.roll(ring, -1, axis=0) - np.roll(ring, 1, axis=0)
        n = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)  # outward for clockwise-on-screen rings
        normals[s] = n / np.linalg.norm(n, axis=1, keepdims=True)
    return normals


def shape_modes() -> np.ndarray:
    """The modes ``phi_k`` as float64 ``(K, 120, 2)`` displacement fields per unit coefficient (see
    :data:`MODE_NAMES`); the displacement of a sample is ``sum_k b_k MODE_SD[k] phi_k``."""
    mean = mean_shape()
    sl = organ_slices()
    centre = mean.mean(axis=0)
    lungs = np.r_[sl["RL"], sl["LL"]]
    top = mean[lungs, 1].min()
    heart_centre = mean[sl["H"]].mean(axis=0)
    modes = np.zeros((len(MODE_NAMES), *mean.shape))
    modes[0] = mean - centre  # size
    modes[1, :, 0] = mean[:, 0] - centre[0]  # thorax width
    modes[2, :, 1] = mean[:, 1] - top  # lung height: the diaphragm moves, the apices stay
    modes[3, sl["H"]] = mean[sl["H"]] - heart_centre  # heart size
    modes[4, :, 0] = -(mean[:, 1] - centre[1])  # rotation (linearised)
    modes[4, :, 1] = mean[:, 0] - centre[0]
    modes[5, :, 0] = 1.0
    modes[6, :, 1] = 1.0
    normals = _normals(mean)
    for k, freq in ((7, 2), (8, 3)):
        for organ, s in sl.items():
            phase = {"RL": 0.0, "LL": 1.3, "H": 2.1}[organ]
            theta = 2 * np.pi * np.arange(s.stop - s.start) / (s.stop - s.start)
            modes[k, s] = normals[s] * np.cos(freq * theta + phase)[:, None]
    return modes


def sample_shape(rng: np.random.Generator) -> np.ndarray:
    """One shape of the SSM, float64 ``(120, 2)`` normalised ``(x, y)``, coefficients ``N(0, 1)`` clipped to
    +-2.5 standard deviations."""
    b = np.clip(rng.standard_normal(len(MODE_NAMES)), -_CLIP, _CLIP)
    return mean_shape() + np.tensordot(b * MODE_SD, shape_modes(), axes=1)


@dataclass(frozen=True)
class DomainShift:
    """An acquisition change applied to the rendered radiograph (1.0 / 0.0 leave it unchanged).

    ``gamma``: exponent on the windowed image (> 1 darker mid-tones); ``contrast``: gain about the mean;
    ``brightness``: offset in image units; ``noise``: factor on the quantum-noise standard deviation; ``blur``:
    factor on the point-spread sigma.
    """

    gamma: float = 1.0
    contrast: float = 1.0
    brightness: float = 0.0
    noise: float = 1.0
    blur: float = 1.0

    @classmethod
    def coerce(cls, shift: DomainShift | Mapping[str, float] | str | None) -> DomainShift:
        """``None`` (no shift), a :class:`DomainShift`, a mapping of its fields, or a preset ``"mild"`` /
        ``"strong"``."""
        if shift is None:
            return cls()
        if isinstance(shift, DomainShift):
            return shift
        if isinstance(shift, str):
            presets = {
                "mild": cls(gamma=1.25, contrast=0.85, brightness=0.03, noise=1.5, blur=1.3),
                "strong": cls(gamma=1.6, contrast=0.7, brightness=0.06, noise=2.5, blur=1.8),
            }
            if shift not in presets:
                raise ConfigError(f"unknown domain shift preset {shift!r}; choose one of {', '.join(presets)}")
            return presets[shift]
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(shift) - names)
        if unknown:
            raise ConfigError(f"unknown domain shift field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        made = cls(**{k: float(v) for k, v in shift.items()})
        if made.gamma <= 0 or made.contrast <= 0 or made.noise < 0 or made.blur < 0:
            raise ConfigError(f"domain shift {made}: gamma and contrast must be > 0, noise and blur >= 0")
        return made


def _band(distance: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-0.5 * (distance / width) ** 2)


def render_chest(
    landmarks: np.ndarray,
    shape: tuple[int, int],
    rng: np.random.Generator,
    shift: DomainShift | None = None,
) -> np.ndarray:
    """Render a radiograph of the anatomy given by ``landmarks`` (float ``(120, 2)`` pixels): float32 ``(H, W)``
    in ``[0, 1]``. ``rng`` draws the patient's appearance (rib spacing, densities, noise)."""
    shift = shift or DomainShift()
    h, w = shape
    scale = min(h, w) / 256.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = xx / w, yy / h  # normalised coordinates
    masks = landmarks_to_masks(landmarks, shape)
    lungs = masks["RL"] | masks["LL"]
    sl = organ_slices()
    centre_x = float(np.mean(landmarks[np.r_[sl["RL"], sl["LL"]], 0])) / w

    # soft tissue of the body: an elliptical thorax, denser towards its edges (longer path through tissue)
    body_half = 0.47 + 0.02 * rng.standard_normal()
    r = np.abs(u - centre_x) / body_half
    body = np.clip((1.0 - r) / 0.04, 0.0, 1.0)
    tissue = body * (0.62 + 0.12 * np.clip(r, 0, 1) ** 4 + 0.05 * v)
    # spine behind the mediastinum, with vertebral bodies
    spine = _band(u - centre_x, 0.028) * (0.08 + 0.03 * np.cos(2 * np.pi * v / 0.055) ** 2)
    # aerated lungs: darkest mid-height and laterally, softened edges
    lung_soft = ndimage.gaussian_filter(lungs.astype(np.float64), 1.5 * scale)
    density = 0.42 + 0.05 * rng.standard_normal()
    lateral = np.clip(np.abs(u - centre_x) / 0.35, 0, 1)
    air = lung_soft * density * (0.75 + 0.25 * lateral) * (1.0 - 0.25 * np.abs(v - 0.45) / 0.45)
    # posterior ribs: curved bright bands over the lungs, descending laterally
    ribs = np.zeros_like(u)
    top = float(landmarks[np.r_[sl["RL"], sl["LL"]], 1].min()) / h
    spacing = 0.062 + 0.004 * rng.standard_normal()
    d = np.abs(u - centre_x)
    for k in range(15):
        y0 = top - 0.02 + k * spacing
        curve = y0 - 0.35 * d + 1.6 * d**2  # up from the spine, then down laterally
        ribs += _band(v - curve, 0.010 + 0.0015 * k / 10)
    ribs = 0.09 * np.clip(ribs, 0, 1) * (0.25 + 0.75 * lung_soft)
    # clavicles: oblique bands from the sternal ends up and outwards
    clav = np.zeros_like(u)
    for side in (-1.0, 1.0):
        t = side * (u - centre_x)
        line = top + 0.055 - 0.09 * t + 0.12 * t**2
        clav += _band(v - line, 0.012) * ((t > 0.03) & (t < 0.32))
    clav = 0.14 * ndimage.gaussian_filter(clav, 1.0 * scale)
    # heart shadow: bright over whatever lung it covers, its edge blurred by motion
    heart = ndimage.gaussian_filter(masks["H"].astype(np.float64), 1.2 * scale)
    attenuation = tissue + spine - air + ribs + clav + 0.85 * heart * air + 0.03 * heart
    attenuation = np.maximum(attenuation, 0.03 * (1 - body))  # air outside the body

    # detector: blur, quantum noise (stronger where the detector got more dose, i.e. darker), windowing
    image = ndimage.gaussian_filter(attenuation, 0.8 * scale * shift.blur)
    sigma = 0.018 * shift.noise * (0.6 + 0.8 * (1.0 - np.clip(image, 0, 1)))
    image = image + sigma * rng.standard_normal(shape)
    image = image + 0.03 * ndimage.gaussian_filter(
        rng.standard_normal(shape), 12 * scale
    )  # film/detector nonuniformity
    lo, hi = 0.0, 0.85
    image = np.clip((image - lo) / (hi - lo), 0.0, 1.0)
    if shift.contrast != 1.0 or shift.brightness != 0.0:
        image = np.clip((image - image.mean()) * shift.contrast + image.mean() + shift.brightness, 0.0, 1.0)
    if shift.gamma != 1.0:
        image = image**shift.gamma
    return image.astype(np.float32)


def apply_occlusions(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    occlusion: float,
    size: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Occlude parts of the lungs and heart with probability ``occlusion``: ``(image, occluded)``.

    One to three rectangles or elliptical blobs, each centred on a random lung or heart pixel, with sides ``size``
    times the image side (jittered by 0.6..1.4), filled with a constant random grey or with uniform noise.
    ``occluded`` is the bool ``(H, W)`` union of the shapes (all False when the case is not occluded). ``image`` is
    float ``(H, W)`` in ``[0, 1]`` and is not modified.
    """
    if not 0.0 <= occlusion <= 1.0:
        raise ConfigError(f"occlusion is a probability in [0, 1], got {occlusion}")
    if not 0.0 < size <= 1.0:
        raise ConfigError(f"occlusion size is a fraction of the image side in (0, 1], got {size}")
    h, w = image.shape
    out = np.array(image, dtype=np.float32, copy=True)
    occluded = np.zeros((h, w), dtype=bool)
    if rng.random() >= occlusion:
        return out, occluded
    organs = np.zeros((h, w), dtype=bool)
    for m in landmarks_to_masks(landmarks, (h, w)).values():
        organs |= m
    candidates = np.argwhere(organs)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = candidates[rng.integers(len(candidates))] if len(candidates) else (h // 2, w // 2)
        ry = max(1.0, 0.5 * size * h * rng.uniform(0.6, 1.4))
        rx = max(1.0, 0.5 * size * w * rng.uniform(0.6, 1.4))
        if rng.random() < 0.5:
            region = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        else:
            region = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        if rng.random() < 0.5:
            out[region] = rng.uniform(0.0, 1.0)
        else:
            out[region] = rng.uniform(0.0, 1.0, size=int(region.sum()))
        occluded |= region
    return out, occluded


def simulate_chest_case(
    shape: tuple[int, int] = (256, 256),
    seed: int | np.random.SeedSequence | None = 0,
    occlusion: float = 0.0,
    shift: DomainShift | Mapping[str, float] | str | None = None,
    occlusion_size: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """One simulated case: ``(image, landmarks)``, image float32 ``(H, W)`` in ``[0, 1]``, landmarks float32
    ``(120, 2)`` of ``(x, y)`` pixels (organ order RL, LL, H), as :func:`.chest_landmarks_io.read_chest_case`
    returns them. ``occlusion`` is the probability that the case is occluded (see :func:`apply_occlusions`);
    ``shift`` a :class:`DomainShift`, a mapping of its fields or a preset name."""
    h, w = shape
    if h < 32 or w < 32:
        raise ConfigError(f"chest image shape must be at least 32x32, got {shape}")
    shift = DomainShift.coerce(shift)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    shape_seq, render_seq, occ_seq = seq.spawn(3)
    normalised = sample_shape(np.random.default_rng(shape_seq))
    landmarks = (normalised * np.array([w, h])).astype(np.float32)
    image = render_chest(landmarks, (h, w), np.random.default_rng(render_seq), shift)
    image, _ = apply_occlusions(image, landmarks, np.random.default_rng(occ_seq), occlusion, occlusion_size)
    return image, landmarks


def write_simulated_chest(
    root: str | os.PathLike[str],
    n_cases: int,
    shape: tuple[int, int] = (256, 256),
    seed: int = 0,
    occlusion: float = 0.0,
    shift: DomainShift | Mapping[str, float] | str | None = None,
    occlusion_size: float = 0.2,
    bits: int = 8,
) -> list[str]:
    """Simulate ``n_cases`` and write them in the landmark layout under ``root`` (``images/sim0000.png``,
    ``landmarks/{RL,LL,H}/sim0000.npy``, ...) with :func:`.chest_landmarks_io.write_chest_case`. Case ``i`` uses
    the ``i``-th child of ``SeedSequence(seed)``, so the same seed gives the same anatomy whatever ``occlusion``
    and ``shift``. Returns the case ids."""
    if n_cases < 1:
        raise ConfigError(f"n_cases must be at least 1, got {n_cases}")
    children = np.random.SeedSequence(seed).spawn(n_cases)
    width = max(4, len(str(n_cases - 1)))
    ids = []
    for i, child in enumerate(children):
        image, landmarks = simulate_chest_case(shape, child, occlusion, shift, occlusion_size)
        case_id = f"sim{i:0{width}d}"
        write_chest_case(Path(root), case_id, image, landmarks, bits=bits)
        ids.append(case_id)
    return ids


def apply_domain_shift(
    image: np.ndarray,
    shift: DomainShift | Mapping[str, float] | str | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Apply a :class:`DomainShift` to an existing radiograph (a real one, or a rendering): float32 ``(H, W)`` in
    ``[0, 1]``.

    The post-hoc counterpart of rendering with ``shift`` (:func:`render_chest`), in the same order: extra blur, so
    that a detector point spread of sigma ``s0 = 0.8 min(H, W) / 256`` px becomes ``blur * s0`` (a Gaussian of
    sigma ``s0 * sqrt(blur**2 - 1)``; none when ``blur <= 1``); extra quantum noise, so that the noise standard
    deviation ``0.018 (0.6 + 0.8 (1 - image))`` becomes ``noise`` times it (none when ``noise <= 1``); contrast
    about the mean and brightness, clipped to ``[0, 1]``; then ``gamma``. ``image`` is float ``(H, W)`` in
    ``[0, 1]`` and is not modified; ``rng`` draws the noise.
    """
    shift = DomainShift.coerce(shift)
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ConfigError(f"apply_domain_shift expects a 2-D image (H, W), got shape {img.shape}")
    h, w = img.shape
    s0 = 0.8 * min(h, w) / 256.0
    if shift.blur > 1.0:
        img = ndimage.gaussian_filter(img, s0 * np.sqrt(shift.blur**2 - 1.0))
    if shift.noise > 1.0:
        sigma = 0.018 * np.sqrt(shift.noise**2 - 1.0) * (0.6 + 0.8 * (1.0 - np.clip(img, 0, 1)))
        img = img + sigma * rng.standard_normal(img.shape)
    img = np.clip(img, 0.0, 1.0)
    if shift.contrast != 1.0 or shift.brightness != 0.0:
        img = np.clip((img - img.mean()) * shift.contrast + img.mean() + shift.brightness, 0.0, 1.0)
    if shift.gamma != 1.0:
        img = img**shift.gamma
    return img.astype(np.float32)
