"""Records as tables: typed DataFrames built column by column, checked by Pandera over whole columns."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import pandas as pd
import pandera.pandas as pa

from eventledger.issues import Issue
from eventledger.issues.suggest import closest, did_you_mean
from eventledger.model.codelists import codelist
from eventledger.model.pandera_schema import CONSTRAINT_CODES, table_schema
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import TYPES
from eventledger.read.records import Record, Row


@dataclass
class Table:
    spec: TableSpec
    frame: pd.DataFrame
    origins: list[tuple[Record, Row]] = field(
        default_factory=list
    )  # row i of frame came from origins[i]


def _column(spec: FieldSpec, values: list[Any]) -> Any:
    dtype = TYPES[spec.type].pandas_dtype
    if dtype == "object":  # dates as datetime.date, lists as lists
        return pd.Series(values, dtype=object)
    return pd.array(values, dtype=dtype)  # type: ignore[call-overload]  # dtype is a name


def frame_of(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The typed DataFrame of rows (dicts of typed values), in the schema's column order."""
    data = {f.name: _column(f, [row.get(f.name) for row in rows]) for f in spec.fields}
    # copy=False: the columns are new already; copying them into one block doubles a table's
    # memory for a moment, at a hundred thousand records a few hundred megabytes.
    frame = pd.DataFrame(data, columns=list(spec.field_names), copy=False)
    frame.index = pd.RangeIndex(len(rows))
    return frame


def build_table(spec: TableSpec, origins: list[tuple[Record, Row]]) -> Table:
    return Table(spec, frame_of_rows(spec, [row for _, row in origins]), origins)


def frame_of_rows(spec: TableSpec, rows: Sequence[Row]) -> pd.DataFrame:
    """frame_of over records' rows, a column at a time from their value tuples (no dict per row)."""
    shapes = {id(row.shape): row.shape for row in rows}
    if len(shapes) != 1:  # rows of a table share one shape, unless read from mixed sources
        return frame_of(spec, [row.values for row in rows])
    (shape,) = shapes.values()
    items = [row.items for row in rows]
    data = {}
    for f in spec.fields:
        at = shape.at.get(f.name)
        values = [None] * len(rows) if at is None else list(map(itemgetter(at), items))
        data[f.name] = _column(f, values)
    frame = pd.DataFrame(data, columns=list(spec.field_names), copy=False)
    frame.index = pd.RangeIndex(len(rows))
    return frame


def each_table(records: list[Record], schema: Schema) -> Iterator[Table]:
    """The tables one at a time, in the schema's order: a caller that checks each and lets it
    go holds one table at a time, not all of them (at 100k records, hundreds of megabytes)."""
    rows: dict[str, list[tuple[Record, Row]]] = {name: [] for name in schema.tables}
    for record in records:
        for row in record.rows:
            rows[row.table].append((record, row))
    for name, spec in schema.tables.items():
        yield build_table(spec, rows.pop(name))


def check_table(table: Table, schema: Schema) -> list[Issue]:
    """Run the derived Pandera schema lazily over the whole table.

    Failures are reported into the records the failing rows came from; what is returned
    are the failures that belong to no row.
    """
    frame_schema, checks = table_schema(table.spec, schema)
    try:
        # inplace: no copy of the table (coerce is off, so nothing in it changes).
        frame_schema.validate(table.frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        return _issues_from(err.failure_cases, table, checks, schema)
    return []


def _issues_from(
    cases: pd.DataFrame, table: Table, checks: dict[str, Any], schema: Schema
) -> list[Issue]:
    issues: list[Issue] = []
    duplicates: dict[tuple[str, ...], list[int]] = defaultdict(list)
    case: Any
    for case in cases.itertuples(index=False):
        index = getattr(case, "index", None)
        if index is None or pd.isna(index):
            issues.append(
                Issue(
                    "",
                    0,
                    0,
                    "table-check-failed",
                    f"{table.spec.name}: {case.check}",
                    found=str(case.failure_case),
                )
            )
            continue
        record, row = table.origins[int(index)]
        column = str(case.column)
        check = str(case.check)
        if check == "not_nullable":
            constraint = "required"
        elif check == "field_uniqueness":
            constraint = "unique"
        elif check == "multiple_fields_uniqueness":
            constraint = "primaryKey"
        elif check.startswith("dtype("):
            constraint = "type"
        elif case.check_number is not None and not pd.isna(case.check_number) and column in checks:
            constraint = checks[column].constraints[int(case.check_number)]
        else:
            constraint = "type"
        if constraint in ("unique", "primaryKey"):
            key = tuple(table.spec.primary_key) if constraint == "primaryKey" else (column,)
            duplicates[key].append(int(index))
            continue
        path = (*row.prefix, column)
        if path in record.flagged or row.prefix in record.flagged:
            continue
        spec = table.spec.field(column)
        code = CONSTRAINT_CODES[constraint]
        value = row.get(column)
        expected, hint = _expectation(spec, constraint, value, schema)
        found = ", ".join(_bad_items(spec, value, schema)) if spec.type == "list" else str(value)
        record.report(
            code,
            f"{column}: {found!r} breaks the constraint '{constraint}' of {table.spec.name}",
            path,
            expected=expected,
            found=found,
            hint=hint,
        )
    for key, indexes in duplicates.items():
        if len(key) == 1:
            _report_duplicates(table, key[0], sorted(set(indexes)))
        # A composite key can only repeat within one event (reported by the record checks as
        # duplicate-participant) or through a repeated event_id (reported as duplicate-id).
    return issues


def _bad_items(spec: FieldSpec, value: Any, schema: Schema) -> list[str]:
    items = list(value or [])
    terms = schema.terms(spec)
    bad = [
        v
        for v in items
        if (terms is not None and v not in terms)
        or (spec.pattern is not None and not re.fullmatch(spec.pattern, v))
        or (spec.codelist is not None and v not in codelist(spec.codelist).codes)
    ]
    return bad or [str(v) for v in items]


def _expectation(
    spec: FieldSpec, constraint: str, value: Any, schema: Schema
) -> tuple[str, str | None]:
    if constraint == "vocabulary":
        terms = schema.terms(spec) or ()
        items = value if isinstance(value, list) else [value]
        hint = next(
            (
                h
                for v in items
                if v not in terms and (h := did_you_mean(str(v), terms, ignore_case=True))
            ),
            None,
        )
        return "one of: " + ", ".join(terms), hint
    if constraint == "pattern":
        return f"text matching {spec.pattern}", None
    if constraint == "codelist" and spec.codelist is not None:
        codes = codelist(spec.codelist)
        match = closest(str(value), codes.codes, ignore_case=True)
        hint = f"did you mean '{match}' ({codes.describe(match)})?" if match else None
        return f"a code of {codes.title}", hint
    if constraint in ("minimum", "maximum"):
        return f"between {spec.minimum} and {spec.maximum}", None
    if constraint in ("minLength", "maxLength"):
        return (
            f"between {spec.min_length or 0} and {spec.max_length or 'any number of'} characters",
            None,
        )
    if constraint == "required":
        return spec.description, None
    return spec.type, None


def _report_duplicates(table: Table, column: str, indexes: list[int]) -> None:
    groups: dict[Any, list[int]] = defaultdict(list)
    for i in indexes:
        groups[table.origins[i][1].get(column)].append(i)
    for value, members in groups.items():
        files = sorted({table.origins[j][0].file for j in members})
        for i in members:
            record, row = table.origins[i]
            # A few of the other files, never all of them: the report must stay linear in size.
            others = [f for f in files[:4] if f != record.file][:3]
            path = (*row.prefix, column)
            if path in record.flagged or not others:
                continue
            more = len(files) - 1 - len(others)
            record.report(
                "duplicate-id",
                f"{column} '{value}' is also used in {', '.join(others)}"
                + (f" and {more} more" if more else ""),
                path,
                found=str(value),
                hint="ids are unique and never reused; choose a new one",
            )
