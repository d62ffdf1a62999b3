"""lazy_exports: a package's names are imported from their submodule on first access, and only then."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest


def test_names_are_imported_on_first_access_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "lazy_pkg_for_test"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from sciconv.kit import lazy_exports\n"
        "__getattr__, __dir__ = lazy_exports(__name__, {'Heavy': 'heavy', 'other': 'heavy'})\n"
    )
    (package / "heavy.py").write_text("class Heavy:\n    pass\n\nother = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module("lazy_pkg_for_test")
        assert "lazy_pkg_for_test.heavy" not in sys.modules
        assert {"Heavy", "other", "__getattr__"} <= set(dir(module))
        assert module.Heavy.__name__ == "Heavy" and module.other == 3
        assert "lazy_pkg_for_test.heavy" in sys.modules
        with pytest.raises(AttributeError, match="module 'lazy_pkg_for_test' has no attribute 'missing'"):
            module.missing  # noqa: B018
        from lazy_pkg_for_test import Heavy  # the import statement goes through __getattr__ too

        assert Heavy is module.Heavy
    finally:
        for name in [n for n in sys.modules if n.startswith("lazy_pkg_for_test")]:
            del sys.modules[name]
