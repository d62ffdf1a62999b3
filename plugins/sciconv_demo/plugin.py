"""Hook module of the demo plugin: names only, nothing heavy imported."""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("demo.oscillations", "sciconv_demo.oscillations:OscillationDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("demo.cnn1d", "sciconv_demo.cnn1d:CNN1d")


@hookimpl
def register_tasks(register: Register) -> None:
    register("demo.classify", "sciconv_demo.classify:ClassificationTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("demo-signal", "sciconv.pipelines:demo-signal.yaml")
