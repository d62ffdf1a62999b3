"""The report's figures: error against rollout step, and deformed meshes with element stress, truth beside each
method."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciconv.kit import new_figure, save_figure


def plot_error_curves(results: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str], path: Path) -> Path:
    """Node and element NRMSE at each step (``node_nrmse_t``, ``elem_nrmse_t``), one line per method."""
    fig, axes = new_figure(1, 2, figsize=(9.0, 3.4))
    for method, r in results.items():
        steps = np.arange(1, len(r["node_nrmse_t"]) + 1)
        axes[0, 0].plot(steps, r["node_nrmse_t"], marker="o", ms=3, label=labels.get(method, method))
        axes[0, 1].plot(steps, r["elem_nrmse_t"], marker="o", ms=3, label=labels.get(method, method))
    for ax, title in zip(axes[0], ("nodes (displacement NRMSE)", "elements (stress, strain)"), strict=True):
        ax.set_xlabel("step")
        ax.set_ylabel("NRMSE")
        ax.set_title(title, fontsize=9)
        ax.set_yscale("log")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_fields(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    truth: Mapping[str, np.ndarray],
    reference: np.ndarray,
    case: int,
    dim: int,
    path: Path,
    labels: Mapping[str, str] | None = None,
) -> Path:
    """Rows: the truth and each method; columns: three steps. Each panel: the deformed mesh (the displacement
    magnified to 10 % of the plate) coloured by element effective stress. 3D data: the mid-depth layer.

    ``predictions``: per method, arrays shaped as ``truth``'s (``dis_out`` ``(N, T, dim, *grid)`` in m,
    ``eff_stress`` ``(N, T, *elem_grid)`` in Pa); ``labels``: the panels' name of each method (default: its key)."""
    sources = {"truth": truth, **predictions}
    n_steps = truth["dis_out"].shape[1]
    steps = sorted({0, n_steps // 2, n_steps - 1})
    fig, axes = new_figure(len(sources), len(steps), figsize=(3.0 * len(steps), 2.7 * len(sources)))
    ref = reference[case]
    u_true = truth["dis_out"][case] - ref[None]
    size = float(np.ptp(ref[0])) or 1.0
    magnify = 0.1 * size / max(float(np.abs(u_true).max()), 1e-30)
    s_max = float(truth["eff_stress"][case].max()) or 1.0
    for row, (name, source) in enumerate(sources.items()):
        for col, step in enumerate(steps):
            ax = axes[row, col]
            pos = source["dis_out"][case, step]
            stress = source["eff_stress"][case, step]
            r = ref
            if dim == 3:  # the middle layer along z, its x and y
                k = pos.shape[1] // 2
                pos, r, stress = pos[:2, k], ref[:2, k], stress[min(k, stress.shape[0] - 1)]
            shown = r + magnify * (pos - r)
            ax.pcolormesh(shown[0], shown[1], stress, vmin=0, vmax=s_max, cmap="viridis", shading="flat")
            ax.plot(shown[0], shown[1], color="k", lw=0.3)
            ax.plot(shown[0].T, shown[1].T, color="k", lw=0.3)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{(labels or {}).get(name, name)}, step {step + 1}", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
