"""The DeepFEA task's pieces: NELO's teacher-forcing schedule, the node + element loss, and the normalised errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv_deepfea.rollout_task import NodeElementLoss, rollout_errors, teacher_forcing_probability


def test_teacher_forcing_schedule_is_nelos() -> None:
    # p = 0.7^k after k periods of 40 epochs, 0 once below 0.01 (0.7^13 = 0.0097)
    assert teacher_forcing_probability(1, 40) == 1.0
    assert teacher_forcing_probability(40, 40) == 1.0
    assert teacher_forcing_probability(41, 40) == pytest.approx(0.7)
    assert teacher_forcing_probability(81, 40) == pytest.approx(0.49)
    assert teacher_forcing_probability(12 * 40 + 1, 40) == pytest.approx(0.7**12)
    assert teacher_forcing_probability(13 * 40 + 1, 40) == 0.0


def test_loss_weights_node_and_element_mse() -> None:
    grid = (3, 3)
    loss = NodeElementLoss(2, grid, scale=10.0)
    target = torch.zeros(2, 4, 2 * 9 + 2 * 4)
    output = target.clone()
    output[..., :18] = 1.0  # every node value off by 1: node MSE 1
    output[..., 18:] = 2.0  # every element value off by 2: element MSE 4
    assert float(loss(output, target)) == pytest.approx(10.0 * 1.0 + 10.0 * 4.0)


def test_errors_normalised_by_the_range_of_the_truth() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(2, 2, 3, 3))
    u = rng.normal(size=(2, 4, 2, 3, 3))
    true = {
        "dis_out": reference[:, None] + u,
        "eff_stress": rng.uniform(0, 10, size=(2, 4, 2, 2)),
        "eff_strain": rng.uniform(0, 1, size=(2, 4, 2, 2)),
    }
    exact = rollout_errors(true, true, reference)
    assert exact["node_nme"] == 0.0 and exact["elem_nrmse"] == 0.0 and exact["node_r2"] == 1.0
    off = {**true, "dis_out": true["dis_out"] + 0.1}
    errors = rollout_errors(off, true, reference)
    assert errors["node_nme"] == pytest.approx(0.1 / np.ptp(true["dis_out"]))  # by the coordinates' range
    assert errors["node_nrmse"] == pytest.approx(0.1 / np.ptp(true["dis_out"]))
    assert errors["disp_nrmse"] == pytest.approx(0.1 / np.ptp(u))  # by the displacements' range
    assert errors["node_nrmse_t"].shape == (4,) and errors["node_nrmse_case"].shape == (2,)
    assert errors["elem_nme"] == 0.0
