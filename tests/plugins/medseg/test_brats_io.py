"""BraTS layout reader / writer: both conventions, region conversion, bad input, a real NIfTI from nibabel."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses

from sciconv.errors import ConfigError, DataError
from sciconv_medseg import brats_io
from sciconv_medseg.brats_io import MODALITIES, list_cases, load_nifti, read_case, to_regions, write_case

SHAPE = (6, 7, 5)
CASE_ID = {"2021": "BraTS2021_00003", "2023": "BraTS-GLI-00003-000"}


def _affine() -> np.ndarray:
    a = np.diag([-1.0, -1.0, 1.0, 1.0])
    a[:3, 3] = [10.0, 20.0, -5.0]
    return a


def _case(convention: str = "2021", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1000, size=(4, *SHAPE)).astype(np.float32)
    label = rng.choice(np.array(brats_io.LABELS[convention]), size=SHAPE).astype(np.uint8)
    return image, label


def _save(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> None:
    nib.save(nib.Nifti1Image(data, _affine() if affine is None else affine), path)


@pytest.mark.parametrize("convention", ["2021", "2023"])
def test_round_trip(tmp_path: Path, convention: str) -> None:
    image, label = _case(convention)
    folder = write_case(tmp_path, CASE_ID[convention], image, label, _affine(), convention)
    sep = brats_io.SEPARATORS[convention]
    expected = {f"{CASE_ID[convention]}{sep}{s}.nii.gz" for s in (*brats_io.SUFFIXES[convention], "seg")}
    assert {p.name for p in folder.iterdir()} == expected  # no temporary files left
    write_case(tmp_path, "unlabelled", image[:, ::-1].copy(), None, _affine(), convention)

    cases = list_cases(tmp_path)
    assert [c.case_id for c in cases] == sorted([CASE_ID[convention], "unlabelled"])
    case = next(c for c in cases if c.case_id == CASE_ID[convention])
    assert case.convention == convention
    assert case.seg is not None
    got_image, got_label, got_affine = read_case(case)
    assert got_image.dtype == np.float32 and got_image.shape == (4, *SHAPE)
    np.testing.assert_array_equal(got_image, image)
    assert got_label is not None and got_label.dtype == np.uint8
    np.testing.assert_array_equal(got_label, label)
    np.testing.assert_allclose(got_affine, _affine())

    unlabelled = next(c for c in cases if c.case_id == "unlabelled")
    assert unlabelled.seg is None
    img2, lab2, _ = read_case(unlabelled)
    assert lab2 is None
    np.testing.assert_array_equal(img2, image[:, ::-1])


def test_canonical_modality_order_2023(tmp_path: Path) -> None:
    """2023's t1n, t1c, t2w, t2f map to t1, t1ce, t2, flair whatever the order on disk."""
    folder = tmp_path / "BraTS-GLI-00001-000"
    folder.mkdir()
    for value, suffix in enumerate(("t2f", "t1c", "t1n", "t2w")):
        _save(folder / f"BraTS-GLI-00001-000-{suffix}.nii.gz", np.full(SHAPE, float(value), np.float32))
    _save(folder / "BraTS-GLI-00001-000-seg.nii.gz", np.full(SHAPE, 3, np.uint8))
    (case,) = list_cases(tmp_path)
    assert case.convention == "2023"
    image, label, _ = read_case(case)
    assert [float(image[i].mean()) for i in range(4)] == [2.0, 1.0, 3.0, 0.0]  # t1n, t1c, t2w, t2f
    assert label is not None and to_regions(label, "2023")[:, 0, 0, 0].tolist() == [True, True, True]
    assert [p.name.split("-")[-1] for p in case.modalities] == ["t1n.nii.gz", "t1c.nii.gz", "t2w.nii.gz", "t2f.nii.gz"]


def test_uncompressed_nii_and_trailing_singleton(tmp_path: Path) -> None:
    folder = tmp_path / "BraTS2021_00009"
    folder.mkdir()
    for m in MODALITIES:
        _save(folder / f"BraTS2021_00009_{m}.nii", np.ones((*SHAPE, 1), np.float32))
    (case,) = list_cases(tmp_path)
    image, label, _ = read_case(case)
    assert image.shape == (4, *SHAPE) and label is None


def test_overwrite_with_unlabelled_removes_stale_seg(tmp_path: Path) -> None:
    image, label = _case()
    write_case(tmp_path, "c1", image, label, _affine())
    write_case(tmp_path, "c1", image, None, _affine())
    assert list_cases(tmp_path)[0].seg is None


@pytest.mark.parametrize("convention", ["2021", "2023"])
def test_to_regions_hand_made(convention: str) -> None:
    et = brats_io.ET_LABEL[convention]
    label = np.array([0, 1, 2, et], dtype=np.uint8).reshape(4, 1, 1)
    regions = to_regions(label, convention)
    assert regions.dtype == bool and regions.shape == (3, 4, 1, 1)
    expected = np.array(
        [
            [0, 1, 0, 1],  # TC = NCR + ET
            [0, 1, 1, 1],  # WT = all tumour
            [0, 0, 0, 1],  # ET
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(regions[..., 0, 0], expected)


@pytest.mark.parametrize("convention", ["2021", "2023"])
def test_to_regions_matches_monai(convention: str) -> None:
    _, label = _case(convention, seed=3)
    ours = to_regions(label, convention)
    monai = ConvertToMultiChannelBasedOnBratsClasses(et_label=brats_io.ET_LABEL[convention])(torch.as_tensor(label))
    np.testing.assert_array_equal(ours, monai.numpy())
    np.testing.assert_array_equal(to_regions(label[None], convention), ours)  # leading channel dropped


def test_to_regions_rejects_other_convention() -> None:
    with pytest.raises(DataError, match=r"labels 3 are outside the BraTS 2021 set.*2023"):
        to_regions(np.array([0, 3]), "2021", source="x")
    with pytest.raises(DataError, match=r"labels 4 are outside the BraTS 2023 set.*2021"):
        to_regions(np.array([0, 4]), "2023")
    with pytest.raises(ConfigError, match="2022"):
        to_regions(np.array([0, 1]), "2022")


# ----------------------------------------------------------------------------------------------------
# Bad input


def _write_good(root: Path, convention: str = "2021") -> Path:
    image, label = _case(convention)
    return write_case(root, CASE_ID[convention], image, label, _affine(), convention)


def _path(folder: Path, suffix: str, convention: str = "2021") -> Path:
    return folder / f"{folder.name}{brats_io.SEPARATORS[convention]}{suffix}.nii.gz"


@pytest.mark.parametrize("convention", ["2021", "2023"])
def test_missing_modality(tmp_path: Path, convention: str) -> None:
    folder = _write_good(tmp_path, convention)
    _path(folder, brats_io.SUFFIXES[convention][3], convention).unlink()
    with pytest.raises(DataError, match=rf"BraTS case {CASE_ID[convention]}.*missing modality.*flair"):
        list_cases(tmp_path)


def test_mismatched_shape(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    _save(_path(folder, "t2"), np.zeros((6, 7, 4), np.float32))
    (case,) = list_cases(tmp_path)
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003: t2 .*shape \(6, 7, 4\) but t1 has \(6, 7, 5\)"):
        read_case(case)


def test_mismatched_seg_shape(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    _save(_path(folder, "seg"), np.zeros((5, 7, 5), np.uint8))
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003: seg .*shape"):
        read_case(list_cases(tmp_path)[0])


def test_mismatched_affine(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    image, _ = _case()
    shifted = _affine()
    shifted[0, 3] += 2.0
    _save(_path(folder, "flair"), image[3], shifted)
    with pytest.raises(
        DataError, match=r"BraTS case BraTS2021_00003: the affine of flair .*differs from t1's by up to 2"
    ):
        read_case(list_cases(tmp_path)[0])
    nearly = _affine()
    nearly[0, 3] += 1e-5  # float32 header round-off is tolerated
    _save(_path(folder, "flair"), image[3], nearly)
    read_case(list_cases(tmp_path)[0])
    with pytest.raises(DataError, match="affine"):
        read_case(list_cases(tmp_path)[0], affine_atol=1e-7)


def test_not_3d(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    _save(_path(folder, "t1ce"), np.zeros((*SHAPE, 2), np.float32))
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003: .*t1ce.*3D volume is expected.*\(6, 7, 5, 2\)"):
        read_case(list_cases(tmp_path)[0])
    _save(_path(folder, "t1ce"), np.zeros(SHAPE[:2], np.float32))
    with pytest.raises(DataError, match="3D volume is expected"):
        read_case(list_cases(tmp_path)[0])


@pytest.mark.parametrize(("convention", "bad"), [("2021", 3), ("2023", 4), ("2021", 7)])
def test_labels_outside_convention(tmp_path: Path, convention: str, bad: int) -> None:
    folder = _write_good(tmp_path, convention)
    seg = np.zeros(SHAPE, np.uint8)
    seg[0, 0, 0] = bad
    _save(_path(folder, "seg", convention), seg)
    with pytest.raises(DataError, match=rf"BraTS case {CASE_ID[convention]}.*labels {bad} are outside"):
        read_case(list_cases(tmp_path)[0])


def test_non_integer_labels(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    seg = np.zeros(SHAPE, np.float32)
    seg[1, 1, 1] = 1.5
    _save(_path(folder, "seg"), seg)
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003.*whole numbers"):
        read_case(list_cases(tmp_path)[0])


def test_non_finite_values(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    data = np.ones(SHAPE, np.float32)
    data[0, 0, 0] = np.nan
    _save(_path(folder, "t2"), data)
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003: .*t2.*NaN"):
        read_case(list_cases(tmp_path)[0])


def test_empty_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no cases"):
        list_cases(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no cases"):
        list_cases(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        list_cases(tmp_path / "missing")


def test_case_without_its_named_files(tmp_path: Path) -> None:
    folder = tmp_path / "BraTS2021_00001"
    folder.mkdir()
    _save(folder / "other_t1.nii.gz", np.zeros(SHAPE, np.float32))
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00001 .*no modality file named after the case"):
        list_cases(tmp_path)


def test_mixed_conventions(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    _save(folder / f"{folder.name}-t2w.nii.gz", np.zeros(SHAPE, np.float32))
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003 .*mix the 2021 convention"):
        list_cases(tmp_path)


@pytest.mark.parametrize("content", [b"not a nifti at all", b"garbage"])
def test_unreadable_nifti(tmp_path: Path, content: bytes) -> None:
    folder = _write_good(tmp_path)
    _path(folder, "t1ce").write_bytes(gzip.compress(content))
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003: .*t1ce.*not a readable NIfTI"):
        read_case(list_cases(tmp_path)[0])


def test_truncated_nifti(tmp_path: Path) -> None:
    folder = _write_good(tmp_path)
    path = _path(folder, "t2")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"BraTS case BraTS2021_00003: .*t2.*not a readable NIfTI"):
        read_case(list_cases(tmp_path)[0])


def test_write_case_bad_arguments(tmp_path: Path) -> None:
    image, label = _case()
    with pytest.raises(ConfigError, match=r"image must be \(4, H, W, D\)"):
        write_case(tmp_path, "c", image[:3], label, _affine())
    with pytest.raises(ConfigError, match="label shape"):
        write_case(tmp_path, "c", image, label[:-1], _affine())
    with pytest.raises(ConfigError, match="outside the BraTS 2023 set"):
        write_case(tmp_path, "c", image, label, _affine(), "2023")
    with pytest.raises(ConfigError, match="affine"):
        write_case(tmp_path, "c", image, label, np.eye(3))
    with pytest.raises(ConfigError, match="case id"):
        write_case(tmp_path, "a/b", image, label, _affine())


# ----------------------------------------------------------------------------------------------------
# A real MRI volume shipped with nibabel's tests (not copied anywhere)

ANATOMICAL = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"


@pytest.mark.skipif(not ANATOMICAL.is_file(), reason="nibabel's test data are not installed")
def test_real_nifti_loads_in_stored_orientation() -> None:
    """nibabel's anatomical.nii: a real T1 volume (33 x 41 x 25, 2 mm, LAS, big-endian int16)."""
    data, affine = load_nifti(ANATOMICAL, "anatomical")
    assert data.shape == (33, 41, 25) and data.dtype == np.float32
    assert nib.aff2axcodes(affine) == ("L", "A", "S")
    np.testing.assert_allclose(np.abs(np.diag(affine)[:3]), [2.0, 2.0, 2.0])
    raw = nib.load(ANATOMICAL)
    assert raw.get_data_dtype().byteorder == ">"  # big-endian on disk, native float32 here, voxel order kept
    np.testing.assert_array_equal(data, np.asarray(raw.dataobj, dtype=np.float32))
    np.testing.assert_allclose(affine, raw.affine)
    assert float(data.max()) > 0 and np.isfinite(data).all()


@pytest.mark.skipif(not ANATOMICAL.is_file(), reason="nibabel's test data are not installed")
def test_real_nifti_as_a_case(tmp_path: Path) -> None:
    """The real volume as all four modalities of a case round-trips through the writer and reader unchanged."""
    data, affine = load_nifti(ANATOMICAL)
    image = np.stack([data] * 4)
    write_case(tmp_path, "BraTS2021_00000", image, None, affine)
    got, label, got_affine = read_case(list_cases(tmp_path)[0])
    np.testing.assert_array_equal(got, image)
    np.testing.assert_allclose(got_affine, affine, atol=1e-5)
    assert label is None
