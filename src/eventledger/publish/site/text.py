"""Source text cut into pieces for display: a quote inside its paragraph, and a whole text
with every span and every coverage sentence marked.

Offsets are code points, as in the records, and Python strings index by code point, so the
piece shown as highlighted is exactly text[start:end]; the browser tests check that.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from eventledger.publish.site.model import Sentence

# A paragraph longer than this is cut around the quote, so a text without line breaks does
# not repeat itself in full under every span of a long event page.
CONTEXT = 400


@dataclass(frozen=True)
class InContext:
    before: str
    quote: str
    after: str
    clipped_before: bool
    clipped_after: bool


def in_context(text: str, start: int, end: int) -> InContext:
    """The quote text[start:end] with the rest of its paragraph (its line or lines) around it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    if line_end < 0:
        line_end = len(text)
    lo = max(line_start, start - CONTEXT)
    hi = min(line_end, end + CONTEXT)
    return InContext(text[lo:start], text[start:end], text[end:hi], lo > line_start, hi < line_end)


@dataclass(frozen=True)
class Mark:
    """A span as the full-text view links it: where it is and the record it belongs to."""

    start: int
    end: int
    event_id: str
    span: int
    draft: bool = False


@dataclass
class Piece:
    text: str
    start: int
    marks: list[Mark] = field(default_factory=list)
    status: str = ""  # coverage status of the sentence holding this piece, "" when unknown
    reason: str = ""
    sentence: int = -1  # index of that sentence, to tell sentences apart in the page


def pieces(text: str, marks: Sequence[Mark], sentences: Sequence[Sentence] | None) -> list[Piece]:
    """Cut text at every span and sentence boundary; each piece knows its spans and sentence."""
    ordered = sorted(marks, key=lambda m: (m.start, m.end, m.event_id, m.span))
    sents = sorted(sentences or (), key=lambda s: (s[0], s[1]))
    cuts = {0, len(text)}
    for m in ordered:
        cuts.update((max(0, min(m.start, len(text))), max(0, min(m.end, len(text)))))
    for s in sents:
        cuts.update((max(0, min(s[0], len(text))), max(0, min(s[1], len(text)))))
    bounds = sorted(cuts)
    sentence_starts = [s[0] for s in sents]
    out: list[Piece] = []
    active: list[Mark] = []
    next_mark = 0
    for a, b in itertools.pairwise(bounds):
        if a == b:
            continue
        while next_mark < len(ordered) and ordered[next_mark].start <= a:
            active.append(ordered[next_mark])
            next_mark += 1
        active = [m for m in active if m.end > a]
        piece = Piece(text[a:b], a, [m for m in active if m.start <= a])
        k = bisect.bisect_right(sentence_starts, a) - 1
        if k >= 0 and sents[k][0] <= a < sents[k][1]:
            piece.status, piece.reason, piece.sentence = sents[k][2], sents[k][3] or "", k
        out.append(piece)
    return out


def coverage_counts(sentences: Sequence[Sentence]) -> dict[str, int]:
    counts = {"coded": 0, "set-aside": 0, "uncovered": 0}
    for s in sentences:
        counts[s[2]] = counts.get(s[2], 0) + 1
    return counts
