"""The hooks a sciconv plugin implements.

Each hook receives a ``register`` callback and calls it once per contribution::

    from sciconv import hookimpl

    @hookimpl
    def register_models(register):
        register("ecg.beat-cnn", "sciconv_ecg.models:BeatCNN")

The second argument is a lazy ``"module:attr"`` reference (imported on first use, so that listing
plugins stays fast) or, for plugins defined in-process such as tests, the object itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "sciconv"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[..., None]
"""``register(name, ref)``: the callback each hook receives."""


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
    """Contribute runnable pipelines: ``register("name", "package:file.yaml")``.

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
