"""Brain MRI simulator: MRI contrasts per modality, tumour compartments, determinism, BraTS layout round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from sciconv.errors import ConfigError
from sciconv_medseg import brain_simulator as bs
from sciconv_medseg.brain_simulator import (
    CSF,
    GM,
    WM,
    SimulatedCase,
    simulate_case,
    simulate_case_with_tissues,
    write_simulated_brats,
)
from sciconv_medseg.brats_io import list_cases, read_case, to_regions

T1, T1CE, T2, FLAIR = range(4)
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def cases() -> list[SimulatedCase]:
    return [simulate_case_with_tissues((64, 64, 64), seed) for seed in SEEDS]


def _mean(case: SimulatedCase, channel: int, mask: np.ndarray) -> float:
    assert mask.sum() > 0
    return float(case.image[channel][mask].mean())


def _normal(case: SimulatedCase, tissue: int) -> np.ndarray:
    """Voxels of ``tissue`` away from the tumour (no label, not next to one) and from other tissues."""
    pure = ndimage.binary_erosion(case.tissues == tissue)
    return pure & ~ndimage.binary_dilation(case.label > 0, iterations=2)


def test_shapes_and_affine(cases: list[SimulatedCase]) -> None:
    case = cases[0]
    assert case.image.shape == (4, 64, 64, 64) and case.image.dtype == np.float32
    assert case.label.shape == (64, 64, 64) and case.label.dtype == np.uint8
    assert case.image.min() >= 0 and np.isfinite(case.image).all()
    np.testing.assert_allclose(np.diag(case.affine), [-3.0, -3.0, 3.0, 1.0])
    centre = case.affine @ np.array([31.5, 31.5, 31.5, 1.0])
    np.testing.assert_allclose(centre[:3], 0.0, atol=1e-9)
    assert set(np.unique(case.label)) <= {0, 1, 2, 4}
    image, label, affine = simulate_case((64, 64, 64), SEEDS[0])
    np.testing.assert_array_equal(image, case.image)
    np.testing.assert_array_equal(label, case.label)
    np.testing.assert_array_equal(affine, case.affine)


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_normal_tissue_contrasts(cases: list[SimulatedCase], index: int) -> None:
    case = cases[index]
    wm, gm, csf = (_normal(case, t) for t in (WM, GM, CSF))
    # T1: white matter brighter than grey, CSF dark
    assert _mean(case, T1, wm) > _mean(case, T1, gm) > _mean(case, T1, csf)
    # T2: CSF brightest, grey above white
    assert _mean(case, T2, csf) > _mean(case, T2, gm) > _mean(case, T2, wm)
    # FLAIR: CSF suppressed (darker than white matter), grey above white
    assert _mean(case, FLAIR, csf) < 0.6 * _mean(case, FLAIR, wm)
    assert _mean(case, FLAIR, gm) > _mean(case, FLAIR, wm)


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_tumour_contrasts(cases: list[SimulatedCase], index: int) -> None:
    case = cases[index]
    wm = _normal(case, WM)
    oedema = ndimage.binary_erosion(case.label == 2)
    rim, core = case.label == 4, case.label == 1
    # FLAIR and T2: oedema bright; T1: oedema hypointense
    assert _mean(case, FLAIR, oedema) > 1.5 * _mean(case, FLAIR, wm)
    assert _mean(case, T2, oedema) > 1.5 * _mean(case, T2, wm)
    assert _mean(case, T1, oedema) < _mean(case, T1, wm)
    # T1ce: enhancing rim brighter than the necrotic core and than white matter; the rim does not enhance on T1
    assert _mean(case, T1CE, rim) > 1.3 * _mean(case, T1CE, core)
    assert _mean(case, T1CE, rim) > _mean(case, T1CE, wm)
    assert _mean(case, T1, rim) < _mean(case, T1, wm)
    # T2: the necrotic core is bright
    assert _mean(case, T2, core) > _mean(case, T2, wm)


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_compartments_nest(cases: list[SimulatedCase], index: int) -> None:
    case = cases[index]
    label, tissues = case.label, case.tissues
    assert {1, 2, 4} <= set(np.unique(label))
    tc, wt, et = to_regions(label, "2021")
    assert not (et & ~tc).any() and not (tc & ~wt).any()
    # the necrotic core is enclosed by the enhancing rim: no necrotic voxel touches oedema or normal tissue
    ncr = label == 1
    assert not (ndimage.binary_dilation(ncr) & ~tc).any()
    # the core is enclosed by oedema or borders brain tissue/CSF only; all of the tumour lies in the brain
    assert not (wt & ~np.isin(tissues, (CSF, GM, WM))).any()
    # oedema stays out of CSF and mostly follows white matter
    oedema = label == 2
    assert not (oedema & (tissues == CSF)).any()
    assert (tissues[oedema] == WM).mean() > 0.5
    assert oedema.sum() > tc.sum() * 0.5  # oedema extends beyond the core


def test_tumour_free_and_non_enhancing() -> None:
    free = simulate_case_with_tissues((32, 32, 32), 5, tumour=False)
    assert not free.label.any()
    plain = simulate_case_with_tissues((32, 32, 32), 5, enhancing=False)
    assert set(np.unique(plain.label)) == {0, 1, 2}
    tumour = plain.label == 1
    wm = _normal(plain, WM)
    # a non-enhancing tumour does not light up on T1ce relative to T1
    ratio_tumour = _mean(plain, T1CE, tumour) / _mean(plain, T1, tumour)
    ratio_wm = _mean(plain, T1CE, wm) / _mean(plain, T1, wm)
    assert ratio_tumour < 1.5 * ratio_wm


def test_determinism_and_conventions() -> None:
    a = simulate_case_with_tissues((32, 36, 28), 11)
    b = simulate_case_with_tissues((32, 36, 28), 11)
    c = simulate_case_with_tissues((32, 36, 28), 12)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.label, b.label)
    assert not np.array_equal(a.label, c.label)
    d = simulate_case_with_tissues((32, 36, 28), 11, convention="2023")
    np.testing.assert_array_equal(d.image, a.image)  # same case, only the ET value differs
    np.testing.assert_array_equal(d.label, np.where(a.label == 4, 3, a.label))
    np.testing.assert_array_equal(to_regions(d.label, "2023"), to_regions(a.label, "2021"))


def test_skull_and_background() -> None:
    stripped = simulate_case_with_tissues((32, 32, 32), 3)
    outside = stripped.tissues <= bs.SKULL
    assert not stripped.image[:, outside].any()  # brain-extracted, as BraTS
    head = simulate_case_with_tissues((64, 64, 64), 3, skull_stripped=False)
    t1 = head.image[T1]
    scalp, skull, air = (np.median(t1[head.tissues == t]) for t in (bs.SCALP, bs.SKULL, bs.AIR))
    # fat bright and bone dark on T1 (medians: thin layers blur into each other); scalp brighter than white matter
    assert scalp > 3 * skull
    assert scalp > np.median(t1[_normal(head, WM)])
    # Rician (Rayleigh) background: small but positive
    assert 0 < air < 0.2 * scalp


@pytest.mark.parametrize("convention", ["2021", "2023"])
def test_write_and_read_back(tmp_path: Path, convention: str) -> None:
    folders = write_simulated_brats(tmp_path / "a", 3, shape=(32, 32, 32), seed=4, convention=convention)
    write_simulated_brats(tmp_path / "b", 2, shape=(32, 32, 32), seed=4, convention=convention)
    names = [f.name for f in folders]
    expected = [bs.case_id(i, convention) for i in range(3)]
    assert names == expected
    cases = list_cases(tmp_path / "a")
    assert [c.case_id for c in cases] == expected
    for case, other in zip(cases[:2], list_cases(tmp_path / "b"), strict=True):
        assert case.convention == convention and case.seg is not None
        image, label, affine = read_case(case)
        assert image.shape == (4, 32, 32, 32) and label is not None
        np.testing.assert_allclose(np.abs(np.diag(affine)[:3]), 3.0)
        image_b, label_b, _ = read_case(other)  # a case does not depend on n_cases
        np.testing.assert_array_equal(image, image_b)
        np.testing.assert_array_equal(label, label_b)
        to_regions(label, convention)


def test_write_tumour_free_cases(tmp_path: Path) -> None:
    write_simulated_brats(tmp_path, 2, shape=(24, 24, 24), seed=0, p_tumour_free=1.0)
    for case in list_cases(tmp_path):
        _, label, _ = read_case(case)
        assert label is not None and not label.any()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shape"):
        simulate_case((8, 64, 64), 0)
    with pytest.raises(ConfigError, match="shape"):
        simulate_case((64, 64), 0)
    with pytest.raises(ConfigError, match="convention"):
        simulate_case((32, 32, 32), 0, convention="2020")
    with pytest.raises(ConfigError, match="n_cases"):
        write_simulated_brats(tmp_path, 0)
    with pytest.raises(ConfigError, match="p_tumour_free"):
        write_simulated_brats(tmp_path, 1, p_tumour_free=2.0)
