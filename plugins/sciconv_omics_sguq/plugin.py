"""Hook module of the multi-omics SGUQ plugin: names and lazy references only (no torch, numpy or anndata).

Component names are ``omics-sguq.<kebab-case>``; the names before issue 16 (``omics.mogonet``,
``omics.simulated-cohort``, ``sguq.mogonet``, ``sguq.staged``) still resolve, as deprecated aliases.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

# A few seconds end to end: tiny cohort or schedule, two members per stage, the fixed split only.
_TINY_SCHEDULE: dict[str, Any] = {
    "task.params.n_models": 2,
    "task.params.n_splits": 0,
    "task.params.epochs_pretrain": 5,
    "task.params.epochs": 10,
    "model.params.hidden": [16, 16, 8],
    "parallel.n_jobs": 1,
}
TINY: dict[str, dict[str, Any]] = {
    "omics-sguq": {
        **_TINY_SCHEDULE,
        "dataset.params.n_train": 40,
        "dataset.params.n_test": 20,
        "dataset.params.n_features": 12,
    },
    # the real-data pipeline: dataset.params.root comes from the caller
    "omics-sguq-rosmap": dict(_TINY_SCHEDULE),
}


@hookimpl
def register_datasets(register: Register) -> None:
    register("omics-sguq.mogonet-layout", "sciconv_omics_sguq.datasets:MOGONETDataset", aliases=("omics.mogonet",))
    register(
        "omics-sguq.simulated-cohort",
        "sciconv_omics_sguq.datasets:SimulatedCohortDataset",
        aliases=("omics.simulated-cohort",),
    )


@hookimpl
def register_models(register: Register) -> None:
    register("omics-sguq.mogonet", "sciconv_omics_sguq.models.mogonet:MOGONETNet", aliases=("sguq.mogonet",))


@hookimpl
def register_tasks(register: Register) -> None:
    register("omics-sguq.staged", "sciconv_omics_sguq.sguq_task:StagedSGUQTask", aliases=("sguq.staged",))


@hookimpl
def register_pipelines(register: Register) -> None:
    for name in ("omics-sguq", "omics-sguq-rosmap"):
        register(name, f"sciconv.pipelines:{name}.yaml", tiny=TINY[name])
