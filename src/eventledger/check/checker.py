"""Run every layer of checks over a repository and collect one list of issues.

Layers: file (strict YAML), record (shape, types, rules between fields), span (quotes
against source texts), repository (ids, layout, references, suspected duplicates) and
table (Pandera over whole columns). Each layer reports into the records it concerns, so
one broken file never hides the errors in another.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from eventledger.check.parallel import read_files
from eventledger.check.spans import SourceText, check_source, check_span, read_source_text
from eventledger.check.tables import Table, build_tables, check_table
from eventledger.issues import Issue, IssueList
from eventledger.issues.suggest import did_you_mean
from eventledger.model.patterns import SEMVER
from eventledger.model.schema import Schema, load_schema
from eventledger.read.cache import Cache
from eventledger.read.records import Record
from eventledger.read.repository import RecordFile, Repository
from eventledger.read.strict_yaml import MAX_BYTES


@dataclass
class Dataset:
    """Everything read from a repository: records, typed tables, source texts and the issues found."""

    repository: Repository
    schema: Schema
    records: list[Record]
    tables: dict[str, Table]
    texts: dict[str, SourceText]
    issues: IssueList = field(default_factory=IssueList)

    def by_kind(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]


@dataclass(frozen=True)
class KnownIds:
    """The ids a repository holds, read from file names alone (an id equals its file stem)."""

    actors: frozenset[str]
    sources: frozenset[str]
    events: frozenset[str] = frozenset()

    @classmethod
    def from_files(cls, files: Iterable[RecordFile]) -> KnownIds:
        actors, sources, events = set(), set(), set()
        for entry in files:
            if entry.kind == "actor":
                actors.add(entry.expected_id)
            elif entry.kind == "source":
                sources.add(entry.expected_id)
            elif entry.kind == "event":
                events.add(entry.expected_id)
        return cls(frozenset(actors), frozenset(sources), frozenset(events))


def load_dataset(
    repository: Repository, *, max_bytes: int = MAX_BYTES, jobs: int = 1, cache: Cache | None = None
) -> Dataset:
    """Read and check every record of the repository (reading files in jobs processes)."""
    files, stray = repository.discover()
    return check_files(repository, files, stray, max_bytes=max_bytes, jobs=jobs, cache=cache)


def check_files(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    *,
    known: KnownIds | None = None,
    max_bytes: int = MAX_BYTES,
    jobs: int = 1,
    cache: Cache | None = None,
) -> Dataset:
    """Read and check the given record files.

    Without known, the files are the whole repository and references resolve against the
    ids read from them. With known, the files are a part of it (see changes.py):
    references resolve against the ids the file names give, and the texts of cited
    sources that are not among the files are read without checking their records.
    """
    schema = load_schema(repository.schema_dir)
    records = read_files(files, schema, max_bytes=max_bytes, jobs=jobs, cache=cache)
    extra: list[Issue] = [
        Issue(
            s.rel,
            0,
            0,
            "unexpected-file",
            "no record belongs here",
            hint="events/<yyyy>/<id>.yaml, actors/<id>.yaml, sources/<id>/source.yaml and text.txt",
        )
        for s in stray
    ]
    texts = _check_sources(repository, [r for r in records if r.kind == "source"])
    if known is not None:
        _read_cited_texts(repository, records, texts, known)
    _check_spans(records, texts)
    _check_layout(records, files)
    _check_references(records, known)
    _check_suspected_duplicates(records)
    tables = build_tables(records, schema)
    for table in tables.values():
        extra.extend(check_table(table, schema))
    extra.extend(check_package_metadata(repository))
    dataset = Dataset(repository, schema, records, tables, texts)
    for record in records:
        dataset.issues.extend(record.issues)
    dataset.issues.extend(extra)
    return dataset


def _read_cited_texts(
    repository: Repository, records: list[Record], texts: dict[str, SourceText], known: KnownIds
) -> None:
    for record in records:
        for row in record.children("evidence"):
            sid = row.values.get("source_id")
            if isinstance(sid, str) and sid in known.sources and sid not in texts:
                texts[sid] = read_source_text(repository.source_text(sid), sid)


def _check_sources(repository: Repository, sources: list[Record]) -> dict[str, SourceText]:
    texts: dict[str, SourceText] = {}
    for record in sources:
        folder_id = Path(record.file).parent.name
        path = repository.source_text(folder_id)
        text = read_source_text(path, folder_id)
        check_source(
            record, text, repository.rel(path) if path.exists() else f"sources/{folder_id}/text.txt"
        )
        sid = record.id or folder_id
        texts.setdefault(sid, text)
    return texts


def _check_spans(records: Iterable[Record], texts: dict[str, SourceText]) -> None:
    for record in records:
        for row in record.children("evidence"):
            source = texts.get(row.values.get("source_id") or "")
            if source is not None:
                check_span(record, row, source)


def _check_layout(records: list[Record], files: list[RecordFile]) -> None:
    for record, entry in zip(records, files, strict=True):
        rid = record.id
        if rid is None:
            continue
        if rid != entry.expected_id:
            where = "folder" if entry.kind == "source" else "file name"
            record.report(
                "id-stem-mismatch",
                f"id '{rid}' differs from its {where} '{entry.expected_id}'",
                (f"{record.table[:-1]}_id",),
                expected=entry.expected_id,
                found=rid,
                hint="rename the file (git mv) or correct the id",
            )
        if entry.kind == "event":
            start = record.main().get("date_start")
            folder = entry.path.parent.name
            if isinstance(start, dt.date) and folder != f"{start.year:04d}":
                record.report(
                    "wrong-folder",
                    f"an event starting in {start.year} belongs in events/{start.year}/",
                    ("date_start",),
                    expected=f"events/{start.year}/{entry.path.name}",
                    found=entry.rel,
                    hint=f"git mv {entry.rel} events/{start.year}/{entry.path.name}",
                )


def _check_references(records: list[Record], ids: KnownIds | None = None) -> None:
    if ids is None:
        actors = {r.id for r in records if r.kind == "actor" and r.id}
        sources = {r.id for r in records if r.kind == "source" and r.id}
    else:
        actors, sources = set(ids.actors), set(ids.sources)
    used: set[str] = set()
    for record in records:
        if record.kind != "event":
            continue
        for row in record.rows[1:]:
            for column, known, code in (
                ("actor_id", actors, "unknown-actor"),
                ("source_id", sources, "unknown-source"),
            ):
                value = row.values.get(column)
                path = (*row.prefix, column)
                if not isinstance(value, str) or path in record.flagged:
                    continue
                if column == "actor_id":
                    used.add(value)
                if value not in known:
                    folder = "actors/<id>.yaml" if column == "actor_id" else "sources/<id>/"
                    record.report(
                        code,
                        f"{column} '{value}' does not exist",
                        path,
                        found=value,
                        hint=did_you_mean(value, known) or f"add {folder.replace('<id>', value)}",
                    )
    events = {r.id for r in records if r.kind == "event" and r.id}
    if ids is not None:  # only part of the repository was parsed: the file names know the rest
        events |= ids.events
    for record in records:
        if record.kind != "event" or ("distinct_from",) in record.flagged:
            continue
        for other in record.main().get("distinct_from") or []:
            if other not in events:
                record.report(
                    "unknown-event",
                    f"distinct_from names '{other}', which does not exist",
                    ("distinct_from",),
                    found=other,
                    hint=did_you_mean(other, events),
                )
    for record in records:
        if record.kind == "actor" and record.id and record.id not in used:
            record.report("unused-actor", f"no event names the actor '{record.id}'", ("actor_id",))


def _check_suspected_duplicates(records: list[Record]) -> None:
    groups: dict[tuple[object, ...], list[Record]] = defaultdict(list)
    for record in records:
        if record.kind != "event" or not record.rows:
            continue
        ev = record.main()
        actors = frozenset(r.values.get("actor_id") for r in record.children("participants"))
        key = (
            ev.get("event_type"),
            ev.get("date_start"),
            ev.get("date_end"),
            ev.get("factuality"),
            actors,
        )
        if None not in key[:2]:
            groups[key].append(record)
    for members in groups.values():
        if len(members) > 1:
            _report_group(sorted(members, key=lambda r: r.file))


def _report_group(members: list[Record]) -> None:
    """Warn each member about the others it has not acknowledged in distinct_from (either way round).

    Names a few of the others, never all: a group can be large and the report must stay linear.
    """
    ids = {m.id for m in members}
    acknowledged_by: dict[str | None, set[str | None]] = defaultdict(set)
    for m in members:
        for other in m.main().get("distinct_from") or []:
            acknowledged_by[other].add(m.id)
    for record in members:
        acknowledged = (
            set(record.main().get("distinct_from") or []) | acknowledged_by[record.id]
        ) & ids
        remaining = len(members) - 1 - len(acknowledged - {record.id})
        if remaining <= 0:
            continue
        shown: list[str] = []
        for m in members:
            if len(shown) == 3:
                break
            if m is not record and m.id not in acknowledged:
                shown.append(m.file)
        more = remaining - len(shown)
        found = ", ".join(shown) + (f" and {more} more" if more else "")
        record.report(
            "duplicate-event-suspected",
            f"same type, dates, factuality and participants as {found}",
            ("event_type",),
            found=found,
            hint="merge them into one record with spans from each source if they are one event; "
            "if they are separate events, list the other id in distinct_from",
        )


def check(
    repository: Repository,
    paths: Iterable[Path] | None = None,
    *,
    jobs: int = 1,
    cache: Cache | None = None,
) -> Dataset:
    """Check the whole repository; when paths are given, keep only the issues in files under them."""
    dataset = load_dataset(repository, jobs=jobs, cache=cache)
    if paths is not None:
        prefixes = _with_dependents([repository.rel(p) for p in paths], dataset.records)
        kept = [i for i in dataset.issues if any(_under(i.file, p) for p in prefixes)]
        dataset.issues = IssueList(kept)
    return dataset


def _with_dependents(prefixes: list[str], records: list[Record]) -> list[str]:
    """A path into a source folder (say its text.txt) also selects its source.yaml, where the
    text's problems are reported, and the events that quote it: checking the file one
    changed must show what the change broke."""
    sources = {p.split("/")[1] for p in prefixes if p.startswith("sources/") and p.count("/") >= 1}
    if not sources:
        return prefixes
    out = prefixes + [f"sources/{sid}" for sid in sorted(sources)]
    for record in records:
        if any(row.values.get("source_id") in sources for row in record.children("evidence")):
            out.append(record.file)
    return out


def _under(file: str, prefix: str) -> bool:
    return prefix in ("", ".") or file == prefix or file.startswith(prefix.rstrip("/") + "/")


def check_package_metadata(repository: Repository) -> list[Issue]:
    """The root datapackage.json: readable, with the name and version a release needs."""
    path = repository.root / "datapackage.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        return [
            Issue("datapackage.json", 0, 0, "package-metadata-invalid", f"cannot read it: {err}")
        ]
    except json.JSONDecodeError as err:
        return [
            Issue(
                "datapackage.json",
                err.lineno,
                err.colno,
                "package-metadata-invalid",
                f"not valid JSON: {err.msg}",
            )
        ]
    if not isinstance(data, dict):
        return [
            Issue("datapackage.json", 1, 1, "package-metadata-invalid", "must be a JSON object")
        ]
    issues = []
    if not isinstance(data.get("name"), str) or not data["name"]:
        issues.append(
            Issue(
                "datapackage.json",
                1,
                1,
                "package-metadata-invalid",
                "'name' is missing",
                path=("name",),
                expected="the package name",
            )
        )
    version = data.get("version")
    if not isinstance(version, str) or not SEMVER.fullmatch(version):
        issues.append(
            Issue(
                "datapackage.json",
                1,
                1,
                "package-metadata-invalid",
                "'version' is not MAJOR.MINOR.PATCH",
                path=("version",),
                expected="for example 0.2.0",
                found=str(version),
            )
        )
    return issues
