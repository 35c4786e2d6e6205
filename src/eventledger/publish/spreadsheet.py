"""The spreadsheet copy of a release: one sheet per table, every text cell typed as text.

The canonical CSV is byte-exact and meant for programs: a cell such as "-30 Grad" or
"@handle" would run as a formula if a spreadsheet opened the CSV. In this workbook every
text cell is written as an inline string (never a formula), so opening it runs nothing;
dates are date cells with a yyyy-mm-dd format.

The sheets' XML is written here, a row at a time to a temporary file, so a million rows
cost no more memory than a thousand: four times less CPU than XlsxWriter's constant-memory
mode, cell for cell the same. Its bytes depend only on the cells and `created` (core.xml's
dates; the zip entries carry a fixed 1980 timestamp), and [Content_Types].xml is the first
zip entry, as some readers require.

A sheet holds at most 1,048,576 rows (Excel's limit): a larger table continues on sheets
named "<table> (2)", "<table> (3)" and so on, each with the header row, and the notes say so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import io
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, overload
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc

from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import LIST_DELIMITER, TYPES
from eventledger.publish.children import (
    Child,
    arrow_gives_memory_back,
    die_with_parent,
    end,
    launch,
)

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
    beside: Path | None = None,
) -> Spreadsheet:
    """The workbook; a file-system fault of its temporary files (a full disk, a file-size
    limit) is the OSError itself, which the release reports by name. With beside (a build's
    aside folder), the sheets are written in a folder next to it, <its name>-xlsx-..., which
    a later build removes if this one is killed; otherwise in the system's temporary folder."""
    buffer = io.BytesIO()
    sheets: dict[str, list[str]] = {}
    notes: list[str] = []
    titles: list[str] = []
    with (
        tempfile.TemporaryDirectory(
            prefix=_sheets_prefix(beside) if beside else "eventledger-xlsx-",
            dir=beside.parent if beside else None,
        ) as tmp,
        zipfile.ZipFile(buffer, "w") as book,
    ):
        parts: list[tuple[str, Path]] = []
        for name, spec in schema.tables.items():
            table = rows[name]
            names = sheet_names(name, len(table), sheet_rows)
            sheets[name] = names
            if len(names) > 1:
                notes.append(
                    f"{name}: {len(table):,} rows are more than a sheet holds; "
                    f"the spreadsheet splits them over the sheets {', '.join(names)}"
                )
            per_sheet = sheet_rows - 1
            for k, sheet_name in enumerate(names):
                titles.append(sheet_name)
                path = Path(tmp) / f"sheet{len(titles)}.xml"
                part = table[k * per_sheet : (k + 1) * per_sheet]
                with open(path, "wb") as out:
                    _write_sheet(out, spec, _batches(spec, part), sheet_name, notes)
                parts.append((f"xl/worksheets/sheet{len(titles)}.xml", path))
        # [Content_Types].xml first, as some readers require.
        _add(book, "[Content_Types].xml", _content_types(len(titles)).encode("utf-8"))
        _add(book, "_rels/.rels", _ROOT_RELS.encode("utf-8"))
        _add(book, "docProps/app.xml", _APP.encode("utf-8"))
        stamp = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _add(book, "docProps/core.xml", _CORE.format(when=stamp).encode("utf-8"))
        _add(book, "xl/workbook.xml", _workbook(titles).encode("utf-8"))
        _add(book, "xl/_rels/workbook.xml.rels", _workbook_rels(len(titles)).encode("utf-8"))
        _add(book, "xl/styles.xml", _STYLES.encode("utf-8"))
        for name, path in parts:
            _add_file(book, name, path)
    return Spreadsheet(buffer.getvalue(), sheets, notes)


# Excel's escapes in text: a control character is written _xHHHH_, and a literal _xHHHH_
# keeps its meaning by escaping its underscore (what XlsxWriter does, and Excel reads).
_LITERAL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_NEEDS_WORK = re.compile("[&<>_\x00-\x08\x0b-\x1f\ufffe\uffff]")
_EDGE_SPACE = re.compile(r"^\s|\s$")


def _text(value: str) -> str:
    if _NEEDS_WORK.search(value):
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        value = _LITERAL_ESCAPE.sub(r"_x005F\1", value)
        value = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", value)
        value = value.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return value


def _column(c: int) -> str:
    name = ""
    c += 1
    while c:
        c, rest = divmod(c - 1, 26)
        name = chr(65 + rest) + name
    return name


_EPOCH = dt.date(1899, 12, 30)  # day 0 of Excel's 1900 date system (after its 1900 leap bug)


def _batches(spec: TableSpec, rows: Sequence[Row]) -> Iterator[pa.RecordBatch]:
    """The rows as Arrow batches: read from the Parquet table a batch at a time, or the
    Arrow table of rows in memory (as the Parquet copy is made, so the same values)."""
    if isinstance(rows, _ParquetTable):
        yield from rows.batches()
        return
    from eventledger.publish.parquet import arrow_table

    yield from arrow_table(spec, rows).to_batches(max_chunksize=_ParquetTable.BATCH)


def _write_sheet(
    out: BinaryIO,
    spec: TableSpec,
    batches: Iterable[pa.RecordBatch],
    sheet_name: str,
    notes: list[str],
) -> None:
    """One worksheet's XML, a batch of rows at a time: text as inline strings (never a
    formula), numbers as numbers, dates as day numbers in the yyyy-mm-dd style; an empty
    value writes no cell.

    Each column's cells are made for the whole batch by Arrow's string functions (the
    escapes, the row numbers, the markup around them), and the rows joined there: the
    text of a batch is written as Arrow made it, with no Python object per cell. Only a
    cell Arrow cannot make as _cell_xml does (control characters, a text too long for a
    cell) is made by _cell_xml."""
    fields = spec.fields
    columns = [_column(c) for c in range(len(fields))]
    out.write(_SHEET_HEAD.encode("utf-8"))
    header = "".join(
        f'<c r="{col}1" t="inlineStr"><is><t>{_text(f.name)}</t></is></c>'
        for col, f in zip(columns, fields, strict=True)
    )
    out.write(f'<row r="1">{header}</row>'.encode())
    first = 2
    for batch in batches:
        for part in _bounded(batch):
            _write_rows(out, fields, columns, part, first, sheet_name, notes)
            first += part.num_rows
    out.write(_SHEET_TAIL.encode("utf-8"))


# A batch's XML is one Arrow string array, whose offsets are 32-bit: a batch whose text could
# come near 2 GiB (long texts) is written in smaller parts.
_PART_TEXT = 1 << 28
# Each column's cells of a part are held until its rows are joined: a few thousand rows keep
# that small (the whole batch read from Parquet made the process a third larger).
_PART_ROWS = 4096


def _bounded(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    if batch.num_rows > _PART_ROWS:
        for start in range(0, batch.num_rows, _PART_ROWS):
            yield from _bounded(batch.slice(start, _PART_ROWS))
        return
    text = 0
    for column in batch.columns:
        if pa.types.is_string(column.type):
            text += pc.sum(pc.binary_length(column)).as_py() or 0
        elif pa.types.is_list(column.type):
            text += pc.sum(pc.binary_length(pc.list_flatten(column))).as_py() or 0
            text += len(column)  # delimiters
    if text <= _PART_TEXT or batch.num_rows <= 1:
        yield batch
        return
    half = batch.num_rows // 2
    yield from _bounded(batch.slice(0, half))
    yield from _bounded(batch.slice(half))


# What Python's re takes as white space (\s, as in _EDGE_SPACE: str.isspace); none is
# above U+3000 (a test holds it).
_SPACES = "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(0x3001)) if c.isspace())
# _NEEDS_WORK, and _EDGE_SPACE, in RE2's words (Arrow's patterns): a text it finds needs
# _text's escapes or xml:space="preserve". RE2's $ is only the end (Python's is also before
# a last newline, itself white space: the same texts).
_NEEDS_WORK_RE2 = (
    f"^[{_SPACES}]|[{_SPACES}]$|[&<>\\x00-\\x08\\x0b-\\x1f\\x{{fffe}}\\x{{ffff}}]"
    "|_x[0-9a-fA-F]{4}_"
)
_DAY_ZERO = (dt.date(1970, 1, 1) - _EPOCH).days  # Arrow's day 0 in Excel's day numbers
# A whole number of at most this size is its own digits in the .16G format: .16G makes a float
# of it first, exact up to 2**53 (9007199254740993 is written 9007199254740992, as before).
_WHOLE = 2**53


def _write_rows(
    out: BinaryIO,
    fields: Sequence[FieldSpec],
    columns: Sequence[str],
    batch: pa.RecordBatch,
    first: int,
    sheet_name: str,
    notes: list[str],
) -> None:
    n = batch.num_rows
    if n == 0:
        return
    numbers = pa.array(range(first, first + n), pa.int64()).cast(pa.string())
    cells: list[pa.Array] = []
    said: list[tuple[int, int, str]] = []  # row, column, note
    for c, (col, f, values) in enumerate(zip(columns, fields, batch.columns, strict=True)):
        kind = TYPES[f.type].spreadsheet
        if kind == "text":
            if pa.types.is_list(values.type):
                values = pc.binary_join(values, f.delimiter or LIST_DELIMITER)
            cells.append(_text_cells(col, f.name, values, numbers, first, sheet_name, c, said))
        elif kind == "date":
            days = pc.add(values.cast(pa.int32()).cast(pa.int64()), _DAY_ZERO).cast(pa.string())
            cells.append(_joined(f'<c r="{col}', numbers, '" s="1"><v>', days, "</v></c>"))
        else:
            cells.append(_joined(f'<c r="{col}', numbers, '"><v>', _numbers(values), "</v></c>"))
    rows = pc.binary_join_element_wise(
        '<row r="', numbers, '">', *cells, "</row>", "", null_handling="skip"
    )
    offsets = memoryview(rows.buffers()[1]).cast("i")
    data = rows.buffers()[2]
    if data is not None:
        out.write(memoryview(data)[offsets[rows.offset] : offsets[rows.offset + n]])
    said.sort()  # in row, then column order, as a row at a time would say them
    notes.extend(note for _, _, note in said)


def _joined(*parts: Any) -> pa.Array:
    """The parts joined row by row; null where any part is null (an empty value: no cell)."""
    return pc.binary_join_element_wise(*parts, "", null_handling="emit_null")


def _numbers(values: pa.Array) -> pa.Array:
    """Each number as f"{value:.16G}" writes it: a whole number a float holds exactly (up to
    2**53 in size) is its own digits, which Arrow writes; any other is formatted here."""
    if pa.types.is_integer(values.type):
        # (the least and the most, not abs(), which wraps the least int64 to itself)
        least, most = (bound.as_py() for bound in pc.min_max(values).values())
        if least is None or (-_WHOLE <= least and most <= _WHOLE):  # noqa: SIM300 - a range
            return values.cast(pa.string())
    return pa.array([None if v is None else f"{v:.16G}" for v in values.to_pylist()], pa.string())


def _text_cells(
    col: str,
    name: str,
    text: pa.Array,
    numbers: pa.Array,
    first: int,
    sheet_name: str,
    c: int,
    said: list[tuple[int, int, str]],
) -> pa.Array:
    """The inline-string cells of a column of texts, as _cell_xml makes each: a text that
    needs nothing of what _cell_xml may do (no escape, no xml:space, no cut), found by one
    pattern in Arrow, is put in its markup there; the rest are made by _cell_xml."""
    cells = _joined(f'<c r="{col}', numbers, '" t="inlineStr"><is><t>', text, "</t></is></c>")
    odd = pc.or_(
        pc.match_substring_regex(text, _NEEDS_WORK_RE2),
        pc.greater(pc.utf8_length(text), TEXT_LIMIT // 2),
    )
    at = pc.indices_nonzero(pc.fill_null(odd, False)).to_pylist()
    if not at:
        return cells
    made = []
    for i in at:
        r = first + i
        xml, note = _cell_xml(col, r, text[i].as_py())
        made.append(xml)
        if note:
            said.append((r, c, f"{sheet_name} row {r} {name}: {note}"))
    mask = [False] * len(text)
    for i in at:
        mask[i] = True
    return pc.replace_with_mask(cells, pa.array(mask), pa.array(made, pa.string()))


def _cell_xml(col: str, r: int, text: str) -> tuple[str, str]:
    """One inline-string cell and, when its text is cut to what a cell holds, the note."""
    note = ""
    if len(text) > TEXT_LIMIT // 2 and _utf16_len(text) > TEXT_LIMIT:
        text = _utf16_cut(text, TEXT_LIMIT)
        note = (
            f"longer than a cell holds ({TEXT_LIMIT:,} characters), cut in the spreadsheet; "
            "the CSV holds it whole"
        )
    space = ' xml:space="preserve"' if _EDGE_SPACE.search(text) else ""
    return f'<c r="{col}{r}" t="inlineStr"><is><t{space}>{_text(text)}</t></is></c>', note


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _utf16_cut(text: str, limit: int) -> str:
    """The longest start of text of at most limit UTF-16 units, never half a character."""
    length = 0
    for index, char in enumerate(text):
        length += 2 if ord(char) > 0xFFFF else 1
        if length > limit:
            return text[:index]
    return text


# Every part of the workbook is stamped with the same time, as XlsxWriter did: its bytes
# depend only on the cells and `created` (core.xml).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0
    info.file_size = size
    return info


def _add(book: zipfile.ZipFile, name: str, data: bytes) -> None:
    with book.open(_info(name, len(data)), "w") as dest:
        dest.write(data)


def _add_file(book: zipfile.ZipFile, name: str, path: Path) -> None:
    with (
        open(path, "rb") as src,
        book.open(_info(name, os.fstat(src.fileno()).st_size), "w") as dest,
    ):
        shutil.copyfileobj(src, dest, 1 << 20)


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_SHEET_HEAD = f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><sheetData>'
_SHEET_TAIL = "</sheetData></worksheet>"
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_PKG_REL}/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP = (
    f'{_XML}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Application>eventledger</Application></Properties>'
)
_CORE = (
    f"{_XML}<cp:coreProperties "
    'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:creator>eventledger</dc:creator><cp:lastModifiedBy>eventledger</cp:lastModifiedBy>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified>'
    "</cp:coreProperties>"
)
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _content_types(sheets: int) -> str:
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{ct}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
        f"{overrides}"
        f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    )


def _workbook(titles: Sequence[str]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(t, {chr(34): "&quot;"})}" sheetId="{n}" r:id="rId{n}"/>'
        for n, t in enumerate(titles, start=1)
    )
    return (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f"<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>"
    )


def _workbook_rels(sheets: int) -> str:
    links = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    return f'{_XML}<Relationships xmlns="{_PKG_REL}">{links}{styles}</Relationships>'


class _ParquetTable(Sequence[Row]):
    """Rows start..stop of a Parquet table, read a batch at a time as they are iterated: the
    workbook's process holds one batch of rows, never a table."""

    BATCH = 16_384

    def __init__(self, path: Path, start: int = 0, stop: int | None = None) -> None:
        import pyarrow.parquet as pq

        self.path = path
        total = int(pq.ParquetFile(path).metadata.num_rows)
        self.start = start
        self.stop = total if stop is None else min(stop, total)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> _ParquetTable: ...

    def __getitem__(self, index: int | slice) -> Row | _ParquetTable:
        if isinstance(index, slice):
            lo, hi, step = index.indices(len(self))
            if step != 1:
                raise ValueError("only contiguous rows")
            return _ParquetTable(self.path, self.start + lo, self.start + max(lo, hi))
        if not 0 <= index < len(self):
            raise IndexError(index)
        return next(iter(self[index : index + 1]))

    def __iter__(self) -> Iterator[Row]:
        for batch in self.batches():
            yield from batch.to_pylist()

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as Arrow record batches, read one at a time."""
        import pyarrow.parquet as pq

        seen = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.BATCH):
            lo, hi = seen, seen + batch.num_rows
            seen = hi
            if hi <= self.start:
                continue
            if lo >= self.stop:
                break
            yield batch.slice(max(0, self.start - lo), min(hi, self.stop) - max(lo, self.start))


class _ParquetRows(Mapping[str, Sequence[Row]]):
    """The tables of a written package, read from its parquet/ folder when asked for."""

    def __init__(self, folder: Path, tables: Sequence[str]) -> None:
        self.folder = folder
        self.tables = list(tables)

    def __getitem__(self, name: str) -> Sequence[Row]:
        if name not in self.tables:
            raise KeyError(name)
        return _ParquetTable(self.folder / "parquet" / f"{name}.parquet")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)


def _sheets_prefix(beside: Path) -> str:
    """The name the sheets' folder beside a build's aside folder starts with."""
    return f"{beside.name}-xlsx-"


def spreadsheet_of_folder(schema: Schema, folder: Path, created: dt.datetime) -> Spreadsheet:
    """The workbook of the package written in folder, from its Parquet tables: the same cells
    as from the rows they were written from (their values round-trip: text, whole and
    decimal numbers, dates, lists of text), so the same bytes; a test compares them. The
    sheets are written beside folder, in build/."""
    return spreadsheet(schema, _ParquetRows(folder, list(schema.tables)), created, beside=folder)


class WorkbookAside:
    """The workbook written in a process of its own, beside the rest of the build (it is pure
    Python cell by cell, and the second core is otherwise idle). A fresh interpreter, not a
    fork: a fork shares the build's rows, and reading them touches (so copies) their memory
    pages, so the rows were held twice; this one reads the Parquet tables the build writes
    first, a batch at a time. It starts at once and is sent the folder (with the schema and
    the time) when the Parquet tables are written, while the build writes the CSVs. If it
    cannot start or fails on its own, the workbook is written here from the rows when asked
    for; killed, stopped or stuck, it stops the build (children.py)."""

    def __init__(
        self, schema: Schema, rows: Mapping[str, Sequence[Row]], created: dt.datetime
    ) -> None:
        self.args = (schema, rows, created)
        self.started = False
        self.folder: Path | None = None
        self.proc: Child | None = launch(
            "eventledger.publish.spreadsheet", "the spreadsheet (xlsx) writer"
        )
        self.reading: threading.Thread | None = None
        self.answer: object = None  # what it wrote, unpickled, once it ended well
        self.here = False  # result() wrote the workbook in this process (no answer came)

    def start(self, folder: Path) -> None:
        """The package's tables are written in folder: read them."""
        self.folder = folder
        if self.proc is None or self.proc.stdin is None:
            return
        schema, _, created = self.args
        self.started = True  # sent, or it is dead (a pipe fails only so): it ends either way
        try:
            self.proc.stdin.write(pickle.dumps((schema, folder, created)))
            self.proc.stdin.close()
        except OSError:  # it died: result() says how
            pass
        # Its answer is read as soon as it is written: a process blocked on a full pipe keeps
        # all its memory (200 MB at 100k events) until the build asks for the workbook, after
        # the site, beside the build's own peak; the workbook's bytes are 30 MB.
        self.reading = threading.Thread(
            target=self._read, args=(self.proc,), name="workbook-answer", daemon=True
        )
        self.reading.start()

    def _read(self, proc: Child) -> None:
        out = b""
        if proc.stdout is not None:
            with contextlib.suppress(OSError, ValueError):
                out = proc.stdout.read()
        if proc.wait() == 0:
            # Unpickled here, so only the workbook's bytes are kept, not their pickle too.
            with contextlib.suppress(Exception):  # anything but a result: written here instead
                self.answer = pickle.loads(out)  # noqa: S301 - our own child wrote it

    def result(self) -> Spreadsheet:
        """The workbook; an OSError of its temporary files is raised as itself."""
        if not self.started:  # never sent its folder: it would wait for ever
            self.stop()
        proc = self.proc
        if proc is not None and self.reading is not None:
            proc.awaited = True  # Watch ends it if it makes no progress
            self.reading.join()
            proc.answered()  # ChildFailed when a signal ended it
        answer, self.answer = self.answer, None
        if isinstance(answer, tuple) and len(answer) == 2:
            ok, value = answer
            if ok is True and isinstance(value, Spreadsheet):
                return value
            if ok is False and isinstance(value, OSError):
                raise value
        # The process could not start or failed on its own (it said why): write it here.
        self.here = True
        return spreadsheet(*self.args, beside=self.folder)

    def stop(self) -> None:
        """End the process (the build failed, or is done with it). A process killed here
        never removed the folder its sheets were being written in: remove it."""
        proc, self.proc = self.proc, None
        if proc is not None and self.reading is not None:
            # Killed first, so the thread reading its answer ends before its pipe is closed;
            # marked ended first, so Watch takes the kill for the build's, not a failure.
            proc.ended = True
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            self.reading.join()
        end(proc)
        if proc is not None and self.folder is not None:
            prefix = glob.escape(_sheets_prefix(self.folder))
            for left in self.folder.parent.glob(f"{prefix}*"):
                shutil.rmtree(left, ignore_errors=True)


def main() -> None:
    die_with_parent()
    import pyarrow.parquet  # noqa: F401 - loaded while the build writes its tables

    arrow_gives_memory_back()
    sent = sys.stdin.buffer.read()
    if not sent:
        return  # the build ended before its tables were written
    schema, folder, created = pickle.loads(sent)  # noqa: S301 - our own parent wrote it
    # Run as __main__: the result must be pickled as the module's own class, not __main__'s.
    from eventledger.publish import spreadsheet as module

    try:
        payload = pickle.dumps((True, module.spreadsheet_of_folder(schema, folder, created)))
    except OSError as err:  # its temporary files: the build names the fault
        payload = pickle.dumps((False, err))
    sys.stdout.buffer.write(payload)


if __name__ == "__main__":
    main()
