"""The xlsx copy, read back with openpyxl: text stays text whatever it starts with, dates are
dates, the bytes depend only on the rows and `created`, and a table longer than a sheet
continues on the next sheet instead of failing the build."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from casekit import PROJECT
from eventledger.model.schema import Schema, load_schema
from eventledger.publish.children import ChildFailed
from eventledger.publish.spreadsheet import spreadsheet

CREATED = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)
FORMULA_LIKE = ["=1+1", "+49 30 1234", "-30 Grad", "@kremlin meldete", '=HYPERLINK("x")']


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(PROJECT / "schema")


def cell(kind: str, i: int) -> Any:
    if kind == "string":
        return f"{FORMULA_LIKE[i % len(FORMULA_LIKE)]} {i}"
    if kind == "integer":
        return i
    if kind == "number":
        return i + 0.5
    if kind == "date":
        return dt.date(2019, 4, 25) + dt.timedelta(days=i)
    assert kind == "list"
    return [f"-a{i}", "=b"]


def rows_for(schema: Schema, count: int) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [
            {
                f.name: None if (i + c) % 7 == 3 else cell(f.type, i)
                for c, f in enumerate(spec.fields)
            }
            for i in range(count)
            for spec in [schema.tables[name]]
        ]
        for name in schema.tables
    }


def expected_cell(kind: str, value: Any, delimiter: str | None) -> Any:
    if value is None:
        return None
    if kind == "list":
        return (delimiter or ",").join(value)
    return value


def test_cells_read_back_typed_and_inert(schema: Schema) -> None:
    rows = rows_for(schema, 12)
    sheet = spreadsheet(schema, rows, CREATED)
    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    assert book.sheetnames == list(schema.tables)
    for name in schema.tables:
        spec = schema.tables[name]
        got = list(book[name].iter_rows())
        assert [c.value for c in got[0]] == list(spec.field_names)
        assert len(got) == 1 + len(rows[name])
        for row, cells in zip(rows[name], got[1:], strict=True):
            for f, c in zip(spec.fields, cells, strict=False):
                want = expected_cell(f.type, row[f.name], f.delimiter)
                assert c.data_type != "f"
                if want is None:
                    assert c.value is None
                elif f.type in ("string", "list"):
                    assert (c.data_type, c.value) == ("s", want)
                elif f.type == "date":
                    assert c.is_date and c.number_format == "yyyy-mm-dd"
                    assert c.value.date() == want
                else:
                    assert c.value == want
    with zipfile.ZipFile(io.BytesIO(sheet.data)) as zf:
        assert zf.namelist()[0] == "[Content_Types].xml"
        assert not any(b"<f>" in zf.read(n) for n in zf.namelist())
        assert b"2026-11-22T09:30:00Z" in zf.read("docProps/core.xml")
    assert sheet.notes == []


def test_same_rows_and_created_give_the_same_bytes(schema: Schema) -> None:
    rows = rows_for(schema, 5)
    first = spreadsheet(schema, rows, CREATED).data
    assert spreadsheet(schema, rows, CREATED).data == first
    later = spreadsheet(schema, rows, CREATED + dt.timedelta(days=1)).data
    assert later != first


def test_a_table_longer_than_a_sheet_continues_on_more_sheets(schema: Schema) -> None:
    rows = rows_for(schema, 7)
    sheet = spreadsheet(schema, rows, CREATED, sheet_rows=4)  # 3 data rows a sheet
    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    spec = schema.tables["events"]
    assert sheet.sheets["events"] == ["events", "events (2)", "events (3)"]
    values: list[Any] = []
    for title in sheet.sheets["events"]:
        got = list(book[title].iter_rows(values_only=True))
        assert list(got[0]) == list(spec.field_names)
        values += [r[0] for r in got[1:]]
    assert values == [r[spec.fields[0].name] for r in rows["events"]]
    assert any("events: 7 rows" in n and "events (3)" in n for n in sheet.notes)


def test_a_text_longer_than_a_cell_is_cut_and_said(schema: Schema) -> None:
    rows = rows_for(schema, 2)
    column = next(f.name for f in schema.tables["events"].fields if f.type == "string")
    rows["events"][1][column] = "x" * 40_000
    sheet = spreadsheet(schema, rows, CREATED)
    assert any(f"events row 3 {column}" in n and "CSV holds it whole" in n for n in sheet.notes)


def test_the_workbook_read_back_from_the_parquet_tables_is_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build writes the workbook in a process of its own from the Parquet tables it wrote
    first (batch by batch): every value round-trips, so the bytes are those made from the
    rows; a table split over sheets reads across its batches as well."""
    from eventledger.check.checker import load_dataset
    from eventledger.publish import spreadsheet as module
    from eventledger.publish.parquet import parquet_bytes
    from eventledger.publish.select import select
    from eventledger.read.repository import Repository

    dataset = load_dataset(Repository(PROJECT))
    rows = select(dataset).rows
    (tmp_path / "parquet").mkdir()
    for name, spec in dataset.schema.tables.items():
        (tmp_path / "parquet" / f"{name}.parquet").write_bytes(parquet_bytes(spec, rows[name]))
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    from_rows = spreadsheet(dataset.schema, rows, when)
    assert module.spreadsheet_of_folder(dataset.schema, tmp_path, when) == from_rows
    monkeypatch.setattr(module._ParquetTable, "BATCH", 7)
    small = {"sheet_rows": 11}  # sheets of ten rows: slices across batches of seven
    assert spreadsheet(
        dataset.schema, module._ParquetRows(tmp_path, list(rows)), when, **small
    ) == (spreadsheet(dataset.schema, rows, when, **small))
    assert len(rows["participants"]) > 20  # so that the split is really exercised


def test_the_workbook_process_reads_the_written_tables_and_a_dead_one_is_replaced(
    schema: Schema, tmp_path: Path
) -> None:
    from eventledger.publish.parquet import parquet_bytes
    from eventledger.publish.spreadsheet import WorkbookAside

    rows = rows_for(schema, 30)
    (tmp_path / "parquet").mkdir()
    for name, spec in schema.tables.items():
        (tmp_path / "parquet" / f"{name}.parquet").write_bytes(parquet_bytes(spec, rows[name]))
    expected = spreadsheet(schema, rows, CREATED)
    aside = WorkbookAside(schema, rows, CREATED)
    assert aside.proc is not None
    aside.start(tmp_path)
    assert aside.result() == expected  # from the Parquet files, in its own process
    killed = WorkbookAside(schema, rows, CREATED)
    assert killed.proc is not None
    killed.proc.kill()
    killed.start(tmp_path)
    with pytest.raises(ChildFailed, match=r"the spreadsheet \(xlsx\) writer .* SIGKILL"):
        killed.result()
    killed.stop()
    absent = WorkbookAside(schema, rows, CREATED)
    absent.stop()  # as when it cannot start: no process
    absent.start(tmp_path)
    assert absent.result() == expected  # written here, from the rows
    never = WorkbookAside(schema, rows, CREATED)
    assert never.result() == expected  # never sent a folder: not waited for
    assert never.proc is None


def test_the_workbooks_process_ends_once_the_workbook_is_written(
    schema: Schema, tmp_path: Path
) -> None:
    """Its answer is read as it comes: the process does not wait on a full pipe, holding its
    memory beside the build's, until the build asks for the workbook (after the site)."""
    from eventledger.publish.parquet import parquet_bytes
    from eventledger.publish.spreadsheet import WorkbookAside

    rows = rows_for(schema, 3000)
    (tmp_path / "parquet").mkdir()
    for name, spec in schema.tables.items():
        (tmp_path / "parquet" / f"{name}.parquet").write_bytes(parquet_bytes(spec, rows[name]))
    aside = WorkbookAside(schema, rows, CREATED)
    proc = aside.proc
    assert proc is not None
    aside.start(tmp_path)
    assert proc.wait(timeout=60) == 0  # ended before the workbook was asked for
    sheet = aside.result()
    assert len(sheet.data) > 2**16  # more than a pipe holds: it could not have ended unread
    assert sheet == spreadsheet(schema, rows, CREATED)


def test_a_builds_sheets_are_written_beside_its_folder_in_build(
    schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never outside build/: the sheets' temporary files go next to the build's aside folder,
    named after it (so a later build removes them if this one is killed), and are gone after."""
    from eventledger.publish import spreadsheet as module

    aside = tmp_path / ".0.1.0-abc"
    aside.mkdir()
    written: list[Path] = []
    real = module._write_sheet

    def recorded(out: Any, *args: Any) -> None:
        written.append(Path(out.name))
        real(out, *args)

    monkeypatch.setattr(module, "_write_sheet", recorded)
    rows = rows_for(schema, 3)
    assert spreadsheet(schema, rows, CREATED, beside=aside) == spreadsheet(schema, rows, CREATED)
    here = written[: len(schema.tables)]
    assert here and all(p.parent.parent == tmp_path for p in here)
    assert all(p.parent.name.startswith(".0.1.0-abc-xlsx-") for p in here)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".0.1.0-abc"]
