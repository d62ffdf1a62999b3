"""A physics proxy for the drag (and lift) of the simulated car bodies: a sum of documented, literature-based terms,
NOT computational fluid dynamics. It gives the simulated dataset a drag coefficient that is a deterministic function
of the geometry (every input is visible in the mesh that :mod:`.car_body_simulator` builds), with the right orders of
magnitude and the well-known trends, so that a network has something real to learn from the shape.

All coefficients are normalised by the car's frontal area ``A`` (m^2, the projection of the mesh on the y-z plane)
and summed by :func:`drag_coefficient`; :func:`drag_breakdown` gives the terms:

``friction``
    The ITTC-1957 correlation line ``Cf = 0.075 / (log10 Re - 2)^2`` at ``Re = U L / nu`` (``U`` = 30 m/s,
    :data:`U_INF`, a stated assumption for the CFD's inlet velocity; ``nu`` = 1.5e-5 m^2/s, air at about 20 C; ``L``
    the car's length), applied to the body's wetted area ``S`` (the body shell without its base, wheels, mirrors
    and underbody parts): ``Cf S / A``.

``forebody``
    ``0.045`` (the front's stagnation pressure drag left after the bonnet's suction peak; Hucho 1998 puts a
    well-rounded car front at a few hundredths) ``+ 0.0010 per degree`` of windscreen inclination above 27 deg
    (a more raked windscreen lowers drag, Hucho 1998, ch. 4) ``+ 0.025 exp(-r / 0.07 m)`` for a blunt nose of
    rounding length ``r`` (front-edge rounding suppresses the separation at the leading edge; beyond a radius of a
    few per cent of the body's height the gain saturates, Hucho 1998) ``+ 0.0008 per degree`` of front underbody
    ramp below 8 deg (a flatter chin guides more air under the car).

``rear`` (pressure drag of the rear end)
    Fastback: ``0.078 + 0.55 (C_A(phi) - 0.25)`` with ``C_A`` the Ahmed body's drag against slant angle (Ahmed, Ramm
    & Faltin 1984, SAE 840300, their Fig. of C_D vs phi, tabulated in :data:`AHMED_SLANT_DEG` /
    :data:`AHMED_CD` and interpolated by a monotone piecewise-cubic, PCHIP): about 0.25 at 0-10 deg, a minimum near
    12.5 deg, rising to 0.378 at the critical 30 deg (the high-drag regime: attached flow on the slant with strong
    C-pillar vortices), dropping to about 0.26 once the flow separates over the whole slant (> 30 deg). ``phi`` is
    the slant angle. Notchback: the same curve at the effective slant angle, the angle of the line from the roof's
    trailing edge to the end of the boot deck (the notchback literature's effective backlight angle, e.g. Nouzawa
    et al. 1992, SAE 920202; Gaylard et al. 2007, SAE 2007-01-0100), with base ``0.092``, plus a short-deck penalty
    ``0.02 max(0, (0.55 - d) / 0.25)^2`` (a short boot deck lets the separated flow from the rear window reach the
    base). Estateback (square-back regime): base drag ``-Cp_b A_b / A`` with ``-Cp_b = 0.165`` and ``A_b`` the
    body's cross-section at the roof's trailing edge (base drag grows with the base area), reduced by ``0.6 %`` per
    degree the tailgate leans forward of vertical (a slight roof-end chamfer). Boat-tailing: every rear term is
    multiplied by ``1 - k beta`` (``beta`` the plan-view taper angle at the tail in degrees; ``k`` = 0.012 fast- /
    notchback, 0.020 estate: tapering recovers base pressure, most on a square-back, cf. Mair 1969 on
    boat-tailed afterbodies); the estate's base area already shrinks with the taper in the geometry.

``underbody``
    ``0.025 + 0.15 (c - 0.13 m)`` with ``c`` the ground clearance (a lower car has less underbody flow and less
    exposed wheel, Hucho 1998); a diffuser of angle ``theta`` (deg) recovers base pressure, ``-0.0020 theta +
    0.000125 theta^2`` (optimum near 8 deg where it starts to separate; Cooper et al. 1998, SAE 980030), halved on a
    detailed underbody (its parts disturb the diffuser flow); a detailed underbody adds the drag of its parts
    ``0.40 A_p / A`` (``A_p`` the parts' frontal area below the floor; a bluff part's ``C_D`` of about 1 times the
    reduced dynamic pressure in the underbody flow, about 0.6 U).

``wheels``
    Wheels and wheel-houses (about a quarter of a car's drag, Wickern, Zwicker & Pfadenhauer 1997, SAE 970133):
    ``0.16 * 4 w D / A`` for the four wheels of width ``w`` and diameter ``D``, plus ``0.6 * 2 w c / A`` for the
    front wheels' exposed part below the floor, plus ``0.012 (D / 0.67 m)^2`` for open rims (air pumped through the
    spokes; rim covers lower the drag by about 0.01-0.02 in wind-tunnel studies).

``mirrors``
    ``0.45 A_m / A`` for the mirrors' frontal area outside the body (a mirror housing's ``C_D`` of about 0.4-0.5).

The lift proxy :func:`lift_coefficients` is simpler still (documented there). The simulator adds Gaussian noise
(the CFD's averaging uncertainty) with the per-design standard deviation :func:`cd_uncertainty`.

References: Ahmed, Ramm & Faltin (1984), Some salient features of the time-averaged ground vehicle wake, SAE 840300;
ITTC (1957) model-ship correlation line; Hucho (ed., 1998), Aerodynamics of Road Vehicles, 4th ed., SAE; Cooper et
al. (1998), The aerodynamic performance of automotive underbody diffusers, SAE 980030; Wickern, Zwicker &
Pfadenhauer (1997), Rotating wheels - their impact on wind tunnel test techniques and on vehicle drag results, SAE
970133.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.interpolate import PchipInterpolator

from sciconv.errors import ConfigError, DataError

if TYPE_CHECKING:
    from .car_body_simulator import CarDesign

PROXY_NOTE = (
    "The designs are simulated car bodies and their drag coefficients come from a documented physics proxy, not "
    "from CFD: the ITTC-1957 skin-friction line over the measured wetted area, a forebody term (windscreen rake, "
    "nose rounding), a rear-end term following the Ahmed-body drag curve against slant angle (fastback: slant angle; "
    "notchback: effective slant from the roof's trailing edge to the end of the boot deck; estate: square-back base "
    "drag on the base area, reduced by boat-tailing), underbody (ground clearance, diffuser, detailed parts), wheel "
    "(open or closed rims) and mirror terms, all normalised by the measured frontal area, plus Gaussian noise "
    "standing for the CFD's averaging uncertainty (`Std Cd`). Scores on these labels are not comparable with "
    "published DrivAerNet results."
)

U_INF = 30.0  # m/s, assumed inlet velocity
NU_AIR = 1.5e-5  # m^2/s, kinematic viscosity of air near 20 C

# Ahmed body drag coefficient against rear slant angle (deg), read approximately from Ahmed, Ramm & Faltin (1984):
# ~0.25 for a square back and small slants, minimum ~0.23 near 12.5 deg, peak 0.378 at the critical 30 deg, ~0.26
# beyond it (fully separated slant), back to ~0.25 towards a vertical back.
AHMED_SLANT_DEG = np.array([0.0, 5.0, 10.0, 12.5, 15.0, 20.0, 25.0, 28.0, 30.0, 32.0, 35.0, 40.0, 50.0, 90.0])
AHMED_CD = np.array([0.250, 0.245, 0.235, 0.230, 0.233, 0.250, 0.285, 0.330, 0.378, 0.300, 0.265, 0.260, 0.255, 0.250])
_AHMED = PchipInterpolator(AHMED_SLANT_DEG, AHMED_CD)

# Calibration constants (documented in the module docstring).
REAR_BASE = {"fastback": 0.078, "notchback": 0.092}
AHMED_SCALE = 0.55
ESTATE_BASE_PRESSURE = 0.165  # -Cp_b of a square-back base
TAPER_GAIN = {"fastback": 0.012, "notchback": 0.012, "estateback": 0.020}  # per degree
TIRE_WIDTH = 0.215  # m, as in the simulator's wheels


def ahmed_drag(slant_deg: float | np.ndarray) -> float | np.ndarray:
    """The Ahmed body's drag coefficient at slant angle(s) ``slant_deg`` (deg, 0-90; PCHIP through the table)."""
    a = np.asarray(slant_deg, dtype=np.float64)
    if not np.isfinite(a).all() or (a < 0).any() or (a > 90).any():
        raise ConfigError(f"slant angle must be within [0, 90] deg, got {slant_deg!r}")
    out = _AHMED(a)
    return float(out) if out.ndim == 0 else out


def reynolds_number(length: float, speed: float = U_INF, nu: float = NU_AIR) -> float:
    """``Re = U L / nu`` (length m, speed m/s, nu m^2/s)."""
    if not (length > 0 and speed > 0 and nu > 0):
        raise ConfigError(f"Reynolds number needs positive length, speed and nu, got {length}, {speed}, {nu}")
    return speed * length / nu


def ittc_friction_coefficient(reynolds: float) -> float:
    """ITTC-1957 skin-friction line ``Cf = 0.075 / (log10 Re - 2)^2`` (valid for turbulent Re of about 1e5-1e10)."""
    if not (isinstance(reynolds, int | float | np.floating) and math.isfinite(reynolds) and reynolds > 1e3):
        raise ConfigError(f"reynolds must be a finite number > 1e3, got {reynolds!r}")
    return 0.075 / (math.log10(reynolds) - 2.0) ** 2


def rear_slant_angle(design: CarDesign) -> float:
    """The angle (deg) the rear term reads: a fastback's slant angle, a notchback's effective slant angle (roof's
    trailing edge to the end of the deck), an estate's tailgate angle."""
    if design.family == "notchback":
        return float(design.effective_slant_angle)
    return float(design.rear_angle)


def drag_breakdown(design: CarDesign, frontal_area: float, wetted_area: float) -> dict[str, float]:
    """The proxy's drag terms (see the module docstring): ``{"friction", "forebody", "rear", "underbody",
    "wheels", "mirrors"}``, each a coefficient on the frontal area; their sum is :func:`drag_coefficient`.

    ``frontal_area`` and ``wetted_area`` (m^2) are measured on the mesh (:func:`.car_body_simulator.mesh_areas`).
    """
    for name, value in (("frontal_area", frontal_area), ("wetted_area", wetted_area)):
        if not (isinstance(value, int | float | np.floating) and math.isfinite(value) and value > 0):
            raise DataError(f"drag_breakdown: {name} must be a positive area in m^2, got {value!r}")
    a = float(frontal_area)
    cf = ittc_friction_coefficient(reynolds_number(design.length))
    friction = cf * float(wetted_area) / a

    forebody = (
        0.045
        + 0.0010 * (design.windscreen_angle - 27.0)
        + 0.025 * math.exp(-design.nose_radius / 0.07)
        + 0.0008 * (8.0 - design.ramp_angle)
    )

    beta = design.rear_taper_angle
    if design.family == "estateback":
        lean = max(0.0, 90.0 - design.rear_angle)
        rear = ESTATE_BASE_PRESSURE * (1.0 - 0.006 * lean) * design.rear_base_area() / a
    else:
        rear = REAR_BASE[design.family] + AHMED_SCALE * (ahmed_drag(rear_slant_angle(design)) - 0.25)
        if design.family == "notchback":
            rear += 0.02 * max(0.0, (0.55 - design.deck_length) / 0.25) ** 2
    rear *= 1.0 - TAPER_GAIN[design.family] * beta

    theta = design.diffuser_angle
    diffuser = -0.0020 * theta + 0.000125 * theta**2
    detailed = design.underbody == "detailed"
    underbody = 0.025 + 0.15 * (design.ground_clearance - 0.13) + (0.5 if detailed else 1.0) * diffuser
    if detailed:
        underbody += 0.40 * design.underbody_part_area / a

    d, c = design.wheel_diameter, design.ground_clearance
    wheels = 0.16 * 4 * TIRE_WIDTH * d / a + 0.6 * 2 * TIRE_WIDTH * c / a
    if design.wheels == "open":
        wheels += 0.012 * (d / 0.67) ** 2

    mirrors = 0.45 * design.mirror_frontal_area / a
    return {
        "friction": float(friction),
        "forebody": float(forebody),
        "rear": float(rear),
        "underbody": float(underbody),
        "wheels": float(wheels),
        "mirrors": float(mirrors),
    }


def drag_coefficient(design: CarDesign, frontal_area: float, wetted_area: float) -> float:
    """The proxy's noise-free drag coefficient: the sum of :func:`drag_breakdown`."""
    return float(sum(drag_breakdown(design, frontal_area, wetted_area).values()))


def cd_uncertainty(design: CarDesign, noise: float = 0.004) -> float:
    """Standard deviation of the noise added to a design's Cd (``Std Cd``): ``noise`` times an unsteadiness factor
    ``1 + exp(-((phi - 30) / 2.5)^2)`` for fast- and notchbacks (the flow over a slant near the critical 30 deg
    switches between its two regimes, Ahmed et al. 1984), 1 for estates."""
    if design.family == "estateback":
        return float(noise)
    phi = rear_slant_angle(design)
    return float(noise * (1.0 + math.exp(-(((phi - 30.0) / 2.5) ** 2))))


def lift_coefficients(design: CarDesign) -> dict[str, float]:
    """A simple lift proxy (front and rear axle lift coefficients on the frontal area, ``Cl = Cl_f + Cl_r``), not
    physics-grade: signs and orders of magnitude only.

    ``Cl_f = 0.05 + 0.6 (c - 0.13) + 0.002 (windscreen - 27) - 0.002 (ramp - 8)`` (a higher car and a steeper screen
    lift the front, a steeper chin ramp accelerates the flow under the nose); ``Cl_r = Cl_r0 + 0.6 * 0.55 (C_A(phi) -
    0.25) + 0.6 (c - 0.13) - 0.004 diffuser + 1.0 camber`` with ``Cl_r0`` = 0.08 fastback, 0.05 notchback, 0.02
    estate (the slant's suction that raises drag near 30 deg also lifts the rear; a diffuser makes downforce)."""
    c = design.ground_clearance
    cl_f = 0.05 + 0.6 * (c - 0.13) + 0.002 * (design.windscreen_angle - 27.0) - 0.002 * (design.ramp_angle - 8.0)
    base = {"fastback": 0.08, "notchback": 0.05, "estateback": 0.02}[design.family]
    slant = 0.0
    if design.family != "estateback":
        slant = 0.6 * AHMED_SCALE * (ahmed_drag(rear_slant_angle(design)) - 0.25)
    cl_r = base + slant + 0.6 * (c - 0.13) - 0.004 * design.diffuser_angle + 1.0 * design.roof_camber
    return {"Cl": float(cl_f + cl_r), "Cl_f": float(cl_f), "Cl_r": float(cl_r)}
