"""The spreadsheet copy of a release: one sheet per table, every text cell typed as text.

The canonical CSV is byte-exact and meant for programs: a cell such as "-30 Grad" or
"@handle" would run as a formula if a spreadsheet opened the CSV. In this workbook every
text cell is stored as a string, so opening it runs nothing. openpyxl stamps the save time
into docProps/core.xml and the zip entries; both are rewritten from `created`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook

from eventledger.model.schema import Schema
from eventledger.publish.archive import write_zip

Row = dict[str, Any]
_MODIFIED = re.compile(rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>")
_CREATED = re.compile(rb"<dcterms:created([^>]*)>[^<]*</dcterms:created>")


def workbook_bytes(
    schema: Schema, rows: Mapping[str, Sequence[Row]], created: dt.datetime
) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, spec in schema.tables.items():
        sheet = book.create_sheet(name)
        sheet.append(list(spec.field_names))
        for r, row in enumerate(rows[name], start=2):
            for c, f in enumerate(spec.fields, start=1):
                value = row[f.name]
                if value is None:
                    continue
                target = sheet.cell(row=r, column=c)
                if f.type == "list":
                    value = (f.delimiter or ",").join(value)
                if f.type in ("string", "list"):
                    target.value = value
                    target.data_type = "s"  # never a formula, whatever the text starts with
                elif f.type == "date":
                    target.value = value
                    target.number_format = "yyyy-mm-dd"
                else:
                    target.value = value
    naive = created.astimezone(dt.UTC).replace(tzinfo=None)
    book.properties.created = naive
    book.properties.modified = naive
    book.properties.creator = "eventledger"
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed(buffer.getvalue(), created)


def _fixed(data: bytes, created: dt.datetime) -> bytes:
    """Rewrite the workbook's zip with fixed timestamps and a fixed modified date."""
    stamp = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    entries: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            content = zf.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(
                    lambda m: (
                        b"<dcterms:modified" + m.group(1) + b">" + stamp + b"</dcterms:modified>"
                    ),
                    content,
                )
                content = _CREATED.sub(
                    lambda m: (
                        b"<dcterms:created" + m.group(1) + b">" + stamp + b"</dcterms:created>"
                    ),
                    content,
                )
            entries[info.filename] = content
    # [Content_Types].xml must stay the first entry for some readers; keep openpyxl's order.
    return write_zip(list(entries.items()), created, sort=False)
