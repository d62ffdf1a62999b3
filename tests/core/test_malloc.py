"""tune_malloc: applied on glibc, opt-out by environment, inherited by child processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sciconv.malloc import MMAP_THRESHOLD, malloc_tuned, tune_malloc

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")


@glibc
def test_the_engine_applies_it_and_children_inherit_it() -> None:
    import sciconv.engine  # noqa: F401 - importing the engine applies the settings

    assert malloc_tuned() is True
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(MMAP_THRESHOLD)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('MALLOC_TRIM_THRESHOLD_'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip().isdigit()


@glibc
def test_opt_out_and_rejected_values(monkeypatch) -> None:
    monkeypatch.setenv("SCICONV_MALLOC_TUNING", "0")
    assert tune_malloc() is False
    monkeypatch.delenv("SCICONV_MALLOC_TUNING")
    assert tune_malloc() is True
