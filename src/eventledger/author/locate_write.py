"""`eventledger locate --write FILE`: fill in or repair the offsets of every span from its quote.

The file is edited in place by replacing only the characters of each `start:` and `end:`
value (or inserting the missing line), at the positions the strict reader records for
every key. Everything else stays byte for byte: comments, key order, quoting, escapes
such as "10\\u00a0Uhr" (a round-trip dump through ruamel.yaml would write that
non-breaking space back as an invisible character), line endings. The result is read
back and compared before it replaces the file, written aside and renamed.

A quote that occurs more than once is ambiguous: the span's current offsets choose
among the occurrences when they point at one of them; otherwise nothing is written and
the candidates are listed.

A quote that occurs nowhere but is almost one passage of the text (check.spans.closest_passages)
is told as validate tells it; with accept_near, and only when exactly one passage is that
close, the span takes the passage's words and offsets (the quote must then be on one line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventledger.atomic import write_atomically
from eventledger.check.spans import (
    SourceText,
    closest_passages,
    describe_near_miss,
    locate,
    read_source_text,
)
from eventledger.model.schema import load_schema
from eventledger.read.repository import Repository, read_regular
from eventledger.syntax.positions import line_of
from eventledger.syntax.strict_yaml import Document, double_quoted, load

KEYS = ("start", "end")
# A scalar that can stand where an offset goes: quoted, plain up to a flow indicator, or nothing.
_VALUE = re.compile(r"""([ \t]*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^\s,#{}\[\]]*)""")


class LocateWriteError(Exception):
    """The file cannot be rewritten at all (unreadable, not valid YAML, no list of spans)."""


@dataclass(frozen=True)
class SpanList:
    """Where a record lists its spans: the evidence of an event, the passages of an uncoded set."""

    key: str
    source_field: str | None  # the item's field naming the source; None: the record's id does
    id_field: str


EVIDENCE = SpanList("evidence", "source_id", "event_id")  # for a file outside any repository


def span_list(repository: Repository, path: Path) -> SpanList:
    """The span list of the kind of record at path, from the dataset model."""
    layout = repository.layout_of(path)
    if layout is None:
        return EVIDENCE
    model = load_schema(repository.schema_dir).model
    kind = model.kind(layout.kind)
    for child in kind.children:
        table = model.span_table(child.table)
        if table is not None:
            own = table.source_field == child.parent_field
            return SpanList(child.key, None if own else table.source_field, kind.id_field)
    raise LocateWriteError(f"{repository.rel(path)}: a {kind.name} record has no spans to locate")


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    line: int  # line of the source text, 1-based


@dataclass(frozen=True)
class Fix:
    span: int  # 0-based index in the span list
    line: int  # line of the span in the record
    old: tuple[Any, Any]
    new: tuple[int, int]
    quote: str | None = None  # the passage that replaces a near-miss quote (--accept-near)


@dataclass(frozen=True)
class Refusal:
    span: int
    line: int
    message: str
    candidates: tuple[Candidate, ...] = ()
    details: tuple[str, ...] = ()  # further lines: a near miss's marked passage and quote


@dataclass
class Outcome:
    file: str
    key: str = EVIDENCE.key  # the list the spans stand in
    fixes: list[Fix] = field(default_factory=list)
    kept: int = 0  # spans whose offsets were right already
    refusals: list[Refusal] = field(default_factory=list)
    written: bool = False


def _offsets(values: tuple[Any, Any]) -> tuple[int, int] | None:
    start, end = values
    if isinstance(start, str) and start.isdigit() and isinstance(end, str) and end.isdigit():
        return int(start), int(end)
    return None


def plan(
    repository: Repository,
    path: Path,
    where: SpanList = EVIDENCE,
    *,
    accept_near: bool = False,
) -> tuple[Outcome, Document, str, bytes]:
    """Decide the offsets of every span; return the outcome, the parsed record and its text."""
    rel = repository.inside(path)  # OutsideRepository: nothing outside it is ever rewritten
    try:
        raw = read_regular(path, repository.root)
    except OSError as err:
        raise LocateWriteError(f"{rel}: cannot read the file: {err.strerror}") from err
    doc, issues = load(raw, rel)
    if doc is None:
        shown = "; ".join(f"line {i.line}: {i.message}" for i in issues)
        raise LocateWriteError(f"{rel}: cannot read the record ({shown}); fix that first")
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    text = raw[len(bom) :].decode("utf-8")
    data = doc.data if isinstance(doc.data, dict) else {}
    spans = data.get(where.key)
    if not isinstance(spans, list) or not spans:
        raise LocateWriteError(f"{rel}: the record has no {where.key} list; nothing to locate")
    outcome = Outcome(rel, where.key)
    sources: dict[str, SourceText] = {}
    for i, span in enumerate(spans):
        line = doc.position((where.key, i))[0]
        if not isinstance(span, dict):
            outcome.refusals.append(Refusal(i, line, "the span is not a mapping"))
            continue
        sid = span.get(where.source_field) if where.source_field else data.get(where.id_field)
        quote = span.get("quote")
        if not isinstance(sid, str) or not isinstance(quote, str) or not quote:
            outcome.refusals.append(Refusal(i, line, "the span needs a source_id and a quote"))
            continue
        if sid not in sources:
            try:
                text_path = repository.source_text(sid)
            except ValueError:
                outcome.refusals.append(
                    Refusal(i, line, f"source_id {sid!r} is a path; write the source's id")
                )
                continue
            sources[sid] = read_source_text(text_path, sid, repository.root)
        source = sources[sid]
        if source.text is None:
            outcome.refusals.append(
                Refusal(i, line, f"no readable text for source '{sid}' (sources/{sid}/text.txt)")
            )
            continue
        places = locate(source.text, quote)
        old = (span.get("start"), span.get("end"))
        current = _offsets(old)
        if not places:
            misses = closest_passages(source.text, quote, around=(current[0],) if current else ())
            if accept_near and len(misses) == 1:
                near = (misses[0].start, misses[0].end)
                outcome.fixes.append(Fix(i, line, old, near, source.text[near[0] : near[1]]))
                continue
            if not misses:
                outcome.refusals.append(
                    Refusal(
                        i,
                        line,
                        f"the quote occurs nowhere in {sid}, and no passage is close to it; "
                        "check the source_id and copy the quote from text.txt",
                    )
                )
                continue
            told = describe_near_miss(quote, source.text, misses, rel)
            advice = (
                "rerun with --accept-near to take the passage's words and offsets"
                if len(misses) == 1
                else "quote more words so that one passage matches"
            )
            outcome.refusals.append(
                Refusal(
                    i,
                    line,
                    f"the quote occurs nowhere in {sid}; {told.summary}; {advice}",
                    tuple(Candidate(m.start, m.end, line_of(source.text, m.start)) for m in misses)
                    if len(misses) > 1
                    else (),
                    (f"text:  {told.text_marked}", f"quote: {told.quote_marked}"),
                )
            )
            continue
        if len(places) == 1:
            new = places[0]
        elif current is not None and current in places:
            new = current  # the offsets say which occurrence
        else:
            outcome.refusals.append(
                Refusal(
                    i,
                    line,
                    f"the quote occurs {len(places)} times in {sid} and the offsets point at none; "
                    "set start and end to one of the candidates (or quote more words)",
                    tuple(Candidate(s, e, line_of(source.text, s)) for s, e in places),
                )
            )
            continue
        if current == new:
            outcome.kept += 1
        else:
            outcome.fixes.append(Fix(i, line, old, new))
    return outcome, doc, text, bom


def _edit(text: str, doc: Document, fixes: list[Fix], rel: str, where: SpanList) -> str:
    lines = text.splitlines(keepends=True)
    inserts: dict[int, list[str]] = {}  # 0-based line index -> lines to insert after it
    for fix in fixes:
        span = doc.data[where.key][fix.span]
        first = _first_anchor(span, where)
        for key, value in zip(KEYS, fix.new, strict=True):
            if key in span:
                line, col = doc.positions[(where.key, fix.span, key)]
                row = lines[line - 1]
                head = row[: col - 1]
                rest = row[col - 1 :]
                m = re.match(rf"{key}[ \t]*:", rest)
                token = _VALUE.match(rest, m.end()) if m else None
                if m is None or token is None or (not token.group(2) and span[key] is not None):
                    raise LocateWriteError(
                        f"{rel}:{line}: cannot rewrite '{key}' in place; "
                        f"write it as '{key}: <number>' on one line"
                    )
                tail = rest[token.end() :]
                # An empty value keeps the space before what follows ("end:  # note").
                space = token.group(1) if not token.group(2) and tail.strip() else ""
                lines[line - 1] = f"{head}{key}: {value}{space}{tail}"
            else:
                anchor = first if key == "start" or "start" not in span else "start"
                after = _insert_after(doc, lines, (where.key, fix.span, anchor), key, rel)
                indent = doc.positions[(where.key, fix.span, first)][1] - 1
                inserts.setdefault(after, []).append(f"{' ' * indent}{key}: {value}\n")
        if fix.quote is not None:
            _replace_quote(doc, lines, where.key, fix.span, fix.quote, rel)
    for after in sorted(inserts, reverse=True):
        lines[after + 1 : after + 1] = inserts[after]
    return "".join(lines)


_QUOTED = re.compile(r"""[ \t]*("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*')([ \t]*(?:#.*)?)\n?$""")


def _replace_quote(
    doc: Document, lines: list[str], key: str, span: int, passage: str, rel: str
) -> None:
    """Write passage as the span's quote, double-quoted, in place of a quote on one line."""
    line, col = doc.positions[(key, span, "quote")]
    row = lines[line - 1]
    head, rest = row[: col - 1], row[col - 1 :]
    nxt = lines[line] if line < len(lines) else ""
    goes_on = nxt.strip() and len(nxt) - len(nxt.lstrip(" ")) > col - 1
    m = re.match(r"quote[ \t]*:", rest)
    value = rest[m.end() :] if m else ""
    quoted = _QUOTED.match(value)
    plain = value.strip() and "#" not in value and value.strip()[0] not in "\"'|>"
    if m is None or goes_on or not (quoted or plain):
        raise LocateWriteError(
            f"{rel}:{line}: cannot rewrite the quote in place (it is not on one line); "
            "copy the passage from the message by hand"
        )
    comment = quoted.group(2).rstrip("\n") if quoted else ""
    ending = "\n" if row.endswith("\n") else ""
    lines[line - 1] = f"{head}quote: {double_quoted(passage)}{comment}{ending}"


def _first_anchor(span: dict[str, Any], where: SpanList) -> str:
    """The key a missing start goes after: the span's source (evidence), else its quote."""
    return where.source_field if where.source_field and where.source_field in span else "quote"


def _insert_after(
    doc: Document, lines: list[str], at: tuple[str, int, str], key: str, rel: str
) -> int:
    """The 0-based line after which a missing key goes: after the anchor key's line."""
    line, col = doc.positions[at]
    nxt = lines[line] if line < len(lines) else ""
    if nxt.strip() and len(nxt) - len(nxt.lstrip(" ")) > col - 1:  # the value goes on
        raise LocateWriteError(
            f"{rel}:{line}: cannot insert '{key}' after a value that spans lines; add '{key}:' by hand"
        )
    if "{" in lines[line - 1]:
        raise LocateWriteError(
            f"{rel}:{line}: the span is written in flow style {{...}}; add '{key}:' by hand"
        )
    return line - 1


def locate_write(repository: Repository, path: Path, *, accept_near: bool = False) -> Outcome:
    """Fill in or repair the offsets of every span of the record at path (an event's evidence,
    an uncoded set's passages), in place; with accept_near, a near-miss quote also takes the
    words of the one passage it stands for."""
    where = span_list(repository, path)
    outcome, doc, text, bom = plan(repository, path, where, accept_near=accept_near)
    if outcome.refusals or not outcome.fixes:
        return outcome
    new_text = _edit(text, doc, outcome.fixes, outcome.file, where)
    check, _ = load(bom + new_text.encode("utf-8"), outcome.file)
    back = check.data.get(where.key) if check and isinstance(check.data, dict) else None
    got = []
    for f in outcome.fixes:
        span = back[f.span] if isinstance(back, list) and f.span < len(back) else None
        span = span if isinstance(span, dict) else {}
        got.append((span.get("start"), span.get("end"), span.get("quote") if f.quote else None))
    want = [(str(f.new[0]), str(f.new[1]), f.quote) for f in outcome.fixes]
    if check is None or got != want:
        raise LocateWriteError(
            f"{outcome.file}: the edit did not read back as intended; nothing written"
        )
    write_atomically(path, bom + new_text.encode("utf-8"))
    outcome.written = True
    return outcome


def report_lines(outcome: Outcome) -> list[str]:
    """What locate --write tells the contributor: each change, or why nothing was written."""
    out: list[str] = []
    for r in outcome.refusals:
        out.append(f"{outcome.file}:{r.line}: {outcome.key}[{r.span}]: {r.message}")
        out += [f"    {d}" for d in r.details]
        out += [
            f"    candidate: start: {c.start}, end: {c.end}  (line {c.line})" for c in r.candidates
        ]
    for f in outcome.fixes:
        was = ", ".join(f"{k}: {'' if v is None else v}" for k, v in zip(KEYS, f.old, strict=True))
        if f.quote is not None:
            out.append(
                f"{outcome.file}:{f.line}: {outcome.key}[{f.span}]: quote: {double_quoted(f.quote)}, "
                f"start: {f.new[0]}, end: {f.new[1]}  (the text's words; was {was})"
            )
            continue
        out.append(
            f"{outcome.file}:{f.line}: {outcome.key}[{f.span}]: start: {f.new[0]}, end: {f.new[1]}"
            f"  (was {was})"
        )
    if outcome.refusals:
        out.append(
            f"{outcome.file}: nothing written ({len(outcome.refusals)} span(s) to settle first)"
        )
    elif outcome.written:
        out.append(
            f"{outcome.file}: wrote {len(outcome.fixes)} span(s), {outcome.kept} already right"
        )
    else:
        out.append(f"{outcome.file}: all {outcome.kept} span(s) already right; file unchanged")
    return out
