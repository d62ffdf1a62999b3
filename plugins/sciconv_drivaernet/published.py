"""The published numbers the drivaernet reports quote, and nowhere else.

- DrivAerNet v1 (Elrefaie, Dai & Ahmed, "DrivAerNet: A Parametric Car Dataset for Data-Driven Aerodynamic Design
  and Graph-Based Drag Prediction", ASME IDETC 2024; arXiv 2403.08055): RegDGCNN on the 4000 fastback designs'
  test split, R² about 0.9.
- DrivAerNet++ (Elrefaie, Morar, Dai & Ahmed, NeurIPS 2024 Datasets and Benchmarks; arXiv 2406.09624), Table 4:
  drag of 8000 designs of three families on the ++ split; and the later TripNet (R² 0.957) on the same split. An
  ordinary least squares fit on the 23 design parameters reaches R² 0.737 on the ++ test split.

Never mix the two datasets' numbers: they are different data and splits.
"""

from __future__ import annotations

from sciconv.kit import Published

_V1 = "Elrefaie, Dai & Ahmed 2024 (DrivAerNet v1), test split"
_PLUS = "Elrefaie et al. 2024 (DrivAerNet++, Table 4), test split"

DRIVAERNET_V1 = (Published("RegDGCNN (published, DrivAerNet v1)", {"r2": 0.9}, _V1, note="R² about 0.9"),)

DRIVAERNET_PLUS = (
    Published("RegDGCNN (published, DrivAerNet++)", {"r2": 0.641, "mse": 14.2e-5, "mae": 9.31e-3}, _PLUS),
    Published("PointNet (published, DrivAerNet++)", {"r2": 0.643}, _PLUS),
    Published("GCNN (published, DrivAerNet++)", {"r2": 0.596}, _PLUS),
    Published("TripNet (published later, DrivAerNet++)", {"r2": 0.957}, "TripNet (2025) on the DrivAerNet++ split"),
    Published("least squares on 23 design parameters (DrivAerNet++)", {"r2": 0.737}, _PLUS),
)

NOTE = (
    "Published numbers are quoted, not measured here. DrivAerNet v1 (4000 fastback designs, split 2800 / 600 / 600): "
    "RegDGCNN reaches R² about 0.9. DrivAerNet++ (8000 designs of the estateback, fastback and notchback families, "
    "detailed and smooth underbodies, open and closed wheels), Table 4: RegDGCNN R² 0.641 (MSE 14.2e-5, MAE "
    "9.31e-3), PointNet 0.643, GCNN 0.596; TripNet later 0.957; least squares on the 23 design parameters 0.737. The "
    "two datasets' numbers are not comparable with each other, and neither is comparable with a run on simulated "
    "bodies, whose drag comes from a physics proxy, not from CFD."
)
