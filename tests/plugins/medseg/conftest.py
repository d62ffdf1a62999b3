"""Fixtures of the medseg tests: simulated data go to a simulation cache of each test module's own (never the
user's ``~/.cache``), so no test depends on what another test module simulated before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def _module_simulation_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``SCICONV_CACHE_DIR`` set to a fresh folder for the module (before its module-scoped fixtures run)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCICONV_CACHE_DIR", str(tmp_path_factory.mktemp("sciconv-cache")))
        yield
