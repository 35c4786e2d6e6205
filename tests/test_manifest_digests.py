"""The manifest's hashes are a published contract (`eventledger diff` and `verify` read them):
manifest() works them out faster than json.dumps per cell and per record, and gives, for
any cell values, the very hashes of the recipe first published (tests/manifest_oracle.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from eventledger.model.schema import FieldSpec, load_schema
from eventledger.publish.manifest import (
    _ChildItems,
    _json_scalar,
    _picker,
    _sorted_last,
    _template,
    manifest,
)
from manifest_oracle import child_items, digest, records

PROJECT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(PROJECT / "schema")

_TEXT = st.text() | st.sampled_from(["", "%s", "%%", '"\\', "\x00\x1f\x7f", "ü\u2028😀", "a|b"])
_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | _TEXT
# What json writes of an item key that is not text or an integer (json.dumps of it).
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10,
)
_BY_TYPE = {
    "string": _TEXT,
    "integer": st.integers(),
    "number": st.floats() | st.integers(min_value=-(2**53), max_value=2**53),
    "date": st.dates(),
    "list": st.lists(_TEXT.filter(bool), max_size=3),
}


def _value(spec: FieldSpec, item_key: bool) -> st.SearchStrategy[Any]:
    # An item key's column writes str() of its value (string and integer columns): any
    # value a record could hold there is tried, for the key json writes beside the cells.
    return st.none() | (_JSON if item_key else _BY_TYPE[spec.type])


@st.composite
def _rows(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in SCHEMA.tables}
    for kind in SCHEMA.model.kinds:
        ids = draw(st.lists(_TEXT, max_size=3, unique=True))
        parents = [*ids, "orphan"]  # a child row of no record here is in no hash
        for rid in ids:
            spec = SCHEMA.tables[kind.table]
            row = {f.name: draw(_value(f, False)) for f in spec.fields}
            rows[kind.table].append(row | {kind.id_field: rid})
        for child in kind.children:
            spec = SCHEMA.tables[child.table]
            for _ in range(draw(st.integers(0, 5))):
                row = {f.name: draw(_value(f, f.name in child.item_key)) for f in spec.fields}
                row[child.parent_field] = draw(st.sampled_from(parents))
                rows[child.table].append(row)
    return rows


@settings(max_examples=200, deadline=None)
@given(_rows())
def test_every_record_and_field_hash_is_the_published_recipe_s(
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    made = manifest("x", "1.0.0", "2020-01-01T00:00:00Z", SCHEMA, rows)
    assert made["records"] == records(SCHEMA, rows)
    assert made["records"]["events"].keys() == {r["event_id"] for r in rows["events"]}


def _text_field(name: str) -> FieldSpec:
    # A text field: str() writes each of its values, of whatever kind (a str is its own cell).
    return FieldSpec(name=name, type="string", description="")


_NAMES = st.lists(_TEXT, min_size=1, max_size=5)  # a name given twice keeps its last value


@settings(max_examples=300, deadline=None)
@given(_NAMES, st.lists(_TEXT, max_size=3), st.data())
def test_child_items_are_the_json_of_their_keys_and_cells(
    names: list[str], item_key: list[str], data: st.DataObject
) -> None:
    # Item keys of any kind (a list of them, one alone, none), fields named alike, with
    # quotes or %: each record's rows, made together, are the JSON of that record's items.
    fields = names + item_key
    row = st.fixed_dictionaries({n: _JSON for n in fields})
    groups = data.draw(st.lists(st.lists(row, max_size=3), max_size=4))
    specs = [_text_field(n) for n in fields]

    def cells_of(row: dict[str, Any]) -> dict[str, str]:
        return {n: "" if row[n] is None else str(row[n]) for n in fields}

    expected = [
        json.dumps(
            child_items(item_key, cells_of, rows),
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
        for rows in groups
    ]
    assert _ChildItems(item_key, specs).texts(groups) == expected


@settings(max_examples=300, deadline=None)
@given(_NAMES, st.data())
def test_a_record_s_hash_is_that_of_the_json_of_its_field_hashes(
    names: list[str], data: st.DataObject
) -> None:
    hashes = data.draw(st.lists(st.text("0123456789abcdef"), min_size=len(names)))
    hashes = hashes[: len(names)]
    positions = _sorted_last(names)
    text = _template(names, positions, '"%s"') % _picker(positions)(hashes)
    assert text == json.dumps(
        dict(zip(names, hashes, strict=True)),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


@settings(max_examples=500, deadline=None)
@given(_JSON)
def test_an_item_key_is_written_as_json_writes_it(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert _json_scalar(value) == expected


def test_the_hashes_of_a_real_release_are_those_published_in_it() -> None:
    # releases/0.1.0.json is the full manifest published before the compact form.
    published = json.loads((PROJECT / "releases" / "0.1.0.json").read_text(encoding="utf-8"))
    any_record = next(iter(published["records"]["events"].values()))
    assert any_record["hash"] == digest(any_record["fields"])
