"""What the repository keeps of each release, and the changes between two releases.

A release carries its full manifest (build/<version>/manifest.json, in the zip too): per
table every record id with a hash of its content and a hash of each field, plus the schema
(field types) and vocabularies. Git keeps a compact form of it, releases/<version>.json: the
same schema and vocabularies, and per table the sorted ids each with its content hash,
front-coded (each line says how many leading characters it shares with the id before it),
with their count and one digest. 100k synthetic events made a 106 MB full manifest and
make a 3.4 MB compact one (git stores 1.3 MB of it), still enough to name the records added, removed and changed and to
check the version bump without the old build. Which fields changed comes from the previous
release's full manifest (its build folder or zip) when it is at hand.

Releases recorded before the compact form (releases/0.1.0.json) hold the full manifest;
both are read.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventledger.issues.excerpt import printable
from eventledger.jsonfile import JsonFileError, read_json
from eventledger.model.patterns import SEMVER
from eventledger.model.schema import FieldSpec, Schema
from eventledger.publish.cells import Row, column_cells

LEVELS = ("none", "patch", "minor", "major")
# The "format" of a compact manifest; a full manifest has no "format" key (they predate it).
COMPACT = "compact/1"
# A compact line: shared prefix length, the rest of the id, the record's content hash.
_ID = re.compile(r"\S+")  # what a line can hold: the id is the second of three words
_LINE = re.compile(r"(0|[1-9][0-9]{0,5}) (\S+) ([0-9a-f]{16})")


# json's own string encoder, in C: what JSONEncoder(ensure_ascii=False) quotes strings with.
_quote: Callable[[str], str] = json.encoder.encode_basestring
_sha256 = hashlib.sha256


class ManifestError(Exception):
    """A release manifest or version cannot be read: the release cannot continue."""


def parse_version(text: str) -> tuple[int, int, int]:
    m = SEMVER.fullmatch(text)
    if not m:
        raise ManifestError(f"version {text!r} is not MAJOR.MINOR.PATCH (e.g. 0.1.0)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


_HEX = operator.methodcaller("hexdigest")
_FIRST_16 = operator.itemgetter(slice(16))


def _hashes(texts: Iterable[str]) -> list[str]:
    """The published recipe of every hash in a manifest, of each text: the first 16 hex
    digits of the SHA-256 of its UTF-8 (str.encode's default, strict). The text is a
    value's compact JSON (keys sorted, nothing escaped but what JSON must), written by
    manifest() without json.dumps; tests/manifest_oracle.py holds it to the recipe as
    first published. C loops (map): a Python call per text was a tenth of manifest()."""
    return list(map(_FIRST_16, map(_HEX, map(_sha256, map(str.encode, texts)))))


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _json_scalar(value: Any) -> str:
    """_compact_json(value), without json.dumps for the keys an item is told apart by (a
    text or an integer): json writes an exact str as its quoting and an exact int as repr."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    return _compact_json(value)


def _sorted_last(names: Sequence[str]) -> list[int]:
    """The positions json.dumps(dict(zip(names, values)), sort_keys=True) writes the values
    of: the names sorted, once each, a name given twice holding its last value (as dict does)."""
    last = {name: n for n, name in enumerate(names)}
    return [last[name] for name in sorted(last)]


def _picker(positions: Sequence[int]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The values at these positions, as a tuple (itemgetter gives one value alone bare)."""
    if len(positions) <= 1:
        return lambda values: tuple([values[n] for n in positions])
    return operator.itemgetter(*positions)


def _template(names: Sequence[str], positions: Sequence[int], value: str) -> str:
    """The compact JSON of an object with these keys (in this order) as a %-format, each
    value written by value ("%s" as it is, '"%s"' quoted)."""
    members = [f"{_quote(names[n])}:".replace("%", "%%") + value for n in positions]
    return "{" + ",".join(members) + "}"


# The records hashed at once: their cells are made and hashed a column at a time, by C loops
# (map) where a row at a time took a Python loop per cell; a chunk keeps that memory small.
_CHUNK = 4096


def _column(rows: Sequence[Row], spec: FieldSpec) -> list[str]:
    """The cells of one field of rows."""
    return column_cells(spec, list(map(operator.itemgetter(spec.name), rows)))


def _json_column(values: list[Any]) -> Iterator[str]:
    """_json_scalar of each value, by one C loop when they are all text or all integers."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return map(_quote, values)
    if kinds <= {int}:
        return map(int.__repr__, values)
    return map(_json_scalar, values)


class _ChildItems:
    """The texts hashed for records' rows of one child table, made directly: the
    compact JSON of [[item key, {field: cell}], ...] (one key alone, or the list of them),
    each row's cells quoted in the sorted order of their names. A dict per row and
    json.dumps over them was most of manifest()'s time."""

    def __init__(self, item_key: Sequence[str], fields: Sequence[FieldSpec]) -> None:
        names = [f.name for f in fields]
        positions = _sorted_last(names)
        self.fields = [fields[n] for n in positions]
        self.members = [f"{_quote(names[n])}:".replace("%", "%%") for n in positions]
        self.item_key = tuple(item_key)

    def _keys(self, rows: Sequence[Row]) -> Iterator[str]:
        columns = [_json_column(list(map(operator.itemgetter(k), rows))) for k in self.item_key]
        if len(columns) == 1:
            return columns[0]
        if not columns:
            return itertools.repeat("[]", len(rows))
        return map(
            ("[" + ",".join(["%s"] * len(columns)) + "]").__mod__, zip(*columns, strict=True)
        )

    def texts(self, groups: Sequence[Sequence[Row]]) -> list[str]:
        """The text of each group of rows (one record's)."""
        rows = list(itertools.chain.from_iterable(groups))
        slots: list[str] = []
        cells: list[Iterable[Any]] = []
        for f in self.fields:
            values = list(map(operator.itemgetter(f.name), rows))
            if f.type == "integer" and set(map(type, values)) <= {int}:
                # Whole numbers (spans, offsets) go in as they are: their cell, str(), is
                # what %d writes, with nothing to escape, so neither is made per value.
                slots.append('"%d"')
                cells.append(values)
            else:
                slots.append("%s")
                cells.append(map(_quote, column_cells(f, values)))
        item = "[%s,{" + ",".join(map(operator.add, self.members, slots)) + "}]"
        items = list(map(item.__mod__, zip(self._keys(rows), *cells, strict=True)))
        out = []
        end = 0
        for group in groups:
            start, end = end, end + len(group)
            out.append("[" + ",".join(items[start:end]) + "]")
        return out


def manifest(
    name: str,
    version: str,
    created: str,
    schema: Schema,
    rows: Mapping[str, Sequence[Row]],
    drafts: Sequence[str] = (),
) -> dict[str, Any]:
    """The full manifest of the selected rows: per record table, each record's content hash
    and the hash of each field (its cell, or for a child table its items), as _hashes makes
    them. The JSON texts hashed are written here without json.dumps (the same texts)."""
    # Most cells repeat (vocabulary terms, dates, ids of actors and sources): hash each
    # distinct cell text once (in a chunk's column, and across chunks while the memo has
    # room). A million records have tens of millions of cells; the memo stays bounded (100k
    # texts and one column's chunk), since the texts that never repeat (titles, quotes)
    # would only fill it.
    seen: dict[str, str] = {}

    def cell_digests(cells: list[str]) -> list[str]:
        """The digest of each cell of a column, each distinct text hashed once."""
        distinct = set(cells)
        new = list(distinct.difference(seen))
        made = dict(zip(new, _hashes(map(_quote, new)), strict=True))
        if len(seen) < 100_000:
            seen.update(made)
            return list(map(seen.__getitem__, cells))
        known = distinct.difference(made)
        made.update(zip(known, map(seen.__getitem__, known), strict=True))
        return list(map(made.__getitem__, cells))

    records: dict[str, dict[str, Any]] = {}
    for kind in schema.model.kinds:
        # A record's hash covers its child rows: a changed span changes the event. The rows
        # are grouped by record here and their text made only when the record is hashed:
        # the cells of every child row at once were 700k dicts at 100k events.
        children: list[tuple[dict[str, list[Row]], _ChildItems]] = []
        for child in kind.children:
            group: dict[str, list[Row]] = {}
            for row in rows[child.table]:
                group.setdefault(row[child.parent_field], []).append(row)
            children.append((group, _ChildItems(child.item_key, schema.tables[child.table].fields)))
        main = schema.tables[kind.table].fields
        # A record's fields: its cells' digests, then one per child table (a child table
        # named like a field takes its place, as it did in the dict they were put in).
        keys = [f.name for f in main] + [c.table for c in kind.children]
        positions = _sorted_last(keys)
        record = _template(keys, positions, '"%s"')
        pick = _picker(positions)
        out: dict[str, Any] = {}
        table = rows[kind.table]
        for start in range(0, len(table), _CHUNK):
            chunk = table[start : start + _CHUNK]
            ids = [row[kind.id_field] for row in chunk]
            columns = [cell_digests(_column(chunk, f)) for f in main]
            for group, items in children:
                columns.append(_hashes(items.texts([group.get(rid, ()) for rid in ids])))
            fields = list(zip(*columns, strict=True))
            hashes = _hashes(map(record.__mod__, map(pick, fields)))
            # Each record's {field: hash} made by C loops (map), not a Python step per record.
            by_field = map(dict, map(zip, itertools.repeat(keys), fields))
            for rid, digest, digests in zip(ids, hashes, by_field, strict=True):
                out[rid] = {"hash": digest, "fields": digests}
        records[kind.table] = out
    release: dict[str, Any] = {
        "name": name,
        "version": version,
        "created": created,
        "schema": {
            t: {f.name: f.type for f in spec.fields} for t, spec in sorted(schema.tables.items())
        },
        "vocabularies": {v.name: sorted(v.terms) for v in schema.vocabularies.values()},
        "records": records,
    }
    if drafts:  # only when there are any, so manifests of releases without drafts stay as they were
        release["withheld"] = {"events": sorted(drafts)}
    return release


# What two builds of one version may differ in and still ship the same package: the commit
# they were built from, and the drafts they held back (a draft ships nothing); and whether
# the manifest is the full one or the compact one git keeps (with the changed fields it was
# published with).
_NOT_CONTENT = frozenset({"created", "withheld", "format", "records", "changes"})


def record_hash(entry: Any) -> str:
    """A record's content hash, from a full manifest's entry or a compact one's."""
    return entry if isinstance(entry, str) else str(entry["hash"])


def record_hashes(release: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Per table, every record id with its content hash (full or compact manifest)."""
    return {
        table: {rid: record_hash(entry) for rid, entry in records.items()}
        for table, records in release["records"].items()
    }


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two manifests describe the same release: the same records and schema,
    whatever commit they were built from, whichever drafts were withheld, full or compact."""
    head_a = {k: v for k, v in a.items() if k not in _NOT_CONTENT}
    head_b = {k: v for k, v in b.items() if k not in _NOT_CONTENT}
    return head_a == head_b and record_hashes(a) == record_hashes(b)


def has_fields(release: Mapping[str, Any]) -> bool:
    """Whether the manifest holds each record's field hashes (a full one) or not (compact)."""
    return release.get("format") != COMPACT


def _table_digest(hashes: Mapping[str, str]) -> str:
    text = "".join(f"{rid} {hashes[rid]}\n" for rid in sorted(hashes))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _shared_prefix(a: str, b: str) -> int:
    """How many leading characters a and b share: a binary search over slices compared in C,
    a few steps per id where a character loop takes one per character (a million ids)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _front_coded(hashes: Mapping[str, str]) -> Iterator[str]:
    before = ""
    for rid in sorted(hashes):
        if not _ID.fullmatch(rid):  # ids are checked long before this
            raise ManifestError(f"record id {rid!r} cannot be written to a compact manifest")
        shared = _shared_prefix(before, rid)
        yield f"{shared} {rid[shared:]} {hashes[rid]}"
        before = rid


def compact(release: Mapping[str, Any], changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The form git keeps of a release (releases/<version>.json): everything but the field
    hashes, and the record list front-coded with one digest per table.

    changes is the release's changes.json. When the previous release was compact too, the
    fields it lists as changed came from that release's build, if one was at hand: they are
    kept (for the changed records only), so that rebuilding this version later, with or
    without that build, writes the CHANGES.md it was published with."""
    out = {k: v for k, v in release.items() if k != "records"}
    out["format"] = COMPACT
    if changes is not None and "changed_fields_from" in changes:
        out["changes"] = {
            "fields_from": changes["changed_fields_from"],
            "changed": {t: c for t, c in changes["changed"].items() if c},
        }
    out["records"] = {
        table: {
            "count": len(hashes),
            "digest": _table_digest(hashes),
            "ids": list(_front_coded(hashes)),
        }
        for table, hashes in record_hashes(release).items()
    }
    return out


def compact_bytes(release: Mapping[str, Any], changes: Mapping[str, Any] | None = None) -> bytes:
    """releases/<version>.json as written: one line per record, stable across rebuilds."""
    return manifest_bytes(compact(release, changes))


def _is_recorded_changes(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and set(data) == {"fields_from", "changed"}
        and (data["fields_from"] is None or isinstance(data["fields_from"], str))
        and isinstance(data["changed"], dict)
        and all(
            isinstance(table, dict)
            and all(
                isinstance(fields, list) and all(isinstance(f, str) for f in fields)
                for fields in table.values()
            )
            for table in data["changed"].values()
        )
    )


def _expand_table(table: str, data: Any) -> dict[str, str]:
    if not (
        isinstance(data, dict)
        and set(data) == {"count", "digest", "ids"}
        and type(data["count"]) is int  # not a bool
        and isinstance(data["digest"], str)
        and isinstance(data["ids"], list)
    ):
        raise ManifestError(f"table {table!r} is not a count, a digest and a list of ids")
    out: dict[str, str] = {}
    before = ""
    for n, line in enumerate(data["ids"], 1):
        m = _LINE.fullmatch(line) if isinstance(line, str) else None
        if m is None:
            raise ManifestError(
                f"table {table!r}, id {n}: {line!r} is not 'SHARED REST HASH' "
                "(a number, the rest of the id, 16 hex digits)"
            )
        shared = int(m.group(1))
        if shared > len(before):
            raise ManifestError(f"table {table!r}, id {n}: shares more than the id before it")
        rid = before[:shared] + m.group(2)
        if rid <= before:
            raise ManifestError(f"table {table!r}, id {n}: {rid!r} is not after {before!r}")
        out[rid] = m.group(3)
        before = rid
    if len(out) != data["count"]:
        raise ManifestError(
            f"table {table!r} lists {len(out)} ids but says {data['count']} (truncated?)"
        )
    if _table_digest(out) != data["digest"]:
        raise ManifestError(f"table {table!r}: the ids and hashes do not match its digest")
    return out


_COMPACT_KEYS = frozenset(
    {"name", "version", "created", "schema", "vocabularies", "withheld", "format", "changes"}
)


def expand(data: Any) -> dict[str, Any]:
    """A compact manifest as read, checked down to its digests, with each table as a mapping
    of record ids to content hashes. Raises ManifestError saying what is wrong."""
    if not isinstance(data, dict) or data.get("format") != COMPACT:
        raise ManifestError(f"not a compact manifest (format {COMPACT!r})")
    records = data.get("records")
    head = {k: v for k, v in data.items() if k != "records"}
    if not isinstance(records, dict) or not is_manifest(head | {"records": {}}):
        raise ManifestError(
            "not an object with its version, created, schema, vocabularies and records"
        )
    unknown = sorted(set(head) - _COMPACT_KEYS)
    if unknown:  # it would make the same records look different (same_content)
        raise ManifestError(f"it holds keys a compact manifest has not: {', '.join(unknown)}")
    if "changes" in head and not _is_recorded_changes(head["changes"]):
        raise ManifestError("its changes are not fields_from and changed fields by record")
    return head | {"records": {t: _expand_table(t, v) for t, v in records.items()}}


def manifest_bytes(data: Mapping[str, Any]) -> bytes:
    return b"".join(manifest_blocks(data))


# What manifest_blocks gathers before it encodes and hands on a block (characters).
_BLOCK = 1 << 20


def manifest_blocks(data: Mapping[str, Any]) -> Iterator[bytes]:
    """manifest_bytes(data) in blocks of about a megabyte, to be written as they come: the
    full manifest of 100k events is 106 MB of JSON, and json.dumps held it three times over
    at once (its pieces, the text, the bytes), the peak of a build's memory. The same bytes
    as json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) and a newline
    (tests/test_manifest.py holds them equal, for any value)."""
    pending: list[str] = []
    size = 0
    for piece in _pieces(data, 0):
        pending.append(piece)
        size += len(piece)
        if size >= _BLOCK:
            yield "".join(pending).encode("utf-8")
            pending.clear()
            size = 0
    pending.append("\n")
    yield "".join(pending).encode("utf-8")


# The levels handed on piece by piece: the top, "records" and each table. Below them a
# value (one record's hashes, a vocabulary) is small and is encoded as one string.
_STREAMED_LEVELS = 3
# The members of a table handed on as one piece: 256 records' hashes, about 250 kB of JSON.
_BATCH = 256


def _pieces(value: Any, level: int) -> Iterator[str]:
    """The indented JSON of value in pieces, each container of the top levels item by item.
    json's encoder with an indent is pure Python (its C encoder does not indent) and was
    most of the time it took to write manifest.json; this is that encoder's output made
    with fewer, larger strings."""
    if level >= _STREAMED_LEVELS or not isinstance(value, (dict, list, tuple)) or not value:
        yield _encoded(value, level)
        return
    inner = "\n" + " " * (level + 1)
    if isinstance(value, dict):
        keys = sorted(value)
        if not all(isinstance(k, str) for k in keys):
            yield _by_json(value, level)
            return
        yield "{"
        if level + 1 >= _STREAMED_LEVELS:
            # Its members are encoded whole (a table's records): handed on a batch at a time,
            # not each as a piece of its own and a generator, Python steps per record.
            for start in range(0, len(keys), _BATCH):
                members = [
                    f"{inner}{_quote(key)}: {_encoded(value[key], level + 1)}"
                    for key in keys[start : start + _BATCH]
                ]
                yield ("," if start else "") + ",".join(members)
        else:
            for n, key in enumerate(keys):
                yield f"{',' if n else ''}{inner}{_quote(key)}: "
                yield from _pieces(value[key], level + 1)
        yield "\n" + " " * level + "}"
    else:
        yield "["
        for n, item in enumerate(value):
            yield "," + inner if n else inner
            yield from _pieces(item, level + 1)
        yield "\n" + " " * level + "]"


def _encoded(value: Any, level: int) -> str:
    """value as json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) writes it
    at this depth."""
    if type(value) is str:
        return _quote(value)
    if isinstance(value, dict) and value:
        known = _object_template(tuple(value), level)
        if known is None:
            return _by_json(value, level)
        keys, template = known
        values = list(map(value.__getitem__, keys))
        if set(map(type, values)) == {str}:  # a record's field hashes: quoted by one C loop
            return template % tuple(map(_quote, values))
        return template % tuple([_encoded(item, level + 1) for item in values])
    if isinstance(value, (list, tuple)) and value:
        inner = "\n" + " " * (level + 1)
        body = ("," + inner).join([_encoded(item, level + 1) for item in value])
        return "[" + inner + body + "\n" + " " * level + "]"
    # numbers, true, false, null, an empty container, a str subclass: json's own text
    return _by_json(value, level)


@functools.lru_cache(maxsize=64)
def _object_template(keys: tuple[Any, ...], level: int) -> tuple[list[Any], str] | None:
    """The keys of an object sorted, and its indented JSON at this depth as a %-format of
    their values' texts; None when a key is not text (json's own text is used then). Every
    record of a table has the same keys in the same order: they are sorted and their
    template made once, not per record."""
    if not all(isinstance(k, str) for k in keys):
        return None
    ordered = sorted(keys)
    inner = "\n" + " " * (level + 1)
    members = [_quote(k).replace("%", "%%") + ": %s" for k in ordered]
    return ordered, "{" + inner + ("," + inner).join(members) + "\n" + " " * level + "}"


def _by_json(value: Any, level: int) -> str:
    """json's own indented text of value, moved in to this depth (JSON text holds no line
    break but those of its indent: a string's are escaped)."""
    text = json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)
    return text.replace("\n", "\n" + " " * level) if level else text


def field_hashes_dropped(release: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest with each record's content hash only, as a compact manifest holds them:
    all the rest of a build reads of it (compact, withheld) once manifest.json is written.
    The field hashes are most of a full manifest's memory (100k events: about 140 MB)."""
    return {**release, "records": record_hashes(release)}


def is_manifest(data: Any) -> bool:
    """Whether data has the shape of a manifest, down to every record's hash and fields.
    A manifest comes with a pull request or a download like any file: its shape is
    checked before anything relies on it."""
    if not isinstance(data, dict):
        return False
    tops = (
        isinstance(data.get("version"), str),
        isinstance(data.get("created"), str),
        isinstance(data.get("schema"), dict),
        isinstance(data.get("vocabularies"), dict),
        isinstance(data.get("records"), dict),
        isinstance(data.get("withheld", {}), dict),
    )
    if not all(tops):
        return False
    return (
        all(
            isinstance(table, dict)
            and all(
                isinstance(entry, dict)
                and isinstance(entry.get("hash"), str)
                and isinstance(entry.get("fields"), dict)
                for entry in table.values()
            )
            for table in data["records"].values()
        )
        and _lists_of_text(data["vocabularies"])
        and _lists_of_text(data.get("withheld", {}))
        and all(
            isinstance(fields, dict) and all(isinstance(t, str) for t in fields.values())
            for fields in data["schema"].values()
        )
    )


def _lists_of_text(data: dict[str, Any]) -> bool:
    """Vocabulary terms, withheld ids: what compare and withheld put into sets and sort."""
    return all(
        isinstance(items, list) and all(isinstance(i, str) for i in items)
        for items in data.values()
    )


def read_release(path: Path) -> dict[str, Any]:
    """releases/<version>.json, full (as recorded before the compact form) or compact,
    checked: a manifest comes with a pull request like any file."""
    restore = (
        f"restore it from git (git checkout -- releases/{path.name}) or record the release again"
    )
    try:
        data = read_json(path)
    except JsonFileError as err:
        raise ManifestError(f"{path}: cannot read the release manifest: {err}; {restore}") from err
    if isinstance(data, dict) and "format" in data:
        try:
            release = expand(data)
        except ManifestError as err:
            raise ManifestError(
                f"{path}: not the release manifest of {path.stem}: {err}; {restore}"
            ) from err
    elif is_manifest(data):
        release = data
    else:
        release = None
    if release is None or release["version"] != path.stem:
        raise ManifestError(
            f"{path}: not the release manifest of {path.stem} (an object with its version, "
            f"created, schema, vocabularies and records); {restore}"
        )
    return release


def read_manifests(folder: Path) -> dict[str, dict[str, Any]]:
    """Every releases/<version>.json, by version."""
    out: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        parse_version(path.stem)
        out[path.stem] = read_release(path)
    return out


def released_before(manifests: Mapping[str, dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """The manifests of the versions below version, oldest first."""
    key = parse_version(version)
    return [manifests[v] for v in sorted(manifests, key=parse_version) if parse_version(v) < key]


@dataclass
class Changes:
    previous: str | None
    version: str
    tables: list[str] = field(default_factory=list)  # the record tables, in release order
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # id -> fields
    schema: list[str] = field(default_factory=list)  # what changed in the schema, and how
    level: str = "none"  # the smallest version bump these changes need
    new_manifest: Mapping[str, Any] | None = field(default=None, repr=False)
    # Where the changed fields come from when git keeps only the compact manifest of the
    # previous release: its full manifest (a build), or None when none was at hand and only
    # the changed records are named. Unset (False) when the previous manifest is a full one.
    fields_from: str | bool | None = False

    def to_dict(self) -> dict[str, Any]:
        # Only where the previous release is compact, so earlier outputs stay as they were.
        source = {} if self.fields_from is False else {"changed_fields_from": self.fields_from}
        return source | {
            "previous": self.previous,
            "version": self.version,
            "required_bump": self.level,
            "schema": self.schema,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "withheld": sorted(withheld(self.new_manifest)) if self.new_manifest else [],
        }


def _raise(current: str, level: str) -> str:
    return level if LEVELS.index(level) > LEVELS.index(current) else current


# How many changed records compare asks the fields of at once. The fields of a record from
# both manifests held about 9 KB in `diff` (a helper's measurement, 2026-12-03): a part is
# then about 450 MB, where a release that changed all of a million records held some 9 GB.
FIELDS_AT_ONCE = 50_000

# The "fields" of some records of a manifest: given the wanted ids by table, their fields by
# table and id; an id left out has none to give (a compact manifest's). A manifest in memory
# gives its entries' (entry_fields); one read as a stream reads them from its file.
FieldsOf = Callable[[Mapping[str, Sequence[str]]], Mapping[str, Mapping[str, Mapping[str, Any]]]]


def entry_fields(release: Mapping[str, Any]) -> FieldsOf:
    """The fields of a manifest held in memory: each full entry's, none of a compact one."""

    def fields(wanted: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Mapping[str, Any]]]:
        out: dict[str, dict[str, Mapping[str, Any]]] = {}
        for table, ids in wanted.items():
            records = release["records"].get(table, {})
            entries = [(rid, records.get(rid)) for rid in ids]
            out[table] = {rid: e["fields"] for rid, e in entries if isinstance(e, Mapping)}
        return out

    return fields


def compare(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    order: Sequence[str] = (),
    fields_from: str | bool | None = False,
    *,
    old_fields: FieldsOf | None = None,
    new_fields: FieldsOf | None = None,
    fields_at_once: int | None = None,
) -> Changes:
    """What changed from old to new; order lists the record tables as a release lists them
    (manifests store them sorted), and tables it does not name follow in sorted order.
    Either may be compact: changed records are then named without their fields (an empty
    list), and fields_from says where the caller looked for the fields (Changes.fields_from).

    The changed records are found by their hashes alone; their fields come from old_fields
    and new_fields, by default each manifest's own entries. A manifest too large to hold
    (manifest_stream) is passed with its hashes alone and the reader of its fields, which
    is asked for the changed records only, at most fields_at_once of them at a time
    (FIELDS_AT_ONCE unless given): each ask of a stream is a pass over its file, and what
    one ask returns is let go before the next, so a release that changes every record does
    not hold the fields of all of them."""
    at_once = FIELDS_AT_ONCE if fields_at_once is None else fields_at_once
    if isinstance(at_once, bool) or not isinstance(at_once, int) or at_once < 1:
        raise ValueError(f"a part holds at least one record, not {fields_at_once!r}")
    tables = [t for t in order if t in new["records"]]
    tables += sorted(t for t in new["records"] if t not in tables)
    changes = Changes(
        old["version"] if old else None,
        new["version"],
        tables=tables,
        new_manifest=new,
        fields_from=fields_from,
    )
    if old is None:
        for table in tables:
            changes.added[table] = sorted(new["records"][table])
        return changes
    level = "none"
    for table, fields in new["schema"].items():
        before = old["schema"].get(table, {})
        for name, type_ in before.items():
            if name not in fields:
                changes.schema.append(f"major: {table}.{name} removed")
                level = _raise(level, "major")
            elif fields[name] != type_:
                changes.schema.append(f"major: {table}.{name} type {type_} -> {fields[name]}")
                level = _raise(level, "major")
        for name in fields:
            if name not in before:
                changes.schema.append(f"minor: {table}.{name} added")
                level = _raise(level, "minor")
    for vocab, terms in new["vocabularies"].items():
        before = set(old["vocabularies"].get(vocab, []))
        if before - set(terms):
            changes.schema.append(f"major: {vocab} terms removed: {sorted(before - set(terms))}")
            level = _raise(level, "major")
        if set(terms) - before:
            changes.schema.append(f"minor: {vocab} terms added: {sorted(set(terms) - before)}")
            level = _raise(level, "minor")
    differ: dict[str, list[str]] = {}
    for table in tables:
        a, b = old["records"].get(table, {}), new["records"][table]
        changes.added[table] = sorted(set(b) - set(a))
        changes.removed[table] = sorted(set(a) - set(b))
        differ[table] = [
            rid for rid in sorted(set(a) & set(b)) if record_hash(a[rid]) != record_hash(b[rid])
        ]
        if changes.added[table] or changes.removed[table]:
            level = _raise(level, "minor")
        if differ[table]:
            level = _raise(level, "patch")
    read_old, read_new = old_fields or entry_fields(old), new_fields or entry_fields(new)
    # Parts come in the order of differ, so each table's changed records keep its order.
    changes.changed.update({table: {} for table in tables})
    # A field's name read from a stream is a new string in every record: one copy of each
    # name is kept, not one per changed record.
    names: dict[str, str] = {}
    for wanted in _in_parts(differ, at_once):
        # The part's fields are read and dropped inside _changed_in: none of them is still
        # referenced when the next part is read.
        _changed_in(wanted, read_old(wanted), read_new(wanted), changes.changed, names)
    changes.level = level
    return changes


def _changed_in(
    wanted: Mapping[str, Sequence[str]],
    before: Mapping[str, Mapping[str, Mapping[str, Any]]],
    after: Mapping[str, Mapping[str, Mapping[str, Any]]],
    into: dict[str, dict[str, list[str]]],
    names: dict[str, str],
) -> None:
    """The fields that differ in each wanted record, into into[table][id]; [] where either
    side does not give them (a compact manifest: which fields, not known)."""
    for table, ids in wanted.items():
        fields_a, fields_b, out = before.get(table, {}), after.get(table, {}), into[table]
        for rid in ids:
            fa, fb = fields_a.get(rid), fields_b.get(rid)
            if fa is None or fb is None:
                out[rid] = []
            else:
                differing = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
                out[rid] = [names.setdefault(k, k) for k in differing]


def _in_parts(ids: Mapping[str, Sequence[str]], size: int) -> Iterator[dict[str, Sequence[str]]]:
    """ids (table -> ids, tables in order) cut into parts of at most size ids in all (size
    at least 1, which compare checks)."""
    part: dict[str, Sequence[str]] = {}
    room = size
    for table, listed in ids.items():
        at = 0
        while at < len(listed):
            taken = listed[at : at + room]
            part[table] = taken
            at += len(taken)
            room -= len(taken)
            if room == 0:
                yield part
                part, room = {}, size
    if part:
        yield part


def as_published(changes: Changes, recorded: Mapping[str, Any]) -> Changes:
    """The changed fields a published version was released with, from its compact manifest
    (Changes.fields_from and the fields of each changed record), whatever build of the
    previous release is at hand now: a rebuild gives the published bytes."""
    changes.fields_from = recorded["fields_from"]
    for table, changed in changes.changed.items():
        fields = recorded["changed"].get(table, {})
        for rid in changed:
            changed[rid] = list(fields.get(rid, []))
    return changes


def bump(old: str, new: str) -> str:
    """The level of the step from old to new: major, minor, patch, or none (same or lower)."""
    a, b = parse_version(old), parse_version(new)
    if b <= a:
        return "none"
    if b[0] > a[0]:
        return "major"
    if b[1] > a[1]:
        return "minor"
    return "patch"


def withheld(release: Mapping[str, Any], table: str = "events") -> set[str]:
    """Ids a release held back as drafts: still in the repository, not withdrawn."""
    return set(release.get("withheld", {}).get(table, []))


def retired_ids(history: Sequence[Mapping[str, Any]], table: str = "events") -> set[str]:
    """Ids released once and then withdrawn (their file deleted): never to be used again.

    A verified record set back to draft for a correction is withheld from the releases
    cut meanwhile, not withdrawn: it may come back under its own id."""
    retired: set[str] = set()
    for before, after in itertools.pairwise(history):
        known = set(before["records"][table]) | withheld(before, table)
        retired |= known - set(after["records"][table]) - withheld(after, table)
    return retired


def _shown(value: object) -> str:
    """value as CHANGES.md and diff show it: each character not visible as itself escaped (a
    line break would forge a line, a terminal's escape would drive it, a lone surrogate is in
    no UTF-8 text), never cut. A manifest to compare may come from anyone; a real release's
    values hold none of these."""
    text = str(value)
    return printable(text, limit=len(text))


def changes_markdown(changes: Changes) -> str:
    version, previous = _shown(changes.version), _shown(changes.previous)
    since = f"since {previous}" if changes.previous else "(first release)"
    lines = [f"# Changes in {version} {since}", ""]
    if changes.previous:
        lines += [f"Required version step: {changes.level}.", ""]
    any_changed = any(changes.changed.values())
    if changes.fields_from is None and any_changed:
        lines += [
            f"Changed fields are not listed: git keeps one hash per record of "
            f"{previous} (releases/{previous}.json) and its build was not at "
            f"hand (build/{previous}/ or its zip). Build {previous} at its tag "
            f"v{previous} and `eventledger diff build/{previous} "
            f"build/{version}` lists them.",
            "",
        ]
    elif isinstance(changes.fields_from, str) and any_changed:
        lines += [f"Changed fields from {_shown(changes.fields_from)}.", ""]
    if changes.schema:
        lines += ["## Schema", ""] + [f"- {_shown(s)}" for s in changes.schema] + [""]
    for table in changes.tables:
        added = changes.added.get(table, [])
        removed = changes.removed.get(table, [])
        changed = changes.changed.get(table, {})
        if not (added or removed or changed):
            continue
        lines += [f"## {_shown(table)}", ""]
        lines += [f"- added: `{_shown(i)}`" for i in added]
        held = withheld(changes.new_manifest, table) if changes.new_manifest else set()
        lines += [
            f"- removed: `{_shown(i)}`"
            + (" (withheld: a draft under correction, not withdrawn)" if i in held else "")
            for i in removed
        ]
        lines += [
            f"- changed: `{_shown(i)}`" + (f" ({', '.join(map(_shown, f))})" if f else "")
            for i, f in changed.items()
        ]
        lines.append("")
    if len(lines) == 2:
        lines += ["No changes.", ""]
    return "\n".join(lines)
