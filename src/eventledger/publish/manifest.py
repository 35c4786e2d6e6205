"""What the repository keeps of each release, and the changes between two releases.

releases/<version>.json (committed) holds, per table, every released record id with a hash
of its content and a hash of each field, plus the schema (field types) and vocabularies of
that release. That is enough to list the events added, removed and changed (with the fields
that changed) and to check the version bump without the old build.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventledger.jsonfile import JsonFileError, read_json
from eventledger.model.patterns import SEMVER
from eventledger.model.schema import Schema
from eventledger.publish.cells import Row, cell

LEVELS = ("none", "patch", "minor", "major")


class ManifestError(Exception):
    """A release manifest or version cannot be read: the release cannot continue."""


def parse_version(text: str) -> tuple[int, int, int]:
    m = SEMVER.fullmatch(text)
    if not m:
        raise ManifestError(f"version {text!r} is not MAJOR.MINOR.PATCH (e.g. 0.1.0)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def manifest(
    name: str,
    version: str,
    created: str,
    schema: Schema,
    rows: Mapping[str, Sequence[Row]],
    drafts: Sequence[str] = (),
) -> dict[str, Any]:
    def cells(table: str, row: Row) -> dict[str, str]:
        return {f.name: cell(f, row[f.name]) for f in schema.tables[table].fields}

    # Most cells repeat (vocabulary terms, dates, ids of actors and sources): hash each
    # distinct cell text once. A million records have tens of millions of cells; the memo
    # stays bounded, since the texts that never repeat (titles, quotes) would only fill it.
    seen: dict[str, str] = {}

    def cell_digest(text: str) -> str:
        digest = seen.get(text)
        if digest is None:
            digest = _digest(text)
            if len(seen) < 100_000:
                seen[text] = digest
        return digest

    records: dict[str, dict[str, Any]] = {}
    for kind in schema.model.kinds:
        # A record's hash covers its child rows: a changed span changes the event.
        children: dict[str, dict[str, list[Any]]] = {c.table: {} for c in kind.children}
        for child in kind.children:
            for row in rows[child.table]:
                item = [row[k] for k in child.item_key]
                children[child.table].setdefault(row[child.parent_field], []).append(
                    [item[0] if len(item) == 1 else item, cells(child.table, row)]
                )
        out: dict[str, Any] = {}
        for row in rows[kind.table]:
            rid = row[kind.id_field]
            fields = {k: cell_digest(v) for k, v in cells(kind.table, row).items()}
            for child in kind.children:
                fields[child.table] = _digest(children[child.table].get(rid, []))
            out[rid] = {"hash": _digest(fields), "fields": fields}
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
# they were built from, and the drafts they held back (a draft ships nothing).
_NOT_CONTENT = frozenset({"created", "withheld"})


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two manifests describe the same release: the same records and schema,
    whatever commit they were built from and whichever drafts were withheld."""
    return {k: v for k, v in a.items() if k not in _NOT_CONTENT} == {
        k: v for k, v in b.items() if k not in _NOT_CONTENT
    }


def manifest_bytes(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


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
    return all(
        isinstance(table, dict)
        and all(
            isinstance(entry, dict)
            and isinstance(entry.get("hash"), str)
            and isinstance(entry.get("fields"), dict)
            for entry in table.values()
        )
        for table in data["records"].values()
    ) and all(isinstance(fields, dict) for fields in data["schema"].values())


def read_manifests(folder: Path) -> dict[str, dict[str, Any]]:
    """Every releases/<version>.json, by version."""
    out: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        parse_version(path.stem)
        try:
            data = read_json(path)
        except JsonFileError as err:
            raise ManifestError(f"{path}: cannot read the release manifest: {err}") from err
        if not is_manifest(data) or data["version"] != path.stem:
            raise ManifestError(
                f"{path}: not the release manifest of {path.stem} (an object with its version, "
                "created, schema, vocabularies and records); restore it from the release"
            )
        out[path.stem] = data
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

    def to_dict(self) -> dict[str, Any]:
        return {
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


def compare(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], order: Sequence[str] = ()
) -> Changes:
    """What changed from old to new; order lists the record tables as a release lists them
    (manifests store them sorted), and tables it does not name follow in sorted order."""
    tables = [t for t in order if t in new["records"]]
    tables += sorted(t for t in new["records"] if t not in tables)
    changes = Changes(
        old["version"] if old else None, new["version"], tables=tables, new_manifest=new
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
    for table in tables:
        a, b = old["records"].get(table, {}), new["records"][table]
        changes.added[table] = sorted(set(b) - set(a))
        changes.removed[table] = sorted(set(a) - set(b))
        changed = {}
        for rid in sorted(set(a) & set(b)):
            if a[rid]["hash"] != b[rid]["hash"]:
                fa, fb = a[rid]["fields"], b[rid]["fields"]
                changed[rid] = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
        changes.changed[table] = changed
        if changes.added[table] or changes.removed[table]:
            level = _raise(level, "minor")
        if changed:
            level = _raise(level, "patch")
    changes.level = level
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


def changes_markdown(changes: Changes) -> str:
    since = f"since {changes.previous}" if changes.previous else "(first release)"
    lines = [f"# Changes in {changes.version} {since}", ""]
    if changes.previous:
        lines += [f"Required version step: {changes.level}.", ""]
    if changes.schema:
        lines += ["## Schema", ""] + [f"- {s}" for s in changes.schema] + [""]
    for table in changes.tables:
        added = changes.added.get(table, [])
        removed = changes.removed.get(table, [])
        changed = changes.changed.get(table, {})
        if not (added or removed or changed):
            continue
        lines += [f"## {table}", ""]
        lines += [f"- added: `{i}`" for i in added]
        held = withheld(changes.new_manifest, table) if changes.new_manifest else set()
        lines += [
            f"- removed: `{i}`"
            + (" (withheld: a draft under correction, not withdrawn)" if i in held else "")
            for i in removed
        ]
        lines += [f"- changed: `{i}` ({', '.join(f)})" for i, f in changed.items()]
        lines.append("")
    if len(lines) == 2:
        lines += ["No changes.", ""]
    return "\n".join(lines)
