"""Tests of the scikit-fem DeepFEA simulator: layout, determinism, physics checks and parameter errors."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_deepfea.fea_simulator import (
    FEACase,
    assemble_system,
    draw_case,
    effective_strain,
    element_fields,
    integrate,
    load_factor,
    simulate_dataset,
    solve_case,
    static_response,
    static_solution,
    von_mises,
)


def _rayleigh(case: FEACase, zeta: float) -> tuple[float, float]:
    w1 = 2 * math.pi * case.first_frequency
    w2 = 4 * w1
    return 2 * zeta * w1 * w2 / (w1 + w2), 2 * zeta / (w1 + w2)


def _with_history(case: FEACase, kind: str, **params: float) -> FEACase:
    return dataclasses.replace(case, history=kind, history_params=tuple(params.items()))


def test_dataset_layout_2d(tmp_path):
    records = simulate_dataset(tmp_path, n_cases=3, grid=(9, 9), n_steps=6, seed=4)
    assert [r["case"] for r in records] == [1, 2, 3]
    stored = json.loads((tmp_path / "cases.json").read_text())
    assert stored == records
    lo = {n: np.load(tmp_path / f"{n}_min.npy") for n in ("dis_c", "dis_f", "eff_stress", "eff_strain")}
    hi = {n: np.load(tmp_path / f"{n}_max.npy") for n in ("dis_c", "dis_f", "eff_stress", "eff_strain")}
    assert lo["dis_c"].shape == hi["dis_c"].shape == (2,) and lo["dis_f"].shape == (2,)
    assert lo["eff_stress"].shape == hi["eff_strain"].shape == (1,)
    for i in (1, 2, 3):
        with np.load(tmp_path / str(i) / "dis_in.npz", allow_pickle=False) as z:
            assert list(z.keys()) == ["arr_0"]
            dis_in = z["arr_0"]
        with np.load(tmp_path / str(i) / "dis_out.npz", allow_pickle=False) as z:
            dis_out = z["arr_0"]
        with np.load(tmp_path / str(i) / "effective_out.npz", allow_pickle=False) as z:
            assert sorted(z.keys()) == ["eff_strain", "eff_stress"]
            stress, strain = z["eff_stress"], z["eff_strain"]
        assert dis_in.shape == (6, 5, 9, 9) and dis_in.dtype == np.float32
        assert dis_out.shape == (6, 2, 9, 9) and dis_out.dtype == np.float32
        assert stress.shape == strain.shape == (6, 8, 8) and stress.dtype == np.float32
        # coordinates channel x varies along columns (j), y along rows (i) on a 1 m plate
        np.testing.assert_allclose(dis_in[0, 0, 0], np.linspace(0, 1, 9), atol=1e-6)
        np.testing.assert_allclose(dis_in[0, 1, :, 0], np.linspace(0, 1, 9), atol=1e-6)
        # the input of step t+1 holds the target of step t
        np.testing.assert_array_equal(dis_in[1:, :2], dis_out[:-1])
        mask = dis_in[:, 4]
        assert set(np.unique(mask)) == {0.0, 1.0} and (mask == mask[0]).all()
        case = FEACase.from_record(records[i - 1])
        assert np.flatnonzero(mask[0].ravel()).tolist() == sorted(case.fixed_nodes)
        # the load acts on the load nodes only
        f_nodes = np.flatnonzero(np.abs(dis_in[:, 2:4]).sum(axis=(0, 1)).ravel())
        assert set(f_nodes.tolist()) <= set(case.load_nodes)
        # min/max arrays bound the data
        for c in range(2):
            assert lo["dis_c"][c] <= min(dis_in[:, c].min(), dis_out[:, c].min())
            assert hi["dis_c"][c] >= max(dis_in[:, c].max(), dis_out[:, c].max())
            assert lo["dis_f"][c] <= dis_in[:, 2 + c].min() and hi["dis_f"][c] >= dis_in[:, 2 + c].max()
        assert lo["eff_stress"][0] <= stress.min() and hi["eff_stress"][0] >= stress.max() > 0
        assert (strain >= 0).all()
    # the record round trip rebuilds the same case and the same simulation
    case = FEACase.from_record(records[1])
    assert case == draw_case(np.random.default_rng([4, 2]), grid=(9, 9), n_steps=6)
    with np.load(tmp_path / "2" / "dis_out.npz") as z:
        np.testing.assert_array_equal(z["arr_0"], solve_case(case)["dis_out"])


def test_dataset_layout_3d(tmp_path):
    simulate_dataset(tmp_path, n_cases=2, grid=(5, 4, 6), n_steps=4, dim=3, seed=1)
    with np.load(tmp_path / "1" / "dis_in.npz") as z:
        dis_in = z["arr_0"]
    with np.load(tmp_path / "2" / "dis_out.npz") as z:
        dis_out = z["arr_0"]
    with np.load(tmp_path / "2" / "effective_out.npz") as z:
        stress = z["eff_stress"]
    assert dis_in.shape == (4, 7, 5, 4, 6) and dis_out.shape == (4, 3, 5, 4, 6) and stress.shape == (4, 4, 3, 5)
    # grid[k, i, j] = node at (z_k, y_i, x_j) of a 1 m cube
    np.testing.assert_allclose(dis_in[0, 0, 0, 0], np.linspace(0, 1, 6), atol=1e-6)
    np.testing.assert_allclose(dis_in[0, 1, 0, :, 0], np.linspace(0, 1, 4), atol=1e-6)
    np.testing.assert_allclose(dis_in[0, 2, :, 0, 0], np.linspace(0, 1, 5), atol=1e-6)
    assert np.load(tmp_path / "dis_c_min.npy").shape == (3,) and np.load(tmp_path / "dis_f_max.npy").shape == (3,)


def test_refuses_stale_case_folders(tmp_path):
    (tmp_path / "7").mkdir()
    with pytest.raises(DataError, match="7"):
        simulate_dataset(tmp_path, n_cases=2, n_steps=2)


def test_determinism_by_seed(tmp_path):
    a = simulate_dataset(tmp_path / "a", n_cases=2, n_steps=5, seed=11)
    b = simulate_dataset(tmp_path / "b", n_cases=2, n_steps=5, seed=11)
    c = simulate_dataset(tmp_path / "c", n_cases=2, n_steps=5, seed=12)
    assert a == b and a != c
    for name in ("dis_in.npz", "dis_out.npz"):
        with np.load(tmp_path / "a" / "1" / name) as x, np.load(tmp_path / "b" / "1" / name) as y:
            np.testing.assert_array_equal(x["arr_0"], y["arr_0"])
    assert draw_case(np.random.default_rng(3)) == draw_case(np.random.default_rng(3))
    assert draw_case(np.random.default_rng(3)) != draw_case(np.random.default_rng(4))


@pytest.mark.parametrize("dim,grid", [(2, (9, 9)), (3, (4, 4, 4))])
def test_clamped_nodes_never_move(dim, grid):
    rng = np.random.default_rng(21)
    for _ in range(6):
        out = solve_case(draw_case(rng, grid=grid, dim=dim, n_steps=8))
        mask = out["dis_in"][0, 2 * dim].astype(bool)
        ref = out["dis_in"][0, :dim]
        moved = np.abs(out["dis_out"] - ref[None]).max(axis=1)  # (T, *grid)
        assert (moved[:, mask] == 0).all()
        assert moved[:, ~mask].max() > 0


def test_displacements_are_small_but_visible():
    rng = np.random.default_rng(8)
    peaks = []
    for _ in range(20):
        out = solve_case(draw_case(rng))
        peaks.append(np.abs(out["dis_out"] - out["dis_in"][:1, :2]).max())
    assert 1e-3 < np.median(peaks) < 0.1 and max(peaks) < 0.25


def test_bc_mask_never_fixes_nothing_or_everything():
    rng = np.random.default_rng(0)
    kinds = set()
    for grid, dim in [((3, 3), 2), ((9, 9), 2), ((3, 7), 2), ((3, 3, 3), 3), ((5, 5, 5), 3)]:
        for _ in range(25):
            case = draw_case(rng, grid=grid, dim=dim, n_steps=1)
            n = int(np.prod(grid))
            assert 0 < len(set(case.fixed_nodes)) < n
            assert case.load_nodes and not set(case.load_nodes) & set(case.fixed_nodes)
            assert case.first_frequency > 0 and math.isfinite(case.magnitude) and case.magnitude > 0
            kinds.add(case.bc_kind)
    assert kinds == {"one_edge", "two_edges", "patches"}


def test_slow_ramp_converges_to_static_solution():
    case = draw_case(np.random.default_rng(5))
    f1 = case.first_frequency
    slow = dataclasses.replace(
        _with_history(case, "ramp", t_ramp=30.0 / f1),
        dt=0.1 / f1,
        n_steps=330,
        damping_ratio=0.05,
        rayleigh=_rayleigh(case, 0.05),
    )
    dyn = solve_case(slow)
    sta = static_solution(slow)
    ref = dyn["dis_in"][0, :2]
    d_dyn = dyn["dis_out"][-1] - ref
    d_sta = sta["dis_out"][-1] - ref
    assert np.abs(d_dyn - d_sta).max() < 0.01 * np.abs(d_sta).max()
    np.testing.assert_allclose(dyn["eff_stress"][-1], sta["eff_stress"][-1], atol=0.01 * sta["eff_stress"].max())
    # static_response from the dataset's own load channels gives the same baseline
    again = static_response(slow, dyn["dis_in"][:, 2:4])
    np.testing.assert_allclose(again["dis_out"], sta["dis_out"], atol=1e-6)
    assert sta["eff_strain"].shape == (330, 8, 8)


@pytest.mark.parametrize("dim", [2, 3])
def test_energy_balance_without_damping(dim):
    grid = (9, 9) if dim == 2 else (4, 4, 4)
    case = draw_case(np.random.default_rng(2), grid=grid, dim=dim, n_steps=40)
    span = case.dt * case.n_steps
    for kind, params in [
        ("ramp", {"t_ramp": 0.4 * span}),
        ("pulse", {"t_pulse": 0.3 * span}),
        ("harmonic", {"frequency": 0.7 * case.first_frequency}),
        ("ramp_release", {"t_ramp": 0.2 * span, "t_release": 0.35 * span}),
    ]:
        res = integrate(assemble_system(_with_history(case, kind, **params)))
        energy, work = res["energy"], res["external_work"]
        assert energy.max() > 0
        # total energy = work of the external loads (trapezoidal rule, exact for Newmark 1/4, 1/2)
        np.testing.assert_allclose(energy, work, rtol=0, atol=1e-9 * energy.max())
        if kind == "ramp_release":
            free = energy[np.arange(case.n_steps + 1) * case.dt >= params["t_release"]]
            assert len(free) > 10
            assert np.ptp(free) <= 1e-9 * free.max()


def test_damping_dissipates_energy():
    case = draw_case(np.random.default_rng(2), n_steps=60)
    span = case.dt * case.n_steps
    case = _with_history(case, "ramp_release", t_ramp=0.1 * span, t_release=0.2 * span)
    damped = dataclasses.replace(case, damping_ratio=0.05, rayleigh=_rayleigh(case, 0.05))
    res = integrate(assemble_system(damped))
    balance = res["energy"] - res["external_work"]  # minus the energy dissipated so far
    assert (np.diff(balance) <= 1e-12 * res["energy"].max()).all()
    assert balance[-1] < -1e-3 * res["energy"].max()
    free = res["energy"][np.arange(case.n_steps + 1) * case.dt >= 0.2 * span]
    assert free[-1] < 0.8 * free[0]
    assert (np.diff(free) <= 1e-12 * free[0]).all()
    # draw_case turns the damping ratio into Rayleigh coefficients
    drawn = draw_case(np.random.default_rng(2), damping=0.05)
    assert drawn.damping_ratio == 0.05 and drawn.rayleigh[0] > 0 and drawn.rayleigh[1] > 0


def test_von_mises_and_effective_strain():
    s = 3.5e5
    for sig in (np.diag([s, 0.0, 0.0]), np.diag([0.0, -s, 0.0])):
        assert von_mises(sig) == pytest.approx(abs(s))
    shear = np.zeros((3, 3))
    shear[0, 1] = shear[1, 0] = s
    assert von_mises(shear) == pytest.approx(math.sqrt(3) * s)
    assert von_mises(np.eye(3) * s) == pytest.approx(0.0, abs=1e-9)
    assert effective_strain(np.diag([1e-3, -5e-4, -5e-4])) == pytest.approx(1e-3)
    # a uniaxial plane-stress field through the element post-processing: u = (eps x, -nu eps y)
    case = draw_case(np.random.default_rng(0), grid=(5, 7))
    eps = 2e-3
    x = np.linspace(0, 1, 7)[None, :] * np.ones((5, 1))
    y = np.linspace(0, 1, 5)[:, None] * np.ones((1, 7))
    disp = np.stack([eps * x, -case.poisson * eps * y])[None]
    stress, strain = element_fields(case, disp)
    assert stress.shape == (1, 4, 6)
    np.testing.assert_allclose(stress, case.young * eps, rtol=1e-10)
    np.testing.assert_allclose(strain, 2 * (1 + case.poisson) * eps / 3, rtol=1e-10)
    # the same along y, and in 3D (u = (-nu eps x, -nu eps y, eps z))
    disp_y = np.stack([-case.poisson * eps * x, eps * y])[None]
    np.testing.assert_allclose(element_fields(case, disp_y)[0], case.young * eps, rtol=1e-10)
    c3 = draw_case(np.random.default_rng(0), grid=(3, 4, 5), dim=3)
    zz, yy, xx = np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 1, 4), np.linspace(0, 1, 5), indexing="ij")
    d3 = np.stack([-c3.poisson * eps * xx, -c3.poisson * eps * yy, eps * zz])[None]
    np.testing.assert_allclose(element_fields(c3, d3)[0], c3.young * eps, rtol=1e-10)


def test_neo_hookean_matches_linear_for_small_loads_only():
    case = draw_case(np.random.default_rng(3), grid=(5, 5), n_steps=6, material_model="neo_hookean")
    assert case.plane == "strain"

    def displacements(c: FEACase) -> tuple[np.ndarray, np.ndarray]:
        nh = integrate(assemble_system(c))["u"]
        lin = integrate(assemble_system(dataclasses.replace(c, material_model="linear")))["u"]
        return nh, lin

    small = dataclasses.replace(case, magnitude=case.magnitude * 1e-3)
    nh, lin = displacements(small)
    assert np.abs(nh - lin).max() < 1e-3 * np.abs(lin).max()
    large = dataclasses.replace(case, magnitude=case.magnitude * 8)
    nh, lin = displacements(large)
    assert np.abs(nh - lin).max() > 0.03 * np.abs(lin).max()
    out = solve_case(large)
    assert np.isfinite(out["eff_stress"]).all() and out["eff_stress"].max() > 0
    # Newmark with Newton keeps the energy balance closely (not exactly: the model is nonlinear)
    res = integrate(assemble_system(large))
    assert np.abs(res["energy"] - res["external_work"]).max() < 0.02 * res["energy"].max()


def test_load_factor_histories():
    case = draw_case(np.random.default_rng(1))
    t = np.array([0.0, 0.5, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(load_factor(_with_history(case, "ramp", t_ramp=2.0), t), [0, 0.25, 0.5, 1, 1])
    np.testing.assert_allclose(load_factor(_with_history(case, "pulse", t_pulse=2.0), t), [0, 2**-0.5, 1, 0, 0])
    rr = _with_history(case, "ramp_release", t_ramp=1.0, t_release=2.0)
    np.testing.assert_allclose(load_factor(rr, t), [0, 0.5, 1, 0, 0])
    np.testing.assert_allclose(
        load_factor(_with_history(case, "harmonic", frequency=0.25), t), [0, 0.7071, 1, 0, -1], atol=1e-4
    )


def test_bad_parameters_raise_config_error(tmp_path):
    rng = np.random.default_rng(0)
    for kwargs, word in [
        ({"grid": (2, 9)}, "grid"),
        ({"grid": (9, 9, 9)}, "grid"),
        ({"dim": 4}, "dim"),
        ({"n_steps": 0}, "n_steps"),
        ({"material_model": "plastic"}, "material_model"),
        ({"damping": -0.1}, "damping"),
        ({"damping": 1.5}, "damping"),
    ]:
        with pytest.raises(ConfigError, match=word):
            draw_case(rng, **kwargs)
    with pytest.raises(ConfigError, match="n_cases"):
        simulate_dataset(tmp_path, n_cases=0)
    with pytest.raises(ConfigError, match="seed"):
        simulate_dataset(tmp_path, n_cases=1, seed=-1)
    case = draw_case(rng)
    for field, value in [
        ("fixed_nodes", ()),
        ("fixed_nodes", tuple(range(81))),
        ("load_nodes", case.fixed_nodes[:1]),
        ("young", -1.0),
        ("poisson", 0.5),
        ("dt", 0.0),
        ("history", "square"),
        ("direction", (1.0, 1.0)),
    ]:
        with pytest.raises(ConfigError, match=field):
            dataclasses.replace(case, **{field: value})
    with pytest.raises(ConfigError, match="plane"):
        dataclasses.replace(case, material_model="neo_hookean")
    with pytest.raises(DataError, match="load_at_step"):
        static_response(case, np.zeros((3, 2, 8, 8)))


def test_neo_hookean_3d_small_load_matches_linear():
    case = draw_case(np.random.default_rng(6), grid=(3, 3, 3), dim=3, n_steps=4, material_model="neo_hookean")
    small = dataclasses.replace(case, magnitude=case.magnitude * 1e-3)
    nh = integrate(assemble_system(small))["u"]
    lin = integrate(assemble_system(dataclasses.replace(small, material_model="linear")))["u"]
    assert np.abs(lin).max() > 0
    assert np.abs(nh - lin).max() < 1e-3 * np.abs(lin).max()
    out = solve_case(case)
    assert out["dis_in"].shape == (4, 7, 3, 3, 3) and out["eff_strain"].shape == (4, 2, 2, 2)
