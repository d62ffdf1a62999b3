"""The SSVEP plugin's models, one per module: :class:`GuneyDNN` (registered as ``bci-ssvep.guney-dnn``)."""

from __future__ import annotations

from sciconv_bci_ssvep.models.guney_dnn import GuneyDNN

__all__ = ["GuneyDNN"]
