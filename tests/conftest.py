"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["sciconv.testing.fixtures"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
