"""The ``fft`` conv backend against ``torch`` (oneDNN/ATen) for long 1D convolutions, side by side.

Shapes: B = 8, C = 64, L in {8192, 16384}, K in {65, 1025, 4097}, ``padding='same'``; dense (C -> C, groups=1)
and depthwise (groups=C); ``fwd`` = forward under ``torch.no_grad()`` with a fixed weight (the fft backend's
kernel-spectrum cache hits after the first call, as in inference), ``fwd+bwd`` = forward and backward with
gradients for input, weight and bias (no cache: the weight is trained). Each case runs both backends
``--repeats`` times, interleaved (the order alternates each round) so that machine noise hits both alike; the
table gives medians and the ratio torch / fft (> 1: fft is faster). One warm-up call per backend is not
counted unless it took over 1 s (then one-time costs are negligible and it counts as a sample); torch stops
repeating a case once it has spent ``--case-budget`` seconds on it (so slow cases may have fewer samples). A torch call
over ``--cap`` seconds stops torch for that case and for the larger cases of the same kind (the ratio is then
a lower bound, printed with '>='). Run:

    .venv/bin/python benchmarks/conv_fft.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sciconv.conv.fft import FFTBackend

Step = Callable[[], None]


def _steps(length: int, k: int, depthwise: bool, backward: bool, batch: int, channels: int) -> tuple[Step, Step]:
    """The torch and fft calls of one case, as closures over fixed tensors."""
    groups = channels if depthwise else 1
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, length, generator=gen)
    w = torch.randn(channels, channels // groups, k, generator=gen) / k**0.5
    b = torch.randn(channels, generator=gen)
    fft = FFTBackend()
    ops = {"torch": F.conv1d, "fft": fft.conv1d}

    def make(op: Callable[..., torch.Tensor]) -> Step:
        if not backward:

            def fwd() -> None:
                with torch.no_grad():
                    op(x, w, b, 1, "same", 1, groups)

            return fwd
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))
        grad = torch.randn(batch, channels, length, generator=gen)

        def fwd_bwd() -> None:
            out = op(xg, wg, bg, 1, "same", 1, groups)
            torch.autograd.grad(out, (xg, wg, bg), grad)

        return fwd_bwd

    return make(ops["torch"]), make(ops["fft"])


def _time(step: Step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap", type=float, default=20.0, help="seconds; a slower torch call stops torch")
    parser.add_argument("--case-budget", type=float, default=25.0, help="seconds of torch time per case, >= 1 call")
    parser.add_argument("--lengths", type=int, nargs="+", default=[8192, 16384])
    parser.add_argument("--kernels", type=int, nargs="+", default=[65, 1025, 4097])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=64)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, B={args.batch}, C={args.channels}, "
        f"padding='same', {args.repeats} interleaved repeats, medians"
    )
    header = f"{'mode':<10} {'pass':<8} {'L':>6} {'K':>5} {'torch [ms]':>12} {'fft [ms]':>10} {'torch/fft':>10}"
    print(header)
    print("-" * len(header))
    for backward in (False, True):
        for depthwise in (True, False):
            too_slow = False  # once torch passes the cap, larger cases of this kind are not run in torch
            for length in args.lengths:
                for k in args.kernels:
                    torch_step, fft_step = _steps(length, k, depthwise, backward, args.batch, args.channels)
                    times: dict[str, list[float]] = {"torch": [], "fft": []}
                    capped = too_slow
                    torch_floor: float | None = None  # the one torch call that passed the cap
                    t = _time(fft_step)
                    if t > 1.0:
                        times["fft"].append(t)
                    if not capped:
                        t = _time(torch_step)
                        if t > args.cap:
                            capped = too_slow = True
                            torch_floor = t
                        elif t > 1.0:
                            times["torch"].append(t)
                    for r in range(args.repeats):
                        order = [("fft", fft_step), ("torch", torch_step)]
                        if r % 2:
                            order.reverse()
                        for name, step in order:
                            if name == "torch" and (capped or sum(times["torch"]) > args.case_budget):
                                continue
                            if len(times[name]) < args.repeats:
                                times[name].append(_time(step))
                    fft_ms = 1e3 * statistics.median(times["fft"])
                    if times["torch"]:
                        torch_ms = 1e3 * statistics.median(times["torch"])
                        torch_s, ratio = f"{torch_ms:12.1f}", f"{torch_ms / fft_ms:10.1f}"
                    elif torch_floor is not None:
                        torch_s = f"{'>' + format(1e3 * torch_floor, '.0f'):>12}"
                        ratio = f"{'>=' + format(1e3 * torch_floor / fft_ms, '.1f'):>10}"
                    else:
                        torch_s, ratio = f"{'skipped':>12}", f"{'-':>10}"
                    mode = "depthwise" if depthwise else "dense"
                    pass_ = "fwd+bwd" if backward else "fwd"
                    print(f"{mode:<10} {pass_:<8} {length:>6} {k:>5} {torch_s} {fft_ms:10.1f} {ratio}", flush=True)
    print(f"(torch 'skipped': a smaller case of the same kind already took over {args.cap:.0f} s per call)")


if __name__ == "__main__":
    main()
