"""The manifest's hashes as first published, kept as the oracle the faster manifest() is held
to (tests/test_manifest_digests.py): the hashes are a contract that `eventledger diff` and
`verify` read, so the recipe never changes, only how fast it is worked out.

Every hash is the first 16 hex digits of the SHA-256 of a value's compact JSON (keys
sorted, UTF-8 unescaped): of each cell's text; of a child table's items as
[[item key, {field: cell}], ...]; of a record's {field: hash} with one hash per child table."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from eventledger.model.schema import Schema
from eventledger.publish.cells import Row, cell


def digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cells(schema: Schema, table: str, row: Row) -> dict[str, str]:
    return {f.name: cell(f, row[f.name]) for f in schema.tables[table].fields}


def child_items(item_key: Sequence[str], cells_of: Any, rows: Sequence[Row]) -> list[Any]:
    """What a record's rows of one child table are hashed as."""
    items = []
    for row in rows:
        item = [row[k] for k in item_key]
        items.append([item[0] if len(item) == 1 else item, cells_of(row)])
    return items


def records(schema: Schema, rows: Mapping[str, Sequence[Row]]) -> dict[str, dict[str, Any]]:
    """Per record table, each record's {"hash", "fields"}, as manifest() puts them."""
    out: dict[str, dict[str, Any]] = {}
    for kind in schema.model.kinds:
        table: dict[str, Any] = {}
        for row in rows[kind.table]:
            rid = row[kind.id_field]
            fields = {k: digest(v) for k, v in cells(schema, kind.table, row).items()}
            for child in kind.children:
                mine = [r for r in rows[child.table] if r[child.parent_field] == rid]
                fields[child.table] = digest(
                    child_items(child.item_key, lambda r, t=child.table: cells(schema, t, r), mine)
                )
            table[rid] = {"hash": digest(fields), "fields": fields}
        out[kind.table] = table
    return out
