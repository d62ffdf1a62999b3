"""The report's figures: confusion matrices per method, and the routing of each class to the experts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from sciconv.kit import new_figure, save_figure


def plot_confusions(
    confusions: Mapping[str, np.ndarray], classes: Sequence[str], labels: Mapping[str, str], path: Path
) -> Path:
    """One panel per method: the confusion matrix summed over folds, each row divided by its class's test
    segments (so the diagonal is the recall), with the counts written in the cells."""
    methods = list(confusions)
    fig, axes = new_figure(1, len(methods), figsize=(3.6 * len(methods) + 0.6, 3.6))
    axes = np.asarray(axes).ravel()
    for ax, method in zip(axes, methods, strict=True):
        counts = confusions[method]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts / counts.sum(axis=1, keepdims=True)
        ax.imshow(np.nan_to_num(share), vmin=0, vmax=1, cmap="Blues")
        for i in range(len(classes)):
            for j in range(len(classes)):
                colour = "white" if np.nan_to_num(share[i, j]) > 0.6 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=colour)
        ax.set_xticks(range(len(classes)), [c[:8] for c in classes], rotation=60, fontsize=7)
        ax.set_yticks(range(len(classes)), [c[:10] for c in classes], fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_title(labels.get(method, method), fontsize=9)
    axes[0].set_ylabel("true class", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_routing(
    routing: Mapping[str, np.ndarray], classes: Sequence[str], labels: Mapping[str, str], path: Path
) -> Path:
    """One panel per mixture: the share of each class's test segments routed to each expert (rows sum to 1).
    Experts that specialise show as rows concentrated on few, different columns."""
    methods = list(routing)
    fig, axes = new_figure(1, len(methods), figsize=(3.8 * len(methods) + 0.6, 3.2))
    axes = np.asarray(axes).ravel()
    for ax, method in zip(axes, methods, strict=True):
        counts = routing[method]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))
        ax.imshow(share, vmin=0, vmax=max(float(share.max()), 1e-9), cmap="Purples", aspect="auto")
        for i in range(share.shape[0]):
            for j in range(share.shape[1]):
                if share[i, j] >= 0.1:
                    ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks(range(counts.shape[1]), [str(e) for e in range(counts.shape[1])], fontsize=7)
        ax.set_yticks(range(len(classes)), [c[:10] for c in classes], fontsize=7)
        ax.set_xlabel("expert", fontsize=8)
        ax.set_title(f"{labels.get(method, method)}: routing", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
