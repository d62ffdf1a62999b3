"""Measuring convolution backends on this machine: what ``pipeline bench-conv`` runs for the ``auto`` backend.

:func:`measure_call` times every backend on one :class:`~sciconv.conv.signature.ConvCall` (interleaved,
medians) after checking that each computes the same output (and, in ``train`` mode, the same gradients)
as ``torch.nn.functional``; :func:`default_grid` is the grid of shapes the crossovers are fitted on;
:func:`trace_model` lists the convolutions a model runs (:func:`sciconv.tracing.trace_pipeline` those of
a pipeline's model, at its training batch size), so that a pipeline's own layers are measured exactly;
:func:`tune` measures and returns the :class:`~sciconv.conv.auto.AutoTable` that ``auto`` reads;
:func:`fit_crossover` turns measurements into the fewest kernel taps at which ``fft`` wins.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from sciconv.conv.auto import AutoTable
from sciconv.conv.signature import ConvCall
from sciconv.malloc import tune_malloc

tune_malloc()  # measure with the allocator settings runs use (sciconv.engine applies them too)

__all__ = [
    "Measurement",
    "default_grid",
    "fit_crossover",
    "measure_call",
    "quick_grid",
    "shape_series",
    "trace_model",
    "tune",
]

#: Largest error of a backend, relative to the largest magnitude of torch's result, still called correct.
RELATIVE_TOLERANCE = {"float32": 1e-3, "float64": 1e-9}

#: A backend must beat torch (the reference) by more than this fraction to be picked over it: a smaller gap is
#: within what repeated measurements of one call differ by on a shared machine (a 0.5 % win while tuning was
#: measured as a 20 % loss in the benchmark's own run), and torch is the backend everything falls back to.
REFERENCE_MARGIN = 0.03


@dataclass
class Measurement:
    """One signature measured on several backends.

    Attributes:
        call: the signature.
        times: backend -> median seconds of one call (forward, or forward and backward in ``train`` mode).
        samples: backend -> number of timed calls.
        errors: backend -> largest deviation from torch, relative to torch's largest magnitude.
        incorrect: backend -> why it is not a candidate (wrong result or an exception).
    """

    call: ConvCall
    times: dict[str, float] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    incorrect: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> str:
        """The fastest backend that computed the call correctly, unless torch is within
        :data:`REFERENCE_MARGIN` of it (then torch)."""
        correct = {name: t for name, t in self.times.items() if name not in self.incorrect}
        if not correct:
            raise RuntimeError(f"{self.call.key}: no backend computed it correctly")
        fastest = min(correct, key=correct.__getitem__)
        if "torch" in correct and correct["torch"] <= correct[fastest] * (1 + REFERENCE_MARGIN):
            return "torch"
        return fastest

    def to_entry(self) -> dict[str, Any]:
        """The tuning cache's record of this measurement."""
        return {
            "call": self.call.to_dict(),
            "times": self.times,
            "samples": self.samples,
            "incorrect": self.incorrect,
            "best": self.best,
        }


def _reference(nd: int) -> Callable[..., torch.Tensor]:
    return (F.conv1d, F.conv2d, F.conv3d)[nd - 1]


def _relative_error(got: torch.Tensor, ref: torch.Tensor) -> float:
    scale = ref.abs().max().item() if ref.numel() else 0.0
    return (got - ref).abs().max().item() / max(scale, 1e-30) if ref.numel() else 0.0


def measure_call(
    call: ConvCall,
    backends: Mapping[str, Any],
    repeats: int = 5,
    budget_s: float = 2.0,
    min_time_s: float = 0.0,
    max_rounds: int = 200,
) -> Measurement:
    """Time each backend on ``call``: one checked warm-up call each, then ``repeats`` rounds, each in a freshly
    shuffled order (more, up to ``max_rounds``, for a backend that has spent under ``min_time_s`` seconds).

    A backend stops being timed once it has spent ``budget_s`` seconds on the call (a warm-up call slower
    than ``budget_s`` is kept as its only sample: one-time costs are then negligible). A backend whose
    output (or, in ``train`` mode, any gradient) deviates from ``torch.nn.functional`` by more than
    :data:`RELATIVE_TOLERANCE`, or which raises, is recorded in ``incorrect`` and not timed.
    """
    result = Measurement(call)
    ref_op = _reference(call.nd)
    x, w, b = call.tensors()
    args = (call.stride, call.padding, call.dilation, call.groups)
    train = call.mode == "train"
    tolerance = RELATIVE_TOLERANCE.get(call.dtype, 1e-2)

    def leaves() -> list[torch.Tensor]:
        return [t.detach().clone().requires_grad_() for t in (x, w, b) if t is not None]

    def run(op: Callable[..., torch.Tensor], tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        bias = tensors[2] if b is not None else None
        if not train:
            with torch.no_grad():
                return [op(tensors[0], tensors[1], bias, *args)]
        out = op(tensors[0], tensors[1], bias, *args)
        return [out.detach(), *torch.autograd.grad(out, tensors, grad_out)]

    grad_out = None
    if train:
        with torch.no_grad():
            shape = ref_op(x, w, b, *args).shape
        grad_out = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype).to(x.device)
    reference = run(ref_op, leaves() if train else [t for t in (x, w, b) if t is not None])

    steps: dict[str, Callable[[], Any]] = {}
    spent: dict[str, float] = {}
    samples: dict[str, list[float]] = {}
    for name, backend in backends.items():
        op = getattr(backend, f"conv{call.nd}d")
        tensors = leaves() if train else [t for t in (x, w, b) if t is not None]
        start = time.perf_counter()
        try:
            outputs = run(op, tensors)
        except Exception as exc:  # any failure disqualifies the backend for this call
            result.incorrect[name] = f"{type(exc).__name__}: {exc}"
            continue
        elapsed = time.perf_counter() - start
        error = max(_relative_error(got, ref) for got, ref in zip(outputs, reference, strict=True))
        result.errors[name] = error
        if not error <= tolerance:
            result.incorrect[name] = f"relative error {error:.2e} > {tolerance:.0e}"
            continue
        steps[name] = lambda op=op, tensors=tensors: run(op, tensors)
        spent[name] = elapsed if elapsed > budget_s else 0.0
        samples[name] = [elapsed] if elapsed > budget_s else []
    names = list(steps)
    order = random.Random(0)
    round_ = 0
    # at least `repeats` rounds; cheap calls get more (until each backend has spent min_time_s), so that
    # their medians are as steady as those of expensive calls. The order is shuffled every round: a call
    # runs measurably slower after one that freed large buffers (fresh pages), so no backend may always
    # follow the same one.
    while round_ < repeats or (round_ < max_rounds and any(spent[n] < min_time_s for n in names)):
        round_ += 1
        for name in order.sample(names, len(names)):
            if (spent[name] >= budget_s or (round_ > repeats and spent[name] >= min_time_s)) and samples[name]:
                continue
            start = time.perf_counter()
            steps[name]()
            elapsed = time.perf_counter() - start
            spent[name] += elapsed
            samples[name].append(elapsed)
    for name in names:
        result.times[name] = statistics.median(samples[name])
        result.samples[name] = len(samples[name])
    return result


def shape_series(
    nd: int, batch: int, channels: int, sizes: Sequence[int], kernels: Sequence[int], device: str = "cpu"
) -> list[ConvCall]:
    """Stride-1 ``'same'`` convolutions on cubic inputs: every size x kernel (kernel <= size), dense
    (``C -> C``) and depthwise, ``infer`` and ``train``. Shapes ``(batch, channels, *[size] * nd)``."""
    calls = []
    for size in sizes:
        for k in kernels:
            if k > size:
                continue
            for depthwise in (False, True):
                groups = channels if depthwise else 1
                for mode in ("infer", "train"):
                    calls.append(
                        ConvCall(
                            nd=nd,
                            input_shape=(batch, channels, *([size] * nd)),
                            weight_shape=(channels, channels // groups, *([k] * nd)),
                            stride=(1,) * nd,
                            padding="same",
                            dilation=(1,) * nd,
                            groups=groups,
                            device=device,
                            mode=mode,
                        )
                    )
    return calls


def default_grid(device: str = "cpu") -> list[ConvCall]:
    """The shapes the crossovers are fitted on: stride-1 ``'same'`` convolutions, dense and depthwise,
    ``train`` and ``infer``, with kernels from short to as long as the input.

    * ``conv1d``: N = 4, C = 16, L in {1024, 8192}, K in {9, 33, 129, 513, 2049};
    * ``conv2d``: N = 2, C = 16, 64 x 64, K in {3, 7, 15, 31} (9 to 961 taps);
    * ``conv3d``: N = 1, C = 8, 24^3, K in {3, 5, 9} (27 to 729 taps).
    """
    return [
        *shape_series(1, 4, 16, (1024, 8192), (9, 33, 129, 513, 2049), device),
        *shape_series(2, 2, 16, (64,), (3, 7, 15, 31), device),
        *shape_series(3, 1, 8, (24,), (3, 5, 9), device),
    ]


def quick_grid(device: str = "cpu") -> list[ConvCall]:
    """A grid of small shapes that is measured in seconds (for checking the tooling, not for tuning)."""
    return [*shape_series(1, 2, 4, (256,), (5, 129), device), *shape_series(2, 1, 4, (16,), (3,), device)]


def fit_crossover(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The fewest kernel taps at which ``fft`` beats ``torch``, per device, op, kind and mode.

    ``entries`` are tuning-cache records (``call``, ``times``, ``incorrect``). Only stride-1 calls where both
    were measured and correct count; ``fft`` wins where it beats ``torch`` by more than :data:`REFERENCE_MARGIN`.
    Per group, the crossover is the smallest measured tap count from which
    on ``fft`` wins at every larger measured count (a tie or loss above it moves it up); it is placed at the
    geometric middle between the last losing and the first winning count, or at the smallest count when
    ``fft`` won everywhere, and is ``None`` when ``fft`` lost at the largest count.
    """
    groups: dict[tuple[str, str, str, str], dict[int, bool]] = {}
    for entry in entries:
        call = ConvCall.from_dict(entry["call"])
        times, incorrect = entry.get("times", {}), entry.get("incorrect", {})
        if any(s != 1 for s in call.stride) or any(n not in times or n in incorrect for n in ("fft", "torch")):
            continue
        key = (call.device, f"conv{call.nd}d", call.kind, call.mode)
        wins = groups.setdefault(key, {})
        beats = times["fft"] * (1 + REFERENCE_MARGIN) < times["torch"]  # as Measurement.best decides
        wins[call.taps] = wins.get(call.taps, True) and beats
    crossover: dict[str, Any] = {}
    for (device, op, kind, mode), wins in sorted(groups.items()):
        taps = sorted(wins)
        first = len(taps)
        while first > 0 and wins[taps[first - 1]]:
            first -= 1
        if first == len(taps):
            value = None
        elif first == 0:
            value = taps[0]
        else:
            value = max(taps[first - 1] + 1, round(math.sqrt(taps[first - 1] * taps[first])))
        crossover.setdefault(device, {}).setdefault(op, {}).setdefault(kind, {})[mode] = value
    return crossover


def trace_model(model: torch.nn.Module, x: torch.Tensor) -> list[ConvCall]:
    """The distinct convolution signatures ``model`` runs on the batch ``x``, in ``train`` and ``infer`` mode.

    Runs one forward and backward pass, then one forward pass under ``no_grad``. Only convolutions routed
    through :mod:`sciconv.conv` are seen; an error of the model is raised as it is
    (:func:`sciconv.tracing.trace_pipeline` does this for a pipeline's model and names the pipeline).
    """
    from sciconv.conv import record_calls

    with record_calls() as calls:
        model.train()
        out = model(x)
        (out if isinstance(out, torch.Tensor) else out[0]).float().sum().backward()
        model.eval()
        with torch.no_grad():
            model(x)
    unique: dict[str, ConvCall] = {}
    for call in calls:
        unique.setdefault(call.key, call)
    return list(unique.values())


def _settle_near_tie(
    m: Measurement,
    backends: Mapping[str, Any],
    repeats: int,
    budget_s: float,
    min_time_s: float,
    margin: float,
) -> Measurement:
    """``m``, or for a near tie of its two fastest correct backends a longer head-to-head measurement of them."""
    ranked = sorted((t, n) for n, t in m.times.items() if n not in m.incorrect)
    if len(ranked) < 2 or ranked[1][0] > ranked[0][0] * (1 + margin):
        return m
    pair = {name: backends[name] for _, name in ranked[:2]}
    again = measure_call(m.call, pair, repeats=3 * repeats, budget_s=3 * budget_s, min_time_s=3 * min_time_s)
    m.times.update(again.times)
    m.samples.update({name: m.samples[name] + n for name, n in again.samples.items()})
    return m


def tune(
    calls: Iterable[ConvCall],
    backends: Mapping[str, Any],
    repeats: int = 5,
    budget_s: float = 2.0,
    min_time_s: float = 0.2,
    base: AutoTable | None = None,
    progress: Callable[[Measurement], None] | None = None,
    tie_margin: float = 0.15,
) -> AutoTable:
    """Measure ``calls`` (duplicates once) on ``backends`` and return a table with their entries added to
    ``base``'s (a re-measured signature replaces its old entry) and the crossovers refitted on all entries.

    ``backends`` must include ``torch``, the reference the others are compared with and fall back to. When
    the two fastest backends are within ``tie_margin`` of each other, the two are measured again, head to
    head with three times the samples, and that measurement decides (a single pass on a shared machine
    flips near ties).
    """
    if "torch" not in backends:
        raise ValueError("tune: the backends must include 'torch', the reference")
    table = AutoTable(shapes=dict(base.shapes) if base is not None else {})
    seen: set[str] = set()
    for call in calls:
        if call.key in seen:
            continue
        seen.add(call.key)
        measurement = measure_call(call, backends, repeats=repeats, budget_s=budget_s, min_time_s=min_time_s)
        measurement = _settle_near_tie(measurement, backends, repeats, budget_s, min_time_s, tie_margin)
        table.shapes[call.key] = measurement.to_entry()
        if progress is not None:
            progress(measurement)
    table.crossover = fit_crossover(table.shapes.values())
    return table
