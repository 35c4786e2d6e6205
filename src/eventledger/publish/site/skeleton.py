"""Templates filled a hundred thousand times: rendered by Jinja once per shape, then filled.

An event page is the same markup around different values, and at scale Jinja's cost per page
(a generator step per piece, an escape call per value) was most of a release's site. So the
template is rendered once for each shape the values can give it (which optional parts show),
with a marker in every slot where a value goes; the markup between the markers is kept, and
a page is that markup filled with its values, each escaped once here exactly as Jinja's
autoescaping escapes it. The templates stay the one place the markup is written;
tests/test_site.py holds a filled skeleton to Jinja's own rendering of the same values.

Markup and values are put together as UTF-8 bytes, the page's own form: joined as str, every
ASCII character of the markup was copied wide (a page holds a '·' in its title, often a „ in
its quotes) and encoding the page read it again a character at a time, nearly half of the
event pages' samples in py-spy at 30k events.

Every value of a page goes through a slot, none is rendered into a skeleton: a marker is two
private-use characters, and a record's text could hold them, while the templates shipped in
this package do not (a test reads them), so a marker found is always one put there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

import markupsafe

_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_OPEN}([a-z0-9_]+){_CLOSE}")


def slot(name: str) -> markupsafe.Markup:
    """The marker of the slot name: markup, so Jinja's autoescaping leaves it as it is."""
    return markupsafe.Markup(f"{_OPEN}{name}{_CLOSE}")  # noqa: S704 - a constant marker


class Skeleton:
    """Rendered markup with its slots, filled by bytes' % formatting: it copies the markup
    between slots as it is (a memchr for the next %) and takes the values in one itemgetter
    call, where joining the pieces paid an iterator step for each of a page's 150 pieces (and
    str.format_map read every character of the markup again)."""

    __slots__ = ("_format", "_literals", "_names", "_values", "slots")

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
        self._set([literal.encode("utf-8") for literal in literals], found)

    def _set(self, literals: list[bytes], names: list[str]) -> None:
        self._literals = tuple(literals)  # the markup around the slots, one more than them
        self._names = tuple(names)
        # The markup's own % doubled, so only a slot's %s takes a value.
        self._format = b"%s".join(literal.replace(b"%", b"%%") for literal in literals)
        # One name gives a bare value, which % takes as the one argument; none gives ().
        self._values = itemgetter(*names) if names else _no_values

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        """The markup with each slot's value, which must be escaped and encoded already
        (utf8(), Memo): bytes, as %s takes only bytes, so a str value fails here."""
        return self._format % self._values(values)

    def baked(self, values: Mapping[str, bytes]) -> Skeleton:
        """This skeleton with the slots in values filled for good (escaped and encoded
        already, as for fill): markup that is the same on every page is then copied with the
        markup around it, not looked up as a value each time."""
        literals, names = [self._literals[0]], []
        for literal, name in zip(self._literals[1:], self._names, strict=True):
            if name in values:
                literals[-1] = b"".join((literals[-1], values[name], literal))
            else:
                names.append(name)
                literals.append(literal)
        made = Skeleton.__new__(Skeleton)
        made.slots = self.slots - set(values)
        made._set(literals, names)
        return made


def _no_values(values: Mapping[str, bytes]) -> tuple[()]:
    return ()


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


def utf8(value: Any) -> bytes:
    """text(value) as a slot's value: escaped as Jinja escapes it, in UTF-8."""
    return text(value).encode("utf-8")


class Memo:
    """utf8() of strings that recur (a type, a date label, a source id), each escaped and
    encoded once. Bounded, so a column of values that never recur (titles) costs a miss, not
    memory. Only str is kept: 1, 1.0 and True are one dict key but three different texts."""

    __slots__ = ("_limit", "_made")

    def __init__(self, limit: int = 4096) -> None:
        self._made: dict[str, bytes] = {}
        self._limit = limit

    def __call__(self, value: Any) -> bytes:
        if type(value) is not str:
            return utf8(value)
        made = self._made.get(value)
        if made is None:
            made = utf8(value)
            if len(self._made) < self._limit:
                self._made[value] = made
        return made
