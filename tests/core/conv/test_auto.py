"""The auto backend: decisions from measured shapes, fitted crossovers and defaults; the tuning cache."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import sciconv.conv as conv
from sciconv.conv.auto import DEFAULT_CROSSOVER, AutoBackend, AutoTable, default_cache_path, machine_fingerprint
from sciconv.conv.signature import ConvCall


def _call(taps: int = 9, mode: str = "infer", depthwise: bool = False, stride: int = 1) -> ConvCall:
    groups = 8 if depthwise else 1
    return ConvCall(1, (2, 8, 512), (8, 8 // groups, taps), (stride,), (0,), (1,), groups=groups, mode=mode)


def _entry(call: ConvCall, best: str) -> dict:
    return {"call": call.to_dict(), "times": {best: 1.0}, "incorrect": {}, "best": best}


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path))
    conv.get_backend("auto").reload()
    yield tmp_path
    conv.get_backend("auto").reload()


def test_a_measured_signature_decides_first() -> None:
    call = _call(taps=3)
    auto = AutoBackend(AutoTable(shapes={call.key: _entry(call, "im2win")}, crossover={}))
    assert auto.choose(call) == ("im2win", "measured")
    assert auto.choose(call.with_mode("train"))[0] == "torch"  # another mode is another signature


def test_crossovers_pick_fft_for_long_kernels_at_stride_one() -> None:
    table = AutoTable(crossover={"cpu": {"conv1d": {"dense": {"infer": 64, "train": None}}}})
    auto = AutoBackend(table)
    assert auto.choose(_call(taps=65)) == ("fft", "tuned crossover 64 taps")
    assert auto.choose(_call(taps=63))[0] == "torch"
    assert auto.choose(_call(taps=65, stride=2))[0] == "torch"
    assert auto.choose(_call(taps=65, mode="train")) == ("torch", "tuned: fft never faster")
    assert auto.choose(_call(taps=65, depthwise=True))[0] == "torch"  # no crossover measured for that kind


def test_defaults_without_a_cache(cache_dir) -> None:
    auto = AutoBackend()
    assert auto.status.startswith("defaults (no tuning cache)")
    limit = DEFAULT_CROSSOVER["cpu"]["conv1d"]["dense"]["infer"]
    assert auto.choose(_call(taps=limit))[0] == "fft"
    assert auto.choose(_call(taps=limit - 1))[0] == "torch"
    assert AutoBackend(use_cache=False).status == "defaults (cache disabled)"


def test_the_cache_is_used_only_on_the_machine_it_was_measured_on(cache_dir) -> None:
    call = _call(taps=3)
    table = AutoTable(shapes={call.key: _entry(call, "im2win")})
    path = table.save(default_cache_path())
    assert path.parent == cache_dir and not list(cache_dir.glob(".*tmp"))
    assert AutoBackend().choose(call)[0] == "im2win"
    data = json.loads(path.read_text())
    data["machine"]["threads"] = machine_fingerprint()["threads"] + 7
    path.write_text(json.dumps(data))
    auto = AutoBackend()
    assert auto.choose(call)[0] == "torch" and "another machine" in auto.status
    path.write_text("{not json")
    auto = AutoBackend()
    assert auto.choose(call)[0] == "torch" and "unreadable" in auto.status


def test_malformed_cache_files_are_named() -> None:
    with pytest.raises(ValueError, match="not a sciconv conv tuning cache"):
        AutoTable.from_dict({"format": "other"}, "x.json")
    with pytest.raises(ValueError, match="has no 'best'"):
        AutoTable.from_dict({"format": "sciconv-conv-auto/1", "shapes": {"k": {}}}, "x.json")


def test_auto_computes_what_torch_computes(cache_dir) -> None:
    gen = torch.Generator().manual_seed(0)
    for k in (3, 65, 257):
        x = torch.randn(2, 4, 600, generator=gen, requires_grad=True)
        w = torch.randn(4, 4, k, generator=gen, requires_grad=True)
        out = conv.conv1d(x, w, None, 1, "same", backend="auto")
        ref = F.conv1d(x, w, None, 1, "same")
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        gx, gw = torch.autograd.grad(out.sum(), (x, w))
        rx, rw = torch.autograd.grad(ref.sum(), (x, w))
        torch.testing.assert_close(gx, rx, rtol=1e-4, atol=1e-3)
        torch.testing.assert_close(gw, rw, rtol=1e-4, atol=1e-3)
    with pytest.raises(RuntimeError):  # a malformed call gets torch's own error
        conv.conv1d(torch.randn(2, 3, 10), torch.randn(4, 5, 3), backend="auto")


def test_decisions_are_memoised_and_reload_forgets_them() -> None:
    call_a = ConvCall(1, (1, 2, 64), (2, 2, 3), (1,), (0,), (1,), bias=False)
    auto = AutoBackend(AutoTable(shapes={call_a.key: _entry(call_a, "im2win")}))
    x, w = torch.randn(1, 2, 64), torch.randn(2, 2, 3)
    auto.conv1d(x, w)
    assert list(auto._memo.values()) == [conv.get_backend("im2win").conv1d]
    auto.reload()
    assert auto._memo == {}


def test_conv_modules_and_record_calls_route_through_auto(cache_dir) -> None:
    layer = conv.Conv2d(3, 6, 5, padding=2, backend="auto")
    x = torch.randn(2, 3, 20, 20)
    with conv.record_calls() as calls:
        out = layer(x)
        with torch.no_grad():
            layer(x)
    torch.testing.assert_close(out, F.conv2d(x, layer.weight, layer.bias, padding=2), rtol=1e-4, atol=1e-5)
    assert [c.mode for c in calls] == ["train", "infer"]
    assert calls[0].input_shape == (2, 3, 20, 20) and calls[0].weight_shape == (6, 3, 5, 5)
