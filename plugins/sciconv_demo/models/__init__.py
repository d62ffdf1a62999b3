"""The demo's models, one per module: :class:`CNN1d` (registered as ``demo.cnn1d``)."""

from __future__ import annotations

from sciconv_demo.models.cnn1d import CNN1d

__all__ = ["CNN1d"]
