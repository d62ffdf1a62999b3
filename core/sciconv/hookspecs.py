"""The hooks a sciconv plugin implements.

Each hook receives a ``register`` callback and calls it once per contribution::

    from sciconv import hookimpl

    @hookimpl
    def register_models(register):
        register("ecg.beat-cnn", "sciconv_ecg.models.beat_cnn:BeatCNN")

The second argument is a lazy ``"module:attr"`` reference (imported on first use, so that listing
plugins stays fast) or, for plugins defined in-process such as tests, the object itself. Datasets, models
and tasks are named ``<namespace>.<kebab-case>``; a renamed contribution keeps its old names working as
deprecated aliases::

    register("ecg.beat-cnn", "sciconv_ecg.models.beat_cnn:BeatCNN", aliases=("ecg.beat_cnn",))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "sciconv"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[..., None]
"""``register(name, ref, *, aliases=(), tiny=None)``: the callback each hook receives.

``name``: ``"<namespace>.<kebab-case>"`` for datasets, models and tasks (``"ecg.beat-cnn"``); lower-case
letters, digits, ``-`` and ``_`` for pipelines and conv backends. ``ref``: ``"module:attr"`` (a pipeline:
``"package:file.yaml"`` or a :class:`pathlib.Path`), or the object itself. ``aliases``: old names of a
renamed contribution; looking one up gives this entry with a
:class:`~sciconv.registry.DeprecatedNameWarning` (``'old' is deprecated; use 'new'``), a run saves the new
name in its ``config.yaml``, and aliases are not listed. An alias another plugin also claims, or that is a
registered name, is an error naming both plugins. ``tiny`` (pipelines only): overrides, dotted keys to
values, that run the pipeline end to end in seconds; :func:`sciconv.testing.check_plugin` runs every
pipeline with them, twice, and checks that the same seed gives the same metrics.
"""


@hookspec
def register_datasets(register: Register) -> Any:
    """Contribute datasets: ``register("ns.name", "module:Class")``.

    A dataset is a callable taking keyword parameters (from ``dataset.params``) and returning an
    object whose ``load()`` gives a :class:`sciconv.components.DataBundle`.
    """


@hookspec
def register_models(register: Register) -> Any:
    """Contribute models: ``register("ns.name", "module:factory")``.

    A model is a callable ``factory(spec: DataSpec, **params) -> torch.nn.Module``.
    """


@hookspec
def register_tasks(register: Register) -> Any:
    """Contribute tasks: ``register("ns.name", "module:Class")``.

    A task is a callable taking keyword parameters (from ``task.params``) and returning an object with
    ``run(ctx: RunContext) -> TaskResult``.
    """


@hookspec
def register_pipelines(register: Register) -> Any:
    """Contribute runnable pipelines: ``register("name", "package:file.yaml", tiny={"train.epochs": 1})``.

    The reference names a YAML file shipped inside an importable package (read with
    ``importlib.resources``), or is a :class:`pathlib.Path`.
    """


@hookspec
def register_conv_backends(register: Register) -> Any:
    """Contribute convolution backends: ``register("name", "module:attr")``.

    A backend is an object exposing ``conv1d``, ``conv2d`` and ``conv3d`` with the signatures of
    ``torch.nn.functional``'s.
    """


HOOK_KINDS: dict[str, str] = {
    "register_datasets": "datasets",
    "register_models": "models",
    "register_tasks": "tasks",
    "register_pipelines": "pipelines",
    "register_conv_backends": "conv_backends",
}
"""Hook name -> registry kind it fills."""
