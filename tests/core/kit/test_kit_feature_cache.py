"""The feature cache: computed once, reused, keyed by the parameters and the input files, written whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciconv.kit import cached_arrays, file_fingerprints


def test_computes_once_and_reuses(tmp_path: Path) -> None:
    calls: list[int] = []
    lines: list[str] = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(6.0).reshape(2, 3), "names": np.array(["a", "b"])}

    first = cached_arrays("feat", {"n": 2}, compute, cache_dir=tmp_path, log=lines.append)
    second = cached_arrays("feat", {"n": 2}, compute, cache_dir=tmp_path, log=lines.append)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["x"], second["x"])
    assert list(second["names"]) == ["a", "b"]
    assert lines[0].startswith("computed feat") and lines[1].startswith("reusing the cached feat")
    cached_arrays("feat", {"n": 3}, compute, cache_dir=tmp_path, log=lines.append)
    cached_arrays("feat", {"n": 2}, compute, version=2, cache_dir=tmp_path, log=lines.append)
    assert len(calls) == 3  # another parameter or version is another entry
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_a_changed_input_file_is_a_new_key(tmp_path: Path) -> None:
    source = tmp_path / "a.wav"
    source.write_bytes(b"1234")
    key1 = file_fingerprints([source])
    source.write_bytes(b"123456")
    assert file_fingerprints([source]) != key1


def test_a_failed_compute_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> dict[str, np.ndarray]:
        raise RuntimeError("feature extraction failed")

    with pytest.raises(RuntimeError):
        cached_arrays("feat", {"n": 1}, broken, cache_dir=tmp_path, log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_entry_is_computed_again(tmp_path: Path) -> None:
    lines: list[str] = []
    cached_arrays("feat", {"n": 1}, lambda: {"x": np.ones(3)}, cache_dir=tmp_path, log=lines.append)
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b"not an npz")
    again = cached_arrays("feat", {"n": 1}, lambda: {"x": np.zeros(3)}, cache_dir=tmp_path, log=lines.append)
    np.testing.assert_array_equal(again["x"], np.zeros(3))
    assert "could not be read" in lines[1]
