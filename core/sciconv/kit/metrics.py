"""Metrics that several fields share, computed on a whole split (outputs and targets on the CPU)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of samples whose arg-max output is the target class. ``outputs``: (N, C) scores;
    ``targets``: (N,) class indices."""
    return float((outputs.argmax(dim=1) == targets).float().mean().item())


__all__ = ["accuracy"]
