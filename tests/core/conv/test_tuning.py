"""Tuning: measurement with correctness checks, crossover fitting, pipeline tracing, the bench-conv command."""

from __future__ import annotations

import json
import time

import torch
import torch.nn.functional as F

from sciconv.cli import main
from sciconv.conv import get_backend
from sciconv.conv.auto import AutoTable
from sciconv.conv.signature import ConvCall
from sciconv.conv.tuning import (
    REFERENCE_MARGIN,
    Measurement,
    fit_crossover,
    measure_call,
    quick_grid,
    tune,
)
from sciconv.tracing import trace_pipeline


class _Wrong:
    """A backend that computes conv1d with a flipped kernel (a classic bug)."""

    def conv1d(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        return F.conv1d(x, w.flip(-1), b, stride, padding, dilation, groups)

    conv2d = conv3d = None


class _Broken:
    def conv1d(self, *args):
        raise NotImplementedError("no 1D")


def _call(taps: int, mode: str = "infer") -> ConvCall:
    return ConvCall(1, (2, 4, 256), (4, 4, taps), (1,), "same", (1,), mode=mode)


def test_measure_times_correct_backends_and_rejects_wrong_ones() -> None:
    backends = {"torch": get_backend("torch"), "fft": get_backend("fft"), "wrong": _Wrong(), "broken": _Broken()}
    for mode in ("infer", "train"):
        m = measure_call(_call(7, mode), backends, repeats=2)
        assert set(m.times) == {"torch", "fft"} and all(t > 0 for t in m.times.values())
        assert m.samples == {"torch": 2, "fft": 2}
        assert "relative error" in m.incorrect["wrong"] and "NotImplementedError" in m.incorrect["broken"]
        assert m.errors["fft"] < 1e-5 and m.best in ("torch", "fft")


def _entry(taps: int, fft: float, torch_: float, mode: str = "infer") -> dict:
    call = _call(taps, mode)
    return {"call": call.to_dict(), "times": {"fft": fft, "torch": torch_}, "incorrect": {}, "best": "x"}


def test_fit_crossover() -> None:
    entries = [_entry(9, 2.0, 1.0), _entry(33, 1.0, 2.0), _entry(129, 1.0, 5.0)]
    assert fit_crossover(entries)["cpu"]["conv1d"]["dense"]["infer"] == 17  # between 9 and 33
    entries += [_entry(9, 1.0, 2.0, "train"), _entry(33, 1.0, 2.0, "train")]
    assert fit_crossover(entries)["cpu"]["conv1d"]["dense"]["train"] == 9  # fft won everywhere measured
    # a loss above a win moves the crossover up; a loss at the top means never
    assert (
        fit_crossover([_entry(9, 1.0, 2.0), _entry(33, 2.0, 1.0), _entry(129, 1.0, 2.0)])["cpu"]["conv1d"]["dense"][
            "infer"
        ]
        == 65
    )
    assert fit_crossover([_entry(9, 1.0, 2.0), _entry(33, 2.0, 1.0)])["cpu"]["conv1d"]["dense"]["infer"] is None


def test_tune_merges_and_records_the_best() -> None:
    backends = {"torch": get_backend("torch"), "fft": get_backend("fft")}
    first = tune([_call(5), _call(5)], backends, repeats=1)
    assert list(first.shapes) == [_call(5).key]
    second = tune([_call(129)], backends, repeats=1, base=first)
    assert set(second.shapes) == {_call(5).key, _call(129).key}
    entry = second.shapes[_call(129).key]
    assert entry["best"] == min(entry["times"], key=entry["times"].get)
    assert "conv1d" in second.crossover["cpu"]


def test_trace_pipeline_lists_the_models_convolutions() -> None:
    calls = trace_pipeline("demo-signal", batch_size=8)
    assert calls and {c.mode for c in calls} == {"train", "infer"}
    assert all(c.nd == 1 and c.input_shape[0] == 8 for c in calls)


def test_bench_conv_command_writes_the_cache(tmp_path, capsys) -> None:
    cache = tmp_path / "auto.json"
    assert main(["bench-conv", "--grid", "quick", "--repeats", "1", "--cache", str(cache), "--backends", "fft"]) == 0
    out = capsys.readouterr()
    assert "fft crossover" in out.out and "-> " in out.err
    table = AutoTable.load(cache)
    assert len(table.shapes) == len(quick_grid()) and table.matches_machine()
    assert set(next(iter(table.shapes.values()))["times"]) == {"torch", "fft"}
    assert main(["bench-conv", "--show", "--cache", str(cache)]) == 0
    assert f"{len(quick_grid())} measured signatures" in capsys.readouterr().out
    cache.write_text(json.dumps({"format": "nope"}))
    assert main(["bench-conv", "--grid", "none", "--cache", str(cache)]) == 2
    assert "--cache" in capsys.readouterr().err
    assert main(["bench-conv", "--grid", "none", "--repeats", "0", "--cache", str(tmp_path / "n.json")]) == 2


def test_traced_shapes_are_dense_calls_torch_can_run() -> None:
    for call in trace_pipeline("demo-signal", batch_size=2):
        x, w, b = call.tensors()
        op = (F.conv1d, F.conv2d, F.conv3d)[call.nd - 1]
        assert op(x, w, b, call.stride, call.padding, call.dilation, call.groups).dim() == call.nd + 2
        assert x.dtype == torch.float32


class _TorchAgain:
    """torch under another name: a perfect tie."""

    def conv1d(self, *args):
        return F.conv1d(*args)

    conv2d = conv3d = None


class _Slow:
    """torch plus 0.3 s: never in a tie, even when a busy machine slows one of the others' single calls."""

    def conv1d(self, *args):
        time.sleep(0.3)
        return F.conv1d(*args)

    conv2d = conv3d = None


def test_torch_is_kept_unless_beaten_by_more_than_the_margin() -> None:
    """A backend within REFERENCE_MARGIN of torch does not replace it; a clear winner does; an incorrect
    torch is never picked."""
    slightly = 1.0 / (1 + REFERENCE_MARGIN / 2)
    assert Measurement(_call(5), times={"torch": 1.0, "fft": slightly, "im2win": 2.0}).best == "torch"
    assert Measurement(_call(5), times={"torch": 1.0, "fft": 0.8}).best == "fft"
    assert Measurement(_call(5), times={"torch": 1.0, "fft": 1.2}).best == "torch"
    broken = Measurement(_call(5), times={"torch": 1.0, "fft": slightly}, incorrect={"torch": "wrong"})
    assert broken.best == "fft"


def test_near_ties_are_measured_again_head_to_head() -> None:
    backends = {"torch": get_backend("torch"), "again": _TorchAgain(), "slow": _Slow()}
    # torch and its twin are a tie within any margin that a loaded machine's noise on a microsecond call can't
    # break (10,000x); the 0.3 s backend is never one of the two fastest
    table = tune([_call(5)], backends, repeats=2, min_time_s=0.0, tie_margin=1e4)
    samples = table.shapes[_call(5).key]["samples"]
    assert samples["torch"] == samples["again"] == 2 + 6 and samples["slow"] == 2
    table = tune([_call(5)], backends, repeats=2, min_time_s=0.0, tie_margin=-1.0)  # never a tie
    assert table.shapes[_call(5).key]["samples"]["torch"] == 2
