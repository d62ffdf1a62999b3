"""The published numbers the uatr reports quote, and nowhere else.

Xie, Ren and Xu, "Unraveling complex data diversity in underwater acoustic target recognition through
convolution-based mixture of experts", Expert Systems with Applications 2024 (arXiv 2402.11919): ShipsEar 9-class
task on the recording-level split of Xu, Xie and Wang (Ocean Engineering 2023; 64 train / 21 test recordings),
accuracy of 30 s segments.
"""

from __future__ import annotations

from sciconv.kit import Published

_SOURCE = "Xie, Ren & Xu 2024 (arXiv 2402.11919), ShipsEar 9 classes, 30 s segments"

SHIPSEAR_9CLASS = (
    Published("CMoE (published)", {"acc": 0.8621}, _SOURCE),
    Published("M3-TSE (published, SD 0.0243; quoted by the CMoE paper)", {"acc": 0.8707}, _SOURCE),
)

SHIPSEAR_NOTE = (
    "The CMoE paper reports 86.21 % segment accuracy on ShipsEar's 9-class recording-level split (its released "
    "confusion matrix: 117 test segments of 30 s, 101 correct; Oceanliner the weak class), against 87.07 ± 2.43 % "
    "for M3-TSE. These are quoted, not measured here: ShipsEar is distributed on request, so this run's numbers are "
    "comparable only when it ran on the real ShipsEar folder with the same split."
)
