"""Markdown tables for reports, from rows of values.

``markdown_table([{"method": "DNN", "acc": 0.91}, ...])`` gives a GitHub-flavoured table whose columns are the
rows' keys in first-seen order (or ``columns``); numbers are shown with
:func:`~sciconv.report.format_number` unless they are already strings, and a missing cell is blank. Use it
for every table a task writes into ``report.md`` besides the run's own results table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sciconv.report import format_number


def _cell(value: Any) -> str:
    return format_number(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *, empty: str = "_(no rows)_"
) -> str:
    """A markdown table (ending with a newline) of ``rows``; ``empty`` when there are none."""
    if not rows:
        return empty + "\n"
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            for key in row:
                seen.setdefault(key, None)
        columns = list(seen)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[c]) if c in row else "" for c in columns) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["markdown_table"]
