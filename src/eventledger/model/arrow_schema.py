"""Arrow schemas projected from the Table Schemas in schema/ (for the Parquet tables of a release)."""

from __future__ import annotations

import pyarrow as pa

from eventledger.model.schema import FieldSpec, TableSpec

_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "list": pa.list_(pa.string()),
}


def arrow_type(spec: FieldSpec) -> pa.DataType:
    return _TYPES[spec.type]


def arrow_field(spec: FieldSpec) -> pa.Field:
    # Every column is nullable in Arrow: "required" is a Table Schema constraint, checked
    # before the build, and a non-nullable Arrow field would reject an empty table nowhere else.
    return pa.field(spec.name, arrow_type(spec), nullable=True)


def arrow_schema(table: TableSpec) -> pa.Schema:
    return pa.schema([arrow_field(f) for f in table.fields])
