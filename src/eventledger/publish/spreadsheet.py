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

import datetime as dt
import glob
import io
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, overload
from xml.sax.saxutils import escape

from eventledger.model.schema import FieldSpec, Schema
from eventledger.model.types import LIST_DELIMITER, TYPES
from eventledger.publish.children import end, launch

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
                with open(path, "w", encoding="utf-8", newline="") as out:
                    _write_sheet(out, spec.fields, part, sheet_name, notes)
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


def _write_sheet(
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
        import pyarrow.parquet as pq

        seen = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.BATCH):
            lo, hi = seen, seen + batch.num_rows
            seen = hi
            if hi <= self.start:
                continue
            if lo >= self.stop:
                break
            yield from batch.slice(
                max(0, self.start - lo), min(hi, self.stop) - max(lo, self.start)
            ).to_pylist()


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
    the time) when the tables are written. If it cannot start or dies, the workbook is
    written here from the rows when asked for."""

    def __init__(
        self, schema: Schema, rows: Mapping[str, Sequence[Row]], created: dt.datetime
    ) -> None:
        self.args = (schema, rows, created)
        self.started = False
        self.folder: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = launch("eventledger.publish.spreadsheet")

    def start(self, folder: Path) -> None:
        """The package's tables are written in folder: read them."""
        self.folder = folder
        if self.proc is None or self.proc.stdin is None:
            return
        schema, _, created = self.args
        try:
            self.proc.stdin.write(pickle.dumps((schema, folder, created)))
            self.proc.stdin.close()
            self.started = True
        except OSError:
            self.stop()

    def result(self) -> Spreadsheet:
        """The workbook; an OSError of its temporary files is raised as itself."""
        if not self.started:  # never sent its folder: it would wait for ever
            self.stop()
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            out = proc.stdout.read()
            if proc.wait() == 0:
                try:
                    ok, value = pickle.loads(out)  # noqa: S301 - our own child wrote it
                except Exception:  # anything but a result: written here instead
                    ok, value = None, None
                if ok is True and isinstance(value, Spreadsheet):
                    return value
                if ok is False and isinstance(value, OSError):
                    raise value
        # The process could not start, died or failed otherwise: write it here.
        return spreadsheet(*self.args, beside=self.folder)

    def stop(self) -> None:
        """End the process (the build failed, or is done with it). A process killed here
        never removed the folder its sheets were being written in: remove it."""
        proc, self.proc = self.proc, None
        end(proc)
        if proc is not None and self.folder is not None:
            prefix = glob.escape(_sheets_prefix(self.folder))
            for left in self.folder.parent.glob(f"{prefix}*"):
                shutil.rmtree(left, ignore_errors=True)


def workbook_bytes(
    schema: Schema, rows: Mapping[str, Sequence[Row]], created: dt.datetime
) -> bytes:
    return spreadsheet(schema, rows, created).data


def main() -> None:
    import pyarrow.parquet  # noqa: F401 - loaded while the build writes its tables

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
