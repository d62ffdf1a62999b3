"""CNN1dForecaster and its registered factory CNN1dNet (atm-forecast.cnn1d): shapes, conv routing, sizing."""

from __future__ import annotations

import pytest
import torch

import sciconv.conv
from sciconv.errors import ConfigError
from sciconv.spec import DataSpec
from sciconv_atm_forecast.features import row_spec
from sciconv_atm_forecast.models.cnn1d import CNN1dForecaster, CNN1dNet


@pytest.mark.parametrize(("n_lags", "n_exog"), [(1, 7), (7, 7), (14, 0), (1, 0)])
def test_forward_and_backward_shapes(n_lags: int, n_exog: int) -> None:
    model = CNN1dForecaster(n_lags, n_exog)
    x = torch.randn(5, n_lags + n_exog, requires_grad=True)
    out = model(x)
    assert out.shape == (5,)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    model.reset_parameters()


def test_cnn_convolutions_run_through_sciconv_conv() -> None:
    model = CNN1dForecaster(7, 7, channels=(8, 16, 4)).eval()
    x = torch.randn(3, 14)
    with sciconv.conv.record_calls() as calls:
        reference = model(x)
    assert len(calls) == 3
    with sciconv.conv.use_backend("fft"):
        assert torch.allclose(model(x), reference, atol=1e-4)
    assert all(isinstance(m, sciconv.conv.Conv1d) for m in model.modules() if isinstance(m, torch.nn.Conv1d))


def test_cnn_rejects_even_kernels() -> None:
    with pytest.raises(ValueError, match="odd"):
        CNN1dForecaster(7, 7, kernel_size=4)


def test_the_factory_sizes_the_network_from_the_spec() -> None:
    torch.manual_seed(0)
    net = CNN1dNet(row_spec(5, 7), channels=[4, 6], hidden=8, dropout=0.0)
    torch.manual_seed(0)
    direct = CNN1dForecaster(5, 7, channels=(4, 6), hidden=8, dropout=0.0)
    assert (net.n_lags, net.n_exog) == (5, 7)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), direct.state_dict().values(), strict=True))
    assert net(torch.randn(3, 12)).shape == (3,)
    # without extra: input_shape[0] - 7 lags and 7 exogenous columns
    assert CNN1dNet(DataSpec((10,), 1, "forecasting")).n_lags == 3
    with pytest.raises(ConfigError, match="at least one delay coordinate"):
        CNN1dNet(DataSpec((7,), 1, "forecasting"))
