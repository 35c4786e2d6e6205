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

# Spaces that look like U+0020 but are not one to YAML: a no-break space before '#' hides a
# comment inside a value, one after a key's colon hides a key inside a value. Unicode Zs
# but the plain space (Unicode 14.0, Python 3.11).
ODD_SPACES = frozenset(
    "\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
# Characters that show as nothing: format characters (Unicode Cf, bidi controls aside:
# zero-width space and joiners, word joiner, soft hyphen, U+180E, a BOM after the start,
# tag characters U+E0001 and U+E0020..U+E007F, which can spell out hidden text), and the
# rest of Default_Ignorable_Code_Point: Hangul fillers, variation selectors, the combining
# grapheme joiner, Khmer inherent vowels, Mongolian free variation selectors and the
# unassigned code points reserved as ignorable. Unicode 14.0 (Python 3.11).
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x0600, 0x0605), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200D), (0x2060, 0x2065),
    (0x206A, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
INVISIBLE = frozenset(chr(c) for low, high in _INVISIBLE_RANGES for c in range(low, high + 1))


def _allowed_class(refused: frozenset[str]) -> str:
    """The ranges of a character class holding every code point but the refused ones."""
    out, start = [], 0
    for code in [*sorted(map(ord, refused)), 0x110000]:
        if code > start:
            out.append(re.escape(chr(start)))
            if code - 1 > start:
                out.append("-" + re.escape(chr(code - 1)))
        start = code + 1
    return "".join(out)


# What FORBIDDEN_OR_BIDI refuses, as ranges (the surrogates and noncharacters of the
# astral planes included), so that the raw scan below is one negated class too.
_FORBIDDEN_OR_BIDI_RANGES = (
    (0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0x061C, 0x061C), (0x200E, 0x200F),
    (0x2028, 0x202E), (0x2066, 0x2069), (0xD800, 0xDFFF), (0xFDD0, 0xFDEF),
    *((plane << 16 | 0xFFFE, plane << 16 | 0xFFFF) for plane in range(0x11)),
)  # fmt: skip
# What a record file may not hold raw anywhere, a comment included: what FORBIDDEN_OR_BIDI
# refuses, the odd spaces and the invisible characters. The last two may be written as
# escapes in a double-quoted string, where a reviewer sees them.
REFUSED_RAW = re.compile(
    "[^"
    + _allowed_class(
        ODD_SPACES
        | INVISIBLE
        | frozenset(chr(c) for low, high in _FORBIDDEN_OR_BIDI_RANGES for c in range(low, high + 1))
    )
    + "]"
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
    private-use and unassigned code points, every space but the plain one, and the other
    default-ignorable characters (Hangul fillers, variation selectors)."""
    category = unicodedata.category(char)
    return (
        category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")
        or (category == "Zs" and char != " ")
        or char in INVISIBLE
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


_PLAIN = re.compile("[ -~]*")


def printable(value: object, limit: int = MAX_EXCERPT) -> str:
    """value as one line of output: invisible characters escaped, at most limit characters
    (plus a note saying how long it was)."""
    text = str(value)
    if len(text) > limit:
        shown = text[:limit]
        tail = f"… ({len(text):,} characters)"
    else:
        shown, tail = text, ""
    # Plain ASCII, every character visible as itself, is told by one C scan: CHANGES.md
    # shows every id of a release, and a look at each character cost 14 s at a million.
    if _PLAIN.fullmatch(shown) or not any(is_invisible(c) for c in shown):
        return shown + tail
    return "".join(escape_char(c) if is_invisible(c) else c for c in shown) + tail


def printable_lines(text: str, limit: int = 2 * MAX_EXCERPT) -> str:
    """A message of several lines, each made printable: its own line breaks stay, the ones
    inside values cannot forge more."""
    return "\n".join(printable(line, limit) for line in text.split("\n"))
