"""Message helpers for the errors and warnings readers raise: one way to name a few of many items."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN = 5  # items named in a message before the count


def shown_items(items: Sequence[object], limit: int = SHOWN) -> str:
    """The first ``limit`` items joined by commas, then how many there are in all when there are more:
    ``"a, b, c, d, e, ... (12 in all)"``."""
    text = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        text += f", ... ({len(items)} in all)"
    return text


__all__ = ["SHOWN", "shown_items"]
