"""One record file read into typed table rows: its shape and the type of every value.

Rules that tie fields together live in check/rules.py; value constraints that can be
checked over a whole column (vocabularies, patterns, ranges, lengths) are left to the
Pandera layer in check/tables.py, which runs once over all rows instead of once per record.
"""

from __future__ import annotations

import zlib
from collections.abc import Set
from dataclasses import dataclass, field, fields
from pathlib import Path
from sys import intern
from typing import Any

from eventledger.issues import Issue, RecordPath, format_path
from eventledger.issues.suggest import closest, did_you_mean
from eventledger.model.kinds import Kind
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import TYPES
from eventledger.read.repository import FileTooLarge, read_regular
from eventledger.syntax.strict_yaml import Document, load


class Shape:
    """The field names of a row, in order, and where each stands: shared by every row with
    these names (one per table, in practice), so a row holds only its values."""

    __slots__ = ("at", "keys")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.at = {key: i for i, key in enumerate(keys)}

    def __reduce__(self) -> tuple[Any, tuple[tuple[str, ...]]]:
        # Unpickled (rows sent back by a worker) as the parent's own shared shape.
        return shape_of, (self.keys,)


_SHAPES: dict[tuple[str, ...], Shape] = {}


def shape_of(keys: tuple[str, ...]) -> Shape:
    found = _SHAPES.get(keys)
    if found is None:
        keys = tuple(intern(k) for k in keys)
        found = _SHAPES[keys] = Shape(keys)
    return found


class Row:
    """One row of a table: its values in the order of its shape's names. (A dict per row was
    a third of a clean record's memory: hundreds of thousands of rows hold the same keys.)"""

    __slots__ = ("items", "prefix", "shape", "table")

    def __init__(
        self, table: str, items: tuple[Any, ...], prefix: RecordPath, shape: Shape
    ) -> None:
        self.table = table
        self.items = items
        self.prefix = prefix  # where the row stands in the record: () or ("evidence", 2)
        self.shape = shape

    @classmethod
    def of(cls, table: str, values: dict[str, Any], prefix: RecordPath) -> Row:
        return cls(table, tuple(values.values()), prefix, shape_of(tuple(values)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled (a worker's rows) as the constructor's arguments: a third of the default's
        # time to load in the parent, which unpickles every row of the repository.
        return Row, (self.table, self.items, self.prefix, self.shape)

    def get(self, name: str, default: Any = None) -> Any:
        at = self.shape.at.get(name)
        return default if at is None else self.items[at]

    @property
    def values(self) -> dict[str, Any]:
        """The row as a new dict of name to value (changing it changes nothing in the row)."""
        return dict(zip(self.shape.keys, self.items, strict=True))

    def replace(self, name: str, value: Any) -> None:
        """Set the value of a field the row has."""
        at = self.shape.at[name]
        self.items = (*self.items[:at], value, *self.items[at + 1 :])

    def __getitem__(self, name: str) -> Any:
        return self.items[self.shape.at[name]]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Row):
            return NotImplemented
        return (self.table, self.prefix, self.shape.keys, self.items) == (
            other.table,
            other.prefix,
            other.shape.keys,
            other.items,
        )

    __hash__ = None  # type: ignore[assignment]  # a row is compared, never a key

    def __repr__(self) -> str:
        return f"Row({self.table!r}, {self.values!r}, {self.prefix!r})"


# Most records have no field reported: they share this empty set (an empty set() is 216
# bytes, a fifth of a megabyte per thousand records) until their first flag.
NOT_FLAGGED: frozenset[RecordPath] = frozenset()


def stamp(raw: bytes) -> int:
    """What a file's bytes are checked against when they are read again: size and CRC-32."""
    return (len(raw) << 32) | zlib.crc32(raw)


_NO_ROW = Row("", (), (), shape_of(()))


@dataclass(slots=True)
class Record:
    kind: str
    file: str
    doc: Document | None
    table: str = ""  # the table of the record's main row, once read
    id_field: str = ""
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # Where the parsed file is (absolute) and the stamp of the bytes that were parsed: the
    # file is read again only when an issue needs a position (its bytes are a quarter of a
    # clean record's memory). None for a file that was never parsed.
    where: str | None = None
    stamp: int = 0
    # Field paths already reported, so the table layer does not report them twice.
    flagged: Set[RecordPath] = NOT_FLAGGED

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # As Row's: every field, in order, as the constructor's arguments.
        return Record, tuple(getattr(self, name) for name in _RECORD_FIELDS)

    @property
    def id(self) -> str | None:
        if not self.rows:
            return None
        value = self.rows[0].get(self.id_field)
        return value if isinstance(value, str) else None

    def main(self) -> Row:
        """The record's own row (a row with no fields when it has none): ask it get(name)."""
        return self.rows[0] if self.rows else _NO_ROW

    def children(self, table: str) -> list[Row]:
        return [r for r in self.rows if r.table == table]

    def position(self, path: RecordPath) -> tuple[int, int]:
        if self.doc is None and self.where is not None:
            # Only records that get an issue after reading pay for reading and parsing
            # them again.
            self.doc = self._parse_again()
        return self.doc.position(path) if self.doc else (1, 1)

    def _parse_again(self) -> Document | None:
        try:
            raw = read_regular(Path(self.where or ""), limit=self.stamp >> 32)
        except (OSError, FileTooLarge):  # gone or grown since: no position to give
            return None
        if stamp(raw) != self.stamp:  # changed since it was checked: its lines are others
            return None
        doc, _ = load(raw, self.file)
        return doc

    def drop_document(self, where: str, raw: bytes) -> None:
        """Keep where the file is and a stamp of its bytes instead of the parsed document
        (or the bytes); positions are read and parsed again if a later check reports on
        this record."""
        self.where = where
        self.stamp = stamp(raw)
        self.doc = None

    def flag(self, path: RecordPath) -> None:
        """Mark path as reported."""
        if isinstance(self.flagged, set):
            self.flagged.add(path)
        else:
            self.flagged = {*self.flagged, path}

    def report(
        self, code: str, message: str, path: RecordPath = (), *, flag: bool = True, **kw: Any
    ) -> None:
        """Add an issue at path. flag=False for issues about how fields relate, which say
        nothing against the value itself, so later checks of that value still run."""
        line, column = self.position(path)
        self.issues.append(Issue(self.file, line, column, code, message, path, **kw))
        if flag:
            self.flag(path)


_RECORD_FIELDS = tuple(f.name for f in fields(Record))


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def coerce(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """Convert a value from the YAML to the field's type; return (value, problem code)."""
    return TYPES[spec.type].parse(value)


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
    known, plan = _plan(table, extra_keys)
    for key in data if not known.issuperset(data) else ():  # one C call when all are known
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
    for name, required, parse, expected, description in plan:
        raw = data.get(name)
        if raw is None or raw == [] or raw == "":
            if required:
                path = (*prefix, name)
                at = path if name in data else prefix
                # Reported where the key should be, but only the missing field is marked: the
                # other values of this row are still checked.
                record.report(
                    "missing-field",
                    f"required field '{name}' is missing",
                    at,
                    flag=False,
                    expected=description,
                )
                record.flag(path)
            values[name] = None
            continue
        value, problem = parse(raw)
        if problem:
            record.report(
                problem,
                f"{name}: expected {expected}, found {_describe(raw)}",
                (*prefix, name),
                expected=expected,
                found=_describe(raw),
            )
        # Short texts (terms, ids, dates) are interned: a hundred thousand records otherwise
        # hold a hundred thousand copies of each, and a worker's pickled result each of them.
        if type(value) is str:
            if len(value) <= _SHORT:
                value = intern(value)
        elif type(value) is list:
            value = [intern(v) if type(v) is str and len(v) <= _SHORT else v for v in value]
        values[name] = value
    return values


_SHORT = 64


# Per table (and the child keys its mapping may hold besides its fields): the names a row
# may have, and for each written field what reading it needs. Asked for by every row of
# every record, so worked out once; the table is kept beside its plan, so an id is never
# taken for another table's after the first is gone.
_Plan = tuple[set[str], tuple[tuple[str, bool, Any, str, str], ...]]
_PLANS: dict[tuple[int, tuple[str, ...]], tuple[TableSpec, _Plan]] = {}


def _plan(table: TableSpec, extra_keys: tuple[str, ...]) -> _Plan:
    found = _PLANS.get((id(table), extra_keys))
    if found is not None and found[0] is table:
        return found[1]
    known = {f.name for f in table.written_fields} | set(extra_keys)
    fields = tuple(
        (f.name, f.required, TYPES[f.type].parse, TYPES[f.type].expected, f.description)
        for f in table.written_fields
    )
    _PLANS[(id(table), extra_keys)] = (table, (known, fields))
    return known, fields


def read_record(kind: Kind, file: str, doc: Document, schema: Schema) -> Record:
    """The record's rows: its own, then one per item of each child list, each typed."""
    record = Record(kind=kind.name, file=file, doc=doc, table=kind.table, id_field=kind.id_field)
    table = schema.tables[kind.table]
    values = read_row(record, table, doc.data, (), tuple(c.key for c in kind.children))
    if values is None:
        return record
    record.rows.append(Row.of(table.name, values, ()))
    record_id = values.get(kind.id_field)
    for child in kind.children:
        items = doc.data.get(child.key)
        if items is None:
            continue
        if not isinstance(items, list):
            record.report(
                "wrong-type",
                f"{child.key} must be a list of mappings",
                (child.key,),
                expected="a list (lines starting with '- ')",
                found=_describe(items),
            )
            continue
        spec = schema.tables[child.table]
        for i, item in enumerate(items):
            row = read_row(record, spec, item, (child.key, i))
            if row is None:
                continue
            row[child.parent_field] = record_id
            if child.position_field is not None:
                row[child.position_field] = i + 1
            record.rows.append(Row.of(child.table, row, _prefix(child.key, i)))
    return record


# A row's place, ("evidence", 2), recurs in every record: each record's rows share one
# tuple per place instead of holding their own (a pickled batch of records shares them too).
_PREFIXES: dict[tuple[str, int], RecordPath] = {}


def _prefix(key: str, i: int) -> RecordPath:
    found = _PREFIXES.get((key, i))
    if found is None:
        found = _PREFIXES[(key, i)] = (intern(key), i)
    return found
