"""What the evidence browser is built from: plain rows and texts, nothing about how they were read.

The release build and `eventledger browse` both fill a SiteInput; the site package never opens
a record, a source file or the schema folder itself, so it stays a pure function of this value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Row = dict[str, Any]
SentenceStatus = Literal["coded", "set-aside", "uncovered"]
# One sentence of a source: [start, end) in code points, its status, and for a sentence set
# aside the reason from the controlled vocabulary (None otherwise).
Sentence = tuple[int, int, SentenceStatus, str | None]
SITE_TABLES = ("events", "participants", "evidence", "actors", "sources")


@dataclass(frozen=True)
class SiteInput:
    """Everything one build of the site shows.

    rows: table name -> rows (dicts of str, int, float, datetime.date, list[str] or None), the
    five tables of the release with the columns of schema/*.tableschema.json, as
    eventledger.package.select() returns them.
    full_texts: source id -> text, only for sources whose text may be shown (open rights in a
    release; every source in the reviewer's view, which never leaves the machine).
    review: the reviewer's view: drafts shown and marked, full texts with every span, coverage.
    drafts: ids of events in rows that are drafts; without review they are left out.
    coverage: source id -> its sentences with their status, or None while nobody computes it.
    """

    name: str
    version: str
    created: str
    rows: Mapping[str, Sequence[Row]]
    full_texts: Mapping[str, str] = field(default_factory=dict)
    review: bool = False
    drafts: frozenset[str] | set[str] = field(default_factory=frozenset)
    coverage: Mapping[str, Sequence[Sentence]] | None = None
    codebook_md: str = ""
    changes_md: str = ""
