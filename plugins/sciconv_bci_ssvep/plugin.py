"""Hook module of the SSVEP plugin: names and lazy references only (no torch, numpy or MNE imported).

Components are named ``bci-ssvep.<name>``; the names of earlier releases (``ssvep.<name>``) still resolve,
with a deprecation warning. Each pipeline declares a ``tiny`` override set that runs it end to end in
seconds (the conformance kit's smoke runs); the real-data pipelines get their ``dataset.params.root`` from
whoever runs them.
"""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register

# One fold, one short window, one epoch per stage, in this process.
_TINY_PROTOCOL = {
    "task.params.test_blocks": [0],
    "task.params.stage2_epochs": 1,
    "train.epochs": 1,
    "train.progress": False,
    "parallel.n_jobs": 1,
}


@hookimpl
def register_datasets(register: Register) -> None:
    register("bci-ssvep.benchmark", "sciconv_bci_ssvep.datasets:BenchmarkDataset", aliases=("ssvep.benchmark",))
    register("bci-ssvep.beta", "sciconv_bci_ssvep.datasets:BetaDataset", aliases=("ssvep.beta",))
    register(
        "bci-ssvep.simulated-benchmark",
        "sciconv_bci_ssvep.datasets:SimulatedBenchmarkDataset",
        aliases=("ssvep.simulated-benchmark",),
    )
    register(
        "bci-ssvep.mne-recordings",
        "sciconv_bci_ssvep.datasets:MNERecordingsDataset",
        aliases=("ssvep.mne-recordings",),
    )


@hookimpl
def register_models(register: Register) -> None:
    register("bci-ssvep.guney-dnn", "sciconv_bci_ssvep.models.guney_dnn:GuneyDNN", aliases=("ssvep.guney-dnn",))


@hookimpl
def register_tasks(register: Register) -> None:
    register("bci-ssvep.speller", "sciconv_bci_ssvep.speller_task:SpellerTask", aliases=("ssvep.speller",))


@hookimpl
def register_pipelines(register: Register) -> None:
    register(
        "bci-ssvep",
        "sciconv.pipelines:bci-ssvep.yaml",
        tiny={
            **_TINY_PROTOCOL,
            "dataset.params.n_subjects": 1,
            "dataset.params.n_blocks": 3,
            "task.params.windows": [0.3],
        },
    )
    register(
        "bci-ssvep-exo",
        "sciconv.pipelines:bci-ssvep-exo.yaml",
        tiny={**_TINY_PROTOCOL, "task.params.windows": [1.0]},
    )
    register(
        "bci-ssvep-benchmark",
        "sciconv.pipelines:bci-ssvep-benchmark.yaml",
        tiny={**_TINY_PROTOCOL, "dataset.params.subjects": [1], "task.params.windows": [0.2]},
    )
    register(
        "bci-ssvep-beta",
        "sciconv.pipelines:bci-ssvep-beta.yaml",
        tiny={**_TINY_PROTOCOL, "dataset.params.subjects": [1], "task.params.windows": [0.4]},
    )
