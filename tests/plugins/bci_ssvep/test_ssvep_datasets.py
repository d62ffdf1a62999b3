"""The dataset components: the simulated Benchmark through the simulation cache, and the components' names."""

from __future__ import annotations

import dataclasses
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


def test_the_locked_default_keeps_its_cache_key() -> None:
    from sciconv_bci_ssvep.ssvep_simulator import SSVEPPhysics

    params = SimulatedBenchmarkDataset(n_subjects=2, n_blocks=3, seed=4).simulation_params()
    assert params == {
        "n_subjects": 2,
        "n_blocks": 3,
        "n_targets": 40,
        "seed": 4,
        "snr_db": DEFAULT_SNR_DB,
        "physics": dataclasses.asdict(SSVEPPhysics()),
    }
    locked = SimulatedBenchmarkDataset(n_subjects=2, n_blocks=3, seed=4, phase_locking="locked", phase_drift_hz=0.3)
    assert locked.simulation_params() == params  # the drift is unused when locked: not part of the key
    free = SimulatedBenchmarkDataset(n_subjects=2, n_blocks=3, seed=4, phase_locking="free", phase_drift_hz=0.1)
    assert free.simulation_params() == {
        **params,
        "phase_locking": "free",
        "phase_drift_hz": 0.1,
        "phase_drift_time": 1.0,
    }


def test_free_phase_locking_is_simulated_into_a_cache_folder_of_its_own(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    bundle = SimulatedBenchmarkDataset(
        n_subjects=1, n_blocks=2, seed=5, phase_locking="free", cache_dir=str(cache)
    ).load()
    assert bundle.info["recording"].name == "simulated-benchmark-free"
    assert bundle.spec.extra["dataset"] == "simulated-benchmark-free"
    folder = next(cache.iterdir())
    record = json.loads((folder / "simulation.json").read_text())
    assert record["params"]["phase_locking"] == "free" and record["params"]["phase_drift_hz"] == 0.05
    # the same data as simulating with the simulator's own free mode and reading it back
    simulate_benchmark(tmp_path / "direct", n_subjects=1, seed=5, n_blocks=2, phase_locking="free")
    direct = read_benchmark(tmp_path / "direct")
    expected = (direct.epochs.get_data(copy=False) * 1e6).astype(np.float32)
    np.testing.assert_array_equal(bundle.train.tensors[0].numpy(), expected)
    assert bundle.spec.input_shape == (9, 1500) and len(bundle.train) == 80


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"phase_locking": "loose"}, r"dataset\.params\.phase_locking must be one of locked, free"),
        ({"phase_locking": "free", "phase_drift_hz": -1.0}, r"dataset\.params\.phase_drift_hz must be .* >= 0"),
    ],
)
def test_bad_phase_parameters_are_refused_before_simulating(params: dict, message: str, tmp_path: Path) -> None:
    dataset = SimulatedBenchmarkDataset(n_subjects=1, n_blocks=2, cache_dir=str(tmp_path), **params)
    with pytest.raises(ConfigError, match=message):
        dataset.validate()
    with pytest.raises(ConfigError, match=message):
        dataset.load()
    assert not any(tmp_path.iterdir())
    # a pipeline's overrides are checked against the signature before anything runs
    with pytest.raises(ConfigError, match=r"dataset\.params\.phase_"):
        sciconv.load_pipeline("bci-ssvep", {f"dataset.params.{k}": v for k, v in params.items()})


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
