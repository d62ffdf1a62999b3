"""The dataset components: the simulated Benchmark through the simulation cache, and the components' names."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import sciconv
from sciconv.errors import ConfigError
from sciconv.registry import DeprecatedNameWarning, get_registry
from sciconv_bci_ssvep.datasets import SimulatedBenchmarkDataset
from sciconv_bci_ssvep.mat_io import read_benchmark
from sciconv_bci_ssvep.ssvep_simulator import DEFAULT_SNR_DB, simulate_benchmark


def _trials(dataset: SimulatedBenchmarkDataset) -> np.ndarray:
    return dataset.load().train.tensors[0].numpy()


def test_simulated_subjects_are_cached_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path / "cache"))
    dataset = SimulatedBenchmarkDataset(n_subjects=1, n_blocks=2, seed=5)
    first = _trials(dataset)
    folders = list((tmp_path / "cache" / "simulations").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("ssvep-benchmark-")
    assert sorted(p.name for p in folders[0].iterdir()) == ["Freq_Phase.mat", "S1.mat", "simulation.json"]
    record = json.loads((folders[0] / "simulation.json").read_text())
    assert record["params"]["seed"] == 5 and record["params"]["snr_db"] == DEFAULT_SNR_DB
    assert "simulated ssvep-benchmark data into the cache" in capsys.readouterr().err

    stamp = (folders[0] / "S1.mat").stat().st_mtime_ns
    again = _trials(SimulatedBenchmarkDataset(n_subjects=1, n_blocks=2, seed=5))
    assert f"reusing the cached simulation {folders[0]}" in capsys.readouterr().err
    assert (folders[0] / "S1.mat").stat().st_mtime_ns == stamp  # not written again
    np.testing.assert_array_equal(again, first)

    # The same data as simulating into a folder of one's own and reading it back (what the dataset did before).
    simulate_benchmark(tmp_path / "direct", n_subjects=1, seed=5, n_blocks=2)
    direct = read_benchmark(tmp_path / "direct")
    np.testing.assert_array_equal(first, (direct.epochs.get_data(copy=False) * 1e6).astype(np.float32))

    # Other parameters: another folder.
    _trials(SimulatedBenchmarkDataset(n_subjects=1, n_blocks=2, seed=6))
    assert len(list((tmp_path / "cache" / "simulations").iterdir())) == 2


def test_cache_dir_puts_the_cache_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path / "default"))
    bundle = SimulatedBenchmarkDataset(n_subjects=1, n_blocks=2, cache_dir=str(tmp_path / "mine")).load()
    assert bundle.info["recording"].name == "simulated-benchmark"
    assert [p.name[:16] for p in (tmp_path / "mine").iterdir()] == ["ssvep-benchmark-"]
    assert not (tmp_path / "default").exists()


def test_out_dir_is_refused_with_what_to_give_instead(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.params\.out_dir: no longer accepted.*dataset\.params\.cache_dir"):
        sciconv.load_pipeline("bci-ssvep", {"dataset.params.out_dir": str(tmp_path)})
    assert not any(tmp_path.iterdir())


OLD_NAMES = {
    ("datasets", "ssvep.benchmark"): "bci-ssvep.benchmark",
    ("datasets", "ssvep.beta"): "bci-ssvep.beta",
    ("datasets", "ssvep.simulated-benchmark"): "bci-ssvep.simulated-benchmark",
    ("datasets", "ssvep.mne-recordings"): "bci-ssvep.mne-recordings",
    ("models", "ssvep.guney-dnn"): "bci-ssvep.guney-dnn",
    ("tasks", "ssvep.speller"): "bci-ssvep.speller",
}


@pytest.mark.parametrize(("kind", "old"), sorted(OLD_NAMES))
def test_old_names_still_resolve_with_a_deprecation_warning(kind: str, old: str) -> None:
    registry = get_registry()
    with pytest.warns(DeprecatedNameWarning, match=rf"'{old}' is deprecated; use '{OLD_NAMES[kind, old]}'"):
        entry = registry.entry(kind, old)
    assert entry.name == OLD_NAMES[kind, old] and entry.plugin == "bci-ssvep"
    assert old not in registry.names(kind)


def test_a_pipeline_written_with_the_old_names_still_loads() -> None:
    old = {"task.name": "ssvep.speller", "dataset.name": "ssvep.simulated-benchmark", "model.name": "ssvep.guney-dnn"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe = sciconv.load_pipeline("bci-ssvep", old)
    assert sum(issubclass(w.category, DeprecatedNameWarning) for w in caught) >= 3
    assert pipe.config.model.params == {} and pipe.config.dataset.params["n_subjects"] == 8
