"""The DNN of Guney et al.: the published size, the layer shapes, initialisation and regularisation."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from sciconv import DataSpec
from sciconv.conv import Conv2d
from sciconv.errors import ConfigError
from sciconv.testing import check_model
from sciconv_bci_ssvep.models.guney_dnn import GuneyDNN


def spec(n_subbands: int = 3, n_channels: int = 9, n_times: int = 100, n_targets: int = 40) -> DataSpec:
    return DataSpec((n_subbands, n_channels, n_times), n_targets, classes=tuple(str(k) for k in range(n_targets)))


def test_weight_count_matches_the_paper() -> None:
    """9 channels, 0.4 s at 250 Hz (100 samples), 3 sub-bands: 413,883 weights, biases excluded."""
    assert GuneyDNN(spec()).n_weights() == 413_883


@pytest.mark.parametrize("n_times", [50, 100, 101, 250])
def test_shapes(n_times: int) -> None:
    model = GuneyDNN(spec(n_times=n_times))
    assert model(torch.randn(4, 3, 9, n_times)).shape == (4, 40)
    x = model.subbands(torch.randn(2, 3, 9, n_times))
    assert x.shape == (2, 1, 9, n_times)
    x = model.downsample(model.spatial(x))
    assert x.shape == (2, 120, 1, n_times // 2)
    assert model.temporal(model.pad(x)).shape == x.shape


def test_initialisation() -> None:
    torch.manual_seed(0)
    model = GuneyDNN(spec())
    assert torch.equal(model.subbands.weight, torch.ones_like(model.subbands.weight))
    assert model.subbands.bias is None
    for layer in (model.spatial, model.downsample, model.temporal, model.classifier):
        assert layer.weight.std().item() == pytest.approx(0.01, rel=0.05)
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))


def test_same_padding_matches_torch() -> None:
    model = GuneyDNN(spec())
    x = torch.randn(2, 120, 1, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = F.conv2d(x, model.temporal.weight, model.temporal.bias, padding="same")
    torch.testing.assert_close(model.temporal(model.pad(x)), expected)


def test_convolutions_go_through_sciconv_conv() -> None:
    model = GuneyDNN(spec())
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4 and all(isinstance(m, Conv2d) for m in convs)


def test_relu_is_the_only_nonlinearity_and_dropouts() -> None:
    model = GuneyDNN(spec())
    assert [type(m).__name__ for m in model.children() if not isinstance(m, torch.nn.Conv2d | torch.nn.Linear)] == [
        "Dropout", "Dropout", "ReLU", "ZeroPad2d", "Dropout",
    ]  # fmt: skip
    assert (model.drop1.p, model.drop2.p, model.drop3.p) == (0.1, 0.1, 0.95)
    model.set_dropout(0.6, 0.6)
    assert (model.drop1.p, model.drop2.p, model.drop3.p) == (0.6, 0.6, 0.95)


def test_biases_are_exempt_from_weight_decay() -> None:
    model = GuneyDNN(spec())
    assert model.no_weight_decay() == ["spatial.bias", "downsample.bias", "temporal.bias", "classifier.bias"]


def test_eval_is_deterministic_and_train_uses_dropout() -> None:
    model = GuneyDNN(spec())
    x = torch.randn(3, 3, 9, 100)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_conformance() -> None:
    check_model(GuneyDNN, spec(n_times=60, n_targets=4), {"n_filters": 8})


def test_bad_shapes() -> None:
    with pytest.raises(ConfigError, match="n_subbands, n_channels, n_times"):
        GuneyDNN(DataSpec((9, 100), 40, classes=tuple("x" * 40)))
    with pytest.raises(ConfigError, match="dropout"):
        GuneyDNN(spec(), dropout=(0.1, 1.2, 0.95))
