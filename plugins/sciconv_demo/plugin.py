"""Hook module of the demo plugin: names only, nothing heavy imported."""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("demo.oscillations", "sciconv_demo.datasets:OscillationDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("demo.cnn1d", "sciconv_demo.models.cnn1d:CNN1d")


@hookimpl
def register_tasks(register: Register) -> None:
    register("demo.classify", "sciconv_demo.classify_task:ClassificationTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register(
        "demo-signal",
        "sciconv.pipelines:demo-signal.yaml",
        tiny={"train.epochs": 1, "dataset.params.n_trials": 60},
    )
