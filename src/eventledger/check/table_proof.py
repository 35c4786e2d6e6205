"""Whether Pandera would pass a few rows, told without pandas or Pandera where that is certain.

A check after a few changes (check/partial.py) runs the table layer over a few dozen rows.
Importing pandas and Pandera and warming them up costs more than a second, most of such a
run, while the rows of a valid record plainly pass every check the derived schema holds
(model/pandera_schema.py): a type, required, unique, a vocabulary or code list, a pattern,
a range, a length. clean() says "they pass" only where each value has exactly the Python
type the column's dtype is built from and every check is one whose outcome on such a value
is certain (a membership, a full match, a comparison, a length); on anything else (a null
in a required or unique column, a float that is not finite, an integer beyond 64 bits, a
list column with a range or a length, two equal keys) it says "not certain", and Pandera
itself checks the rows, with the same answer it always gives.

A whole check asks it first too (check/checker.py): every valid repository's rows pass, and
proving them column by column costs a fraction of building the tables and running Pandera,
which the parent did alone after the workers were done (about 7 s of a cold run at a
hundred thousand records), so a clean repository imports neither pandas nor Pandera.

It never reports a failure: a failure's wording and order are Pandera's, so only Pandera
tells them. tests/test_table_proof.py holds it to Pandera's verdict on random rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

from eventledger.model.codelists import codelist
from eventledger.model.constraints import field_constraints
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.read.records import Record, Row

INT64 = 1 << 63

# Each column is tested whole, and each check over its distinct values only: a type is a
# set of types (in C), a vocabulary or code list a subset, a range the least and greatest
# value, a pattern one match per distinct value. At a hundred thousand records a whole
# check's rows are proved in a fraction of the time Pandera takes, so a clean repository
# needs neither pandas nor Pandera at all.
_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "date": frozenset({dt.date}),
    "list": frozenset({list}),
}


@dataclass(frozen=True)
class _Column:
    """A field's checks, as tests of a whole column."""

    name: str
    kind: str
    nullable: bool  # a null passes: neither required nor unique
    unique: bool
    members: tuple[frozenset[str], ...]  # a vocabulary, a code list
    regex: re.Pattern[str] | None
    low: float | None
    high: float | None
    shortest: int | None
    longest: int | None


def _column_of(spec: FieldSpec, schema: Schema) -> _Column | None:
    """The field's checks, or None when one of them is not certain without Pandera."""
    if spec.type not in _TYPES:
        return None
    if spec.type == "list" and any(
        x is not None for x in (spec.minimum, spec.maximum, spec.min_length, spec.max_length)
    ):
        return None  # a range or length over a list cell: Pandera's own reading
    if (spec.minimum is not None or spec.maximum is not None) and spec.type not in (
        "integer",
        "number",
    ):
        return None
    if (spec.min_length is not None or spec.max_length is not None) and spec.type != "string":
        return None
    if spec.unique and spec.type == "list":
        return None  # lists are not hashable: Pandera's own reading of repeats
    members = []
    terms = schema.terms(spec)
    if terms is not None:
        members.append(frozenset(terms))
    if spec.codelist is not None:
        members.append(frozenset(codelist(spec.codelist).codes))
    return _Column(
        spec.name,
        spec.type,
        not (spec.required or spec.unique),
        spec.unique,
        tuple(members),
        re.compile(spec.pattern) if spec.pattern is not None else None,
        spec.minimum,
        spec.maximum,
        spec.min_length,
        spec.max_length,
    )


def rows_by_table(records: Iterable[Record], tables: Iterable[str] = ()) -> dict[str, list[Row]]:
    """The records' rows by table, in order; every table named in tables is there, with rows
    or without."""
    out: dict[str, list[Row]] = {name: [] for name in tables}
    for record in records:
        for row in record.rows:
            out.setdefault(row.table, []).append(row)
    return out


def _typed(column: _Column, values: list[Any]) -> bool:
    """Whether every (non-null) value has exactly the Python type the column's dtype is built
    from."""
    if not set(map(type, values)) <= _TYPES[column.kind]:
        return False
    if column.kind == "list":
        return set(map(type, chain.from_iterable(values))) <= {str}
    if column.kind == "integer":
        return bool(min(values) >= -INT64 and max(values) < INT64)
    if column.kind == "number":  # a float that is not finite is a null to pandas
        return all(math.isfinite(v) if type(v) is float else -INT64 <= v < INT64 for v in values)
    return True


def _column_clean(column: _Column, values: list[Any]) -> bool:
    """Whether Pandera certainly passes every check of the column that looks at one value at
    a time (all but unique) over these values."""
    if None in values:
        if not column.nullable:
            return False  # not_nullable, or Pandera's reading of repeated nulls
        values = [v for v in values if v is not None]
    if not values:
        return True
    if not _typed(column, values):
        return False
    distinct = set(chain.from_iterable(values)) if column.kind == "list" else set(values)
    if any(not distinct <= members for members in column.members):
        return False
    regex = column.regex
    if regex is not None and any(regex.fullmatch(v) is None for v in distinct):
        return False
    if column.low is not None and min(distinct) < column.low:
        return False
    if column.high is not None and max(distinct) > column.high:
        return False
    if column.shortest is not None or column.longest is not None:
        lengths = set(map(len, distinct))
        if column.shortest is not None and min(lengths) < column.shortest:
            return False
        if column.longest is not None and max(lengths) > column.longest:
            return False
    return True


_PROOFS: dict[int, tuple[Schema, dict[str, tuple[_Column, ...] | None]]] = {}


def _columns(table: TableSpec, schema: Schema) -> tuple[_Column, ...] | None:
    """The table's columns' checks (worked out once per schema), or None when one is not
    certain without Pandera."""
    found = _PROOFS.get(id(schema))
    if found is None or found[0] is not schema:
        found = _PROOFS[id(schema)] = (schema, {})
    tables = found[1]
    if table.name not in tables:
        columns = [_column_of(spec, schema) for spec in table.fields]
        tables[table.name] = None if None in columns else tuple(c for c in columns if c)
    return tables[table.name]


def _reader(
    rows: Sequence[Mapping[str, Any]] | Sequence[Row],
) -> Callable[[str], list[Any]]:
    """What takes a column of rows (a missing field is a null): from the rows' value tuples
    when they are Rows of one shape (a whole check's rows are), else row by row."""
    if rows and all(type(row) is Row for row in rows[:1]):
        shapes = set(map(attrgetter("shape"), rows))
        if len(shapes) == 1:
            (shape,) = shapes
            items = list(map(attrgetter("items"), rows))

            def column(name: str) -> list[Any]:
                at = shape.at.get(name)
                return [None] * len(items) if at is None else list(map(itemgetter(at), items))

            return column
    return lambda name: [row.get(name) for row in rows]


Rows = Sequence[Mapping[str, Any]] | Sequence[Row]


def values_clean(table: TableSpec, rows: Rows, schema: Schema) -> bool:
    """Whether every check Pandera makes of one value at a time certainly passes (all but
    unique columns and keys, which compare rows). Rows split anyhow pass together exactly
    when each part passes: worker processes prove the rows they read, and the parent only
    what the cache gave it."""
    columns = _columns(table, schema)
    if columns is None:
        return False
    read = _reader(rows)
    if not all(_column_clean(column, read(column.name)) for column in columns):
        return False
    key = table.primary_key
    return len(key) < 2 or not any(None in read(name) for name in key)


def keys_distinct(table: TableSpec, rows: Rows) -> bool:
    """Whether no two rows share a value of a unique column or a key (the values being
    proved clean: no null in them)."""
    read = _reader(rows)
    for spec in table.fields:
        if spec.unique and len(set(read(spec.name))) != len(rows):
            return False
    key = table.primary_key
    return len(key) < 2 or _distinct(zip(*map(read, key), strict=True), len(rows))


def clean(table: TableSpec, rows: Rows, schema: Schema) -> bool:
    """True only when Pandera's lazy check of the table made of rows (check/tables.frame_of)
    certainly finds no failure; False when that is not certain."""
    return values_clean(table, rows, schema) and keys_distinct(table, rows)


def _distinct(values: Iterable[Any], count: int) -> bool:
    return len(set(values)) == count


def constraints(table: TableSpec, schema: Schema) -> dict[str, tuple[str, ...]]:
    """Each column's constraints, as check/tables.failures gives them."""
    return {f.name: field_constraints(f, schema) for f in table.fields}


def passes(
    rows: Sequence[tuple[str, Sequence[Mapping[str, Any]] | Sequence[Row]]], schema: Schema
) -> list[tuple[list[Any], dict[str, tuple[str, ...]]]] | None:
    """What check/tables.failures gives for each table of rows (no failure, each column's
    constraints), when every table is certainly clean; None otherwise."""
    found: list[tuple[list[Any], dict[str, tuple[str, ...]]]] = []
    for name, values in rows:
        table = schema.tables[name]
        if not clean(table, values, schema):
            return None
        found.append(([], constraints(table, schema)))
    return found
