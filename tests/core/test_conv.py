"""sciconv.conv routes convolutions through the registered backend chosen for the run."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import sciconv
from sciconv import conv, hookimpl
from sciconv.errors import ConfigError


@pytest.mark.parametrize(
    ("module", "reference", "shape"),
    [
        (conv.Conv1d, torch.nn.Conv1d, (2, 4, 33)),
        (conv.Conv2d, torch.nn.Conv2d, (2, 4, 9, 11)),
        (conv.Conv3d, torch.nn.Conv3d, (2, 4, 5, 6, 7)),
    ],
)
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_modules_match_torch(module, reference, shape, padding_mode) -> None:
    torch.manual_seed(0)
    ours = module(4, 6, 3, stride=1, padding=1, dilation=1, groups=2, padding_mode=padding_mode)
    theirs = reference(4, 6, 3, stride=1, padding=1, dilation=1, groups=2, padding_mode=padding_mode)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(shape, requires_grad=True)
    torch.testing.assert_close(ours(x), theirs(x))


def test_functional_matches_torch() -> None:
    x, w = torch.randn(2, 3, 50), torch.randn(5, 3, 7)
    torch.testing.assert_close(conv.conv1d(x, w, padding="same"), F.conv1d(x, w, padding="same"))


class _Counting:
    """A backend that counts its calls and delegates to torch."""

    calls = 0

    def conv1d(self, *args):
        type(self).calls += 1
        return F.conv1d(*args)

    conv2d = staticmethod(F.conv2d)
    conv3d = staticmethod(F.conv3d)


class _BackendPlugin:
    @hookimpl
    def register_conv_backends(self, register):
        register("counting", _Counting())


def test_plugin_backend_is_used_by_the_pipeline(register_plugin, tmp_path) -> None:
    register_plugin(_BackendPlugin(), name="counting-backend")
    assert "counting" in conv.available_backends()
    _Counting.calls = 0
    sciconv.run(
        "demo-signal",
        {
            "conv.backend": "counting",
            "train.epochs": 1,
            "dataset.params.n_trials": 60,
            "train.progress": False,
        },
        run_dir=tmp_path / "run",
    )
    assert _Counting.calls > 0
    assert conv.active_backend() == "torch"  # restored after the run


def test_unknown_backend() -> None:
    with (
        pytest.raises(ConfigError, match="unknown conv backend 'trch'; did you mean 'torch'"),
        conv.use_backend("trch"),
    ):
        pass
    with pytest.raises(ConfigError, match=r"conv.backend"):
        sciconv.load_pipeline("demo-signal", {"conv.backend": "fft-not-here"})
