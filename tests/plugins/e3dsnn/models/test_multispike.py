"""The I-LIF (multi-spike) neuron: integer spikes, the straight-through gradient; its ReLU twin."""

from __future__ import annotations

import pytest
import torch

from sciconv_e3dsnn.models.multispike import MultiSpikeNeuron, ReLUNeuron, multispike


def test_spikes_are_rounded_clamped_integers() -> None:
    u = torch.tensor([-1.0, 0.2, 0.49, 0.5, 1.4, 2.6, 3.49, 3.5, 4.0, 9.0])
    assert multispike(u, 4).tolist() == [0, 0, 0, 1, 1, 3, 3, 4, 4, 4]
    assert multispike(u, 1).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]


def test_gradient_passes_straight_through_inside_zero_to_d() -> None:
    u = torch.tensor([-0.5, 0.0, 0.3, 2.0, 3.9, 4.0, 5.0], requires_grad=True)
    multispike(u, 4).sum().backward()
    assert u.grad is not None
    assert u.grad.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_the_neuron_module_uses_its_d() -> None:
    out = MultiSpikeNeuron(2)(torch.tensor([[0.4, 1.6], [2.7, 9.0]]))
    assert out.tolist() == [[0.0, 2.0], [2.0, 2.0]]


def test_relu_twin_and_bad_d() -> None:
    out = ReLUNeuron()(torch.tensor([-1.0, 0.5, 2.0]))
    assert out.tolist() == [0.0, 0.5, 2.0]
    assert MultiSpikeNeuron.spiking and not ReLUNeuron.spiking
    with pytest.raises(ValueError, match="max_spikes"):
        MultiSpikeNeuron(0)
