"""The installed distribution's version, for :data:`sciconv.__version__` and for what a run records (a leaf
module: the core's own modules read the version here, not from the ``sciconv`` package, which imports them)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sciconv")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
