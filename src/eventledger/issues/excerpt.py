"""What a character is to a reviewer, and how a value is shown to one.

A record, a file name or a package can hold characters that a terminal executes (ESC,
BEL), that forge a new output line (LF, NEL, U+2028), that reorder what is displayed
(bidirectional controls) or that are not displayed at all (zero-width characters). Every
value the tool prints goes through printable(): such characters are written as escapes
and the length is capped, so output can neither be forged nor flooded.
"""

from __future__ import annotations

import re
import unicodedata

# Excerpts (found/expected) are for recognising a value, not for reading it whole.
MAX_EXCERPT = 400

# Line breaks to YAML (libyaml) but not to git, grep, editors or diff views.
HIDDEN_LINE_BREAKS = frozenset("\x85\u2028\u2029")
# Explicit bidirectional formatting: reorders what a reviewer sees (Trojan Source).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# What no record may hold, raw or as a double-quoted escape: C0 controls but LF and tab,
# DEL, C1 (NEL included), LS, PS, surrogates, and the noncharacters (U+FDD0..U+FDEF and
# the last two code points of every plane). XML 1.0 (xlsx), CSV readers and git must all
# carry every character a record holds, so what is refused here never reaches a writer.
# Written as the complement of what is allowed: a negated class is scanned ten times
# faster than a list of forbidden ranges, and every record file is scanned.
_ASTRAL = "".join(f"\\U{plane:04x}0000-\\U{plane:04x}fffd" for plane in range(1, 0x11))
_TAIL = "\ue000-\ufdcf\ufdf0-\ufffd" + _ASTRAL  # private use on, surrogates left out
FORBIDDEN = re.compile(f"[^\n\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff{_TAIL}]")
# Same, plus the bidirectional controls: for text shown to reviewers (titles, names...).
FORBIDDEN_OR_BIDI = re.compile(
    f"[^\n\t\x20-\x7e\xa0-\u061b\u061d-\u200d\u2010-\u2027\u202f-\u2065\u206a-\ud7ff{_TAIL}]"
)


# unicodedata has no names for control characters; these are the ones people meet.
_CONTROL_NAMES = {
    "\x00": "NULL",
    "\x07": "BELL",
    "\x08": "BACKSPACE",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\x0d": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE (NEL)",
}


def char_name(char: str) -> str:
    """U+0085 NEXT LINE (NEL): the code point and its name, for a message."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    if not name:
        category = unicodedata.category(char)
        name = {"Cc": "CONTROL CHARACTER", "Cs": "SURROGATE", "Cn": "NONCHARACTER"}.get(
            category, "UNNAMED CHARACTER"
        )
    return f"U+{ord(char):04X} {name}"


def is_invisible(char: str) -> bool:
    """True for a character a reviewer cannot see as itself: controls, line and paragraph
    separators, format characters (bidi controls, zero-width characters), surrogates,
    private-use and unassigned code points, and every space but the plain one."""
    category = unicodedata.category(char)
    return category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") or (
        category == "Zs" and char != " "
    )


def escape_char(char: str) -> str:
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(value: object, limit: int = MAX_EXCERPT) -> str:
    """value as one line of output: invisible characters escaped, at most limit characters
    (plus a note saying how long it was)."""
    text = str(value)
    if len(text) > limit:
        shown = text[:limit]
        tail = f"… ({len(text):,} characters)"
    else:
        shown, tail = text, ""
    if not any(is_invisible(c) for c in shown):
        return shown + tail
    return "".join(escape_char(c) if is_invisible(c) else c for c in shown) + tail


def printable_lines(text: str, limit: int = 2 * MAX_EXCERPT) -> str:
    """A message of several lines, each made printable: its own line breaks stay, the ones
    inside values cannot forge more."""
    return "\n".join(printable(line, limit) for line in text.split("\n"))
