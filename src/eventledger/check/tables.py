"""Records as tables: typed DataFrames built column by column, checked by Pandera over whole columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import pandas as pd
import pandera.pandas as pa

from eventledger.check.table_report import Failure, report_failures
from eventledger.issues import Issue
from eventledger.model.pandera_schema import table_schema
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


def check_table(table: Table, schema: Schema, decided: set[str] | None = None) -> list[Issue]:
    """Run the derived Pandera schema lazily over the whole table.

    Failures are reported into the records the failing rows came from; what is returned
    are the failures that belong to no row. decided collects the files where one field
    failed two checks: only the first is told, and Pandera's order of failures (an
    unstable sort over the whole table) decides which.
    """
    cases, constraints = failures(table.spec, table.frame, schema)
    return report_failures(cases, table.spec, table.origins, constraints, schema, decided)


def failures(
    spec: TableSpec, frame: pd.DataFrame, schema: Schema
) -> tuple[list[Failure], dict[str, tuple[str, ...]]]:
    """Pandera's failures over the table, in its order, as plain values (what a process of
    its own can send back), and each column's constraints in the order of its checks."""
    frame_schema, checks = table_schema(spec, schema)
    constraints = {column: c.constraints for column, c in checks.items()}
    try:
        # inplace: no copy of the table (coerce is off, so nothing in it changes).
        frame_schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        out: list[Failure] = []
        case: Any
        for case in err.failure_cases.itertuples(index=False):
            index = getattr(case, "index", None)
            number = case.check_number
            out.append(
                Failure(
                    None if index is None or pd.isna(index) else int(index),
                    str(case.column),
                    str(case.check),
                    None if number is None or pd.isna(number) else int(number),
                    str(case.failure_case),
                )
            )
        return out, constraints
    return [], constraints
