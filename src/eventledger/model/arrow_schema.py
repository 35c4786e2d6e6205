"""Arrow schemas projected from the Table Schemas in schema/ (for the Parquet tables of a release)."""

from __future__ import annotations

import pyarrow as pa

from eventledger.model.schema import FieldSpec, TableSpec
from eventledger.model.types import TYPES


def arrow_type(spec: FieldSpec) -> pa.DataType:
    made: pa.DataType = TYPES[spec.type].arrow_type()
    return made


def arrow_field(spec: FieldSpec) -> pa.Field:
    # Every column is nullable in Arrow: "required" is a Table Schema constraint, checked
    # before the build, and a non-nullable Arrow field would reject an empty table nowhere else.
    return pa.field(spec.name, arrow_type(spec), nullable=True)


def arrow_schema(table: TableSpec) -> pa.Schema:
    return pa.schema([arrow_field(f) for f in table.fields])
