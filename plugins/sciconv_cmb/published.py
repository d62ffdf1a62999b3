"""What the inpainting report quotes from the SkyReconNet paper (and nowhere else in the plugin).

The paper's abstract (arXiv 2501.06139) gives no number that could be retrieved: its claim is qualitative, that
the inpainted maps and their angular power spectra match the targets within cosmic variance. The report sets the
claim beside the run's ``cl_bands_within_1sigma``.
"""

from __future__ import annotations

SKYRECONNET_SOURCE = "Sachin et al., arXiv 2501.06139 (abstract)"
"""The citation of the paper's claim."""

SKYRECONNET_CLAIM = (
    "Paper (arXiv 2501.06139, abstract): inpainted maps and their angular power spectra 'align closely with the "
    "targets, achieving the performance limited only by the fundamental uncertainty of cosmic variance'. The paper "
    "gives no number we could retrieve; it is a claim about C_l within cosmic variance, compared below with "
    "``cl_bands_within_1sigma``."
)
"""The claim, quoted for the report."""

SKYRECONNET_TABLE_CLAIM = "claimed: all (no number given)"
"""The claim in the results table's ``C_l bands within 1σ`` column."""

__all__ = ["SKYRECONNET_CLAIM", "SKYRECONNET_SOURCE", "SKYRECONNET_TABLE_CLAIM"]
