"""Checks of the paths a user gives a dataset (``dataset.params.root``), with one message format.

A missing setting is a :class:`~sciconv.errors.ConfigError` that says what to give and how::

    dataset.params.root: ssvep.benchmark reads a folder of S1.mat .. S35.mat; give it with dataset.params.root=PATH

A path that does not exist, or is of the wrong kind, is a :class:`~sciconv.errors.DataError` naming it::

    dataset.params.root: /data/bench does not exist (expected a folder of S1.mat .. S35.mat)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sciconv.errors import ConfigError, DataError, MissingPathError

PathKind = Literal["dir", "file", "any"]
_KIND = {"dir": "a folder", "file": "a file", "any": "a file or folder"}


def require_root(
    root: str | Path | None,
    component: str,
    expected: str,
    *,
    kind: PathKind = "dir",
    key: str = "dataset.params.root",
) -> Path:
    """``root`` as an existing path of ``kind`` (``~`` expanded).

    Args:
        root: the value the user gave (``None`` or blank: not given).
        component: the registered name of the component that reads it (``"ssvep.benchmark"``).
        expected: what the path should hold, for the messages (``"a folder of S1.mat .. S35.mat"``).
        kind: ``"dir"``, ``"file"`` or ``"any"``.
        key: the pipeline key the value came from.
    """
    if root is None or str(root).strip() == "":
        raise ConfigError(f"{key}: {component} reads {expected}; give it with {key}=PATH")
    path = Path(str(root)).expanduser()
    if not path.exists():
        raise MissingPathError(f"{key}: {path} does not exist (expected {expected})")
    if kind == "dir" and not path.is_dir():
        raise DataError(f"{key}: {path} is not a folder (expected {expected})")
    if kind == "file" and not path.is_file():
        raise DataError(f"{key}: {path} is not a file (expected {expected})")
    return path


def require_file(path: str | Path, expected: str, *, key: str = "dataset.params.root") -> Path:
    """``path`` as an existing file, or a :class:`DataError` naming it and what it should be."""
    p = Path(str(path)).expanduser()
    if not p.is_file():
        state = "is not a file" if p.exists() else "does not exist"
        raise DataError(f"{key}: {p} {state} (expected {expected})")
    return p


__all__ = ["PathKind", "require_file", "require_root"]
