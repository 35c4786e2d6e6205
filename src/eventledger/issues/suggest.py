"""'Did you mean ...?': the one way the tool suggests a known name for a mistyped one."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

from eventledger.issues.excerpt import char_name, is_invisible

CUTOFF = 0.6

# Letters that look like the ASCII letters and signs ids are written in (after NFKC, which
# already folds full-width forms and ligatures): Cyrillic, Greek and Latin look-alikes,
# and dashes that look like a hyphen. A reference that matches a known id once these are
# folded and invisible characters are dropped was meant as that id.
_LOOKALIKES = str.maketrans(
    {
        **dict.fromkeys("аɑα", "a"),
        **dict.fromkeys("ЬЪ", "b"),
        **dict.fromkeys("сϲ", "c"),
        **dict.fromkeys("ԁ", "d"),
        **dict.fromkeys("еєҽ", "e"),
        **dict.fromkeys("ɡ", "g"),
        **dict.fromkeys("һ", "h"),
        **dict.fromkeys("іιӏı", "i"),
        **dict.fromkeys("ј", "j"),
        **dict.fromkeys("κк", "k"),
        **dict.fromkeys("ⅼ", "l"),
        **dict.fromkeys("ո", "n"),
        **dict.fromkeys("оοσ", "o"),
        **dict.fromkeys("рρ", "p"),
        **dict.fromkeys("ԛ", "q"),
        **dict.fromkeys("ѕ", "s"),
        **dict.fromkeys("υ", "u"),
        **dict.fromkeys("νѵ", "v"),
        **dict.fromkeys("ԝ", "w"),
        **dict.fromkeys("хχ", "x"),
        **dict.fromkeys("уγ", "y"),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\u00ad", "-"),
    }
)


def skeleton(value: str) -> str:
    """value with look-alike letters folded to ASCII and invisible characters dropped."""
    folded = unicodedata.normalize("NFKC", value).translate(_LOOKALIKES)
    return "".join(c for c in folded if not is_invisible(c))


def lookalike(value: str, known: Iterable[str]) -> str | None:
    """A hint when value differs from a known name only by look-alike or invisible
    characters, naming each of them; None otherwise."""
    if value.isascii() and value.isprintable():
        return None  # nothing to fold: an ASCII name that is not known is a plain typo
    target = skeleton(value)
    names = known if isinstance(known, (set, frozenset, dict)) else set(known)
    if target == value or target not in names:
        return None
    odd = [
        f"{char_name(c)} at character {i}"
        for i, c in enumerate(value, 1)
        if not (c.isascii() and c.isprintable())
    ]
    return f"it differs from the existing '{target}' only by {', '.join(odd)}; write '{target}'"


def closest(value: str, known: Iterable[str], *, ignore_case: bool = False) -> str | None:
    """The known name most like value, if any is alike enough."""
    names = sorted(known)
    if ignore_case:
        lowered = {n.lower(): n for n in names}
        found = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=CUTOFF)
        return lowered[found[0]] if found else None
    found = difflib.get_close_matches(value, names, n=1, cutoff=CUTOFF)
    return found[0] if found else None


def did_you_mean(value: str, known: Iterable[str], *, ignore_case: bool = False) -> str | None:
    """A hint naming the closest known name, or None."""
    names = known if isinstance(known, (set, frozenset, dict)) else set(known)
    confusable = lookalike(value, names)
    if confusable is not None:
        return confusable
    match = closest(value, names, ignore_case=ignore_case)
    return f"did you mean '{match}'?" if match is not None else None
