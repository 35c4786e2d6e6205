"""What the checks across records need to know of one record, kept from run to run.

A record's issues after every layer depend on its own file and on a few things the other
records say: which ids exist, which ids are referred to, which events share its duplicate
key, which rows share a value of a unique column, which spans touch a text whose coverage
is reported on it. A Summary holds exactly those facts of one record, plus the issues the
record had at the end of the last run, so that check/incremental.py can tell, after some
files changed, which records' issues may change with them, re-check only those and keep
the others' issues as they were.

The summaries of a whole run are stored as one cache entry of marshal data, column by
column (a hundred thousand of them load in a fraction of a second). Like every cache
entry it is never trusted blindly: decode() accepts only exactly the shape encode()
writes, and a state that fails is read as none (the run then checks everything).
"""

from __future__ import annotations

import datetime as dt
import marshal
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from itertools import chain
from typing import Any

from eventledger.check.parallel import issue_from
from eventledger.issues import Issue
from eventledger.model.kinds import PASSAGES
from eventledger.model.schema import Schema
from eventledger.read.records import Record

VERSION = 1
REASON = "reason"  # of a passage (check/coverage.py: REASON_FIELD)


def plain(value: Any) -> Any:
    """A value as marshal holds it, equal where the values are equal (dates as ordinals)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if type(value) is dt.date:
        return ("date", value.toordinal())
    if isinstance(value, (frozenset, set)):
        return ("set", *sorted((plain(v) for v in value), key=repr))
    if isinstance(value, (list, tuple)):
        return ("list", *(plain(v) for v in value))
    return ("repr", type(value).__name__, repr(value))


@dataclass(frozen=True)
class Summary:
    id: str | None
    refs: tuple[str, ...]  # target table, id, target table, id, ...: the uses that count
    dup: Any  # the duplicate key (plain), or None
    uniques: tuple[Any, ...]  # table, column, value, ...: values of unique columns
    spans: tuple[Any, ...]  # table, source id, start, end, reason, ...: rows coverage reads
    issues: tuple[tuple[Any, ...], ...]  # the record's issues after every layer


def unique_columns(schema: Schema) -> dict[str, tuple[str, ...]]:
    return {
        name: tuple(f.name for f in table.fields if f.unique)
        for name, table in schema.tables.items()
    }


def plain_key(key: tuple[object, ...] | None) -> Any:
    """A duplicate key (checker.duplicate_key) as plain data: its last part is a set."""
    if key is None:
        return None
    *fields, actors = key
    return (*map(plain, fields), plain(actors))


_SPAN_FIELD: dict[int, tuple[Schema, dict[str, str]]] = {}


def _span_fields(schema: Schema) -> dict[str, str]:
    """table -> the field holding the source id, for every span table (asked per row)."""
    found = _SPAN_FIELD.get(id(schema))
    if found is None or found[0] is not schema:
        found = _SPAN_FIELD[id(schema)] = (
            schema,
            {s.table: s.source_field for s in schema.model.spans},
        )
    return found[1]


def own_facts(
    record: Record,
    schema: Schema,
    uniques: dict[str, tuple[str, ...]],
    key: tuple[object, ...] | None,
) -> tuple[Any, tuple[Any, ...], tuple[Any, ...]]:
    """The duplicate key, the unique values and the coverage rows of a record: facts of its
    rows alone."""
    span_fields = _span_fields(schema)
    values: list[Any] = []
    spans: list[Any] = []
    for row in record.rows:
        table, got = row.table, row.values.get
        for column in uniques.get(table, ()):
            values += (table, column, plain(got(column)))
        source_field = span_fields.get(table)
        if source_field is None:
            continue
        sid, start, end = got(source_field), got("start"), got("end")
        if isinstance(sid, str) and isinstance(start, int) and isinstance(end, int):
            reason = got(REASON) if table == PASSAGES else None
            spans += (table, sid, start, end, reason if isinstance(reason, str) else None)
    return plain_key(key), tuple(values), tuple(spans)


def all_references(record: Record, schema: Schema) -> tuple[str, ...]:
    """Every reference the record's rows make, flagged or not (more than the uses that count,
    which the reference check finds): what a changed record may have started to use."""
    out: list[str] = []
    for row in record.rows:
        for ref in schema.model.references_from(row.table):
            value = row.values.get(ref.field)
            for item in (value if ref.items else [value]) if value is not None else ():
                if isinstance(item, str):
                    out += (ref.target, item)
    return tuple(out)


def summarize(
    record: Record,
    refs: Iterable[tuple[str, str]],
    key: tuple[object, ...] | None,
    schema: Schema,
    uniques: dict[str, tuple[str, ...]],
) -> Summary:
    dup, values, spans = own_facts(record, schema, uniques, key)
    flat = tuple(part for pair in refs for part in pair)
    issues = tuple(astuple(issue) for issue in record.issues)
    return Summary(record.id, flat, dup, values, spans, issues)


@dataclass
class State:
    """The summaries of the last run, file by file in its order."""

    beside: str  # the digest of the files beside records (source texts)
    rels: tuple[str, ...]
    kinds: tuple[str, ...]
    digests: tuple[str, ...]
    summaries: list[Summary]

    def issues(self, at: int) -> list[Issue]:
        """The stored issues of one file (checked: ValueError, KeyError, TypeError)."""
        out = [issue_from(list(values)) for values in self.summaries[at].issues]
        if any(i.file != self.rels[at] for i in out):
            raise ValueError("an issue of another file")
        return out


def encode(state: State) -> bytes:
    s = state.summaries
    columns = (
        tuple(x.id for x in s),
        tuple(x.refs for x in s),
        tuple(x.dup for x in s),
        tuple(x.uniques for x in s),
        tuple(x.spans for x in s),
        tuple(x.issues for x in s),
    )
    return marshal.dumps(
        (VERSION, state.beside, state.rels, state.kinds, state.digests, columns), 4
    )


_TEXT = {str}
_SPAN: tuple[set[type], ...] = ({str}, {str}, {int, bool}, {int, bool}, {str, type(None)})


def decode(payload: bytes) -> State | None:
    """The state encode() wrote, or None for anything else."""
    try:
        data = marshal.loads(payload)  # noqa: S302  # plain data only: checked below, never run
        version, beside, rels, kinds, digests, columns = data
        ids, refs, dups, uniques, spans, issues = columns
        n = len(rels)
        parts = (rels, kinds, digests, ids, refs, dups, uniques, spans, issues)
        if version != VERSION or type(beside) is not str:
            return None
        if any(type(c) is not tuple or len(c) != n for c in parts):
            return None
        for texts in (rels, kinds, digests):
            if not set(map(type, texts)) <= _TEXT:
                return None
        if not set(map(type, ids)) <= {str, type(None)}:
            return None
        # Checked column by column, in C where it can be (a hundred thousand records).
        for column, width in ((refs, 2), (uniques, 3), (spans, 5)):
            if not set(map(type, column)) <= {tuple} or any(
                n % width for n in set(map(len, column))
            ):
                return None
        if not set(map(type, chain.from_iterable(refs))) <= _TEXT:
            return None
        values = tuple(chain.from_iterable(uniques))
        if not set(map(type, values[0::3])) | set(map(type, values[1::3])) <= _TEXT:
            return None
        flat = tuple(chain.from_iterable(spans))
        for i, kinds_at in enumerate(_SPAN):
            if not set(map(type, flat[i::5])) <= kinds_at:
                return None
        hash(uniques)  # TypeError: a value no key can hold
        hash(dups)
        if not set(map(type, issues)) <= {tuple}:
            return None
        summaries = [
            Summary(*fields) for fields in zip(ids, refs, dups, uniques, spans, issues, strict=True)
        ]
    except (ValueError, TypeError, EOFError):
        return None
    return State(beside, rels, kinds, digests, summaries)
