"""The spreadsheet copy of a release: one sheet per table, every text cell typed as text.

The canonical CSV is byte-exact and meant for programs: a cell such as "-30 Grad" or
"@handle" would run as a formula if a spreadsheet opened the CSV. In this workbook every
text cell is written as a string (never through XlsxWriter's guessing write()), so opening
it runs nothing; dates are date cells with a yyyy-mm-dd format.

XlsxWriter in constant-memory mode streams each row to a temporary file as it goes, so a
million rows cost no more memory than a thousand. Its bytes depend only on the cells and
`created` (core.xml's dates; the zip entries carry XlsxWriter's fixed 1980 timestamp), and
[Content_Types].xml is the first zip entry, as some readers require.

A sheet holds at most 1,048,576 rows (Excel's limit): a larger table continues on sheets
named "<table> (2)", "<table> (3)" and so on, each with the header row, and the notes say so.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from eventledger.model.schema import Schema
from eventledger.model.types import LIST_DELIMITER, TYPES
from eventledger.publish.forked import ChildDied, Forked, can_fork

Row = dict[str, Any]
SHEET_ROWS = 1_048_576  # Excel's limit, the header row included
TEXT_LIMIT = 32_767  # the most characters (UTF-16 units) a cell holds


@dataclass
class Spreadsheet:
    data: bytes
    sheets: dict[str, list[str]]  # table -> the sheets it fills, in order
    notes: list[str] = field(default_factory=list)  # what a reader must know: splits, cut cells


def sheet_names(table: str, rows: int, sheet_rows: int = SHEET_ROWS) -> list[str]:
    per_sheet = sheet_rows - 1  # each sheet repeats the header
    count = max(1, -(-rows // per_sheet))
    return [table] + [f"{table} ({k})" for k in range(2, count + 1)]


def spreadsheet(
    schema: Schema,
    rows: Mapping[str, Sequence[Row]],
    created: dt.datetime,
    *,
    sheet_rows: int = SHEET_ROWS,
) -> Spreadsheet:
    """The workbook; a file-system fault of its temporary files (a full disk, a file-size
    limit) is the OSError itself, which the release reports by name, not XlsxWriter's
    wrapper."""
    try:
        return _spreadsheet(schema, rows, created, sheet_rows)
    except FileCreateError as err:
        cause = err.args[0] if err.args else None
        if isinstance(cause, OSError):
            raise OSError(cause.errno, cause.strerror, cause.filename) from None
        raise OSError(str(err)) from None


def _spreadsheet(
    schema: Schema,
    rows: Mapping[str, Sequence[Row]],
    created: dt.datetime,
    sheet_rows: int,
) -> Spreadsheet:
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="eventledger-xlsx-") as tmp:
        book = xlsxwriter.Workbook(
            buffer,
            {
                "constant_memory": True,
                "tmpdir": tmp,
                # Belt and braces: only write_string is called for text, but nothing should
                # ever turn a text into a formula, a number or a link.
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "nan_inf_to_errors": True,
            },
        )
        book.set_properties(
            {"created": created.astimezone(dt.UTC).replace(tzinfo=None), "author": "eventledger"}
        )
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        sheets: dict[str, list[str]] = {}
        notes: list[str] = []
        for name, spec in schema.tables.items():
            table = rows[name]
            names = sheet_names(name, len(table), sheet_rows)
            sheets[name] = names
            if len(names) > 1:
                notes.append(
                    f"{name}: {len(table):,} rows are more than a sheet holds; "
                    f"the spreadsheet splits them over the sheets {', '.join(names)}"
                )
            fields = [
                (c, f.name, TYPES[f.type].spreadsheet, TYPES[f.type].to_cell, f.delimiter)
                for c, f in enumerate(spec.fields)
            ]
            per_sheet = sheet_rows - 1
            for k, sheet_name in enumerate(names):
                sheet = book.add_worksheet(sheet_name)
                text, number, date = sheet.write_string, sheet.write_number, sheet.write_datetime
                for c, header in enumerate(spec.field_names):
                    text(0, c, header)
                for r, row in enumerate(table[k * per_sheet : (k + 1) * per_sheet], start=1):
                    for c, column, kind, to_text, delimiter in fields:
                        value = row[column]
                        if value is None:
                            continue
                        if kind == "text":  # lists as their CSV text, joined
                            if text(r, c, to_text(value, delimiter or LIST_DELIMITER)) == -2:
                                notes.append(
                                    f"{sheet_name} row {r + 1} {column}: longer than a cell holds "
                                    f"({TEXT_LIMIT:,} characters), cut in the spreadsheet; the CSV "
                                    "holds it whole"
                                )
                        elif kind == "date":
                            date(r, c, value, day)
                        else:
                            number(r, c, value)
        book.close()
    return Spreadsheet(buffer.getvalue(), sheets, notes)


def _room_for_a_copy() -> bool:
    """Whether the machine could hold a second copy of this process: the child reads every
    row, and reading touches (so copies) the memory pages that hold them."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, ValueError, KeyError, IndexError):
        return False
    return resident * 2 < available


class WorkbookAside:
    """The workbook written in a forked process, beside the rest of the build (it is pure
    Python cell by cell, and the second core is otherwise idle). Where fork is missing or
    memory is short, it is written when asked for."""

    def __init__(
        self, schema: Schema, rows: Mapping[str, Sequence[Row]], created: dt.datetime
    ) -> None:
        self.args = (schema, rows, created)
        self.child: Forked[Spreadsheet] | None = None
        if can_fork() and _room_for_a_copy():
            self.child = Forked(lambda: spreadsheet(schema, rows, created))

    def result(self) -> Spreadsheet:
        if self.child is not None:
            try:
                return self.child.result()
            except ChildDied:  # the process died (killed, out of memory): write it here
                pass
        return spreadsheet(*self.args)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


def workbook_bytes(
    schema: Schema, rows: Mapping[str, Sequence[Row]], created: dt.datetime
) -> bytes:
    return spreadsheet(schema, rows, created).data
