"""One record file read into typed table rows: its shape and the type of every value.

Rules that tie fields together live in check/rules.py; value constraints that can be
checked over a whole column (vocabularies, patterns, ranges, lengths) are left to the
Pandera layer in check/tables.py, which runs once over all rows instead of once per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from sys import intern
from typing import Any

from eventledger.issues import Issue, RecordPath, format_path
from eventledger.issues.suggest import closest, did_you_mean
from eventledger.model.kinds import Kind
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import TYPES
from eventledger.syntax.strict_yaml import Document, load


@dataclass(slots=True)  # hundreds of thousands of them: no __dict__ each
class Row:
    table: str
    values: dict[str, Any]
    prefix: RecordPath  # where the row stands in the record: () or ("evidence", 2)


@dataclass(slots=True)
class Record:
    kind: str
    file: str
    doc: Document | None
    table: str = ""  # the table of the record's main row, once read
    id_field: str = ""
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    raw: bytes | None = None
    # Field paths already reported, so the table layer does not report them twice.
    flagged: set[RecordPath] = field(default_factory=set)

    @property
    def id(self) -> str | None:
        if not self.rows:
            return None
        value = self.rows[0].values.get(self.id_field)
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
                record.flagged.add(path)
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
    record.rows.append(Row(table.name, values, ()))
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
            record.rows.append(Row(child.table, row, (child.key, i)))
    return record
