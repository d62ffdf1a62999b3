"""Tests of the chest X-ray landmark layout reader/writer, the landmark graph and the mask topology checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sciconv.errors import DataError
from sciconv_medseg.chest_landmarks_io import (
    N_LANDMARKS,
    ORGANS,
    ChestCase,
    dice,
    graph_edges,
    invalid_mask,
    landmarks_to_masks,
    list_chest_cases,
    organ_slices,
    polygon_mask,
    read_chest_case,
    write_chest_case,
)
from sciconv_medseg.chest_simulator import simulate_chest_case

SHAPE = (96, 80)


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    return simulate_chest_case(SHAPE, seed=3)


def _write(root: Path, sample: tuple[np.ndarray, np.ndarray], case_id: str = "c1") -> ChestCase:
    image, landmarks = sample
    return write_chest_case(root, case_id, image, landmarks)


def _only_case(root: Path) -> ChestCase:
    (case,) = list_chest_cases(root)
    return case


def test_organs_and_slices() -> None:
    assert ORGANS == {"RL": 44, "LL": 50, "H": 26}
    assert N_LANDMARKS == 120
    assert organ_slices() == {"RL": slice(0, 44), "LL": slice(44, 94), "H": slice(94, 120)}


def test_graph_edges_are_closed_rings_without_edges_between_organs() -> None:
    edges = graph_edges()
    assert edges.shape == (2, 240) and edges.dtype == np.int64
    pairs = {(int(a), int(b)) for a, b in edges.T}
    assert len(pairs) == 240
    assert all((b, a) in pairs for a, b in pairs)  # undirected
    degree = np.bincount(edges[0], minlength=120)
    assert (degree == 2).all()
    organ_of = np.concatenate([np.full(n, i) for i, n in enumerate(ORGANS.values())])
    assert (organ_of[edges[0]] == organ_of[edges[1]]).all()
    for s in organ_slices().values():  # closing edge of each ring
        assert (s.stop - 1, s.start) in pairs and (s.start, s.start + 1) in pairs


def test_polygon_mask_fills_a_square_half_open() -> None:
    square = np.array([[2, 2], [7, 2], [7, 7], [2, 7]], dtype=float)
    mask = polygon_mask(square, (10, 10))
    expected = np.zeros((10, 10), dtype=bool)
    expected[2:7, 2:7] = True
    np.testing.assert_array_equal(mask, expected)
    # orientation does not matter
    np.testing.assert_array_equal(polygon_mask(square[::-1], (10, 10)), expected)


def test_polygon_mask_area_matches_shoelace() -> None:
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    circle = np.stack([50 + 30 * np.cos(t), 40 + 20 * np.sin(t)], axis=1)
    area = 0.5 * abs(np.sum(circle[:, 0] * np.roll(circle[:, 1], -1) - np.roll(circle[:, 0], -1) * circle[:, 1]))
    assert polygon_mask(circle, (100, 100)).sum() == pytest.approx(area, rel=0.03)


def test_invalid_mask_detects_holes_and_extra_components() -> None:
    good = np.zeros((20, 20), dtype=bool)
    good[4:15, 4:15] = True
    assert not invalid_mask(good)
    holed = good.copy()
    holed[8:10, 8:10] = False
    assert invalid_mask(holed)
    two = good.copy()
    two[17:19, 17:19] = True
    assert invalid_mask(two)
    assert invalid_mask(np.zeros((5, 5), dtype=bool))
    # a mask touching the image border has no hole
    edge = np.zeros((10, 10), dtype=bool)
    edge[:, :5] = True
    assert not invalid_mask(edge)


def test_dice() -> None:
    a = np.zeros((10, 10), dtype=bool)
    b = np.zeros((10, 10), dtype=bool)
    assert dice(a, b) == 1.0
    a[:5] = True
    assert dice(a, b) == 0.0
    b[:5] = True
    assert dice(a, b) == 1.0
    b[5:] = True
    assert dice(a, b) == pytest.approx(2 * 50 / 150)


def test_masks_from_simulated_landmarks_are_valid(sample: tuple[np.ndarray, np.ndarray]) -> None:
    _, landmarks = sample
    masks = landmarks_to_masks(landmarks, SHAPE)
    assert set(masks) == set(ORGANS)
    for organ, mask in masks.items():
        assert mask.shape == SHAPE and mask.dtype == bool
        assert mask.sum() > 50, organ
        assert not invalid_mask(mask), organ


@pytest.mark.parametrize("bits", [8, 16])
def test_round_trip(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray], bits: int) -> None:
    image, landmarks = sample
    write_chest_case(tmp_path, "c1", image, landmarks, bits=bits)
    assert (tmp_path / "images" / "c1.png").is_file()
    for organ, n in ORGANS.items():
        assert np.load(tmp_path / "landmarks" / organ / "c1.npy").shape == (n, 2)
    case = _only_case(tmp_path)
    assert case.case_id == "c1"
    got_image, got_landmarks = read_chest_case(case)
    assert got_image.shape == SHAPE and got_image.dtype == np.float32
    assert np.abs(got_image - image).max() <= 0.5 / (255 if bits == 8 else 65535) + 1e-6
    assert got_landmarks.dtype == np.float32
    np.testing.assert_array_equal(got_landmarks, landmarks)
    assert not list(tmp_path.rglob("*.tmp"))


def test_combined_landmark_file_and_capitalised_folders(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    image, landmarks = sample
    (tmp_path / "Images").mkdir()
    (tmp_path / "Landmarks").mkdir()
    Image.fromarray(np.rint(image * 255).astype(np.uint8)).save(tmp_path / "Images" / "JPCLN001.png")
    np.save(tmp_path / "Landmarks" / "JPCLN001.npy", landmarks.astype(np.float64))
    case = _only_case(tmp_path)
    assert case.combined_file is not None
    _, got = read_chest_case(case)
    np.testing.assert_allclose(got, landmarks)


def test_grey_stored_as_rgb_is_read(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    grey = np.array(Image.open(case.image_file))
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(case.image_file)
    image, _ = read_chest_case(case)
    np.testing.assert_allclose(image, grey / 255.0, atol=1e-6)


# ----------------------------------------------------------------------------------------------------
# Bad input: each a DataError naming the case and the file


def _expect(case: ChestCase, *fragments: str) -> str:
    with pytest.raises(DataError) as info:
        read_chest_case(case)
    message = str(info.value)
    assert f"case {case.case_id!r}" in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_wrong_landmark_count(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    path = tmp_path / "landmarks" / "LL" / "c1.npy"
    np.save(path, np.load(path)[:48])
    _expect(case, str(path), "left lung", "48 landmarks instead of 50")


def test_transposed_landmarks(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    path = tmp_path / "landmarks" / "H" / "c1.npy"
    np.save(path, np.load(path).T)
    _expect(case, str(path), "heart", "(2, 26)", "transposed")


def test_transposed_combined_landmarks(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    image, landmarks = sample
    (tmp_path / "images").mkdir()
    (tmp_path / "landmarks").mkdir()
    Image.fromarray(np.rint(image * 255).astype(np.uint8)).save(tmp_path / "images" / "x.png")
    np.save(tmp_path / "landmarks" / "x.npy", landmarks.T)
    _expect(_only_case(tmp_path), "x.npy", "(2, 120)", "transposed")


def test_nan_landmarks(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    path = tmp_path / "landmarks" / "RL" / "c1.npy"
    points = np.load(path)
    points[5, 1] = np.nan
    np.save(path, points)
    _expect(case, str(path), "right lung landmark 5", "nan")


def test_landmarks_outside_image(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    path = tmp_path / "landmarks" / "H" / "c1.npy"
    points = np.load(path)
    points[3] = [SHAPE[1] + 40, 10]
    np.save(path, points)
    _expect(case, "c1.png", "outside the 80x96 image", "heart landmark 3")


def test_missing_landmark_file(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    path = tmp_path / "landmarks" / "LL" / "c1.npy"
    path.unlink()
    _expect(_only_case(tmp_path), str(path), "missing")
    assert case.case_id == "c1"


def test_non_numeric_landmark_file(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    _write(tmp_path, sample)
    path = tmp_path / "landmarks" / "RL" / "c1.npy"
    path.write_text("not numpy")
    _expect(_only_case(tmp_path), str(path), "cannot be read")


def test_unreadable_image(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    case.image_file.write_bytes(b"\x89PNG broken")
    _expect(case, str(case.image_file), "cannot be read")


def test_colour_image_is_rejected(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    grey = np.array(Image.open(case.image_file))
    rgb = np.stack([grey, grey // 2, grey], axis=-1)
    Image.fromarray(rgb).save(case.image_file)
    _expect(case, str(case.image_file), "colour image")


def test_multi_frame_image_is_rejected(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    case = _write(tmp_path, sample)
    grey = Image.open(case.image_file).copy()
    stack = tmp_path / "images" / "c1.tif"
    case.image_file.unlink()
    grey.save(stack, save_all=True, append_images=[grey])
    _expect(_only_case(tmp_path), str(stack), "2 frames")


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        list_chest_cases(tmp_path / "nope")
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match="no landmarks/ folder"):
        list_chest_cases(tmp_path)
    (tmp_path / "landmarks").mkdir()
    with pytest.raises(DataError, match="no images"):
        list_chest_cases(tmp_path)


def test_writer_rejects_bad_input(tmp_path: Path, sample: tuple[np.ndarray, np.ndarray]) -> None:
    image, landmarks = sample
    with pytest.raises(DataError, match=r"case 'c1'.*2-D"):
        write_chest_case(tmp_path, "c1", np.stack([image] * 3, axis=-1), landmarks)
    with pytest.raises(DataError, match=r"case 'c1'.*transposed"):
        write_chest_case(tmp_path, "c1", image, landmarks.T)
    with pytest.raises(DataError, match=r"case 'c1'.*outside"):
        write_chest_case(tmp_path, "c1", image, landmarks * 3)
    with pytest.raises(DataError, match=r"case 'c1'.*\[0, 1\]"):
        write_chest_case(tmp_path, "c1", image * 2, landmarks)
    assert not (tmp_path / "images").exists()


def test_ring_order_checks(sample: tuple[np.ndarray, np.ndarray]) -> None:
    from sciconv_medseg.chest_landmarks_io import check_landmark_order, ring_crossings, ring_orientations

    _, landmarks = sample
    s = organ_slices()
    assert all(ring_crossings(landmarks[sl]) == [] for sl in s.values())
    assert ring_orientations(landmarks) == {"RL": 1, "LL": 1, "H": 1}
    check_landmark_order(landmarks, "case 'c1'")
    reversed_heart = landmarks.copy()
    reversed_heart[s["H"]] = landmarks[s["H"]][::-1]
    assert ring_orientations(reversed_heart)["H"] == -1
    check_landmark_order(reversed_heart, "case 'c1'")  # reversed but simple: the dataset checks orientation
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert ring_crossings(square) == [] and ring_crossings(square[[0, 2, 1, 3]]) == [(0, 2)]
    swapped = landmarks.copy()
    swapped[[s["LL"].start + 3, s["LL"].start + 30]] = swapped[[s["LL"].start + 30, s["LL"].start + 3]]
    with pytest.raises(DataError, match=r"case 'c1': the left lung ring crosses itself"):
        check_landmark_order(swapped, "case 'c1'")
