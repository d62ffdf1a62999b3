"""Submanifold sparse conv (`sciconv.conv.sparse`) against dense ``F.conv3d`` (and spconv, if installed).

Input: a 64^3 grid, batch 1, 16 -> 32 channels, K = 3 submanifold, random occupancy 1 %, 5 %, 20 %.
Rows: ``fwd`` the forward pass; ``fwd+bwd`` forward and backward (gradients of the features and the weight)
of ``features.sum()``. Columns: dense ``F.conv3d`` (padding 1) on the whole grid; ``sparse+rb``: sparse
conv including the rulebook build (fresh coordinates every call, so nothing is cached); ``sparse``: with the
rulebook cached; ``rb only``: the rulebook build alone; ``spconv``: spconv's ``SubMConv3d`` on a fresh
``SparseConvTensor`` (its indice build included) and ``spconv / sparse+rb`` (> 1: ours is faster). spconv is
only compared at 1 thread, because spconv 2.3.8's CPU path is wrong with more (spconv issue 679). Two
workarounds make its CPU path run at all: its indices are passed as ``coords.int().contiguous()`` (spconv
reads raw pointers, and our ``coords`` is a transposed view, read as garbage without an error), and
``spconv.pytorch.ops.get_current_stream`` is replaced by ``lambda: 0`` (its backward asks for the current
CUDA stream even for CPU tensors, which fails on a CPU-only torch; its CPU kernels ignore the stream). The
maximum error of each against dense conv3d at the active sites is printed under each occupancy.

Each measurement is the median of ``--repeats`` runs, all variants interleaved within each repeat so that
machine noise hits them alike; ratios are dense time / variant time (> 1: faster than dense). Each thread
count runs in its own process (``OMP_NUM_THREADS`` set before torch is imported). Run:

    .venv/bin/python benchmarks/conv_sparse.py --repeats 7

and, with spconv installed in another environment (e.g. ``/tmp/spv``), the spconv comparison:

    PYTHONPATH=core OMP_NUM_THREADS=1 /tmp/spv/bin/python benchmarks/conv_sparse.py --child --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from sciconv.conv.sparse import SparseVoxelTensor, get_rulebook, submanifold_conv3d

OCCUPANCIES = (0.01, 0.05, 0.20)
SHAPE = (64, 64, 64)
C_IN, C_OUT, K = 16, 32, 3


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(threads: int, repeats: int) -> None:
    """Benchmark at one thread count (call in a process whose OMP_NUM_THREADS is already ``threads``)."""
    torch.set_num_threads(threads)
    spconv: Any = None
    if threads == 1:
        try:
            import spconv.pytorch as spconv
            import spconv.pytorch.ops as spconv_ops
        except Exception:  # any import failure just drops the column
            spconv = None
        else:
            # spconv 2.3.8's backward asks torch for the current CUDA stream even for CPU tensors (and fails
            # on a CPU-only torch); its CPU kernels ignore the stream, so a null stream is what they get.
            spconv_ops.get_current_stream = lambda: 0

    print(f"\n## threads = {threads}   (median of {repeats} interleaved repeats, ms; ratio = dense / variant)")
    header = f"{'occ':>5} {'N':>7} {'pass':<8} {'dense':>8} {'sparse+rb':>10} {'sparse':>8} {'rb only':>8}"
    header += f" {'x dense (+rb)':>14} {'x dense (cached)':>17}"
    if spconv is not None:
        header += f" {'spconv':>8} {'spconv / sparse+rb':>19}"
    print(header)
    for occ in OCCUPANCIES:
        _case(occ, repeats, spconv)


def _case(occ: float, repeats: int, spconv: Any) -> None:
    """Time and check one occupancy; prints two table rows (fwd, fwd+bwd)."""
    g = torch.Generator().manual_seed(0)
    mask = torch.rand((1, 1, *SHAPE), generator=g) < occ
    dense_x = torch.randn((1, C_IN, *SHAPE), generator=g) * mask
    weight = torch.randn((C_OUT, C_IN, K, K, K), generator=g) * 0.1
    sx = SparseVoxelTensor.from_dense(dense_x)
    n = sx.num_active
    coords, feats = sx.coords, sx.features

    # correctness at these sizes, reported alongside the timings
    ref = F.conv3d(dense_x, weight, padding=1).permute(0, 2, 3, 4, 1)[tuple(coords.unbind(1))]
    ours = submanifold_conv3d(sx, weight).features
    errors = {"sparse": float((ours - ref).abs().max())}
    notes: list[str] = []

    def dense_fwd() -> None:
        F.conv3d(dense_x, weight, padding=1)

    def dense_bwd() -> None:
        x = dense_x.clone().requires_grad_(True)
        w = weight.clone().requires_grad_(True)
        F.conv3d(x, w, padding=1).sum().backward()

    def sparse_fwd(fresh: bool) -> Callable[[], None]:
        def fn() -> None:
            c = coords.clone() if fresh else coords
            cache = None if fresh else sx._cache
            t = SparseVoxelTensor(feats, c, SHAPE, 1, validate=False, _cache=cache)
            submanifold_conv3d(t, weight)

        return fn

    def sparse_bwd(fresh: bool) -> Callable[[], None]:
        def fn() -> None:
            c = coords.clone() if fresh else coords
            cache = None if fresh else sx._cache
            t = SparseVoxelTensor(feats.clone().requires_grad_(True), c, SHAPE, 1, validate=False, _cache=cache)
            w = weight.clone().requires_grad_(True)
            submanifold_conv3d(t, w).features.sum().backward()

        return fn

    def rb_only() -> None:
        get_rulebook(SparseVoxelTensor(feats, coords.clone(), SHAPE, 1, validate=False), K, submanifold=True)

    variants: dict[str, dict[str, Callable[[], None]]] = {
        "fwd": {"dense": dense_fwd, "sparse+rb": sparse_fwd(True), "sparse": sparse_fwd(False), "rb": rb_only},
        "fwd+bwd": {"dense": dense_bwd, "sparse+rb": sparse_bwd(True), "sparse": sparse_bwd(False)},
    }
    if spconv is not None:
        # spconv reads raw pointers: indices and features must be contiguous (a transposed view is read as
        # garbage without an error)
        sp_coords = coords.int().contiguous()
        feats = feats.contiguous()
        conv = spconv.SubMConv3d(C_IN, C_OUT, K, bias=False, indice_key="subm")
        with torch.no_grad():
            conv.weight.copy_(weight.permute(0, 2, 3, 4, 1))  # spconv 2.x layout: (C_out, kD, kH, kW, C_in)

        def sp_fwd() -> None:
            conv(spconv.SparseConvTensor(feats, sp_coords, list(SHAPE), 1))

        def sp_bwd() -> None:
            f = feats.clone().requires_grad_(True)
            conv.zero_grad()
            conv(spconv.SparseConvTensor(f, sp_coords, list(SHAPE), 1)).features.sum().backward()

        variants["fwd"]["spconv"] = sp_fwd
        try:
            sp_bwd()
            variants["fwd+bwd"]["spconv"] = sp_bwd
        except Exception as exc:
            notes.append(f"spconv backward failed: {type(exc).__name__}: {str(exc)[:80]}")
        with torch.no_grad():
            out = conv(spconv.SparseConvTensor(feats, sp_coords, list(SHAPE), 1))
        order = torch.argsort(out.indices[:, 1].long() * 4096 + out.indices[:, 2].long() * 64 + out.indices[:, 3])
        errors["spconv"] = float((out.features[order] - ref).abs().max())

    times: dict[tuple[str, str], list[float]] = {(p, v): [] for p, vs in variants.items() for v in vs}
    for fns in variants.values():  # warm-up
        for fn in fns.values():
            fn()
    for _ in range(repeats):
        for p, fns in variants.items():
            for v, fn in fns.items():
                times[(p, v)].append(_time(fn))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    for p in variants:
        d, srb, s = med[(p, "dense")], med[(p, "sparse+rb")], med[(p, "sparse")]
        rb = f"{med[(p, 'rb')]:8.2f}" if (p, "rb") in med else f"{'':8}"
        line = f"{occ:>5.0%} {n:>7} {p:<8} {d:8.2f} {srb:10.2f} {s:8.2f} {rb} {d / srb:14.1f} {d / s:17.1f}"
        if spconv is not None:
            sp = med.get((p, "spconv"))
            line += f" {sp:8.2f} {sp / srb:19.2f}" if sp is not None else f" {'n/a':>8} {'n/a':>19}"
        print(line)
    for note in notes:
        print(f"{'':>5} {note}")
    print(f"{'':>5} max |error| vs dense at the active sites: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="*", default=[2, 1])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run(args.threads[0], args.repeats)
        return
    print(f"submanifold conv, grid {SHAPE}, batch 1, {C_IN} -> {C_OUT} channels, K = {K}")
    for threads in args.threads:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        cmd = [sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--threads", str(threads)]
        subprocess.run(cmd, check=True, env=env)


if __name__ == "__main__":
    main()
