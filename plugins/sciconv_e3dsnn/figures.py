"""The report's figure: per layer, the firing rate feeding each convolution and the energy of the SNN and its ANN
twin."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciconv.kit import new_figure, save_figure


def plot_energy_by_layer(accounts: Mapping[str, Any], path: Path) -> Path:
    """Top: the firing rate (spikes per neuron and virtual time step, 0-1) of the neuron feeding each convolution
    of the SNN (layers fed by real values left blank). Bottom: energy per sample per layer (µJ, log scale) of each
    network in ``accounts`` (``snn`` / ``ann`` -> :class:`~sciconv_e3dsnn.energy.EnergyAccount`)."""
    reference = accounts.get("snn") or next(iter(accounts.values()))
    names = [layer.name for layer in reference.layers]
    x = np.arange(len(names))
    fig, axes = new_figure(2, 1, figsize=(max(6.0, 0.42 * len(names)), 6.0), sharex=True)
    top, bottom = axes[0, 0], axes[1, 0]
    snn = accounts.get("snn")
    if snn is not None:
        rates = [np.nan if layer.firing_rate is None else layer.firing_rate for layer in snn.layers]
        top.bar(x, rates, color="tab:orange")
    top.set_ylabel("firing rate")
    top.set_ylim(0, 1)
    width = 0.8 / max(1, len(accounts))
    for i, (method, account) in enumerate(accounts.items()):
        energy = np.array([max(layer.energy_pj, 1e-3) for layer in account.layers]) * 1e-6
        bottom.bar(x + (i - (len(accounts) - 1) / 2) * width, energy, width, label=method.upper())
    bottom.set_yscale("log")
    bottom.set_ylabel("energy per sample (µJ)")
    bottom.set_xticks(x)
    bottom.set_xticklabels(names, rotation=70, ha="right", fontsize=7)
    bottom.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
