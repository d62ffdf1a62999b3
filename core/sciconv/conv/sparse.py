"""Sparse 3D convolution over active voxels: submanifold and strided (regular) sparse convolution.

A :class:`SparseVoxelTensor` holds the features of the active sites of a batch of voxel grids. A
:class:`Rulebook` (neighbour map) lists, for each kernel offset, the pairs (input row, output row) that the
offset connects; it is built with vectorised torch ops (linearised coordinate keys, ``torch.sort`` and
``torch.searchsorted``, no Python loop over voxels), once per layer geometry, and cached on the tensor so
that a stack of layers with the same geometry reuses it (like spconv's ``indice_key``). The convolution is
gather-GEMM-scatter per kernel offset, in a custom autograd function whose backward runs the rulebook
transposed (input gradient ``g[out_k] @ W[k]^T`` added at ``in_k``, weight gradient ``x[in_k]^T @ g[out_k]``).

Float32 CPU tensors use native kernels (:mod:`sciconv.conv.sparse_native`, C compiled at first use): the
submanifold rulebook is built there (direct-address or hash table, only half of the offsets looked up:
offset k and its mirror connect the same pairs swapped) and the gather-GEMM-scatter, forward and backward,
runs there, on torch's threads, with results independent of the thread count. Other dtypes and devices,
``SCICONV_NATIVE=0``, a missing compiler and a backward that builds a graph (double backward) use torch ops
(``index_select``, ``matmul``, ``index_add_``), which are differentiable.

Conventions match ``torch.nn.functional.conv3d``: weight (C_out, C_in, kD, kH, kW), the output site ``o``
of a regular sparse conv receives ``sum_k W[k] x[o * stride - padding + k * dilation]``; a submanifold conv
is the dense conv with padding ``dilation * (k // 2)`` evaluated at the input's active sites only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from sciconv.conv import sparse_native

Triple = tuple[int, int, int]
# Padded grids up to this many sites (times the batch size) a direct-address table
# (or up to this many sites per active site) use a direct-address table for the neighbour search
# instead of sort + searchsorted.
_DENSE_TABLE_LIMIT = 1 << 22
_DENSE_TABLE_PER_SITE = 32


def _triple(value: int | tuple[int, ...], name: str) -> Triple:
    """``value`` as a triple of ints (an int is repeated)."""
    if isinstance(value, int):
        return (value, value, value)
    out = tuple(int(v) for v in value)
    if len(out) != 3:
        raise ValueError(f"{name} must be an int or a triple, got {value!r}")
    return out  # type: ignore[return-value]


def _linearise(batch: torch.Tensor, zyx: torch.Tensor, shape: Triple) -> torch.Tensor:
    """Linear keys ``((b * D + z) * H + y) * W + x``. Shapes: batch (...), zyx (..., 3) -> (...) int64."""
    d, h, w = shape
    return ((batch * d + zyx[..., 0]) * h + zyx[..., 1]) * w + zyx[..., 2]


def _delinearise(keys: torch.Tensor, shape: Triple) -> torch.Tensor:
    """Inverse of :func:`_linearise`. Shapes: keys (M,) -> coords (M, 4) as (batch, z, y, x)."""
    d, h, w = shape
    x = keys % w
    rest = keys // w
    y = rest % h
    rest = rest // h
    z = rest % d
    b = rest // d
    return torch.stack((b, z, y, x), dim=1)


class SparseVoxelTensor:
    """Features at the active sites of a batch of 3D voxel grids.

    Shapes: ``features`` (N, C) float, ``coords`` (N, 4) int64 as (batch, z, y, x), ``spatial_shape``
    (D, H, W); ``batch_size`` B. Coordinates must lie in ``[0, B) x [0, D) x [0, H) x [0, W)`` and be
    unique; the constructor checks both (``validate=False`` skips the checks, for internal use).
    Rulebooks built for these coordinates are cached on the tensor and shared with tensors derived
    from it with the same coordinates (:meth:`replace_features`, submanifold conv outputs).
    """

    def __init__(
        self,
        features: torch.Tensor,
        coords: torch.Tensor,
        spatial_shape: tuple[int, ...],
        batch_size: int | None = None,
        *,
        validate: bool = True,
        _cache: dict[Any, Rulebook] | None = None,
    ) -> None:
        self.features = features
        self.coords = coords
        self.spatial_shape: Triple = _triple(spatial_shape, "spatial_shape")
        if batch_size is None:
            batch_size = int(coords[:, 0].max().item()) + 1 if coords.numel() else 1
        self.batch_size = int(batch_size)
        self._cache: dict[Any, Rulebook] = {} if _cache is None else _cache
        self._stamp = self._coords_stamp()
        if validate:
            self.validate()

    def _coords_stamp(self) -> tuple[int, int, int]:
        """Identity of the coordinates: a cached rulebook is valid while this is unchanged."""
        return (id(self.coords), self.coords.data_ptr(), self.coords._version)

    def validate(self) -> None:
        """Raise ``ValueError`` on wrong shapes/dtypes, coordinates outside the grid, or duplicates."""
        f, c = self.features, self.coords
        if not isinstance(f, torch.Tensor) or f.dim() != 2 or not f.is_floating_point():
            raise ValueError(f"features must be a floating-point (N, C) tensor, got {_describe(f)}")
        if not isinstance(c, torch.Tensor) or c.dim() != 2 or c.shape[1] != 4 or c.dtype != torch.int64:
            raise ValueError(f"coords must be an int64 (N, 4) tensor of (batch, z, y, x), got {_describe(c)}")
        if f.shape[0] != c.shape[0]:
            raise ValueError(f"features has {f.shape[0]} rows but coords has {c.shape[0]}")
        if f.device != c.device:
            raise ValueError(f"features on {f.device} but coords on {c.device}")
        if any(s <= 0 for s in self.spatial_shape) or self.batch_size <= 0:
            raise ValueError(f"spatial_shape {self.spatial_shape} and batch_size {self.batch_size} must be positive")
        if c.shape[0] == 0:
            return
        upper = torch.tensor((self.batch_size, *self.spatial_shape), device=c.device)
        outside = ((c < 0) | (c >= upper)).any(dim=1)
        if bool(outside.any()):
            bad = c[outside.nonzero()[0, 0]].tolist()
            raise ValueError(
                f"{int(outside.sum())} coordinate(s) outside batch_size {self.batch_size} x spatial_shape "
                f"{self.spatial_shape}, e.g. (batch, z, y, x) = {tuple(bad)}"
            )
        keys, _ = torch.sort(_linearise(c[:, 0], c[:, 1:], self.spatial_shape))
        dup = keys[1:] == keys[:-1]
        if bool(dup.any()):
            bad = _delinearise(keys[1:][dup][:1], self.spatial_shape)[0].tolist()
            raise ValueError(
                f"{int(dup.sum())} duplicated coordinate(s) (same batch and site), e.g. (batch, z, y, x) = {tuple(bad)}"
            )

    @property
    def num_active(self) -> int:
        """Number of active sites N."""
        return int(self.coords.shape[0])

    def replace_features(self, features: torch.Tensor) -> SparseVoxelTensor:
        """Same coordinates (and rulebook cache), new features. Shapes: features (N, C')."""
        if features.dim() != 2 or features.shape[0] != self.num_active:
            raise ValueError(f"features must be ({self.num_active}, C), got {tuple(features.shape)}")
        return SparseVoxelTensor(
            features, self.coords, self.spatial_shape, self.batch_size, validate=False, _cache=self._cache
        )

    @classmethod
    def from_dense(cls, x: torch.Tensor) -> SparseVoxelTensor:
        """Active sites = sites with any nonzero channel. Shapes: x (B, C, D, H, W) -> N active sites."""
        if x.dim() != 5:
            raise ValueError(f"from_dense expects a (B, C, D, H, W) tensor, got shape {tuple(x.shape)}")
        mask = (x != 0).any(dim=1)
        coords = mask.nonzero()
        features = x.permute(0, 2, 3, 4, 1)[mask]
        return cls(features, coords, tuple(x.shape[2:]), x.shape[0], validate=False)

    def to_dense(self) -> torch.Tensor:
        """Dense grid with zeros at inactive sites (differentiable). Shapes: -> (B, C, D, H, W)."""
        b, c = self.batch_size, self.features.shape[1]
        dense = self.features.new_zeros((b, *self.spatial_shape, c))
        idx = tuple(self.coords.unbind(dim=1))
        dense = dense.index_put(idx, self.features)
        return dense.permute(0, 4, 1, 2, 3).contiguous()

    def __repr__(self) -> str:
        return (
            f"SparseVoxelTensor(N={self.num_active}, C={self.features.shape[1]}, "
            f"spatial_shape={self.spatial_shape}, batch_size={self.batch_size})"
        )


def _describe(t: Any) -> str:
    if isinstance(t, torch.Tensor):
        return f"{t.dtype} tensor of shape {tuple(t.shape)}"
    return type(t).__name__


@dataclass
class Rulebook:
    """Neighbour map of one layer geometry.

    For kernel offset ``k`` (C order over (kD, kH, kW), matching ``weight.reshape(C_out, C_in, -1)``),
    ``in_idx[k]`` and ``out_idx[k]`` (both (P_k,) int64) are the connected (input row, output row) pairs.
    ``out_coords`` (M, 4) are the output sites, ``out_spatial_shape`` their grid. For a submanifold
    rulebook the centre offset is the identity and is stored as ``identity_offset`` with empty pairs.
    """

    submanifold: bool
    kernel_size: Triple
    stride: Triple
    padding: Triple
    dilation: Triple
    num_in: int
    out_coords: torch.Tensor
    out_spatial_shape: Triple
    in_idx: list[torch.Tensor]
    out_idx: list[torch.Tensor]
    identity_offset: int | None = None
    pair_counts: list[int] = field(default_factory=list)
    in_all: torch.Tensor | None = field(default=None, repr=False)
    out_all: torch.Tensor | None = field(default=None, repr=False)
    _starts: torch.Tensor | None = field(default=None, repr=False, compare=False)
    _sorted: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_out(self) -> int:
        """Number of output sites M."""
        return int(self.out_coords.shape[0])

    @property
    def num_pairs(self) -> int:
        """Total (input, output) pairs over all offsets, the identity offset included."""
        return sum(self.pair_counts) + (self.num_in if self.identity_offset is not None else 0)

    def key(self) -> tuple[Any, ...]:
        return (self.submanifold, self.kernel_size, self.stride, self.padding, self.dilation)

    def concatenated(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The pairs of all offsets concatenated in offset order, and where each offset's start.
        Shapes: -> in_all (P,), out_all (P,) int64, starts (K + 1,) int64 (offset k owns
        ``[starts[k], starts[k + 1])``)."""
        if self.in_all is None or self.out_all is None:
            empty = self.out_coords.new_zeros(0, dtype=torch.int64)
            self.in_all = torch.cat([empty, *self.in_idx])
            self.out_all = torch.cat([empty, *self.out_idx])
        if self._starts is None:
            self._starts = torch.tensor([0, *self.pair_counts], dtype=torch.int64).cumsum_(0)
        return self.in_all, self.out_all, self._starts

    def sorted_by(self, rows: str) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`concatenated`'s ``(in_all, out_all)`` with each offset's pairs sorted by their ``"out"`` or
        ``"in"`` row (computed once, then cached). Shapes: -> (P,), (P,) int64."""
        got = self._sorted.get(rows)
        if got is None:
            in_all, out_all, _ = self.concatenated()
            key_rows, size = (out_all, self.num_out) if rows == "out" else (in_all, self.num_in)
            offset = torch.repeat_interleave(torch.arange(len(self.pair_counts)), torch.tensor(self.pair_counts))
            order = torch.argsort(offset.to(key_rows.device) * size + key_rows, stable=True)
            got = self._sorted[rows] = (in_all[order], out_all[order])
        return got


def _kernel_offsets(kernel_size: Triple, device: torch.device) -> torch.Tensor:
    """All kernel offsets in C order. Shapes: -> (kD * kH * kW, 3) int64."""
    grids = torch.meshgrid(*(torch.arange(k, device=device) for k in kernel_size), indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)


def _split(kk: torch.Tensor, values: tuple[torch.Tensor, ...], num: int) -> tuple[list[int], list[list[torch.Tensor]]]:
    """Split rows sorted by offset ``kk`` into per-offset chunks."""
    counts = torch.bincount(kk, minlength=num).tolist()
    return counts, [list(v.split(counts)) for v in values]


def build_rulebook(
    x: SparseVoxelTensor,
    kernel_size: int | tuple[int, int, int],
    stride: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, int, int] = 0,
    dilation: int | tuple[int, int, int] = 1,
    *,
    submanifold: bool = False,
) -> Rulebook:
    """Build the neighbour map of ``x``'s coordinates for one layer geometry (no caching; see
    :func:`get_rulebook`). A submanifold rulebook (odd kernel, stride 1, centred: padding is
    ``dilation * (k // 2)``) has output sites = input sites; a regular one has as output sites every site
    of the output grid reached by an active input. Shapes: x.coords (N, 4) -> Rulebook with out_coords (M, 4)."""
    ks = _triple(kernel_size, "kernel_size")
    st, pd, dl = _triple(stride, "stride"), _triple(padding, "padding"), _triple(dilation, "dilation")
    if any(k <= 0 for k in ks) or any(s <= 0 for s in st) or any(d <= 0 for d in dl) or any(p < 0 for p in pd):
        raise ValueError(f"invalid geometry: kernel_size={ks}, stride={st}, padding={pd}, dilation={dl}")
    coords = x.coords
    device = coords.device
    shape = x.spatial_shape
    n = coords.shape[0]
    num_k = math.prod(ks)
    if submanifold:
        if any(k % 2 == 0 for k in ks) or st != (1, 1, 1):
            raise ValueError(f"submanifold conv needs an odd kernel and stride 1, got kernel_size={ks}, stride={st}")
        identity = num_k // 2  # the centre offset (C order, odd sizes)
        # Linearise in a grid padded by the kernel's reach, so that every neighbour has a valid key and
        # each kernel offset is one scalar key shift: neighbour keys are (K, N) = keys + delta[k].
        reach = [d * (k // 2) for d, k in zip(dl, ks, strict=True)]
        padded: Triple = tuple(s + 2 * r for s, r in zip(shape, reach, strict=True))  # type: ignore[assignment]
        volume = x.batch_size * math.prod(padded)
        direct = volume <= max(_DENSE_TABLE_LIMIT, _DENSE_TABLE_PER_SITE * n)
        delta = [
            ((a - ks[0] // 2) * dl[0] * padded[1] + (b - ks[1] // 2) * dl[1]) * padded[2] + (c - ks[2] // 2) * dl[2]
            for a in range(ks[0])
            for b in range(ks[1])
            for c in range(ks[2])
        ]
        native = sparse_native.subm_pairs(coords, shape, x.batch_size, delta, reach, direct)
        if native is not None:
            in_all, out_all, counts = native
            ins, outs = list(in_all.split(counts)), list(out_all.split(counts))
            rb = Rulebook(True, ks, st, pd, dl, n, coords, shape, ins, outs, identity, counts, in_all, out_all)
            rb._sorted["out"] = (in_all, out_all)
            return rb
        batch, zyx = coords[:, 0], coords[:, 1:]
        keys = _linearise(batch, zyx + torch.tensor(reach, device=device), padded)
        nkeys = keys.unsqueeze(0) + torch.tensor(delta, device=device).unsqueeze(1)  # (K, N)
        if direct:
            # direct-address table (a perfect hash of the linear keys): one gather per query
            table = torch.full((volume,), -1, dtype=torch.int64, device=device)
            table[keys] = torch.arange(n, device=device)
            rows = table[nkeys]
            found = rows >= 0
        else:
            sorted_keys, order = torch.sort(keys)
            pos = torch.searchsorted(sorted_keys, nkeys).clamp_(max=max(n - 1, 0))
            found = sorted_keys[pos] == nkeys if n else torch.zeros_like(nkeys, dtype=torch.bool)
            rows = order[pos]
        found[identity] = False  # the centre offset is the identity, applied as a plain GEMM
        kk, oo = found.nonzero(as_tuple=True)
        in_rows = rows[kk, oo]
        counts, (ins, outs) = _split(kk, (in_rows, oo), num_k)
        oo = oo.contiguous()
        rb = Rulebook(True, ks, st, pd, dl, n, coords, shape, ins, outs, identity, counts, in_rows, oo)
        rb._sorted["out"] = (in_rows, oo)  # nonzero lists each offset's pairs by output row
        return rb
    out_shape = tuple(
        (s + 2 * p - d * (k - 1) - 1) // t + 1 for s, p, d, k, t in zip(shape, pd, dl, ks, st, strict=True)
    )
    if any(s <= 0 for s in out_shape):
        raise ValueError(f"kernel_size={ks} with dilation={dl} is larger than the padded input {shape} (padding={pd})")
    out_shape_t: Triple = out_shape  # type: ignore[assignment]
    offsets = _kernel_offsets(ks, device)  # (K, 3)
    batch, zyx = coords[:, 0], coords[:, 1:]
    dl_t = torch.tensor(dl, device=device)
    num = zyx.unsqueeze(0) + torch.tensor(pd, device=device) - offsets.unsqueeze(1) * dl_t  # (K, N, 3) = o * stride
    st_t = torch.tensor(st, device=device)
    o = torch.div(num, st_t, rounding_mode="floor")
    valid = ((num >= 0) & (num % st_t == 0) & (o < torch.tensor(out_shape, device=device))).all(dim=2)
    kk, ii = valid.nonzero(as_tuple=True)
    okeys = _linearise(batch[ii], o[kk, ii], out_shape_t)
    uniq, inv = torch.unique(okeys, sorted=True, return_inverse=True)
    out_coords = _delinearise(uniq, out_shape_t)
    counts, (ins, outs) = _split(kk, (ii, inv), num_k)
    ii = ii.contiguous()
    rb = Rulebook(False, ks, st, pd, dl, n, out_coords, out_shape_t, ins, outs, None, counts, ii, inv)
    rb._sorted["in"] = (ii, inv)  # nonzero lists each offset's pairs by input row
    return rb


def get_rulebook(
    x: SparseVoxelTensor,
    kernel_size: int | tuple[int, int, int],
    stride: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, int, int] = 0,
    dilation: int | tuple[int, int, int] = 1,
    *,
    submanifold: bool = False,
) -> Rulebook:
    """:func:`build_rulebook`, cached on ``x`` (shared by tensors with the same coordinates) and keyed on
    the geometry; rebuilt if the coordinates tensor was replaced or modified in place."""
    stamp = x._coords_stamp()
    if stamp != x._stamp:
        x._cache.clear()
        x._stamp = stamp
    ks = _triple(kernel_size, "kernel_size")
    dl = _triple(dilation, "dilation")
    if submanifold:
        key: tuple[Any, ...] = (True, ks, (1, 1, 1), tuple(d * (k // 2) for d, k in zip(dl, ks, strict=True)), dl)
    else:
        key = (False, ks, _triple(stride, "stride"), _triple(padding, "padding"), dl)
    rb = x._cache.get(key)
    if rb is None:
        rb = build_rulebook(x, ks, stride, padding, dl, submanifold=submanifold)
        x._cache[key] = rb
    return rb


def _check_weight(x: SparseVoxelTensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    if not isinstance(x, SparseVoxelTensor):
        raise TypeError(f"expected a SparseVoxelTensor, got {type(x).__name__}")
    if weight.dim() != 5:
        raise ValueError(f"weight must be (C_out, C_in, kD, kH, kW), got shape {tuple(weight.shape)}")
    c_in = x.features.shape[1]
    if weight.shape[1] != c_in:
        raise ValueError(f"weight expects {weight.shape[1]} input channels but the features have {c_in}")
    if weight.dtype != x.features.dtype:
        raise ValueError(f"weight dtype {weight.dtype} differs from features dtype {x.features.dtype}")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != weight.shape[0]):
        raise ValueError(f"bias must be ({weight.shape[0]},), got shape {tuple(bias.shape)}")


def _weights_kio(weight: torch.Tensor) -> torch.Tensor:
    """Per-offset weight matrices. Shapes: weight (C_out, C_in, kD, kH, kW) -> (K, C_in, C_out) view."""
    return weight.reshape(weight.shape[0], weight.shape[1], -1).permute(2, 1, 0)


class _GatherGemmScatter(torch.autograd.Function):
    """``out[o] = sum_k sum_{(i, o) in pairs_k} x[i] @ W[k]`` with its own backward: the input gradient runs
    the rulebook transposed (``grad_x[i] += g[o] @ W[k]^T``, one buffer for all offsets instead of autograd's
    zero tensor per offset), the weight gradient is ``x[in_k]^T @ g[out_k]`` per offset. Float32 CPU
    tensors use the native kernels (:mod:`sciconv.conv.sparse_native`), anything else torch ops; a
    backward that builds a graph (double backward) always runs on torch ops, which are differentiable."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, features: torch.Tensor, weight: torch.Tensor, rb: Rulebook, native: bool
    ) -> torch.Tensor:
        ctx.save_for_backward(features, weight)
        ctx.rb, ctx.native = rb, native
        w = _weights_kio(weight)
        if native:
            _, _, starts = rb.concatenated()
            in_all, out_all = rb.sorted_by("out")
            return sparse_native.gemm_pairs(features, w, rb.num_out, in_all, out_all, starts, rb.identity_offset)
        return _forward_torch(features, w, rb)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        features, weight = ctx.saved_tensors
        rb: Rulebook = ctx.rb
        need_x, need_w = ctx.needs_input_grad[:2]
        w = _weights_kio(weight)
        grad_x = grad_w = None
        if ctx.native and not torch.is_grad_enabled():
            in_all, out_all, starts = rb.concatenated()
            grad = grad.contiguous()
            if need_x and rb.submanifold:
                # offset k's pairs are those of its mirror K - 1 - k swapped: the input gradient is the
                # forward pass (pairs sorted by output row) with the mirrored, transposed weights
                ins, outs = rb.sorted_by("out")
                w_t = w.flip(0).transpose(1, 2)  # (K, C_out, C_in)
                grad_x = sparse_native.gemm_pairs(grad, w_t, rb.num_in, ins, outs, starts, rb.identity_offset)
            elif need_x:
                ins, outs = rb.sorted_by("in")
                w_t = w.transpose(1, 2)  # (K, C_out, C_in)
                grad_x = sparse_native.gemm_pairs(grad, w_t, rb.num_in, outs, ins, starts, rb.identity_offset)
            if need_w:
                dw = sparse_native.weight_grad(features, grad, in_all, out_all, starts, w.shape[0], rb.identity_offset)
                grad_w = dw.permute(2, 1, 0).reshape(weight.shape)
            return grad_x, grad_w, None, None
        if need_x:
            grad_x = _forward_torch(grad, w.transpose(1, 2), rb, transposed=True)
        if need_w:
            grads = []
            for k in range(w.shape[0]):
                if k == rb.identity_offset:
                    grads.append(features.t() @ grad)
                elif rb.pair_counts[k]:
                    x_k = features.index_select(0, rb.in_idx[k])
                    grads.append(x_k.t() @ grad.index_select(0, rb.out_idx[k]))
                else:
                    grads.append(w.new_zeros(w.shape[1:]))
            grad_w = torch.stack(grads).permute(2, 1, 0).reshape(weight.shape)
        return grad_x, grad_w, None, None


def _forward_torch(src: torch.Tensor, w: torch.Tensor, rb: Rulebook, transposed: bool = False) -> torch.Tensor:
    """Gather-GEMM-scatter on torch ops; ``transposed`` runs the pairs from output to input rows (the input
    gradient, with ``w`` transposed). Shapes: src (N_src, C_s), w (K, C_s, C_d) -> (N_dst, C_d)."""
    src_idx, dst_idx = (rb.out_idx, rb.in_idx) if transposed else (rb.in_idx, rb.out_idx)
    n_dst = rb.num_in if transposed else rb.num_out
    identity = rb.identity_offset
    out = src @ w[identity] if identity is not None else src.new_zeros((n_dst, w.shape[2]))
    for k, count in enumerate(rb.pair_counts):
        if count == 0:
            continue
        out.index_add_(0, dst_idx[k], src.index_select(0, src_idx[k]) @ w[k])
    return out


def _gather_gemm_scatter(
    features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, rb: Rulebook
) -> torch.Tensor:
    """Apply a rulebook. Shapes: features (N, C_in), weight (C_out, C_in, kD, kH, kW) -> (M, C_out)."""
    native = sparse_native.supports(features, weight)
    out = _GatherGemmScatter.apply(features, weight, rb, native)
    if bias is not None:
        out = out + bias
    return out


def submanifold_conv3d(
    x: SparseVoxelTensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    dilation: int | tuple[int, int, int] = 1,
    *,
    rulebook: Rulebook | None = None,
) -> SparseVoxelTensor:
    """Submanifold sparse conv: output sites = input sites; equals ``F.conv3d(dense, weight, bias,
    padding=dilation * (k // 2), dilation=dilation)`` at the active sites. Shapes: x.features (N, C_in),
    weight (C_out, C_in, kD, kH, kW) with odd kernel sizes, bias (C_out,) -> features (N, C_out)."""
    _check_weight(x, weight, bias)
    ks: Triple = tuple(weight.shape[2:])  # type: ignore[assignment]
    if any(k % 2 == 0 for k in ks):
        raise ValueError(f"submanifold conv needs odd kernel sizes, got {ks}")
    if rulebook is None:
        rulebook = get_rulebook(x, ks, dilation=dilation, submanifold=True)
    elif not rulebook.submanifold or rulebook.kernel_size != ks or rulebook.num_in != x.num_active:
        raise ValueError("rulebook does not match this input/kernel (submanifold, kernel size, input sites)")
    out = _gather_gemm_scatter(x.features, weight, bias, rulebook)
    return SparseVoxelTensor(out, x.coords, x.spatial_shape, x.batch_size, validate=False, _cache=x._cache)


def sparse_conv3d(
    x: SparseVoxelTensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, int, int] = 0,
    dilation: int | tuple[int, int, int] = 1,
    *,
    rulebook: Rulebook | None = None,
) -> SparseVoxelTensor:
    """Regular (strided) sparse conv: the output sites are all sites of ``F.conv3d``'s output grid reached
    by an active input, with ``F.conv3d``'s values there. Shapes: x.features (N, C_in), weight
    (C_out, C_in, kD, kH, kW), bias (C_out,) -> features (M, C_out) on the grid (D', H', W')."""
    _check_weight(x, weight, bias)
    ks: Triple = tuple(weight.shape[2:])  # type: ignore[assignment]
    if rulebook is None:
        rulebook = get_rulebook(x, ks, stride, padding, dilation)
    elif rulebook.submanifold or rulebook.kernel_size != ks or rulebook.num_in != x.num_active:
        raise ValueError("rulebook does not match this input/kernel (regular, kernel size, input sites)")
    out = _gather_gemm_scatter(x.features, weight, bias, rulebook)
    return SparseVoxelTensor(out, rulebook.out_coords, rulebook.out_spatial_shape, x.batch_size, validate=False)


class _SparseConvNd(nn.Module):
    """Parameters and torch ``Conv3d``-style initialisation shared by the sparse conv modules."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int],
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _triple(kernel_size, "kernel_size")
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty((out_channels, in_channels, *self.kernel_size), **kw))  # type: ignore[arg-type]
        self.bias = nn.Parameter(torch.empty(out_channels, **kw)) if bias else None  # type: ignore[arg-type]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Same as ``torch.nn.Conv3d.reset_parameters``."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(self.bias, -bound, bound)


class SubMConv3d(_SparseConvNd):
    """Submanifold sparse conv module (see :func:`submanifold_conv3d`).
    Shapes: features (N, C_in) -> (N, C_out), same sites."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 3,
        dilation: int | tuple[int, int, int] = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias, device, dtype)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"submanifold conv needs odd kernel sizes, got {self.kernel_size}")
        self.dilation = _triple(dilation, "dilation")

    def forward(self, x: SparseVoxelTensor) -> SparseVoxelTensor:
        return submanifold_conv3d(x, self.weight, self.bias, self.dilation)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, dilation={self.dilation}"


class SparseConv3d(_SparseConvNd):
    """Regular (strided) sparse conv module (see :func:`sparse_conv3d`).
    Shapes: features (N, C_in) on (D, H, W) -> (M, C_out) on (D', H', W')."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 3,
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] = 0,
        dilation: int | tuple[int, int, int] = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias, device, dtype)
        self.stride = _triple(stride, "stride")
        self.padding = _triple(padding, "padding")
        self.dilation = _triple(dilation, "dilation")

    def forward(self, x: SparseVoxelTensor) -> SparseVoxelTensor:
        return sparse_conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}"
        )


class SparseBatchNorm(nn.BatchNorm1d):
    """Batch normalisation of the features of the active sites (``nn.BatchNorm1d`` on the (N, C) matrix).

    The statistics are taken over the active sites of the whole batch only (inactive sites are not
    zeros to be averaged in: they do not exist), which is what spconv/MinkowskiEngine networks use after
    each sparse conv. Parameters, running statistics, ``momentum`` and ``eps`` are those of
    :class:`torch.nn.BatchNorm1d` (``num_features`` = C). In training mode at least two active sites are
    needed, as for ``BatchNorm1d``.

    Shapes: x.features (N, C) -> (N, C), with the same coordinates, spatial shape, batch size and rulebook
    cache as ``x``.
    """

    def forward(self, x: SparseVoxelTensor) -> SparseVoxelTensor:  # type: ignore[override]
        if not isinstance(x, SparseVoxelTensor):
            raise TypeError(
                f"SparseBatchNorm expects a SparseVoxelTensor, got {_describe(x)}; "
                "use torch.nn.BatchNorm1d/BatchNorm3d for dense tensors"
            )
        return x.replace_features(super().forward(x.features))


def sparse_mean_per_sample(x: SparseVoxelTensor) -> torch.Tensor:
    """Per-sample global average pooling: the mean of the features over each sample's active sites.

    Vectorised (one ``index_add`` and one ``bincount``) and differentiable with respect to the features.
    Raises ``ValueError`` naming the sample index(es) that have no active site (their mean is undefined).

    Shapes: x.features (N, C), x.coords (N, 4) -> (B, C) with B = ``x.batch_size``.
    """
    if not isinstance(x, SparseVoxelTensor):
        raise TypeError(f"sparse_mean_per_sample expects a SparseVoxelTensor, got {_describe(x)}")
    feats = x.features
    batch = x.coords[:, 0]
    counts = torch.bincount(batch, minlength=x.batch_size)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        shown = ", ".join(str(i) for i in empty[:10]) + (", ..." if len(empty) > 10 else "")
        raise ValueError(
            f"sparse_mean_per_sample: {len(empty)} of {x.batch_size} sample(s) have no active site "
            f"(sample index {shown}); their mean is undefined"
        )
    sums = feats.new_zeros((x.batch_size, feats.shape[1])).index_add(0, batch, feats)
    return sums / counts.to(feats.dtype).unsqueeze(1)


# Linear voxel keys (batch x grid volume) must stay below this bound to fit int64 with margin.
_MAX_KEYS = 1 << 62


def voxelize(
    points: torch.Tensor,
    batch: torch.Tensor,
    voxel_size: float,
    features: torch.Tensor | None = None,
    *,
    batch_size: int | None = None,
    pick: Literal["first", "random", "mean"] = "first",
    generator: torch.Generator | None = None,
    spatial_shape: tuple[int, int, int] | None = None,
    shape_multiple: int = 1,
) -> tuple[SparseVoxelTensor, torch.Tensor]:
    """Grid-sample a batch of point clouds into a :class:`SparseVoxelTensor` (one site per occupied voxel).

    Point ``p`` of sample ``b`` falls in voxel ``floor((p - m_b) / voxel_size)``, where ``m_b`` is the
    per-axis minimum of sample ``b``'s points, so each sample's voxel coordinates start at 0 (computed in
    float64). Axis 0 of the points becomes the grid axis ``z`` (the D axis), axis 1 ``y`` (H) and axis 2 ``x``
    (W): the output coordinates are ``(batch, z, y, x)``, ordered by (batch, z, y, x). Each active site
    carries the features of ONE of its voxel's points, as Pointcept's ``GridSample`` (hash mode) does:

    - ``"first"``: the point with the lowest index (deterministic; what evaluation should use);
    - ``"random"``: a point drawn uniformly among the voxel's points with ``generator`` (training
      augmentation: a random permutation of the points, then the first occurrence of each voxel);
    - ``"mean"``: the mean of the voxel's points' features.

    All of it is vectorised (``torch.unique`` with ``return_inverse`` on linearised voxel keys, scatter
    reductions), with no Python loop over points or samples; the result is differentiable with respect to
    ``features``.

    Args:
        points: (N, 3) floating-point coordinates (any length unit, the same as ``voxel_size``).
        batch: (N,) integer sample index of each point, >= 0; need not be sorted.
        voxel_size: edge length of a voxel, > 0 and finite, in the unit of ``points``.
        features: (N, C) floating-point features of the points (default: ``points`` themselves).
        batch_size: number of samples B (default: ``batch.max() + 1``); samples without points are allowed.
        pick: which point's features a site carries (see above).
        generator: random generator for ``pick="random"`` (on the device where the permutation is drawn:
            the generator's own device); ``None`` uses torch's global generator.
        spatial_shape: grid (D, H, W) to use; it must contain every voxel coordinate. ``None``: the
            largest voxel coordinate + 1 per axis over the whole batch, rounded up to a multiple of
            ``shape_multiple`` (e.g. 16 for a network with four stride-2 downsamplings).
        shape_multiple: see ``spatial_shape`` (ignored when ``spatial_shape`` is given).

    Returns:
        ``(tensor, point_to_site)``: ``tensor`` with features (M, C), coords (M, 4) int64 as
        (batch, z, y, x), the spatial shape and ``batch_size`` B; ``point_to_site`` (N,) int64, the row of
        ``tensor`` whose voxel holds each point (to carry per-site predictions back to the points).

    Raises:
        ValueError: on a non-positive or non-finite ``voxel_size``, ``points`` not (N, 3) floating point,
            non-finite coordinates, ``batch`` not (N,) integer or with negative indices or indices
            >= ``batch_size``, ``features`` not (N, C) floating point, an unknown ``pick``, a
            ``spatial_shape`` that does not contain the voxels, or a grid too large for int64 keys.
    """
    if isinstance(voxel_size, bool) or not isinstance(voxel_size, (int, float)):
        raise ValueError(f"voxel_size must be a positive finite number, got {voxel_size!r}")
    if not math.isfinite(voxel_size) or voxel_size <= 0:
        raise ValueError(f"voxel_size must be a positive finite number, got {voxel_size!r}")
    if pick not in ("first", "random", "mean"):
        raise ValueError(f"pick must be 'first', 'random' or 'mean', got {pick!r}")
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 3:
        raise ValueError(f"points must be an (N, 3) tensor, got {_describe(points)}")
    if not points.is_floating_point():
        raise ValueError(f"points must be floating point, got {_describe(points)}")
    n = points.shape[0]
    device = points.device
    if not isinstance(batch, torch.Tensor) or batch.shape != (n,):
        raise ValueError(
            f"batch must be an (N,) tensor with N = {n} (one sample index per point), got {_describe(batch)}"
        )
    if batch.is_floating_point() or batch.is_complex() or batch.dtype == torch.bool:
        raise ValueError(f"batch must hold integer sample indices, got {_describe(batch)}")
    if batch.device != device:
        raise ValueError(f"batch is on {batch.device} but points are on {device}")
    batch = batch.to(torch.int64)
    if features is None:
        features = points
    elif not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[0] != n:
        raise ValueError(
            f"features must be an (N, C) tensor with N = {n} rows (one per point), got {_describe(features)}"
        )
    if not features.is_floating_point():
        raise ValueError(f"features must be floating point, got {_describe(features)}")
    if features.device != device:
        raise ValueError(f"features are on {features.device} but points are on {device}")
    for name, value in (("shape_multiple", shape_multiple), ("batch_size", 1 if batch_size is None else batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")

    pts = points.detach().to(torch.float64)
    if n:
        # one host synchronisation for all the data-dependent checks
        finite = torch.isfinite(pts).all(dim=1)
        stats = torch.stack(((~finite).sum(), batch.min(), batch.max())).tolist()
        bad, bmin, bmax = (int(v) for v in stats)
        if bad:
            raise ValueError(f"points has {bad} point(s) with non-finite (NaN or inf) coordinates")
        if bmin < 0:
            raise ValueError(f"batch holds negative sample indices (smallest {bmin}); indices must be >= 0")
    else:
        bmax = -1
    if batch_size is None:
        batch_size = max(bmax + 1, 1)
    elif bmax >= batch_size:
        raise ValueError(f"batch holds sample index {bmax} but batch_size is {batch_size}")
    batch_size = int(batch_size)

    # per-sample minimum, then voxel indices relative to it
    mins = pts.new_full((batch_size, 3), math.inf)
    mins = mins.scatter_reduce(0, batch.unsqueeze(1).expand(n, 3), pts, "amin", include_self=True)
    scaled = torch.floor((pts - mins[batch]) / voxel_size)  # (N, 3) float64, >= 0
    top = scaled.amax(dim=0).tolist() if n else [-1.0, -1.0, -1.0]
    extent = [int(t) + 1 for t in top]
    if spatial_shape is None:
        shape: Triple = tuple(  # type: ignore[assignment]
            max(-(-e // shape_multiple) * shape_multiple, shape_multiple) for e in extent
        )
    else:
        shape = _triple(spatial_shape, "spatial_shape")
        if any(s <= 0 for s in shape):
            raise ValueError(f"spatial_shape must be positive, got {shape}")
        if any(e > s for e, s in zip(extent, shape, strict=True)):
            largest = tuple(int(t) for t in top)
            raise ValueError(
                f"the largest voxel coordinate (z, y, x) = {largest} does not fit in spatial_shape {shape} "
                f"(needs at least {tuple(extent)} with voxel_size {voxel_size})"
            )
    if batch_size * math.prod(shape) >= _MAX_KEYS:
        raise ValueError(
            f"grid of {batch_size} x {shape} voxels is too large for int64 voxel keys: "
            f"voxel_size {voxel_size} is too small for the extent of the points"
        )
    zyx = scaled.to(torch.int64)
    keys = _linearise(batch, zyx, shape)
    uniq, point_to_site = torch.unique(keys, sorted=True, return_inverse=True)
    m = uniq.shape[0]
    coords = _delinearise(uniq, shape)
    if pick == "mean":
        counts = torch.bincount(point_to_site, minlength=m).to(features.dtype)
        sums = features.new_zeros((m, features.shape[1])).index_add(0, point_to_site, features)
        site_features = sums / counts.unsqueeze(1)
    else:
        if pick == "first":
            rank = torch.arange(n, device=device)
            order = rank
        else:
            perm_device = generator.device if generator is not None else device
            order = torch.randperm(n, generator=generator, device=perm_device).to(device)  # order[j]: j-th point
            rank = torch.empty_like(order)
            rank[order] = torch.arange(n, device=device)  # rank[i]: position of point i in the permutation
        best = torch.full((m,), n, dtype=torch.int64, device=device)
        best = best.scatter_reduce(0, point_to_site, rank, "amin", include_self=True)
        site_features = features.index_select(0, order[best])
    tensor = SparseVoxelTensor(site_features, coords, shape, batch_size, validate=False)
    return tensor, point_to_site


def rulebook_macs(rb: Rulebook, c_in: int, c_out: int) -> int:
    """Multiply-accumulate operations of one sparse conv layer applied with rulebook ``rb``.

    Each (input site, output site, kernel offset) connection costs ``c_in * c_out`` MACs, so the count is
    ``rb.num_pairs * c_in * c_out`` (a submanifold rulebook's identity offset included, one pair per
    active site); the bias is not counted. For a spiking network the synaptic operations (SOPs) are these
    MACs times the input firing rate.
    """
    if not isinstance(rb, Rulebook):
        raise TypeError(f"rulebook_macs expects a Rulebook, got {type(rb).__name__}")
    for name, value in (("c_in", c_in), ("c_out", c_out)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return rb.num_pairs * c_in * c_out


__all__ = [
    "Rulebook",
    "SparseBatchNorm",
    "SparseConv3d",
    "SparseVoxelTensor",
    "SubMConv3d",
    "build_rulebook",
    "get_rulebook",
    "rulebook_macs",
    "sparse_conv3d",
    "sparse_mean_per_sample",
    "submanifold_conv3d",
    "voxelize",
]
