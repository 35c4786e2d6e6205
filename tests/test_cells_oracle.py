"""The column-at-a-time cell writers give what the row-at-a-time ones (tests/oraclekit.py)
gave, for any values a release can hold: CSV and Parquet bytes, the sheets' XML and notes,
the formula-like cells and the list items a cell cannot hold."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oraclekit
from casekit import PROJECT
from eventledger.model.schema import Schema, TableSpec, load_schema
from eventledger.model.types import INT64_MAX, INT64_MIN
from eventledger.publish import cells, parquet, select, spreadsheet
from eventledger.read.records import Row as ReadRow
from eventledger.read.records import shape_of

SCHEMA: Schema = load_schema(PROJECT / "schema")
EVENTS: TableSpec = SCHEMA.tables["events"]
EVIDENCE: TableSpec = SCHEMA.tables["evidence"]

# Text with what a cell writer must mind: formula starts, markup, control characters,
# Excel's own _xHHHH_ escapes, white space of every kind at the edges, the list delimiter.
_TRICKY = st.sampled_from(
    [
        "=",
        "+",
        "-",
        "@",
        "\t",
        "\r",
        "\n",
        "&",
        "<",
        ">",
        "_x0041_",
        "_X00a1_",
        "\x00",
        "\x1f",
        "\x0b",
        " ",
        "\xa0",
        "\u2028",
        "\u3000",
        "\x85",
        "\ufffe",
        "\uffff",
        ",",
        ";",
        "é",
        "𝄞",
    ]
)
TEXT = st.lists(
    st.one_of(_TRICKY, st.text(st.characters(exclude_categories=["Cs"]), max_size=5)), max_size=6
).map("".join)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "string": TEXT,
    "integer": st.integers(INT64_MIN, INT64_MAX),
    "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53),
    "date": st.dates(),
    "list": st.lists(TEXT, max_size=4),
}


def rows_of(spec: TableSpec, *, nulls: bool = True) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {f.name: (st.none() | VALUES[f.type]) if nulls else VALUES[f.type] for f in spec.fields}
    )
    return st.lists(row, max_size=12)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_csv_and_parquet_bytes_as_before(data: st.DataObject) -> None:
    for spec in (EVENTS, EVIDENCE):
        rows = data.draw(rows_of(spec))
        assert cells.csv_bytes(spec, rows) == oraclekit.csv_bytes(spec, rows)
        lists_filled = [
            {k: ([] if v is None and spec.field(k).type == "list" else v) for k, v in r.items()}
            for r in rows
        ]
        for table in (rows, lists_filled):  # a list column with and without nulls
            assert parquet.parquet_bytes(spec, table) == oraclekit.parquet_bytes(spec, table)


@SETTINGS
@given(st.data())
def test_formula_cells_and_unwritable_items_as_before(data: st.DataObject) -> None:
    for spec in (EVENTS, EVIDENCE):
        rows = data.draw(rows_of(spec))
        assert cells.formula_cells(spec, rows) == oraclekit.formula_cells(spec, rows)
        assert cells.unwritable(spec, rows) == oraclekit.unwritable(spec, rows)


def test_every_formula_start_is_one_character() -> None:
    assert all(len(start) == 1 for start in cells.FORMULA_STARTS)


def test_no_white_space_above_what_the_sheet_pattern_names() -> None:
    import sys

    assert not [c for c in map(chr, range(0x3001, sys.maxunicode + 1)) if c.isspace()]


def _sheets(spec: TableSpec, rows: list[dict[str, Any]]) -> tuple[str, list[str], str, list[str]]:
    old, old_notes = io.StringIO(), ["before"]
    oraclekit.write_sheet(old, spec.fields, rows, "sheet", old_notes)
    new, new_notes = io.BytesIO(), ["before"]
    spreadsheet._write_sheet(new, spec, spreadsheet._batches(spec, rows), "sheet", new_notes)
    return new.getvalue().decode("utf-8"), new_notes, old.getvalue(), old_notes


@SETTINGS
@given(st.data())
def test_sheet_xml_and_notes_as_before(data: st.DataObject) -> None:
    for spec in (EVENTS, EVIDENCE):
        rows = data.draw(rows_of(spec))
        new, new_notes, old, old_notes = _sheets(spec, rows)
        assert new == old
        assert new_notes == old_notes


def test_sheet_cuts_long_texts_as_before(monkeypatch: Any) -> None:
    # Texts around the cell's limit, in UTF-16 units (a character beyond the BMP is two),
    # cut and noted in row then column order; and a batch of rows split into parts.
    monkeypatch.setattr(spreadsheet, "_PART_TEXT", 100_000)
    limit = spreadsheet.TEXT_LIMIT
    rows = []
    for i, text in enumerate(
        ["a" * limit, "a" * (limit + 1), "𝄞" * (limit // 2 + 1), " " + "b" * limit, "=x&" * limit]
    ):
        row: dict[str, Any] = {f.name: None for f in EVIDENCE.fields}
        row |= {"event_id": f"e{i}", "quote": text, "translation": text[::-1], "start": i}
        row["supports"] = [text[:limit], "event"]
        rows.append(row)
    new, new_notes, old, old_notes = _sheets(EVIDENCE, rows)
    assert new == old
    assert new_notes == old_notes
    assert len(new_notes) > 5


def test_row_copy_is_the_table_fields_in_order() -> None:
    names = EVENTS.field_names
    copy = select._RowCopier({"events": names})
    given_fields = (names[3], names[0], "not_in_table")
    row = ReadRow("events", ("c", "a", "x"), (), shape_of(given_fields))
    made = copy(row)
    assert list(made) == list(names)
    assert made == {n: row.get(n) for n in names}
    full = ReadRow("events", tuple(range(len(names))), (), shape_of(names))
    assert copy(full) == dict(zip(names, range(len(names)), strict=True))


def test_dates_before_1970_and_big_numbers_in_the_sheet() -> None:
    row: dict[str, Any] = {f.name: None for f in EVENTS.fields}
    row |= {"date_start": dt.date(1, 1, 1), "date_end": dt.date(9999, 12, 31)}
    row |= {"geonames_id": INT64_MIN, "latitude": 1e300, "longitude": -0.0}
    ids = [INT64_MAX, 10**16, 10**16 - 1, -(10**16) + 1, -(10**16), 0]
    new, _, old, _ = _sheets(EVENTS, [row] + [{**row, "geonames_id": i} for i in ids])
    assert new == old
    # A column whose numbers all have fewer than 17 digits, some past 2**53: .16G writes the
    # float each becomes (9007199254740993 as 9007199254740992), not its digits.
    row["geonames_id"] = 1
    ids = [2**53, 2**53 + 1, -(2**53), -(2**53) - 1, 2**53 - 1, 10**16 - 1]
    new, _, old, _ = _sheets(EVENTS, [{**row, "geonames_id": i} for i in ids])
    assert new == old


@SETTINGS
@given(st.data())
def test_a_column_s_cells_are_each_value_s_cell(data: st.DataObject) -> None:
    # The one column writer the CSV and the manifest share: cell() of each value, whether
    # the column is all of its plain type (a C loop) or holds nulls or other kinds.
    for spec in (EVENTS, EVIDENCE):
        for nulls in (True, False):
            rows = data.draw(rows_of(spec, nulls=nulls))
            for f in spec.fields:
                values = [r[f.name] for r in rows]
                assert cells.column_cells(f, values) == [cells.cell(f, v) for v in values]
