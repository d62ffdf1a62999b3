"""Published numbers, quoted beside a run's own.

Each plugin keeps the numbers of the paper it reproduces (and of the field's baselines) in its own
``published.py`` as :class:`Published` records, and nowhere else; a task turns the ones that apply into
report rows with :meth:`Published.row`, which marks them as published so the report never mixes them up
with what the run measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sciconv.components import ResultRow


@dataclass(frozen=True)
class Published:
    """One published result: ``method`` scored ``metrics`` (the run's metric names and units) in ``source``
    (a citation: authors, venue, year, table), with an optional ``note`` on how it differs from the run."""

    method: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    note: str = ""

    def row(self, method: str | None = None, **renamed: str) -> ResultRow:
        """A :class:`~sciconv.components.ResultRow` marked published. ``renamed`` maps this record's metric
        names to the table's (``acc="accuracy (%)"``); ``method`` overrides the row's label."""
        metrics = {renamed.get(k, k): float(v) for k, v in self.metrics.items()}
        return ResultRow(method or self.method, metrics, source=self.source, published=True)


__all__ = ["Published"]
