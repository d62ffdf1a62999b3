"""The kit's simulation cache: written once and atomically, reused with a message, keyed by parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciconv.kit import cached_simulation, default_cache_dir


def _writer(calls: list[Path]):
    def write(folder: Path) -> None:
        calls.append(folder)
        (folder / "data.csv").write_text("1,2,3\n")

    return write


def test_simulates_once_then_reuses(tmp_path: Path) -> None:
    calls: list[Path] = []
    logs: list[str] = []
    where = {"version": 1, "cache_dir": tmp_path, "log": logs.append}
    first = cached_simulation("atm", {"n": 3, "seed": 0}, _writer(calls), **where)
    again = cached_simulation("atm", {"seed": 0, "n": 3}, _writer(calls), **where)
    assert first == again and len(calls) == 1 and (first / "data.csv").read_text() == "1,2,3\n"
    assert first.parent == tmp_path and first.name.startswith("atm-") and (first / "simulation.json").is_file()
    assert "simulated atm data" in logs[0] and logs[1].startswith("reusing the cached simulation")
    other = cached_simulation("atm", {"n": 4, "seed": 0}, _writer(calls), **where)
    assert other != first and len(calls) == 2


def test_a_failed_simulation_leaves_nothing(tmp_path: Path) -> None:
    def broken(folder: Path) -> None:
        (folder / "half.csv").write_text("1,")
        raise RuntimeError("simulator failed")

    with pytest.raises(RuntimeError, match="simulator failed"):
        cached_simulation("brats", {"n": 1}, broken, version=1, cache_dir=tmp_path, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []
    calls: list[Path] = []
    folder = cached_simulation("brats", {"n": 1}, _writer(calls), version=1, cache_dir=tmp_path, log=lambda m: None)
    assert len(calls) == 1 and sorted(p.name for p in folder.iterdir()) == ["data.csv", "simulation.json"]


def test_an_incomplete_folder_is_simulated_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    folder = cached_simulation("x", {"a": 1}, _writer(calls), version=1, cache_dir=tmp_path, log=lambda m: None)
    (folder / "simulation.json").unlink()  # e.g. written by an older, non-atomic writer and interrupted
    cached_simulation("x", {"a": 1}, _writer(calls), version=1, cache_dir=tmp_path, log=lambda m: None)
    assert len(calls) == 2 and (folder / "simulation.json").is_file()


def test_default_cache_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "simulations"
    calls: list[Path] = []
    folder = cached_simulation("demo", {"k": 1}, _writer(calls), version=1, log=lambda m: None)
    assert folder.parent == tmp_path / "c" / "simulations"


def test_a_new_simulator_version_simulates_again(tmp_path: Path) -> None:
    calls: list[Path] = []
    old = cached_simulation("atm", {"n": 3}, _writer(calls), version=1, cache_dir=tmp_path, log=lambda m: None)
    new = cached_simulation("atm", {"n": 3}, _writer(calls), version=2, cache_dir=tmp_path, log=lambda m: None)
    assert old != new and len(calls) == 2
    assert '"version": "2"' in (new / "simulation.json").read_text()
