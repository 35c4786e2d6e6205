"""The Parquet copy of a table: deterministic bytes, typed by the Arrow projection of schema/."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import TableSpec

Row = dict[str, Any]


def arrow_table(spec: TableSpec, rows: Sequence[Row]) -> pa.Table:
    columns = {f.name: [row[f.name] for row in rows] for f in spec.fields}
    return pa.Table.from_pydict(columns, schema=arrow_schema(spec))


def parquet_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    """Deterministic Parquet: fixed codec and level, one row group, no wall-clock metadata."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        arrow_table(spec, rows),
        sink,
        compression="zstd",
        compression_level=9,
        row_group_size=max(len(rows), 1),
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    return bytes(sink.getvalue().to_pybytes())
