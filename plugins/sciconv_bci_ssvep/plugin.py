"""Hook module of the SSVEP plugin: names and lazy references only (no torch, numpy or MNE imported)."""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("ssvep.benchmark", "sciconv_bci_ssvep.datasets:BenchmarkDataset")
    register("ssvep.beta", "sciconv_bci_ssvep.datasets:BetaDataset")
    register("ssvep.simulated-benchmark", "sciconv_bci_ssvep.datasets:SimulatedBenchmarkDataset")
    register("ssvep.mne-recordings", "sciconv_bci_ssvep.datasets:MNERecordingsDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("ssvep.guney-dnn", "sciconv_bci_ssvep.guney_dnn:GuneyDNN")


@hookimpl
def register_tasks(register: Register) -> None:
    register("ssvep.speller", "sciconv_bci_ssvep.speller_task:SpellerTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("bci-ssvep", "sciconv.pipelines:bci-ssvep.yaml")
    register("bci-ssvep-exo", "sciconv.pipelines:bci-ssvep-exo.yaml")
    register("bci-ssvep-benchmark", "sciconv.pipelines:bci-ssvep-benchmark.yaml")
    register("bci-ssvep-beta", "sciconv.pipelines:bci-ssvep-beta.yaml")
