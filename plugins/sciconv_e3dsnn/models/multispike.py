"""The I-LIF ("Multispike") neuron of E-3DSNN and the ReLU that replaces it in the ANN twin.

The neuron emits an integer spike count per site and channel: ``s = floor(clamp(u, 0, D) + 0.5)`` of the
membrane potential ``u``, with ``D`` (``max_spikes``, 4 in the paper) the largest count. During training the
gradient passes straight through where ``0 < u < D`` and is zero elsewhere. At inference each integer ``s``
stands for ``s`` binary spikes spread over ``D`` virtual time steps, so a layer fed by this neuron performs
``s`` synaptic accumulations per connection instead of one multiply-accumulate: the firing rate of a layer is
``mean(s) / D`` and its synaptic operations are ``firing rate x D x operations``.

Both neurons can keep running totals of what they emit (``record``), which the energy account reads.
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


class _Recording(nn.Module):
    """Running totals of the emitted values while ``record`` is on: ``total`` (sum), ``count`` (elements),
    ``nonzero`` (elements > 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.record = False
        self.reset_counts()

    def reset_counts(self) -> None:
        self.total = 0.0
        self.count = 0
        self.nonzero = 0

    def _note(self, out: torch.Tensor) -> None:
        if self.record:
            detached = out.detach()
            self.total += float(detached.sum())
            self.count += detached.numel()
            self.nonzero += int((detached > 0).sum())


class MultiSpikeNeuron(_Recording):
    """The I-LIF neuron: membrane potentials -> integer spike counts (see :func:`multispike`).
    Shapes: (N, C) -> (N, C)."""

    spiking = True

    def __init__(self, max_spikes: int = 4) -> None:
        super().__init__()
        if int(max_spikes) < 1:
            raise ValueError(f"max_spikes must be >= 1, got {max_spikes}")
        self.max_spikes = int(max_spikes)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        out = multispike(u, self.max_spikes)
        self._note(out)
        return out

    def firing_rate(self) -> float:
        """Mean spikes per element and virtual time step since the last reset: ``mean(s) / D`` in [0, 1]."""
        return self.total / max(1, self.count) / self.max_spikes

    def extra_repr(self) -> str:
        return f"max_spikes={self.max_spikes}"


class ReLUNeuron(_Recording):
    """The ANN twin's activation: ``max(u, 0)``, real-valued. Shapes: (N, C) -> (N, C)."""

    spiking = False

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        out = torch.relu(u)
        self._note(out)
        return out

    def active_fraction(self) -> float:
        """Fraction of elements > 0 since the last reset."""
        return self.nonzero / max(1, self.count)


__all__ = ["MultiSpikeNeuron", "ReLUNeuron", "multispike"]
