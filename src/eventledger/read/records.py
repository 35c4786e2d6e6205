"""One record file: its shape, its types and the rules that tie its fields together.

A record is turned into typed table rows here. Value constraints that can be checked
over a whole column (vocabularies, patterns, ranges, lengths) are left to the Pandera
layer in tables.py, which runs once over all rows instead of once per record.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from eventledger.issues import Issue, RecordPath, format_path
from eventledger.issues.suggest import closest, did_you_mean
from eventledger.model.patterns import ISO_DAY
from eventledger.model.schema import CHILD_TABLES, FieldSpec, Schema, TableSpec
from eventledger.read.strict_yaml import Document, load

KINDS = {"event": "events", "actor": "actors", "source": "sources"}
ID_FIELDS = {"events": "event_id", "actors": "actor_id", "sources": "source_id"}

_INT = re.compile(r"[+-]?[0-9]+")
_NUM = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass
class Row:
    table: str
    values: dict[str, Any]
    prefix: RecordPath  # where the row stands in the record: () or ("evidence", 2)


@dataclass
class Record:
    kind: str
    file: str
    doc: Document | None
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    raw: bytes | None = None
    # Field paths already reported, so the table layer does not report them twice.
    flagged: set[RecordPath] = field(default_factory=set)

    @property
    def table(self) -> str:
        return KINDS[self.kind]

    @property
    def id(self) -> str | None:
        if not self.rows:
            return None
        value = self.rows[0].values.get(ID_FIELDS[self.table])
        return value if isinstance(value, str) else None

    def main(self) -> dict[str, Any]:
        return self.rows[0].values if self.rows else {}

    def children(self, table: str) -> list[Row]:
        return [r for r in self.rows if r.table == table]

    def position(self, path: RecordPath) -> tuple[int, int]:
        if self.doc is None and self.raw is not None:
            # Only records that get an issue after reading pay for parsing them again.
            self.doc, _ = load(self.raw, self.file)
        return self.doc.position(path) if self.doc else (1, 1)

    def drop_document(self, raw: bytes) -> None:
        """Keep the file's bytes instead of the parsed document (a fraction of the memory);
        positions are parsed again if a later check reports on this record."""
        self.raw = raw
        self.doc = None

    def report(
        self, code: str, message: str, path: RecordPath = (), *, flag: bool = True, **kw: Any
    ) -> None:
        """Add an issue at path. flag=False for issues about how fields relate, which say
        nothing against the value itself, so later checks of that value still run."""
        line, column = self.position(path)
        self.issues.append(Issue(self.file, line, column, code, message, path, **kw))
        if flag:
            self.flagged.add(path)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def coerce(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """Convert a string from the YAML to the field's type; return (value, problem code)."""
    if spec.type == "list":
        if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
            return None, "wrong-type"
        return list(value), None
    if not isinstance(value, str):
        return None, "wrong-type"
    if spec.type == "string":
        return value, None
    if spec.type == "integer":
        if not _INT.fullmatch(value):
            return None, "wrong-type"
        number = int(value)
        # Integer columns are 64-bit in every table format we publish (Int64, Arrow int64).
        return (number, None) if -(2**63) <= number < 2**63 else (None, "out-of-range")
    if spec.type == "number":
        if not _NUM.fullmatch(value):
            return None, "wrong-type"
        real = float(value)
        return (real, None) if math.isfinite(real) else (None, "out-of-range")
    if spec.type == "date":
        if not ISO_DAY.fullmatch(value):
            return None, "invalid-date"
        try:
            return dt.date.fromisoformat(value), None
        except ValueError:
            return None, "invalid-date"
    raise AssertionError(spec.type)  # schema.py admits no other type


_EXPECTED = {
    "string": "text",
    "integer": "a whole number between -2**63 and 2**63 - 1",
    "number": "a finite number",
    "date": "a date YYYY-MM-DD",
    "list": "a list of text, e.g. [a, b]",
}


def read_row(
    record: Record,
    table: TableSpec,
    data: Any,
    prefix: RecordPath,
    extra_keys: tuple[str, ...] = (),
) -> dict[str, Any] | None:
    """Check one mapping against a table's written fields and return its typed values."""
    if not isinstance(data, dict):
        if prefix:
            record.report(
                "wrong-type",
                f"{format_path(prefix)} must be a mapping of fields",
                prefix,
                expected="a mapping (key: value lines)",
                found=_describe(data),
            )
        else:
            record.report(
                "not-a-mapping",
                "the top level of a record must be a mapping",
                prefix,
                expected="a mapping",
                found=_describe(data),
            )
        return None
    known = {f.name for f in table.written_fields} | set(extra_keys)
    for key in data:
        if key not in known:
            close = closest(key, known)
            record.report(
                "unknown-field",
                f"unknown field '{key}' in {table.name}",
                (*prefix, key),
                found=key,
                expected=", ".join(sorted(known)) if close is None else close,
                hint=did_you_mean(key, known),
            )
    values: dict[str, Any] = {}
    for spec in table.written_fields:
        path = (*prefix, spec.name)
        raw = data.get(spec.name)
        if raw is None or raw == [] or raw == "":
            if spec.required:
                at = path if spec.name in data else prefix
                # Reported where the key should be, but only the missing field is marked: the
                # other values of this row are still checked.
                record.report(
                    "missing-field",
                    f"required field '{spec.name}' is missing",
                    at,
                    flag=False,
                    expected=spec.description,
                )
                record.flagged.add(path)
            values[spec.name] = None
            continue
        value, problem = coerce(spec, raw)
        if problem:
            record.report(
                problem,
                f"{spec.name}: expected {_EXPECTED[spec.type]}, found {_describe(raw)}",
                path,
                expected=_EXPECTED[spec.type],
                found=_describe(raw),
            )
        values[spec.name] = value
    return values


def read_record(kind: str, file: str, doc: Document, schema: Schema) -> Record:
    record = Record(kind=kind, file=file, doc=doc)
    table = schema.tables[KINDS[kind]]
    children = tuple(CHILD_TABLES) if kind == "event" else ()
    values = read_row(record, table, doc.data, (), children)
    if values is None:
        return record
    record.rows.append(Row(table.name, values, ()))
    if kind != "event":
        _check_references(record, [Row(table.name, values, ())])
        return record
    event_id = values.get("event_id")
    for child, key in CHILD_TABLES.items():
        items = doc.data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            record.report(
                "wrong-type",
                f"{key} must be a list of mappings",
                (key,),
                expected="a list (lines starting with '- ')",
                found=_describe(items),
            )
            continue
        spec = schema.tables[child]
        for i, item in enumerate(items):
            row = read_row(record, spec, item, (key, i))
            if row is None:
                continue
            row["event_id"] = event_id
            if "span" in spec.field_names:
                row["span"] = i + 1
            record.rows.append(Row(child, row, (key, i)))
    check_event(record, schema)
    return record


def _check_references(record: Record, rows: list[Row]) -> None:
    for row in rows:
        for name in ("actor_id", "source_id"):
            value = row.values.get(name)
            if isinstance(value, str) and (
                "/" in value or value.endswith((".yaml", ".yml", ".txt"))
            ):
                path = PurePosixPath(value)
                # sources/<id>/source.yaml and sources/<id>/text.txt name their folder
                stem = path.parent.name if path.name in ("source.yaml", "text.txt") else path.stem
                record.report(
                    "reference-is-path",
                    f"{name} '{value}' is a path; references are plain ids",
                    (*row.prefix, name),
                    found=value,
                    expected="an id",
                    hint=f"write {name}: {stem}",
                )
                # Later checks read the id that was meant, so one mistake is reported once.
                row.values[name] = stem


def _last_day(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


Interval = tuple[dt.date, dt.date]

# The interval a coarse precision stands for: the whole months, years or decades that
# contain the dates given (UCDP style: the interval is everything the source allows).
WHOLE_UNITS: dict[str, tuple[str, Callable[[dt.date, dt.date], Interval]]] = {
    "month": ("month", lambda s, e: (s.replace(day=1), e.replace(day=_last_day(e)))),
    "year": ("year", lambda s, e: (dt.date(s.year, 1, 1), dt.date(e.year, 12, 31))),
    "decade": (
        "decade",
        lambda s, e: (dt.date(s.year // 10 * 10, 1, 1), dt.date(e.year // 10 * 10 + 9, 12, 31)),
    ),
}


def check_event(record: Record, schema: Schema) -> None:
    """Rules that tie the fields of one event together."""
    ev = record.main()
    participants = record.children("participants")
    spans = record.children("evidence")
    _check_references(record, participants + spans)
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
        elif precision == "week" and (end - start).days > 6:
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
    if ev.get("date_basis") in ("resolved", "inferred") and not ev.get("date_note"):
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
    if ev.get("review_status") == "verified":
        for name in ("reviewed_by", "reviewed_on"):
            if not ev.get(name):
                record.report(
                    "verified-without-reviewer",
                    f"a verified record needs {name}",
                    ("review_status",),
                    expected=name,
                )
    assert record.doc is not None
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
        actor = row.values.get("actor_id")
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
    ev: dict[str, Any],
    participants: list[Row],
    spans: list[Row],
    actors: set[str],
    schema: Schema,
) -> None:
    claims: set[str] = set()
    backed: set[str] = set()
    for row in spans:
        supports = row.values.get("supports") or []
        named = row.values.get("actor_ids") or []
        claims.update(supports)
        if named and "actor" not in supports:
            record.report(
                "span-actor-not-participant",
                "actor_ids is given but supports lacks 'actor'",
                (*row.prefix, "supports"),
                expected="supports including actor",
                found=str(supports),
                flag=False,
            )
        if "actor" in supports and not named:
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
        if "actor" in supports:
            backed.update(named)
    required = ["event"]
    if ev.get("date_basis") in ("stated", "resolved"):
        required.append("date")
    if ev.get("place_name"):
        required.append("place")
    # A term outside the vocabulary is reported by the table checks; asking for a span
    # that supports it would only add noise.
    factuality = ev.get("factuality")
    if factuality != "occurred" and factuality in schema.vocabularies["factuality"].terms:
        required.append("factuality")
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
        actor = row.values.get("actor_id")
        if isinstance(actor, str) and actor not in backed:
            record.report(
                "unsupported-claim",
                f"no span supports the participation of '{actor}'",
                (*row.prefix, "actor_id"),
                expected=f"a span with supports [actor] and actor_ids [{actor}]",
                flag=False,
            )
