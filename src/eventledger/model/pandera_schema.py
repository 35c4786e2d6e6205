"""Pandera schemas projected from the Table Schemas in schema/.

Written by hand rather than with pandera.io.from_frictionless_schema, which drops
nullable integers, leaves dates unchecked and knows neither v2 lists nor our
vocabularies. Every check is named by the schema constraint it enforces, so a
failure can be reported with the issue code of that constraint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

from eventledger.model.codelists import codelist
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import TYPES


def dtype_for(spec: FieldSpec) -> Any:
    return TYPES[spec.type].pandera_dtype()


@dataclass(frozen=True)
class ColumnChecks:
    """The checks of one column in order, each with the constraint it enforces."""

    constraints: tuple[str, ...]
    checks: tuple[pa.Check, ...]


def _elementwise(test: Any, name: str) -> pa.Check:
    """A check on each item of a list cell (null cells pass)."""

    def run(series: pd.Series) -> pd.Series:
        return series.map(lambda cell: cell is None or all(test(item) for item in cell)).astype(
            bool
        )

    return pa.Check(run, name=name, error=name)


def column_checks(spec: FieldSpec, schema: Schema) -> ColumnChecks:
    constraints: list[str] = []
    checks: list[pa.Check] = []
    terms = schema.terms(spec)
    is_list = spec.type == "list"
    if terms is not None:
        allowed = frozenset(terms)
        constraints.append("vocabulary")
        checks.append(
            _elementwise(allowed.__contains__, "vocabulary")
            if is_list
            else pa.Check.isin(sorted(allowed), error="vocabulary")
        )
    if spec.pattern is not None:
        regex = re.compile(spec.pattern)
        constraints.append("pattern")

        def full(item: str, _r: re.Pattern[str] = regex) -> bool:
            return _r.fullmatch(item) is not None

        checks.append(
            _elementwise(full, "pattern")
            if is_list
            else pa.Check(
                lambda s, _r=regex: s.map(lambda v: _r.fullmatch(v) is not None).astype(bool),
                element_wise=False,
                error="pattern",
            )
        )
    if spec.codelist is not None:
        # After the pattern: a value of the wrong shape is reported as that, once.
        codes = codelist(spec.codelist).codes
        constraints.append("codelist")
        checks.append(
            _elementwise(codes.__contains__, "codelist")
            if is_list
            else pa.Check.isin(sorted(codes), error="codelist")
        )
    if spec.minimum is not None:
        constraints.append("minimum")
        checks.append(pa.Check.ge(spec.minimum, error="minimum"))
    if spec.maximum is not None:
        constraints.append("maximum")
        checks.append(pa.Check.le(spec.maximum, error="maximum"))
    if spec.min_length is not None:
        constraints.append("minLength")
        checks.append(pa.Check.str_length(min_value=spec.min_length, error="minLength"))
    if spec.max_length is not None:
        constraints.append("maxLength")
        checks.append(pa.Check.str_length(max_value=spec.max_length, error="maxLength"))
    return ColumnChecks(tuple(constraints), tuple(checks))


def table_schema(
    table: TableSpec, schema: Schema
) -> tuple[pa.DataFrameSchema, dict[str, ColumnChecks]]:
    columns = {}
    by_column = {}
    for spec in table.fields:
        cc = column_checks(spec, schema)
        by_column[spec.name] = cc
        columns[spec.name] = pa.Column(
            dtype_for(spec),
            checks=list(cc.checks),
            nullable=not spec.required,
            unique=spec.unique,
            coerce=False,
            required=True,
            description=spec.description,
        )
    composite = list(table.primary_key) if len(table.primary_key) > 1 else None
    frame = pa.DataFrameSchema(
        columns,
        strict=True,
        ordered=True,
        unique=composite,
        name=table.name,
        report_duplicates="all",
    )
    return frame, by_column
