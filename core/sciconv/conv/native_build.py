"""Compiling and loading the conv backends' C kernels (``csrc/*.c``, package data) at first use.

A kernel library is compiled with the system C compiler (``$CC``, else ``cc``/``gcc``) into a cache directory
(``$SCICONV_CACHE_DIR/kernels/``, else ``~/.cache/sciconv/kernels/``). Its file name hashes the source, the
compiler's version, the flags and the CPU (model and feature flags), so a changed source, compiler or machine
compiles anew. The library is written under a temporary name and moved into place with ``os.replace``
(concurrent processes are safe), then loaded with :mod:`ctypes`. :func:`load_library` tries an OpenMP build
first, then a plain one; without a compiler, or when every build fails, the caller gets ``None``, the reason,
and one warning. ``SCICONV_NATIVE=0`` disables every native path.

The modules of the kernels (:mod:`~sciconv.conv.im2win_native`, :mod:`~sciconv.conv.sparse_native`) keep their
own state (:class:`NativeState`) and bind their own symbols; this module holds what they share.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-std=gnu11")
OPENMP_FLAGS = (*FLAGS, "-fopenmp")  # tried first; FLAGS alone if it fails


def cache_dir() -> Path:
    """``$SCICONV_CACHE_DIR/kernels`` or ``~/.cache/sciconv/kernels`` (never inside the package)."""
    root = os.environ.get("SCICONV_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "sciconv"
    return base / "kernels"


def find_compiler() -> str | None:
    """The C compiler: ``$CC``, else ``cc``, else ``gcc`` (a full path), or ``None``."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def cpu_signature() -> str:
    """CPU model and feature flags (``-march=native`` output depends on them)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() + platform.processor()
    keep = []
    for line in text.splitlines():
        if line.startswith(("model name", "flags", "Features", "CPU part")):
            keep.append(line)
            if len(keep) >= 2:
                break
    return platform.machine() + "\n" + "\n".join(keep)


def library_path(stem: str, source: bytes, compiler: str, flags: Sequence[str]) -> Path:
    """Where the library ``<stem>-<hash>.so`` compiled from ``source`` by ``compiler`` with ``flags`` for this
    CPU lives (it may not exist yet)."""
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False).stdout
    digest = hashlib.sha256()
    for part in (source, version.encode(), " ".join(flags).encode(), cpu_signature().encode()):
        digest.update(part)
        digest.update(b"\0")
    return cache_dir() / f"{stem}-{digest.hexdigest()[:20]}.so"


def compile_library(compiler: str, stem: str, source: bytes, target: Path, flags: Sequence[str]) -> None:
    """Compile ``source`` into ``target`` (a temporary name, then ``os.replace``). Raises RuntimeError with the
    compiler's message when it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"sciconv-{stem}-") as tmp:
        src = Path(tmp) / f"{stem}.c"
        src.write_bytes(source)
        out = Path(tmp) / f"{stem}.so"
        proc = subprocess.run([compiler, *flags, "-o", str(out), str(src)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"compiling {src.name} failed:\n{proc.stderr.strip()[-2000:]}")
        fd, partial = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(out, partial)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise


def one_openmp_runtime() -> bool:
    """Whether the process holds a single OpenMP runtime (torch's): a library's parallel regions then run on
    torch's threads. With a second runtime the two thread teams would oversubscribe the cores."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return True
    names = {"libgomp", "libiomp", "libomp"}
    found = {line.split()[-1] for line in maps.splitlines() if any(n in line.rsplit("/", 1)[-1] for n in names)}
    return len(found) <= 1


@dataclass
class NativeState:
    """A kernel library's loading state: the library (or why there is none), whether its OpenMP entry points
    run on torch's threads, and the process that loaded it."""

    lib: ctypes.CDLL | None = None
    reason: str | None = None
    path: Path | None = None
    warned: bool = False
    openmp: bool = False
    pid: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, what: str, why: str, stacklevel: int = 4) -> None:
        """Record ``why`` the library is unavailable; warn once."""
        self.reason = why
        if not self.warned:
            self.warned = True
            warnings.warn(f"sciconv {what}: native kernels unavailable, using torch ops ({why})", stacklevel=stacklevel)


def load_library(
    state: NativeState,
    *,
    what: str,
    compiler: Callable[[], str | None],
    path_for: Callable[[str, Sequence[str]], Path],
    compile: Callable[[str, Path, Sequence[str]], None],
    bind: Callable[[Path], ctypes.CDLL],
    has_openmp: Callable[[ctypes.CDLL], bool],
    force: bool = False,
) -> ctypes.CDLL | None:
    """The library of ``state``, compiled into the cache on first use and bound; ``None`` (with
    ``state.reason`` set and one warning naming ``what``) when disabled or unbuildable. A cached file that
    does not load (truncated, corrupted) is compiled again. ``force`` retries from scratch."""
    with state.lock:
        if force:
            state.lib, state.reason, state.path, state.warned = None, None, None, False
        if state.lib is not None or state.reason is not None:
            return state.lib
        if os.environ.get("SCICONV_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
            state.reason = "disabled by SCICONV_NATIVE=0"
            return None
        cc = compiler()
        if cc is None:
            state.fail(what, "no C compiler found (tried $CC, cc, gcc)")
            return None
        errors = []
        for flags in (OPENMP_FLAGS, FLAGS):
            try:
                path = path_for(cc, flags)
                if path.exists():
                    try:
                        lib = bind(path)
                    except OSError:  # truncated or corrupted cache file: build it again
                        compile(cc, path, flags)
                        lib = bind(path)
                else:
                    compile(cc, path, flags)
                    lib = bind(path)
            except (OSError, RuntimeError, subprocess.SubprocessError) as err:
                errors.append(str(err))
                continue
            state.lib, state.path, state.pid = lib, path, os.getpid()
            state.openmp = has_openmp(lib) and one_openmp_runtime()
            return lib
        state.fail(what, errors[-1])
        return None
