"""Values as CSV cells, and the canonical CSV of a table: the one text form of every value."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from eventledger.model.schema import FieldSpec, TableSpec
from eventledger.model.types import LIST_DELIMITER, TYPES

Row = dict[str, Any]
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(spec: FieldSpec, value: Any) -> str:
    """The CSV text of a value: empty for null, ISO dates, shortest round-trip floats."""
    if value is None:
        return ""
    return TYPES[spec.type].to_cell(value, spec.delimiter or LIST_DELIMITER)


CellWriter = tuple[str, Callable[[Any, str], str], str]  # field name, to_cell, delimiter


def cell_writers(spec: TableSpec) -> list[CellWriter]:
    """What cell() looks up per value, looked up once per table: a table of 100k events has
    millions of cells, and csv_bytes and the manifest make each of them."""
    return [(f.name, TYPES[f.type].to_cell, f.delimiter or LIST_DELIMITER) for f in spec.fields]


def row_cells(writers: Sequence[CellWriter], row: Row) -> list[str]:
    """The cells of row in the order of writers: cell() of each of its fields."""
    return ["" if (v := row[n]) is None else to_cell(v, d) for n, to_cell, d in writers]


def parse_cell(spec: FieldSpec, text: str) -> Any:
    """The inverse of cell(): an empty cell is null, or the empty list in a list column."""
    if text == "":
        return [] if spec.type == "list" else None
    return TYPES[spec.type].from_cell(text, spec.delimiter or LIST_DELIMITER)


def csv_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    """UTF-8, LF, a header of the field names in schema order, cells quoted only where needed."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(spec.field_names)
    writers = cell_writers(spec)
    writer.writerows(row_cells(writers, row) for row in rows)
    return out.getvalue().encode("utf-8")


def read_csv_rows(spec: TableSpec, data: bytes) -> list[Row]:
    return list(iter_csv_rows(spec, data))


def iter_csv_rows(spec: TableSpec, data: bytes) -> Iterator[Row]:
    """The typed rows of a CSV table, one at a time, so a comparison never holds the table as
    dicts; an empty file or another header is a ValueError when the first row is asked for.
    The bytes are decoded as they are read: decoded whole into a StringIO, a 57 MB table (the
    spans of 100k events) took 215 MB more, the peak of the build's tables check. Bytes
    that are not UTF-8 are a ValueError (UnicodeDecodeError) when the reader reaches them."""
    names = spec.field_names
    for values in iter_csv_values(spec, data):
        yield dict(zip(names, values, strict=True))


def iter_csv_values(spec: TableSpec, data: bytes) -> Iterator[tuple[Any, ...]]:
    """iter_csv_rows as tuples in the schema's field order (no dict made per row)."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""))
    header = next(reader, None)
    if header is None:
        raise ValueError("no header row")
    if tuple(header) != spec.field_names:
        raise ValueError(f"header {header} differs from the schema {list(spec.field_names)}")
    # Each column's reading worked out once: a list column's empty cell is the empty list.
    # A text cell is its own value: no call made for it (the tables check reads millions).
    readers = [
        (
            f.type == "list",
            f.type == "string",
            TYPES[f.type].from_cell,
            f.delimiter or LIST_DELIMITER,
        )
        for f in spec.fields
    ]
    for line in reader:
        yield tuple(
            [
                ([] if is_list else None)
                if text == ""
                else (text if is_text else parse(text, delimiter))
                for (is_list, is_text, parse, delimiter), text in zip(readers, line, strict=True)
            ]
        )


def unwritable(spec: TableSpec, rows: Iterable[Row]) -> list[str]:
    """List items a CSV cell cannot hold unchanged (empty, or containing the delimiter)."""
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
    """Cells a spreadsheet would run as a formula: named as table, key and column."""
    found = []
    # Numbers are left out (a negative one starts with "-" and is no formula), and dates (an
    # ISO date starts with its four-digit year), so their cells are not made at all; a text
    # is its own cell; each other column's cell writer is looked up once, not per cell.
    columns = [
        (f.name, f.type == "string", TYPES[f.type].to_cell, f.delimiter or LIST_DELIMITER)
        for f in spec.fields
        if f.type not in ("number", "integer", "date")
    ]
    for row in rows:
        for name, is_text, to_cell, delimiter in columns:
            value = row[name]
            if value is None:
                continue  # an empty cell
            text = value if is_text and type(value) is str else to_cell(value, delimiter)
            if text.startswith(FORMULA_STARTS):
                key = "/".join(str(row[k]) for k in spec.primary_key)
                found.append(f"{spec.name} {key} {name}: {text[:40]!r}")
    return found
