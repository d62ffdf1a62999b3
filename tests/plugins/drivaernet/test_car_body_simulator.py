"""Tests of the DrivAerNet-like car body simulator: the written layout, the meshes (parse, closed, dimensions as
designed, vertex density following the detail: part vertex shares, open vs closed rims, the detailed underbody seen
by vertex sampling), determinism per seed, areas and parameter errors."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import open3d as o3d
import pandas as pd
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_drivaernet.car_body_simulator import (
    COEFFICIENTS_FILE,
    COVER_RECESS,
    HUB_RADIUS,
    N_SPOKES,
    PARAMETER_COLUMNS,
    PARAMETRIC_FILE,
    RIM_RADIUS,
    RIM_RECESS,
    SIMULATOR_VERSION,
    SPLIT_FILES,
    SPLIT_FOLDER,
    STL_FOLDER,
    TIRE_WIDTH,
    WINDOW_DEPTH,
    CarDesign,
    UnderbodyPart,
    build_car,
    build_mesh,
    frontal_area,
    mesh_areas,
    rim_depth,
    sample_designs,
    simulate_drivaernet,
    triangle_areas,
)
from sciconv_drivaernet.drivaernet_io import sample_vertices

ID_RE = re.compile(r"^(?P<fam>[FNE])_(?P<under>[SD])_(?P<wheels>WWC|WW)_WM_(?P<num>\d{3,})$")
FAMILY_OF_LETTER = {"F": "fastback", "N": "notchback", "E": "estateback"}


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    root = tmp_path_factory.mktemp("drivaernet") / "sim"
    out = simulate_drivaernet(root, n_designs=12, seed=5)
    return root, out


def _design(family: str = "fastback", seed: int = 0, **kw) -> CarDesign:
    return CarDesign.sample(np.random.default_rng(seed), family, **kw)


def _closed(triangles: np.ndarray) -> bool:
    """Every edge shared by exactly two triangles, once in each direction (closed and consistently oriented)."""
    directed = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    fwd = {tuple(e) for e in directed.tolist()}
    return len(fwd) == len(directed) and all((b, a) in fwd for a, b in fwd)


def _signed_volume(v: np.ndarray, t: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[t[:, 0]], np.cross(v[t[:, 1]], v[t[:, 2]])).sum() / 6.0)


def _components(triangles: np.ndarray) -> list[np.ndarray]:
    """The triangles split into edge-connected surfaces (union-find on the vertex indices)."""
    parent = {int(i): int(i) for i in np.unique(triangles)}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, c in triangles.tolist():
        for u, w in ((a, b), (b, c)):
            ru, rw = find(u), find(w)
            if ru != rw:
                parent[ru] = rw
    roots = np.array([find(int(a)) for a in triangles[:, 0]])
    return [triangles[roots == r] for r in np.unique(roots)]


PART_ORDER = ("body", "base", "wheel", "mirror", "underbody")


def _part_vertex_counts(mesh) -> dict[str, int]:
    return {name: len(np.unique(mesh.triangles[mesh.part_mask(name)])) for name in PART_ORDER}


# ------------------------------------------------------------------------------------------------ layout


def test_layout_files_and_columns(layout):
    root, out = layout
    stls = sorted(p.stem for p in (root / STL_FOLDER).glob("*.stl"))
    assert stls == sorted(out["design_ids"]) and len(stls) == 12
    coeff = pd.read_csv(root / COEFFICIENTS_FILE)
    assert list(coeff.columns) == ["Design", "Average Cd", "Average Cl", "Average Cl_f", "Average Cl_r"]
    assert sorted(coeff["Design"]) == stls
    param = pd.read_csv(root / PARAMETRIC_FILE)
    expected = ["Experiment", *[c for c, _ in PARAMETER_COLUMNS]]
    expected += ["Average Cd", "Std Cd", "Average Cl", "Average Cl_f", "Average Cl_r"]
    assert list(param.columns) == expected
    params = param[[c for c, _ in PARAMETER_COLUMNS]]
    assert all(pd.api.types.is_float_dtype(params[c]) for c in params.columns)
    assert np.isfinite(params.to_numpy()).all()
    merged = coeff.merge(param, left_on="Design", right_on="Experiment", suffixes=("", "_p"))
    np.testing.assert_allclose(merged["Average Cd"], merged["Average Cd_p"])
    np.testing.assert_allclose(merged["Average Cl"], merged["Average Cl_f"] + merged["Average Cl_r"], atol=1e-12)
    assert (param["Std Cd"] >= 0.004 - 1e-12).all()
    assert not list(root.rglob("*.tmp")) and not [p for p in root.rglob(".*") if p.name != "."]
    assert out["simulator_version"] == SIMULATOR_VERSION == "1.1"


def test_ids_parse_to_their_family_and_configuration(layout):
    root, out = layout
    param = pd.read_csv(root / PARAMETRIC_FILE).set_index("Experiment")
    for design_id in out["design_ids"]:
        m = ID_RE.match(design_id)
        assert m, design_id
        family = FAMILY_OF_LETTER[m["fam"]]
        assert out["families"][design_id] == family
        row = param.loc[design_id]
        assert row[f"S_Body_{family.capitalize()}"] == 1.0
        assert row["S_Underbody_Detailed"] == (1.0 if m["under"] == "D" else 0.0)
        assert row["S_Wheels_Open"] == (1.0 if m["wheels"] == "WW" else 0.0)
    counts = pd.Series(out["families"]).value_counts()
    assert counts.to_dict() == {"fastback": 4, "notchback": 4, "estateback": 4}


def test_split_lists_ratio_disjoint_and_stratified(layout):
    root, out = layout
    lists = {}
    for name, fname in SPLIT_FILES.items():
        lines = (root / SPLIT_FOLDER / fname).read_text().splitlines()
        assert all(line.strip() == line and line for line in lines)
        lists[name] = lines
    assert {k: len(v) for k, v in lists.items()} == {"train": 6, "val": 3, "test": 3}  # 2 / 1 / 1 per family of 4
    assert lists == out["splits"]
    all_ids = [i for v in lists.values() for i in v]
    assert len(all_ids) == len(set(all_ids)) == 12 and set(all_ids) == set(out["design_ids"])
    for ids in lists.values():
        assert {i[0] for i in ids} == {"F", "N", "E"}


def test_split_ratio_follows_70_15_15_within_each_family(tmp_path):
    out = simulate_drivaernet(tmp_path / "sixty", n_designs=60, seed=1, resolution=0.3)
    assert {k: len(v) for k, v in out["splits"].items()} == {"train": 42, "val": 9, "test": 9}
    for ids in out["splits"].values():
        letters = pd.Series([i[0] for i in ids]).value_counts()
        assert letters.nunique() == 1 and len(letters) == 3  # the same count of each family in every split


def test_meshes_parse_with_open3d(layout):
    root, out = layout
    for design_id in out["design_ids"][::3]:
        mesh = o3d.io.read_triangle_mesh(str(root / STL_FOLDER / f"{design_id}.stl"))
        v = np.asarray(mesh.vertices)
        t = np.asarray(mesh.triangles)
        assert len(t) > 10000 and np.isfinite(v).all()
        rec = next(r for r in out["records"] if r["design_id"] == design_id)
        assert len(t) == rec["n_triangles"]
        merged = mesh.remove_duplicated_vertices()
        assert len(merged.vertices) == rec["n_vertices"] >= 5000
        lo, hi = v.min(axis=0), v.max(axis=0)
        assert lo[2] == pytest.approx(0.0, abs=1e-5)  # wheels on the ground
        assert 4.2 - 1e-4 <= hi[0] - lo[0] <= 4.9 + 1e-4
        assert 1.30 - 1e-4 <= hi[2] <= 1.55 + 1e-4


def test_determinism_per_seed(tmp_path, layout):
    root, _ = layout
    again = tmp_path / "again"
    simulate_drivaernet(again, n_designs=12, seed=5)
    for rel in (COEFFICIENTS_FILE, PARAMETRIC_FILE, f"{SPLIT_FOLDER}/{SPLIT_FILES['test']}"):
        assert (again / rel).read_bytes() == (root / rel).read_bytes()
    first = sorted((root / STL_FOLDER).glob("*.stl"))[0]
    assert (again / STL_FOLDER / first.name).read_bytes() == first.read_bytes()
    other = tmp_path / "other"
    simulate_drivaernet(other, n_designs=12, seed=6)
    a = pd.read_csv(root / COEFFICIENTS_FILE)["Average Cd"].to_numpy()
    b = pd.read_csv(other / COEFFICIENTS_FILE)["Average Cd"].to_numpy()
    assert not np.allclose(a, b)


def test_designs_do_not_depend_on_how_many_are_drawn():
    small = {name: d for name, d, _ in sample_designs(6, seed=2)}
    large = {name: d for name, d, _ in sample_designs(30, seed=2)}
    for name, design in small.items():
        if name.endswith(("_001", "_002")):
            assert large[name] == design


# ------------------------------------------------------------------------------------------------ geometry


@pytest.mark.parametrize("family", ["fastback", "notchback", "estateback"])
def test_mesh_dimensions_as_designed(family):
    d = _design(family, seed=11, underbody="detailed", wheels="open")
    mesh = build_car(d)
    body = mesh.part_vertices("body", "base")
    assert body[:, 0].min() == pytest.approx(0.0, abs=1e-9)
    assert body[:, 0].max() == pytest.approx(d.length, abs=1e-9)
    assert np.abs(body[:, 1]).max() == pytest.approx(d.width / 2, rel=1e-9)
    assert body[:, 2].max() == pytest.approx(d.height, rel=1e-9)
    between = body[(body[:, 0] > d.x_front_axle + 0.2) & (body[:, 0] < d.x_rear_axle - 0.2)]
    assert between[:, 2].min() == pytest.approx(d.ground_clearance, abs=1e-9)
    wheels = mesh.part_vertices("wheel")
    assert wheels[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert wheels[:, 2].max() == pytest.approx(d.wheel_diameter, abs=1e-9)
    assert np.abs(wheels[:, 1]).max() < d.width / 2
    assert wheels[:, 2].max() > d.ground_clearance  # partly inside the wheel arches
    under = mesh.part_vertices("underbody")
    assert len(under) > 0 and under[:, 2].min() >= 0.035 and under[:, 2].min() < d.ground_clearance
    mirrors = mesh.part_vertices("mirror")
    assert np.abs(mirrors[:, 1]).max() > d.width / 2 + 0.1  # standing out of the body's side
    # the roof's trailing edge and the tail are where the design puts them
    top = body[np.abs(body[:, 1]) < 1e-9]
    tail = top[np.isclose(top[:, 0], d.length)]
    assert tail[:, 2].max() == pytest.approx(d.z_tail, abs=1e-9)


def test_every_part_is_closed_and_outward():
    for seed, fam in enumerate(["fastback", "notchback", "estateback"]):
        d = _design(fam, seed=seed, underbody="detailed", wheels="open" if seed != 1 else "closed")
        mesh = build_car(d, resolution=0.5)
        body = mesh.triangles[mesh.part_mask("body", "base")]
        assert _closed(body)
        assert _signed_volume(mesh.vertices, body) > 3.0  # m^3: a car body's volume
        expected = {2: 4, 3: 2, 4: len(d.underbody_parts)}  # wheels, mirrors, underbody parts: one surface each
        for code, count in expected.items():
            surfaces = _components(mesh.triangles[mesh.part == code])
            assert len(surfaces) == count
            for tris in surfaces:
                assert _closed(tris) and _signed_volume(mesh.vertices, tris) > 0
        # no two vertices coincide (also in float32, as an STL stores them), no degenerate triangle
        assert len(np.unique(mesh.vertices.astype(np.float32), axis=0)) == len(mesh.vertices)
        assert triangle_areas(mesh.vertices, mesh.triangles).min() > 1e-7
    om = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(body))
    assert om.is_watertight() and not om.is_self_intersecting()
    for code in (2, 4):  # a wheel (the open rim's relief) and the parts do not fold onto themselves
        for tris in _components(mesh.triangles[mesh.part == code])[:3]:
            om = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(tris))
            om.remove_unreferenced_vertices()
            assert om.is_watertight() and not om.is_self_intersecting()


def test_default_resolution_vertex_counts_and_types():
    v, t = build_mesh(_design("notchback", seed=3))
    assert v.dtype == np.float64 and v.shape[1] == 3 and t.dtype == np.int64 and t.shape[1] == 3
    assert 6000 <= len(v) <= 9000 and t.min() == 0 and t.max() == len(v) - 1
    assert build_car(_design("notchback", seed=3)).part_vertices("body", "base").shape[0] >= 5000
    coarse, _ = build_mesh(_design("notchback", seed=3), resolution=0.5)
    assert len(coarse) < len(v) / 2.5


@pytest.mark.parametrize("family", ["fastback", "notchback", "estateback"])
def test_part_vertex_shares_follow_the_detail(family):
    """At the default resolution: 6000-9000 vertices, the wheels about a tenth, a detailed underbody 10-15 %; a
    smooth underbody adds none (the body's own floor); the rims do not change the counts."""
    base = _design(family, seed=21, underbody="smooth", wheels="closed")
    counts = {}
    for under in ("smooth", "detailed"):
        for wheels in ("open", "closed"):
            mesh = build_car(dataclasses.replace(base, underbody=under, wheels=wheels))
            n = len(mesh.vertices)
            c = _part_vertex_counts(mesh)
            counts[under, wheels] = c
            assert 6000 <= n <= 9000
            assert len(mesh.part_vertices("body", "base")) == 96 * 64 + 2 and c["mirror"] == 16  # + nose, tail centres
            assert 0.08 <= c["wheel"] / n <= 0.14
            if under == "detailed":
                assert 0.10 <= c["underbody"] / n <= 0.15
            else:
                assert c["underbody"] == 0
    assert counts["smooth", "open"] == counts["smooth", "closed"]
    assert counts["detailed", "open"] == counts["detailed", "closed"]


def test_open_and_closed_rims_differ_in_geometry():
    d = _design("fastback", seed=4, underbody="smooth", wheels="closed")
    r = d.wheel_radius
    faces = {}
    for wheels in ("closed", "open"):
        mesh = build_car(dataclasses.replace(d, wheels=wheels))
        v = mesh.part_vertices("wheel")
        front_right = v[(np.abs(v[:, 0] - d.x_front_axle) < r + 1e-9) & (v[:, 1] > 0)]
        y_out = front_right[:, 1].max()
        dx, dz = front_right[:, 0] - d.x_front_axle, front_right[:, 2] - r
        radius = np.hypot(dx, dz)
        # the rim face between the flange and the hub, on the outer side
        face = (radius > HUB_RADIUS * r + 1e-6) & (radius < RIM_RADIUS * r - 1e-6) & (front_right[:, 1] > y_out - 0.15)
        faces[wheels] = (y_out - front_right[face, 1], np.arctan2(dz[face], dx[face]))
        assert y_out - front_right[:, 1].min() == pytest.approx(TIRE_WIDTH)  # the tyre's width either way
    depth, _ = faces["closed"]
    assert len(depth) > 0 and np.allclose(depth, COVER_RECESS)  # a flat cover
    depth, angle = faces["open"]
    assert len(depth) == len(faces["closed"][0])
    assert set(np.round(depth, 6)) == {RIM_RECESS, WINDOW_DEPTH}  # spokes and openings
    # five spokes (the first pointing down) with the openings between them
    pitch = 2 * np.pi / N_SPOKES
    from_spoke = np.abs(np.mod(angle + 0.5 * np.pi + 0.5 * pitch, pitch) - 0.5 * pitch)
    assert from_spoke[np.isclose(depth, RIM_RECESS)].max() < 0.3 * pitch
    assert from_spoke[np.isclose(depth, WINDOW_DEPTH)].min() > 0.3 * pitch
    sector = np.floor(np.mod(angle + 0.5 * np.pi + 0.5 * pitch, 2 * np.pi) / pitch)
    assert sorted(set(sector[np.isclose(depth, WINDOW_DEPTH)].astype(int))) == [0, 1, 2, 3, 4]
    # the depth pattern (rings x angles), also at a coarse resolution
    for n_seg in (20, 30, 60):
        pattern = rim_depth(dataclasses.replace(d, wheels="open"), n_seg)
        assert pattern.shape[1] == n_seg and set(np.unique(pattern)) == {RIM_RECESS, WINDOW_DEPTH}
        assert np.allclose(rim_depth(d, n_seg), COVER_RECESS)


def test_detailed_underbody_is_visible_to_vertex_sampling():
    d = _design("notchback", seed=6, underbody="smooth", wheels="open")
    fractions, sampled = {}, {}
    for under in ("smooth", "detailed"):
        dd = dataclasses.replace(d, underbody=under)
        v = build_car(dd).vertices
        between = (v[:, 0] > dd.x_front_axle + 0.3) & (v[:, 0] < dd.x_rear_axle - 0.3)
        below = between & (v[:, 2] < dd.ground_clearance - 0.005)
        fractions[under] = below.mean()
        # the official sampling: 1000 distinct vertices drawn at random, averaged over 20 draws
        points = np.stack([sample_vertices(v, 1000, rng)[0] for rng in range(20)])
        x, z = points[..., 0], points[..., 2]
        hit = (x > dd.x_front_axle + 0.3) & (x < dd.x_rear_axle - 0.3) & (z < dd.ground_clearance - 0.005)
        sampled[under] = hit.sum(axis=1).mean()
    assert fractions["smooth"] == 0.0 and sampled["smooth"] == 0.0  # the floor is flat at the ground clearance
    assert fractions["detailed"] > 0.03
    assert sampled["detailed"] > 30  # about 38 of 1000 sampled points hang below the floor between the axles


def test_underbody_parts_and_their_frontal_area():
    d = _design("estateback", seed=3, underbody="detailed")
    parts = d.underbody_parts
    names = [p.name for p in parts]
    for name in ("front cross-member", "engine sump", "catalytic converter", "rear silencer", "fuel tank"):
        assert name in names
    assert names.count("front control arm") == 2 and names.count("rear trailing arm") == 2
    assert {p.shape for p in parts} == {"box", "cylinder_x", "cylinder_y"}
    c = d.ground_clearance
    for p in parts:
        bottom, top = p.center[2] - p.size[2] / 2, p.center[2] + p.size[2] / 2
        assert 0.04 - 1e-9 <= bottom < c - 0.01 and top > c  # hanging below the floor, reaching into the body
        assert d.x_front_axle - 0.1 < p.center[0] < d.x_diffuser_start
    assert d.underbody_part_area == pytest.approx(sum(p.frontal_area_below(c) for p in parts))
    assert 0.15 < d.underbody_part_area < 0.25
    assert dataclasses.replace(d, underbody="smooth").underbody_parts == ()
    # frontal areas below a floor at z = 0: a box's width x depth, a longitudinal cylinder's circular segment
    box = UnderbodyPart("b", "box", (0.0, 0.0, 0.0), (1.0, 0.5, 0.2))
    assert box.frontal_area_below(0.0) == pytest.approx(0.5 * 0.1) and box.frontal_area_below(-0.2) == 0.0
    pipe = UnderbodyPart("p", "cylinder_x", (0.0, 0.0, 0.0), (1.0, 0.2, 0.2))
    assert pipe.frontal_area_below(0.0) == pytest.approx(0.5 * np.pi * 0.01)
    assert pipe.frontal_area_below(0.5) == pytest.approx(np.pi * 0.01)
    tube = UnderbodyPart("t", "cylinder_y", (0.0, 0.0, 0.0), (0.2, 0.8, 0.2))
    assert tube.frontal_area_below(0.05) == pytest.approx(0.8 * 0.15)
    # the mesh: the parts' vertices are where the parts are
    mesh = build_car(d)
    under = mesh.part_vertices("underbody")
    assert under[:, 2].min() == pytest.approx(min(p.center[2] - p.size[2] / 2 for p in parts), abs=1e-9)


def test_areas_on_known_shapes_and_a_car():
    box = o3d.geometry.TriangleMesh.create_box(1.0, 2.0, 3.0)
    v, t = np.asarray(box.vertices), np.asarray(box.triangles)
    assert frontal_area(v, t) == pytest.approx(6.0, rel=0.01)
    assert triangle_areas(v, t).sum() == pytest.approx(2 * (2 + 3 + 6))
    d = _design("estateback", seed=2)
    mesh = build_car(d)
    front, wet = mesh_areas(mesh)
    # frontal area between the section's area and the bounding rectangle of width x height (+ mirrors)
    assert d.section_area(0.5 * (d.x_roof_front + d.x_roof_rear)) < front < d.width * d.height
    assert 1.8 < front < 2.8 and 18.0 < wet < 30.0
    body_total = triangle_areas(mesh.vertices, mesh.triangles[mesh.part_mask("body", "base")]).sum()
    base = triangle_areas(mesh.vertices, mesh.triangles[mesh.part_mask("base")]).sum()
    assert wet == pytest.approx(body_total - base)
    assert base == pytest.approx(d.section_area(d.length, n_theta=64), rel=1e-6)
    with pytest.raises(DataError, match="NaN"):
        frontal_area(np.full((3, 3), np.nan), np.array([[0, 1, 2]]))


def test_parametric_row_matches_design():
    d = _design("notchback", seed=8)
    row = d.to_row()
    assert row["A_Car_Length"] == d.length and row["D_Rear_Window_Inclination"] == d.rear_angle
    assert row["G_Trunklid_Length"] == d.deck_length and row["S_Body_Notchback"] == 1.0
    # the notchback's rear window ends on the deck: the effective slant is shallower than the window
    assert row["S_Effective_Slant_Angle"] < d.rear_angle
    assert all(isinstance(v, float) for v in row.values())


# ------------------------------------------------------------------------------------------------ errors


def test_errors_name_the_input(tmp_path):
    with pytest.raises(ConfigError, match="family"):
        CarDesign.sample(np.random.default_rng(0), "hatchback")
    with pytest.raises(ConfigError, match="ground_clearance"):
        dataclasses.replace(_design(), ground_clearance=0.01)
    with pytest.raises(ConfigError, match="wheels"):
        dataclasses.replace(_design(), wheels="spoked")
    with pytest.raises(ConfigError, match="rear_window_length"):
        dataclasses.replace(_design(), rear_window_length=3.0)
    with pytest.raises(ConfigError, match="split"):
        simulate_drivaernet(tmp_path / "a", n_designs=12, split=(0.8, 0.15, 0.15))
    with pytest.raises(ConfigError, match="too few"):
        simulate_drivaernet(tmp_path / "b", n_designs=4)
    with pytest.raises(ConfigError, match="families"):
        simulate_drivaernet(tmp_path / "c", n_designs=12, families=("fastback", "fastback"))
    with pytest.raises(ConfigError, match="resolution"):
        build_mesh(_design(), resolution=0.0)
    stale = tmp_path / "d" / STL_FOLDER
    stale.mkdir(parents=True)
    (stale / "F_S_WW_WM_999.stl").write_bytes(b"")
    with pytest.raises(DataError, match="F_S_WW_WM_999"):
        simulate_drivaernet(tmp_path / "d", n_designs=3, families=("fastback",), split=(1.0, 0.0, 0.0))
    assert not (tmp_path / "d" / COEFFICIENTS_FILE).exists()
