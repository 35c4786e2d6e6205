"""Rules that tie the fields of one record together: dates in order and of their precision,
claims backed by spans, participants named once, references written as ids.

They run on the typed rows read from one file, so they are part of the per-file check
that a worker process can run and a cache can keep.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import PurePosixPath

from eventledger.model.kinds import PASSAGES, Model
from eventledger.model.schema import Schema
from eventledger.model.terms import (
    CLAIM_ACTOR,
    CLAIM_DATE,
    CLAIM_EVENT,
    CLAIM_FACTUALITY,
    CLAIM_PLACE,
    DECADE,
    INFERRED,
    MONTH,
    OCCURRED,
    RESOLVED,
    SAME_EVENT,
    STATED,
    VERIFIED,
    WEEK,
    YEAR,
)
from eventledger.read.records import Record, Row


def check_reference_paths(record: Record, model: Model) -> None:
    """A reference written as a path to the record's file (actors/x.yaml) instead of its id.

    Looked for in every field that holds the id of a record others refer to: the
    references themselves and the id fields of the records they name."""
    fields = _referenced_fields(model)
    for row in record.rows:
        for name in fields.get(row.table, ()):
            value = row.get(name)
            if isinstance(value, str) and (
                "/" in value or value.endswith((".yaml", ".yml", ".txt"))
            ):
                path = PurePosixPath(value)
                # sources/<id>/source.yaml and sources/<id>/text.txt name their folder
                stem = path.parent.name if path.name in _in_id_folders(model) else path.stem
                record.report(
                    "reference-is-path",
                    f"{name} '{value}' is a path; references are plain ids",
                    (*row.prefix, name),
                    found=value,
                    expected="an id",
                    hint=f"write {name}: {stem}",
                )
                # Later checks read the id that was meant, so one mistake is reported once.
                row.replace(name, stem)


def _last_day(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


Interval = tuple[dt.date, dt.date]

# The interval a coarse precision stands for: the whole months, years or decades that
# contain the dates given (UCDP style: the interval is everything the source allows).
WHOLE_UNITS: dict[str, tuple[str, Callable[[dt.date, dt.date], Interval]]] = {
    MONTH: ("month", lambda s, e: (s.replace(day=1), e.replace(day=_last_day(e)))),
    YEAR: ("year", lambda s, e: (dt.date(s.year, 1, 1), dt.date(e.year, 12, 31))),
    DECADE: (
        "decade",
        lambda s, e: (dt.date(s.year // 10 * 10, 1, 1), dt.date(e.year // 10 * 10 + 9, 12, 31)),
    ),
}


def _referenced_fields(model: Model) -> dict[str, tuple[str, ...]]:
    scalar = [r for r in model.references if not r.structural and not r.items]
    out: dict[str, set[str]] = {}
    for ref in scalar:
        out.setdefault(ref.table, set()).add(ref.field)
        out.setdefault(ref.target, set()).add(ref.target_field)
    return {table: tuple(sorted(names)) for table, names in out.items()}


def _in_id_folders(model: Model) -> set[str]:
    """File names that stand in a folder named by a record's id (source.yaml, text.txt)."""
    return {
        name
        for k in model.kinds
        if k.layout.id_folder
        for name in (k.layout.file, *k.layout.companions)
    }


def check_record(record: Record, schema: Schema) -> None:
    """Every rule about one record on its own, after its rows are read."""
    if not record.rows:
        return
    check_reference_paths(record, schema.model)
    if record.kind == "event":
        check_event(record, schema)
    elif record.kind == "source":
        check_source_dates(record)
    kind = schema.model.kind(record.kind)
    if any(c.table == PASSAGES for c in kind.children):
        _check_uncoded(record)


def _check_uncoded(record: Record) -> None:
    """An uncoded set lists at least one passage (the record JSON Schema says so too)."""
    assert record.doc is not None  # noqa: S101 - read_record sets doc before any rule; for mypy
    items = record.doc.data.get(PASSAGES)
    if not (isinstance(items, list) and items) and (PASSAGES,) not in record.flagged:
        record.report(
            "missing-field",
            f"required field '{PASSAGES}' is missing or empty",
            (PASSAGES,) if PASSAGES in record.doc.data else (),
            flag=False,
            expected="a list of passages: - start: ..., end: ..., quote: ..., reason: ...",
            hint="a source whose every sentence is coded needs no uncoded.yaml: delete it",
        )
    for row in record.children(PASSAGES):
        _check_passage(record, row)


PASSAGE_EVENT = "event_id"  # the field of a passage that names the event coding its act


def _check_passage(record: Record, row: Row) -> None:
    """A passage names the event that codes its act exactly when its reason is same-event."""
    reason, event = row.get("reason"), row.get(PASSAGE_EVENT)
    if reason == SAME_EVENT and not event and (*row.prefix, PASSAGE_EVENT) not in record.flagged:
        record.report(
            "same-event-mismatch",
            f"reason {SAME_EVENT} but no {PASSAGE_EVENT} names the record that codes the act",
            (*row.prefix, "reason"),
            expected=f"{PASSAGE_EVENT}: the id of that event",
            flag=False,
        )
    elif event and isinstance(reason, str) and reason != SAME_EVENT:
        record.report(
            "same-event-mismatch",
            f"{PASSAGE_EVENT} is given but the reason is {reason}, not {SAME_EVENT}",
            (*row.prefix, PASSAGE_EVENT),
            found=str(event),
            hint=f"remove {PASSAGE_EVENT}, or set reason: {SAME_EVENT} if that record codes "
            "the act the passage tells",
            flag=False,
        )


def check_source_dates(record: Record) -> None:
    """A source whose day is uncertain: the day recorded lies within the days the text allows."""
    values = record.main()
    named = ("published_earliest", "published", "published_latest")
    days = [(k, d) for k in named if isinstance(d := values.get(k), dt.date)]
    for (k1, d1), (k2, d2) in itertools.pairwise(days):
        if d1 > d2:
            record.report(
                "dates-out-of-order",
                f"{k1} {d1} is after {k2} {d2}",
                (k1,),
                expected="published_earliest <= published <= published_latest",
                found=" / ".join(f"{k}: {d}" for k, d in days),
            )
            return


def check_event(record: Record, schema: Schema) -> None:
    """Rules that tie the fields of one event together."""
    ev = record.main()
    participants = record.children("participants")
    spans = record.children("evidence")
    start, end, precision = ev.get("date_start"), ev.get("date_end"), ev.get("date_precision")
    if isinstance(start, dt.date) and isinstance(end, dt.date):
        if start > end:
            record.report(
                "dates-out-of-order",
                f"date_start {start} is after date_end {end}",
                ("date_start",),
                expected=f"date_start <= {end}",
                found=str(start),
            )
        elif precision == WEEK and (end - start).days > 6:
            record.report(
                "date-precision-mismatch",
                f"a week-precision interval spans {(end - start).days + 1} days",
                ("date_precision",),
                expected="at most 7 days",
                found=f"{start} .. {end}",
            )
        elif precision in WHOLE_UNITS:
            unit, widen = WHOLE_UNITS[precision]
            whole = widen(start, end)
            if (start, end) != whole:
                record.report(
                    "date-precision-mismatch",
                    f"a {precision}-precision interval runs over whole {unit}s",
                    ("date_precision",),
                    expected=f"{whole[0]} .. {whole[1]}",
                    found=f"{start} .. {end}",
                    hint=f"widen the interval to whole {unit}s, or choose a finer precision",
                )
    if ev.get("date_basis") in (RESOLVED, INFERRED) and not ev.get("date_note"):
        record.report(
            "date-note-missing",
            f"date_basis is {ev['date_basis']} but date_note is empty",
            ("date_basis",),
            hint="say in date_note how the date was obtained",
        )
    coordinates_read = ("latitude",) not in record.flagged and ("longitude",) not in record.flagged
    if coordinates_read and (ev.get("latitude") is None) != (ev.get("longitude") is None):
        missing = "longitude" if ev.get("longitude") is None else "latitude"
        record.report(
            "incomplete-coordinates",
            f"{missing} is missing",
            ("latitude",),
            expected="both latitude and longitude, or neither",
        )
    if ev.get("review_status") == VERIFIED:
        for name in ("reviewed_by", "reviewed_on"):
            if not ev.get(name):
                record.report(
                    "verified-without-reviewer",
                    f"a verified record needs {name}",
                    ("review_status",),
                    expected=name,
                )
    assert record.doc is not None  # noqa: S101 - read_record sets doc before any rule; for mypy
    data = record.doc.data
    if "participants" not in data and "participants" not in {p[0] for p in record.flagged if p}:
        record.report(
            "missing-field",
            "required field 'participants' is missing",
            (),
            flag=False,
            expected="a list of participants: - actor_id: ..., role: ...",
        )
    seen: dict[str, int] = {}
    for row in participants:
        actor = row.get("actor_id")
        if isinstance(actor, str):
            if actor in seen:
                record.report(
                    "duplicate-participant",
                    f"actor '{actor}' is listed twice (first as participants[{seen[actor]}])",
                    (*row.prefix, "actor_id"),
                    found=actor,
                )
            seen.setdefault(actor, row.prefix[1])  # type: ignore[arg-type]
    if not spans:
        if (
            not (isinstance(data.get("evidence"), list) and data["evidence"])
            and ("evidence",) not in record.flagged
        ):
            record.report(
                "no-evidence",
                "the event has no evidence span",
                ("evidence",) if "evidence" in data else (),
                flag=False,
                hint='add a span; eventledger locate SOURCE_ID "quote" gives its offsets',
            )
        return
    broken = any(p and p[0] == "participants" and len(p) <= 2 for p in record.flagged)
    if not broken:  # claims about actors mean nothing while the participant list is malformed
        _check_claims(record, ev, participants, spans, set(seen), schema)


def _check_claims(
    record: Record,
    ev: Row,
    participants: list[Row],
    spans: list[Row],
    actors: set[str],
    schema: Schema,
) -> None:
    claims: set[str] = set()
    backed: set[str] = set()
    for row in spans:
        supports = row.get("supports") or []
        named = row.get("actor_ids") or []
        claims.update(supports)
        if named and CLAIM_ACTOR not in supports:
            record.report(
                "span-actor-not-participant",
                "actor_ids is given but supports lacks 'actor'",
                (*row.prefix, "supports"),
                expected="supports including actor",
                found=str(supports),
                flag=False,
            )
        if CLAIM_ACTOR in supports and not named:
            record.report(
                "span-actor-not-participant",
                "supports names 'actor' but actor_ids is empty",
                (*row.prefix, "actor_ids"),
                expected="the ids of the actors the span names",
                flag=False,
            )
        for actor in named:
            if actor not in actors:
                record.report(
                    "span-actor-not-participant",
                    f"actor_ids names '{actor}', who is not a participant",
                    (*row.prefix, "actor_ids"),
                    found=actor,
                    expected=", ".join(sorted(actors)),
                    flag=False,
                )
        if CLAIM_ACTOR in supports:
            backed.update(named)
    required: list[str] = [CLAIM_EVENT]
    if ev.get("date_basis") in (STATED, RESOLVED):
        required.append(CLAIM_DATE)
    if ev.get("place_name"):
        required.append(CLAIM_PLACE)
    # A term outside the vocabulary is reported by the table checks; asking for a span
    # that supports it would only add noise.
    factuality = ev.get("factuality")
    if factuality != OCCURRED and factuality in schema.vocabularies[OCCURRED.vocabulary].terms:
        required.append(CLAIM_FACTUALITY)
    for claim in required:
        if claim not in claims:
            record.report(
                "unsupported-claim",
                f"no span supports the claim '{claim}'",
                ("evidence",),
                expected=f"a span with '{claim}' in supports",
                flag=False,
            )
    for row in participants:
        actor = row.get("actor_id")
        if isinstance(actor, str) and actor not in backed:
            record.report(
                "unsupported-claim",
                f"no span supports the participation of '{actor}'",
                (*row.prefix, "actor_id"),
                expected=f"a span with supports [actor] and actor_ids [{actor}]",
                flag=False,
            )
