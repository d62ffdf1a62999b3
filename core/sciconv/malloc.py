"""glibc malloc settings for tensor workloads: keep freed memory for reuse instead of returning it.

glibc serves allocations above ``M_MMAP_THRESHOLD`` (128 KiB at start-up, raised dynamically up to 32 MiB)
with fresh ``mmap`` pages and unmaps them on free, and trims the heap top above ``M_TRIM_THRESHOLD``; a
training step that allocates and frees the same large temporaries every call then pays page faults and
zeroing on every call. :func:`tune_malloc` fixes both thresholds high (``mallopt``), so that freed blocks up
to the mmap threshold stay in the heap and are reused: the allocator becomes the workspace cache of every
backend's temporaries. ``benchmarks/malloc.py`` measured 1.3x to 1.9x faster training steps of real
pipelines with it, so :mod:`sciconv.engine` and :mod:`sciconv.conv.tuning` apply it when imported (set
``SCICONV_MALLOC_TUNING=0`` to keep glibc's defaults). It also sets glibc's ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` environment variables (unless already set), so that worker processes started
afterwards (joblib, torchrun) get the same settings from their first allocation. Blocks above 32 MiB (the
largest mmap threshold glibc accepts on 64-bit) are still mapped per call; jemalloc or tcmalloc (through
``LD_PRELOAD``) cache those too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "malloc_tuned", "tune_malloc"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: The largest mmap threshold glibc accepts on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``), bytes.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Heap top kept before trimming, bytes.
TRIM_THRESHOLD = 1024 * 1024 * 1024

_applied: bool | None = None


def tune_malloc(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (bytes) for this process.

    Returns whether both were applied: ``False`` on a non-glibc system, when ``SCICONV_MALLOC_TUNING=0``,
    or when glibc rejects a value. Safe to call more than once.
    """
    global _applied
    if os.environ.get("SCICONV_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
    if ok:
        os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(int(mmap_threshold)))
        os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(int(trim_threshold)))
    _applied = ok
    return ok


def malloc_tuned() -> bool | None:
    """Whether :func:`tune_malloc` has applied the settings in this process (``None``: not called yet)."""
    return _applied
