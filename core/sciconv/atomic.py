"""Atomic file writes: a reader, or a crash, never sees half a file and an earlier file is never corrupted.

Stdlib only (no torch, numpy or plugin imports), so any module may use it, light ones included.

:func:`atomic_path` hands out a fresh hidden temporary name in the destination's folder; what the caller writes
there replaces the destination (``os.replace``, atomic on POSIX) only when the block ends without an error, and
the temporary file is removed in every case. The file written gets the mode a newly created file would
(``0o666`` less the umask), not ``mkstemp``'s private ``0o600``. :func:`atomic_write_bytes` and
:func:`atomic_write_text` are the common cases. :func:`atomic_directory` does the same for a whole folder
(a checkpoint, a cached simulation, a saved ensemble member): it is written under a hidden sibling name and
swapped into place only when complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_directory", "atomic_path", "atomic_write_bytes", "atomic_write_text", "file_sha256"]


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path next to ``path`` (its folder is created); on a clean exit it replaces ``path``.

    ``suffix`` ends the temporary name, for writers that choose the format from it (``".nii.gz"``, ``".h5mu"``).
    The temporary file exists (empty) when the block starts; writers may overwrite it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; the result gets a new file's usual mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed and fsynced before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8; line ends written exactly as they are in ``text``)."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """A fresh hidden folder next to ``path`` (its parent is created); on a clean exit it replaces ``path``.

    What the block writes into the yielded folder appears at ``path`` all at once. An existing ``path`` is
    replaced (moved aside, then removed after the swap), so a reader sees the old folder or the new one,
    never a mixture. If the block raises, the temporary folder is removed and ``path`` is left as it was.
    The folder gets a new folder's usual mode (``0o777`` less the umask), not ``mkdtemp``'s ``0o700``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            stale = path.with_name(f".stale-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            os.replace(path, stale)
            os.replace(tmp, path)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes as 64 hex digits, read in 1 MiB blocks (for the manifests that let a
    reader refuse a tampered or truncated file)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
