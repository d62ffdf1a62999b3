"""The published numbers the medical segmentation reports quote beside a run's own, and nowhere else.

Each is a :class:`~sciconv.kit.Published` record whose metric names are the run's (``dice_wt`` ..., Dice in [0, 1]);
a task turns it into a report row marked published with ``record.row()``. They are scores on real data with the
paper's full schedule, so on simulated data they show the scale of the numbers, not a comparison.
"""

from __future__ import annotations

from sciconv.kit import Published

SWIN_UNETR_BRATS21 = Published(
    method="Swin UNETR, BraTS 2021 validation (published)",
    metrics={"dice_wt": 0.926, "dice_tc": 0.885, "dice_et": 0.858},
    source="Hatamizadeh et al. 2022 (BrainLes, arXiv:2201.01266), 219 BraTS 2021 validation cases",
    note="real scans; trained on the 1251 BraTS 2021 training cases with the full schedule",
)
"""Swin UNETR's mean Dice per region (WT, TC, ET) on the BraTS 2021 validation set (Hatamizadeh et al. 2022)."""

HYBRIDGNET_JSRT = Published(
    method="HybridGNet (2 IGSC), JSRT",
    metrics={"dice_lungs": 0.974, "dice_heart": 0.933},
    source="Gaggion et al., IEEE TMI 2022, JSRT test images (clean), 1024 px",
    note="two image-to-graph skip connections; clean JSRT test images at 1024 px",
)
"""HybridGNet's (2 IGSC) mean Dice of the lungs and the heart on clean JSRT test images (Gaggion et al. 2022)."""

BRATS_TASK: tuple[Published, ...] = (SWIN_UNETR_BRATS21,)
"""The published rows of ``medseg.brats-segmentation``'s report."""

CHEST_TASK: tuple[Published, ...] = (HYBRIDGNET_JSRT,)
"""The published rows of ``medseg.chest-anatomy``'s report."""

__all__ = ["BRATS_TASK", "CHEST_TASK", "HYBRIDGNET_JSRT", "SWIN_UNETR_BRATS21"]
