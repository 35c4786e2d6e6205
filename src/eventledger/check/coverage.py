"""Every sentence accounted for: which sentences of a source the records code, which the
source's uncoded.yaml sets aside with a reason, and which neither.

Sentence boundaries come from pysbd (rule-based, with German rules among its languages),
never from a regex of ours, so what counts as a sentence is the same for every contributor
and for the release. A sentence counts as touched when a span overlaps it by at least one
character that is not white space: a span that ends on the space after a full stop does
not touch the next sentence.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from eventledger.check.spans import SourceText
from eventledger.model.kinds import PASSAGES, SOURCE_TABLE, Kind, Model
from eventledger.model.terms import CODED, SET_ASIDE, UNCOVERED
from eventledger.read.records import Record
from eventledger.read.records import Row as RecordRow
from eventledger.syntax.strict_yaml import double_quoted

if TYPE_CHECKING:  # a type only: the checker imports this module
    from eventledger.check.checker import Dataset

REASON_FIELD = "reason"  # of a passage: why it is set aside
LANGUAGE_FIELD = "language"  # of the source record: which segmentation rules apply
FALLBACK_LANGUAGE = "en"  # for a language pysbd has no rules for


@dataclass(frozen=True)
class Sentence:
    """One sentence of a source text: text[start:end], without surrounding white space."""

    start: int
    end: int
    status: str  # coded, set-aside or uncovered (vocabulary coverage_status)
    reason: str | None  # for set-aside: the reason of the first passage that touches it


@cache
def _segmenter(language: str) -> Any:
    import pysbd
    from pysbd.languages import LANGUAGE_CODES

    code = language if language in LANGUAGE_CODES else FALLBACK_LANGUAGE
    return pysbd.Segmenter(language=code, clean=False, char_span=True)


def sentences(text: str, language: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of text, white space around it left out; segments of
    white space only are no sentences."""
    out: list[tuple[int, int]] = []
    at = 0
    for segment in _segmenter(language).segment(text):
        sent: str = segment.sent
        start = segment.start
        if text[start : start + len(sent)] != sent:
            # pysbd finds a segment's offset by searching for its text; never trust an offset
            # that does not hold the segment: search on from the end of the previous one.
            start = text.find(sent, at)
            if start < 0:
                continue
        end = start + len(sent)
        at = end
        stripped = sent.strip()
        if not stripped:
            continue
        lead = len(sent) - len(sent.lstrip())
        out.append((start + lead, start + lead + len(stripped)))
    return out


def coverage(
    text: str,
    spans: Iterable[tuple[int, int]],
    passages: Iterable[tuple[int, int, str]],
    *,
    language: str,
) -> list[Sentence]:
    """Every sentence of text, coded when a span touches it, else set aside when a passage
    (start, end, reason) does, else uncovered."""
    bounds = sentences(text, language)
    # visible[i]: how many characters of text[:i] are not white space.
    visible = [0, *itertools.accumulate(0 if c.isspace() else 1 for c in text)]
    ends = [e for _, e in bounds]

    def touched(start: int, end: int) -> Iterable[int]:
        start, end = max(start, 0), min(end, len(text))
        i = bisect.bisect_right(ends, start)
        while i < len(bounds) and bounds[i][0] < end:
            lo, hi = max(start, bounds[i][0]), min(end, bounds[i][1])
            if hi > lo and visible[hi] > visible[lo]:
                yield i
            i += 1

    coded: set[int] = set()
    for start, end in spans:
        coded.update(touched(start, end))
    reasons: dict[int, str] = {}
    for start, end, reason in sorted(passages):
        for i in touched(start, end):
            reasons.setdefault(i, reason)
    out = []
    for i, (start, end) in enumerate(bounds):
        if i in coded:
            out.append(Sentence(start, end, CODED, None))
        elif i in reasons:
            out.append(Sentence(start, end, SET_ASIDE, reasons[i]))
        else:
            out.append(Sentence(start, end, UNCOVERED, None))
    return out


# A release's rows are dicts; a check's are the records' own rows (copying them into dicts
# would hold a second copy of every row at once).
Row = Mapping[str, Any] | RecordRow


def coverage_of(
    model: Model,
    rows: Mapping[str, Sequence[Row]],
    texts: Mapping[str, str],
    languages: Mapping[str, str],
) -> dict[str, list[Sentence]]:
    """The sentences of each text (source id -> text) against the rows of every span table:
    rows of the passages table set aside, rows of any other span table code."""
    spans: dict[str, list[tuple[int, int]]] = {sid: [] for sid in texts}
    passages: dict[str, list[tuple[int, int, str]]] = {sid: [] for sid in texts}
    for table in model.spans:
        for row in rows.get(table.table, ()):
            sid, start, end = row.get(table.source_field), row.get("start"), row.get("end")
            if not isinstance(sid, str) or sid not in texts:
                continue
            if not isinstance(start, int) or not isinstance(end, int):
                continue
            if table.table == PASSAGES:
                reason = row.get(REASON_FIELD)
                if isinstance(reason, str):
                    passages[sid].append((start, end, reason))
            else:
                spans[sid].append((start, end))
    return {
        sid: coverage(
            texts[sid], spans[sid], passages[sid], language=languages.get(sid) or FALLBACK_LANGUAGE
        )
        for sid in sorted(texts)
    }


def coverage_by_source(dataset: Dataset) -> dict[str, list[Sentence]]:
    """Every readable source text of the dataset, sentence by sentence, against the spans
    and passages of all its records (drafts included: this is the repository's view)."""
    return _of_records(dataset.records, dataset.texts, dataset.schema.model)


def _of_records(
    records: Sequence[Record],
    texts: Mapping[str, SourceText],
    model: Model,
    spans: Mapping[str, Sequence[Row]] | None = None,
) -> dict[str, list[Sentence]]:
    rows: dict[str, list[Row]] = {}
    languages: dict[str, str] = {}
    source_kind = model.kind_of_table(SOURCE_TABLE).name
    for record in records:
        if spans is None:
            for row in record.rows:
                rows.setdefault(row.table, []).append(row)
        if record.kind == source_kind and record.id:
            languages[record.id] = str(record.main().get(LANGUAGE_FIELD) or "")
    readable = {sid: t.text for sid, t in texts.items() if t.text is not None}
    return coverage_of(model, rows if spans is None else spans, readable, languages)


EXCERPT = 60  # characters of a sentence shown in a message


def check_coverage(
    records: Sequence[Record],
    texts: Mapping[str, SourceText],
    model: Model,
    *,
    rows: Mapping[str, Sequence[Row]] | None = None,
) -> None:
    """Report every sentence that no span and no passage touches, on the source's
    uncoded.yaml (where it is to be set aside) or, without one, on its source.yaml. rows:
    the rows of the span tables when records are only some of the repository's (those
    that hold the texts), else read from the records."""
    sets = next(k for k in model.kinds if _holds_passages(k))
    source_kind = model.kind_of_table(SOURCE_TABLE)
    where: dict[str, tuple[Record, tuple[str, ...]]] = {}
    unread: set[str] = set()
    for record in records:
        if record.id is None:
            if record.kind == sets.name:
                # Its passages are unknown until its own errors are fixed: reporting every
                # sentence it may set aside would bury those errors.
                unread.add(PurePosixPath(record.file).parent.name)
            continue
        if record.kind == source_kind.name:
            where.setdefault(record.id, (record, (source_kind.id_field,)))
        elif record.kind == sets.name:
            where[record.id] = (record, (PASSAGES,))  # the key's line, or the file's first
    for sid, found in _of_records(records, texts, model, rows).items():
        if sid not in where or sid in unread:
            continue
        record, path = where[sid]
        text = texts[sid].text or ""
        file = f"{sets.layout.folder}/{sid}/{sets.layout.file}"
        start_from = (
            "" if record.kind == sets.name else f" (new: copy schema/templates/{sets.name}.yaml)"
        )
        for s in found:
            if s.status != UNCOVERED:
                continue
            sentence = text[s.start : s.end]
            excerpt = sentence if len(sentence) <= EXCERPT else sentence[: EXCERPT - 1] + "…"
            record.report(
                "sentence-not-accounted",
                f"sentence {s.start}..{s.end} of {sid} is touched by no span of a record and "
                f"no passage set aside: {double_quoted(excerpt)}",
                path,
                flag=False,
                found=f"start: {s.start}, end: {s.end}",
                hint=f"code it in an event record, or set it aside in {file}{start_from} "
                f"under passages: start: {s.start}, end: {s.end}, the quote of those offsets, "
                "and a reason from the vocabulary uncoded_reason",
            )


def _holds_passages(kind: Kind) -> bool:
    return any(c.table == PASSAGES for c in kind.children)


def counts(sentences: Iterable[Sentence]) -> dict[tuple[str, str | None], int]:
    """How many sentences have each (status, reason)."""
    out: dict[tuple[str, str | None], int] = {}
    for s in sentences:
        out[(s.status, s.reason)] = out.get((s.status, s.reason), 0) + 1
    return out
