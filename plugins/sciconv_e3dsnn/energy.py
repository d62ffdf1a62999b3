"""The energy account of E-3DSNN and its ANN twin (the paper's 45 nm model, not a measurement).

Per convolution layer, the operations come from the rulebook pairs the layer actually used:
``ops = 2 x pairs x C_in x C_out`` (the official energy script's count: a multiply and an add per weight and
connection; the pairs include a submanifold conv's centre offset). A layer fed by the spiking neuron performs
synaptic accumulations, ``SOPs = firing rate x D x ops`` with ``firing rate = mean spike count / D`` over the
layer's input elements, at 0.9 pJ each; a layer fed by real values (the first convolution, which sees the voxel
coordinates and normals, and the head, which reads the last membrane potentials as in the official network)
performs multiply-accumulates, at 4.6 pJ per operation. The ANN twin runs every layer at 4.6 pJ per operation.
All figures are per sample (totals over the evaluated clouds divided by their number).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from sciconv_e3dsnn.models.e3dsnn import E3DSNNModel

E_MAC_PJ = 4.6  # pJ per multiply-accumulate operation, 45 nm (Horowitz 2014), as the paper
E_AC_PJ = 0.9  # pJ per accumulate (synaptic operation), 45 nm


@dataclass
class LayerEnergy:
    """One convolution layer's account, per sample: ``ops`` operations, ``sops`` synaptic operations (0 when
    the layer's input is real-valued), ``energy_pj`` (pJ)."""

    name: str
    kind: str
    c_in: int
    c_out: int
    sites_in: float
    sites_out: float
    pairs: float
    ops: float
    spiking_input: bool
    firing_rate: float | None
    sops: float
    energy_pj: float


@dataclass
class EnergyAccount:
    """A network's account: its layers and totals per sample (``energy_mj`` in mJ, ``ops``, ``sops``), the mean
    firing rate over its spiking layers (``None`` for the ANN), and the number of clouds it was measured on."""

    layers: list[LayerEnergy]
    energy_mj: float
    ops: float
    sops: float
    firing_rate: float | None
    samples: int


def _kind(unit: Any) -> str:
    k = "x".join(str(s) for s in unit.conv.kernel_size)
    return f"submanifold {k}" if unit.submanifold else f"strided {k} / {unit.conv.stride[0]}"


def energy_account(model: E3DSNNModel, batches: Iterable[dict[str, torch.Tensor]]) -> EnergyAccount:
    """Run ``model`` in evaluation mode over input ``batches`` (E-3DSNN input dicts) and account for every
    convolution. A spiking network's layers after a neuron count SOPs; the ANN twin's count MACs."""
    was_training = model.training
    model.eval()
    model.set_recording(True)
    try:
        with torch.no_grad():
            for inputs in batches:
                model(inputs)
    finally:
        model.set_recording(False)
        model.train(was_training)
    units = model.units()
    samples = max(1, units[0][1].samples)
    layers: list[LayerEnergy] = []
    rates: list[float] = []
    for name, unit in units:
        c_in, c_out = unit.conv.in_channels, unit.conv.out_channels
        pairs = unit.pairs / samples
        ops = 2.0 * unit.macs / samples  # a multiply and an add per multiply-accumulate
        rate = None
        if unit.spiking_input:
            rate = unit.input_sum / max(1, unit.input_count) / model.max_spikes
            rates.append(rate)
            sops = rate * model.max_spikes * ops
            energy = E_AC_PJ * sops
        else:
            sops = 0.0
            energy = E_MAC_PJ * ops
        layers.append(
            LayerEnergy(
                name=name,
                kind=_kind(unit),
                c_in=c_in,
                c_out=c_out,
                sites_in=unit.sites_in / samples,
                sites_out=unit.sites_out / samples,
                pairs=pairs,
                ops=ops,
                spiking_input=unit.spiking_input,
                firing_rate=rate,
                sops=sops,
                energy_pj=energy,
            )
        )
    return EnergyAccount(
        layers=layers,
        energy_mj=sum(layer.energy_pj for layer in layers) * 1e-9,
        ops=sum(layer.ops for layer in layers),
        sops=sum(layer.sops for layer in layers),
        firing_rate=sum(rates) / len(rates) if rates else None,
        samples=units[0][1].samples,
    )


__all__ = ["E_AC_PJ", "E_MAC_PJ", "EnergyAccount", "LayerEnergy", "energy_account"]
