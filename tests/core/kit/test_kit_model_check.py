"""A user's network checked against the output a task needs, before training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sciconv.errors import ConfigError
from sciconv.kit import check_model_output


def test_a_network_with_an_expected_output_passes_and_keeps_its_mode_and_statistics() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    model.train()
    before = model[1].running_mean.clone()
    check_model_output(model, torch.randn(5, 3), [(5, 1), (5,)], needs="model Net must map (B, 3) to (B, 1)")
    assert model.training, "the model's mode is restored"
    assert torch.equal(model[1].running_mean, before), "eval mode: no batch statistics change"


def test_a_wrong_shape_and_a_failing_call_are_one_clear_line() -> None:
    with pytest.raises(ConfigError, match=r"model Net must .*; for an input of shape \(5, 3\) it returned \(5, 2\), "):
        check_model_output(nn.Linear(3, 2), torch.randn(5, 3), [(5, 1)], needs="model Net must map (B, 3) to (B, 1)")
    with pytest.raises(ConfigError, match=r"an input of shape \(5, 3\) failed: RuntimeError"):
        check_model_output(nn.Linear(7, 1), torch.randn(5, 3), [(5, 1)], needs="model Net must map (B, 3) to (B, 1)")

    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    with pytest.raises(ConfigError, match="it returned tuple"):
        check_model_output(Pair(), torch.randn(5, 3), [(5, 3)], needs="model Pair must return one tensor")
