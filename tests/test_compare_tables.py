"""compare_tables proves an intact table in Arrow (its CSV is byte for byte the cells of its
Parquet twin) and leaves every other table to the exact row-by-row comparison: its answer
must be the exact comparison's answer for every pair of files, the differences that a plain
comparison of texts would miss included (None, "", [] and [""]; a number's text; NaN)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.issues import Issue
from eventledger.model.types import INT64_MAX, INT64_MIN
from eventledger.publish import verify as module
from eventledger.publish.cells import csv_bytes
from eventledger.publish.parquet import parquet_bytes
from eventledger.publish.verify import compare_tables, table_spec

CSV = "data/t.csv"
# The csv module's default field limit; frictionless raises the process's own when it reads.
FIELD_LIMIT = 131_072
PARQUET = "parquet/t.parquet"
FIELDS = [
    {"name": "id", "type": "string"},
    {"name": "n", "type": "integer"},
    {"name": "x", "type": "number"},
    {"name": "day", "type": "date"},
    {"name": "tags", "type": "list", "delimiter": ","},
    {"name": "note", "type": "string"},
]


def _resource(fields: list[dict[str, Any]], path: str) -> dict[str, Any]:
    return {"name": "t", "path": path, "schema": {"fields": fields}}


SPEC = table_spec(_resource(FIELDS, CSV))
ALONE = table_spec(_resource([{"name": "only", "type": "string"}], CSV))


def _write_package(folder: Path, fields: list[dict[str, Any]], data: bytes, twin: bytes) -> Path:
    """A package folder of one table, its CSV and Parquet files named with their true size and
    hash in both descriptors (what compare_tables reads; it checks no SHA256SUMS)."""
    for rel, content, descriptor in (
        (CSV, data, "datapackage.json"),
        (PARQUET, twin, "parquet/datapackage.json"),
    ):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
        res = _resource(fields, rel.removeprefix("parquet/"))
        res["bytes"] = len(content)
        res["hash"] = "sha256:" + hashlib.sha256(content).hexdigest()
        (folder / descriptor).write_text(json.dumps({"resources": [res]}))
    return folder


def _both(folder: Path) -> tuple[list[Issue], list[Issue]]:
    """compare_tables as it is, and with every table left to the exact comparison."""
    found = compare_tables(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_same_as_csv", lambda *_: False)
        exact = compare_tables(folder)
    return found, exact


ROW: dict[str, Any] = {
    "id": "a",
    "n": -3,
    "x": 1.5,
    "day": dt.date(2019, 4, 25),
    "tags": ["p", "q"],
    "note": 'said "yes", then\nleft',
}


def _rows(**change: Any) -> list[dict[str, Any]]:
    return [ROW, {**ROW, "id": "b", **change}]


# Each case: the rows of the Parquet file, the rows the CSV is written from (or its bytes),
# and the message of the exact comparison ("" when the two are equal).
CASES: dict[str, tuple[list[dict[str, Any]], Any, str]] = {
    "equal": (_rows(), _rows(), ""),
    "empty text against null": (_rows(note=""), _rows(note=None), "first difference at row 2"),
    "null list against empty list": (_rows(tags=None), _rows(tags=[]), "at row 2"),
    '[""] against empty list': (_rows(tags=[""]), _rows(tags=[]), "at row 2"),
    "an item holding the delimiter": (_rows(tags=["p,q"]), _rows(tags=["p", "q"]), "at row 2"),
    "NaN in both": (_rows(x=math.nan), _rows(x=math.nan), "at row 2"),
    "another number": (_rows(x=1.25), _rows(x=1.5), "at row 2"),
    "another date": (_rows(day=dt.date(2019, 4, 26)), _rows(), "at row 2"),
    "rows in another order": (_rows(), list(reversed(_rows())), "at row 1"),
    "a row more in the CSV": (_rows(), [*_rows(), ROW], "2 rows against 3"),
    "a row fewer in the CSV": (_rows(), _rows()[:1], "2 rows against 1"),
    "a number written without its .0": (_rows(x=2.0), b"", ""),
    "CRLF line ends": (_rows(), b"\r\n", ""),
    "a byte-order mark": (_rows(), b"\xef\xbb\xbf", "not a readable CSV table"),
    "a lone carriage return": (_rows(note="a\rb"), _rows(note="a\rb"), "not a readable CSV"),
    "a cell past the csv module's field limit": (
        _rows(note="z" * (FIELD_LIMIT + 1)),
        _rows(note="z" * (FIELD_LIMIT + 1)),
        "field larger than field limit",
    ),
}


def _csv_for(parquet_rows: list[dict[str, Any]], written: Any) -> bytes:
    if isinstance(written, list):
        return csv_bytes(SPEC, written)
    data = csv_bytes(SPEC, parquet_rows)
    if written == b"":  # 2.0 written as "2", which reads back as the same float
        return data.replace(b",2.0,", b",2,")
    if written == b"\r\n":
        return data.replace(b"\n", b"\r\n").replace(b"then\r\nleft", b"then\nleft")
    return bytes(written) + data


@pytest.mark.parametrize("case", CASES)
def test_compare_tables_answers_as_the_exact_comparison(case: str, tmp_path: Path) -> None:
    parquet_rows, written, message = CASES[case]
    data = _csv_for(parquet_rows, written)
    folder = _write_package(tmp_path, FIELDS, data, parquet_bytes(SPEC, parquet_rows))
    before = csv.field_size_limit(FIELD_LIMIT)
    try:
        found, exact = _both(folder)
    finally:
        csv.field_size_limit(before)
    assert found == exact
    if message:
        assert len(found) == 1
        assert message in str(found[0].message)
        assert found[0].file in (CSV, PARQUET)
    else:
        assert found == []


def test_a_damaged_parquet_file_is_named_as_before(tmp_path: Path) -> None:
    twin = parquet_bytes(SPEC, _rows())
    # A byte of the column data flipped: the footer still reads, the pages do not.
    damaged = twin[:20] + bytes([twin[20] ^ 0xFF]) + twin[21:]
    folder = _write_package(tmp_path, FIELDS, csv_bytes(SPEC, _rows()), damaged)
    found, exact = _both(folder)
    assert found == exact
    assert [(i.file, i.code) for i in found] == [(PARQUET, "package-file-malformed")]


def test_the_proof_reads_the_csv_a_batch_at_a_time(tmp_path: Path) -> None:
    """A build proves its tables beside its own peak: the CSV is never read whole, and a
    CSV longer than its Parquet twin (one more line at the end) is not proved."""
    rows = [{**ROW, "id": f"r{i:03}"} for i in range(200)]
    data = csv_bytes(SPEC, rows)

    class Reads(io.BytesIO):
        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.sizes: list[int] = []

        def read(self, size: int | None = -1, /) -> bytes:
            self.sizes.append(-1 if size is None else size)
            return super().read(size)

    twin = parquet_bytes(SPEC, rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_BATCH", 10)
        source = Reads(data)
        assert module._same_as_csv(SPEC, pq.ParquetFile(pa.BufferReader(twin)), source)
        assert -1 not in source.sizes and max(source.sizes) < len(data) / 10
        longer = Reads(data + data.splitlines(keepends=True)[-1])
        assert not module._same_as_csv(SPEC, pq.ParquetFile(pa.BufferReader(twin)), longer)


def test_a_date_python_cannot_hold_is_named_as_before(tmp_path: Path) -> None:
    """A Parquet date past 9999-12-31 has an ISO text but no Python date."""
    schema = pa.schema([pa.field(f["name"], _arrow(f), nullable=True) for f in FIELDS])
    columns = {f["name"]: [ROW[f["name"]]] for f in FIELDS}
    table = pa.Table.from_pydict(columns, schema=schema)
    late = pa.array([3_000_000], pa.int32()).cast(pa.date32())
    table = table.set_column(3, schema.field(3), late)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    text = pa.compute.cast(late, pa.string())[0].as_py()
    data = csv_bytes(SPEC, [ROW]).replace(b"2019-04-25", text.encode())
    folder = _write_package(tmp_path, FIELDS, data, sink.getvalue())
    assert not module._same_as_csv(SPEC, pq.ParquetFile(folder / PARQUET), io.BytesIO(data))
    found, exact = _both(folder)
    assert found == exact
    # The CSV's row is read first, and Python reads no such date from it either.
    assert [(i.file, i.code) for i in found] == [(CSV, "package-file-malformed")]


def _arrow(field: dict[str, Any]) -> pa.DataType:
    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "date": pa.date32(),
        "list": pa.list_(pa.string()),
    }[field["type"]]


def test_a_table_of_one_column_with_empty_cells(tmp_path: Path) -> None:
    """A row of one empty cell is written '""' (an empty line would be no row at all)."""
    fields = [{"name": "only", "type": "string"}]
    rows: list[dict[str, Any]] = [{"only": None}, {"only": "x"}, {"only": None}]
    data = csv_bytes(ALONE, rows)
    assert b'\n""\n' in data
    folder = _write_package(tmp_path, fields, data, parquet_bytes(ALONE, rows))
    assert _both(folder) == ([], [])
    assert module._same_as_csv(ALONE, pq.ParquetFile(folder / PARQUET), io.BytesIO(data))


# Random tables: every value the columns can hold, the awkward ones often.
_CHARS = st.sampled_from(list('ab,"\n\r\x00 é\U0001f600'))
_TEXT = st.text(_CHARS, max_size=6)
_VALUES = {
    "id": st.none() | _TEXT,
    "n": st.none() | st.integers(INT64_MIN, INT64_MAX),
    "x": st.none() | st.floats() | st.integers(-5, 5).map(float),
    "day": st.none() | st.dates(),
    "tags": st.none() | st.lists(_TEXT, max_size=3),
    "note": st.none() | _TEXT,
}
_ROWS = st.lists(st.fixed_dictionaries(_VALUES), max_size=6)


def _equivalent(value: Any, kind: str) -> st.SearchStrategy[Any]:
    """A value the CSV may be written from instead, which a comparison of texts may not tell
    apart from it."""
    if kind == "string" and value in (None, ""):
        return st.sampled_from([None, ""])
    if kind == "list" and value in (None, [], [""]):
        return st.sampled_from([None, [], [""]])
    if kind == "list":
        return st.just(",".join(value).split(","))
    return st.just(value)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], bytes]:
    """Parquet rows and the bytes of a CSV written from rows like them (or altered after)."""
    rows = draw(_ROWS)
    written: list[dict[str, Any]] = []
    for row in rows:
        like: dict[str, Any] = {}
        for f in FIELDS:
            value = row[f["name"]]
            if draw(st.booleans()):
                value = draw(_equivalent(value, f["type"]))
            like[f["name"]] = value
        written.append(like)
    shuffled: list[dict[str, Any]] = draw(st.permutations(written))
    if draw(st.booleans()):
        written = shuffled
    kept: int = draw(st.integers(0, len(written)))
    if draw(st.booleans()):
        written = written[:kept]
    data = csv_bytes(SPEC, written)
    alter = draw(st.sampled_from(["none", "crlf", "bom", "blank line", "no last newline"]))
    if alter == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif alter == "bom":
        data = b"\xef\xbb\xbf" + data
    elif alter == "blank line":
        data += b"\n"
    elif alter == "no last newline":
        data = data.removesuffix(b"\n")
    return rows, data


def _exact(spec: Any, parquet: bytes, data: bytes) -> list[Issue]:
    twin = pq.ParquetFile(pa.BufferReader(parquet))
    return module._compare_rows(spec, twin, data, CSV, PARQUET, twin.metadata.num_rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=_pairs(), batch=st.sampled_from([1, 2, 16_384]))
def test_what_arrow_proves_equal_the_exact_comparison_finds_equal(
    pair: tuple[list[dict[str, Any]], bytes], batch: int
) -> None:
    rows, data = pair
    parquet = parquet_bytes(SPEC, rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_BATCH", batch)
        proved = module._same_as_csv(
            SPEC, pq.ParquetFile(pa.BufferReader(parquet)), io.BytesIO(data)
        )
        exact = _exact(SPEC, parquet, data)
    if proved:
        assert exact == []


def _writable(value: Any) -> bool:
    """A value whose CSV cell reads back as itself (the only kind a build writes)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value != "" and "\r" not in value
    if isinstance(value, float):
        return not math.isnan(value)
    if isinstance(value, list):
        return value != [""] and all(_writable(v) and "," not in v for v in value)
    return True


@settings(max_examples=200, deadline=None)
@given(rows=_ROWS, batch=st.sampled_from([1, 4, 16_384]))
def test_a_table_as_the_build_writes_it_is_proved_in_arrow(
    rows: list[dict[str, Any]], batch: int
) -> None:
    """No build pays for the exact comparison: the CSV it writes of values that read back as
    themselves is proved equal to their Parquet file."""
    rows = [{k: (v if _writable(v) else None) for k, v in row.items()} for row in rows]
    for row in rows:
        row["tags"] = row["tags"] or []
    data = csv_bytes(SPEC, rows)
    parquet = parquet_bytes(SPEC, rows)
    assert _exact(SPEC, parquet, data) == []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_BATCH", batch)
        assert module._same_as_csv(SPEC, pq.ParquetFile(pa.BufferReader(parquet)), io.BytesIO(data))


def test_the_comparison_does_not_load_pandas(tmp_path: Path) -> None:
    """The proof makes its Arrow arrays from bytes: pyarrow imports pandas (0.3 CPU s) at its
    first conversion of a Python value, in the tables check's process that needs it nowhere."""
    import subprocess
    import sys

    folder = _write_package(
        tmp_path, FIELDS, csv_bytes(SPEC, _rows()), parquet_bytes(SPEC, _rows())
    )
    probe = (
        "import sys; from pathlib import Path; import pyarrow.parquet; "
        "from eventledger.publish.verify import compare_tables; "
        f"print(compare_tables(Path({str(folder)!r})), 'pandas' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["[]", "False"]
