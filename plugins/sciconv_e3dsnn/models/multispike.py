"""The I-LIF ("Multispike") neuron of E-3DSNN and the ReLU that replaces it in the ANN twin.

The neuron emits an integer spike count per site and channel: ``s = floor(clamp(u, 0, D) + 0.5)`` of the
membrane potential ``u``, with ``D`` (``max_spikes``, 4 in the paper) the largest count. During training the
gradient passes straight through where ``0 < u < D`` and is zero elsewhere. At inference each integer ``s``
stands for ``s`` binary spikes spread over ``D`` virtual time steps, so a layer fed by this neuron performs
``s`` synaptic accumulations per connection instead of one multiply-accumulate: the firing rate of a layer is
``mean(s) / D`` and its synaptic operations are ``firing rate x D x operations``.

What a neuron emits is recorded where it is consumed: by the convolution unit it feeds
(:class:`sciconv_e3dsnn.models.e3dsnn.ConvUnit`), which the energy account reads.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class _MultiSpike(torch.autograd.Function):
    """``floor(clamp(u, 0, D) + 0.5)`` with a straight-through gradient inside ``(0, D)``."""

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, max_spikes: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(u)
        ctx.max_spikes = max_spikes
        return torch.floor(torch.clamp(u, 0.0, max_spikes) + 0.5)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (u,) = ctx.saved_tensors
        inside = (u > 0) & (u < ctx.max_spikes)
        return grad * inside.to(grad.dtype), None


def multispike(u: torch.Tensor, max_spikes: int = 4) -> torch.Tensor:
    """Integer spike counts of membrane potentials ``u`` (any shape -> same shape, values in ``0..max_spikes``)."""
    return _MultiSpike.apply(u, float(max_spikes))


class MultiSpikeNeuron(nn.Module):
    """The I-LIF neuron: membrane potentials -> integer spike counts (see :func:`multispike`).
    Shapes: (N, C) -> (N, C)."""

    spiking = True

    def __init__(self, max_spikes: int = 4) -> None:
        super().__init__()
        if int(max_spikes) < 1:
            raise ValueError(f"max_spikes must be >= 1, got {max_spikes}")
        self.max_spikes = int(max_spikes)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return multispike(u, self.max_spikes)

    def extra_repr(self) -> str:
        return f"max_spikes={self.max_spikes}"


class ReLUNeuron(nn.Module):
    """The ANN twin's activation: ``max(u, 0)``, real-valued. Shapes: (N, C) -> (N, C)."""

    spiking = False

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.relu(u)


__all__ = ["MultiSpikeNeuron", "ReLUNeuron", "multispike"]
