"""im2win (native kernels and torch ops) vs torch (oneDNN) conv2d on ResNet-style 3x3 layers: time and memory.

For each layer, forward (no grad) and forward+backward (input and weight gradients) of torch's conv2d, the
im2win backend's native kernels and its torch-ops path run ``--repeats`` times interleaved (so machine noise
hits all alike); the table gives medians in ms and the ratios to torch. Memory, as fractions of the im2col
buffer (``F.unfold``) of the same layer: the native path's activation-sized workspace in the forward and in
the backward pass (window strips per thread; the channels-last output gradient), the torch-ops path's window
buffer (plus its channels-last temporary, 1/8 of the input), and, apart, the native path's packed forward
weights in MB (one group of 64-output-channel panels at a time, at most ``im2win_native.PACK_BYTES`` or one
panel; oneDNN reorders its weights too).

A second table gives the *measured* peak extra memory of each path, forward and forward+backward: each in a
fresh process (glibc mapping every block of 64 KiB or more on its own, so that the resident set follows the
live allocations), the peak resident set (``VmHWM``, reset through ``/proc/self/clear_refs``) during a
second call minus the resident set before it and minus the tensors the call returns (output; input and
weight gradients), again as a fraction of im2col's buffer. Run:

    .venv/bin/python benchmarks/conv_im2win.py --repeats 7 [--threads 1] [--no-memory]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from sciconv.conv import im2win_native
from sciconv.conv.im2win import _CHUNKS, Im2winBackend, im2col_nbytes, im2win_nbytes

# (name, N, C_in, C_out, H=W, stride)
LAYERS = [
    ("conv2_x 64@56", 8, 64, 64, 56, 1),
    ("conv3_x 128@28", 8, 128, 128, 28, 1),
    ("conv4_x 256@14", 8, 256, 256, 14, 1),
    ("conv5_x 512@7", 8, 512, 512, 7, 1),
    ("down 64->128@56 s2", 8, 64, 128, 56, 2),
]

NATIVE = Im2winBackend(native=True)
TORCH_OPS = Im2winBackend(native=False)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cases(x: torch.Tensor, w: torch.Tensor, s: int) -> dict[str, Callable[[], object]]:
    """Forward (no grad) and forward+backward of the three paths for input x (N, C_in, H, W), weight w."""
    xd, wd = x.detach(), w.detach()
    ops = {"torch": F.conv2d, "native": NATIVE.conv2d, "ops": TORCH_OPS.conv2d}
    cases: dict[str, Callable[[], object]] = {}
    for name, op in ops.items():
        cases[f"fwd {name}"] = lambda op=op: op(xd, wd, None, s, 1)
    for name, op in ops.items():
        cases[f"fb {name}"] = lambda op=op: op(x, w, None, s, 1).sum().backward()
    return cases


def _rss_kib(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` of this process in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _probe(path: str, layer: int, backward: bool) -> None:
    """Child process: print the peak extra bytes of one call of ``path`` on LAYERS[layer] (after a first,
    warm-up call: the first backward of a process grows it once by some 30-50 MB, whatever the path)."""
    _, n, c_in, c_out, hw, s = LAYERS[layer]
    op = {"torch": F.conv2d, "native": NATIVE.conv2d, "ops": TORCH_OPS.conv2d}[path]
    x = torch.randn(n, c_in, hw, hw, requires_grad=backward)
    w = torch.randn(c_out, c_in, 3, 3, requires_grad=backward)
    out = (hw + 2 - 3) // s + 1
    grad = torch.randn(n, c_out, out, out) if backward else None
    for measured in (False, True):
        x.grad = w.grad = None
        gc.collect()
        im2win_native.clear_workspaces()  # the native path's cached buffers count as extra
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        before = _rss_kib("VmRSS")
        y = op(x, w, None, s, 1)
        kept = y.numel() * 4
        if grad is not None:
            y.backward(grad)
            kept += (x.numel() + w.numel()) * 4
        if measured:
            print((_rss_kib("VmHWM") - before) * 1024 - kept)
        del y


def _measured_extra(path: str, layer: int, backward: bool, threads: int) -> int | None:
    """Peak extra bytes of one call, measured in a fresh process (None where that is impossible). glibc is
    told to map every block of 64 KiB or more on its own and to unmap it when freed, so that the resident
    set follows the live allocations."""
    cmd = [sys.executable, __file__, "--probe", f"{path},{layer},{int(backward)}", "--threads", str(threads)]
    env = {**os.environ, "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    return int(proc.stdout.split()[-1]) if proc.returncode == 0 and proc.stdout.split() else None


def _memory_table(threads: int) -> None:
    print()
    print("measured peak extra memory / im2col buffer (fresh process per cell; VmHWM during one call)")
    header = f"{'layer':<19} {'fwd torch':>9} {'native':>7} {'ops':>7} | {'f+b torch':>9} {'native':>7} {'ops':>7}"
    print(header)
    print("-" * len(header))
    for layer, (name, n, c_in, c_out, hw, s) in enumerate(LAYERS):
        im2col = im2col_nbytes((n, c_in, hw, hw), (c_out, c_in, 3, 3), s, 1)
        cells = []
        for backward in (False, True):
            for path in ("torch", "native", "ops"):
                extra = _measured_extra(path, layer, backward, threads)
                cells.append(f"{extra / im2col:.2f}" if extra is not None else "-")
        print(
            f"{name:<19} {cells[0]:>9} {cells[1]:>7} {cells[2]:>7} | {cells[3]:>9} {cells[4]:>7} {cells[5]:>7}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--no-memory", action="store_true", help="skip the measured-memory table")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.probe:
        path, layer, backward = args.probe.split(",")
        _probe(path, int(layer), backward == "1")
        return
    threads = torch.get_num_threads()
    native = im2win_native.available()
    print(
        f"torch {torch.__version__}, {threads} threads, {args.repeats} interleaved repeats, medians (ms);"
        f" native kernels: {'yes' if native else 'NO (' + str(im2win_native.reason()) + ')'}"
    )
    header = (
        f"{'layer':<19} {'fwd torch':>9} {'native':>7} {'ratio':>5} {'ops':>7} {'ratio':>5} |"
        f" {'f+b torch':>9} {'native':>7} {'ratio':>5} {'ops':>7} {'ratio':>5} |"
        f" {'im2col MB':>9} {'nat fwd':>7} {'nat bwd':>7} {'ops':>5} {'W pack MB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, n, c_in, c_out, hw, s in LAYERS:
        torch.manual_seed(0)
        x = torch.randn(n, c_in, hw, hw, requires_grad=True)
        w = torch.randn(c_out, c_in, 3, 3, requires_grad=True)
        fns = _cases(x, w, s)
        ref = fns["fwd torch"]()
        for path in ("native", "ops"):
            torch.testing.assert_close(fns[f"fwd {path}"](), ref, rtol=1e-4, atol=1e-3)
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.repeats):
            for key, fn in fns.items():
                times[key].append(_timed(fn))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        cols = F.unfold(x.detach(), 3, padding=1, stride=s)
        im2col = cols.numel() * cols.element_size()
        assert im2col == im2col_nbytes(x.shape, w.shape, s, 1)
        ops_mem = im2win_nbytes(x.shape, w.shape, s, 1) + x.numel() * x.element_size() // _CHUNKS
        out = ((hw + 2 - 3) // s + 1,) * 2
        if native:
            geo = (x.shape, w.shape, (s, s), (1, 1), (1, 1), out)
            fwd_ws = im2win_native.workspace_nbytes(*geo, threads=threads)
            bwd_ws = im2win_native.workspace_nbytes(*geo, threads=threads, backward=True)
            mem = f"{fwd_ws['transform'] / im2col:>7.3f} {bwd_ws['transform'] / im2col:>7.3f}"
            pack = f"{fwd_ws['weights'] / 2**20:>9.1f}"
        else:
            mem, pack = f"{'-':>7} {'-':>7}", f"{'-':>9}"
        print(
            f"{name:<19} {med['fwd torch']:>9.1f} {med['fwd native']:>7.1f}"
            f" {med['fwd native'] / med['fwd torch']:>5.2f} {med['fwd ops']:>7.1f}"
            f" {med['fwd ops'] / med['fwd torch']:>5.2f} |"
            f" {med['fb torch']:>9.1f} {med['fb native']:>7.1f} {med['fb native'] / med['fb torch']:>5.2f}"
            f" {med['fb ops']:>7.1f} {med['fb ops'] / med['fb torch']:>5.2f} |"
            f" {im2col / 2**20:>9.1f} {mem} {ops_mem / im2col:>5.2f} {pack}",
            flush=True,
        )
    if not args.no_memory and Path("/proc/self/clear_refs").exists():
        _memory_table(threads)


if __name__ == "__main__":
    main()
