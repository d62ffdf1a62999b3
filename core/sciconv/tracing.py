"""A pipeline's model and the convolutions it runs: what ``pipeline bench-conv PIPELINE`` measures.

:func:`pipeline_model` builds a pipeline's model as its task would; :func:`trace_pipeline` lists the
distinct convolution signatures that model runs (:func:`sciconv.conv.tuning.trace_model`). They load
pipelines, so they sit above :mod:`sciconv.pipeline`, while :mod:`sciconv.conv` (which the runner uses)
stays below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sciconv.errors import ConfigError
from sciconv.pipeline import load_pipeline

if TYPE_CHECKING:
    import torch

    from sciconv.conv.signature import ConvCall


def pipeline_model(target: str, overrides: Sequence[str] = ()) -> tuple[torch.nn.Module, Any, int]:
    """A pipeline's model as its task builds it: ``(model, spec, train.batch_size)``.

    Loads the pipeline's dataset and sizes the model from ``task.model_spec(dataset spec)`` (the dataset's
    spec when the task has no ``model_spec``); ``spec.input_shape`` is the shape of one model input.
    """
    pipe = load_pipeline(target, overrides)
    dataset, factory, params, task = pipe._build()
    bundle = dataset.load()
    spec = task.model_spec(bundle.spec) if callable(getattr(task, "model_spec", None)) else bundle.spec
    return factory(spec, **params), spec, pipe.config.train.batch_size


def trace_pipeline(target: str, overrides: Sequence[str] = (), batch_size: int | None = None) -> list[ConvCall]:
    """The distinct convolution signatures a pipeline's model runs, in ``train`` and ``infer`` mode.

    Builds the model as :func:`pipeline_model` does and runs one forward and backward pass (and one forward
    pass under ``no_grad``) on random input of the training batch size (``train.batch_size`` unless
    ``batch_size``). Only convolutions routed through :mod:`sciconv.conv` are seen.
    """
    import torch

    from sciconv.conv.tuning import trace_model

    model, spec, train_batch = pipeline_model(target, overrides)
    size = batch_size or train_batch
    x = torch.randn(size, *spec.input_shape)
    try:
        return trace_model(model, x)
    except Exception as exc:  # the model is a plugin's: report what failed
        raise ConfigError(
            f"pipeline {target!r}: could not trace its model on random input of shape {tuple(x.shape)}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


__all__ = ["pipeline_model", "trace_pipeline"]
