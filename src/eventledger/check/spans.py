"""Evidence spans against their source texts: the check no other event dataset makes.

Offsets count Unicode code points of text.txt decoded as UTF-8 (which must be NFC with
LF line endings), 0-based, end exclusive: text[start:end] == quote.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from eventledger.read.records import Record, Row
from eventledger.syntax.strict_yaml import double_quoted


@dataclass(frozen=True)
class SourceText:
    source_id: str
    text: str | None  # None when the file is missing or unreadable
    sha256: str | None
    problem: str | None = None  # why text is None or not normalized


def read_source_text(path: Path, source_id: str) -> SourceText:
    try:
        raw = path.read_bytes()
    except OSError as err:
        return SourceText(source_id, None, None, f"cannot read {path.name}: {err.strerror}")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return SourceText(source_id, None, digest, f"not valid UTF-8 at byte {err.start}")
    problems = []
    if text.startswith("\ufeff"):
        problems.append("starts with a byte-order mark")
    if "\r" in text:
        problems.append("contains CR characters (line endings must be LF)")
    if not unicodedata.is_normalized("NFC", text):
        problems.append("is not in Unicode NFC")
    return SourceText(source_id, text, digest, "; ".join(problems) or None)


def locate(text: str, quote: str) -> list[tuple[int, int]]:
    """Every (start, end) at which quote occurs in text, overlapping occurrences included."""
    if not quote:
        return []
    found = []
    at = text.find(quote)
    while at >= 0:
        found.append((at, at + len(quote)))
        at = text.find(quote, at + 1)
    return found


def _loose(quote: str) -> re.Pattern[str]:
    words = quote.split()
    return re.compile(r"\s+".join(re.escape(w) for w in words))


def _offsets(places: list[tuple[int, int]]) -> str:
    shown = ", ".join(f"start: {s}, end: {e}" for s, e in places[:5])
    return shown + (f" (and {len(places) - 5} more)" if len(places) > 5 else "")


def check_span(record: Record, row: Row, source: SourceText) -> None:
    """Compare one span with its source text; report into the record."""
    if source.text is None:
        return  # reported once on the source itself
    values = row.values
    start, end, quote = values.get("start"), values.get("end"), values.get("quote")
    if not isinstance(start, int) or not isinstance(end, int) or not isinstance(quote, str):
        return  # already reported by the record checks
    text = source.text
    prefix = row.prefix
    if not 0 <= start < end <= len(text):
        record.report(
            "offsets-out-of-range",
            f"offsets {start}..{end} are outside the text of {source.source_id} (0..{len(text)})",
            (*prefix, "start"),
            expected=f"0 <= start < end <= {len(text)}",
            found=f"start: {start}, end: {end}",
            hint=_hint(text, quote, source.source_id),
        )
        return
    if text[start:end] == quote:
        return
    at_offsets = text[start:end]
    exact = locate(text, quote)
    if exact:
        record.report(
            "quote-mismatch",
            f"the quote is not at {start}..{end} of {source.source_id} "
            f"but occurs at {_offsets(exact)}",
            (*prefix, "quote"),
            expected=quote,
            found=at_offsets,
            hint=f"set {_offsets(exact)}"
            if len(exact) == 1
            else f"the quote occurs {len(exact)} times; choose one: {_offsets(exact)}",
        )
        return
    near = near_miss(text, quote)
    if near is not None:
        if near.kind == "normalization":
            record.report(
                "quote-normalization-differs",
                near.sentence,
                (*prefix, "quote"),
                expected=near.actual,
                found=quote,
                hint=f"copy the quote from text.txt ({_offsets(near.places)})",
            )
        else:
            record.report(
                "quote-whitespace-differs",
                f"{near.sentence}; the text has it at {near.start}..{near.end}",
                (*prefix, "quote"),
                expected=near.actual,
                found=quote,
                hint=f"use quote: {double_quoted(near.actual)} with start: {near.start}, end: {near.end}",
            )
        return
    record.report(
        "quote-not-found",
        f"the quote occurs nowhere in {source.source_id}",
        (*prefix, "quote"),
        expected=f"text at {start}..{end}: {at_offsets!r}",
        found=quote,
    )


def near_matches(text: str, quote: str) -> tuple[str, list[tuple[int, int]]] | None:
    """Where a quote that does not occur exactly would occur if Unicode normalization
    ("normalization") or white space ("whitespace") were relaxed; None if nowhere."""
    nfc = unicodedata.normalize("NFC", quote)
    if nfc != quote:
        places = locate(text, nfc)
        if places:
            return "normalization", places
    if nfc.split():
        loose = [(m.start(), m.end()) for m in _loose(nfc).finditer(text)]
        if loose:
            return "whitespace", loose
    return None


@dataclass(frozen=True)
class NearMiss:
    """Where a quote that does not occur exactly would occur with a rule relaxed, and what
    differs: the one wording of this finding, for validate and locate alike."""

    kind: str  # "normalization" or "whitespace"
    places: list[tuple[int, int]]
    actual: str  # the text at the first place
    difference: str  # the first differing character, named

    @property
    def start(self) -> int:
        return self.places[0][0]

    @property
    def end(self) -> int:
        return self.places[0][1]

    @property
    def sentence(self) -> str:
        rule = (
            "after NFC normalization"
            if self.kind == "normalization"
            else "if white space is ignored"
        )
        return f"the quote matches the source only {rule} ({self.difference})"


def near_miss(text: str, quote: str) -> NearMiss | None:
    near = near_matches(text, quote)
    if near is None:
        return None
    kind, places = near
    actual = text[places[0][0] : places[0][1]]
    return NearMiss(kind, places, actual, first_difference(quote, actual))


def first_difference(quote: str, actual: str) -> str:
    """Name the first character where the quote and the text part ways, so an invisible
    difference (a no-break space, a combining accent) can be seen."""
    for i, (q, a) in enumerate(zip(quote, actual, strict=False)):
        if q != a:
            return f"character {i + 1}: the text has {_name(a)} where the quote has {_name(q)}"
    longer, which = (quote, "quote") if len(quote) > len(actual) else (actual, "text")
    at = min(len(quote), len(actual))
    return f"character {at + 1}: the {which} goes on with {_name(longer[at])}"


def _name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED')}"


def _hint(text: str, quote: str | None, source_id: str) -> str:
    places = locate(text, quote) if isinstance(quote, str) else []
    if len(places) == 1:
        return f"set {_offsets(places)}"
    return f'run: eventledger locate {source_id} "…"'


def check_source(record: Record, source: SourceText, text_file: str) -> None:
    """A source's recorded hash and length against its text.txt."""
    values = record.main()
    sid = source.source_id
    if source.text is None and source.sha256 is None:
        record.report(
            "source-text-missing",
            f"{text_file} is missing: {source.problem}",
            ("source_id",),
            hint="add text.txt beside source.yaml, byte for byte as published",
        )
        return
    recorded = values.get("sha256")
    if isinstance(recorded, str) and recorded != source.sha256:
        record.report(
            "source-hash-mismatch",
            f"SHA-256 of {text_file} differs from the one recorded for {sid}",
            ("sha256",),
            expected=recorded,
            found=source.sha256,
            hint="restore text.txt; if the recorded hash is wrong, set sha256 to the value found",
        )
    if source.text is None or source.problem:
        record.report("source-text-not-normalized", f"{text_file} {source.problem}", ("source_id",))
        return
    chars = values.get("characters")
    if isinstance(chars, int) and chars != len(source.text):
        record.report(
            "source-length-mismatch",
            f"{text_file} has {len(source.text)} code points",
            ("characters",),
            expected=str(chars),
            found=str(len(source.text)),
            hint=f"set characters: {len(source.text)}",
        )
