"""shown_items: the first few of many items, and how many in all."""

from __future__ import annotations

from sciconv.kit import shown_items


def test_few_items_are_all_named() -> None:
    assert shown_items(["a", "b"]) == "a, b"
    assert shown_items([]) == ""


def test_many_items_are_cut_with_the_count() -> None:
    assert shown_items(list(range(12))) == "0, 1, 2, 3, 4, ... (12 in all)"
    assert shown_items(list("abcd"), limit=2) == "a, b, ... (4 in all)"
