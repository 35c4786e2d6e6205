"""Templates filled a hundred thousand times: rendered by Jinja once per shape, then filled.

An event page is the same markup around different values, and at scale Jinja's cost per page
(a generator step per piece, an escape call per value) was most of a release's site. So the
template is rendered once for each shape the values can give it (which optional parts show),
with a marker in every slot where a value goes; the markup between the markers is kept, and
a page is that markup joined with its values, each escaped once here exactly as Jinja's
autoescaping escapes it. The templates stay the one place the markup is
written; tests/test_site.py holds a filled skeleton to Jinja's own rendering of the same values.

Every value of a page goes through a slot, none is rendered into a skeleton: a marker is two
private-use characters, and a record's text could hold them, while the templates shipped in
this package do not (a test reads them), so a marker found is always one put there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import chain
from typing import Any

import markupsafe

_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_OPEN}([a-z0-9_]+){_CLOSE}")


def slot(name: str) -> markupsafe.Markup:
    """The marker of the slot name: markup, so Jinja's autoescaping leaves it as it is."""
    return markupsafe.Markup(f"{_OPEN}{name}{_CLOSE}")  # noqa: S704 - a constant marker


class Skeleton:
    """Rendered markup with its slots, filled by joining the markup between them with the
    values (str.format_map read every character of the markup again on every page)."""

    __slots__ = ("_last", "_literals", "_names", "slots")

    def __init__(self, rendered: str, offered: Iterable[str]) -> None:
        """rendered: a template's output with slot(name) for each of offered; a shape may
        leave some of them out, never add one."""
        parts = _MARK.split(rendered)
        literals, found = parts[0::2], parts[1::2]
        stray = "".join(literals)
        if _OPEN in stray or _CLOSE in stray or not set(found) <= set(offered):
            # A marker mangled on its way through the template (a filter applied to it): a
            # page filled from this would be wrong. The tests render every shape.
            raise ValueError(f"skeleton slots {sorted(set(found))} not all of {sorted(offered)}")
        self.slots = frozenset(found)
        self._set(literals, found)

    def _set(self, literals: list[str], names: list[str]) -> None:
        self._literals = tuple(literals[:-1])  # the markup before each slot
        self._names = tuple(names)
        self._last = literals[-1]

    def fill(self, values: Mapping[str, str]) -> str:
        """The markup with each slot's value, which must be escaped already (text())."""
        return (
            "".join(
                chain.from_iterable(
                    zip(self._literals, map(values.__getitem__, self._names), strict=True)
                )
            )
            + self._last
        )

    def baked(self, values: Mapping[str, str]) -> Skeleton:
        """This skeleton with the slots in values filled for good (escaped already, as for
        fill): markup that is the same on every page is then copied with the markup around
        it, not looked up as a value each time."""
        literals, names = [self._literals[0]], []
        for literal, name in zip((*self._literals[1:], self._last), self._names, strict=True):
            if name in values:  # joined: Markup's + would escape the markup after it
                literals[-1] = "".join((literals[-1], values[name], literal))
            else:
                names.append(name)
                literals.append(literal)
        made = Skeleton.__new__(Skeleton)
        made.slots = self.slots - set(values)
        made._set(literals, names)
        return made


def text(value: Any) -> str:
    """value as Jinja's autoescaping prints {{ value }}: markup as it is, anything else as
    str() with & < > ' " escaped (markupsafe's entities, so the bytes are Jinja's)."""
    if type(value) is str:
        # markupsafe.escape made a Markup object per value; five C replaces make a str.
        return (
            value.replace("&", "&amp;")
            .replace(">", "&gt;")
            .replace("<", "&lt;")
            .replace("'", "&#39;")
            .replace('"', "&#34;")
        )
    if type(value) is int or isinstance(value, markupsafe.Markup):
        return str(value)
    return str(markupsafe.escape(value))


class Memo:
    """text() of strings that recur (a type, a date label, a source id), each escaped once.
    Bounded, so a column of values that never recur (titles) costs a miss, not memory. Only
    str is kept: 1, 1.0 and True are one dict key but three different texts."""

    __slots__ = ("_limit", "_made")

    def __init__(self, limit: int = 4096) -> None:
        self._made: dict[str, str] = {}
        self._limit = limit

    def __call__(self, value: Any) -> str:
        if type(value) is not str:
            return text(value)
        made = self._made.get(value)
        if made is None:
            made = text(value)
            if len(self._made) < self._limit:
                self._made[value] = made
        return made
