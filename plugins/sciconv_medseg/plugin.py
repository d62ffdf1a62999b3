"""Hook module of the medical segmentation plugin: names and lazy references only (no torch, MONAI or nibabel).

Work in progress (issue 7): the data layer (readers and simulators) is in place; models, tasks and pipelines are
registered here as they land."""

from __future__ import annotations
