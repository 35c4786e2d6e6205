"""The Parquet copy of a table: deterministic bytes, typed by the Arrow projection of schema/."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, chain
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import TableSpec
from eventledger.publish.cells import table_columns

Row = dict[str, Any]


def arrow_table(spec: TableSpec, rows: Sequence[Row]) -> pa.Table:
    return columns_arrow_table(spec, table_columns(spec, rows))


def columns_arrow_table(spec: TableSpec, columns: Sequence[list[Any]]) -> pa.Table:
    """The table of its columns (cells.table_columns), typed by the Arrow schema."""
    schema = arrow_schema(spec)
    return pa.Table.from_arrays(
        [_array(f, values) for f, values in zip(schema, columns, strict=True)], schema=schema
    )


def _array(field: pa.Field, values: list[Any]) -> pa.Array:
    if pa.types.is_list(field.type) and None not in values:
        # A list column as its items and where each row's items start, both made in C: the
        # same array as pa.array makes of the lists, a Python list at a time.
        offsets = pa.array([0, *accumulate(map(len, values))], pa.int32())
        items = pa.array(list(chain.from_iterable(values)), field.type.value_type)
        return pa.ListArray.from_arrays(offsets, items, type=field.type)
    return pa.array(values, field.type)


def get_ready() -> None:
    """Have pyarrow import pandas now: it does so the first time it converts a Python list
    (to ask whether the list is a pandas object): 0.3 s alone, up to 1.7 s in a 100k build
    under load, that would otherwise come at its first table, with the second core idle.
    The build calls this while worker processes read the records."""
    pa.array([], pa.int32())


def let_go_of_tables() -> None:
    """Have Arrow's pool (mimalloc) hand back what it keeps of the tables just written: the
    build writes its CSVs right after, and the largest of them was the main process's peak
    with the pool still holding the Arrow tables' memory."""
    pa.default_memory_pool().release_unused()


def parquet_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    """Deterministic Parquet: fixed codec and level, one row group, no wall-clock metadata."""
    return columns_parquet_bytes(spec, table_columns(spec, rows))


def columns_parquet_bytes(spec: TableSpec, columns: Sequence[list[Any]]) -> bytes:
    """parquet_bytes of the table's columns (cells.table_columns)."""
    table = columns_arrow_table(spec, columns)
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=9,
        row_group_size=max(table.num_rows, 1),
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    return bytes(sink.getvalue().to_pybytes())
