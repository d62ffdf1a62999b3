"""Hook module of the multi-omics SGUQ plugin: names and lazy references only (no torch, numpy or anndata)."""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("omics.mogonet", "sciconv_omics_sguq.datasets:MOGONETDataset")
    register("omics.simulated-cohort", "sciconv_omics_sguq.datasets:SimulatedCohortDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("sguq.mogonet", "sciconv_omics_sguq.sguq_task:MOGONETNet")


@hookimpl
def register_tasks(register: Register) -> None:
    register("sguq.staged", "sciconv_omics_sguq.sguq_task:StagedSGUQTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("omics-sguq", "sciconv.pipelines:omics-sguq.yaml")
    register("omics-sguq-rosmap", "sciconv.pipelines:omics-sguq-rosmap.yaml")
