"""Names a package exports lazily: each is imported from its one submodule on first access.

A plugin's ``models`` package lists its networks so that ``from sciconv_x.models import Net`` works, while
importing the package imports none of them (one network's heavy dependencies stay out of another's run)::

    from sciconv.kit import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {"Net": "net", "NetLoss": "net"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package`` (its ``__name__``) for ``exports``, which
    maps each exported name to the submodule defining it (relative to the package). An unknown name raises
    :class:`AttributeError` as a module does; ``dir()`` lists the package's own names and the exported ones."""
    names = dict(exports)

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
