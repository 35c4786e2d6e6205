"""'Did you mean ...?': the one way the tool suggests a known name for a mistyped one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6


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
    match = closest(value, known, ignore_case=ignore_case)
    return f"did you mean '{match}'?" if match is not None else None
