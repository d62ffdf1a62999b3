"""Figures for reports: matplotlib set up once (the Agg backend, no screen) and saved atomically.

``fig, axes = new_figure(1, 2, figsize=(10, 3.8))`` gives a figure and a 2-D array of axes (always 2-D, as
``squeeze=False``); :func:`~sciconv.report.save_figure` writes it as PNG under a temporary name, renames it
into place and closes it. Tasks make every figure this way, so none is half-written and none stays open.
"""

from __future__ import annotations

from typing import Any

from sciconv.report import save_figure


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs: Any
) -> tuple[Any, Any]:
    """``matplotlib.pyplot.subplots(nrows, ncols, squeeze=False, ...)`` on the Agg backend: ``(fig, axes)``
    with ``axes`` of shape ``(nrows, ncols)``. ``figsize`` is in inches."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, **kwargs)


__all__ = ["new_figure", "save_figure"]
