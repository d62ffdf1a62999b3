"""Every registered dense backend gives a plugin's model the same results as torch, within float tolerance."""

from __future__ import annotations

import pytest
import torch

from sciconv import DataSpec
from sciconv.conv import available_backends, use_backend
from sciconv.testing import check_plugin
from sciconv_bci_ssvep.models.guney_dnn import GuneyDNN
from sciconv_demo.models.cnn1d import CNN1d

DENSE = [b for b in ("fft", "im2win", "auto") if b in available_backends()]


def test_core_backends_pass_the_conformance_check() -> None:
    assert set(check_plugin("core").conv_backends) >= {"torch", *DENSE}


@pytest.mark.parametrize("backend", DENSE)
@pytest.mark.parametrize(
    ("factory", "spec", "shape"),
    [
        (GuneyDNN, DataSpec((3, 9, 100), 40, classes=tuple(map(str, range(40)))), (4, 3, 9, 100)),
        (CNN1d, DataSpec((4, 256), 4, classes=("a", "b", "c", "d")), (4, 4, 256)),
    ],
)
def test_model_outputs_and_gradients_do_not_depend_on_the_backend(backend, factory, spec, shape) -> None:
    torch.manual_seed(0)
    model = factory(spec).eval()
    x = torch.randn(shape)
    reference = model(x)
    reference.square().sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    with use_backend(backend):
        out = model(x)
        out.square().sum().backward()
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], rtol=1e-3, atol=1e-4, msg=f"{backend}: gradient of {name}")
