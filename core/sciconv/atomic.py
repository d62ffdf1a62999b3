"""Atomic file writes: a reader, or a crash, never sees half a file and an earlier file is never corrupted.

Stdlib only (no torch, numpy or plugin imports), so any module may use it, light ones included.

:func:`atomic_path` hands out a fresh hidden temporary name in the destination's folder; what the caller writes
there replaces the destination (``os.replace``, atomic on POSIX) only when the block ends without an error, and
the temporary file is removed in every case. The file written gets the mode a newly created file would
(``0o666`` less the umask), not ``mkstemp``'s private ``0o600``. :func:`atomic_write_bytes` and
:func:`atomic_write_text` are the common cases.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


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
