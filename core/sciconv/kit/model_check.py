"""A network of the user's own, checked against what a task needs before any training.

``check_model_output(model, example, expected, needs=...)`` runs ``model`` once on ``example`` in evaluation mode
without gradients (no batch statistics change, no random numbers drawn; the model's mode is restored) and turns a
failure, or an output that is not a tensor of one of the ``expected`` shapes, into one :class:`ConfigError` line
that says what the task needs. Tasks call it for a pipeline model that is not the registered one
(``ctx.own_model_name()``), so that a wrong network fails in a second with a message, not an hour later with a
traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sciconv.errors import ConfigError


def check_model_output(model: Any, example: Any, expected: Sequence[tuple[int, ...]], *, needs: str) -> None:
    """Refuse ``model`` unless ``model(example)`` returns a tensor whose shape is one of ``expected``.

    Args:
        model: a ``torch.nn.Module``, already on ``example``'s device.
        example: one input batch, as the task will feed it.
        expected: the acceptable output shapes for that batch (e.g. ``[(2, 1), (2,)]``).
        needs: what the task needs, one clause naming the model (``"model MyNet (the pipeline's model) must map
            point clouds (B, 3, N) to (B, 1)"``); the message adds what was given and what came back.

    Raises:
        ConfigError: the call raised (its error is chained), or the output is not a tensor of an expected shape.
    """
    import torch

    given = tuple(example.shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(example)
    except Exception as exc:  # the user's code: any failure on a well-formed input is a configuration error
        raise ConfigError(f"{needs}; an input of shape {given} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        model.train(was_training)
    got: Any = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got not in [tuple(shape) for shape in expected]:
        wanted = " or ".join(str(tuple(shape)) for shape in expected)
        raise ConfigError(f"{needs}; for an input of shape {given} it returned {got}, not {wanted}")


__all__ = ["check_model_output"]
