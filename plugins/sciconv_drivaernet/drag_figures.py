"""The report's figure: predicted against true drag coefficient, one panel per body family."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sciconv.kit import new_figure, save_figure


def plot_predicted_against_true(
    true: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    families: Sequence[str],
    labels: Mapping[str, str],
    path: Path,
) -> Path:
    """One panel per family (sorted): each method's predicted Cd of the family's designs against the true Cd
    (dimensionless), with the line of perfect prediction; all panels share the axes' range.

    ``true`` ``(n,)`` and each of ``predictions`` (method key -> ``(n,)``) are the test designs' Cd, ``families``
    their body families; ``labels`` names each method in the legend (the task passes the pipeline's model by its
    class name when it is the user's own network, so the legend says what ran); a method without a label shows
    its key."""
    names = sorted(set(families))
    families_arr = np.asarray(families)
    fig, axes = new_figure(1, len(names), figsize=(3.4 * len(names), 3.4))
    values = np.concatenate(
        [np.asarray(true, dtype=float), *[np.asarray(p, dtype=float) for p in predictions.values()]]
    )
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.05 * (high - low or 1.0)
    for ax, family in zip(axes[0], names, strict=True):
        members = families_arr == family
        for method, predicted in predictions.items():
            ax.scatter(true[members], np.asarray(predicted)[members], s=10, alpha=0.7, label=labels.get(method, method))
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="black", lw=0.8)
        ax.set_xlim(low - pad, high + pad)
        ax.set_ylim(low - pad, high + pad)
        ax.set_title(f"{family} ({int(members.sum())} designs)", fontsize=9)
        ax.set_xlabel("true Cd")
        ax.set_aspect("equal")
    axes[0, 0].set_ylabel("predicted Cd")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
