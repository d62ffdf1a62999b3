"""Synthetic single-lead ECG beats from the dynamical model of McSharry et al. (2003).

McSharry, Clifford, Tarassenko and Smith, "A dynamical model for generating synthetic
electrocardiogram signals", IEEE Trans. Biomed. Eng. 50(3):289-294, 2003 (the ECGSYN model).

The model moves a point around a limit cycle with angular velocity ``omega = 2 pi / RR`` and lets its
height ``z`` (the ECG) be pushed by five Gaussian "events", P, Q, R, S and T, at phase angles
``theta_i`` with amplitudes ``a_i`` and widths ``b_i``::

    dz/dt = - sum_i a_i * dtheta_i * exp(-dtheta_i^2 / (2 b_i^2)) - (z - z0),   dtheta_i = theta - theta_i

On the limit cycle ``theta = omega * (t - t_R)`` for a beat whose R peak is at ``t_R``. This module
prescribes that phase beat by beat and integrates the ``z`` equation with fourth-order Runge-Kutta,
as ECGSYN does, over a short rhythm strip (two beats before the beat of interest and one after), so
that a beat's window also holds the neighbours' waves where a premature beat brings them close.

Normal sinus beats use the paper's Table 1 (angles in radians, amplitudes and widths dimensionless):

====  =========  ======  =====
wave  theta_i    a_i     b_i
====  =========  ======  =====
P     -pi/3      1.2     0.25
Q     -pi/12     -5.0    0.1
R     0          30.0    0.1
S     pi/12      -7.5    0.1
T     pi/2       0.75    0.4
====  =========  ======  =====

adjusted for heart rate as the reference implementation ECGSYN does (``b_i`` times ``sqrt(HR/60)``;
the angles of Q and S times ``sqrt(HR/60)``, of P and T times ``(HR/60)^(1/4)``).

The paper models only sinus rhythm. Premature ventricular contractions (PVCs) are this module's own
parameterisation of the same Gaussian-sum model (:func:`pvc_parameters`), following their textbook
ECG signs: no P wave (the ventricles are not activated through the atria), a wide QRS (Gaussian widths
1.5-3.4 times the sinus ones; most PVCs measure over 120 ms, a few are borderline, as in real
recordings), a bizarre shape (the Q/R/S angles, widths and heights are drawn per beat, and about a
third of the ectopic foci give a predominantly negative complex in lead II), a large T wave discordant
to the main QRS deflection, a short coupling interval (55-80 % of the sinus RR) and a full
compensatory pause (the next sinus beat comes two sinus cycles after the one before the PVC).

The model's ``z`` is dimensionless; like ECGSYN, which scales its output to -0.4 .. 1.2 mV, beats are
converted to millivolts with one gain that makes the nominal sinus beat at the mean heart rate span
1.6 mV peak to peak. Recording artefacts are then added in millivolts: baseline wander at the
respiratory rate (the paper's ``z0 = A sin(2 pi f2 t)`` with ``A = 0.15`` mV, here added to the trace so
that its amplitude is the one seen), broadband electromyographic noise (Gaussian noise high-passed at
20 Hz, with a level that varies from beat to beat) and mains interference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

WAVES = ("P", "Q", "R", "S", "T")
"""Order of the Gaussian events along the last axis of every parameter array."""

SINUS_THETA = np.array([-np.pi / 3, -np.pi / 12, 0.0, np.pi / 12, np.pi / 2])
"""McSharry et al. (2003), Table 1: phase angles of P, Q, R, S, T (radians)."""
SINUS_A = np.array([1.2, -5.0, 30.0, -7.5, 0.75])
"""McSharry et al. (2003), Table 1: amplitudes ``a_i`` of P, Q, R, S, T."""
SINUS_B = np.array([0.25, 0.1, 0.1, 0.1, 0.4])
"""McSharry et al. (2003), Table 1: widths ``b_i`` of P, Q, R, S, T (radians)."""

SINUS_PEAK_TO_PEAK_MV = 1.6
"""Peak-to-peak amplitude of the nominal sinus beat in mV (ECGSYN's output range, -0.4 .. 1.2 mV)."""
FIDUCIAL_JITTER_S = 0.004
"""Standard deviation of the R-peak position within its window (an R-peak detector's jitter), s."""
EMG_CUTOFF_HZ = 20.0
"""High-pass corner of the electromyographic noise (surface EMG has little power below ~20 Hz)."""


@dataclass(frozen=True)
class BeatParameters:
    """Gaussian-event parameters of one batch of rhythm strips.

    Shapes: ``theta``, ``a``, ``b`` are ``(n, n_beats_in_strip, 5)`` (the last axis P, Q, R, S, T);
    ``r_times`` is ``(n, n_beats_in_strip)`` in seconds relative to the window centre; ``omega`` is
    ``(n,)`` in rad/s.
    """

    theta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    r_times: np.ndarray
    omega: np.ndarray


def heart_rate_factors(heart_rate_bpm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ECGSYN's heart-rate adjustment: multipliers of the angles and of the widths.

    ``heart_rate_bpm``: ``(n,)`` beats per minute -> angle factors ``(n, 5)`` and width factors
    ``(n, 1)``.
    """
    f = np.sqrt(np.asarray(heart_rate_bpm, dtype=float) / 60.0)[:, None]
    f2 = np.sqrt(f)
    angle = np.concatenate([f2, f, np.ones_like(f), f, f2], axis=1)
    return angle, f


def sinus_parameters(
    rng: np.random.Generator | None, heart_rate_bpm: np.ndarray, variability: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Table 1 parameters for ``n`` sinus beats, heart-rate adjusted, with beat-to-beat variability.

    ``variability`` is the relative standard deviation of the amplitudes (widths vary by half of it,
    angles by a quarter of it in radians for P and T and a tenth of it for Q and S). With ``rng=None``
    the nominal parameters are returned. Returns ``theta, a, b``, each ``(n, 5)``.
    """
    n = len(heart_rate_bpm)
    angle_factor, width_factor = heart_rate_factors(heart_rate_bpm)
    theta = np.broadcast_to(SINUS_THETA, (n, 5)) * angle_factor
    a = np.broadcast_to(SINUS_A, (n, 5)).copy()
    b = np.broadcast_to(SINUS_B, (n, 5)) * width_factor
    if rng is not None and variability > 0:
        a = a * (1.0 + variability * rng.standard_normal((n, 5)))
        b = b * np.exp(0.5 * variability * rng.standard_normal((n, 5)))
        theta = theta + variability * np.array([0.25, 0.1, 0.0, 0.1, 0.25]) * rng.standard_normal((n, 5))
    return theta, a, b


def pvc_parameters(
    rng: np.random.Generator, heart_rate_bpm: np.ndarray, variability: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameters of ``n`` premature ventricular beats in the Gaussian-event model.

    Far from its centre a Gaussian event adds a bump of height ``a_i b_i^2 / omega`` to ``z`` (0.3 /
    omega for the sinus R wave), so the PVC's waves are drawn by height and width, then
    ``a_i = height_i / b_i^2``:

    * no P wave (``a_P = 0``);
    * R: width 0.15-0.34 rad (1.5-3.4 times the sinus R), height 1-2 times the sinus R, positive, or
      negative with probability 0.35 (the ectopic focus decides the QRS axis);
    * Q and S: widths 0.12-0.26 and 0.15-0.30 rad, opposite to R and at most 30 % and 50 % of its
      height, so that R stays the main deflection; their angles vary per beat (a bizarre shape);
    * T: width 0.42-0.55 rad, height 1.25-2.5 times the sinus T, of the opposite sign to R (discordant).

    Returns ``theta, a, b``, each ``(n, 5)``, heart-rate adjusted like the sinus parameters.
    """
    n = len(heart_rate_bpm)
    angle_factor, width_factor = heart_rate_factors(heart_rate_bpm)
    polarity = np.where(rng.random(n) < 0.35, -1.0, 1.0)
    theta = np.stack(
        [
            np.full(n, -np.pi / 3),
            -rng.uniform(0.14, 0.32, n),
            rng.uniform(-0.03, 0.03, n),
            rng.uniform(0.2, 0.42, n),
            np.pi / 2 * rng.uniform(0.9, 1.15, n),
        ],
        axis=1,
    )
    b = np.stack(
        [
            np.full(n, 0.25),
            rng.uniform(0.12, 0.26, n),
            rng.uniform(0.15, 0.34, n),
            rng.uniform(0.15, 0.3, n),
            rng.uniform(0.42, 0.55, n),
        ],
        axis=1,
    )
    r_height = polarity * rng.uniform(0.3, 0.6, n)
    height = np.stack(
        [
            np.zeros(n),
            -rng.uniform(0.0, 0.3, n) * r_height,
            r_height,
            -rng.uniform(0.1, 0.5, n) * r_height,
            -polarity * rng.uniform(0.15, 0.3, n),
        ],
        axis=1,
    )
    a = height / b**2
    if variability > 0:
        a = a * (1.0 + variability * rng.standard_normal((n, 5)))
    return theta * angle_factor, a, b * width_factor


def gaussian_forcing(t: np.ndarray, params: BeatParameters) -> np.ndarray:
    """The model's drive ``-sum a_i dtheta_i exp(-dtheta_i^2 / (2 b_i^2))`` summed over the beats.

    ``t``: ``(m,)`` times in seconds -> ``(n, m)``, in model units per second.
    """
    n, n_beats, n_waves = params.a.shape
    forcing = np.zeros((n, len(t)))
    for k in range(n_beats):
        phase = params.omega[:, None] * (t[None, :] - params.r_times[:, k : k + 1])  # (n, m), radians
        for i in range(n_waves):
            amplitude = params.a[:, k, i : i + 1]
            if not np.any(amplitude):
                continue
            dtheta = phase - params.theta[:, k, i : i + 1]
            forcing -= amplitude * dtheta * np.exp(-0.5 * (dtheta / params.b[:, k, i : i + 1]) ** 2)
    return forcing


def integrate_z(forcing_half_steps: np.ndarray, h: float) -> np.ndarray:
    """Fourth-order Runge-Kutta integration of ``dz/dt = F(t) - z`` from ``z = 0``.

    ``forcing_half_steps``: ``(n, 2K + 1)`` values of ``F`` at ``t0 + j h / 2``; ``h``: step in seconds.
    Returns ``z`` at ``t0 + k h``, shape ``(n, K + 1)``.
    """
    n, m = forcing_half_steps.shape
    n_steps = (m - 1) // 2
    z = np.zeros((n, n_steps + 1))
    current = np.zeros(n)
    for k in range(n_steps):
        f0 = forcing_half_steps[:, 2 * k]
        f_half = forcing_half_steps[:, 2 * k + 1]
        f1 = forcing_half_steps[:, 2 * k + 2]
        k1 = f0 - current
        k2 = f_half - (current + 0.5 * h * k1)
        k3 = f_half - (current + 0.5 * h * k2)
        k4 = f1 - (current + h * k3)
        current = current + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        z[:, k + 1] = current
    return z


def render_strips(params: BeatParameters, sfreq: float, n_times: int, oversample: int = 2) -> np.ndarray:
    """Integrate the model over each strip and sample the window centred on ``t = 0``.

    The integration starts 0.6 s before the earliest R peak of the strips, at rest (``z = 0``), with
    an internal step of ``1 / (oversample * sfreq)``. Returns ``(n, n_times)`` in model units; sample
    ``n_times // 2`` is at ``t = 0``.
    """
    h = 1.0 / (oversample * sfreq)
    centre = n_times // 2
    start_s = float(params.r_times.min()) - 0.6
    pre_samples = int(np.ceil(-start_s * sfreq))
    n_internal = oversample * (pre_samples + n_times - centre)
    t_half = (-oversample * pre_samples + 0.5 * np.arange(2 * n_internal + 1)) * h
    z = integrate_z(gaussian_forcing(t_half, params), h)
    first = oversample * (pre_samples - centre)
    return z[:, first : first + oversample * n_times : oversample]


def strip_parameters(
    rng: np.random.Generator, labels: np.ndarray, heart_rate_bpm: np.ndarray, variability: float
) -> BeatParameters:
    """Rhythm strips of four beats around each labelled beat: two sinus beats before it, the beat
    itself (label 0 sinus, 1 PVC) and one sinus beat after it.

    Sinus RR intervals vary by 4 % (respiratory sinus arrhythmia); a PVC comes after 55-80 % of the
    sinus RR and is followed by a full compensatory pause. ``labels`` and ``heart_rate_bpm`` are
    ``(n,)``.
    """
    n = len(labels)
    rr = 60.0 / heart_rate_bpm
    is_pvc = labels == 1
    jitter = 1.0 + 0.04 * rng.standard_normal((n, 3))
    coupling = np.where(is_pvc, rr * rng.uniform(0.55, 0.8, n), rr * jitter[:, 0])
    r_prev = -coupling
    r_prev2 = r_prev - rr * jitter[:, 1]
    r_next = np.where(is_pvc, r_prev + 2.0 * rr, rr * jitter[:, 2])
    r_times = np.stack([r_prev2, r_prev, np.zeros(n), r_next], axis=1)
    r_times += FIDUCIAL_JITTER_S * rng.standard_normal((n, 1))

    theta = np.empty((n, 4, 5))
    a = np.empty((n, 4, 5))
    b = np.empty((n, 4, 5))
    for k in range(4):
        theta[:, k], a[:, k], b[:, k] = sinus_parameters(rng, heart_rate_bpm, variability)
    if is_pvc.any():
        pvc = pvc_parameters(rng, heart_rate_bpm[is_pvc], variability)
        theta[is_pvc, 2], a[is_pvc, 2], b[is_pvc, 2] = pvc
    return BeatParameters(theta=theta, a=a, b=b, r_times=r_times, omega=2.0 * np.pi / rr)


def sinus_gain_mv(heart_rate_bpm: float, sfreq: float, n_times: int) -> float:
    """Millivolts per model unit: the gain that makes the noiseless nominal sinus beat at
    ``heart_rate_bpm`` span :data:`SINUS_PEAK_TO_PEAK_MV` within its window."""
    hr = np.array([heart_rate_bpm], dtype=float)
    theta, a, b = sinus_parameters(None, hr, 0.0)
    rr = 60.0 / heart_rate_bpm
    params = BeatParameters(
        theta=np.repeat(theta[:, None], 4, axis=1),
        a=np.repeat(a[:, None], 4, axis=1),
        b=np.repeat(b[:, None], 4, axis=1),
        r_times=np.array([[-2 * rr, -rr, 0.0, rr]]),
        omega=np.array([2.0 * np.pi / rr]),
    )
    z = render_strips(params, sfreq, n_times)[0]
    return SINUS_PEAK_TO_PEAK_MV / float(z.max() - z.min())


def baseline_wander(rng: np.random.Generator, n: int, t: np.ndarray, amplitude_mv: float) -> np.ndarray:
    """Respiratory baseline wander ``A sin(2 pi f t + phi)``: ``f`` 0.15-0.35 Hz (9-21 breaths per
    minute), ``A`` 0.5-1.5 times ``amplitude_mv``, random phase. ``t``: ``(m,)`` s -> ``(n, m)`` mV."""
    amp = amplitude_mv * rng.uniform(0.5, 1.5, (n, 1))
    freq = rng.uniform(0.15, 0.35, (n, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, 1))
    return amp * np.sin(2.0 * np.pi * freq * t[None, :] + phase)


def emg_noise(rng: np.random.Generator, n: int, n_times: int, sfreq: float, level_mv: float) -> np.ndarray:
    """Electromyographic noise: Gaussian noise high-passed at :data:`EMG_CUTOFF_HZ` (4th-order
    Butterworth, zero phase), with a standard deviation of 0.25-1.75 times ``level_mv`` drawn per beat
    (muscle activity comes and goes). Returns ``(n, n_times)`` mV."""
    if level_mv == 0:
        return np.zeros((n, n_times))
    sos = butter(4, EMG_CUTOFF_HZ, btype="highpass", fs=sfreq, output="sos")
    noise = sosfiltfilt(sos, rng.standard_normal((n, n_times)), axis=-1)
    noise /= noise.std(axis=-1, keepdims=True)
    return level_mv * rng.uniform(0.25, 1.75, (n, 1)) * noise


def mains_interference(
    rng: np.random.Generator, n: int, t: np.ndarray, freq_hz: float, amplitude_mv: float
) -> np.ndarray:
    """Power-line interference at ``freq_hz`` (+- 0.05 Hz grid deviation), amplitude 0.5-1.5 times
    ``amplitude_mv``, random phase. ``t``: ``(m,)`` s -> ``(n, m)`` mV; zeros when ``freq_hz`` is 0."""
    if freq_hz == 0 or amplitude_mv == 0:
        return np.zeros((n, len(t)))
    amp = amplitude_mv * rng.uniform(0.5, 1.5, (n, 1))
    freq = freq_hz + 0.05 * rng.standard_normal((n, 1))
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, 1))
    return amp * np.sin(2.0 * np.pi * freq * t[None, :] + phase)
