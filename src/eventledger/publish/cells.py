"""Values as CSV cells, and the canonical CSV of a table: the one text form of every value."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import chain, compress, count, repeat
from operator import itemgetter
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


def table_columns(spec: TableSpec, rows: Sequence[Row]) -> list[list[Any]]:
    """Each field's values down the rows, in the schema's order: taken once per table, the
    one form both the CSV and the Parquet copy are made from (a column at a time, in C)."""
    return [list(map(itemgetter(f.name), rows)) for f in spec.fields]


# The field types whose values csv.writer itself writes as cell() does, when every value of
# the column is of exactly that Python type or None: it writes None as "", a str as it is,
# and str() of anything else, which is the ISO form of a date, the digits of an int and
# (as repr) the shortest round-trip text of a float.
_WRITTEN_AS_IS: dict[str, type] = {"string": str, "integer": int, "number": float, "date": date}
_NONE = type(None)
# The field types whose cell() is str() of any value: csv.writer writes every value of
# theirs as cell() does, so their columns are not even looked through. (A str subclass it
# writes as its text, as str() makes it unless the subclass changes __str__: Term, the one
# records hold, does not.)
_ANY_AS_IS = frozenset({"string", "integer"})


def column_cells(spec: FieldSpec, values: list[Any]) -> list[str]:
    """cell(spec, value) of each value, made a column at a time: a table of 100k events has
    millions of cells, and the manifest hashes each of them. A column whose values are all of
    its type's plain Python type is made by one C loop (str() writes them as cell() does)."""
    plain = _WRITTEN_AS_IS.get(spec.type)
    if plain is not None and set(map(type, values)) <= {plain}:
        return values if plain is str else list(map(str, values))
    delimiter = spec.delimiter or LIST_DELIMITER
    if spec.type == "list":
        join = delimiter.join
        return ["" if v is None else join(v) for v in values]
    to_cell = TYPES[spec.type].to_cell
    return ["" if v is None else to_cell(v, delimiter) for v in values]


def csv_column(spec: FieldSpec, values: list[Any]) -> list[Any]:
    """values in a form csv.writer writes as cell(spec, value) each: the values themselves
    where it would make the same text (no call per cell), else their cells."""
    if spec.type in _ANY_AS_IS:
        return values
    plain = _WRITTEN_AS_IS.get(spec.type)
    if plain is not None and set(map(type, values)) <= {plain, _NONE}:
        return values
    return column_cells(spec, values)


def csv_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    """UTF-8, LF, a header of the field names in schema order, cells quoted only where needed."""
    return columns_csv_bytes(spec, table_columns(spec, rows))


def columns_csv_bytes(spec: TableSpec, columns: Sequence[list[Any]]) -> bytes:
    """csv_bytes of the table's columns (table_columns): the rows are zipped from them, each
    cell made by csv.writer in C where csv_column lets it."""
    lines: list[str] = []
    writer = csv.writer(_Lines(lines), lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(spec.field_names)
    writer.writerows(zip(*map(csv_column, spec.fields, columns), strict=True))
    return "".join(lines).encode("utf-8")


class _Lines:
    """A file for csv.writer that keeps the lines it is given: joined once at the end, cheaper
    than a StringIO's growing buffer for a table of tens of megabytes."""

    def __init__(self, lines: list[str]) -> None:
        self.write = lines.append


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


def unwritable(spec: TableSpec, rows: Sequence[Row]) -> list[str]:
    """List items a CSV cell cannot hold unchanged (empty, or containing the delimiter)."""
    return columns_unwritable(spec, table_columns(spec, rows))


def columns_unwritable(spec: TableSpec, columns: Sequence[list[Any]]) -> list[str]:
    """unwritable of the table's columns (table_columns)."""
    problems = []
    for f, values in zip(spec.fields, columns, strict=True):
        if f.type != "list":
            continue
        delimiter = f.delimiter or LIST_DELIMITER
        if len(delimiter) == 1:
            # All the column's items joined by the delimiter hold it exactly once between
            # each two of them when no item holds it: the usual case, told in C.
            items = list(chain.from_iterable(filter(None, values)))
            if "" not in items and delimiter.join(items).count(delimiter) == len(items) - 1:
                continue
        for i, value in enumerate(values):
            for item in value or ():
                if item == "" or delimiter in item:
                    problems.append(
                        f"{spec.name} {_key(spec, columns, i)}: {f.name} item {item!r} is empty "
                        f"or contains the delimiter {f.delimiter!r}"
                    )
    return problems


def _key(spec: TableSpec, columns: Sequence[list[Any]], i: int) -> str:
    """The primary key of the table's row i, as a message names it."""
    names = spec.field_names
    return "/".join(str(columns[names.index(k)][i]) for k in spec.primary_key)


def formula_cells(spec: TableSpec, rows: Sequence[Row]) -> list[str]:
    """Cells a spreadsheet would run as a formula: named as table, key and column."""
    return columns_formula_cells(spec, table_columns(spec, rows))


def columns_formula_cells(spec: TableSpec, columns: Sequence[list[Any]]) -> list[str]:
    """formula_cells of the table's columns (table_columns)."""
    found: list[tuple[int, int, str]] = []  # row, column, what to say
    # Numbers are left out (a negative one starts with "-" and is no formula), and dates (an
    # ISO date starts with its four-digit year), so their cells are not made at all. A column
    # of texts is its own cells; any other column's cells are made, a column at a time.
    for c, (f, values) in enumerate(zip(spec.fields, columns, strict=True)):
        if f.type in ("number", "integer", "date"):
            continue
        texts = values if f.type == "string" else column_cells(f, values)
        try:
            hits = _starting_formulas(texts)
        except TypeError:  # a null or a value not text, which str.startswith refuses
            texts = column_cells(f, values)
            hits = _starting_formulas(texts)
        for i in hits:
            key = _key(spec, columns, i)
            found.append((i, c, f"{spec.name} {key} {f.name}: {texts[i][:40]!r}"))
    found.sort()  # in row, then column order
    return [said for _, _, said in found]


def _starting_formulas(texts: list[str]) -> list[int]:
    """Where a text starts as a formula, by one C loop over the column."""
    return list(compress(count(), map(str.startswith, texts, repeat(FORMULA_STARTS))))
