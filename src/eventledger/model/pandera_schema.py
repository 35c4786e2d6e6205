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
from eventledger.model.constraints import field_constraints
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


def _check(name: str, spec: FieldSpec, schema: Schema) -> pa.Check:
    """The Pandera check of one constraint of a column (model/constraints.field_constraints)."""
    is_list = spec.type == "list"
    if name == "vocabulary":
        allowed = frozenset(schema.terms(spec) or ())
        if is_list:
            return _elementwise(allowed.__contains__, name)
        return pa.Check.isin(sorted(allowed), error=name)
    if name == "pattern":
        regex = re.compile(spec.pattern or "")
        if is_list:
            return _elementwise(lambda item, _r=regex: _r.fullmatch(item) is not None, name)
        return pa.Check(
            lambda s, _r=regex: s.map(lambda v: _r.fullmatch(v) is not None).astype(bool),
            element_wise=False,
            error=name,
        )
    if name == "codelist":
        codes = codelist(spec.codelist or "").codes
        if is_list:
            return _elementwise(codes.__contains__, name)
        return pa.Check.isin(sorted(codes), error=name)
    if name == "minimum":
        return pa.Check.ge(spec.minimum, error=name)
    if name == "maximum":
        return pa.Check.le(spec.maximum, error=name)
    if name == "minLength":
        return pa.Check.str_length(min_value=spec.min_length, error=name)
    if name == "maxLength":
        return pa.Check.str_length(max_value=spec.max_length, error=name)
    raise ValueError(f"no Pandera check for the constraint {name!r}")


def column_checks(spec: FieldSpec, schema: Schema) -> ColumnChecks:
    constraints = field_constraints(spec, schema)
    return ColumnChecks(constraints, tuple(_check(name, spec, schema) for name in constraints))


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
