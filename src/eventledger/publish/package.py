"""The released tables: which rows ship, how each value is written to CSV and Parquet, and the
published Table Schemas and Data Package descriptors.

Rows are plain dicts of typed values (str, int, float, datetime.date, list[str] or None), the
same values the checker produced from the YAML records, so nothing is re-parsed on the way.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from eventledger.check.checker import Dataset
from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import TABLES, FieldSpec, Schema, TableSpec

Row = dict[str, Any]
PROFILE_PACKAGE = "https://datapackage.org/profiles/2.0/datapackage.json"
PROFILE_TABLE = "https://datapackage.org/profiles/2.0/tableschema.json"
# Rights under which a source's full text may be published beside its metadata.
FULL_TEXT_RIGHTS = ("open", "public-domain")
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Selection:
    """What one release holds: rows per table (sorted by key) and what was held back."""

    rows: dict[str, list[Row]]
    drafts: list[str] = field(default_factory=list)  # ids of events not verified, not shipped
    full_texts: dict[str, str] = field(default_factory=dict)  # source id -> text, open rights only


def _key(spec: TableSpec) -> Any:
    names = spec.primary_key

    def key(row: Row) -> tuple[Any, ...]:
        return tuple(row[n] for n in names)

    return key


def select(dataset: Dataset) -> Selection:
    """Verified events with their participants and evidence; the actors and sources they name.

    Drafts are left out (and named); actors and sources no released event names are left out
    too, so a release never carries metadata that only drafts refer to.
    """
    schema = dataset.schema
    rows: dict[str, list[Row]] = {name: [] for name in TABLES}
    drafts: list[str] = []
    for record in dataset.records:
        if record.kind != "event" or not record.rows:
            continue
        if record.main().get("review_status") != "verified":
            drafts.append(str(record.id or record.file))
            continue
        for row in record.rows:
            rows[row.table].append(dict(row.values))
    actors = {p["actor_id"] for p in rows["participants"]}
    sources = {e["source_id"] for e in rows["evidence"]}
    for record in dataset.records:
        if record.kind == "actor" and record.id in actors:
            rows["actors"].append(dict(record.main()))
        elif record.kind == "source" and record.id in sources:
            rows["sources"].append(dict(record.main()))
    for name in TABLES:
        spec = schema.tables[name]
        rows[name] = [{f: row.get(f) for f in spec.field_names} for row in rows[name]]
        rows[name].sort(key=_key(spec))
    texts: dict[str, str] = {}
    for source in rows["sources"]:
        text = dataset.texts.get(source["source_id"])
        if source.get("rights") in FULL_TEXT_RIGHTS and text is not None and text.text is not None:
            texts[source["source_id"]] = text.text
    return Selection(rows, sorted(drafts), texts)


# --- values as CSV cells ---------------------------------------------------------------------


def cell(spec: FieldSpec, value: Any) -> str:
    """The CSV text of a value: empty for null, ISO dates, shortest round-trip floats."""
    if value is None:
        return ""
    if spec.type == "date":
        return str(value.isoformat())
    if spec.type == "list":
        return (spec.delimiter or ",").join(value)
    if spec.type == "number":
        return repr(float(value))
    return str(value)


def parse_cell(spec: FieldSpec, text: str) -> Any:
    """The inverse of cell()."""
    if text == "":
        return None
    if spec.type == "integer":
        return int(text)
    if spec.type == "number":
        return float(text)
    if spec.type == "date":
        return dt.date.fromisoformat(text)
    if spec.type == "list":
        return text.split(spec.delimiter or ",")
    return text


def csv_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    """UTF-8, LF, a header of the field names in schema order, cells quoted only where needed."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(spec.field_names)
    for row in rows:
        writer.writerow([cell(f, row[f.name]) for f in spec.fields])
    return out.getvalue().encode("utf-8")


def read_csv_rows(spec: TableSpec, data: bytes) -> list[Row]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader)
    if tuple(header) != spec.field_names:
        raise ValueError(f"header {header} differs from the schema {list(spec.field_names)}")
    return [
        {f.name: parse_cell(f, text) for f, text in zip(spec.fields, line, strict=True)}
        for line in reader
    ]


def unwritable(spec: TableSpec, rows: Iterable[Row]) -> list[str]:
    """List items a CSV cell cannot hold unchanged (empty, or containing the delimiter)."""
    problems = []
    for f in spec.fields:
        if f.type != "list":
            continue
        for row in rows:
            for item in row[f.name] or ():
                if item == "" or (f.delimiter or ",") in item:
                    key = "/".join(str(row[k]) for k in spec.primary_key)
                    problems.append(
                        f"{spec.name} {key}: {f.name} item {item!r} is empty or contains the "
                        f"delimiter {f.delimiter!r}"
                    )
    return problems


def formula_cells(spec: TableSpec, rows: Iterable[Row]) -> list[str]:
    """Cells a spreadsheet would run as a formula: named as table, key and column."""
    found = []
    for row in rows:
        for f in spec.fields:
            text = cell(f, row[f.name])
            if text.startswith(FORMULA_STARTS) and f.type not in ("number", "integer"):
                key = "/".join(str(row[k]) for k in spec.primary_key)
                found.append(f"{spec.name} {key} {f.name}: {text[:40]!r}")
    return found


# --- Parquet ----------------------------------------------------------------------------------


def arrow_table(spec: TableSpec, rows: Sequence[Row]) -> pa.Table:
    columns = {f.name: [row[f.name] for row in rows] for f in spec.fields}
    return pa.Table.from_pydict(columns, schema=arrow_schema(spec))


def parquet_bytes(spec: TableSpec, rows: Sequence[Row]) -> bytes:
    """Deterministic Parquet: fixed codec and level, one row group, no wall-clock metadata."""
    sink = pa.BufferOutputStream()
    pq.write_table(
        arrow_table(spec, rows),
        sink,
        compression="zstd",
        compression_level=9,
        row_group_size=max(len(rows), 1),
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    return bytes(sink.getvalue().to_pybytes())


# --- published descriptors --------------------------------------------------------------------


def published_schema(spec: TableSpec, schema: Schema) -> dict[str, Any]:
    """The Table Schema as released: our custom keys removed, vocabularies as enum constraints."""
    raw = copy.deepcopy(spec.raw)
    raw["$schema"] = PROFILE_TABLE
    for out in raw["fields"]:
        vocabulary = out.pop("vocabulary", None)
        out.pop("origin", None)
        if out["type"] == "list" and "pattern" in out.get("constraints", {}):
            # Table Schema constraints of a list apply to the whole list, and frictionless
            # refuses a pattern on one; the item pattern is stated in the description.
            pattern = out["constraints"].pop("pattern")
            out["description"] = (
                f"{out.get('description', '')} Each item matches {pattern}.".strip()
            )
            if not out["constraints"]:
                del out["constraints"]
        if vocabulary is None:
            continue
        terms = schema.vocabularies[vocabulary].terms
        if out["type"] == "list":
            # A Table Schema enum constrains the whole list value, not its items, so the
            # terms of a list field are named in its description (and defined in CODEBOOK.md).
            out["description"] = (
                f"{out.get('description', '')} Items from the vocabulary '{vocabulary}': "
                + ", ".join(terms)
                + "."
            ).strip()
        else:
            out.setdefault("constraints", {})["enum"] = list(terms)
            out["categories"] = [{"value": t, "label": d} for t, d in terms.items()]
    return raw


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resource(
    name: str, path: str, data: bytes, fmt: str, spec: TableSpec, schema: Schema
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": "table", "path": path, "format": fmt}
    if fmt == "csv":
        out |= {"mediatype": "text/csv", "encoding": "utf-8"}
    else:
        out["mediatype"] = "application/vnd.apache.parquet"
    out |= {"bytes": len(data), "hash": f"sha256:{sha256(data)}"}
    out["schema"] = published_schema(spec, schema)
    return out


def descriptor(
    base: dict[str, Any],
    version: str,
    created: str,
    sources: Sequence[Row],
    resources: list[dict[str, Any]],
) -> dict[str, Any]:
    """The release's datapackage.json, from the root datapackage.json and what the build made."""
    keys = ("name", "title", "description", "homepage", "keywords", "licenses", "contributors")
    out: dict[str, Any] = {"$schema": PROFILE_PACKAGE}
    out |= {k: base[k] for k in keys if k in base}
    out["version"] = version
    out["created"] = created
    out["sources"] = [
        {
            "title": f"{s['publisher']}: {s['title']}",
            **({"path": s["url"]} if s.get("url") else {}),
        }
        for s in sources
    ]
    out["resources"] = resources
    return out


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def read_base(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    return data
