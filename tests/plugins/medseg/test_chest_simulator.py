"""Tests of the chest X-ray simulator: shape model geometry, rendering, occlusions, domain shift, layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciconv.errors import ConfigError
from sciconv_medseg.chest_landmarks_io import (
    ORGANS,
    invalid_mask,
    landmarks_to_masks,
    list_chest_cases,
    organ_slices,
    read_chest_case,
)
from sciconv_medseg.chest_simulator import (
    MODE_NAMES,
    MODE_SD,
    DomainShift,
    apply_occlusions,
    mean_shape,
    sample_shape,
    shape_modes,
    signed_area,
    simulate_chest_case,
    write_simulated_chest,
)

SHAPE = (128, 128)


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _is_simple(ring: np.ndarray) -> bool:
    n = len(ring)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if _segments_cross(ring[i], ring[(i + 1) % n], ring[j], ring[(j + 1) % n]):
                return False
    return True


def test_mean_shape_geometry() -> None:
    mean = mean_shape()
    assert mean.shape == (120, 2)
    assert (mean > 0.02).all() and (mean < 0.98).all()
    sl = organ_slices()
    rl, ll, heart = mean[sl["RL"]], mean[sl["LL"]], mean[sl["H"]]
    for organ, ring in (("RL", rl), ("LL", ll), ("H", heart)):
        assert len(ring) == ORGANS[organ]
        assert signed_area(ring) > 0, organ
        assert _is_simple(ring), organ
        # equal arc length sampling: no two consecutive points coincide
        assert np.linalg.norm(np.diff(np.vstack([ring, ring[:1]]), axis=0), axis=1).min() > 1e-3
    # the patient's right lung on the image's left
    assert rl[:, 0].mean() < heart[:, 0].mean() < ll[:, 0].mean()
    # lungs taller than wide, apices above the heart, heart left of the midline (image right) and in the lower half
    for ring in (rl, ll):
        assert np.ptp(ring[:, 1]) > 1.5 * np.ptp(ring[:, 0])
        assert ring[:, 1].min() < heart[:, 1].min()
    assert heart[:, 0].mean() > 0.5 * (rl[:, 0].mean() + ll[:, 0].mean())
    # the heart overlaps the lungs' medial edges: it reaches past the left lung's most medial point and the right
    # lung's medial edge at the cardiophrenic level
    assert heart[:, 0].max() > ll[:, 0].min()
    assert heart[:, 0].min() < rl[:, 0].max()
    # the lungs do not overlap each other
    masks = landmarks_to_masks(mean * 200, (200, 200))
    assert not (masks["RL"] & masks["LL"]).any()
    assert (masks["H"] & masks["LL"]).any()


def test_modes_and_sampled_shapes_stay_plausible() -> None:
    modes = shape_modes()
    assert modes.shape == (len(MODE_NAMES), 120, 2)
    rng = np.random.default_rng(0)
    sl = organ_slices()
    for _ in range(15):
        shape = sample_shape(rng)
        assert (shape > 0).all() and (shape < 1).all()
        for organ, s in sl.items():
            assert signed_area(shape[s]) > 0, organ
            assert _is_simple(shape[s]), organ
        assert shape[sl["RL"], 0].max() < shape[sl["LL"], 0].max()


def test_extreme_coefficients_keep_rings_simple() -> None:
    modes = shape_modes()
    mean = mean_shape()
    for k in range(len(MODE_NAMES)):
        for sign in (-2.5, 2.5):
            shape = mean + sign * MODE_SD[k] * modes[k]
            for organ, s in organ_slices().items():
                assert _is_simple(shape[s]), (MODE_NAMES[k], sign, organ)
                assert signed_area(shape[s]) > 0


def test_simulated_case_and_rendering() -> None:
    image, landmarks = simulate_chest_case(SHAPE, seed=1)
    assert image.shape == SHAPE and image.dtype == np.float32
    assert landmarks.shape == (120, 2) and landmarks.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert (landmarks[:, 0] >= 0).all() and (landmarks[:, 0] <= SHAPE[1]).all()
    assert (landmarks[:, 1] >= 0).all() and (landmarks[:, 1] <= SHAPE[0]).all()
    masks = landmarks_to_masks(landmarks, SHAPE)
    for organ, mask in masks.items():
        assert not invalid_mask(mask), organ
    lungs = (masks["RL"] | masks["LL"]) & ~masks["H"]
    sl = organ_slices()
    # the mediastinum: between the lungs' medial edges, above the heart
    x0 = int(np.ceil(landmarks[sl["RL"], 0].max())) + 1
    x1 = int(landmarks[sl["LL"], 0].min()) - 1
    y0 = int(landmarks[:94, 1].min()) + 5
    y1 = int(landmarks[sl["H"], 1].min())
    mediastinum = image[y0:y1, min(x0, x1) : max(x0, x1) + 1]
    assert mediastinum.size > 0
    assert image[lungs].mean() < mediastinum.mean() - 0.15
    assert image[lungs].mean() < image[masks["H"]].mean() - 0.15
    # below the diaphragm is bright (abdomen)
    below = image[int(landmarks[:94, 1].max()) + 3 :, SHAPE[1] // 4 : 3 * SHAPE[1] // 4]
    assert image[lungs].mean() < below.mean() - 0.15


def test_determinism_and_pairing() -> None:
    a_img, a_lm = simulate_chest_case(SHAPE, seed=5)
    b_img, b_lm = simulate_chest_case(SHAPE, seed=5)
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lm, b_lm)
    c_img, c_lm = simulate_chest_case(SHAPE, seed=6)
    assert not np.array_equal(a_lm, c_lm) and not np.array_equal(a_img, c_img)
    # same seed, same anatomy whatever the occlusion or shift
    o_img, o_lm = simulate_chest_case(SHAPE, seed=5, occlusion=1.0)
    s_img, s_lm = simulate_chest_case(SHAPE, seed=5, shift="strong")
    np.testing.assert_array_equal(o_lm, a_lm)
    np.testing.assert_array_equal(s_lm, a_lm)
    assert not np.array_equal(o_img, a_img)
    assert not np.array_equal(s_img, a_img)


def test_occlusion_changes_pixels_inside_its_region_only() -> None:
    image, landmarks = simulate_chest_case(SHAPE, seed=2)
    out, region = apply_occlusions(image, landmarks, np.random.default_rng(0), occlusion=1.0, size=0.25)
    assert region.any()
    organs = np.zeros(SHAPE, dtype=bool)
    for m in landmarks_to_masks(landmarks, SHAPE).values():
        organs |= m
    assert (region & organs).any()  # it covers part of the anatomy
    np.testing.assert_array_equal(out[~region], image[~region])
    assert np.mean(out[region] != image[region]) > 0.9
    assert out.min() >= 0.0 and out.max() <= 1.0
    untouched, none = apply_occlusions(image, landmarks, np.random.default_rng(0), occlusion=0.0)
    assert not none.any()
    np.testing.assert_array_equal(untouched, image)


def test_domain_shift() -> None:
    clean, _ = simulate_chest_case(SHAPE, seed=4)
    shifted, _ = simulate_chest_case(SHAPE, seed=4, shift={"gamma": 2.0})
    assert shifted.mean() < clean.mean() - 0.05  # gamma > 1 darkens mid-tones
    noisy, _ = simulate_chest_case(SHAPE, seed=4, shift=DomainShift(noise=4.0))
    assert np.std(noisy - clean) > 0.02
    with pytest.raises(ConfigError, match="unknown domain shift field"):
        DomainShift.coerce({"gama": 2.0})
    with pytest.raises(ConfigError, match="preset"):
        DomainShift.coerce("extreme")
    with pytest.raises(ConfigError, match="probability"):
        simulate_chest_case(SHAPE, seed=0, occlusion=1.5)


def test_written_cases_are_read_back(tmp_path: Path) -> None:
    ids = write_simulated_chest(tmp_path, 3, shape=(64, 64), seed=9, occlusion=0.5)
    assert ids == ["sim0000", "sim0001", "sim0002"]
    cases = list_chest_cases(tmp_path)
    assert [c.case_id for c in cases] == ids
    children = np.random.SeedSequence(9).spawn(3)
    for case, child in zip(cases, children, strict=True):
        image, landmarks = read_chest_case(case)
        want_image, want_landmarks = simulate_chest_case((64, 64), child, occlusion=0.5)
        np.testing.assert_array_equal(landmarks, want_landmarks)
        assert np.abs(image - want_image).max() <= 0.5 / 255 + 1e-6


def test_apply_domain_shift_post_hoc() -> None:
    from sciconv_medseg.chest_simulator import apply_domain_shift

    image, _ = simulate_chest_case(SHAPE, seed=5)
    same = apply_domain_shift(image, None, np.random.default_rng(0))
    np.testing.assert_allclose(same, image, atol=1e-6)  # no shift: unchanged
    shifted = apply_domain_shift(image, "strong", np.random.default_rng(0))
    assert shifted.shape == image.shape and shifted.dtype == np.float32
    assert shifted.min() >= 0.0 and shifted.max() <= 1.0 and not np.allclose(shifted, image)
    again = apply_domain_shift(image, "strong", np.random.default_rng(0))
    np.testing.assert_array_equal(again, shifted)  # seeded
    # gamma > 1 darkens mid-tones; lower contrast narrows the spread; blur smooths the pixel-to-pixel noise
    assert apply_domain_shift(image, {"gamma": 1.6}, np.random.default_rng(0)).mean() < image.mean()
    assert apply_domain_shift(image, {"contrast": 0.5}, np.random.default_rng(0)).std() < 0.6 * image.std()
    blurred = apply_domain_shift(image, {"blur": 3.0}, np.random.default_rng(0))
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(image, axis=1)).mean()
    noisy = apply_domain_shift(image, {"noise": 4.0}, np.random.default_rng(0))
    assert np.abs(np.diff(noisy, axis=1)).mean() > np.abs(np.diff(image, axis=1)).mean()
    with pytest.raises(ConfigError, match="2-D"):
        apply_domain_shift(np.zeros((4, 32, 32)), "mild", np.random.default_rng(0))
    with pytest.raises(ConfigError, match="preset"):
        apply_domain_shift(image, "extreme", np.random.default_rng(0))
