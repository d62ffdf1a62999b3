"""The plugin's models, one per module: :mod:`~sciconv_omics_sguq.models.mogonet` (MOGONET's networks and the
registered ``omics-sguq.mogonet`` component, :class:`MOGONETNet`)."""

from __future__ import annotations

from sciconv_omics_sguq.models.mogonet import MOGONET, VCDN, DropoutMasks, GCNEncoder, MOGONETNet

__all__ = ["MOGONET", "VCDN", "DropoutMasks", "GCNEncoder", "MOGONETNet"]
