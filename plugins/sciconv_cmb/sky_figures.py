"""Report figures of the cmb-inpainting task: Mollweide sky maps and angular power spectra.

:func:`mollweide_grid` draws several HEALPix maps (truth, masked input, fills, residuals) as Mollweide images
in one figure with a shared colour range; :func:`cl_plot` draws the power spectra D_l of the truth and of each
method with the truth's cosmic-variance band, and their ratios to the truth. Figures are made with
:func:`sciconv.kit.new_figure` (matplotlib's Agg backend, no screen) and written with
:func:`sciconv.kit.save_figure` (atomically, as PNG), like the rest of the project's figures; healpy draws
the Mollweide panels.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import healpy as hp
import numpy as np
from matplotlib.ticker import ScalarFormatter

from sciconv.errors import ConfigError, DataError
from sciconv.kit import new_figure, save_figure
from sciconv_cmb.inpainting_metrics import cosmic_variance

__all__ = ["cl_plot", "mollweide_grid"]


def _valid(m: np.ndarray) -> np.ndarray:
    """Pixels that hold a value: finite and not ``healpy.UNSEEN``."""
    return np.isfinite(m) & (m != hp.UNSEEN)


def mollweide_grid(
    maps: Sequence[tuple[str, np.ndarray]],
    path: Path,
    *,
    nest: bool = False,
    unit: str = "µK",
    ncols: int = 2,
    symmetric: bool = True,
    masked: np.ndarray | None = None,
) -> Path:
    """One PNG of Mollweide images, one panel per ``(title, map)``, ``ncols`` panels a row.

    Args:
        maps: (title, (12*Nside**2,) map in ``unit``) pairs, all RING ordered (NESTED if ``nest``); the Nside
            may differ between maps. Pixels holding ``healpy.UNSEEN`` (or NaN) are drawn grey, so a caller
            marks a panel's unobserved pixels by setting them to ``healpy.UNSEEN``.
        masked: optional (12*Nside**2,) bool, same ordering as the maps (all of one Nside then): pixels where
            it is True are drawn grey in EVERY panel (e.g. ``masked=observed`` shows only the filled holes).
        symmetric: one colour range [-v, v] for all panels, v the largest |value| drawn; otherwise the
            shared range is [min, max] of all values drawn.

    Returns ``path``. DataError for a map that is not a HEALPix map or has nothing to draw; ConfigError for
    no maps or ``ncols < 1``.
    """
    if not maps:
        raise ConfigError("maps is empty; expected at least one (title, map) pair to draw")
    if int(ncols) != ncols or ncols < 1:
        raise ConfigError(f"ncols {ncols}: expected an integer >= 1")
    drawn: list[tuple[str, np.ndarray]] = []
    for title, values in maps:
        m = np.array(values, dtype=np.float64)  # a copy: UNSEEN is written into it below
        if m.ndim != 1 or not hp.isnpixok(m.size):
            raise DataError(f"map {title!r} has shape {m.shape}; expected a 1-D HEALPix map of 12*Nside**2 pixels")
        if masked is not None:
            hole = np.asarray(masked, dtype=bool)
            if hole.shape != m.shape:
                raise DataError(f"masked has shape {hole.shape} but map {title!r} has {m.shape}; expected the same")
            m[hole] = hp.UNSEEN
        m[~_valid(m)] = hp.UNSEEN
        if not (m != hp.UNSEEN).any():
            raise DataError(f"map {title!r} has no pixel to draw (all UNSEEN, NaN or masked)")
        drawn.append((str(title), m))
    values = np.concatenate([m[m != hp.UNSEEN] for _, m in drawn])
    if symmetric:
        top = float(np.abs(values).max()) or 1.0
        vmin, vmax = -top, top
    else:
        vmin, vmax = float(values.min()), float(values.max())
        if vmin == vmax:
            vmin, vmax = vmin - 1.0, vmax + 1.0
    ncols = min(int(ncols), len(drawn))
    nrows = -(-len(drawn) // ncols)
    fig, axes = new_figure(1, 1, figsize=(4.6 * ncols, 3.1 * nrows))
    axes[0, 0].remove()  # healpy adds its own Mollweide axes to the (current) figure
    for i, (title, m) in enumerate(drawn, start=1):
        with warnings.catch_warnings():  # healpy 1.20 still calls Colormap.set_over/set_under/set_bad
            warnings.filterwarnings("ignore", r"The set_(over|under|bad) function", PendingDeprecationWarning)
            hp.mollview(
                m,
                nest=nest,
                sub=(nrows, ncols, i),
                title=title,
                unit=unit,
                min=vmin,
                max=vmax,
                cmap="RdBu_r",
                badcolor="lightgray",
                xsize=800,
                format="%.4g",
            )
    return save_figure(fig, Path(path))


def cl_plot(
    path: Path,
    ells: np.ndarray,
    truth_cl: np.ndarray,
    method_cls: Mapping[str, np.ndarray],
    fsky: float,
    *,
    theory_cl: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Angular power spectra of the truth and of each method, and their ratios to the truth; returns ``path``.

    Top panel: D_l = l(l+1)C_l / 2π in µK² against l (log x) for the truth, each method and (if given) the
    theory spectrum, with the truth's cosmic-variance band D_l (1 ± σ_l), σ_l = sqrt(2 / ((2l+1) fsky))
    (:func:`~sciconv_cmb.inpainting_metrics.cosmic_variance`), shaded. Bottom panel: C_l / C_l(truth) per
    method with the ±1σ_l band around 1.

    Args:
        ells: (L,) multipoles, all >= 2.
        truth_cl, theory_cl, and every ``method_cls`` value: (L,) C_l in µK² at ``ells``.
        fsky: the observed sky fraction used for the cosmic variance, 0 < fsky <= 1.
    """
    ells = np.asarray(ells)
    if ells.ndim != 1 or ells.size == 0 or not np.issubdtype(ells.dtype, np.number) or (ells < 2).any():
        raise DataError(f"ells has shape {ells.shape}; expected a 1-D array of multipoles >= 2")
    ell = ells.astype(np.float64)

    def spectrum(cl: np.ndarray, name: str) -> np.ndarray:
        c = np.asarray(cl, dtype=np.float64)
        if c.shape != ells.shape or not np.isfinite(c).all():
            raise DataError(f"{name} has shape {c.shape} or non-finite values; expected {ells.shape} finite C_l")
        return c

    truth = spectrum(truth_cl, "truth_cl")
    if (truth <= 0).any():
        raise DataError("truth_cl has C_l <= 0; expected positive power at every l to take ratios")
    methods = {str(k): spectrum(v, f"method_cls[{k!r}]") for k, v in method_cls.items()}
    sigma = cosmic_variance(ells, fsky)
    to_dl = ell * (ell + 1) / (2 * np.pi)

    fig, axes = new_figure(2, 1, figsize=(7.5, 6.4), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top, bottom = axes[0, 0], axes[1, 0]
    top.fill_between(ell, to_dl * truth * (1 - sigma), to_dl * truth * (1 + sigma), color="0.85", label="cosmic var.")
    if theory_cl is not None:
        top.plot(ell, to_dl * spectrum(theory_cl, "theory_cl"), color="0.4", lw=1, ls="--", label="theory")
    top.plot(ell, to_dl * truth, color="k", lw=1.6, label="truth")
    bottom.fill_between(ell, 1 - sigma, 1 + sigma, color="0.85")
    bottom.axhline(1.0, color="k", lw=1)
    for name, cl in methods.items():
        (line,) = top.plot(ell, to_dl * cl, lw=1.1, label=name)
        bottom.plot(ell, cl / truth, lw=1.1, color=line.get_color())
    top.set_xscale("log")
    top.xaxis.set_major_formatter(ScalarFormatter())  # 2, 10, 50 rather than 2x10^0
    top.set_ylabel(r"$D_\ell = \ell(\ell+1)C_\ell/2\pi$ [µK²]")
    top.legend(fontsize="small")
    if title:
        top.set_title(title)
    bottom.set_xlabel(r"multipole $\ell$")
    bottom.set_ylabel(r"$C_\ell / C_\ell^{\rm truth}$")
    fig.tight_layout()
    return save_figure(fig, Path(path))
