"""LSTMForecaster and its registered factory LSTMNet (atm-forecast.lstm): shapes and sizing from the spec."""

from __future__ import annotations

import pytest
import torch

from sciconv_atm_forecast.features import row_spec
from sciconv_atm_forecast.models.lstm import LSTMForecaster, LSTMNet


@pytest.mark.parametrize(("n_lags", "n_exog"), [(1, 7), (7, 7), (14, 0), (1, 0)])
def test_forward_and_backward_shapes(n_lags: int, n_exog: int) -> None:
    model = LSTMForecaster(n_lags, n_exog)
    x = torch.randn(5, n_lags + n_exog, requires_grad=True)
    out = model(x)
    assert out.shape == (5,)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    model.reset_parameters()


def test_the_factory_sizes_the_network_from_the_spec() -> None:
    torch.manual_seed(0)
    net = LSTMNet(row_spec(4, 0), hidden_size=6, head_hidden=5)
    torch.manual_seed(0)
    direct = LSTMForecaster(4, 0, hidden_size=6, head_hidden=5)
    assert (net.n_lags, net.n_exog) == (4, 0)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), direct.state_dict().values(), strict=True))
    assert net(torch.randn(2, 4)).shape == (2,)
