"""Published results on ROSMAP (AD vs normal control), quoted in reports for comparison.

Every number is a fraction (accuracy, F1, AUC, share of the test samples). They were measured on MOGONET's
preprocessed ROSMAP folder (245 training and 106 test samples, mRNA, DNA methylation and miRNA, 200 features
each), not by a sciconv run; a report labels them *published*. This module is the only place they live.
"""

from __future__ import annotations

from sciconv.kit import Published

MOGONET_CITATION = "Wang et al., Nat Commun 12, 3445 (2021), Table 2"
SGUQ_CITATION = "Tao et al., SGUQ, arXiv:2410.11046 (2024)"
SGUQ_CODE = "github.com/chenzhao2023/multiomicsuncertainty"

# MOGONET (all three omics, one model) on ROSMAP: the mean over its repeated experiments.
MOGONET_ROSMAP: dict[str, float] = {"acc": 0.815, "f1": 0.821, "auc": 0.874}

# SGUQ on ROSMAP, as the abstract states: staged accuracy, and the shares of test samples decided with mRNA
# alone (stage 1) and additionally with mRNA + methylation (stage 2); the rest needed all three omics.
SGUQ_ROSMAP_ACC = 0.858
SGUQ_ROSMAP_DECIDED_STAGE1 = 0.4623
SGUQ_ROSMAP_DECIDED_STAGE2 = 0.1604

# The staged accuracy the official code reaches when the uncertainty thresholds are chosen on the test set
# itself (its protocol: the ensembles are trained on the full training set and the thresholds searched on the
# test samples); a test-tuned, optimistic number.
SGUQ_CODE_TEST_TUNED_ACC = 0.877

ROSMAP: tuple[Published, ...] = (
    Published("MOGONET, ROSMAP", dict(MOGONET_ROSMAP), MOGONET_CITATION),
    Published(
        "SGUQ staged, ROSMAP",
        {
            "acc": SGUQ_ROSMAP_ACC,
            "decided_stage1": SGUQ_ROSMAP_DECIDED_STAGE1,
            "decided_stage2": SGUQ_ROSMAP_DECIDED_STAGE2,
            "decided_stage3": 1.0 - SGUQ_ROSMAP_DECIDED_STAGE1 - SGUQ_ROSMAP_DECIDED_STAGE2,
        },
        SGUQ_CITATION + ", abstract",
    ),
    Published(
        "SGUQ staged, ROSMAP, thresholds tuned on the test set",
        {"acc": SGUQ_CODE_TEST_TUNED_ACC},
        f"{SGUQ_CITATION}, official code ({SGUQ_CODE})",
        note="thresholds chosen on the test set: optimistic",
    ),
)
"""The published numbers a report on ROSMAP (or on the ROSMAP-like simulated cohort) quotes; metric names as
in ``metrics.json`` (``acc``, ``f1``, ``auc``, ``decided_stage<s>``)."""


def reference(name: str) -> tuple[Published, ...]:
    """The published records for ``name`` (``"rosmap"``); none for any other value."""
    return ROSMAP if name == "rosmap" else ()
