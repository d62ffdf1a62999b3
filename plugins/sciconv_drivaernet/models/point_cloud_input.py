"""What the drivaernet networks read: batches of point clouds ``(B, 3, N)`` (x, y, z of N points), and the checks
both networks make of their spec and input."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field

from sciconv.errors import DataError
from sciconv.spec import DataSpec

Widths = Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
"""A non-empty list of layer widths (a model parameter)."""


def check_point_cloud_spec(spec: DataSpec, what: str) -> int:
    """The number of points ``N`` of a point-cloud spec ``input_shape == (3, N)``; DataError naming ``what``
    otherwise."""
    shape = tuple(spec.input_shape)
    if len(shape) != 2 or shape[0] != 3:
        raise DataError(f"{what} reads point clouds of shape (3, N) (x, y, z coordinates of N points); got {shape}")
    return int(shape[1])


def check_points(x: torch.Tensor, what: str) -> None:
    """DataError naming ``what`` unless ``x`` is a batch of clouds ``(B, 3, N)``."""
    if x.ndim != 3 or x.shape[1] != 3:
        raise DataError(f"{what}: expected a batch of point clouds of shape (B, 3, N), got {tuple(x.shape)}")
