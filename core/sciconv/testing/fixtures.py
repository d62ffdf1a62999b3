"""pytest fixtures for plugin tests. Enable with ``pytest_plugins = ["sciconv.testing.fixtures"]``
in a ``conftest.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sciconv.registry import PluginInfo, Registry, get_registry


@pytest.fixture
def register_plugin() -> Iterator[Callable[..., Registry]]:
    """``register_plugin(plugin, name="test-plugin")`` adds an in-process plugin to the global
    registry; it is removed when the test ends."""
    added: list[str] = []

    def register(plugin: Any, name: str = "test-plugin", version: str | None = None) -> Registry:
        registry = get_registry()
        registry.add_plugin(plugin, PluginInfo(name=name, version=version, module=getattr(plugin, "__name__", None)))
        added.append(name)
        return registry

    yield register
    registry = get_registry()
    for name in reversed(added):
        registry.remove_plugin(name)
