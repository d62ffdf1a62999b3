"""Compute once, reuse afterwards: the cache of derived arrays (features of recordings, for example).

A feature front-end that is slow compared with training (spectrograms of hours of audio) runs once per set of
inputs and parameters: :func:`cached_arrays` stores what ``compute()`` returns as one ``.npz`` file
``<cache>/<kind>-<hash of the version and parameters>.npz``, written atomically, and later calls with the same
key load it and say so. The key must name everything the arrays depend on; for files, :func:`file_fingerprints`
(path, size and modification time of each) makes a changed or replaced input a new key.

The cache lives in ``$SCICONV_CACHE_DIR/features`` (default ``~/.cache/sciconv/features``), or in ``cache_dir``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciconv.atomic import atomic_path
from sciconv.kit.simulation_cache import CACHE_ENV, parameter_key


def default_feature_cache_dir() -> Path:
    """``$SCICONV_CACHE_DIR/features``, or ``~/.cache/sciconv/features``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "sciconv"
    return base / "features"


def file_fingerprints(paths: Iterable[str | Path]) -> list[list[Any]]:
    """``[resolved path, size in bytes, modification time in ns]`` of each file, for cache keys."""
    out = []
    for path in paths:
        resolved = Path(path).resolve()
        stat = resolved.stat()
        out.append([str(resolved), int(stat.st_size), int(stat.st_mtime_ns)])
    return out


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cached_arrays(
    kind: str,
    params: Mapping[str, Any],
    compute: Callable[[], Mapping[str, np.ndarray]],
    *,
    version: str | int = "",
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """The arrays ``compute()`` returns for ``params``, computed the first time and loaded afterwards.

    Args:
        kind: a short name of what is computed, the file's prefix (``"uatr-features"``).
        params: everything the arrays depend on (JSON-serialisable; the cache key), input files included
            (:func:`file_fingerprints`).
        compute: returns named arrays (numeric or string; never objects: the file is loaded without pickle).
        version: the computing code's version (part of the key): raise it when a code change alters the arrays.
        cache_dir: the cache's folder (default :func:`default_feature_cache_dir`).
        log: where the "computed" / "reusing" line goes (default: standard error).

    Returns:
        the arrays by name.
    """
    if not kind or "/" in kind or kind.startswith("."):
        raise ValueError(f"cached_arrays: kind must be a plain file prefix, got {kind!r}")
    log = log or _log_stderr
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_feature_cache_dir()
    path = cache / f"{kind}-{parameter_key(params, version)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as exc:  # unreadable (a disk error, a foreign file): compute it again
            log(f"the cached arrays {path} could not be read ({exc}); computing them again")
        else:
            log(f"reusing the cached {kind} {path} (delete it to compute again)")
            return arrays
    arrays = {name: np.asarray(value) for name, value in compute().items()}
    with atomic_path(path, suffix=".npz") as tmp, tmp.open("wb") as handle:
        np.savez(handle, **arrays)
    log(f"computed {kind} into the cache {path}")
    return arrays


__all__ = ["cached_arrays", "default_feature_cache_dir", "file_fingerprints"]
