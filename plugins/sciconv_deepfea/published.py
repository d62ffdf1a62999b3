"""The published claims the deepfea reports quote, and nowhere else.

Triantafyllou, Kalozoumis, Dimas and Iakovidis, "DeepFEA: Deep learning for prediction of transient finite element
analysis solutions", Expert Systems with Applications 269 (2025), arXiv 2412.04121.
"""

from __future__ import annotations

from sciconv.kit import Published

_SOURCE = "Triantafyllou et al. 2025 (arXiv 2412.04121), 2D and 3D datasets"

CLAIMS = (Published("DeepFEA NEP net (published: errors below)", {"node NRMSE": 0.03, "element NRMSE": 0.03}, _SOURCE),)

NOTE = (
    "The paper reports normalised mean and RMS errors below 3 % for nodes and elements on its 2D and 3D datasets, "
    "and inference about two orders of magnitude faster than the finite element analysis it replaces. Quoted, not "
    "measured: the published row gives the 3 % bound, not a measured error; its normalisation is not spelled out "
    "in what we could retrieve, and ours (displacement range for nodes) is stated in the task."
)
