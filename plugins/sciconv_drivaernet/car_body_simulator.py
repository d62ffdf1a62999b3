"""A simulator of DrivAerNet-like car bodies and their drag, written in the DrivAerNet / DrivAerNet++ layout (Elrefaie
et al. 2024) so that the real dataset's reader reads it.

Geometry (metres; x along the car from the nose, y across, z up, ground at z = 0). A :class:`CarDesign` holds the
body family (fastback / notchback / estateback), the underbody (smooth / detailed), the wheels (open / closed rims)
and the geometric parameters drawn by :meth:`CarDesign.sample` from the ranges in :data:`SAMPLING_RANGES` and
:data:`FAMILY_RANGES`. :func:`build_car` turns it into a triangle mesh:

* the body: cross-sections along x (:meth:`CarDesign.sections`), each a superellipse (exponent 3.5 above the
  section's centre, 6 below: a rounded greenhouse over a flatter floor) between the side profile's top line and
  floor line, as wide as the plan-view half-width, narrowed above the belt line (tumblehome). The top line runs
  nose -> bonnet (rising to the cowl) -> windscreen (``windscreen_angle`` from the horizontal) -> cambered roof ->
  rear surface (``rear_angle``, ``rear_window_length``: a fastback's slant, a notchback's rear window, an estate's
  near-vertical tailgate) -> deck (``deck_length`` at ``deck_angle``: a notchback's boot lid, a fastback's short
  trunk-lid lip, none on an estate) -> the vertical base at x = L. The floor line is at ``ground_clearance`` between
  a front ramp (``ramp_angle``) and a rear diffuser (``diffuser_angle``, from just behind the rear axle). The nose is
  rounded over ``nose_radius`` (sections shrink towards a small flat front face), the rear is boat-tailed in plan
  view (``rear_taper_angle``: the plan-view angle at the tail, over ``rear_taper_length``). The body is a closed
  shell: the tube of sections, a fan at the nose face and a fan over the base (part ``base``).
* four wheels: closed surfaces of revolution about axles along y, resting on the ground (bottom at z = 0), partly
  inside the body (the wheel arches are not cut out: the body and the wheels are separate closed surfaces, so the
  whole mesh is "watertight-ish", each part closed). Each wheel is one surface: tyre (inner disc, tread, outer
  sidewall down to the rim at 0.72 of the radius), rim flange, rim face and hub, with the same number of vertices for
  both rims. Closed rims: a flat cover 10 mm behind the sidewall. Open rims: the flange, five spokes and the hub
  45 mm behind the sidewall, and between the spokes five openings 130 mm deep (a recessed star, :func:`rim_depth`).
* two side mirrors (boxes from inside the body's side out to 0.15 m beyond its full width, just behind the base
  of the windscreen at the belt line: every design has mirrors, ``WM``).
* a detailed underbody adds parts hanging 15-50 mm below the floor and reaching up into the body
  (:attr:`CarDesign.underbody_parts`): the front suspension cross-member and lower control arms, the engine sump,
  the gearbox, the exhaust (pipes, catalytic converter, a transverse rear silencer), the fuel tank, the rear axle
  beam and trailing arms, as boxes and capped cylinders whose faces are tessellated finely (edges of about 85 mm),
  as a CAD surface mesh is dense wherever there is detail; a smooth underbody is the body's own floor, no parts.

Vertex density follows the detail, so that the official vertex sampling (a few thousand mesh vertices drawn without
replacement) sees the configuration. At the default resolution (96 sections x 64 points = 6146 body and base
vertices, wheels 30 segments, parts' edges 85 mm) a design has about 7000 vertices with a smooth underbody and
about 8000 with a detailed one: the wheels carry 10-12 % of them, a detailed underbody's parts 12-13 % (with the
published 5000-point vertex sampling no padding is needed). No two vertices coincide. :func:`frontal_area` projects
the mesh on the y-z plane by ray casting (open3d, 5 mm cells); the wetted area is the body shell's surface without
the base (separated flow there: no skin friction) and without wheels, mirrors and underbody parts. Both feed the
drag proxy (:mod:`.drag_proxy`), whose every input is visible in the geometry.

Layout written by :func:`simulate_drivaernet` (``<root>`` is the dataset folder):

* ``DrivAerNet_STLs_Combined/<design id>.stl`` (binary STL via open3d), ids in the DrivAerNet++ style
  ``<F|N|E>_<S|D>_<WW|WWC>_WM_<NNN>`` (family, smooth / detailed underbody, open / closed wheels, with mirrors, a
  running number within the family);
* ``AeroCoefficients_DrivAerNet_FilteredCorrected.csv``: ``Design``, ``Average Cd``, ``Average Cl``,
  ``Average Cl_f``, ``Average Cl_r``;
* ``DrivAerNet_ParametricData.csv``: ``Experiment``, the design parameters (:data:`PARAMETER_COLUMNS`: the real
  DrivAerNet++ names where the meaning matches, ``S_*`` for the simulator's own), then ``Average Cd``, ``Std Cd``,
  ``Average Cl``, ``Average Cl_f``, ``Average Cl_r``;
* ``train_val_test_splits/{train,val,test}_design_ids.txt``: 70 / 15 / 15 % by default, split within each family.

``Average Cd`` is the proxy's noise-free drag (:func:`.drag_proxy.drag_coefficient`) plus Gaussian noise standing for
the CFD's averaging uncertainty, with the per-design standard deviation in ``Std Cd``
(:func:`.drag_proxy.cd_uncertainty`); the lift columns come from the simple proxy
:func:`.drag_proxy.lift_coefficients` with the same noise level. This is a physics-based proxy, not CFD.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import open3d as o3d
import pandas as pd

from sciconv.errors import ConfigError, DataError
from sciconv.kit import atomic_path, atomic_write_text, derive_seed, random_split, split_sizes

from .drag_proxy import cd_uncertainty, drag_breakdown, lift_coefficients

SIMULATOR_VERSION = "1.1"

FAMILIES = ("fastback", "notchback", "estateback")
FAMILY_LETTER = {"fastback": "F", "notchback": "N", "estateback": "E"}
UNDERBODIES = ("smooth", "detailed")
WHEEL_KINDS = ("open", "closed")

STL_FOLDER = "DrivAerNet_STLs_Combined"
COEFFICIENTS_FILE = "AeroCoefficients_DrivAerNet_FilteredCorrected.csv"
PARAMETRIC_FILE = "DrivAerNet_ParametricData.csv"
SPLIT_FOLDER = "train_val_test_splits"
SPLIT_FILES = {"train": "train_design_ids.txt", "val": "val_design_ids.txt", "test": "test_design_ids.txt"}
COEFFICIENT_COLUMNS = ("Average Cd", "Average Cl", "Average Cl_f", "Average Cl_r")

# Fixed component sizes (m).
TIRE_WIDTH = 0.215
MIRROR_LENGTH, MIRROR_HEIGHT = 0.12, 0.12  # x and z sizes of each mirror box
MIRROR_REACH = 0.15  # how far a mirror stands out beyond the body's full (plan-view) half-width
MIRROR_EMBED = 0.03  # how far a mirror box reaches into the body side
RIM_RADIUS = 0.72  # the rim's radius as a fraction of the wheel radius (the tyre's sidewall ends there)
HUB_RADIUS = 0.18  # the hub's radius as a fraction of the wheel radius
RIM_FACE_RADII = (0.58, 0.34)  # rings of the rim face between the rim and the hub (fractions of the wheel radius)
RIM_RECESS = 0.045  # open rim: depth of the rim flange, spokes and hub behind the tyre's outer sidewall
WINDOW_DEPTH = 0.13  # open rim: depth of the openings between the spokes behind the outer sidewall
N_SPOKES = 5
SPOKE_HALF_WIDTH = 0.28  # a rim-face point is on a spoke within this fraction of the pitch of the spoke's centre line
COVER_RECESS = 0.010  # closed rim: depth of the flat cover behind the outer sidewall
EXHAUST_PIPE_RADIUS = 0.028
UNDERBODY_EDGE = 0.085  # target edge length of the underbody parts' tessellation at resolution 1 (m)
TUMBLEHOME = 0.18  # fraction of the half-width the greenhouse loses from the belt line to the roof
NOSE_FACE = 0.30  # the flat nose face's size as a fraction of the first full section (vertically)
SUPERELLIPSE_TOP = 3.5
SUPERELLIPSE_BOTTOM = 6.0

# Parts of the mesh (per-triangle labels of a CarMesh).
PART_BODY, PART_BASE, PART_WHEEL, PART_MIRROR, PART_UNDERBODY = 0, 1, 2, 3, 4
PART_NAMES = {
    PART_BODY: "body",
    PART_BASE: "base",
    PART_WHEEL: "wheel",
    PART_MIRROR: "mirror",
    PART_UNDERBODY: "underbody",
}

# Sampling ranges, uniform unless stated (m, degrees). Wheelbase and front overhang are fractions of the length;
# the bonnet length is the front overhang plus the range given.
SAMPLING_RANGES: dict[str, tuple[float, float]] = {
    "length": (4.2, 4.9),
    "width": (1.70, 1.95),
    "height": (1.30, 1.55),
    "ground_clearance": (0.09, 0.17),
    "wheelbase_fraction": (0.575, 0.615),
    "front_overhang_fraction": (0.19, 0.215),
    "wheel_diameter": (0.62, 0.72),
    "nose_radius": (0.08, 0.30),
    "bonnet_height": (0.62, 0.74),
    "cowl_height": (0.90, 1.00),
    "bonnet_extra": (0.45, 0.75),
    "windscreen_angle": (22.0, 32.0),
    "roof_camber": (0.01, 0.05),
    "rear_taper_angle": (0.0, 12.0),
    "rear_taper_length": (0.5, 0.9),
    "diffuser_angle": (0.0, 12.0),
    "ramp_angle": (4.0, 12.0),
}
# Rear-end ranges per family. Fastback: slant angle 12-35 deg (both Ahmed regimes, below and above the 30 deg
# critical angle), slant length 0.9-1.3 m, a short trunk-lid lip. Notchback: a steeper rear window ending on a boot
# deck 0.90-1.05 m above the ground (the window's length follows), deck 0.30-0.65 m. Estateback: a near-vertical
# tailgate 0.40-0.60 m long behind a roof that runs to the tail, no deck.
FAMILY_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "fastback": {
        "rear_angle": (12.0, 35.0),
        "rear_window_length": (0.9, 1.3),
        "deck_length": (0.05, 0.15),
        "deck_angle": (-5.0, 5.0),
    },
    "notchback": {
        "rear_angle": (24.0, 40.0),
        "deck_height": (0.90, 1.05),
        "deck_length": (0.30, 0.65),
        "deck_angle": (-3.0, 6.0),
    },
    "estateback": {
        "rear_angle": (72.0, 88.0),
        "rear_window_length": (0.40, 0.60),
        "deck_length": (0.0, 0.0),
        "deck_angle": (0.0, 0.0),
    },
}

# Parametric-table columns: (column, CarDesign attribute or derived property). Real DrivAerNet++ names where the
# meaning matches; S_* are the simulator's own (0/1 indicators for the categorical choices).
PARAMETER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("A_Car_Length", "length"),
    ("A_Car_Width", "width"),
    ("A_Car_Roof_Height", "height"),
    ("B_Ramp_Angle", "ramp_angle"),
    ("B_Diffusor_Angle", "diffuser_angle"),
    ("B_Trunklid_Angle", "deck_angle"),
    ("D_Winscreen_Inclination", "windscreen_angle"),
    ("D_Rear_Window_Inclination", "rear_angle"),
    ("D_Rear_Window_Length", "rear_window_length"),
    ("G_Trunklid_Length", "deck_length"),
    ("H_Front_Bumper_Length", "front_overhang"),
    ("S_Ground_Clearance", "ground_clearance"),
    ("S_Wheelbase", "wheelbase"),
    ("S_Wheel_Diameter", "wheel_diameter"),
    ("S_Nose_Radius", "nose_radius"),
    ("S_Bonnet_Height", "bonnet_height"),
    ("S_Bonnet_Length", "bonnet_length"),
    ("S_Cowl_Height", "cowl_height"),
    ("S_Roof_Camber", "roof_camber"),
    ("S_Rear_Taper_Angle", "rear_taper_angle"),
    ("S_Rear_Taper_Length", "rear_taper_length"),
    ("S_Effective_Slant_Angle", "effective_slant_angle"),
    ("S_Underbody_Detailed", "is_detailed"),
    ("S_Wheels_Open", "is_open"),
    ("S_Body_Fastback", "is_fastback"),
    ("S_Body_Notchback", "is_notchback"),
    ("S_Body_Estateback", "is_estateback"),
)


@dataclass(frozen=True)
class UnderbodyPart:
    """One part of a detailed underbody: ``shape`` ``box`` (axis-aligned), ``cylinder_x`` (a capped cylinder along
    x) or ``cylinder_y`` (along y); ``center`` and ``size`` (its extent along x, y, z) in metres."""

    name: str
    shape: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def frontal_area_below(self, floor: float) -> float:
        """Area (m^2) of the part's projection on the y-z plane below the height ``floor`` (m)."""
        depth = floor - (self.center[2] - 0.5 * self.size[2])  # how far the part hangs below ``floor``
        if depth <= 0.0:
            return 0.0
        if self.shape != "cylinder_x":
            return self.size[1] * min(depth, self.size[2])
        r = 0.5 * self.size[1]
        h = min(depth, 2.0 * r)  # the circular segment below the floor
        return r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(0.0, 2.0 * r * h - h * h))


@dataclass(frozen=True)
class CarDesign:
    """One car design (metres, degrees). Derived key positions are properties (``x_*`` along the car, ``z_*``
    heights). Checked on construction: a :class:`ConfigError` names the first inconsistent parameter."""

    family: str
    underbody: str  # "smooth" | "detailed"
    wheels: str  # "open" | "closed" rims
    length: float
    width: float  # body width without mirrors
    height: float  # ground to the roof's top
    ground_clearance: float  # floor height between the front ramp and the diffuser
    wheelbase: float
    front_overhang: float  # nose to front axle
    wheel_diameter: float
    nose_radius: float  # length over which the nose is rounded
    bonnet_height: float  # top of the nose (bonnet leading edge) before rounding
    cowl_height: float  # base of the windscreen; also the belt line
    bonnet_length: float  # nose to the base of the windscreen
    windscreen_angle: float  # from the horizontal
    roof_camber: float  # roof's rise above its front and rear edges
    rear_angle: float  # from the horizontal: slant / rear window / tailgate
    rear_window_length: float  # along the rear surface
    deck_length: float  # boot deck / trunk-lid lip, along the deck
    deck_angle: float  # + rising towards the tail
    rear_taper_angle: float  # plan-view boat-tail angle at the tail
    rear_taper_length: float
    diffuser_angle: float
    ramp_angle: float  # front underbody ramp, from the front axle region up to the nose

    def __post_init__(self) -> None:
        _validate_design(self)

    # ------------------------------------------------------------------ sampling and table row
    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        family: str,
        *,
        underbody: str | None = None,
        wheels: str | None = None,
        max_tries: int = 200,
    ) -> CarDesign:
        """Draw a design of ``family`` from :data:`SAMPLING_RANGES` / :data:`FAMILY_RANGES` (uniform), rejecting
        draws whose geometry is inconsistent (roof shorter than 0.4 m, tail too low, ...). ``underbody`` and
        ``wheels`` are drawn 50/50 when not given."""
        if family not in FAMILY_RANGES:
            raise ConfigError(f"family must be one of {FAMILIES}, got {family!r}")
        if underbody is None:
            underbody = UNDERBODIES[int(rng.integers(2))]
        if wheels is None:
            wheels = WHEEL_KINDS[int(rng.integers(2))]
        last: ConfigError | None = None
        for _ in range(max_tries):
            u = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in SAMPLING_RANGES.items()}
            f = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in FAMILY_RANGES[family].items()}
            length = u["length"]
            front_overhang = length * u["front_overhang_fraction"]
            height = u["height"]
            camber = u["roof_camber"]
            if family == "notchback":
                drop = height - camber - f["deck_height"]
                rear_window_length = drop / math.sin(math.radians(f["rear_angle"]))
            else:
                rear_window_length = f["rear_window_length"]
            try:
                return cls(
                    family=family,
                    underbody=underbody,
                    wheels=wheels,
                    length=length,
                    width=u["width"],
                    height=height,
                    ground_clearance=u["ground_clearance"],
                    wheelbase=length * u["wheelbase_fraction"],
                    front_overhang=front_overhang,
                    wheel_diameter=u["wheel_diameter"],
                    nose_radius=u["nose_radius"],
                    bonnet_height=u["bonnet_height"],
                    cowl_height=u["cowl_height"],
                    bonnet_length=front_overhang + u["bonnet_extra"],
                    windscreen_angle=u["windscreen_angle"],
                    roof_camber=camber,
                    rear_angle=f["rear_angle"],
                    rear_window_length=rear_window_length,
                    deck_length=f["deck_length"],
                    deck_angle=f["deck_angle"],
                    rear_taper_angle=u["rear_taper_angle"],
                    rear_taper_length=u["rear_taper_length"],
                    diffuser_angle=u["diffuser_angle"],
                    ramp_angle=u["ramp_angle"],
                )
            except ConfigError as err:
                last = err
        raise ConfigError(f"no consistent {family} design in {max_tries} draws (last: {last})")

    def to_row(self) -> dict[str, float]:
        """The parametric-table columns (:data:`PARAMETER_COLUMNS`), all floats."""
        return {col: float(getattr(self, attr)) for col, attr in PARAMETER_COLUMNS}

    def to_record(self) -> dict[str, Any]:
        """Every field (JSON-friendly)."""
        return dataclasses.asdict(self)

    # ------------------------------------------------------------------ derived quantities
    @property
    def is_detailed(self) -> float:
        return float(self.underbody == "detailed")

    @property
    def is_open(self) -> float:
        return float(self.wheels == "open")

    @property
    def is_fastback(self) -> float:
        return float(self.family == "fastback")

    @property
    def is_notchback(self) -> float:
        return float(self.family == "notchback")

    @property
    def is_estateback(self) -> float:
        return float(self.family == "estateback")

    @property
    def wheel_radius(self) -> float:
        return 0.5 * self.wheel_diameter

    @property
    def x_front_axle(self) -> float:
        return self.front_overhang

    @property
    def x_rear_axle(self) -> float:
        return self.front_overhang + self.wheelbase

    @property
    def z_roof_edge(self) -> float:
        """Roof height at its front and rear edges (m)."""
        return self.height - self.roof_camber

    @property
    def x_roof_front(self) -> float:
        rise = self.z_roof_edge - self.cowl_height
        return self.bonnet_length + rise / math.tan(math.radians(self.windscreen_angle))

    @property
    def x_roof_rear(self) -> float:
        """The roof's trailing edge (start of the slant / rear window / tailgate)."""
        return (
            self.length
            - self.deck_length * math.cos(math.radians(self.deck_angle))
            - self.rear_window_length * math.cos(math.radians(self.rear_angle))
        )

    @property
    def x_rear_surface_end(self) -> float:
        return self.x_roof_rear + self.rear_window_length * math.cos(math.radians(self.rear_angle))

    @property
    def z_rear_surface_end(self) -> float:
        return self.z_roof_edge - self.rear_window_length * math.sin(math.radians(self.rear_angle))

    @property
    def z_tail(self) -> float:
        """Top of the base (end of the deck), m."""
        return self.z_rear_surface_end + self.deck_length * math.sin(math.radians(self.deck_angle))

    @property
    def x_ramp_end(self) -> float:
        return self.front_overhang - 0.15

    @property
    def x_diffuser_start(self) -> float:
        return self.x_rear_axle + 0.8 * self.wheel_radius

    @property
    def effective_slant_angle(self) -> float:
        """Angle (deg) of the line from the roof's trailing edge to the tail's top (end of the deck): the
        notchback literature's effective backlight angle; for an estate near its tailgate angle."""
        return math.degrees(math.atan2(self.z_roof_edge - self.z_tail, self.length - self.x_roof_rear))

    @property
    def roof_length(self) -> float:
        return self.x_roof_rear - self.x_roof_front

    @property
    def mirror_x(self) -> float:
        """Mirror centre, just behind the base of the windscreen (m)."""
        return self.bonnet_length + 0.25

    @property
    def mirror_z(self) -> float:
        """Mirror centre, at the belt line (m)."""
        return self.cowl_height + 0.02

    @property
    def mirror_frontal_area(self) -> float:
        """Frontal area of both mirrors outside the body's full width (m^2)."""
        return 2.0 * MIRROR_REACH * MIRROR_HEIGHT

    @cached_property
    def underbody_parts(self) -> tuple[UnderbodyPart, ...]:
        """The parts of a detailed underbody (:class:`UnderbodyPart`, metres); empty for a smooth one.

        Every part hangs below the floor (at most 50 mm, leaving at least 40 mm above the ground) and reaches up into
        the body: the front suspension cross-member and its two lower control arms, the engine sump, the gearbox,
        the exhaust (front pipe, catalytic converter, a pipe running back through the rear axle beam to a transverse
        rear silencer), the fuel tank, the rear axle beam and its two trailing arms. Parts that meet overlap by 10-20
        mm (no two parts share a vertex)."""
        if self.underbody != "detailed":
            return ()
        c, w = self.ground_clearance, self.width
        p = min(0.05, c - 0.04)  # how far parts hang below the floor; at least 40 mm stays free above the ground
        embed = 0.03  # boxes reach this far into the body above the floor (arms 0.02, gearbox 0.04)
        fa, ra = self.x_front_axle, self.x_rear_axle
        parts: list[UnderbodyPart] = []

        def box(name: str, x0: float, x1: float, y0: float, y1: float, depth: float, up: float = embed) -> None:
            z0, z1 = c - depth, c + up
            parts.append(
                UnderbodyPart(name, "box", ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2), (x1 - x0, y1 - y0, z1 - z0))
            )

        def tube(name: str, x0: float, x1: float, y: float, radius: float, depth: float) -> None:
            # along x, its bottom ``depth`` below the floor
            parts.append(
                UnderbodyPart(
                    name, "cylinder_x", ((x0 + x1) / 2, y, c - depth + radius), (x1 - x0, 2 * radius, 2 * radius)
                )
            )

        half_track = w / 2 - 0.30
        box("front cross-member", fa - 0.05, fa + 0.10, -half_track, half_track, 0.7 * p)
        for s in (1.0, -1.0):
            y0, y1 = sorted((s * (w / 2 - 0.55), s * (w / 2 - 0.26)))
            box("front control arm", fa + 0.08, fa + 0.22, y0, y1, 0.3 * p, 0.02)
        box("engine sump", fa + 0.25, fa + 0.75, -0.30, 0.30, p)
        box("gearbox", fa + 0.74, fa + 1.10, -0.14, 0.14, 0.3 * p, 0.04)
        y_ex = 0.20 * w + 0.04  # the exhaust line
        tube("exhaust front pipe", fa + 0.78, fa + 0.96, y_ex, EXHAUST_PIPE_RADIUS, p)
        tube("catalytic converter", fa + 0.95, fa + 1.25, y_ex, 0.06, p)
        tube("exhaust pipe", fa + 1.24, ra + 0.115, y_ex, EXHAUST_PIPE_RADIUS, p)
        r_sil = 0.06
        z_sil = c - 0.3 * p + r_sil  # tucked up: hangs 0.3 p
        parts.append(
            UnderbodyPart("rear silencer", "cylinder_y", (ra + 0.165, y_ex - 0.19, z_sil), (2 * r_sil, 0.52, 2 * r_sil))
        )
        box("fuel tank", ra - 0.75, ra - 0.25, -0.35, 0.35, 0.8 * p)
        box("rear axle beam", ra - 0.08, ra + 0.08, -half_track, half_track, p)
        for s in (1.0, -1.0):
            y0, y1 = sorted((s * (w / 2 - 0.40), s * (w / 2 - 0.32)))
            box("rear trailing arm", ra - 0.50, ra - 0.06, y0, y1, 0.3 * p, 0.02)
        return tuple(parts)

    @property
    def underbody_part_area(self) -> float:
        """Sum of the parts' frontal areas below the floor (m^2; mutual shielding ignored): a box's or a transverse
        cylinder's width times the depth it hangs, a longitudinal cylinder's circular segment below the floor."""
        return float(sum(part.frontal_area_below(self.ground_clearance) for part in self.underbody_parts))

    # ------------------------------------------------------------------ side profile and sections
    def z_top(self, x: np.ndarray) -> np.ndarray:
        """Top line of the side profile (before nose rounding), m, at stations ``x`` (m)."""
        x = np.asarray(x, dtype=np.float64)
        xc, xrf, xrr = self.bonnet_length, self.x_roof_front, self.x_roof_rear
        xse, L = self.x_rear_surface_end, self.length
        bonnet = self.bonnet_height + (self.cowl_height - self.bonnet_height) * np.sin(
            0.5 * np.pi * np.clip(x / xc, 0.0, 1.0)
        )
        screen = np.interp(x, [xc, xrf], [self.cowl_height, self.z_roof_edge])
        s = (2.0 * x - xrf - xrr) / (xrr - xrf)
        roof = self.height - self.roof_camber * s**2
        rear = np.interp(x, [xrr, xse], [self.z_roof_edge, self.z_rear_surface_end])
        deck = np.interp(x, [xse, L], [self.z_rear_surface_end, self.z_tail]) if xse < L else rear
        return np.select([x <= xc, x <= xrf, x <= xrr, x <= xse], [bonnet, screen, roof, rear], deck)

    def z_floor(self, x: np.ndarray) -> np.ndarray:
        """Floor line (underside) of the body, m, at stations ``x`` (m): ramp, flat floor, diffuser."""
        x = np.asarray(x, dtype=np.float64)
        ramp = np.maximum(0.0, self.x_ramp_end - x) * math.tan(math.radians(self.ramp_angle))
        diff = np.maximum(0.0, x - self.x_diffuser_start) * math.tan(math.radians(self.diffuser_angle))
        return self.ground_clearance + ramp + diff

    def half_width(self, x: np.ndarray) -> np.ndarray:
        """Plan-view half-width at the section's centre height (before nose rounding), m."""
        x = np.asarray(x, dtype=np.float64)
        front = 1.0 - 0.04 * np.clip(1.0 - x / self.bonnet_length, 0.0, 1.0) ** 2
        start = self.length - self.rear_taper_length
        taper = np.maximum(0.0, x - start) ** 2 / (2.0 * self.rear_taper_length)
        return 0.5 * self.width * front - taper * math.tan(math.radians(self.rear_taper_angle))

    def _nose_factor(self, x: np.ndarray) -> np.ndarray:
        u = np.clip(np.asarray(x, dtype=np.float64) / self.nose_radius, 0.0, 1.0)
        return NOSE_FACE + (1.0 - NOSE_FACE) * np.sqrt(np.clip(1.0 - (1.0 - u) ** 2, 0.0, 1.0))

    def sections(self, x: np.ndarray, n_theta: int) -> tuple[np.ndarray, np.ndarray]:
        """Cross-sections at stations ``x`` (S,): ``(y, z)`` each (S, n_theta), m, points ordered counter-clockwise
        seen from behind (+y at the section's centre height first, then up over the roof)."""
        x = np.asarray(x, dtype=np.float64)
        zt, zb, hw = self.z_top(x), self.z_floor(x), self.half_width(x)
        f = self._nose_factor(x)
        z_nose = 0.5 * (self.z_top(np.zeros(1))[0] + self.z_floor(np.zeros(1))[0])
        zt = z_nose + (zt - z_nose) * f
        zb = z_nose - (z_nose - zb) * f
        hw = hw * (1.0 - 0.6 * (1.0 - f))
        zc, hz = 0.5 * (zt + zb), 0.5 * (zt - zb)
        theta = 2.0 * np.pi * np.arange(n_theta) / n_theta
        c, s = np.cos(theta), np.sin(theta)
        n = np.where(s >= 0.0, SUPERELLIPSE_TOP, SUPERELLIPSE_BOTTOM)
        cy = np.sign(c) * np.abs(c) ** (2.0 / n)
        sz = np.sign(s) * np.abs(s) ** (2.0 / n)
        y = hw[:, None] * cy[None, :]
        z = zc[:, None] + hz[:, None] * sz[None, :]
        t = np.clip((z - self.cowl_height) / (self.height - self.cowl_height), 0.0, 1.0)
        y = y * (1.0 - TUMBLEHOME * t**1.5)
        return y, z

    def half_width_at(self, x: float, z: float, n_theta: int = 256) -> float:
        """The body's half-width (m) at station ``x`` and height ``z`` (from the section polygon)."""
        y, zz = self.sections(np.array([x]), n_theta)
        y, zz = y[0], zz[0]
        right = np.r_[np.arange(3 * n_theta // 4, n_theta), np.arange(0, n_theta // 4 + 1)]  # bottom -> top
        return float(np.interp(z, zz[right], y[right]))

    def section_area(self, x: float, n_theta: int = 256) -> float:
        """Area (m^2) of the body's cross-section at station ``x`` (shoelace formula on the section polygon)."""
        y, z = self.sections(np.array([x]), n_theta)
        y, z = y[0], z[0]
        return float(0.5 * abs(np.dot(y, np.roll(z, -1)) - np.dot(z, np.roll(y, -1))))

    def rear_base_area(self) -> float:
        """Area (m^2) of the square-back base: the body's cross-section at the roof's trailing edge, where the flow
        separates on an estate (a near-vertical tailgate and the base below it form one separated rear face)."""
        return self.section_area(self.x_roof_rear)

    def breakpoints(self) -> np.ndarray:
        """Stations (m) where the profile changes (kept as sections so the kinks stay sharp)."""
        pts = [
            0.0,
            self.nose_radius,
            self.x_ramp_end,
            self.x_front_axle,
            self.bonnet_length,
            self.x_roof_front,
            0.5 * (self.x_roof_front + self.x_roof_rear),
            self.x_roof_rear,
            self.x_rear_surface_end,
            self.x_diffuser_start,
            self.length - self.rear_taper_length,
            self.length,
        ]
        kept = [0.0]
        for p in np.sort(np.clip(np.asarray(pts[1:-1]), 0.0, self.length)):
            if p - kept[-1] > 1e-3 and self.length - p > 1e-3:
                kept.append(float(p))
        return np.asarray([*kept, self.length])


def _validate_design(d: CarDesign) -> None:
    if d.family not in FAMILIES:
        raise ConfigError(f"CarDesign.family must be one of {FAMILIES}, got {d.family!r}")
    if d.underbody not in UNDERBODIES:
        raise ConfigError(f"CarDesign.underbody must be one of {UNDERBODIES}, got {d.underbody!r}")
    if d.wheels not in WHEEL_KINDS:
        raise ConfigError(f"CarDesign.wheels must be one of {WHEEL_KINDS}, got {d.wheels!r}")
    for f in dataclasses.fields(d):
        if f.name in ("family", "underbody", "wheels"):
            continue
        v = getattr(d, f.name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"CarDesign.{f.name} must be a finite number, got {v!r}")
        if f.name in ("deck_angle",):
            continue
        if v < 0 or (v == 0 and f.name not in ("deck_length", "rear_taper_angle", "diffuser_angle", "ramp_angle")):
            raise ConfigError(f"CarDesign.{f.name} must be positive, got {v!r}")
    checks = [
        (2.0 <= d.length <= 7.0, "length", "between 2 and 7 m"),
        (d.width < d.length / 1.5, "width", "well below the length"),
        (0.03 <= d.ground_clearance <= 0.4, "ground_clearance", "between 0.03 and 0.4 m"),
        (d.wheel_diameter < d.cowl_height, "wheel_diameter", "below the cowl height"),
        (d.front_overhang > d.wheel_radius + 0.2, "front_overhang", "at least the wheel radius + 0.2 m"),
        (
            d.length - d.x_rear_axle > d.wheel_radius + 0.2,
            "wheelbase",
            "leaving a rear overhang of at least the wheel radius + 0.2 m",
        ),
        (d.nose_radius < d.x_ramp_end, "nose_radius", "shorter than the front overhang - 0.15 m"),
        (d.bonnet_length > d.front_overhang + 0.2, "bonnet_length", "ending behind the front axle"),
        (d.ground_clearance + 0.25 < d.bonnet_height < d.cowl_height, "bonnet_height", "between the floor and cowl"),
        (d.cowl_height < d.z_roof_edge - 0.2, "cowl_height", "at least 0.2 m below the roof edge"),
        (5.0 <= d.windscreen_angle <= 80.0, "windscreen_angle", "between 5 and 80 deg"),
        (d.roof_camber < 0.15, "roof_camber", "below 0.15 m"),
        (0.0 < d.rear_angle <= 90.0, "rear_angle", "in (0, 90] deg"),
        (abs(d.deck_angle) <= 20.0, "deck_angle", "within +-20 deg"),
        (d.rear_taper_angle <= 25.0, "rear_taper_angle", "at most 25 deg"),
        (d.rear_taper_length < 0.4 * d.length, "rear_taper_length", "below 40 % of the length"),
        (d.diffuser_angle <= 20.0 and d.ramp_angle <= 25.0, "diffuser_angle", "at most 20 deg (ramp 25 deg)"),
        (d.roof_length >= 0.4, "rear_window_length", "leaving a roof of at least 0.4 m behind the windscreen"),
        (
            d.z_tail >= float(d.z_floor(np.array([d.length]))[0]) + 0.3,
            "rear_window_length",
            "leaving a base at least 0.3 m tall (tail top above the floor)",
        ),
        (
            float(d.half_width(np.array([d.length]))[0]) > 0.3 * d.width,
            "rear_taper_angle",
            "leaving a tail wider than 60 % of the width",
        ),
    ]
    for ok, name, what in checks:
        if not ok:
            raise ConfigError(f"CarDesign.{name}={getattr(d, name)!r} is inconsistent: expected {what}")


# ---------------------------------------------------------------------------------------------------------------
# Mesh building


@dataclass(frozen=True)
class CarMesh:
    """A car's triangle mesh: ``vertices`` float64 (V, 3) in metres, ``triangles`` int64 (T, 3) with outward
    normals (counter-clockwise seen from outside), ``part`` int8 (T,) labels (:data:`PART_NAMES`)."""

    vertices: np.ndarray
    triangles: np.ndarray
    part: np.ndarray

    def part_mask(self, *names: str) -> np.ndarray:
        """Boolean (T,) mask of the triangles of the named parts."""
        codes = [k for k, v in PART_NAMES.items() if v in names]
        return np.isin(self.part, codes)

    def part_vertices(self, *names: str) -> np.ndarray:
        """(V', 3) vertices used by the named parts."""
        return self.vertices[np.unique(self.triangles[self.part_mask(*names)])]


def _signed_volume(v: np.ndarray, t: np.ndarray) -> float:
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _outward(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``t`` oriented so that the closed surface's signed volume is positive."""
    return t if _signed_volume(v, t) >= 0.0 else t[:, ::-1].copy()


def _box(center: Sequence[float], size: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """A closed axis-aligned box (8 vertices, 12 triangles, outward)."""
    corners = np.array([[i, j, k] for i in (-0.5, 0.5) for j in (-0.5, 0.5) for k in (-0.5, 0.5)]) * np.asarray(size)
    v = corners + np.asarray(center, dtype=np.float64)
    # index = 4 i + 2 j + k
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    t = np.array([tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))], dtype=np.int64)
    return v, _outward(v, t)


def _grid_box(
    center: Sequence[float], size: Sequence[float], divisions: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """A closed axis-aligned box whose faces are regular grids of ``divisions`` = (nx, ny, nz) cells along x, y, z
    (shared edge and corner vertices: ``(nx+1)(ny+1)(nz+1) - (nx-1)(ny-1)(nz-1)`` vertices), outward."""
    n = [int(k) for k in divisions]
    if len(n) != 3 or min(n) < 1:
        raise ValueError(f"a grid box needs three divisions >= 1, got {divisions!r}")
    gi, gj, gk = np.meshgrid(*(np.arange(k + 1) for k in n), indexing="ij")
    surface = (gi == 0) | (gi == n[0]) | (gj == 0) | (gj == n[1]) | (gk == 0) | (gk == n[2])
    index = np.full(surface.shape, -1, dtype=np.int64)
    index[surface] = np.arange(int(surface.sum()))
    unit = np.stack([gi[surface] / n[0], gj[surface] / n[1], gk[surface] / n[2]], axis=1) - 0.5
    v = unit * np.asarray(size, dtype=np.float64) + np.asarray(center, dtype=np.float64)
    tris = []
    for axis in range(3):
        for end in (0, n[axis]):
            # the face's grid with its axes in the cyclic order (axis + 1, axis + 2): (u, v) -> (u + 1, v) -> ...
            # is then counter-clockwise seen from +axis
            face = np.take(index, end, axis=axis)
            if axis == 1:
                face = face.T
            q0, q1, q2, q3 = face[:-1, :-1], face[1:, :-1], face[1:, 1:], face[:-1, 1:]
            quad = np.stack([np.stack([q0, q1, q2], -1), np.stack([q0, q2, q3], -1)]).reshape(-1, 3)
            tris.append(quad if end else quad[:, ::-1])
    t = np.concatenate(tris)
    return v, _outward(v, t)


def _revolve(
    profile: Sequence[tuple[float, float | np.ndarray]],
    n_seg: int,
    axle: tuple[float, float],
    phase: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Closed surface of revolution about an axis along y through (x, z) = ``axle``. ``profile`` is a list of
    (radius, y) points whose first and last radius are 0 (on the axis); a ring's y may be an (n_seg,) array (its
    points at different depths: a relief on a face). Ring points at angles ``phase + 2 pi j / n_seg`` from +x
    towards +z."""
    radii = [float(r) for r, _ in profile]
    if radii[0] != 0.0 or radii[-1] != 0.0:
        raise ValueError("a revolved profile must start and end on the axis")
    phi = phase + 2.0 * np.pi * np.arange(n_seg) / n_seg
    verts = []
    index = []  # per profile point: an int (axis vertex) or an array of ring indices
    for r, y in zip(radii, (y for _, y in profile), strict=True):
        if r == 0.0:
            index.append(len(verts))
            verts.append((axle[0], float(y), axle[1]))
        else:
            start = len(verts)
            yy = np.broadcast_to(np.asarray(y, dtype=np.float64), (n_seg,))
            verts.extend(zip(axle[0] + r * np.cos(phi), yy, axle[1] + r * np.sin(phi), strict=True))
            index.append(np.arange(start, start + n_seg))
    tris = []
    nxt = np.roll(np.arange(n_seg), -1)
    for a, b in itertools.pairwise(index):
        if isinstance(a, int) and isinstance(b, int):
            continue
        if isinstance(a, int):
            tris.append(np.stack([np.full(n_seg, a), b[nxt], b], axis=1))
        elif isinstance(b, int):
            tris.append(np.stack([a, a[nxt], np.full(n_seg, b)], axis=1))
        else:
            tris.append(np.stack([a, a[nxt], b[nxt]], axis=1))
            tris.append(np.stack([a, b[nxt], b], axis=1))
    v = np.asarray(verts, dtype=np.float64)
    t = np.concatenate(tris).astype(np.int64)
    return v, _outward(v, t)


def _cylinder(part: UnderbodyPart, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """A capped cylinder (``cylinder_x`` or ``cylinder_y`` part) tessellated with edges of about ``edge`` metres
    along its axis, at least 8 points around (a point at its bottom), a ring halfway across each cap."""
    along = 0 if part.shape == "cylinder_x" else 1
    length, radius = part.size[along], 0.5 * part.size[2]
    n_seg = max(8, 2 * math.ceil(math.pi * radius / edge))
    n_len = max(1, math.ceil(length / edge))
    ys = np.linspace(-0.5 * length, 0.5 * length, n_len + 1)
    profile = [(0.0, ys[0]), (0.5 * radius, ys[0]), *((radius, y) for y in ys), (0.5 * radius, ys[-1]), (0.0, ys[-1])]
    v, t = _revolve(profile, n_seg, (0.0, 0.0), phase=-0.5 * np.pi)  # about y through the origin
    if along == 0:
        v = v[:, [1, 0, 2]]  # the axis along x (a mirror: _outward re-orients)
    v = v + np.asarray(part.center, dtype=np.float64)
    return v, _outward(v, t)


def _underbody_part(part: UnderbodyPart, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """A part's closed surface, its faces tessellated with edges of about ``edge`` metres."""
    if part.shape == "box":
        return _grid_box(part.center, part.size, [max(1, math.ceil(s / edge)) for s in part.size])
    return _cylinder(part, edge)


def _stations(design: CarDesign, n_x: int) -> np.ndarray:
    """``n_x`` stations along x: every breakpoint, the rest spread over the segments in proportion to their length
    (weighted 3x on the nose, 2x behind the roof), clustered towards x = 0 on the nose."""
    bp = design.breakpoints()
    seg = np.diff(bp)
    mid = 0.5 * (bp[:-1] + bp[1:])
    weight = seg * np.where(mid < design.nose_radius, 3.0, np.where(mid > design.x_roof_rear, 2.0, 1.0))
    n_int = n_x - 1
    if n_int < len(seg):
        raise ConfigError(f"resolution too low: {n_x} stations for {len(seg) + 1} breakpoints")
    share = weight / weight.sum() * (n_int - len(seg))
    counts = 1 + np.floor(share).astype(int)
    rest = n_int - counts.sum()
    counts[np.argsort(-(share - np.floor(share)))[:rest]] += 1
    xs = [bp[:1]]
    for i, (a, b, k) in enumerate(zip(bp[:-1], bp[1:], counts, strict=True)):
        u = np.arange(1, k + 1) / k
        if i == 0 and b <= design.nose_radius + 1e-9:
            u = 1.0 - np.cos(0.5 * np.pi * u)  # dense near the nose face
        xs.append(a + (b - a) * u)
    return np.concatenate(xs)


def _body(design: CarDesign, n_x: int, n_theta: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = _stations(design, n_x)
    y, z = design.sections(xs, n_theta)
    ring = np.stack([np.repeat(xs[:, None], n_theta, axis=1), y, z], axis=-1).reshape(-1, 3)
    nose = np.array([[0.0, 0.0, 0.5 * (z[0].max() + z[0].min())]])
    tail = np.array([[design.length, 0.0, 0.5 * (z[-1].max() + z[-1].min())]])
    v = np.concatenate([ring, nose, tail])
    i_nose, i_tail = len(ring), len(ring) + 1
    j = np.arange(n_theta)
    jn = np.roll(j, -1)
    rows = np.arange(n_x - 1)[:, None] * n_theta
    a, b = rows + j, rows + jn
    c, d = b + n_theta, a + n_theta
    tube = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    front = np.stack([np.full(n_theta, i_nose), jn, j], axis=1)
    last = (n_x - 1) * n_theta
    back = np.stack([np.full(n_theta, i_tail), last + j, last + jn], axis=1)
    t = np.concatenate([tube, front, back]).astype(np.int64)
    part = np.r_[np.full(len(tube) + len(front), PART_BODY), np.full(len(back), PART_BASE)].astype(np.int8)
    if _signed_volume(v, t) <= 0.0:  # pragma: no cover - a construction error, not a data condition
        raise RuntimeError("body shell is inside out")
    return v, t, part


def rim_depth(design: CarDesign, n_seg: int) -> np.ndarray:
    """Depth (m) behind the tyre's outer sidewall of the rim face's rings (:data:`RIM_FACE_RADII`) at the angles
    ``-pi/2 + 2 pi j / n_seg``: ``(len(RIM_FACE_RADII), n_seg)``. A closed rim is a flat cover (every point at
    :data:`COVER_RECESS`); an open rim is a star of :data:`N_SPOKES` spokes at :data:`RIM_RECESS` (the first pointing
    down) with openings :data:`WINDOW_DEPTH` deep between them."""
    if design.wheels == "closed":
        return np.full((len(RIM_FACE_RADII), n_seg), COVER_RECESS)
    pitch = 2.0 * np.pi / N_SPOKES
    offset = np.mod(2.0 * np.pi * np.arange(n_seg) / n_seg + 0.5 * pitch, pitch) - 0.5 * pitch  # from the nearest spoke
    spoke = np.abs(offset) <= SPOKE_HALF_WIDTH * pitch + 1e-9
    return np.tile(np.where(spoke, RIM_RECESS, WINDOW_DEPTH), (len(RIM_FACE_RADII), 1))


def _wheel(design: CarDesign, x_axle: float, side: float, n_seg: int) -> tuple[np.ndarray, np.ndarray]:
    """One wheel as a closed surface of revolution: the tyre (inner disc, tread, outer sidewall down to the rim),
    the rim's flange (:data:`RIM_RECESS` deep on an open rim, :data:`COVER_RECESS` on a closed one), the rim face
    (:func:`rim_depth`: spokes and openings, or a flat cover) and the hub. ``n_seg`` points per ring, one at the
    bottom (on the ground) and one at the top."""
    r = design.wheel_radius
    y_out = design.half_width_at(x_axle, r) - 0.015
    y_in = y_out - TIRE_WIDTH
    flange = RIM_RECESS if design.wheels == "open" else COVER_RECESS
    depth = rim_depth(design, n_seg)
    profile: list[tuple[float, float | np.ndarray]] = [
        (0.0, y_in),
        (r, y_in),
        (r, y_out),
        (RIM_RADIUS * r, y_out),
        (RIM_RADIUS * r, y_out - flange),
        *((f * r, y_out - d) for f, d in zip(RIM_FACE_RADII, depth, strict=True)),
        (HUB_RADIUS * r, y_out - flange),
        (0.0, y_out - flange),
    ]
    v, t = _revolve(profile, n_seg, (x_axle, r), phase=-0.5 * np.pi)
    if side < 0:
        v = v * np.array([1.0, -1.0, 1.0])
        t = t[:, ::-1].copy()
    return v, t


def build_car(design: CarDesign, resolution: float = 1.0) -> CarMesh:
    """The car's mesh with per-triangle part labels (see the module docstring). ``resolution`` scales the number
    of body sections (96 at 1.0) and points per section (64 at 1.0, rounded to a multiple of 4), the wheels'
    segments (30 at 1.0, a multiple of 10) and the underbody parts' tessellation (edges of about
    :data:`UNDERBODY_EDGE` / ``resolution``). No two vertices coincide."""
    if isinstance(resolution, bool) or not isinstance(resolution, int | float) or not 0.2 <= resolution <= 8.0:
        raise ConfigError(f"resolution must be a number in [0.2, 8], got {resolution!r}")
    n_x = max(16, round(96 * resolution))
    n_theta = max(16, 4 * round(16 * resolution))
    n_seg = 10 * max(2, round(3 * resolution))
    edge = UNDERBODY_EDGE / resolution
    pieces: list[tuple[np.ndarray, np.ndarray, int]] = []
    bv, bt, bpart = _body(design, n_x, n_theta)
    for x_axle in (design.x_front_axle, design.x_rear_axle):
        for side in (1.0, -1.0):
            pieces.append((*_wheel(design, x_axle, side, n_seg), PART_WHEEL))
    y_in = design.half_width_at(design.mirror_x, design.mirror_z) - MIRROR_EMBED
    y_out = float(design.half_width(np.array([design.mirror_x]))[0]) + MIRROR_REACH
    for side in (1.0, -1.0):
        center = (design.mirror_x, side * 0.5 * (y_in + y_out), design.mirror_z)
        v, t = _box(center, (MIRROR_LENGTH, y_out - y_in, MIRROR_HEIGHT))
        pieces.append((v, t, PART_MIRROR))
    for part in design.underbody_parts:
        pieces.append((*_underbody_part(part, edge), PART_UNDERBODY))
    verts, tris, parts = [bv], [bt], [bpart]
    offset = len(bv)
    for v, t, p in pieces:
        verts.append(v)
        tris.append(t + offset)
        parts.append(np.full(len(t), p, dtype=np.int8))
        offset += len(v)
    return CarMesh(np.concatenate(verts), np.concatenate(tris).astype(np.int64), np.concatenate(parts))


def build_mesh(design: CarDesign, resolution: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(vertices float64 (V, 3) m, triangles int64 (T, 3))`` of the whole car (:func:`build_car` without the
    part labels)."""
    mesh = build_car(design, resolution)
    return mesh.vertices, mesh.triangles


def triangle_areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(T,) areas (m^2) of the triangles."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    return 0.5 * np.linalg.norm(np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]), axis=1)


def frontal_area(vertices: np.ndarray, triangles: np.ndarray, cell: float = 0.005) -> float:
    """Projected area (m^2) of the mesh on the y-z plane: rays along +x through the centres of ``cell``-sized
    squares (m) over the mesh's y-z bounding box, counted when they hit any triangle (open3d ray casting)."""
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0 or t.ndim != 2 or t.shape[1] != 3 or len(t) == 0:
        raise DataError(f"frontal_area needs vertices (V, 3) and triangles (T, 3), got {v.shape} and {t.shape}")
    if not np.isfinite(v).all():
        raise DataError("frontal_area: vertices contain NaN or inf")
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(t.astype(np.uint32)))
    lo, hi = v.min(axis=0), v.max(axis=0)
    ys = np.arange(lo[1] + cell / 2, hi[1], cell)
    zs = np.arange(lo[2] + cell / 2, hi[2], cell)
    yy, zz = np.meshgrid(ys, zs, indexing="ij")
    rays = np.zeros((yy.size, 6), dtype=np.float32)
    rays[:, 0] = lo[0] - 1.0
    rays[:, 1] = yy.ravel()
    rays[:, 2] = zz.ravel()
    rays[:, 3] = 1.0
    hits = scene.test_occlusions(o3d.core.Tensor(rays)).numpy()
    return float(hits.sum()) * cell * cell


def mesh_areas(mesh: CarMesh, cell: float = 0.005) -> tuple[float, float]:
    """``(frontal area, wetted area)`` in m^2: the whole car's y-z projection, and the body shell's surface without
    the base (wheels, mirrors and underbody parts excluded)."""
    wet = float(triangle_areas(mesh.vertices, mesh.triangles[mesh.part == PART_BODY]).sum())
    return frontal_area(mesh.vertices, mesh.triangles, cell), wet


# ---------------------------------------------------------------------------------------------------------------
# Dataset


def design_id(design: CarDesign, number: int, width: int = 3) -> str:
    """The DrivAerNet++-style id ``<F|N|E>_<S|D>_<WW|WWC>_WM_<number>``."""
    return "_".join(
        [
            FAMILY_LETTER[design.family],
            "D" if design.underbody == "detailed" else "S",
            "WW" if design.wheels == "open" else "WWC",
            "WM",
            f"{number:0{width}d}",
        ]
    )


@dataclass
class SimulatedDesign:
    """One simulated design: its id, geometry, areas (m^2), drag components and the coefficients written."""

    design_id: str
    design: CarDesign
    mesh: CarMesh
    frontal_area: float
    wetted_area: float
    components: dict[str, float]
    cd_clean: float  # noise-free proxy drag
    cd: float  # with the CFD-uncertainty noise: the ``Average Cd`` written
    cd_std: float  # the noise's standard deviation (``Std Cd``)
    cl: float
    cl_f: float
    cl_r: float

    def coefficient_row(self) -> dict[str, Any]:
        return {
            "Design": self.design_id,
            "Average Cd": self.cd,
            "Average Cl": self.cl,
            "Average Cl_f": self.cl_f,
            "Average Cl_r": self.cl_r,
        }

    def parametric_row(self) -> dict[str, Any]:
        return {
            "Experiment": self.design_id,
            **self.design.to_row(),
            "Average Cd": self.cd,
            "Std Cd": self.cd_std,
            "Average Cl": self.cl,
            "Average Cl_f": self.cl_f,
            "Average Cl_r": self.cl_r,
        }


def _check_families(families: Sequence[str]) -> tuple[str, ...]:
    fams = tuple(families)
    if not fams or len(set(fams)) != len(fams) or any(f not in FAMILIES for f in fams):
        raise ConfigError(f"families must be distinct names from {FAMILIES}, got {families!r}")
    return fams


def family_counts(n_designs: int, families: Sequence[str]) -> dict[str, int]:
    """Designs per family: ``n_designs`` shared as evenly as possible, the first families getting the extras."""
    fams = _check_families(families)
    q, r = divmod(int(n_designs), len(fams))
    return {f: q + (i < r) for i, f in enumerate(fams)}


def sample_designs(
    n_designs: int, seed: int = 0, families: Sequence[str] = FAMILIES
) -> list[tuple[str, CarDesign, tuple[int, int, int]]]:
    """``(design id, design, rng key)`` for every design, family by family: design ``k`` of family ``f`` is drawn
    from ``np.random.default_rng(key)``, ``key = [seed, index of f in FAMILIES, k]``, so a design does not depend on
    how many others are drawn. Cheap (no meshes)."""
    if isinstance(n_designs, bool) or not isinstance(n_designs, int | np.integer) or n_designs < 1:
        raise ConfigError(f"n_designs must be an integer >= 1, got {n_designs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    counts = family_counts(int(n_designs), families)
    width = max(3, len(str(max(counts.values()))))
    out = []
    for fi, family in enumerate(FAMILIES):
        for k in range(counts.get(family, 0)):
            key = (int(seed), fi, k)
            design = CarDesign.sample(np.random.default_rng(key), family)
            out.append((design_id(design, k + 1, width), design, key))
    return out


def simulate_design(
    design: CarDesign, name: str, noise_key: Sequence[int], noise: float = 0.004, resolution: float = 1.0
) -> SimulatedDesign:
    """Mesh one design, measure its areas, evaluate the proxies and add the noise (drawn from
    ``np.random.default_rng([*noise_key, 1])``)."""
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0.0 <= noise < 0.05:
        raise ConfigError(f"noise must be a standard deviation in [0, 0.05), got {noise!r}")
    mesh = build_car(design, resolution)
    front, wet = mesh_areas(mesh)
    comps = drag_breakdown(design, front, wet)
    cd_clean = float(sum(comps.values()))
    sd = cd_uncertainty(design, noise)
    lift = lift_coefficients(design)
    eps = np.random.default_rng([*map(int, noise_key), 1]).standard_normal(3)
    cl_f = lift["Cl_f"] + noise * float(eps[1])
    cl_r = lift["Cl_r"] + noise * float(eps[2])
    return SimulatedDesign(
        design_id=name,
        design=design,
        mesh=mesh,
        frontal_area=front,
        wetted_area=wet,
        components=comps,
        cd_clean=cd_clean,
        cd=cd_clean + sd * float(eps[0]),
        cd_std=sd,
        cl=cl_f + cl_r,
        cl_f=cl_f,
        cl_r=cl_r,
    )


def iter_designs(
    n_designs: int,
    seed: int = 0,
    families: Sequence[str] = FAMILIES,
    noise: float = 0.004,
    resolution: float = 1.0,
) -> Iterator[SimulatedDesign]:
    """Simulate the designs of :func:`sample_designs` one at a time (nothing written)."""
    for name, design, key in sample_designs(n_designs, seed, families):
        yield simulate_design(design, name, key, noise, resolution)


def write_stl(path: str | Path, vertices: np.ndarray, triangles: np.ndarray) -> None:
    """Write a binary STL (open3d, triangle normals computed), atomically (temporary name, then rename)."""
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(np.asarray(vertices, dtype=np.float64)),
        o3d.utility.Vector3iVector(np.asarray(triangles, dtype=np.int32)),
    )
    mesh.compute_triangle_normals()
    with atomic_path(path, suffix=".stl") as tmp:
        if not o3d.io.write_triangle_mesh(str(tmp), mesh, write_ascii=False):
            raise DataError(f"open3d could not write the STL {path}")


def simulate_drivaernet(
    root: str | Path,
    n_designs: int = 300,
    seed: int = 0,
    families: Sequence[str] = FAMILIES,
    split: tuple[float, float, float] = (0.7, 0.15, 0.15),
    noise: float = 0.004,
    resolution: float = 1.0,
) -> dict[str, Any]:
    """Simulate ``n_designs`` cars into ``root`` in the DrivAerNet layout (module docstring). Deterministic for a
    seed. Every file appears whole (temporary name, then rename); the STLs are written first, the tables and the
    split lists last. ``split`` = (train, val, test) fractions, applied within each family (each needs at least
    one design per non-empty split).

    Returns ``{"root", "simulator_version", "seed", "n_designs", "design_ids", "splits": {name: [ids]},
    "families": {id: family}, "cd": {id: Average Cd}, "records": [per-design dict of areas, components, Cd]}``.
    """
    fams = _check_families(families)
    if len(split) != 3 or any(not isinstance(s, int | float) or s < 0 for s in split) or abs(sum(split) - 1) > 1e-6:
        raise ConfigError(f"split must be three non-negative fractions (train, val, test) summing to 1, got {split!r}")
    if split[0] <= 0:
        raise ConfigError(f"split must leave a training fraction > 0, got {split!r}")
    if isinstance(n_designs, bool) or not isinstance(n_designs, int | np.integer) or n_designs < 1:
        raise ConfigError(f"n_designs must be an integer >= 1, got {n_designs!r}")
    counts = family_counts(int(n_designs), fams)
    for fam, n_f in counts.items():
        try:
            split_sizes(n_f, split[1], split[2], what=f"{fam} designs")
        except DataError as err:
            raise ConfigError(
                f"n_designs={n_designs} gives {n_f} {fam} designs, too few for the split {split}: {err}"
            ) from err
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise DataError(f"dataset root {root} exists and is not a folder")
    stl_dir = root / STL_FOLDER
    stl_dir.mkdir(parents=True, exist_ok=True)

    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0.0 <= noise < 0.05:
        raise ConfigError(f"noise must be a standard deviation in [0, 0.05), got {noise!r}")
    drawn = sample_designs(n_designs, seed, fams)
    ids = [name for name, _, _ in drawn]
    family_of = {name: design.family for name, design, _ in drawn}
    stale = sorted(p.name for p in stl_dir.glob("*.stl") if p.stem not in set(ids))
    if stale:
        raise DataError(
            f"{stl_dir} already holds {len(stale)} STL files this simulation does not write (e.g. {stale[:3]}); "
            "use an empty folder"
        )
    coeff_rows, param_rows, records = [], [], []
    for name, design, key in drawn:
        sim = simulate_design(design, name, key, noise, resolution)
        write_stl(stl_dir / f"{name}.stl", sim.mesh.vertices, sim.mesh.triangles)
        coeff_rows.append(sim.coefficient_row())
        param_rows.append(sim.parametric_row())
        records.append(
            {
                "design_id": name,
                "family": design.family,
                "frontal_area": sim.frontal_area,
                "wetted_area": sim.wetted_area,
                "components": sim.components,
                "cd_clean": sim.cd_clean,
                "cd": sim.cd,
                "n_vertices": len(sim.mesh.vertices),
                "n_triangles": len(sim.mesh.triangles),
            }
        )

    atomic_write_text(root / PARAMETRIC_FILE, pd.DataFrame(param_rows).to_csv(index=False))
    atomic_write_text(root / COEFFICIENTS_FILE, pd.DataFrame(coeff_rows).to_csv(index=False))
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for fam in fams:
        fam_ids = [i for i in ids if family_of[i] == fam]
        parts = random_split(len(fam_ids), derive_seed(int(seed), f"drivaernet-split:{fam}"), split[1], split[2])
        for name in splits:
            splits[name].extend(fam_ids[j] for j in parts[name])
    for name, fname in SPLIT_FILES.items():
        atomic_write_text(root / SPLIT_FOLDER / fname, "".join(f"{i}\n" for i in sorted(splits[name])))
    return {
        "root": str(root),
        "simulator_version": SIMULATOR_VERSION,
        "seed": int(seed),
        "n_designs": len(ids),
        "design_ids": ids,
        "splits": {k: sorted(v) for k, v in splits.items()},
        "families": family_of,
        "cd": {r["design_id"]: r["cd"] for r in records},
        "records": records,
    }
