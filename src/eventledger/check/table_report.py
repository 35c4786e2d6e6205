"""Pandera's failures told as issues of the records their rows came from.

Kept apart from check/tables.py, which runs Pandera: this part needs neither pandas nor
Pandera, so a check whose tables a process of its own ran (check/partial.py) reports the
failures without importing them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from eventledger.issues import Issue, RecordPath
from eventledger.issues.suggest import closest, did_you_mean
from eventledger.model.codelists import codelist
from eventledger.model.constraints import CONSTRAINT_CODES
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.read.records import Record, Row


class Failure(NamedTuple):
    """One row of Pandera's failure cases."""

    row: int | None  # the row of the table, None for a failure of no row
    column: str
    check: str
    check_number: int | None
    failure_case: str


def report_failures(
    cases: Sequence[Failure],
    spec: TableSpec,
    origins: Sequence[tuple[Record, Row]],
    checks: dict[str, tuple[str, ...]],
    schema: Schema,
    decided: set[str] | None = None,
) -> list[Issue]:
    """Report each failure into the record its row came from (row i of the table came from
    origins[i]); return the failures that belong to no row. checks: each column's
    constraints in the order of its Pandera checks."""
    issues: list[Issue] = []
    told: set[tuple[int, RecordPath]] = set()
    duplicates: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for case in cases:
        index = case.row
        if index is None:
            issues.append(
                Issue(
                    "",
                    0,
                    0,
                    "table-check-failed",
                    f"{spec.name}: {case.check}",
                    found=case.failure_case,
                )
            )
            continue
        record, row = origins[index]
        column = case.column
        check = case.check
        if check == "not_nullable":
            constraint = "required"
        elif check == "field_uniqueness":
            constraint = "unique"
        elif check == "multiple_fields_uniqueness":
            constraint = "primaryKey"
        elif check.startswith("dtype("):
            constraint = "type"
        elif case.check_number is not None and column in checks:
            constraint = checks[column][case.check_number]
        else:
            constraint = "type"
        if constraint in ("unique", "primaryKey"):
            key = tuple(spec.primary_key) if constraint == "primaryKey" else (column,)
            duplicates[key].append(index)
            continue
        path = (*row.prefix, column)
        if path in record.flagged or row.prefix in record.flagged:
            if decided is not None and (id(record), path) in told:
                decided.add(record.file)
            continue
        told.add((id(record), path))
        field = spec.field(column)
        code = CONSTRAINT_CODES[constraint]
        value = row.get(column)
        expected, hint = _expectation(field, constraint, value, schema)
        found = ", ".join(_bad_items(field, value, schema)) if field.type == "list" else str(value)
        record.report(
            code,
            f"{column}: {found!r} breaks the constraint '{constraint}' of {spec.name}",
            path,
            expected=expected,
            found=found,
            hint=hint,
        )
    for key, indexes in duplicates.items():
        if len(key) == 1:
            _report_duplicates(origins, key[0], sorted(set(indexes)))
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


def _report_duplicates(
    origins: Sequence[tuple[Record, Row]], column: str, indexes: list[int]
) -> None:
    groups: dict[Any, list[int]] = defaultdict(list)
    for i in indexes:
        groups[origins[i][1].get(column)].append(i)
    for value, members in groups.items():
        files = sorted({origins[j][0].file for j in members})
        for i in members:
            record, row = origins[i]
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
