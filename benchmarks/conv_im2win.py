"""im2win vs torch (oneDNN) conv2d on ResNet-style 3x3 layers: time and transform memory, side by side.

For each layer, forward and forward+backward of both backends run ``--repeats`` times interleaved (so machine
noise hits both alike); the table gives medians and the ratio im2win / torch. Memory: bytes of the im2win
window buffer (plus the transform's channels-last temporary, 1/8 of the input) against the im2col buffer
``F.unfold`` builds for the same layer. Run:

    .venv/bin/python benchmarks/conv_im2win.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sciconv.conv.im2win import _CHUNKS, backend, im2col_nbytes, im2win_nbytes

# (name, N, C_in, C_out, H=W, stride)
LAYERS = [
    ("conv2_x 64@56", 8, 64, 64, 56, 1),
    ("conv3_x 128@28", 8, 128, 128, 28, 1),
    ("conv4_x 256@14", 8, 256, 256, 14, 1),
    ("conv5_x 512@7", 8, 512, 512, 7, 1),
    ("down 64->128@56 s2", 8, 64, 128, 56, 2),
]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cases(x: torch.Tensor, w: torch.Tensor, s: int) -> dict[str, Callable[[], object]]:
    """Forward (no grad) and forward+backward of both backends for input x (N, C_in, H, W), weight w."""
    xd, wd = x.detach(), w.detach()
    return {
        "fwd torch": lambda: F.conv2d(xd, wd, None, s, 1),
        "fwd im2win": lambda: backend.conv2d(xd, wd, None, s, 1),
        "fb torch": lambda: F.conv2d(x, w, None, s, 1).sum().backward(),
        "fb im2win": lambda: backend.conv2d(x, w, None, s, 1).sum().backward(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} interleaved repeats, medians")
    header = (
        f"{'layer':<20} {'fwd torch ms':>12} {'fwd im2win':>10} {'ratio':>6} {'f+b torch':>10} {'f+b im2win':>10}"
        f" {'ratio':>6} {'im2col MB':>9} {'im2win MB':>9} {'mem ratio':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, n, c_in, c_out, hw, s in LAYERS:
        torch.manual_seed(0)
        x = torch.randn(n, c_in, hw, hw, requires_grad=True)
        w = torch.randn(c_out, c_in, 3, 3, requires_grad=True)
        fns = _cases(x, w, s)
        torch.testing.assert_close(fns["fwd im2win"](), fns["fwd torch"](), rtol=1e-4, atol=1e-3)
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(args.repeats):
            for key, fn in fns.items():
                times[key].append(_timed(fn))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        cols = F.unfold(x.detach(), 3, padding=1, stride=s)
        im2col = cols.numel() * cols.element_size()
        assert im2col == im2col_nbytes(x.shape, w.shape, s, 1)
        win = im2win_nbytes(x.shape, w.shape, s, 1) + x.numel() * x.element_size() // _CHUNKS
        print(
            f"{name:<20} {med['fwd torch']:>12.1f} {med['fwd im2win']:>10.1f}"
            f" {med['fwd im2win'] / med['fwd torch']:>6.2f}"
            f" {med['fb torch']:>10.1f} {med['fb im2win']:>10.1f} {med['fb im2win'] / med['fb torch']:>6.2f}"
            f" {im2col / 2**20:>9.1f} {win / 2**20:>9.1f} {win / im2col:>9.2f}"
        )


if __name__ == "__main__":
    main()
