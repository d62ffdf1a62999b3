"""Hook module of the ECG plugin (entry point ``ecg = "sciconv_ecg.plugin"`` in group ``sciconv``).

It only names things: every component is a lazy ``"module:attr"`` reference, imported on first use,
so that ``pipeline list`` and ``pipeline plugins`` import neither torch, numpy nor scipy.
"""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("ecg.beats", "sciconv_ecg.dataset:EcgBeatDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("ecg.beat-cnn", "sciconv_ecg.models.beat_cnn:BeatCNN")


@hookimpl
def register_tasks(register: Register) -> None:
    register("ecg.beat-classification", "sciconv_ecg.task:BeatClassificationTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("ecg-beats", "sciconv_ecg.pipelines:ecg-beats.yaml")
