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

It never reports a failure: a failure's wording and order are Pandera's, so only Pandera
tells them. tests/test_table_proof.py holds it to Pandera's verdict on random rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from operator import ge, le
from typing import Any

from eventledger.model.codelists import codelist
from eventledger.model.constraints import field_constraints
from eventledger.model.schema import FieldSpec, Schema, TableSpec

INT64 = 1 << 63

Test = Callable[[Any], bool]


def _typed(kind: str) -> Test | None:
    """Whether a value has exactly the Python type the column of this field type is built
    from (None: a type this module does not vouch for)."""
    if kind == "string":
        return lambda v: type(v) is str
    if kind == "integer":
        return lambda v: type(v) is int and -INT64 <= v < INT64
    if kind == "number":
        return lambda v: (
            (type(v) is float and math.isfinite(v)) or (type(v) is int and -INT64 <= v < INT64)
        )
    if kind == "date":
        return lambda v: type(v) is dt.date
    if kind == "list":
        return lambda v: type(v) is list and all(type(item) is str for item in v)
    return None


def _tests(spec: FieldSpec, schema: Schema) -> list[Test] | None:
    """The column's checks as tests of one non-null value, or None when one of them is not
    certain without Pandera."""
    typed = _typed(spec.type)
    if typed is None:
        return None
    tests: list[Test] = [typed]
    each: list[Test] = []  # on a scalar, or on each item of a list
    terms = schema.terms(spec)
    if terms is not None:
        each.append(frozenset(terms).__contains__)
    if spec.pattern is not None:
        each.append(_matches(re.compile(spec.pattern)))
    if spec.codelist is not None:
        each.append(codelist(spec.codelist).codes.__contains__)
    if spec.type == "list":
        if any(
            x is not None for x in (spec.minimum, spec.maximum, spec.min_length, spec.max_length)
        ):
            return None  # a range or length over a list cell: Pandera's own reading
        tests.extend(_every_item(t) for t in each)
        return tests
    tests.extend(each)
    if spec.minimum is not None or spec.maximum is not None:
        if spec.type not in ("integer", "number"):
            return None
        if spec.minimum is not None:
            tests.append(partial(le, spec.minimum))  # minimum <= value
        if spec.maximum is not None:
            tests.append(partial(ge, spec.maximum))  # maximum >= value
    if spec.min_length is not None or spec.max_length is not None:
        if spec.type != "string":
            return None
        tests.append(_length_within(spec.min_length, spec.max_length))
    return tests


def _matches(regex: re.Pattern[str]) -> Test:
    def test(value: Any) -> bool:
        return regex.fullmatch(value) is not None

    return test


def _every_item(test: Test) -> Test:
    def every(cell: Any) -> bool:
        return all(test(item) for item in cell)

    return every


def _length_within(low: int | None, high: int | None) -> Test:
    def test(value: Any) -> bool:
        return (low is None or len(value) >= low) and (high is None or len(value) <= high)

    return test


def _distinct(values: Iterable[Any]) -> bool:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            return False
        seen.add(value)
    return True


def clean(table: TableSpec, rows: Sequence[Mapping[str, Any]], schema: Schema) -> bool:
    """True only when Pandera's lazy check of the table made of rows (check/tables.frame_of)
    certainly finds no failure; False when that is not certain."""
    for spec in table.fields:
        tests = _tests(spec, schema)
        if tests is None:
            return False
        column = [row.get(spec.name) for row in rows]
        for value in column:
            if value is None:
                if spec.required or spec.unique:
                    return False  # not_nullable, or Pandera's reading of repeated nulls
                continue
            if not all(test(value) for test in tests):
                return False
        if spec.unique and not _distinct(column):
            return False
    key = table.primary_key
    if len(key) > 1:
        tuples = [tuple(row.get(name) for name in key) for row in rows]
        if any(None in t for t in tuples) or not _distinct(tuples):
            return False
    return True


def passes(
    rows: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], schema: Schema
) -> list[tuple[list[Any], dict[str, tuple[str, ...]]]] | None:
    """What check/tables.failures gives for each table of rows (no failure, each column's
    constraints), when every table is certainly clean; None otherwise."""
    found: list[tuple[list[Any], dict[str, tuple[str, ...]]]] = []
    for name, values in rows:
        table = schema.tables[name]
        if not clean(table, values, schema):
            return None
        found.append(([], {f.name: field_constraints(f, schema) for f in table.fields}))
    return found
