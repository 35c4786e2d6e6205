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
import hashlib
import marshal
import secrets
from collections.abc import Iterable
from dataclasses import astuple, dataclass, field
from itertools import chain
from operator import itemgetter
from sys import intern
from typing import Any

from eventledger.issues import Issue
from eventledger.issues.stored import issue_from
from eventledger.model.kinds import PASSAGES
from eventledger.model.schema import Schema
from eventledger.read.records import Record

VERSION = 3
DIGEST = 32
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
    refs: tuple[str, ...]  # use(target table, id) of each use that counts
    dup: bytes | None  # the duplicate key's digest (plain_key), or None
    uniques: tuple[tuple[str, str, Any], ...]  # (table, column, value) of unique columns
    spans: tuple[Any, ...]  # table, source id, start, end, reason, ...: rows coverage reads
    issues: tuple[tuple[Any, ...], ...]  # the record's issues after every layer


def unique_columns(schema: Schema) -> dict[str, tuple[str, ...]]:
    return {
        name: tuple(f.name for f in table.fields if f.unique)
        for name, table in schema.tables.items()
    }


def plain_key(key: tuple[object, ...] | None) -> bytes | None:
    """A duplicate key (checker.duplicate_key) as 12 bytes of a digest of its plain form (its
    last part is a set): only compared, and one small object instead of five tuples. Two
    keys that differ and share a digest would only make a partial check re-check both."""
    if key is None:
        return None
    *fields, actors = key
    text = repr((*map(plain, fields), plain(actors)))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()


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


OwnFacts = tuple[bytes | None, tuple[Any, ...], tuple[Any, ...]]


def own_facts(
    record: Record,
    schema: Schema,
    uniques: dict[str, tuple[str, ...]],
    key: tuple[object, ...] | None,
) -> OwnFacts:
    """The duplicate key, the unique values and the coverage rows of a record: facts of its
    rows alone."""
    span_fields = _span_fields(schema)
    values: list[Any] = []
    spans: list[Any] = []
    for row in record.rows:
        table, got = row.table, row.get
        for column in uniques.get(table, ()):
            values.append((table, column, plain(got(column))))
        source_field = span_fields.get(table)
        if source_field is None:
            continue
        sid, start, end = got(source_field), got("start"), got("end")
        if isinstance(sid, str) and isinstance(start, int) and isinstance(end, int):
            reason = got(REASON) if table == PASSAGES else None
            spans += (table, sid, start, end, reason if isinstance(reason, str) else None)
    return plain_key(key), tuple(values), tuple(spans)


def use(table: str, rid: str) -> str:
    """A reference as stored: the target table and the id in one text (a table's name holds
    no NUL, so the first NUL parts them), which sets of them take in C."""
    return intern(f"{table}\0{rid}")  # one object per distinct use: marshal stores it once


def all_references(record: Record, schema: Schema) -> tuple[str, ...]:
    """Every reference the record's rows make, flagged or not (more than the uses that count,
    which the reference check finds): what a changed record may have started to use."""
    out: list[str] = []
    for row in record.rows:
        for ref in schema.model.references_from(row.table):
            value = row.get(ref.field)
            for item in (value if ref.items else [value]) if value is not None else ():
                if isinstance(item, str):
                    out.append(use(ref.target, item))
    return tuple(out)


def summarize(
    record: Record,
    refs: Iterable[tuple[str, str]],
    key: tuple[object, ...] | None,
    schema: Schema,
    uniques: dict[str, tuple[str, ...]],
    own: OwnFacts | None = None,
) -> Summary:
    """own: own_facts(record, schema, uniques, key), when it was made already."""
    dup, values, spans = own if own is not None else own_facts(record, schema, uniques, key)
    flat = tuple(use(table, rid) for table, rid in refs)
    issues = tuple(astuple(issue) for issue in record.issues)
    return Summary(record.id, flat, dup, values, spans, issues)


def fields_of(s: Summary) -> tuple[Any, ...]:
    return (s.id, s.refs, s.dup, s.uniques, s.spans, s.issues)


Entry = tuple[str, str, bytes, Summary]  # rel, kind, digest, summary


@dataclass
class State:
    """The summaries of the last run, file by file, column by column (a hundred thousand
    Summary objects would cost more to make than the rest of a partial check).

    Stored as a base (written by a whole check) and a patch of the files a partial check
    re-checked since (small: a partial check writes only what it changed); the base is
    written again when the patch grows past an eighth of it.
    """

    generation: str  # which base a patch belongs to
    beside: str  # the digest of the files beside records (source texts)
    rels: list[str]
    kinds: list[str]
    digests: list[bytes]
    ids: list[str | None]
    refs: list[tuple[str, ...]]  # use(target table, id), ...
    dups: list[Any]
    uniques: list[tuple[Any, ...]]  # table, column, value, ...
    spans: list[tuple[Any, ...]]  # table, source id, start, end, reason, ...
    issues: list[tuple[tuple[Any, ...], ...]]
    patch: dict[str, Entry | None] = field(default_factory=dict)  # None: removed
    removed: set[int] = field(default_factory=set)

    def issues_of(self, at: int) -> list[Issue]:
        """The stored issues of one file (checked: ValueError, KeyError, TypeError)."""
        out = [issue_from(list(values)) for values in self.issues[at]]
        if any(i.file != self.rels[at] for i in out):
            raise ValueError("an issue of another file")
        return out

    def _apply(self, rel: str, entry: Entry | None, at: dict[str, int]) -> None:
        i = at.get(rel)
        if entry is None:
            if i is not None:
                self.removed.add(i)
            return
        _, kind, digest, summary = entry
        row = (rel, kind, digest, *fields_of(summary))
        if i is None:
            at[rel] = len(self.rels)
            for column, value in zip(self._columns(), row, strict=True):
                column.append(value)
        else:
            self.removed.discard(i)
            for column, value in zip(self._columns(), row, strict=True):
                column[i] = value

    def _columns(self) -> tuple[list[Any], ...]:
        return (
            self.rels,
            self.kinds,
            self.digests,
            self.ids,
            self.refs,
            self.dups,
            self.uniques,
            self.spans,
            self.issues,
        )

    def overlay(self, patch: dict[str, Entry | None]) -> None:
        at = {rel: i for i, rel in enumerate(self.rels)}
        for rel, entry in patch.items():
            self._apply(rel, entry, at)
        self.patch.update(patch)

    def present(self) -> Iterable[int]:
        return (i for i in range(len(self.rels)) if i not in self.removed)

    def summary(self, at: int) -> Summary:
        return Summary(
            self.ids[at],
            self.refs[at],
            self.dups[at],
            self.uniques[at],
            self.spans[at],
            self.issues[at],
        )


def whole_state(beside: str, entries: list[Entry]) -> State:
    """new_state() of a whole check's entries, whose files are each listed once: its columns
    made in one pass each instead of entry by entry (a second of a cold run's lone tail at a
    hundred thousand records)."""
    rels = [entry[0] for entry in entries]
    if len(set(rels)) != len(rels):
        return new_state(beside, entries)
    summaries = [entry[3] for entry in entries]
    return State(
        secrets.token_hex(8),
        beside,
        rels,
        [entry[1] for entry in entries],
        [entry[2] for entry in entries],
        [s.id for s in summaries],
        [s.refs for s in summaries],
        [s.dup for s in summaries],
        [s.uniques for s in summaries],
        [s.spans for s in summaries],
        [s.issues for s in summaries],
    )


def new_state(beside: str, entries: Iterable[Entry]) -> State:
    state = State(secrets.token_hex(8), beside, [], [], [], [], [], [], [], [], [])
    at: dict[str, int] = {}
    for entry in entries:
        state._apply(entry[0], entry, at)
    return state


def encode_base(state: State) -> bytes:
    if state.removed or any(("\0" in r) for r in state.kinds):
        raise ValueError("only a whole state is a base")
    return marshal.dumps(
        (
            VERSION,
            state.generation,
            state.beside,
            "\0".join(state.rels),
            "\0".join(state.kinds),
            b"".join(state.digests),
            tuple(state.ids),
            tuple(state.refs),
            tuple(state.dups),
            tuple(state.uniques),
            tuple(state.spans),
            tuple(state.issues),
        ),
        4,
    )


def encode_patch(state: State) -> bytes:
    entries = tuple(
        (rel,) if entry is None else (rel, entry[1], entry[2], *fields_of(entry[3]))
        for rel, entry in state.patch.items()
    )
    return marshal.dumps((VERSION, state.generation, entries), 4)


_TEXT = {str}
_SPAN: tuple[set[type], ...] = ({str}, {str}, {int, bool}, {int, bool}, {str, type(None)})


def _all_text(items: Iterable[Any]) -> bool:
    """Whether every item is a str. The distinct items are typed, not every one: a reference
    is stored once per target (summary.use) and a span names one of a few tables and
    sources, so 700k references of 100k records are a few hundred texts, and this takes half
    the time. An item that cannot be in a set is no text either."""
    try:
        return set(map(type, set(items))) <= _TEXT
    except TypeError:
        return False


def _checked(
    ids: tuple[Any, ...],
    refs: tuple[Any, ...],
    dups: tuple[Any, ...],
    uniques: tuple[Any, ...],
    spans: tuple[Any, ...],
    issues: tuple[Any, ...],
) -> bool:
    """Whether the columns have exactly the shape encode_base() writes. Checked column by
    column, in C where it can be (a hundred thousand records)."""
    n = len(ids)
    if any(type(c) is not tuple or len(c) != n for c in (refs, dups, uniques, spans, issues)):
        return False
    if not set(map(type, ids)) <= {str, type(None)}:
        return False
    if not set(map(type, refs)) <= {tuple}:
        return False
    if not set(map(type, spans)) <= {tuple} or any(k % 5 for k in set(map(len, spans))):
        return False
    if not _all_text(chain.from_iterable(refs)):
        return False
    if not set(map(type, uniques)) <= {tuple}:
        return False
    triples = tuple(chain.from_iterable(uniques))
    if not set(map(type, triples)) <= {tuple} or not set(map(len, triples)) <= {3}:
        return False
    if (
        not set(map(type, map(itemgetter(0), triples)))
        | set(map(type, map(itemgetter(1), triples)))
        <= _TEXT
    ):
        return False
    flat = tuple(chain.from_iterable(spans))
    if not _all_text(flat[0::5]) or not _all_text(flat[1::5]):
        return False
    for i, kinds_at in enumerate(_SPAN[2:], 2):
        if not set(map(type, flat[i::5])) <= kinds_at:
            return False
    hash(uniques)  # TypeError: a value no key can hold
    if not set(map(type, dups)) <= {bytes, type(None)}:
        return False
    return set(map(type, issues)) <= {tuple}


def decode(base: bytes, patch: bytes | None) -> State | None:
    """The state encode_base() and encode_patch() wrote, or None for anything else (a
    patch of another base is left out: the base alone is the state of a whole check)."""
    try:
        data = marshal.loads(base)  # noqa: S302  # plain data only: checked below, never run
        version, generation, beside, rels, kinds, digests, *columns = data
        if version != VERSION or not set(map(type, (generation, beside, rels, kinds))) <= _TEXT:
            return None
        if type(digests) is not bytes:
            return None
        names = rels.split("\0") if rels else []
        n = len(names)
        kind_names = kinds.split("\0") if kinds else []
        if len(kind_names) != n or len(digests) != DIGEST * n or not _checked(*columns):
            return None
        if len(columns[0]) != n:
            return None
        ids, refs, dups, uniques, spans, issues = columns
        state = State(
            generation,
            beside,
            names,
            kind_names,
            [digests[k : k + DIGEST] for k in range(0, len(digests), DIGEST)],
            list(ids),
            list(refs),
            list(dups),
            list(uniques),
            list(spans),
            list(issues),
        )
        if patch:
            found = _patch(patch, generation)
            if found is not None:
                state.overlay(found)
    except (ValueError, TypeError, EOFError):
        return None
    return state


def _patch(payload: bytes, generation: str) -> dict[str, Entry | None] | None:
    data = marshal.loads(payload)  # noqa: S302  # plain data only: checked below, never run
    version, of, entries = data
    if version != VERSION or of != generation or type(entries) is not tuple:
        return None
    out: dict[str, Entry | None] = {}
    for entry in entries:
        if type(entry) is not tuple or type(entry[0]) is not str:
            return None
        if len(entry) == 1:
            out[entry[0]] = None
            continue
        rel, kind, digest, *fields = entry
        if type(kind) is not str or type(digest) is not bytes or len(digest) != DIGEST:
            return None
        if not _checked(*((f,) for f in fields)):
            return None
        out[rel] = (rel, kind, digest, Summary(*fields))
    return out
