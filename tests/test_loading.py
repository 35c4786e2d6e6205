"""Downstream, tested: the README's loading snippets run against a fixture release, every
value survives YAML -> CSV -> Parquet -> loaders, and the Arrow, CSV and published schemas agree."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import string
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casekit import PROJECT
from eventledger.issues.excerpt import REFUSED_RAW, escape_char
from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import CUSTOM_KEYS, load_schema
from eventledger.publish.cells import FORMULA_STARTS, cell, csv_bytes, formula_cells, read_csv_rows
from eventledger.publish.parquet import parquet_bytes
from eventledger.publish.release import BuildResult, build
from eventledger.read.records import Record, read_row
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import load
from releasekit import make_release_repository

# End to end: builds releases, clones repositories or runs the installed CLI.
pytestmark = pytest.mark.slow

SCHEMA = load_schema(PROJECT / "schema")
ARROW = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "date": pa.date32()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    root = make_release_repository(tmp_path_factory.mktemp("loading") / "repo")
    return build(Repository(root))


def readme_loading_blocks(language: str = "python") -> list[str]:
    text = (PROJECT / "README.md").read_text()
    section = text.split("## Loading a release", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def run_blocks(blocks: list[str], cwd: Path, namespace: dict[str, Any]) -> dict[str, Any]:
    here = Path.cwd()
    os.chdir(cwd)
    try:
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)
    finally:
        os.chdir(here)
    return namespace


def test_readme_loading_snippets_run_against_a_release(built: BuildResult) -> None:
    blocks = readme_loading_blocks()
    assert len(blocks) >= 6  # the folder, frictionless, pandas Parquet, pandas CSV, DuckDB, polars
    joined = "\n".join(blocks)
    for name in ("frictionless", "read_parquet", "read_csv", "duckdb", "polars"):
        assert name in joined
    assert not re.search(r"\b[0-9]+\.[0-9]+\.[0-9]+\b", joined), "a version written into a snippet"
    assert readme_loading_blocks("r"), "the R example"
    namespace = run_blocks(blocks, built.folder.parent.parent, {})
    assert namespace["folder"] == Path("build") / built.version
    typed = namespace["typed"].set_index("event_id")
    talks = typed.loc["2019-04-25-kim-putin-talks"]
    assert talks["cameo_code"] == "036"  # a code, not the number 36.0
    assert talks["date_start"] == dt.date(2019, 4, 25)
    assert talks["context"] == ["diplomatic"]
    assert all(isinstance(v, list) for v in typed["distinct_from"])


def test_readme_loading_snippets_run_on_a_downloaded_zip(
    built: BuildResult, tmp_path: Path
) -> None:
    """The zip unpacks to <name>-<version>/, which is all the snippets need besides `folder`."""
    import zipfile

    with zipfile.ZipFile(built.archive) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / f"eventledger-kim-putin-{built.version}"
    assert (folder / "datapackage.json").is_file()
    first, *rest = readme_loading_blocks()
    assert "folder = " in first
    namespace = run_blocks(rest, tmp_path, {"json": json, "Path": Path, "folder": folder})
    assert namespace["typed"]["event_id"].notna().all()


def test_empty_lists_are_empty_everywhere(built: BuildResult) -> None:
    """[] in Parquet, an empty cell in CSV: never null in one and [] in the other."""
    for name, spec in SCHEMA.tables.items():
        lists = [f.name for f in spec.fields if f.type == "list"]
        if not lists:
            continue
        table = pq.read_table(built.folder / "parquet" / f"{name}.parquet").to_pylist()
        rows = read_csv_rows(spec, (built.folder / "data" / f"{name}.csv").read_bytes())
        for parquet_row, csv_row in zip(table, rows, strict=True):
            for column in lists:
                assert parquet_row[column] is not None, (name, column)
                assert parquet_row[column] == csv_row[column]


def test_loaders_see_the_values_of_the_records(built: BuildResult) -> None:
    from frictionless import Package

    folder = built.folder
    events = Package(str(folder / "datapackage.json")).get_resource("events").to_pandas()
    talks = events.loc["2019-04-25-kim-putin-talks"]
    assert talks["title"] == "Kim Jong Un and Vladimir Putin meet in Vladivostok"
    assert talks["latitude"] == 43.1056 and talks["context"] == ["diplomatic"]
    frame = pd.read_parquet(folder / "parquet" / "events.parquet", dtype_backend="numpy_nullable")
    assert str(frame["geonames_id"].dtype) == "Int64"
    row = frame.set_index("event_id").loc["2019-04-25-kim-putin-talks"]
    assert row["date_start"] == dt.date(2019, 4, 25)
    assert row["cameo_code"] == "036"  # a code, not the number 36
    quotes = pd.read_parquet(folder / "parquet" / "evidence.parquet")["quote"].tolist()
    assert "Putin sprach von „wichtigen Verhandlungen“." in quotes
    assert "-30 Grad" in quotes


@pytest.mark.parametrize("table", list(SCHEMA.tables))
def test_arrow_csv_and_published_schema_agree(built: BuildResult, table: str) -> None:
    spec = SCHEMA.tables[table]
    descriptor = json.loads((built.folder / "datapackage.json").read_text())
    published = next(r for r in descriptor["resources"] if r["name"] == table)["schema"]
    header = (built.folder / "data" / f"{table}.csv").read_text().split("\n", 1)[0].split(",")
    parquet = pq.read_schema(built.folder / "parquet" / f"{table}.parquet")
    assert [f["name"] for f in published["fields"]] == header == parquet.names
    assert parquet.equals(arrow_schema(spec))
    for field, out in zip(spec.fields, published["fields"], strict=True):
        assert not set(CUSTOM_KEYS) & set(out), out["name"]
        if field.codelist is not None:  # the codes travel with the package
            assert "SUN" in out["constraints"]["enum"] and "RUS" in out["constraints"]["enum"]
        assert out["type"] == field.type
        expected = pa.list_(pa.string()) if field.type == "list" else ARROW[field.type]
        assert parquet.field(field.name).type == expected
        if field.vocabulary and field.type != "list":
            terms = list(SCHEMA.vocabularies[field.vocabulary].terms)
            assert out["constraints"]["enum"] == terms
            assert [c["value"] for c in out["categories"]] == terms


# --- property: YAML -> typed values -> CSV -> Parquet -> loaders, unchanged ------------------

TEXT = st.text(
    alphabet=st.sampled_from(
        list(string.ascii_letters + string.digits)
        + list(" äöüÄÖÜßéÉ„“”‚‘«»–—…€§°'\"\\,;:|=+-@#/\n\u00a0\u200b")
        + ["ǅ", "中", "🙂"]
    ),
    min_size=1,
    max_size=30,
)


def _value(ftype: str, delimiter: str | None) -> st.SearchStrategy[Any]:
    if ftype == "string":
        return TEXT
    if ftype == "integer":
        return st.integers(min_value=-(2**62), max_value=2**62).map(str)
    if ftype == "number":
        return st.floats(allow_nan=False, allow_infinity=False).map(repr)
    if ftype == "date":
        return st.dates(min_value=dt.date(1000, 1, 1)).map(dt.date.isoformat)
    item = TEXT.filter(lambda s: (delimiter or ",") not in s)
    return st.lists(item, min_size=1, max_size=4)


def _records(table: str) -> st.SearchStrategy[dict[str, Any]]:
    spec = SCHEMA.tables[table]
    fields = {
        f.name: (
            _value(f.type, f.delimiter) if f.required else st.none() | _value(f.type, f.delimiter)
        )
        for f in spec.written_fields
    }
    return st.fixed_dictionaries(fields).map(
        lambda d: {k: v for k, v in d.items() if v is not None}
    )


@pytest.mark.parametrize("table", ["events", "actors", "sources"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_value_survives_the_round_trip(table: str, data: st.DataObject) -> None:
    spec = SCHEMA.tables[table]
    docs = data.draw(st.lists(_records(table), min_size=1, max_size=3))
    rows = []
    for doc in docs:
        # Every scalar double-quoted, as a careful contributor writes ambiguous text, and the
        # no-break and zero-width spaces as escapes (refused raw: a reviewer cannot see them).
        dumped = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_style='"')
        raw = REFUSED_RAW.sub(lambda m: escape_char(m.group()), dumped).encode("utf-8")
        loaded, issues = load(raw, "record.yaml")
        assert loaded is not None and [i.code for i in issues] == []
        record = Record("event", "record.yaml", loaded)
        values = read_row(record, spec, loaded.data, ())
        assert values is not None and record.issues == []
        for f in spec.written_fields:  # the typed value says exactly what the YAML said
            written = doc.get(f.name) or ""
            if isinstance(written, list):
                written = (f.delimiter or ",").join(written)
            assert cell(f, values[f.name]) == written
        # as a release holds them: a list left out is the empty list (publish/select.py)
        rows.append(
            {
                f.name: []
                if f.type == "list" and values.get(f.name) is None
                else values.get(f.name)
                for f in spec.fields
            }
        )
    # The cells a spreadsheet would run as formulas: those whose text starts like one, numbers
    # aside, in row then column order (formula_cells skips making the cells it need not make).
    assert formula_cells(spec, rows) == [
        f"{spec.name} {'/'.join(str(r[k]) for k in spec.primary_key)} {f.name}: "
        f"{cell(f, r[f.name])[:40]!r}"
        for r in rows
        for f in spec.fields
        if cell(f, r[f.name]).startswith(FORMULA_STARTS) and f.type not in ("number", "integer")
    ]
    # CSV: our reader and pandas see exactly the cells written
    data_csv = csv_bytes(spec, rows)
    assert read_csv_rows(spec, data_csv) == rows
    frame = pd.read_csv(io.BytesIO(data_csv), dtype=str, keep_default_na=False)
    assert frame.to_dict("records") == [
        {f.name: cell(f, r[f.name]) for f in spec.fields} for r in rows
    ]
    # Parquet: pyarrow and pandas give back the typed values
    blob = parquet_bytes(spec, rows)
    assert blob == parquet_bytes(spec, rows)  # deterministic
    assert pq.read_table(pa.BufferReader(blob)).to_pylist() == rows
    back = pd.read_parquet(io.BytesIO(blob), dtype_backend="numpy_nullable")
    for f in spec.fields:
        for got, want in zip(back[f.name].tolist(), (r[f.name] for r in rows), strict=True):
            if want is None:
                assert got is None or got is pd.NA or (isinstance(got, float) and got != got)
            elif f.type == "list":
                assert list(got) == want
            else:
                assert got == want
