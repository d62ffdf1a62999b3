"""Tests of the official DeepFEA layout reader (``sciconv_deepfea.official_io``) on tiny synthetic datasets."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv_deepfea.official_io import (
    SCALING_STEMS,
    FEADataset,
    compute_min_max,
    read_official,
    scale,
    unscale,
    write_min_max,
)

T = 4


def make_case(seed: int, grid: tuple[int, ...] = (3, 3), steps: int = T) -> dict[str, np.ndarray]:
    """A valid case: coordinates of a regular grid drifting over time, loads, and a fixed first row / layer."""
    rng = np.random.default_rng(seed)
    dim = len(grid)
    axes = np.meshgrid(*[np.linspace(0.0, 1.0, g) for g in grid], indexing="ij")
    coords0 = np.stack(axes[::-1])  # channel 0 = x (last grid axis), 1 = y, 2 = z
    positions = np.stack([coords0 + 0.01 * (t + seed) * rng.standard_normal(coords0.shape) for t in range(steps + 1)])
    forces = 100.0 * rng.standard_normal((steps, dim, *grid))
    mask = np.zeros((steps, 1, *grid))
    mask[:, :, 0] = 1.0  # fixed along the first grid axis (y = 0 in 2D, z = 0 in 3D)
    dis_in = np.concatenate([positions[:-1], forces, mask], axis=1).astype(np.float32)
    elem = tuple(g - 1 for g in grid)
    return {
        "dis_in": dis_in,
        "dis_out": positions[1:].astype(np.float32),
        "eff_stress": (1e6 * rng.random((steps, *elem)) + seed).astype(np.float32),
        "eff_strain": (1e-3 * rng.random((steps, *elem))).astype(np.float32),
    }


def write_case(root: Path, name: str, case: dict[str, np.ndarray]) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "dis_in.npz", arr_0=case["dis_in"])
    np.savez(folder / "dis_out.npz", arr_0=case["dis_out"])
    np.savez(folder / "effective_out.npz", eff_stress=case["eff_stress"], eff_strain=case["eff_strain"])
    return folder


def make_root(tmp_path: Path, names=("1", "2", "10"), grid=(3, 3)) -> tuple[Path, dict[str, dict[str, np.ndarray]]]:
    root = tmp_path / "deepfea"
    cases = {name: make_case(int(name), grid) for name in names}
    for name, case in cases.items():
        write_case(root, name, case)
    return root, cases


def read_quiet(root: Path, **kwargs) -> FEADataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_official(root, **kwargs)


# --- valid data -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid", [(3, 3), (3, 3, 3)])
def test_round_trip_and_numeric_order(tmp_path: Path, grid: tuple[int, ...]) -> None:
    root, cases = make_root(tmp_path, ("10", "2", "1"), grid)
    (root / "notes").mkdir()  # not a number: ignored
    data = read_quiet(root)
    dim = len(grid)
    assert data.cases == ["1", "2", "10"]
    assert data.dim == dim and data.grid == grid and data.steps == T
    assert data.dis_in.shape == (3, T, 2 * dim + 1, *grid) and data.dis_in.dtype == np.float32
    assert data.dis_out.shape == (3, T, dim, *grid)
    assert data.eff_stress.shape == (3, T, *(g - 1 for g in grid)) == data.eff_strain.shape
    for i, name in enumerate(data.cases):
        np.testing.assert_array_equal(data.dis_in[i], cases[name]["dis_in"])
        np.testing.assert_array_equal(data.dis_out[i], cases[name]["dis_out"])
        np.testing.assert_array_equal(data.eff_stress[i], cases[name]["eff_stress"])
        np.testing.assert_array_equal(data.eff_strain[i], cases[name]["eff_strain"])
    assert list(data.scaling) == list(SCALING_STEMS)
    for stem, array in data.scaling.items():
        assert array.shape == ((dim,) if stem.startswith("dis_") else (1,)), stem


def test_explicit_cases_keep_given_order(tmp_path: Path) -> None:
    root, cases = make_root(tmp_path)
    data = read_quiet(root, cases=["10", "1"])
    assert data.cases == ["10", "1"]
    np.testing.assert_array_equal(data.dis_out[0], cases["10"]["dis_out"])


def test_missing_min_max_recomputed_from_train_cases_with_notice(tmp_path: Path) -> None:
    root, cases = make_root(tmp_path)
    before = sorted(p.name for p in root.iterdir())
    with pytest.warns(UserWarning, match=r"missing dis_c_min\.npy.*eff_strain_max\.npy.*not written"):
        data = read_official(root, train_cases=["1", "2"])
    assert sorted(p.name for p in root.iterdir()) == before  # nothing written into the user's folder
    train = [cases["1"], cases["2"]]
    coords = np.concatenate([np.concatenate([c["dis_in"][:, :2], c["dis_out"]]) for c in train])
    np.testing.assert_allclose(data.scaling["dis_c_min"], coords.min(axis=(0, 2, 3)))
    np.testing.assert_allclose(data.scaling["dis_c_max"], coords.max(axis=(0, 2, 3)))
    forces = np.concatenate([c["dis_in"][:, 2:4] for c in train])
    np.testing.assert_allclose(data.scaling["dis_f_max"], forces.max(axis=(0, 2, 3)))
    stress = np.concatenate([c["eff_stress"] for c in train])
    np.testing.assert_allclose(data.scaling["eff_stress_min"], [stress.min()])
    # scaled with the train bounds, the train cases fill exactly [-1, 1]
    y = scale(data.dis_in[:2, :, :2], data.scaling["dis_c_min"], data.scaling["dis_c_max"], axis=2)
    y_out = scale(data.dis_out[:2], data.scaling["dis_c_min"], data.scaling["dis_c_max"], axis=2)
    lo = np.minimum(y.min(axis=(0, 1, 3, 4)), y_out.min(axis=(0, 1, 3, 4)))
    hi = np.maximum(y.max(axis=(0, 1, 3, 4)), y_out.max(axis=(0, 1, 3, 4)))
    np.testing.assert_allclose(lo, -1.0, atol=1e-6)
    np.testing.assert_allclose(hi, 1.0, atol=1e-6)


def test_present_min_max_files_are_read_and_partial_ones_completed(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    data = read_quiet(root)
    written = write_min_max(root, data, ["1"])
    with pytest.raises(DataError, match="already exist"):
        write_min_max(root, data, ["1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # all 8 present: no notice
        again = read_official(root)
    for stem in SCALING_STEMS:
        np.testing.assert_array_equal(again.scaling[stem], written[stem])
        assert again.scaling[stem].dtype == np.float32
    (root / "eff_strain_max.npy").unlink()
    with pytest.warns(UserWarning, match=r"missing eff_strain_max\.npy; recomputed from all read cases"):
        partial = read_official(root)
    np.testing.assert_array_equal(partial.scaling["dis_c_min"], written["dis_c_min"])  # kept from the file
    assert partial.scaling["eff_strain_max"] == pytest.approx(float(data.eff_strain.max()))


def test_bad_min_max_files(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    write_min_max(root, read_quiet(root))
    np.save(root / "dis_f_min.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(DataError, match=r"dis_f_min\.npy: shape \(3,\); expected \(2,\)"):
        read_official(root)
    np.save(root / "dis_f_min.npy", np.array([1e9, 1e9], dtype=np.float32))
    with pytest.raises(DataError, match=r"dis_f_min\.npy exceeds dis_f_max\.npy"):
        read_official(root)
    np.save(root / "dis_f_min.npy", np.array(["a", "b"], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"dis_f_min\.npy: holds an object array that would need unpickling"):
        read_official(root)


def test_scale_unscale_inverse_and_constant_channel() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 3, 5, 5)).astype(np.float32)
    x[:, :, 2] = 7.0  # a constant channel
    lo, hi = x.min(axis=(0, 1, 3, 4)), x.max(axis=(0, 1, 3, 4))
    y = scale(x, lo, hi, axis=2)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    assert y.min() >= -1.0 - 1e-6 and y.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(y[:, :, :2].min(axis=(0, 1, 3, 4)), -1.0, atol=1e-6)
    np.testing.assert_allclose(y[:, :, :2].max(axis=(0, 1, 3, 4)), 1.0, atol=1e-6)
    assert (y[:, :, 2] == 0.0).all()
    np.testing.assert_allclose(unscale(y, lo, hi, axis=2), x, rtol=1e-6, atol=1e-6)
    # scalar bounds, as for the effective stress
    s = np.array([0.0, 5.0, 10.0])
    np.testing.assert_allclose(scale(s, np.array([0.0]), np.array([10.0])), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(unscale(np.array([-1.0, 1.0]), np.array([2.0]), np.array([4.0])), [2.0, 4.0])
    with pytest.raises(ConfigError, match="axis: required"):
        scale(x, lo, hi)
    with pytest.raises(ConfigError, match="axis: x has 4 channels"):
        scale(x, lo, hi, axis=1)


def test_compute_min_max_rejects_unknown_train_case(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    data = read_quiet(root)
    with pytest.raises(ConfigError, match="train_cases: 7 not among the cases read"):
        compute_min_max(data, ["7"])
    with pytest.raises(ConfigError, match="train_cases: 7 not among the cases read"):
        read_official(root, train_cases=["7"])
    with pytest.raises(ConfigError, match="cases: empty"):
        read_official(root, cases=[])
    with pytest.raises(ConfigError, match=r"cases: case folder.*more than once: 1"):
        read_official(root, cases=["1", "1"])


# --- bad input ------------------------------------------------------------------------------------------------


def test_missing_root_and_empty_root(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match=r"does not exist.*numbered folder per simulation"):
        read_official(tmp_path / "nowhere")
    assert issubclass(MissingPathError, DataError)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme").mkdir()
    with pytest.raises(DataError, match=r"empty: no numbered case folders \(expected one numbered folder"):
        read_official(tmp_path / "empty")
    root, _ = make_root(tmp_path)
    with pytest.raises(MissingPathError, match="cases: no case folder 3"):
        read_official(root, cases=["1", "3"])


def test_missing_npz_and_missing_key(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    (root / "2" / "dis_out.npz").unlink()
    with pytest.raises(DataError, match=r"case '2' .*: missing dis_out\.npz"):
        read_official(root)
    root, cases = make_root(tmp_path / "b")
    np.savez(root / "10" / "effective_out.npz", eff_stress=cases["10"]["eff_stress"], strain=cases["10"]["eff_strain"])
    with pytest.raises(
        DataError, match=r"case '10' .*effective_out\.npz has no array 'eff_strain' \(found: eff_stress"
    ):
        read_official(root)


def test_object_array_refused_without_unpickling(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    np.savez(root / "1" / "dis_in.npz", arr_0=np.array([{"x": 1}, None], dtype=object))
    with pytest.raises(DataError, match=r"case '1' .*dis_in\.npz\['arr_0'\]: holds an object array that would need "):
        read_official(root)
    try:
        read_official(root)
    except DataError as e:
        assert "unpickling" in str(e) and "never does" in str(e)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(dis_in=c["dis_in"][:, :, 0]), r"dis_in\.npz\['arr_0'\] has rank 3"),
        (lambda c: c.update(dis_in=c["dis_in"][:, :4]), r"has 4 channels .* 2D case \(T, 5, H, W\) has 5"),
        (lambda c: c.update(dis_out=c["dis_out"][:, :, :2]), r"dis_out\.npz\['arr_0'\] has shape \(4, 2, 2, 3\)"),
        (lambda c: c.update(eff_stress=c["eff_stress"][:, :1]), r"\['eff_stress'\] has shape \(4, 1, 2\).*one element"),
        (lambda c: c.update(eff_strain=np.zeros((T, 3, 3))), r"\['eff_strain'\] has shape \(4, 3, 3\); expected"),
        (
            lambda c: c.update(dis_out=c["dis_out"][:3]),
            r"inconsistent time lengths within the case \(dis_in 4, dis_out 3",
        ),
        (lambda c: c.update(eff_strain=c["eff_strain"][:2]), r"inconsistent time lengths .*eff_strain 2 steps"),
    ],
)
def test_bad_shapes(tmp_path: Path, edit, message: str) -> None:
    root, cases = make_root(tmp_path)
    case = dict(cases["2"])
    edit(case)
    write_case(root, "2", case)
    with pytest.raises(DataError, match=r"case '2' .*" + message):
        read_official(root)


def test_3d_channel_count(tmp_path: Path) -> None:
    root, cases = make_root(tmp_path, ("1",), (3, 3, 3))
    case = dict(cases["1"])
    case["dis_in"] = case["dis_in"][:, :5]
    write_case(root, "1", case)
    with pytest.raises(DataError, match=r"has 5 channels .* 3D case \(T, 7, D, H, W\) has 7"):
        read_official(root)


def test_differences_across_cases(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    write_case(root, "2", make_case(2, grid=(4, 3)))
    with pytest.raises(DataError, match=r"case '2' .*node grid \(4, 3\) differs from case '1''s \(3, 3\)"):
        read_official(root)
    write_case(root, "2", make_case(2, steps=5))
    with pytest.raises(DataError, match=r"case '2' .*5 time steps while case '1' has 4.*does not truncate"):
        read_official(root)
    write_case(root, "2", make_case(2, grid=(3, 3, 3)))
    with pytest.raises(DataError, match=r"case '2' .*a 3D case among 2D ones"):
        read_official(root)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("dis_in", r"dis_in\.npz\['arr_0'\] has 2 NaN and 1 infinite values"),
        ("dis_out", r"dis_out\.npz\['arr_0'\] has 2 NaN and 1 infinite values"),
        ("eff_stress", r"effective_out\.npz\['eff_stress'\] has 2 NaN and 1 infinite values"),
    ],
)
def test_non_finite_values(tmp_path: Path, key: str, message: str) -> None:
    root, cases = make_root(tmp_path)
    case = {k: v.copy() for k, v in cases["10"].items()}
    flat = case[key].reshape(-1)
    flat[[0, 1]] = np.nan
    flat[2] = np.inf
    write_case(root, "10", case)
    with pytest.raises(DataError, match=r"case '10' .*" + message):
        read_official(root)


@pytest.mark.parametrize(
    ("mask_edit", "message"),
    [
        (lambda m: m.fill(0.0), "fixes no node"),
        (lambda m: m.fill(1.0), "fixes every node"),
        (lambda m: m.__setitem__((slice(None), 1, 1), 0.5), "values other than 0 and 1: 0.5"),
        (
            lambda m: m.__setitem__((slice(2, None), 2, 2), 1.0),
            r"changes over time \(differs from t = 0 at steps 2, 3\)",
        ),
    ],
)
def test_bad_boundary_mask(tmp_path: Path, mask_edit, message: str) -> None:
    root, cases = make_root(tmp_path)
    case = {k: v.copy() for k, v in cases["1"].items()}
    mask_edit(case["dis_in"][:, 4])
    write_case(root, "1", case)
    with pytest.raises(DataError, match=r"case '1' .*" + message):
        read_official(root)


def test_non_numeric_and_corrupt_files(tmp_path: Path) -> None:
    root, _ = make_root(tmp_path)
    np.savez(root / "1" / "dis_out.npz", arr_0=np.full((T, 2, 3, 3), "a"))
    with pytest.raises(DataError, match=r"case '1' .*dis_out\.npz\['arr_0'\]: dtype <U1; expected real numbers"):
        read_official(root)
    (root / "1" / "dis_out.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"case '1' .*dis_out\.npz cannot be read as an \.npz archive"):
        read_official(root)
