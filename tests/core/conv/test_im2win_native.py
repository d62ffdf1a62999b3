"""The native im2win kernels: equal to torch.nn.functional.conv2d forward and backward, used whenever a C
compiler exists, compiled once into a cache outside the package, and replaced by the torch-ops path when
disabled or impossible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import sciconv.conv
from sciconv.conv import im2win_native
from sciconv.conv.im2win import Im2winBackend, _resolve, backend, im2col_nbytes

HAS_CC = any(shutil.which(name) for name in ("cc", "gcc"))


def _select_runner(openmp: bool, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run the kernels on torch's OpenMP team (``openmp``) or on the Python thread pool. False when OpenMP is
    asked for but the build has none: the Python pool is then what runs, already tested by its own case."""
    if openmp and not (im2win_native.available() and im2win_native.load().im2win_openmp()):
        assert not im2win_native._state.openmp
        return False
    monkeypatch.setattr(im2win_native._state, "openmp", openmp)
    return True


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's thread count set to ``n`` inside the block, restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _native_used(out: torch.Tensor) -> bool:
    """Whether the autograd graph of ``out`` (a few nodes deep) holds the native conv2d node."""
    nodes, seen = [out.grad_fn], 0
    while nodes and seen < 8:
        node = nodes.pop()
        seen += 1
        if node is None:
            continue
        if "_NativeConv2d" in type(node).__name__:
            return True
        nodes.extend(fn for fn, _ in node.next_functions)
    return False


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from the real environment's library (re-resolved after any env change)."""
    monkeypatch.delenv("SCICONV_NATIVE", raising=False)
    yield
    monkeypatch.undo()
    im2win_native.load(force=True)


def test_native_is_used_when_a_compiler_exists() -> None:
    if not HAS_CC:
        assert not im2win_native.available() and im2win_native.reason()
        return
    assert im2win_native.available(), im2win_native.reason()
    assert im2win_native.reason() is None
    lib = im2win_native.load()
    assert lib is not None
    if lib.im2win_openmp():
        # built with OpenMP: in a process holding torch's runtime only, its parallel regions run on it (in this
        # pytest process other libraries, e.g. scikit-learn's bundled libgomp, may have loaded a second one,
        # and then the Python pool is used instead)
        code = (
            "import torch; from sciconv.conv import im2win_native as n; n.load(); "
            "print(n._one_openmp_runtime(), n._state.openmp)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.split() == ["True", "True"]
        assert im2win_native._state.openmp == im2win_native._one_openmp_runtime()
    x, w = torch.randn(1, 3, 6, 6, requires_grad=True), torch.randn(4, 3, 3, 3)
    assert _native_used(backend.conv2d(x, w, padding=1))
    assert not _native_used(Im2winBackend(native=False).conv2d(x, w, padding=1))


@st.composite
def cases(draw: st.DrawFn) -> dict:
    """A random conv2d: odd widths, channel counts off multiples of 16 and 64, stride/dilation 1-3, paddings."""
    c_in, c_out = draw(st.integers(1, 20)), draw(st.sampled_from([1, 3, 17, 64, 67]))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if mode == "same":
        stride: tuple[int, int] = (1, 1)
        padding: object = "same"
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = {"int": draw(st.integers(0, 3)), "tuple": (draw(st.integers(0, 3)), draw(st.integers(0, 3)))}.get(
            mode, "valid"
        )
    pads = (0, 0) if isinstance(padding, str) else ((padding,) * 2 if isinstance(padding, int) else padding)
    lows = [max(1, d * (k - 1) + 1 - 2 * p) for k, d, p in zip(kernel, dilation, pads, strict=True)]
    spatial = tuple(draw(st.integers(lo, lo + 11)) for lo in lows)
    return {
        "x": (draw(st.integers(1, 3)), c_in, *spatial),
        "w": (c_out, c_in, *kernel),
        "bias": draw(st.booleans()),
        "kw": {"stride": stride, "padding": padding, "dilation": dilation},
    }


def _check(
    case: dict,
    op: Callable[..., torch.Tensor] = backend.conv2d,
    ref: Callable[..., torch.Tensor] = F.conv2d,
    expect_native: bool = HAS_CC,
) -> None:
    """``op`` equals ``ref`` forward and backward on ``case``; the native kernels ran iff ``expect_native``."""
    x = torch.randn(case["x"], requires_grad=True)
    w = torch.randn(case["w"], requires_grad=True)
    b = torch.randn(case["w"][0], requires_grad=True) if case["bias"] else None
    y, r = op(x, w, b, **case["kw"]), ref(x, w, b, **case["kw"])
    assert _native_used(y) == expect_native
    scale = 1.0 + r.abs().max().item()
    torch.testing.assert_close(y, r, rtol=1e-4, atol=1e-5 * scale)
    g = torch.randn_like(r)
    leaves = [t for t in (x, w, b) if t is not None]
    for a, e in zip(torch.autograd.grad(y, leaves, g), torch.autograd.grad(r, leaves, g), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5 * (1.0 + e.abs().max().item()))


@settings(max_examples=60, deadline=None)
@given(cases())
def test_conv2d_matches_torch(case: dict) -> None:
    _check(case)


@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "python-pool"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("x", "w", "kw"),
    [
        ((3, 64, 15, 13), (130, 64, 3, 3), {"padding": 1}),  # three output-channel panels, ragged tiles
        ((2, 70, 17, 9), (64, 70, 3, 3), {"padding": 1, "stride": 2}),  # two input-channel panels
        ((4, 16, 8, 8), (32, 16, 3, 3), {"padding": "same", "dilation": 2}),
        ((1, 3, 7, 40), (8, 3, 5, 3), {"padding": (2, 0), "stride": (1, 3)}),
    ],
)
def test_thread_counts(
    threads: int, openmp: bool, x: tuple, w: tuple, kw: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Correct at 1 and 2 threads, on the OpenMP entry points and on the Python thread pool (the fallback
    for a library built without OpenMP or a process with a second OpenMP runtime)."""
    if not _select_runner(openmp, monkeypatch):
        return
    with _torch_threads(threads):
        _check({"x": x, "w": w, "bias": True, "kw": kw})


@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "python-pool"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("x", "w", "kw"),
    [
        ((3, 64, 9, 7), (130, 64, 3, 3), {"padding": 1}),  # three output-channel panels, ragged
        ((2, 150, 7, 9), (20, 150, 3, 2), {"padding": 1, "stride": 2}),  # three input-channel panels, ragged
        ((1, 5, 1, 90), (70, 5, 1, 4), {"padding": (0, 2), "dilation": (1, 2)}),  # conv1d-like, K < 64
    ],
)
def test_weights_packed_one_panel_at_a_time(
    openmp: bool, threads: int, x: tuple, w: tuple, kw: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the packed-weight budget below one panel, the forward and the input gradient run one group of one
    panel at a time, and with the weight-gradient accumulator budget below one tile the "tiles" units are
    one reduction panel x one channel tile: still torch's result, on both thread runners."""
    if not _select_runner(openmp, monkeypatch):
        return
    monkeypatch.setattr(im2win_native, "PACK_BYTES", 1)
    monkeypatch.setattr(im2win_native, "ACC_BYTES", 1)
    monkeypatch.setattr(im2win_native, "_weight_grad_plan", lambda g: ("tiles", 0))
    s, pads, d, out = _resolve(2, x, w, kw.get("stride", 1), kw["padding"], kw.get("dilation", 1), 1)
    g = im2win_native.Geometry(x, w, s, (pads[0][0], pads[1][0]), d, out, threads)
    assert g.gf == g.gb == g.cbw == 1 and g.units == g.kpad // 64 * g.co_tiles
    with _torch_threads(threads):
        _check({"x": x, "w": w, "bias": True, "kw": kw})


@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "python-pool"])
def test_tiles_split_does_not_depend_on_the_thread_count(openmp: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forward, the input gradient and the "tiles" weight gradient give bitwise the same result at 1 and 2
    threads (the channel blocks of the weight-gradient units differ, the order of each sum does not)."""
    if not _select_runner(openmp, monkeypatch):
        return
    monkeypatch.setattr(im2win_native, "_weight_grad_plan", lambda g: ("tiles", 0))
    x, w = torch.randn(3, 16, 9, 9, requires_grad=True), torch.randn(140, 16, 3, 3, requires_grad=True)
    g = torch.randn(3, 140, 9, 9)
    blocks = [im2win_native.Geometry(x.shape, w.shape, (1, 1), (1, 1), (1, 1), (9, 9), t).cbw for t in (1, 2)]
    assert blocks[0] != blocks[1]
    results = []
    for threads in (1, 2):
        with _torch_threads(threads):
            y = backend.conv2d(x, w, padding=1)
            assert _native_used(y)
            results.append((y, *torch.autograd.grad(y, (x, w), g)))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    ref = F.conv2d(x, w, padding=1)
    torch.testing.assert_close(results[0][2], torch.autograd.grad(ref, w, g)[0], rtol=1e-4, atol=1e-3)


def test_weight_gradient_split_by_lines_and_by_tiles() -> None:
    """Both ways of splitting the weight gradient over threads give torch's result."""
    x, w = torch.randn(4, 8, 10, 10), torch.randn(12, 8, 3, 3)
    g = im2win_native.Geometry(x.shape, w.shape, (1, 1), (1, 1), (1, 1), (10, 10), 2)
    assert im2win_native._weight_grad_plan(g)[0] == "lines"
    big = im2win_native.Geometry((2, 512, 4, 4), (512, 512, 3, 3), (1, 1), (1, 1), (1, 1), (4, 4), 2)
    assert im2win_native._weight_grad_plan(big)[0] == "tiles"
    with _torch_threads(2):
        _check({"x": (2, 160, 4, 4), "w": (70, 160, 3, 3), "bias": False, "kw": {"padding": 1}})
        _check({"x": (4, 8, 10, 10), "w": (12, 8, 3, 3), "bias": False, "kw": {"padding": 1}})


@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "python-pool"])
@pytest.mark.parametrize(
    ("x", "w", "kw"),
    [
        ((2, 5, 7, 40), (7, 5, 3, 3), {"padding": 1}),
        ((1, 3, 1, 203), (66, 3, 1, 5), {"padding": (0, 3), "stride": (1, 2), "dilation": (1, 2)}),  # conv1d-like
        ((2, 17, 6, 57), (9, 17, 2, 3), {"padding": 2, "stride": (2, 3), "dilation": (3, 1)}),
    ],
)
def test_rows_cut_into_pieces(openmp: bool, x: tuple, w: tuple, kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Output rows whose window strip is too wide are processed in pieces of ``wb`` columns (ragged last)."""
    if not _select_runner(openmp, monkeypatch):
        return
    monkeypatch.setattr(im2win_native, "PIECE_BYTES", 1500)
    s, pads, d, out = _resolve(2, x, w, kw.get("stride", 1), kw["padding"], kw.get("dilation", 1), 1)
    g = im2win_native.Geometry(x, w, s, (pads[0][0], pads[1][0]), d, out, 2)
    assert 1 < g.wb < out[1] and out[1] % g.wb  # several pieces per row, the last one shorter
    with _torch_threads(2):
        _check({"x": x, "w": w, "bias": True, "kw": kw})


def test_any_worker_may_take_any_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks go to whichever worker is free: here the last worker takes them all (worker 0 none)."""

    def last_first(tasks: list) -> None:
        for task in reversed(tasks):
            task()

    monkeypatch.setattr(im2win_native, "_parallel", last_first)
    monkeypatch.setattr(im2win_native._state, "openmp", False)  # the Python-pool path
    with _torch_threads(2):
        _check({"x": (4, 8, 10, 10), "w": (12, 8, 3, 3), "bias": True, "kw": {"padding": 1}})
        _check({"x": (2, 160, 4, 4), "w": (70, 160, 3, 3), "bias": False, "kw": {"padding": 1}})


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 20),
    st.integers(1, 70),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(0, 12),
)
def test_conv1d_matches_torch(n: int, c: int, co: int, k: int, s: int, d: int, p: int, extra: int) -> None:
    length = max(1, d * (k - 1) + 1 - 2 * p) + extra
    case = {"x": (n, c, length), "w": (co, c, k), "bias": True, "kw": {"stride": s, "padding": p, "dilation": d}}
    _check(case, backend.conv1d, F.conv1d)


def test_unsupported_cases_keep_the_torch_ops_path() -> None:
    x, w = torch.randn(2, 4, 6, 6, requires_grad=True), torch.randn(4, 2, 3, 3)
    _check({"x": (2, 4, 6, 6), "w": (4, 2, 3, 3), "bias": True, "kw": {"groups": 2}}, expect_native=False)
    y = backend.conv2d(x.double(), w.double(), padding=1, groups=2)
    assert not _native_used(y)
    torch.testing.assert_close(y, F.conv2d(x.double(), w.double(), padding=1, groups=2))
    xs = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    ws = torch.randn(3, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: backend.conv2d(a, b, padding=1, stride=(2, 1)), (xs, ws))


def test_channels_last_and_non_contiguous_inputs() -> None:
    x = torch.randn(2, 6, 9, 7).to(memory_format=torch.channels_last)
    w = torch.randn(5, 6, 3, 3).transpose(2, 3)
    torch.testing.assert_close(backend.conv2d(x, w, padding=1), F.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-4)
    xs = torch.randn(2, 9, 6, 7).transpose(1, 2)
    torch.testing.assert_close(backend.conv2d(xs, w, stride=2), F.conv2d(xs, w, stride=2), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not HAS_CC, reason="no C compiler")
def test_workspaces_are_reused_and_can_be_freed() -> None:
    """The large temporaries are kept per thread between calls (no fresh pages each call), grown on demand."""
    im2win_native.clear_workspaces()
    x, w = torch.randn(2, 8, 9, 9, requires_grad=True), torch.randn(70, 8, 3, 3, requires_grad=True)
    backend.conv2d(x, w, padding=1).sum().backward()
    buffers = dict(im2win_native._workspaces.buffers)
    assert {"w_pack", "dy_t"} <= set(buffers)  # forward and input-gradient panels share "w_pack"
    g = im2win_native.Geometry(x.shape, w.shape, (1, 1), (1, 1), (1, 1), (9, 9), torch.get_num_threads())
    assert ("acc" in buffers) == (im2win_native._weight_grad_plan(g)[0] == "lines")  # "tiles": no full accumulator
    backend.conv2d(x, w, padding=1).sum().backward()
    assert all(im2win_native._workspaces.buffers[k] is v for k, v in buffers.items())
    bigger = torch.randn(600, 8, 3, 3)
    torch.testing.assert_close(
        backend.conv2d(x.detach(), bigger, padding=1), F.conv2d(x.detach(), bigger, padding=1), rtol=1e-4, atol=1e-4
    )
    assert im2win_native._workspaces.buffers["w_pack"].numel() > buffers["w_pack"].numel()
    im2win_native.clear_workspaces()
    assert not im2win_native._workspaces.buffers


@pytest.mark.parametrize(
    ("x", "c_out", "stride"),
    [((8, 64, 56, 56), 64, 1), ((8, 128, 28, 28), 128, 1), ((8, 256, 14, 14), 256, 1), ((8, 512, 7, 7), 512, 1)],
)
def test_workspace_within_0_4_of_im2col(x: tuple, c_out: int, stride: int) -> None:
    """ResNet 3x3 layers: the native path's extra memory, activation-sized part and packed weights together
    (forward, and the backward's), is <= 0.4x im2col's; the packed weights are one group of panels."""
    if not HAS_CC:
        pytest.skip("no C compiler")
    w = (c_out, x[1], 3, 3)
    s, pads, d, out = _resolve(2, x, w, stride, 1, 1, 1)
    im2col = im2col_nbytes(x, w, stride, 1)
    args = (x, w, s, (pads[0][0], pads[1][0]), d, out)
    forward = im2win_native.workspace_nbytes(*args, threads=2)
    backward = im2win_native.workspace_nbytes(*args, threads=2, backward=True)
    assert forward["transform"] + forward["weights"] <= 0.4 * im2col
    assert backward["transform"] + backward["weights"] <= 0.4 * im2col
    panel = 4 * 64 * x[1] * 9  # C_out a multiple of 64: no padding
    assert forward["weights"] == panel * im2win_native.Geometry(x, w, s, (1, 1), d, out, 2).gf
    assert forward["weights"] <= max(panel, im2win_native.PACK_BYTES)
    # the whole weight packed at once (the earlier layout) would exceed the budget on the deep layers
    if c_out >= 512:
        assert 4 * c_out * x[1] * 9 > 0.4 * im2col


@pytest.mark.skipif(not HAS_CC, reason="no C compiler")
def test_portable_vector_path_matches_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source's generic-vector branch (used where AVX-512 is not available) is exact too."""
    target = tmp_path / "generic.so"
    cc = im2win_native._compiler()
    assert cc is not None
    im2win_native._compile(cc, target, (*im2win_native.OPENMP_FLAGS, "-U__AVX512F__"))
    monkeypatch.setattr(im2win_native._state, "lib", im2win_native._bind(target))
    _check({"x": (2, 20, 9, 18), "w": (70, 20, 3, 3), "bias": True, "kw": {"padding": 1}})
    _check({"x": (2, 17, 11, 9), "w": (5, 17, 3, 2), "bias": False, "kw": {"stride": 2, "dilation": (1, 2)}})


# ------------------------------------------------------------------------------------------------ cache


def test_source_ships_in_the_package_and_cache_is_outside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert b"im2win_fwd" in im2win_native._source()
    package = Path(sciconv.conv.__file__).resolve().parent
    assert package not in im2win_native.cache_dir().resolve().parents
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path))
    assert im2win_native.cache_dir() == tmp_path / "kernels"
    monkeypatch.delenv("SCICONV_CACHE_DIR")
    assert im2win_native.cache_dir() == Path.home() / ".cache" / "sciconv" / "kernels"


@pytest.mark.skipif(not HAS_CC, reason="no C compiler")
def test_second_load_reuses_the_cached_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path))
    assert im2win_native.load(force=True) is not None
    (path,) = (tmp_path / "kernels").glob("im2win-*.so")
    assert path == im2win_native.library_path()
    stamp = path.stat().st_mtime_ns

    def no_compile(*args: object) -> None:
        raise AssertionError("compiled again although the cache holds the library")

    monkeypatch.setattr(im2win_native, "_compile", no_compile)
    assert im2win_native.load(force=True) is not None
    assert path.stat().st_mtime_ns == stamp
    assert not [p for p in path.parent.iterdir() if p != path], "no temporary files left behind"


_CHILD = textwrap.dedent(
    """
    import torch, torch.nn.functional as F
    from sciconv.conv import im2win_native
    from sciconv.conv.im2win import backend
    assert im2win_native.available(), im2win_native.reason()
    x, w = torch.randn(2, 5, 7, 6), torch.randn(3, 5, 3, 3)
    y = backend.conv2d(x, w, padding=1)
    torch.testing.assert_close(y, F.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-4)
    print(im2win_native.library_path())
    """
)


def _child(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=False)


@pytest.mark.skipif(not HAS_CC, reason="no C compiler")
def test_corrupted_or_missing_cache_file_is_rebuilt(tmp_path: Path) -> None:
    env = {**os.environ, "SCICONV_CACHE_DIR": str(tmp_path)}
    env.pop("SCICONV_NATIVE", None)
    first = _child(env)
    assert first.returncode == 0, first.stderr
    path = Path(first.stdout.strip())
    assert path.exists() and path.parent == tmp_path / "kernels"
    path.write_bytes(b"not a shared library")  # corrupted
    again = _child(env)
    assert again.returncode == 0, again.stderr
    assert path.read_bytes()[:4] == b"\x7fELF"
    path.unlink()  # missing
    third = _child(env)
    assert third.returncode == 0, third.stderr
    assert path.exists()


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_NATIVE", "0")
    im2win_native.load(force=True)
    assert not im2win_native.available()
    assert "SCICONV_NATIVE" in (im2win_native.reason() or "")
    _check({"x": (2, 3, 8, 9), "w": (4, 3, 3, 3), "bias": True, "kw": {"padding": 1}}, expect_native=False)


def test_no_compiler_warns_once_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(im2win_native, "_compiler", lambda: None)
    with pytest.warns(UserWarning, match="native kernels unavailable"):
        im2win_native.load(force=True)
    assert not im2win_native.available()
    assert "compiler" in (im2win_native.reason() or "")
    _check({"x": (1, 2, 6, 6), "w": (2, 2, 3, 3), "bias": False, "kw": {"stride": 2}}, expect_native=False)


def test_failed_compilation_warns_and_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(im2win_native, "_source", lambda: b"this is not C\n")
    if not HAS_CC:
        pytest.skip("no C compiler")
    with pytest.warns(UserWarning, match="compiling"):
        assert im2win_native.load(force=True) is None
    assert not list((tmp_path / "kernels").glob("*.so"))
    _check({"x": (1, 2, 6, 6), "w": (2, 2, 3, 3), "bias": True, "kw": {}}, expect_native=False)


@pytest.mark.skipif(not HAS_CC or not hasattr(os, "fork"), reason="needs a C compiler and fork")
def test_forked_child_gets_its_own_threads() -> None:
    """A child forked after the parent ran native convolutions (a DataLoader worker, say) still runs them:
    GNU OpenMP's threads do not survive a fork, so the child uses a fresh Python thread pool."""
    code = textwrap.dedent(
        """
        import os, torch, torch.nn.functional as F
        from sciconv.conv import im2win_native
        from sciconv.conv.im2win import backend
        torch.set_num_threads(2)
        x, w = torch.randn(2, 8, 12, 12), torch.randn(8, 8, 3, 3)
        ref = F.conv2d(x, w, padding=1)
        backend.conv2d(x, w, padding=1)  # starts the OpenMP team (or the pool)
        im2win_native._parallel([lambda: None, lambda: None])  # and the pool
        pid = os.fork()
        if pid == 0:
            ok = torch.allclose(backend.conv2d(x, w, padding=1), ref, atol=1e-4)
            os._exit(0 if ok and not im2win_native._use_openmp() else 3)
        _, status = os.waitpid(pid, 0)
        raise SystemExit(os.waitstatus_to_exitcode(status))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(not HAS_CC, reason="no C compiler")
def test_installed_wheel_compiles_from_its_package_data(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    """From a wheel install the C source is found in the installed package and the library is compiled
    into the cache directory, outside the package."""
    repo = Path(__file__).resolve().parents[3]
    source = tmp_path / "src"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in files:
        if rel.startswith(("tests/", "examples/", "benchmarks/")) or not (repo / rel).is_file():
            continue
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / rel, source / rel)
    pip = [sys.executable, "-m", "pip"]
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    flags = ["--no-deps", "--no-index", "-q"]
    subprocess.run([*pip, "wheel", *flags, "--no-build-isolation", "-w", str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("sciconv-*.whl")
    subprocess.run([*pip, "install", *flags, "--target", str(site), str(wheel)], check=True)
    cache = tmp_path / "cache"
    env = {**subprocess_env, "PYTHONPATH": str(site), "SCICONV_CACHE_DIR": str(cache)}
    env.pop("SCICONV_NATIVE", None)
    code = _CHILD + "import sciconv; print(sciconv.__file__)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    library, package = proc.stdout.split()
    assert package.startswith(str(site)), "the installed copy must be used"
    assert Path(library).parent == cache / "kernels" and Path(library).exists()
    assert not list(site.rglob("*.so.tmp")) and not list((site / "sciconv").rglob("im2win-*.so"))
