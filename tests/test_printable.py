"""printable, the one form in which a value from outside reaches a terminal or CHANGES.md."""

from __future__ import annotations

from eventledger.issues.excerpt import escape_char, is_invisible, printable


def _escaped(text: str) -> str:
    """The definition: each character a reader cannot see as itself escaped, the rest kept."""
    return "".join(escape_char(c) if is_invisible(c) else c for c in text)


def test_plain_text_passes_and_anything_else_is_escaped_as_defined() -> None:
    """printable passes plain ASCII through without looking at each character (CHANGES.md
    shows every id of a release: a million of them); every other character, alone or among
    plain text, comes out as the definition says."""
    others = ["\u00e9", "\u00a0", "\u200b", "\u202e", "\u2028", "\ud800", "\ufffe", "\U000e0001"]
    for char in [chr(code) for code in range(0x100)] + others:
        assert printable(char) == _escaped(char), hex(ord(char))
        mixed = f"event-{char}-0000001"
        assert printable(mixed, limit=len(mixed)) == _escaped(mixed), hex(ord(char))
    assert printable("1990-01-01-event-0000001") == "1990-01-01-event-0000001"


def test_a_long_value_is_cut_with_a_note_of_its_length() -> None:
    assert printable("a" * 10, limit=4) == "aaaa… (10 characters)"
    assert printable("\x1b" * 10, limit=2) == _escaped("\x1b\x1b") + "… (10 characters)"
