"""Simulate once, reuse afterwards: the cache of simulated datasets.

A dataset that generates its data writes it in the real dataset's file layout and reads it back with the
real reader. :func:`cached_simulation` runs that writer once per simulator version and set of parameters: the
folder ``<cache>/<kind>-<hash of the version and parameters>`` is written atomically (under a hidden name, with
``simulation.json`` recording the parameters, then renamed into place), and later runs with the same
parameters reuse it and say so. A killed simulation leaves nothing behind; two processes simulating the same
parameters at once both succeed, and the first finished folder is the one kept. A simulator states its
``version`` and raises it whenever a change of its code changes what it writes, so that a cache written by
an older release is not mistaken for the new simulation.

The cache lives in ``$SCICONV_CACHE_DIR/simulations`` (default ``~/.cache/sciconv/simulations``), or in a
dataset's ``cache_dir`` parameter when given.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sciconv.atomic import atomic_directory
from sciconv.errors import ConfigError

CACHE_ENV = "SCICONV_CACHE_DIR"
RECORD = "simulation.json"


def default_cache_dir() -> Path:
    """``$SCICONV_CACHE_DIR/simulations``, or ``~/.cache/sciconv/simulations``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "sciconv"
    return base / "simulations"


def parameter_key(params: Mapping[str, Any], version: str | int = "") -> str:
    """16 hex digits of the SHA-256 of ``version`` and ``params`` as sorted JSON (values that JSON lacks, as
    ``str``)."""
    text = json.dumps({"version": str(version), "params": dict(params)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cached_simulation(
    kind: str,
    params: Mapping[str, Any],
    write: Callable[[Path], Any],
    *,
    version: str | int,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """The folder holding the simulation of ``kind`` with ``params``, written by ``write(folder)`` the first
    time and reused afterwards.

    Args:
        kind: a short name of the simulator, the folder's prefix (``"brats"``, ``"atm"``).
        params: every parameter the simulation depends on (JSON-serialisable; the cache key).
        write: writes the simulated dataset, in its real layout, into the (empty) folder it is given.
        version: the simulator's version (part of the key): raise it when a code change alters its output.
        cache_dir: the cache's folder (default :func:`default_cache_dir`).
        log: where the "simulated" / "reusing" line goes (default: standard error).

    Returns:
        ``<cache_dir>/<kind>-<key>``, complete.
    """
    if not kind or "/" in kind or kind.startswith("."):
        raise ValueError(f"cached_simulation: kind must be a plain folder prefix, got {kind!r}")
    log = log or _log_stderr
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if cache.exists() and not cache.is_dir():
        raise ConfigError(f"dataset.params.cache_dir: {cache} exists and is not a folder")
    folder = cache / f"{kind}-{parameter_key(params, version)}"
    if (folder / RECORD).is_file():
        log(f"reusing the cached simulation {folder} (delete it to simulate again)")
        return folder
    if folder.exists():  # an incomplete folder from an older writer: replace it
        shutil.rmtree(folder, ignore_errors=True)
    record = json.dumps(
        {"kind": kind, "version": str(version), "params": dict(params)}, indent=1, sort_keys=True, default=str
    )
    try:
        with atomic_directory(folder) as tmp:
            write(tmp)
            (tmp / RECORD).write_text(record + "\n", encoding="utf-8")
    except OSError:
        if not (folder / RECORD).is_file():  # not another process that finished the same simulation first
            raise
    log(f"simulated {kind} data into the cache {folder}")
    return folder


__all__ = ["CACHE_ENV", "cached_simulation", "default_cache_dir", "parameter_key"]
