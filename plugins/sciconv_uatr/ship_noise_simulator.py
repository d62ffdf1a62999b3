"""A simulator of ship-radiated noise as a bottom-mounted hydrophone records ships passing it, written in the
DeepShip layout (``<Class>/<id>.wav`` and ``<Class>/<class lowercase>-metafile``) so that the real DeepShip reader
reads it.

Each recording is the sum of three received pressures (µPa), all computed in float64:

Ship (source at 1 m, then propagated):

- Propeller cavitation: Gaussian noise with the spectrum level :func:`cavitation_spectrum_db` (rising as
  +20 dB/decade up to a peak of one to a few hundred Hz, then falling -20 dB/decade, Ross 1976 ch. 8), its level
  at the peak from :func:`cavitation_peak_level_db`: ``147 + 60 log10(u_tip / 30 m/s) + 20 log10(D / 5 m) +
  10 log10(B / 4) + 10 log10(n_propellers)`` plus the ship's and the day's offsets (Ross's tip-speed law and
  blade term; the size term through the propeller diameter ``D``; the constant puts merchant ships' broadband
  source levels at about 170-190 dB re 1 µPa @ 1 m, as measured by McKenna et al. 2012 and Veirs et al. 2016).
  The noise's amplitude is modulated at the blade rate (shaft rate x blade count) and its 2nd and 3rd harmonics,
  plus a weak shaft-rate term (blade-to-blade differences): the lines DEMON analysis finds.
- Machinery and hull broadband noise (:func:`machinery_spectrum_db`), unmodulated: flat below ~100 Hz, 20 dB
  below the main engine's firing line (the generators' on diesel-electric ships).
- Tonals (constant frequency within a recording, random phase): blade-rate lines; the main engine's firing rate
  (two-stroke: engine rate x cylinders; four-stroke: engine rate x cylinders / 2) and its harmonics, and engine
  rotation orders; the diesel generators' firing rate and electrical lines at harmonics of the ship's grid
  frequency (60 or 50 Hz). Diesel-electric ships (cruise ships) have no main-engine lines.
- All ship sources sit at the propeller depth ``z_s``, spread over +-0.35 propeller diameters (the cavitating
  disc).

Propagation: the ship passes the hydrophone (depth ``z_r``) on a straight track at constant speed ``v``; its
horizontal range is ``x(t) = sqrt(cpa^2 + (v (t - t_cpa))^2)`` and the slant range ``R = sqrt(x^2 + (z_r -
z_s)^2)``. Transmission loss :func:`transmission_loss_db` = spherical spreading ``20 log10 R`` + Thorp absorption
(:func:`thorp_absorption_db_per_km`) - ``10 log10`` of the Lloyd's-mirror gain (:func:`lloyd_mirror_gain`: the
surface-reflected path interferes with the direct one; far from the source the gain is ``4 sin^2(k z_s z_r /
R)``; a rough sea surface (rms wave height from the wind) makes the reflection partly incoherent and the source's
depth spread fills the high-frequency nulls). The time-varying, frequency-dependent transfer
function is applied by short-time processing: STFT (Hann, ~64 ms frames, 50 % overlap), each frame multiplied by
its amplitude gain ``10^(-TL(f, R(t_frame)) / 20)``, inverse STFT. No Doppler shift, no bottom reflection.

Ambient noise (received, Gaussian) with the spectrum level :func:`wenz_ambient_psd` (Wenz 1962): wind-driven
surface noise (Knudsen levels at 1 kHz rising with wind speed, -17 dB/decade above ~500 Hz), distant shipping (a
hump near 50 Hz whose level rises with the shipping density), thermal noise (Mellen 1952) and low-frequency
turbulence / flow noise. Biological
transients: snapping-shrimp clicks (Poisson times, short decaying broadband pulses) and, in some recordings, a
few whistles (frequency-modulated tonal chirps with a harmonic).

Classes and their within-class diversity are in :data:`SHIP_CLASSES`; pass conditions (laden / ballast, free /
towing) in :data:`CONDITIONS`.

Scaling to the WAV: one fixed recording chain for every file, :data:`HYDROPHONE_SENSITIVITY_DB` (-170 dB re 1
V/µPa) + :data:`PREAMP_GAIN_DB` (0 dB) into an ADC of +-1 V full scale, i.e. full scale = 170 dB re 1 µPa
(:data:`FULL_SCALE_DB`); sample value = pressure (µPa) / 10^(170/20). The loudest ship at the closest range
(about 150 dB re 1 µPa rms, peaks near 165 dB) stays below full scale; a sample that would still clip is clipped
with an :class:`~sciconv_uatr.recordings.AudioNotice`. In PCM_16 the quantisation floor is then about 30 dB re 1
µPa²/Hz at 16 kHz sampling: near the calmest sea's noise at the top of the band (use PCM_24 or FLOAT to avoid
it).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal
import soundfile as sf

from sciconv.errors import ConfigError
from sciconv_uatr.recordings import AudioNotice

SIMULATOR_VERSION: str = "1"
"""Part of the simulation cache's key: raise it whenever a code change alters what the simulator writes."""

DEEPSHIP_CLASSES: tuple[str, ...] = ("Cargo", "Passengership", "Tanker", "Tug")

SOUND_SPEED_M_S = 1500.0
"""Sound speed, m/s (one value for the whole water column)."""
RECEIVER_DEPTH_M = 145.0
"""Hydrophone depth, m: on the sea floor, as DeepShip's Strait of Georgia node (of the order of 150 m deep)."""
HYDROPHONE_SENSITIVITY_DB = -170.0
"""Hydrophone sensitivity, dB re 1 V/µPa (typical of broadband observatory hydrophones)."""
PREAMP_GAIN_DB = 0.0
"""Preamplifier gain, dB, into an ADC of +-1 V full scale."""
FULL_SCALE_DB = -(HYDROPHONE_SENSITIVITY_DB + PREAMP_GAIN_DB)
"""The pressure that reaches digital full scale, dB re 1 µPa (peak): 170."""
FULL_SCALE_UPA = 10.0 ** (FULL_SCALE_DB / 20.0)
MAX_RANGE_M = 2000.0
"""Ships are recorded while within this horizontal range of the hydrophone, m."""
CPA_RANGE_M = (200.0, 2000.0)
"""Range of the closest-point-of-approach distances, m (uniform)."""
RECORDING_PERIOD = (date(2016, 5, 2), date(2018, 10, 4))
"""DeepShip's recording period; dates are drawn uniformly within it."""
WAV_SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
KNOT_M_S = 1852.0 / 3600.0

# Per-class table. Ranges (lo, hi) are drawn uniformly, tuples of integers are choices. Per ship a size fraction
# q ~ U(0, 1) sets the length (lo + q (hi - lo)) and, inversely, the design shaft rate (larger ships turn larger,
# slower propellers), so the propeller tip speeds stay in about 20-45 m/s, as in real designs.
# Sources: DeepShip (Irfan et al. 2021, Expert Syst. Appl. 183:115270) for the classes and AIS codes; ship sizes,
# speeds and shaft rates from typical designs (MAN Energy Solutions, "Basic principles of ship propulsion": slow
# two-stroke direct drive 60-130 rpm with 5-12 cylinders; medium-speed four-stroke 500-1000 rpm; high-speed
# four-stroke 1200-1800 rpm), propeller diameter ~ 3 % of the length for merchant ships (larger for tugs); source
# levels: McKenna et al. 2012 (JASA 131:92, container ships loudest, tankers and bulk carriers lower), Veirs et al.
# 2016 (PeerJ 4:e1657, Haro Strait, next to the Strait of Georgia); cruise ships quieter by design (resiliently
# mounted diesel-electric plant); tugs loud for their size (heavily loaded, fast-turning propellers). Line levels
# (dB re 1 µPa @ 1 m) put the strongest lines 10-25 dB above the broadband spectrum level in a 1 Hz band, as in
# measured merchant-ship spectra (e.g. Arveson & Vendittis 2000, JASA 107:118, a bulk carrier). Within those
# bounds the numbers are plausible choices, not fits to data.
SHIP_CLASSES: dict[str, dict[str, Any]] = {
    "Cargo": {
        "ais_codes": {70: 0.8, 71: 0.05, 72: 0.05, 74: 0.05, 79: 0.05},  # AIS 70-79: cargo (7x: hazard category)
        "subtypes": {
            "container": {
                "weight": 0.5,
                "length_m": (200.0, 300.0),
                "speed_kn": (13.0, 18.0),
                "shaft_rpm": (80.0, 120.0),
                "blades": (5, 6),
                "propellers": 1,
                "propulsion": "two-stroke direct",
                "cylinders": (7, 8, 9, 10, 11, 12),
                "engine_rpm": None,  # direct drive: engine rpm = shaft rpm
                "pitch": "fixed",
                "diameter_per_length": (0.030, 0.034),
                "propeller_depth_m": (7.0, 10.0),
                "cavitation_peak_hz": (100.0, 200.0),
                "source_offset_db": (-2.0, 2.0),
                "engine_level_db": (162.0, 172.0),
                "blade_line_level_db": (160.0, 170.0),
                "generator_level_db": (145.0, 155.0),
                "electrical_level_db": (140.0, 150.0),
                "conditions": {"laden": 1.0},
            },
            "bulk carrier": {
                "weight": 0.5,
                "length_m": (150.0, 230.0),
                "speed_kn": (10.0, 14.0),
                "shaft_rpm": (70.0, 110.0),
                "blades": (4, 5),
                "propellers": 1,
                "propulsion": "two-stroke direct",
                "cylinders": (5, 6, 7),
                "engine_rpm": None,
                "pitch": "fixed",
                "diameter_per_length": (0.031, 0.036),
                "propeller_depth_m": (6.0, 9.0),
                "cavitation_peak_hz": (80.0, 180.0),
                "source_offset_db": (-2.0, 2.0),
                "engine_level_db": (160.0, 170.0),
                "blade_line_level_db": (155.0, 166.0),
                "generator_level_db": (143.0, 153.0),
                "electrical_level_db": (138.0, 148.0),
                "conditions": {"laden": 0.5, "ballast": 0.5},
            },
        },
    },
    "Passengership": {
        "ais_codes": {60: 0.8, 69: 0.2},  # AIS 60-69: passenger (the sample metafile holds 60 and 69)
        "subtypes": {
            # BC Ferries-type double-ended ferries: twin controllable-pitch propellers at constant rpm, geared
            # medium-speed four-stroke diesels, strong generator lines.
            "ferry": {
                "weight": 0.7,
                "length_m": (100.0, 170.0),
                "speed_kn": (14.0, 20.0),
                "shaft_rpm": (130.0, 200.0),
                "blades": (4, 5),
                "propellers": 2,
                "propulsion": "four-stroke geared",
                "cylinders": (6, 8, 9, 12, 16),
                "engine_rpm": (500.0, 750.0),
                "pitch": "controllable",
                "diameter_per_length": (0.024, 0.030),
                "propeller_depth_m": (3.5, 5.0),
                "cavitation_peak_hz": (150.0, 350.0),
                "source_offset_db": (0.0, 3.0),
                "engine_level_db": (155.0, 165.0),
                "blade_line_level_db": (148.0, 158.0),
                "generator_level_db": (155.0, 165.0),
                "electrical_level_db": (152.0, 162.0),
                "conditions": {"service": 1.0},
            },
            # Cruise ships (longer than the ferries, deliberately): diesel-electric, twin pods or shafts at
            # variable rpm, resiliently mounted gensets: quiet cavitation, strong electrical lines, no main engine.
            "cruise ship": {
                "weight": 0.3,
                "length_m": (230.0, 300.0),
                "speed_kn": (12.0, 18.0),
                "shaft_rpm": (130.0, 160.0),
                "blades": (4, 5),
                "propellers": 2,
                "propulsion": "diesel-electric",
                "cylinders": (0,),
                "engine_rpm": None,
                "pitch": "fixed",
                "diameter_per_length": (0.018, 0.022),
                "propeller_depth_m": (6.0, 8.0),
                "cavitation_peak_hz": (120.0, 250.0),
                "source_offset_db": (-6.0, -2.0),
                "engine_level_db": (0.0, 0.0),
                "blade_line_level_db": (145.0, 155.0),
                "generator_level_db": (152.0, 162.0),
                "electrical_level_db": (155.0, 165.0),
                "conditions": {"service": 1.0},
            },
        },
    },
    "Tanker": {
        "ais_codes": {80: 0.7, 89: 0.2, 81: 0.05, 84: 0.05},  # AIS 80-89: tanker (the sample holds 80 and 89)
        "subtypes": {
            "product tanker": {
                "weight": 0.55,
                "length_m": (100.0, 185.0),
                "speed_kn": (10.0, 14.0),
                "shaft_rpm": (75.0, 100.0),
                "blades": (4, 5),
                "propellers": 1,
                "propulsion": "two-stroke direct",
                "cylinders": (5, 6),
                "engine_rpm": None,
                "pitch": "fixed",
                "diameter_per_length": (0.032, 0.038),
                "propeller_depth_m": (5.5, 8.0),
                "cavitation_peak_hz": (100.0, 220.0),
                "source_offset_db": (-2.0, 2.0),
                "engine_level_db": (158.0, 168.0),
                "blade_line_level_db": (152.0, 162.0),
                "generator_level_db": (143.0, 153.0),
                "electrical_level_db": (138.0, 148.0),
                "conditions": {"laden": 0.5, "ballast": 0.5},
            },
            "crude tanker": {
                "weight": 0.45,
                "length_m": (185.0, 250.0),
                "speed_kn": (8.0, 13.0),
                "shaft_rpm": (60.0, 85.0),
                "blades": (4, 5),
                "propellers": 1,
                "propulsion": "two-stroke direct",
                "cylinders": (5, 6, 7),
                "engine_rpm": None,
                "pitch": "fixed",
                "diameter_per_length": (0.032, 0.036),
                "propeller_depth_m": (8.0, 11.0),
                "cavitation_peak_hz": (70.0, 160.0),
                "source_offset_db": (-1.0, 3.0),
                "engine_level_db": (160.0, 170.0),
                "blade_line_level_db": (156.0, 166.0),
                "generator_level_db": (143.0, 153.0),
                "electrical_level_db": (138.0, 148.0),
                "conditions": {"laden": 0.5, "ballast": 0.5},
            },
        },
    },
    "Tug": {
        "ais_codes": {52: 1.0},  # AIS 52: tug
        "subtypes": {
            # Azimuth-stern-drive harbour tugs: twin z-drives, 4 blades, high-speed diesels.
            "ship-assist tug": {
                "weight": 0.5,
                "length_m": (20.0, 30.0),
                "speed_kn": (8.0, 12.0),
                "shaft_rpm": (200.0, 300.0),
                "blades": (4,),
                "propellers": 2,
                "propulsion": "four-stroke geared",
                "cylinders": (8, 12, 16),
                "engine_rpm": (1200.0, 1800.0),
                "pitch": "fixed",
                "diameter_per_length": (0.075, 0.095),
                "propeller_depth_m": (2.5, 4.0),
                "cavitation_peak_hz": (300.0, 700.0),
                "source_offset_db": (0.0, 4.0),
                "engine_level_db": (152.0, 162.0),
                "blade_line_level_db": (140.0, 150.0),
                "generator_level_db": (138.0, 148.0),
                "electrical_level_db": (134.0, 144.0),
                "conditions": {"free": 0.5, "towing": 0.5},
            },
            # Single-screw coastal / barge-towing tugs.
            "towing tug": {
                "weight": 0.5,
                "length_m": (25.0, 35.0),
                "speed_kn": (8.0, 12.0),
                "shaft_rpm": (150.0, 250.0),
                "blades": (3, 4),
                "propellers": 1,
                "propulsion": "four-stroke geared",
                "cylinders": (8, 12, 16),
                "engine_rpm": (1200.0, 1800.0),
                "pitch": "fixed",
                "diameter_per_length": (0.080, 0.100),
                "propeller_depth_m": (2.5, 4.0),
                "cavitation_peak_hz": (250.0, 600.0),
                "source_offset_db": (0.0, 4.0),
                "engine_level_db": (152.0, 162.0),
                "blade_line_level_db": (140.0, 150.0),
                "generator_level_db": (138.0, 148.0),
                "electrical_level_db": (134.0, 144.0),
                "conditions": {"free": 0.3, "towing": 0.7},
            },
        },
    },
}

# What a pass condition changes. ``speed_factor``: the day's speed relative to the ship's typical speed;
# ``speed_kn`` (towing): an absolute speed range instead, with the shaft kept at ``shaft_fraction`` of its design
# rpm (a heavily loaded propeller: high slip, cavitating at low speed); ``depth_factor``: propeller depth relative
# to the laden depth (ballast: the propeller near the surface); ``cavitation_offset_db`` and
# ``modulation_factor``: louder and more strongly blade-rate-modulated cavitation (ballast: air drawn into the
# propeller disc, non-uniform wake; towing: heavy loading). Values are plausible guesses, not fitted to data.
CONDITIONS: dict[str, dict[str, Any]] = {
    "service": {"speed_factor": (0.85, 1.05), "depth_factor": (1.0, 1.0), "cavitation_offset_db": 0.0,
                "modulation_factor": 1.0},
    "laden": {"speed_factor": (0.85, 1.05), "depth_factor": (1.0, 1.0), "cavitation_offset_db": 0.0,
              "modulation_factor": 1.0},
    "ballast": {"speed_factor": (0.9, 1.1), "depth_factor": (0.5, 0.65), "cavitation_offset_db": 3.0,
                "modulation_factor": 1.3},
    "free": {"speed_factor": (0.85, 1.05), "depth_factor": (1.0, 1.0), "cavitation_offset_db": 0.0,
             "modulation_factor": 1.0},
    "towing": {"speed_kn": (4.5, 8.0), "shaft_fraction": (0.85, 1.0), "depth_factor": (1.0, 1.0),
               "cavitation_offset_db": 4.0, "modulation_factor": 1.2},
}  # fmt: skip

_NAME_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Cargo": (
        ("OCEAN", "PACIFIC", "GLOBAL", "GOLDEN", "NORTHERN", "GREAT", "ORIENT", "SILVER", "EASTERN", "BLUE",
         "STAR", "ROYAL", "NEW", "GRAND", "IRON"),
        ("TRADER", "PIONEER", "HARMONY", "VENTURE", "FORTUNE", "EXPRESS", "BRIDGE", "HORIZON", "CARRIER", "GLORY",
         "ENDEAVOUR", "MERIDIAN", "DAWN", "PROSPERITY", "LINK"),
    ),
    "Passengership": (
        ("QUEEN OF", "SPIRIT OF", "COASTAL", "ISLAND", "SALISH", "PRINCE OF", "NORTHERN", "STAR OF"),
        ("ALDER", "CEDAR", "HARBOUR", "INLET", "MAPLE", "CORMORANT", "ORCA", "TIDES", "SOUND", "SHORES", "BAYS",
         "ARBUTUS", "PRINCESS", "VOYAGER", "ESCAPE"),
    ),
    "Tanker": (
        ("CHAMPION", "CHERRY", "EAGLE", "NORDIC", "TORM", "STENA", "ALPINE", "HIGH", "MARE", "ATLANTIC", "SEA",
         "LUCKY", "ARCTIC", "CORAL", "PETRO"),
        ("EBONY", "GALAXY", "VICTORY", "SPIRIT", "PROGRESS", "PRIDE", "JEWEL", "FALCON", "LOTUS", "STAR", "WAVE",
         "VOYAGER", "RUBY", "PEARL", "ARROW"),
    ),
    "Tug": (
        ("SEA", "HARBOUR", "WEST", "RIVER", "CAPE", "POINT", "ISLAND", "STRAIT", "TIDE", "GULF", "DELTA", "CORAL"),
        ("WARRIOR", "KING", "HAWK", "RAVEN", "BEAR", "EAGLE", "CHALLENGER", "HERCULES", "TITAN", "RANGER", "WOLF",
         "COMMANDER", "PRINCE", "SENTINEL"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Tonal:
    """One constant-frequency line radiated by a ship.

    Attributes:
        frequency_hz: the line's frequency, Hz.
        level_db: its source level, dB re 1 µPa (rms) at 1 m.
        kind: ``blade``, ``engine firing``, ``engine order``, ``generator firing`` or ``electrical``.
    """

    frequency_hz: float
    level_db: float
    kind: str


@dataclass(frozen=True)
class Ship:
    """A ship's fixed characteristics (the same on every day it is recorded).

    Attributes:
        name: upper-case ship name (unique within a simulation).
        ship_class: one of :data:`DEEPSHIP_CLASSES`.
        subtype: the class's subtype (``container``, ``ferry``, ``towing tug``, ...; see :data:`SHIP_CLASSES`).
        ais_code: AIS ship-type code.
        length_m: length overall, m.
        typical_speed_kn: the speed it usually transits at, knots.
        design_shaft_rpm: shaft rate at the typical speed, rpm.
        blades: blades per propeller.
        propellers: number of propellers.
        propeller_diameter_m: propeller diameter, m.
        propeller_depth_m: propeller (source) depth laden / in service, m.
        propulsion: ``two-stroke direct``, ``four-stroke geared`` or ``diesel-electric``.
        cylinders: main-engine cylinders (0: diesel-electric, no main engine).
        design_engine_rpm: main-engine rpm at the design shaft rate (0: none).
        pitch: ``fixed`` (shaft rpm follows speed) or ``controllable`` (constant rpm).
        cavitation_peak_hz: frequency of the cavitation spectrum's peak at the design condition, Hz.
        source_offset_db: the ship's own cavitation-level offset, dB.
        blade_modulation: amplitude-modulation depths at 1, 2 and 3 x the blade rate.
        shaft_modulation: amplitude-modulation depth at the shaft rate.
        engine_level_db: level of the main engine's firing-rate line, dB re 1 µPa @ 1 m.
        blade_line_level_db: level of the blade-rate line, dB re 1 µPa @ 1 m.
        grid_hz: nominal electrical frequency, Hz.
        generator_rpm: diesel-generator rpm (synchronous with the grid).
        generator_cylinders: diesel-generator cylinders (four-stroke).
        generator_level_db: level of the generators' firing-rate line, dB re 1 µPa @ 1 m.
        electrical_level_db: level of the fundamental electrical line, dB re 1 µPa @ 1 m.
        line_offsets_db: fixed per-harmonic level offsets of the ship's lines, dB (its "signature").
        conditions: the pass conditions it can be in, with their probabilities.
    """

    name: str
    ship_class: str
    subtype: str
    ais_code: int
    length_m: float
    typical_speed_kn: float
    design_shaft_rpm: float
    blades: int
    propellers: int
    propeller_diameter_m: float
    propeller_depth_m: float
    propulsion: str
    cylinders: int
    design_engine_rpm: float
    pitch: str
    cavitation_peak_hz: float
    source_offset_db: float
    blade_modulation: tuple[float, float, float]
    shaft_modulation: float
    engine_level_db: float
    blade_line_level_db: float
    grid_hz: float
    generator_rpm: float
    generator_cylinders: int
    generator_level_db: float
    electrical_level_db: float
    line_offsets_db: tuple[float, ...]
    conditions: dict[str, float]


@dataclass(frozen=True)
class ShipPass:
    """One recording of a ship passing the hydrophone: the day's operating point, geometry and environment.

    Attributes:
        condition: the pass condition (a key of :data:`CONDITIONS`).
        date: ``YYYYMMDD``; time: ``HHMMSS`` (the recording's start).
        speed_kn: speed over ground, knots.
        shaft_rpm: shaft rate, rpm; blade_rate_hz: shaft rate x blades, Hz.
        engine_rpm: main-engine rpm (0: none); firing_rate_hz: its firing rate, Hz (0: none).
        tip_speed_m_s: propeller tip speed pi D n, m/s.
        cavitation_peak_hz: the day's cavitation spectrum peak, Hz.
        cavitation_level_db: cavitation spectrum level at the peak, dB re 1 µPa²/Hz @ 1 m.
        blade_modulation, shaft_modulation: the day's modulation depths (sum <= 0.9).
        machinery_level_db: broadband machinery level below 100 Hz, dB re 1 µPa²/Hz @ 1 m
            (:func:`machinery_spectrum_db`): the main engine's line level (generators' on diesel-electric ships)
            - 20 dB.
        propeller_depth_m: source depth, m.
        source_depth_spread_m: half-width of the source's depth extent (0.35 x propeller diameter), m.
        grid_hz: the day's electrical frequency, Hz.
        tonals: the lines radiated (:class:`Tonal`).
        cpa_m: horizontal closest-point-of-approach range, m.
        t_cpa_s: time of the CPA from the recording's start, s (may lie outside the recording).
        receiver_depth_m: hydrophone depth, m.
        wind_m_s: wind speed at 10 m, m/s.
        shipping_level: distant-shipping density, 0 (light) .. 1 (heavy).
        shrimp_rate_hz: snapping-shrimp click rate, 1/s (0: none).
        shrimp_level_db: range of the clicks' received peak levels, dB re 1 µPa.
        whistles: number of whistles in the recording.
    """

    condition: str
    date: str
    time: str
    speed_kn: float
    shaft_rpm: float
    blade_rate_hz: float
    engine_rpm: float
    firing_rate_hz: float
    tip_speed_m_s: float
    cavitation_peak_hz: float
    cavitation_level_db: float
    blade_modulation: tuple[float, float, float]
    shaft_modulation: float
    machinery_level_db: float
    propeller_depth_m: float
    source_depth_spread_m: float
    grid_hz: float
    tonals: tuple[Tonal, ...]
    cpa_m: float
    t_cpa_s: float
    receiver_depth_m: float
    wind_m_s: float
    shipping_level: float
    shrimp_rate_hz: float
    shrimp_level_db: tuple[float, float]
    whistles: int

    def horizontal_range_m(self, t_s: np.ndarray | float) -> np.ndarray:
        """Horizontal ship-hydrophone range at times ``t_s`` (s from the recording's start), m; shape of
        ``t_s``."""
        along = self.speed_kn * KNOT_M_S * (np.asarray(t_s, dtype=np.float64) - self.t_cpa_s)
        return np.sqrt(self.cpa_m**2 + along**2)


# ---------------------------------------------------------------------------------------------------------------
# Physics


def thorp_absorption_db_per_km(f_hz: np.ndarray | float) -> np.ndarray:
    """Thorp's sea-water absorption, dB/km, at frequencies ``f_hz`` (Hz; any shape):
    ``0.11 f^2 / (1 + f^2) + 44 f^2 / (4100 + f^2) + 2.75e-4 f^2 + 0.003`` with ``f`` in kHz."""
    f2 = (np.asarray(f_hz, dtype=np.float64) / 1000.0) ** 2
    return 0.11 * f2 / (1.0 + f2) + 44.0 * f2 / (4100.0 + f2) + 2.75e-4 * f2 + 0.003


def surface_coherence(
    f_hz: np.ndarray | float,
    grazing_sin: np.ndarray | float,
    wave_rms_m: float,
    *,
    sound_speed: float = SOUND_SPEED_M_S,
) -> np.ndarray:
    """Coherent part of the sea-surface reflection (Rayleigh parameter): ``exp(-2 (k sigma sin theta)^2)``, with
    ``k = 2 pi f / c``, ``sigma`` the rms wave height (m) and ``theta`` the grazing angle; broadcast shape."""
    k = 2.0 * np.pi * np.asarray(f_hz, dtype=np.float64) / sound_speed
    return np.exp(-2.0 * (k * wave_rms_m * np.asarray(grazing_sin, dtype=np.float64)) ** 2)


def wave_rms_height_m(wind_m_s: float) -> float:
    """Rms sea-surface elevation, m, of a fully developed sea (Pierson-Moskowitz: significant wave height ``0.21
    U^2 / g``, rms = a quarter of it); an upper bound in fetch-limited waters."""
    return 0.21 * wind_m_s**2 / 9.81 / 4.0


def lloyd_mirror_gain(
    f_hz: np.ndarray | float,
    horizontal_range_m: np.ndarray | float,
    source_depth_m: float,
    receiver_depth_m: float,
    *,
    sound_speed: float = SOUND_SPEED_M_S,
    coherence: np.ndarray | float = 1.0,
    source_depth_spread_m: float = 0.0,
) -> np.ndarray:
    """Mean-square pressure of direct + surface-reflected paths relative to the direct path alone (Lloyd's mirror).

    With direct and image slant ranges ``R1``, ``R2``, ``rho = R1 / R2``, path difference ``d = R2 - R1`` and the
    reflection's coherent fraction ``mu`` (:func:`surface_coherence`; 1: a flat surface, reflection coefficient
    -1): ``G = 1 + rho^2 - 2 mu rho cos(k d)``. Far from the source (``R >> depths``) and with ``mu = 1`` this is
    ``4 sin^2(k z_s z_r / R)``: ~ ``(2 k z_s z_r / R)^2`` at low frequency (the dipole's 6 dB/octave loss),
    oscillating about 2 (+3 dB) at high frequency.

    A source spread uniformly over depths ``z_s +- a`` (``a`` = ``source_depth_spread_m``: cavitation over the
    propeller disc) averages the interference term: ``cos(k d)`` becomes ``cos(k d) sinc(k a d'(z_s) / pi)`` with
    ``d' = dd/dz_s = (z_r + z_s) / R2 + (z_r - z_s) / R1`` (numpy's ``sinc``), so the high-frequency nulls fill in
    (G -> 1 + rho^2) while the low-frequency dipole loss stays.

    Args:
        f_hz: frequencies, Hz; horizontal_range_m: horizontal ranges, m (the two broadcast together).
        source_depth_m, receiver_depth_m: depths below the surface, m.
        sound_speed: m/s; coherence: ``mu``, broadcastable to the result.
        source_depth_spread_m: half-width ``a`` of the source's depth extent, m (0: a point source).

    Returns:
        The power gain (dimensionless), broadcast shape of the inputs.
    """
    f = np.asarray(f_hz, dtype=np.float64)
    x = np.asarray(horizontal_range_m, dtype=np.float64)
    r1 = np.sqrt(x**2 + (receiver_depth_m - source_depth_m) ** 2)
    r2 = np.sqrt(x**2 + (receiver_depth_m + source_depth_m) ** 2)
    d = 4.0 * source_depth_m * receiver_depth_m / (r1 + r2)  # = r2 - r1, without cancellation
    rho = r1 / r2
    k = 2.0 * np.pi * f / sound_speed
    interference = np.cos(k * d)
    if source_depth_spread_m > 0:
        slope = (receiver_depth_m + source_depth_m) / r2 + (receiver_depth_m - source_depth_m) / r1
        interference = interference * np.sinc(k * source_depth_spread_m * slope / np.pi)
    return 1.0 + rho**2 - 2.0 * np.asarray(coherence) * rho * interference


def transmission_loss_db(
    f_hz: np.ndarray | float,
    horizontal_range_m: np.ndarray | float,
    source_depth_m: float,
    receiver_depth_m: float = RECEIVER_DEPTH_M,
    *,
    wave_rms_m: float = 0.0,
    source_depth_spread_m: float = 0.0,
    sound_speed: float = SOUND_SPEED_M_S,
) -> np.ndarray:
    """Transmission loss, dB: ``20 log10 R1 + alpha(f) R1 / 1000 - 10 log10 G`` with ``R1`` the direct slant range
    (m), ``alpha`` Thorp's absorption (dB/km) and ``G`` the Lloyd's-mirror gain (:func:`lloyd_mirror_gain`; a
    rough surface of rms height ``wave_rms_m`` makes the reflection partly incoherent, a source spread over
    ``+- source_depth_spread_m`` fills the high-frequency nulls). Broadcast shape of ``f_hz`` and the range."""
    f = np.asarray(f_hz, dtype=np.float64)
    x = np.asarray(horizontal_range_m, dtype=np.float64)
    r1 = np.sqrt(x**2 + (receiver_depth_m - source_depth_m) ** 2)
    r2 = np.sqrt(x**2 + (receiver_depth_m + source_depth_m) ** 2)
    mu = surface_coherence(f, (receiver_depth_m + source_depth_m) / r2, wave_rms_m, sound_speed=sound_speed)
    gain = lloyd_mirror_gain(
        f,
        x,
        source_depth_m,
        receiver_depth_m,
        sound_speed=sound_speed,
        coherence=mu,
        source_depth_spread_m=source_depth_spread_m,
    )
    return 20.0 * np.log10(r1) + thorp_absorption_db_per_km(f) * r1 / 1000.0 - 10.0 * np.log10(np.maximum(gain, 1e-12))


def cavitation_spectrum_db(f_hz: np.ndarray | float, peak_level_db: float, peak_hz: float) -> np.ndarray:
    """Cavitation source spectrum level, dB re 1 µPa²/Hz @ 1 m: ``peak_level_db + 10 log10(2 x^2 / (1 + x^4))``
    with ``x = f / peak_hz``: +20 dB/decade below the peak, -20 dB/decade above it; shape of ``f_hz``
    (-300 dB at 0 Hz)."""
    x = np.asarray(f_hz, dtype=np.float64) / peak_hz
    shape = 2.0 * x**2 / (1.0 + x**4)
    return peak_level_db + 10.0 * np.log10(np.maximum(shape, 1e-30))


def machinery_spectrum_db(f_hz: np.ndarray | float, level_db: float) -> np.ndarray:
    """Broadband machinery and hull noise, dB re 1 µPa²/Hz @ 1 m: ``level_db - 10 log10(1 + (f / 100 Hz)^2)``,
    flat below ~100 Hz and -20 dB/decade above (Ross 1976: machinery dominates a ship's spectrum at low
    frequencies); shape of ``f_hz``."""
    f = np.asarray(f_hz, dtype=np.float64)
    return level_db - 10.0 * np.log10(1.0 + (f / 100.0) ** 2)


def cavitation_peak_level_db(
    tip_speed_m_s: float, diameter_m: float, blades: int, propellers: int = 1, offset_db: float = 0.0
) -> float:
    """Cavitation spectrum level at its peak, dB re 1 µPa²/Hz @ 1 m: ``147 + 60 log10(u_tip / 30) + 20 log10(D /
    5) + 10 log10(B / 4) + 10 log10(n_propellers) + offset_db`` (tip speed in m/s, diameter in m)."""
    return (
        147.0
        + 60.0 * math.log10(tip_speed_m_s / 30.0)
        + 20.0 * math.log10(diameter_m / 5.0)
        + 10.0 * math.log10(blades / 4.0)
        + 10.0 * math.log10(propellers)
        + offset_db
    )


def wenz_ambient_psd(f_hz: np.ndarray | float, wind_m_s: float, shipping_level: float) -> np.ndarray:
    """Ambient-noise spectrum level after Wenz (1962), dB re 1 µPa²/Hz; shape of ``f_hz`` (Hz).

    Sum of the powers of:

    - wind (sea surface): ``L1k + 10 log10((f / 1 kHz)^-1.7 (1 + 0.09) / (1 + (300 Hz / f)^2))``, i.e. -17
      dB/decade above ~500 Hz, flattening below ~300 Hz; ``L1k = 50 + 19 log10(U / 2.06 m/s)`` fits Knudsen's
      levels at 1 kHz (sea state 1: 50 dB, 4: 61.5, 6: 66.5) against their wind speeds; ``U`` is floored at 0.5
      m/s.
    - distant shipping: ``65 + 20 s`` dB at its peak near 46 Hz (``s`` = ``shipping_level``, 0 light .. 1
      heavy), shape ``x^2 / (1 + x^5)`` with ``x = f / 50 Hz`` (+20 dB/decade below, -30 dB/decade above).
    - thermal noise (Mellen 1952): ``-15 + 20 log10(f / 1 kHz)``.
    - turbulence / flow below ~20 Hz (Coates 1989's fit to Wenz): ``107 - 30 log10(f / 1 Hz)``, held at 107 dB
      below 1 Hz.
    """
    f = np.maximum(np.asarray(f_hz, dtype=np.float64), 1e-3)
    level_1k = 50.0 + 19.0 * math.log10(max(wind_m_s, 0.5) / 2.06)
    wind = 10.0 ** (level_1k / 10.0) * (f / 1000.0) ** -1.7 * 1.09 / (1.0 + (300.0 / f) ** 2)
    x = f / 50.0
    x_peak = (2.0 / 3.0) ** 0.2
    shipping = 10.0 ** ((65.0 + 20.0 * shipping_level) / 10.0) * (x**2 / (1.0 + x**5)) / (x_peak**2 / (1 + x_peak**5))
    thermal = 10.0 ** ((-15.0 + 20.0 * np.log10(f / 1000.0)) / 10.0)
    turbulence = 10.0 ** ((107.0 - 30.0 * np.log10(np.maximum(f, 1.0))) / 10.0)
    return 10.0 * np.log10(wind + shipping + thermal + turbulence)


# ---------------------------------------------------------------------------------------------------------------
# Drawing ships and passes


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _choice(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _weighted(rng: np.random.Generator, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _check_class(ship_class: str, parameter: str = "ship_class") -> None:
    if ship_class not in SHIP_CLASSES:
        raise ConfigError(f"{parameter}: unknown class {ship_class!r}; the known classes are {list(SHIP_CLASSES)}")


def ship_name(ship_class: str, rng: np.random.Generator) -> str:
    """A made-up upper-case ship name in the style of the class (e.g. ``QUEEN OF CEDAR``, ``SEA HAWK``)."""
    _check_class(ship_class)
    first, second = _NAME_WORDS[ship_class]
    return f"{_choice(rng, first)} {_choice(rng, second)}"


def draw_ship(ship_class: str, rng: np.random.Generator, *, name: str | None = None) -> Ship:
    """Draw one ship of ``ship_class`` from :data:`SHIP_CLASSES` (name drawn by :func:`ship_name` unless
    given)."""
    _check_class(ship_class)
    table = SHIP_CLASSES[ship_class]
    subtype = _weighted(rng, {k: v["weight"] for k, v in table["subtypes"].items()})
    spec = table["subtypes"][subtype]
    drawn_name = ship_name(ship_class, rng)
    ais = int(_weighted(rng, table["ais_codes"]))
    size = float(rng.uniform())
    length = spec["length_m"][0] + size * (spec["length_m"][1] - spec["length_m"][0])
    # larger ship, larger and slower propeller
    slow = float(np.clip(size + rng.normal(0.0, 0.1), 0.0, 1.0))
    shaft = spec["shaft_rpm"][1] - slow * (spec["shaft_rpm"][1] - spec["shaft_rpm"][0])
    speed = _uniform(rng, spec["speed_kn"])
    blades = int(_choice(rng, spec["blades"]))
    diameter = length * _uniform(rng, spec["diameter_per_length"])
    depth = _uniform(rng, spec["propeller_depth_m"])
    cylinders = int(_choice(rng, spec["cylinders"]))
    propulsion = spec["propulsion"]
    if propulsion == "two-stroke direct":
        engine_rpm = shaft
    elif propulsion == "four-stroke geared":
        engine_rpm = _uniform(rng, spec["engine_rpm"])
    else:
        engine_rpm = 0.0
    m1 = float(rng.uniform(0.25, 0.6))
    m2 = m1 * float(rng.uniform(0.3, 0.7))
    m3 = m2 * float(rng.uniform(0.3, 0.7))
    grid = 60.0 if rng.uniform() < 0.8 else 50.0
    # synchronous generator speed = 120 f / poles
    poles = _choice(rng, (6, 8, 10, 12, 14) if subtype == "cruise ship" else (4, 6, 8, 10))
    generator_rpm = 120.0 * grid / poles
    return Ship(
        name=name if name is not None else drawn_name,
        ship_class=ship_class,
        subtype=subtype,
        ais_code=ais,
        length_m=length,
        typical_speed_kn=speed,
        design_shaft_rpm=shaft,
        blades=blades,
        propellers=int(spec["propellers"]),
        propeller_diameter_m=diameter,
        propeller_depth_m=depth,
        propulsion=propulsion,
        cylinders=cylinders,
        design_engine_rpm=engine_rpm,
        pitch=spec["pitch"],
        cavitation_peak_hz=_uniform(rng, spec["cavitation_peak_hz"]),
        source_offset_db=_uniform(rng, spec["source_offset_db"]),
        blade_modulation=(m1, m2, m3),
        shaft_modulation=float(rng.uniform(0.03, 0.15)),
        engine_level_db=_uniform(rng, spec["engine_level_db"]),
        blade_line_level_db=_uniform(rng, spec["blade_line_level_db"]),
        grid_hz=grid,
        generator_rpm=generator_rpm,
        generator_cylinders=int(_choice(rng, (6, 8, 9, 12))),
        generator_level_db=_uniform(rng, spec["generator_level_db"]),
        electrical_level_db=_uniform(rng, spec["electrical_level_db"]),
        line_offsets_db=tuple(float(v) for v in rng.normal(0.0, 3.0, size=32)),
        conditions=dict(spec["conditions"]),
    )


def machinery_tonals(
    ship: Ship, *, shaft_rpm: float, engine_rpm: float, grid_hz: float, max_hz: float
) -> tuple[Tonal, ...]:
    """The lines a ship radiates at an operating point, below ``max_hz`` (and above 1 Hz).

    - ``blade``: k x blade rate, k = 1..3, ``blade_line_level_db - 6 (k - 1)``.
    - ``engine firing``: k x firing rate (two-stroke: engine rate x cylinders; four-stroke: x cylinders / 2),
      k = 1..8 and below 1.5 kHz, ``engine_level_db - 3 (k - 1)``; ``engine order``: 1 and 2 x the engine
      rotation rate (four-stroke also 0.5 x: camshaft), 12 dB below the firing line.
    - ``generator firing``: k x generator rpm / 60 x cylinders / 2, k = 1..3, ``generator_level_db - 4 (k - 1)``.
    - ``electrical``: k x grid frequency, k = 1..8, ``electrical_level_db - 3 (k - 1)``, even harmonics 4 dB
      weaker.

    Each line also gets the ship's fixed offset ``line_offsets_db[i]``.
    """
    lines: list[tuple[float, float, str]] = []
    blade_rate = shaft_rpm / 60.0 * ship.blades
    for k in range(1, 4):
        lines.append((k * blade_rate, ship.blade_line_level_db - 6.0 * (k - 1), "blade"))
    if ship.cylinders > 0 and engine_rpm > 0:
        rate = engine_rpm / 60.0
        firing = rate * ship.cylinders / (1.0 if ship.propulsion == "two-stroke direct" else 2.0)
        for k in range(1, 9):
            if k * firing < 1500.0:
                lines.append((k * firing, ship.engine_level_db - 3.0 * (k - 1), "engine firing"))
        orders = (1.0, 2.0) if ship.propulsion == "two-stroke direct" else (0.5, 1.0, 2.0)
        for order in orders:
            lines.append((order * rate, ship.engine_level_db - 12.0, "engine order"))
    gen_firing = ship.generator_rpm / 60.0 * ship.generator_cylinders / 2.0 * grid_hz / ship.grid_hz
    for k in range(1, 4):
        lines.append((k * gen_firing, ship.generator_level_db - 4.0 * (k - 1), "generator firing"))
    for k in range(1, 9):
        level = ship.electrical_level_db - 3.0 * (k - 1) - (4.0 if k % 2 == 0 else 0.0)
        lines.append((k * grid_hz, level, "electrical"))
    offsets = ship.line_offsets_db
    return tuple(
        Tonal(float(f), float(level + offsets[i % len(offsets)]), kind)
        for i, (f, level, kind) in enumerate(lines)
        if 1.0 < f < max_hz
    )


def draw_pass(
    ship: Ship,
    rng: np.random.Generator,
    *,
    duration_s: float,
    sample_rate: int,
    when: datetime | None = None,
) -> ShipPass:
    """Draw one recording of ``ship``: condition, speed and shaft rate, geometry (CPA ~ U(200, 2000) m, the
    recording placed on the track so that the ship stays within 2 km when it can), wind (Rayleigh, mean ~5.3 m/s,
    1..20 m/s), shipping density U(0.3, 1) (a busy strait), biology; ``when`` (the recording's start) is drawn
    in :data:`RECORDING_PERIOD` unless given. Lines are kept below 0.45 x ``sample_rate``."""
    condition = _weighted(rng, ship.conditions)
    cond = CONDITIONS[condition]
    class_speed = _class_speed_range(ship)
    if "speed_kn" in cond:  # towing: slow, shaft near its design rate
        speed = _uniform(rng, cond["speed_kn"])
        shaft = ship.design_shaft_rpm * _uniform(rng, cond["shaft_fraction"])
    else:
        speed = float(np.clip(ship.typical_speed_kn * _uniform(rng, cond["speed_factor"]), *class_speed))
        shaft = (
            ship.design_shaft_rpm
            if ship.pitch == "controllable"
            else ship.design_shaft_rpm * speed / ship.typical_speed_kn
        )
    if ship.propulsion == "two-stroke direct":
        engine_rpm = shaft
    elif ship.propulsion == "four-stroke geared":
        engine_rpm = ship.design_engine_rpm * shaft / ship.design_shaft_rpm
    else:
        engine_rpm = 0.0
    if engine_rpm > 0:
        firing = engine_rpm / 60.0 * ship.cylinders / (1.0 if ship.propulsion == "two-stroke direct" else 2.0)
    else:
        firing = 0.0
    tip = math.pi * ship.propeller_diameter_m * shaft / 60.0
    design_tip = math.pi * ship.propeller_diameter_m * ship.design_shaft_rpm / 60.0
    peak_hz = ship.cavitation_peak_hz * float(np.clip(design_tip / tip, 0.7, 1.4))
    level = cavitation_peak_level_db(
        tip,
        ship.propeller_diameter_m,
        ship.blades,
        ship.propellers,
        ship.source_offset_db + cond["cavitation_offset_db"] + float(np.clip(rng.normal(0.0, 1.0), -2.0, 2.0)),
    )
    modulation = np.array(ship.blade_modulation) * cond["modulation_factor"]
    shaft_mod = ship.shaft_modulation
    total = modulation.sum() + shaft_mod
    if total > 0.9:
        modulation, shaft_mod = modulation * 0.9 / total, shaft_mod * 0.9 / total
    depth = ship.propeller_depth_m * _uniform(rng, cond["depth_factor"])
    grid = ship.grid_hz * (1.0 + float(rng.normal(0.0, 0.001)))
    tonals = machinery_tonals(ship, shaft_rpm=shaft, engine_rpm=engine_rpm, grid_hz=grid, max_hz=0.45 * sample_rate)
    cpa = _uniform(rng, CPA_RANGE_M)
    v = speed * KNOT_M_S
    half_track = math.sqrt(max(MAX_RANGE_M**2 - cpa**2, 0.0))
    travel = v * duration_s
    # the recording starts at along-track position x_start (m, negative: approaching)
    fits = travel <= 2.0 * half_track
    x_start = float(rng.uniform(-half_track, half_track - travel)) if fits else -travel / 2.0
    t_cpa = -x_start / v
    wind = float(np.clip(rng.rayleigh(4.2), 1.0, 20.0))
    shipping = float(rng.uniform(0.3, 1.0))
    shrimp_rate = float(rng.uniform(0.5, 20.0)) if rng.uniform() < 0.6 else 0.0
    shrimp_low = float(rng.uniform(95.0, 110.0))
    shrimp_level = (shrimp_low, shrimp_low + float(rng.uniform(5.0, 15.0)))
    whistles = int(rng.integers(1, 5)) if rng.uniform() < 0.2 else 0
    if when is None:
        days = (RECORDING_PERIOD[1] - RECORDING_PERIOD[0]).days + 1
        when = datetime.combine(RECORDING_PERIOD[0], datetime.min.time()) + timedelta(
            days=int(rng.integers(days)), seconds=int(rng.integers(86400))
        )
    return ShipPass(
        condition=condition,
        date=when.strftime("%Y%m%d"),
        time=when.strftime("%H%M%S"),
        speed_kn=speed,
        shaft_rpm=shaft,
        blade_rate_hz=shaft / 60.0 * ship.blades,
        engine_rpm=engine_rpm,
        firing_rate_hz=firing,
        tip_speed_m_s=tip,
        cavitation_peak_hz=peak_hz,
        cavitation_level_db=level,
        blade_modulation=(float(modulation[0]), float(modulation[1]), float(modulation[2])),
        shaft_modulation=float(shaft_mod),
        machinery_level_db=(ship.engine_level_db if engine_rpm > 0 else ship.generator_level_db) - 20.0,
        propeller_depth_m=depth,
        source_depth_spread_m=0.35 * ship.propeller_diameter_m,
        grid_hz=grid,
        tonals=tonals,
        cpa_m=cpa,
        t_cpa_s=t_cpa,
        receiver_depth_m=RECEIVER_DEPTH_M,
        wind_m_s=wind,
        shipping_level=shipping,
        shrimp_rate_hz=shrimp_rate,
        shrimp_level_db=shrimp_level,
        whistles=whistles,
    )


def _class_speed_range(ship: Ship) -> tuple[float, float]:
    spec = SHIP_CLASSES[ship.ship_class]["subtypes"][ship.subtype]
    return (spec["speed_kn"][0] * 0.8, spec["speed_kn"][1] * 1.05)


# ---------------------------------------------------------------------------------------------------------------
# Synthesis (all pressures in µPa, float64)


def _shaped_noise(rng: np.random.Generator, n: int, sample_rate: int, psd: np.ndarray) -> np.ndarray:
    """Gaussian noise of ``n`` samples whose one-sided PSD at the ``rfft`` bins is ``psd`` (units²/Hz)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    gain = np.sqrt(psd * sample_rate / 2.0)  # white unit variance has one-sided PSD 2 / fs
    gain[0] = 0.0
    return np.fft.irfft(spectrum * gain, n)


def synthesise_ship_noise(
    ship: Ship, ship_pass: ShipPass, *, duration_s: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """The ship's radiated pressure at 1 m from its propeller, µPa; shape ``(round(duration_s * sample_rate),)``.

    Blade-rate-modulated cavitation noise (``(1 + sum_h m_h cos(2 pi h f_b t + phi_h) + m_s cos(2 pi f_shaft t +
    phi_s)) / sqrt(1 + sum m^2 / 2)`` times Gaussian noise of spectrum :func:`cavitation_spectrum_db`, so its mean
    spectrum is that level), unmodulated machinery noise (:func:`machinery_spectrum_db`) and the pass's tonals
    (``sqrt(2) 10^(L / 20) cos(2 pi f t + phi)``). Its mean spectrum level is :func:`ship_source_psd_db`."""
    n = round(duration_s * sample_rate)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    psd = 10.0 ** (cavitation_spectrum_db(f, ship_pass.cavitation_level_db, ship_pass.cavitation_peak_hz) / 10.0)
    noise = _shaped_noise(rng, n, sample_rate, psd)
    machinery_psd = 10.0 ** (machinery_spectrum_db(f, ship_pass.machinery_level_db) / 10.0)
    machinery = _shaped_noise(rng, n, sample_rate, machinery_psd)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=4 + len(ship_pass.tonals))
    depths = np.array([*ship_pass.blade_modulation, ship_pass.shaft_modulation])
    rates = ship_pass.blade_rate_hz * np.array([1.0, 2.0, 3.0, 1.0 / ship.blades])
    envelope = 1.0 + sum_of_sinusoids(rates, depths, phases[:4], n, sample_rate)
    signal = noise * envelope / math.sqrt(1.0 + float(np.sum(depths**2)) / 2.0) + machinery
    if ship_pass.tonals:
        freqs = np.array([tonal.frequency_hz for tonal in ship_pass.tonals])
        amplitudes = math.sqrt(2.0) * 10.0 ** (np.array([tonal.level_db for tonal in ship_pass.tonals]) / 20.0)
        signal += sum_of_sinusoids(freqs, amplitudes, phases[4:], n, sample_rate)
    return signal


def sum_of_sinusoids(
    freqs_hz: np.ndarray, amplitudes: np.ndarray, phases: np.ndarray, n_samples: int, sample_rate: int
) -> np.ndarray:
    """``sum_j a_j cos(2 pi f_j t + phi_j)`` at ``t = arange(n_samples) / sample_rate``; shape ``(n_samples,)``.

    Computed exactly as one complex matrix product: with blocks of ``B ~ sqrt(n)`` samples, ``exp(i w (n0 + m)) =
    exp(i w n0) exp(i w m)``, so the sum is ``Re(P @ Q)`` with ``P[b, j] = a_j exp(i (phi_j + w_j b B))`` and
    ``Q[j, m] = exp(i w_j m)``: about ``n`` complex multiply-adds per line instead of a cosine per sample."""
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    coeff = np.asarray(amplitudes, dtype=np.float64) * np.exp(1j * np.asarray(phases, dtype=np.float64))
    block = max(math.isqrt(n_samples), 1)
    n_blocks = -(-n_samples // block)
    omega = 2.0 * np.pi * freqs / sample_rate
    p = coeff[None, :] * np.exp(1j * np.outer(np.arange(n_blocks) * float(block), omega))
    q = np.exp(1j * np.outer(omega, np.arange(block)))
    return (p @ q).real.ravel()[:n_samples]


def ship_source_psd_db(f_hz: np.ndarray | float, ship_pass: ShipPass) -> np.ndarray:
    """The broadband part of a pass's source spectrum (cavitation + machinery, without the lines), dB re 1
    µPa²/Hz @ 1 m; shape of ``f_hz``."""
    cavitation_db = cavitation_spectrum_db(f_hz, ship_pass.cavitation_level_db, ship_pass.cavitation_peak_hz)
    cavitation = 10.0 ** (cavitation_db / 10.0)
    machinery = 10.0 ** (machinery_spectrum_db(f_hz, ship_pass.machinery_level_db) / 10.0)
    return 10.0 * np.log10(cavitation + machinery)


def _frame_length(sample_rate: int) -> int:
    return int(2 ** round(math.log2(0.064 * sample_rate)))


def propagate(source_upa: np.ndarray, ship_pass: ShipPass, *, sample_rate: int) -> np.ndarray:
    """The received pressure (µPa) of a source signal at 1 m (µPa) as the ship passes: STFT (Hann frames of ~64
    ms, 50 % overlap), each frame times ``10^(-TL(f, x(t_frame)) / 20)`` (:func:`transmission_loss_db` with the
    pass's depths and depth spread and the wind's rms wave height), inverse STFT; same shape as ``source_upa``."""
    n = len(source_upa)
    nperseg = min(_frame_length(sample_rate), n)
    f, t, z = scipy.signal.stft(source_upa, fs=sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg // 2)
    x = ship_pass.horizontal_range_m(t)
    tl = transmission_loss_db(
        f[:, None],
        x[None, :],
        ship_pass.propeller_depth_m,
        ship_pass.receiver_depth_m,
        wave_rms_m=wave_rms_height_m(ship_pass.wind_m_s),
        source_depth_spread_m=ship_pass.source_depth_spread_m,
    )
    _, out = scipy.signal.istft(z * 10.0 ** (-tl / 20.0), fs=sample_rate, window="hann", nperseg=nperseg,
                                noverlap=nperseg // 2)  # fmt: skip
    return out[:n]


def synthesise_ambient(
    n_samples: int, sample_rate: int, *, wind_m_s: float, shipping_level: float, rng: np.random.Generator
) -> np.ndarray:
    """Ambient sea noise at the hydrophone, µPa; shape ``(n_samples,)``: Gaussian with the spectrum level
    :func:`wenz_ambient_psd`."""
    f = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    psd = 10.0 ** (wenz_ambient_psd(f, wind_m_s, shipping_level) / 10.0)
    return _shaped_noise(rng, n_samples, sample_rate, psd)


def synthesise_biological(
    n_samples: int,
    sample_rate: int,
    *,
    shrimp_rate_hz: float,
    shrimp_level_db: tuple[float, float],
    whistles: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Biological transients at the hydrophone, µPa; shape ``(n_samples,)``.

    Snapping-shrimp clicks: Poisson times at ``shrimp_rate_hz``, received peak levels U(``shrimp_level_db``) dB
    re 1 µPa, each a decaying broadband pulse ``exp(-t / tau) cos(2 pi f_c t)`` (tau 0.1-0.3 ms, f_c 2-6 kHz
    below 0.35 fs). Whistles: ``whistles`` chirps of 0.3-1.5 s, a start frequency of 1.5-10 kHz (below 0.4 fs)
    sweeping by a factor 0.6-1.6 with a slow wobble, a Hann envelope, received 95-115 dB re 1 µPa rms, plus their
    second harmonic 10 dB down where it lies below 0.45 fs."""
    out = np.zeros(n_samples)
    n_clicks = int(rng.poisson(shrimp_rate_hz * n_samples / sample_rate)) if shrimp_rate_hz > 0 else 0
    if n_clicks:
        tau = rng.uniform(1e-4, 3e-4)
        fc = min(rng.uniform(2000.0, 6000.0), 0.35 * sample_rate)
        kt = np.arange(max(int(8 * tau * sample_rate), 2)) / sample_rate
        kernel = np.exp(-kt / tau) * np.cos(2.0 * np.pi * fc * kt)
        starts = rng.integers(0, n_samples, size=n_clicks)
        amps = 10.0 ** (rng.uniform(*shrimp_level_db, size=n_clicks) / 20.0)
        index = starts[:, None] + np.arange(len(kernel))[None, :]
        keep = index < n_samples
        np.add.at(out, index[keep], (amps[:, None] * kernel[None, :])[keep])
    for _ in range(whistles):
        duration = min(rng.uniform(0.3, 1.5), n_samples / sample_rate)
        m = max(int(duration * sample_rate), 2)
        start = int(rng.integers(0, n_samples - m + 1))
        f0 = rng.uniform(1500.0, min(10000.0, 0.4 * sample_rate))
        f1 = min(f0 * rng.uniform(0.6, 1.6), 0.45 * sample_rate)
        tau = np.arange(m) / sample_rate
        inst = f0 + (f1 - f0) * tau / duration + 0.05 * f0 * np.sin(2.0 * np.pi * rng.uniform(1.0, 4.0) * tau)
        phase = 2.0 * np.pi * np.cumsum(inst) / sample_rate
        amp = math.sqrt(2.0) * 10.0 ** (rng.uniform(95.0, 115.0) / 20.0) * np.hanning(m)
        chirp = np.cos(phase)
        if np.max(2.0 * inst) < 0.45 * sample_rate:
            chirp = chirp + 10.0 ** (-10.0 / 20.0) * np.cos(2.0 * phase)
        out[start : start + m] += amp * chirp
    return out


def simulate_recording(
    ship: Ship,
    ship_pass: ShipPass,
    *,
    duration_s: float,
    sample_rate: int,
    rng: np.random.Generator,
    ship_noise: bool = True,
    ambient: bool = True,
    biological: bool = True,
) -> np.ndarray:
    """The received pressure of one recording, µPa; shape ``(round(duration_s * sample_rate),)``.

    ``rng`` is split into three independent streams (ship, ambient, biology) so that switching one component
    off leaves the others' samples unchanged."""
    n = round(duration_s * sample_rate)
    rng_ship, rng_ambient, rng_bio = rng.spawn(3)
    out = np.zeros(n)
    if ship_noise:
        source = synthesise_ship_noise(ship, ship_pass, duration_s=duration_s, sample_rate=sample_rate, rng=rng_ship)
        out += propagate(source, ship_pass, sample_rate=sample_rate)
    if ambient:
        out += synthesise_ambient(
            n, sample_rate, wind_m_s=ship_pass.wind_m_s, shipping_level=ship_pass.shipping_level, rng=rng_ambient
        )
    if biological:
        out += synthesise_biological(
            n,
            sample_rate,
            shrimp_rate_hz=ship_pass.shrimp_rate_hz,
            shrimp_level_db=ship_pass.shrimp_level_db,
            whistles=ship_pass.whistles,
            rng=rng_bio,
        )
    return out


def to_full_scale(pressure_upa: np.ndarray, *, name: str = "recording") -> np.ndarray:
    """Pressure (µPa) to WAV sample values through the fixed recording chain (full scale = :data:`FULL_SCALE_DB`
    dB re 1 µPa), float32; samples beyond full scale are clipped with an ``AudioNotice`` naming ``name``."""
    x = np.asarray(pressure_upa, dtype=np.float64) / FULL_SCALE_UPA
    limit = 32767.0 / 32768.0
    over = np.abs(x) > limit
    if over.any():
        warnings.warn(
            f"{name}: {int(over.sum())} samples beyond full scale ({FULL_SCALE_DB:g} dB re 1 µPa) clipped",
            AudioNotice,
            stacklevel=2,
        )
        x = np.clip(x, -limit, limit)
    return x.astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# The DeepShip layout


def _record(ship: Ship, ship_pass: ShipPass, *, ship_index: int, duration_s: float, sample_rate: int) -> dict:
    ship_fields = asdict(ship)
    pass_fields = asdict(ship_pass)
    record: dict[str, Any] = {"class": ship.ship_class, "id": 0, "file": "", "ship": ship.name}
    record["ship_index"] = ship_index
    for key, value in ship_fields.items():
        if key in ("name", "ship_class"):
            continue
        record["ship_" + key if key in pass_fields else key] = value
    record.update(pass_fields)
    record["start_range_m"] = float(ship_pass.horizontal_range_m(0.0))
    record["end_range_m"] = float(ship_pass.horizontal_range_m(duration_s))
    record["duration_s"] = duration_s
    record["sample_rate"] = sample_rate
    return json.loads(json.dumps(record))  # tuples to lists, dataclasses to plain dicts


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ConfigError(f"{name}: expected an integer {bound}, got {value!r}")
    return int(value)


def _validate(
    classes: Sequence[str],
    ships_per_class: int,
    recordings_per_ship: int,
    duration_s: float,
    sample_rate: int,
    seed: int,
    subtype: str,
) -> list[str]:
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise ConfigError(f"classes: expected a non-empty list of class names from {list(DEEPSHIP_CLASSES)}, "
                          f"got {classes!r}")  # fmt: skip
    for name in classes:
        if name not in DEEPSHIP_CLASSES:
            raise ConfigError(f"classes: unknown class {name!r}; the known classes are {list(DEEPSHIP_CLASSES)}")
    if len(set(classes)) != len(classes):
        raise ConfigError(f"classes: each class may be named once, got {list(classes)}")
    _check_int("ships_per_class", ships_per_class, 1)
    days = (RECORDING_PERIOD[1] - RECORDING_PERIOD[0]).days + 1
    _check_int("recordings_per_ship", recordings_per_ship, 1, days)
    sample_rate = _check_int("sample_rate", sample_rate, 4000, 192000)
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or not math.isfinite(duration_s):
        raise ConfigError(f"duration_s: expected a number of seconds, got {duration_s!r}")
    if duration_s < 0.5:
        raise ConfigError(f"duration_s: expected >= 0.5 s (a recording must hold several ~64 ms frames), got "
                          f"{duration_s!r}")  # fmt: skip
    if duration_s * sample_rate > 2**26:
        raise ConfigError(f"duration_s: {duration_s} s at {sample_rate} Hz is more than 2^26 samples per recording")
    _check_int("seed", seed, 0)
    if subtype not in WAV_SUBTYPES:
        raise ConfigError(f"subtype: expected one of {list(WAV_SUBTYPES)}, got {subtype!r}")
    return list(classes)


def simulate_deepship(
    folder: Path,
    *,
    classes: Sequence[str] = DEEPSHIP_CLASSES,
    ships_per_class: int = 6,
    recordings_per_ship: int = 2,
    duration_s: float = 20.0,
    sample_rate: int = 16000,
    seed: int = 0,
    subtype: str = "PCM_16",
) -> list[dict]:
    """Write folder/<Class>/<id>.wav and folder/<Class>/<class lowercase>-metafile; return one dict per recording
    (class, id, ship name, every drawn parameter) and also write them to folder/recordings.json.

    Every class gets ``ships_per_class`` ships (names unique across the simulation), each recorded
    ``recordings_per_ship`` times on different days. Within a class the recordings are numbered 1, 2, ... in
    order of date and time; the metafile holds one headerless row per recording, ``id,AIS code,SHIP
    NAME,YYYYMMDD,HHMMSS,CPA m,start range-end range m,`` (trailing comma, as the real files). WAVs are mono,
    ``sample_rate`` Hz, ``subtype``, scaled by the fixed recording chain (:func:`to_full_scale`).

    Deterministic given ``seed``: ship ``i`` of a class and its recordings come from their own random streams
    (seeded by ``seed``, the class's position in :data:`DEEPSHIP_CLASSES`, ``i`` and the recording's number), so
    they do not depend on the other arguments except ``duration_s`` and ``sample_rate``. ``folder`` is created;
    it must not already hold a class folder with WAVs or a metafile.
    """
    class_list = _validate(classes, ships_per_class, recordings_per_ship, duration_s, sample_rate, seed, subtype)
    duration_s = float(duration_s)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"folder: {folder} exists and is not a folder")
    for name in class_list:
        sub = folder / name
        if sub.is_dir() and (any(sub.glob("*.wav")) or (sub / f"{name.lower()}-metafile").exists()):
            raise ConfigError(f"folder: {sub} already holds recordings; simulate into an empty or new folder")
    days = (RECORDING_PERIOD[1] - RECORDING_PERIOD[0]).days + 1
    start_of_period = datetime.combine(RECORDING_PERIOD[0], datetime.min.time())
    used_names: set[str] = set()
    records: list[dict] = []
    for name in class_list:
        class_index = DEEPSHIP_CLASSES.index(name)
        planned: list[tuple[datetime, int, Ship, ShipPass, int]] = []
        for i in range(ships_per_class):
            ship_rng = np.random.default_rng([seed, class_index, i, 0])
            ship = draw_ship(name, ship_rng)
            unique, suffix = ship.name, 2
            while unique in used_names:
                unique, suffix = f"{ship.name} {_roman(suffix)}", suffix + 1
            used_names.add(unique)
            ship = _replace_name(ship, unique)
            day_offsets = ship_rng.choice(days, size=recordings_per_ship, replace=False)
            for r in range(recordings_per_ship):
                pass_rng = np.random.default_rng([seed, class_index, i, 1, r])
                when = start_of_period + timedelta(days=int(day_offsets[r]), seconds=int(pass_rng.integers(86400)))
                ship_pass = draw_pass(ship, pass_rng, duration_s=duration_s, sample_rate=sample_rate, when=when)
                planned.append((when, i, ship, ship_pass, r))
        planned.sort(key=lambda item: (item[0], item[1], item[4]))
        class_dir = folder / name
        class_dir.mkdir(parents=True, exist_ok=True)
        rows: list[str] = []
        for rec_id, (_, i, ship, ship_pass, r) in enumerate(planned, start=1):
            signal_rng = np.random.default_rng([seed, class_index, i, 2, r])
            pressure = simulate_recording(ship, ship_pass, duration_s=duration_s, sample_rate=sample_rate,
                                          rng=signal_rng)  # fmt: skip
            wav = class_dir / f"{rec_id}.wav"
            sf.write(wav, to_full_scale(pressure, name=str(wav)), sample_rate, subtype=subtype, format="WAV")
            record = _record(ship, ship_pass, ship_index=i, duration_s=duration_s, sample_rate=sample_rate)
            record["id"] = rec_id
            record["file"] = f"{name}/{rec_id}.wav"
            records.append(record)
            start, end = round(record["start_range_m"]), round(record["end_range_m"])
            rows.append(f"{rec_id},{ship.ais_code},{ship.name},{ship_pass.date},{ship_pass.time},"
                        f"{round(ship_pass.cpa_m)},{start}-{end},\n")  # fmt: skip
        (class_dir / f"{name.lower()}-metafile").write_text("".join(rows), encoding="utf-8")
    (folder / "recordings.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return records


def _roman(number: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for value, text in numerals:
        while number >= value:
            out, number = out + text, number - value
    return out


def _replace_name(ship: Ship, name: str) -> Ship:
    return replace(ship, name=name)


__all__ = [
    "CONDITIONS",
    "DEEPSHIP_CLASSES",
    "FULL_SCALE_DB",
    "HYDROPHONE_SENSITIVITY_DB",
    "PREAMP_GAIN_DB",
    "RECEIVER_DEPTH_M",
    "SHIP_CLASSES",
    "SIMULATOR_VERSION",
    "Ship",
    "ShipPass",
    "Tonal",
    "cavitation_peak_level_db",
    "cavitation_spectrum_db",
    "draw_pass",
    "draw_ship",
    "lloyd_mirror_gain",
    "machinery_spectrum_db",
    "machinery_tonals",
    "propagate",
    "ship_name",
    "ship_source_psd_db",
    "simulate_deepship",
    "simulate_recording",
    "sum_of_sinusoids",
    "surface_coherence",
    "synthesise_ambient",
    "synthesise_biological",
    "synthesise_ship_noise",
    "thorp_absorption_db_per_km",
    "to_full_scale",
    "transmission_loss_db",
    "wave_rms_height_m",
    "wenz_ambient_psd",
]
