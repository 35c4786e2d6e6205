"""The cell writers as they were before they worked a column at a time: the oracle the
tests hold the faster ones to (same cells, same bytes, same notes, for any values)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import FieldSpec, TableSpec
from eventledger.model.types import LIST_DELIMITER, TYPES
from eventledger.publish.cells import FORMULA_STARTS
from eventledger.publish.spreadsheet import (
    _EDGE_SPACE,
    _EPOCH,
    _SHEET_HEAD,
    _SHEET_TAIL,
    TEXT_LIMIT,
    _column,
    _text,
    _utf16_cut,
    _utf16_len,
)

Row = dict[str, Any]


def csv_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(spec.field_names)
    writers = [(f.name, TYPES[f.type].to_cell, f.delimiter or LIST_DELIMITER) for f in spec.fields]
    writer.writerows(
        ["" if (v := row[n]) is None else to_cell(v, d) for n, to_cell, d in writers]
        for row in rows
    )
    return out.getvalue().encode("utf-8")


def parquet_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    columns = {f.name: [row[f.name] for row in rows] for f in spec.fields}
    sink = pa.BufferOutputStream()
    pq.write_table(
        pa.Table.from_pydict(columns, schema=arrow_schema(spec)),
        sink,
        compression="zstd",
        compression_level=9,
        row_group_size=max(len(rows), 1),
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    return bytes(sink.getvalue().to_pybytes())


def unwritable(spec: TableSpec, rows: Iterable[Row]) -> list[str]:
    problems = []
    for f in spec.fields:
        if f.type != "list":
            continue
        for row in rows:
            for item in row[f.name] or ():
                if item == "" or (f.delimiter or LIST_DELIMITER) in item:
                    key = "/".join(str(row[k]) for k in spec.primary_key)
                    problems.append(
                        f"{spec.name} {key}: {f.name} item {item!r} is empty or contains the "
                        f"delimiter {f.delimiter!r}"
                    )
    return problems


def formula_cells(spec: TableSpec, rows: Iterable[Row]) -> list[str]:
    found = []
    columns = [
        (f.name, f.type == "string", TYPES[f.type].to_cell, f.delimiter or LIST_DELIMITER)
        for f in spec.fields
        if f.type not in ("number", "integer", "date")
    ]
    for row in rows:
        for name, is_text, to_cell, delimiter in columns:
            value = row[name]
            if value is None:
                continue
            text = value if is_text and type(value) is str else to_cell(value, delimiter)
            if text.startswith(FORMULA_STARTS):
                key = "/".join(str(row[k]) for k in spec.primary_key)
                found.append(f"{spec.name} {key} {name}: {text[:40]!r}")
    return found


def write_sheet(
    out: TextIO,
    fields: Sequence[FieldSpec],
    rows: Sequence[Row],
    sheet_name: str,
    notes: list[str],
) -> None:
    """One worksheet's XML, a row at a time: text as inline strings (never a formula), numbers
    as numbers, dates as day numbers in the yyyy-mm-dd style; an empty value writes no cell."""
    columns = [_column(c) for c in range(len(fields))]
    cells = [
        (columns[c], f.name, TYPES[f.type].spreadsheet, TYPES[f.type].to_cell, f.delimiter)
        for c, f in enumerate(fields)
    ]
    out.write(_SHEET_HEAD)
    header = "".join(
        f'<c r="{col}1" t="inlineStr"><is><t>{_text(f.name)}</t></is></c>'
        for col, f in zip(columns, fields, strict=True)
    )
    out.write(f'<row r="1">{header}</row>')
    for r, row in enumerate(rows, start=2):
        line = [f'<row r="{r}">']
        add = line.append
        for col, name, kind, to_text, delimiter in cells:
            value = row[name]
            if value is None:
                continue
            if kind == "text":  # lists as their CSV text, joined
                text = to_text(value, delimiter or LIST_DELIMITER)
                if len(text) > TEXT_LIMIT // 2 and _utf16_len(text) > TEXT_LIMIT:
                    text = _utf16_cut(text, TEXT_LIMIT)
                    notes.append(
                        f"{sheet_name} row {r} {name}: longer than a cell holds "
                        f"({TEXT_LIMIT:,} characters), cut in the spreadsheet; the CSV "
                        "holds it whole"
                    )
                space = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
                add(f'<c r="{col}{r}" t="inlineStr"><is><t{space}>{_text(text)}</t></is></c>')
            elif kind == "date":
                add(f'<c r="{col}{r}" s="1"><v>{(value - _EPOCH).days}</v></c>')
            else:
                add(f'<c r="{col}{r}"><v>{value:.16G}</v></c>')
        add("</row>")
        out.write("".join(line))
    out.write(_SHEET_TAIL)
