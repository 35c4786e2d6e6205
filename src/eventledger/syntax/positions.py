"""Where an offset stands: the one way the tool turns a character or byte offset into a line."""

from __future__ import annotations


def line_of(text: str | bytes, offset: int) -> int:
    """The 1-based line of offset in text (str counts code points, bytes counts bytes)."""
    newline: str | bytes = "\n" if isinstance(text, str) else b"\n"
    return text.count(newline, 0, offset) + 1  # type: ignore[arg-type]
