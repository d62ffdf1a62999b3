"""Hook module of the ECG plugin (entry point ``ecg = "sciconv_ecg.plugin"`` in group ``sciconv``).

It only names things: every component is a lazy ``"module:attr"`` reference, imported on first use,
so that ``pipeline list`` and ``pipeline plugins`` import neither torch, numpy nor scipy. The pipeline
declares a ``tiny`` override set that runs it end to end in a few seconds (the conformance kit's smoke
runs).
"""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register

TINY_ECG_BEATS = {"dataset.params.n_beats": 120, "train.epochs": 1, "train.progress": False}
"""120 beats (30 PVCs, at least 6 per split and class) and one epoch: a run of about a second."""


@hookimpl
def register_datasets(register: Register) -> None:
    register("ecg.beats", "sciconv_ecg.datasets:EcgBeatDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("ecg.beat-cnn", "sciconv_ecg.models.beat_cnn:BeatCNN")


@hookimpl
def register_tasks(register: Register) -> None:
    register("ecg.beat-classification", "sciconv_ecg.beat_task:BeatClassificationTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("ecg-beats", "sciconv_ecg.pipelines:ecg-beats.yaml", tiny=TINY_ECG_BEATS)
