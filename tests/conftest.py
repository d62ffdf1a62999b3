"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["sciconv.testing.fixtures", "pytester"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One cache folder for the whole session (simulated datasets, conv tuning), never the user's own
    ~/.cache/sciconv: tests neither depend on nor change what earlier runs on this machine left there."""
    os.environ["SCICONV_CACHE_DIR"] = str(tmp_path_factory.mktemp("sciconv-cache"))


@pytest.fixture(autouse=True)
def _quiet_and_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """No progress bars, and no strict-plugin setting leaking in from the environment."""
    monkeypatch.delenv("SCICONV_STRICT_PLUGINS", raising=False)


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for CLI subprocesses: unbuffered, no strict plugins."""
    env = dict(os.environ)
    env.pop("SCICONV_STRICT_PLUGINS", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
