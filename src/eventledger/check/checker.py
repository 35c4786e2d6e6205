"""Run every layer of checks over a repository and collect one list of issues.

Layers: file (strict YAML), record (shape, types, rules between fields), span (quotes
against source texts), repository (ids, layout, references, suspected duplicates) and
table (Pandera over whole columns). Each layer reports into the records it concerns, so
one broken file never hides the errors in another.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from eventledger.check.coverage import check_coverage
from eventledger.check.metadata import check_package_metadata
from eventledger.check.parallel import Proof, read_files
from eventledger.check.spans import SourceText, check_source, check_span, read_source_text
from eventledger.check.summary import OwnFacts, own_facts, unique_columns
from eventledger.check.table_proof import keys_distinct, passes, rows_by_table, values_clean
from eventledger.check.table_report import report_failures
from eventledger.check.tables_aside import TablesAside
from eventledger.issues import Issue, IssueList, RecordPath
from eventledger.issues.catalog import is_code
from eventledger.issues.suggest import did_you_mean
from eventledger.model.kinds import SOURCE_TABLE, Model, Reference
from eventledger.model.schema import Schema, load_schema
from eventledger.read.cache import Cache
from eventledger.read.records import Record, Row
from eventledger.read.repository import RecordFile, Repository
from eventledger.syntax.strict_yaml import MAX_BYTES


@dataclass
class Dataset:
    """Everything read from a repository: records, source texts and the issues found. (The
    tables the checks built are not kept: a release builds what it publishes itself.)"""

    repository: Repository
    schema: Schema
    records: list[Record]
    texts: dict[str, SourceText]
    issues: IssueList = field(default_factory=IssueList)
    layers: Layers | None = None


@dataclass(frozen=True)
class KnownIds:
    """The ids a repository holds per table, read from file names alone (an id equals its
    file stem, or its folder's name)."""

    tables: dict[str, frozenset[str]]

    @classmethod
    def from_files(cls, files: Iterable[RecordFile], model: Model) -> KnownIds:
        ids: dict[str, set[str]] = {k.table: set() for k in model.kinds}
        for entry in files:
            ids[model.kind(entry.kind).table].add(entry.expected_id)
        return cls({table: frozenset(found) for table, found in ids.items()})

    def __getitem__(self, table: str) -> frozenset[str]:
        return self.tables.get(table, frozenset())


def load_dataset(
    repository: Repository,
    *,
    max_bytes: int = MAX_BYTES,
    jobs: int = 1,
    cache: Cache | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Dataset:
    """Read and check every record of the repository (reading files in jobs processes;
    meanwhile as read_files calls it)."""
    files, stray = repository.discover()
    return check_files(
        repository,
        files,
        stray,
        max_bytes=max_bytes,
        jobs=jobs,
        cache=cache,
        meanwhile=meanwhile,
    )


def check_files(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    *,
    known: KnownIds | None = None,
    max_bytes: int = MAX_BYTES,
    jobs: int = 1,
    cache: Cache | None = None,
    summaries: bool = False,
    digests: dict[str, bytes] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Dataset:
    """Read and check the given record files.

    Without known, the files are the whole repository and references resolve against the
    ids read from them. With known, the files are a part of it (see changes.py):
    references resolve against the ids the file names give, and the texts of cited
    sources that are not among the files are read without checking their records.
    summaries: work out each record's own facts for check/summary.py (layers.own) while
    the records are read. digests: receives each file's SHA-256 (read_files). meanwhile:
    work of the caller's own, done while worker processes read (see read_files).
    """
    schema = load_schema(repository.schema_dir)
    keys: list[tuple[object, ...] | None] = []
    own: list[OwnFacts] = []
    uniques = unique_columns(schema) if summaries else {}
    broken: list[bool] = []
    proof = Proof()

    def collect(record: Record) -> None:
        # Each table's rows, gathered while the workers still read: what the proof that
        # Pandera passes compares across rows (unique columns, keys).
        for row in record.rows:
            proof.rows.setdefault(row.table, []).append(row)
        # pandas and Pandera (a second to import) are needed only when the rows are not
        # certainly clean (table_proof.py), which a record that has issues of its own makes
        # likely: imported then, while the workers still read (the parent only waits for
        # them), and not at all for a clean repository.
        if record.issues and not broken:
            broken.append(True)
            _tables()
        if summaries:
            # Facts of one record's rows alone, which no later layer changes: made here, they
            # cost the parent nothing after the workers are done.
            key = duplicate_key(record)
            keys.append(key)
            own.append(own_facts(record, schema, uniques, key))

    if cache is not None:
        cache.index  # noqa: B018  # read once here, so that forked workers share it
    records = read_files(
        files,
        schema,
        max_bytes=max_bytes,
        jobs=jobs,
        cache=cache,
        each=collect,
        digests=digests,
        proof=proof,
        meanwhile=meanwhile,
    )
    extra: list[Issue] = [stray_issue(s, schema.model) for s in stray]
    source_kind = schema.model.kind_of_table(SOURCE_TABLE).name
    texts = _check_sources(repository, [r for r in records if r.kind == source_kind])
    if known is not None:
        _read_cited_texts(repository, records, texts, known, schema.model)
    layers = _check_across(
        records,
        files,
        texts,
        schema,
        known=known,
        whole=known is None,
        keys=keys or None,
        proof=proof,
    )
    if summaries:
        layers.own = own
    extra.extend(layers.table_issues)
    extra.extend(check_package_metadata(repository))
    dataset = Dataset(repository, schema, records, texts, layers=layers)
    for record in records:
        dataset.issues.extend(record.issues)
    dataset.issues.extend(extra)
    return dataset


@dataclass
class Layers:
    """What the checks across records found beside the records' own issues: the issues of
    no record (Pandera over a whole column), the references each record makes that count
    (in the order of the records) and whether Pandera's order decided which of two
    failures of one field was told (then only a run over whole tables says the same)."""

    table_issues: list[Issue]
    references: list[list[tuple[str, str]]]
    duplicate_keys: list[tuple[object, ...] | None]
    order_decided: bool
    own: list[OwnFacts] | None = None  # each record's summary.own_facts, when asked for


@dataclass
class Elsewhere:
    """What the records of a repository that a part's check does not read tell the checks
    across records (check/incremental.py): every id, the references they make, the rows of
    span tables for the coverage of the texts whose records are in the part."""

    known: KnownIds
    used: dict[str, set[str]]
    span_rows: dict[str, list[dict[str, object]]]
    coverage_of: frozenset[str]


def _check_across(
    records: list[Record],
    files: list[RecordFile],
    texts: dict[str, SourceText],
    schema: Schema,
    *,
    known: KnownIds | None = None,
    whole: bool = True,
    elsewhere: Elsewhere | None = None,
    aside: TablesAside | None = None,
    keys: list[tuple[object, ...] | None] | None = None,
    proof: Proof | None = None,
) -> Layers:
    """The layers after reading, in their order (each reads what the ones before flagged):
    spans, coverage, layout, references, suspected duplicates, tables. proof: what the
    workers that read the records proved of their rows (read_files)."""
    model = schema.model
    _check_spans(records, texts, model)
    if elsewhere is not None:
        covered = {s: t for s, t in texts.items() if s in elsewhere.coverage_of}
        check_coverage(records, covered, model, rows=elsewhere.span_rows)
    elif whole:  # a partial check does not read every span that touches a text
        check_coverage(records, texts, model)
    _check_layout(records, files, model)
    if elsewhere is not None:
        refs = _check_references(records, model, elsewhere.known, elsewhere.used)
    else:
        refs = _check_references(records, model, known)
    keys = _check_suspected_duplicates(records, keys)
    table_issues: list[Issue] = []
    decided: set[str] = set()
    found = None
    if aside is not None:  # Pandera is ready in a process of its own
        origins: dict[str, list[tuple[Record, Row]]] = {name: [] for name in schema.tables}
        for record in records:
            for row in record.rows:
                origins[row.table].append((record, row))
        found = aside.check([(n, [row.values for _, row in o]) for n, o in origins.items()])
    if found is not None:
        for (name, rows), (cases, checks) in zip(origins.items(), found, strict=True):
            spec = schema.tables[name]
            table_issues.extend(report_failures(cases, spec, rows, checks, schema, decided))
    # Rows that Pandera certainly passes (every valid repository's) need neither pandas nor
    # Pandera: at a hundred thousand records the proof is a fraction of their time, which the
    # parent spent alone after the workers were done.
    elif not _certainly_clean(records, schema, proof):
        table_layer = _tables()
        for table in table_layer.each_table(records, schema):  # checked and let go one by one
            table_issues.extend(table_layer.check_table(table, schema, decided))
    return Layers(table_issues, refs, keys, bool(decided))


def _certainly_clean(records: list[Record], schema: Schema, proof: Proof | None) -> bool:
    """Whether Pandera certainly passes every table (check/table_proof.py): the rows the
    workers proved (every record's, read or from the cache), then what compares rows
    (unique columns, keys)."""
    if proof is None:
        return passes(list(rows_by_table(records, schema.tables).items()), schema) is not None
    if not proof.clean or not set(proof.rows) <= set(schema.tables):
        return False
    # A table no worker saw a row of: whether the proof covers it at all says so.
    for table in schema.tables.values():
        if not values_clean(table, [], schema):
            return False
    return all(
        keys_distinct(table, proof.rows.get(name, [])) for name, table in schema.tables.items()
    )


def check_part(
    repository: Repository,
    files: list[RecordFile],
    records: list[Record],
    texts: dict[str, SourceText],
    elsewhere: Elsewhere,
    aside: TablesAside | None = None,
) -> tuple[Schema, list[Record], Layers]:
    """Check the records read from some of a repository's files (in the repository's order)
    as the whole repository's check would, the rest of it told by elsewhere and texts
    (source id -> its text, as the whole check reads them). The part must hold every record
    whose issues depend on one in it (check/partial.py chooses it so); its records' issues
    are then what the whole check finds in them. aside: Pandera ready in a child process,
    which then checks the part's tables."""
    schema = load_schema(repository.schema_dir)
    source_kind = schema.model.kind_of_table(SOURCE_TABLE).name
    for record in records:
        if record.kind == source_kind:
            folder_id = Path(record.file).parent.name
            path = repository.source_text(folder_id)
            text = read_source_text(path, folder_id, repository.root)
            check_source(record, text, f"sources/{folder_id}/text.txt")
    layers = _check_across(records, files, texts, schema, elsewhere=elsewhere, aside=aside)
    return schema, records, layers


def _tables() -> ModuleType:
    """The table layer (pandas and Pandera: a second to import), imported while worker
    processes read the records, which need none of it."""
    from eventledger.check import tables

    return tables


_STRAY = {
    "unexpected": ("unexpected-file", "no record belongs here", ""),
    "symlink": (
        "symlink-not-allowed",
        "a symbolic link; it is not followed",
        "replace the link with the file itself: git rm the link, git add the file",
    ),
    "special": (
        "special-file",
        "not a regular file (a FIFO, socket or device); it is not opened",
        "delete it; records and source texts are regular files",
    ),
    "unreadable-folder": (
        "folder-unreadable",
        "the folder cannot be listed ({detail}); its records are missing from the check",
        "make it readable (chmod a+rx) or restore it from git",
    ),
}


def stray_issue(entry: RecordFile, model: Model) -> Issue:
    """The issue of an entry in a data folder that is not a record the tool can read."""
    code, message, hint = _STRAY[entry.kind]
    if entry.kind == "unexpected":
        hint = ", ".join(k.layout.pattern() for k in model.kinds)
    return Issue(entry.rel, 0, 0, code, message.format(detail=entry.detail), hint=hint)


def _quoted_source(row: Row, model: Model) -> str | None:
    """The id of the source a row quotes, if the row is a span of a source text."""
    table = model.span_table(row.table)
    sid = row.get(table.source_field) if table is not None else None
    return sid if isinstance(sid, str) else None


def _read_cited_texts(
    repository: Repository,
    records: list[Record],
    texts: dict[str, SourceText],
    known: KnownIds,
    model: Model,
) -> None:
    for record in records:
        for row in record.rows:
            sid = _quoted_source(row, model)
            if sid is not None and sid in known[SOURCE_TABLE] and sid not in texts:
                texts[sid] = read_source_text(repository.source_text(sid), sid, repository.root)


def _check_sources(repository: Repository, sources: list[Record]) -> dict[str, SourceText]:
    texts: dict[str, SourceText] = {}
    for record in sources:
        folder_id = Path(record.file).parent.name
        path = repository.source_text(folder_id)
        text = read_source_text(path, folder_id, repository.root)
        check_source(record, text, f"sources/{folder_id}/text.txt")
        sid = record.id or folder_id
        texts.setdefault(sid, text)
    return texts


def _check_spans(records: Iterable[Record], texts: dict[str, SourceText], model: Model) -> None:
    """Every row of every span table (evidence of events, passages set aside) against the
    text it quotes."""
    source_field = {s.table: s.source_field for s in model.spans}  # asked for every row
    for record in records:
        for row in record.rows:
            field_name = source_field.get(row.table)
            if field_name is None:
                continue
            sid = row.get(field_name)
            source = texts.get(sid) if isinstance(sid, str) else None
            if source is not None:
                check_span(record, row, source)


def _check_layout(records: list[Record], files: list[RecordFile], model: Model) -> None:
    for record, entry in zip(records, files, strict=True):
        rid = record.id
        if rid is None:
            continue
        layout = model.kind(entry.kind).layout
        if rid != entry.expected_id:
            where = "folder" if layout.id_folder else "file name"
            record.report(
                "id-stem-mismatch",
                f"id '{rid}' differs from its {where} '{entry.expected_id}'",
                (record.id_field,),
                expected=entry.expected_id,
                found=rid,
                hint="rename the file (git mv) or correct the id",
            )
        if layout.year_from is not None:
            start = record.main().get(layout.year_from)
            folder = entry.folder
            if isinstance(start, dt.date) and folder != f"{start.year:04d}":
                right = f"{layout.folder}/{start.year}/{entry.name}"
                record.report(
                    "wrong-folder",
                    f"an {layout.kind} starting in {start.year} belongs in "
                    f"{layout.folder}/{start.year}/",
                    (layout.year_from,),
                    expected=right,
                    found=entry.rel,
                    hint=f"git mv {entry.rel} {right}",
                )


def _check_references(
    records: list[Record],
    model: Model,
    ids: KnownIds | None = None,
    used_elsewhere: dict[str, set[str]] | None = None,
) -> list[list[tuple[str, str]]]:
    """Every reference the Table Schemas declare (foreignKeys, and itemReference on lists)
    resolves to a record; records nobody refers to are named where the catalog asks.
    Returns, record by record, the references that count as a use: (target table, id)."""
    known: dict[str, set[str]] = {}
    for kind in model.kinds:
        known[kind.table] = {r.id for r in records if r.kind == kind.name and r.id}
        if ids is not None:  # only part of the repository was parsed: the file names know the rest
            known[kind.table] |= ids[kind.table]
    used: dict[str, set[str]] = defaultdict(set)
    # Asked for every row: worked out once per table.
    references = {t: model.references_from(t) for t in {r.table for r in model.references}}
    for table, found in (used_elsewhere or {}).items():
        used[table] |= found
    made: list[list[tuple[str, str]]] = []
    for record in records:
        own: list[tuple[str, str]] = []
        made.append(own)
        for row in record.rows:
            for ref in references.get(row.table, ()):
                value = row.get(ref.field)
                if value is None:
                    continue
                path = (*row.prefix, ref.field)
                if path in record.flagged:
                    continue
                for item in value if ref.items else [value]:
                    if not isinstance(item, str):
                        continue
                    used[ref.target].add(item)
                    own.append((ref.target, item))
                    if item not in known[ref.target]:
                        _report_unknown(record, ref, item, path, known[ref.target], model)
    for kind in model.kinds:
        code = f"unused-{kind.name}"
        referrers = model.references_to(kind.table)
        if not referrers or not is_code(code):
            continue
        by = _owner(model, referrers[0].table)
        for record in records:
            if record.kind == kind.name and record.id and record.id not in used[kind.table]:
                # flag=False: a record nobody cites still has its id checked against the pattern.
                record.report(
                    code,
                    f"no {by} names the {kind.name} '{record.id}'",
                    (kind.id_field,),
                    flag=False,
                )
    return made


def _owner(model: Model, table: str) -> str:
    """The kind whose records hold the rows of a table (its own, or a child table)."""
    for kind in model.kinds:
        if kind.table == table or any(c.table == table for c in kind.children):
            return kind.name
    return table


def _report_unknown(
    record: Record, ref: Reference, value: str, path: RecordPath, known: set[str], model: Model
) -> None:
    target = model.kind_of_table(ref.target)
    hint = did_you_mean(value, known)
    if ref.items:
        message = f"{ref.field} names '{value}', which does not exist"
    else:
        message = f"{ref.field} '{value}' does not exist"
        hint = hint or f"add {target.layout.place(value)}"
    record.report(f"unknown-{target.name}", message, path, found=value, hint=hint)


def duplicate_key(record: Record) -> tuple[object, ...] | None:
    """What makes two events suspected duplicates (the same for both), or None for a record
    that is compared with none."""
    if record.kind != "event" or not record.rows:
        return None
    ev = record.main()
    actors = frozenset(r.get("actor_id") for r in record.children("participants"))
    key = (
        ev.get("event_type"),
        ev.get("date_start"),
        ev.get("date_end"),
        ev.get("factuality"),
        actors,
    )
    return key if None not in key[:2] else None


def _check_suspected_duplicates(
    records: list[Record], keys: list[tuple[object, ...] | None] | None = None
) -> list[tuple[object, ...] | None]:
    """Warn the events that look alike; return every record's duplicate key (keys: the
    records' duplicate keys, when they are known already)."""
    groups: dict[tuple[object, ...], list[Record]] = defaultdict(list)
    if keys is None:
        keys = [duplicate_key(record) for record in records]
    for record, key in zip(records, keys, strict=True):
        if key is not None:
            groups[key].append(record)
    for members in groups.values():
        if len(members) > 1:
            _report_group(sorted(members, key=lambda r: r.file))
    return keys


def _report_group(members: list[Record]) -> None:
    """Warn each member about the others it has not acknowledged in distinct_from (either way round).

    Names a few of the others, never all: a group can be large and the report must stay linear.
    """
    acknowledged_by: dict[str | None, set[str | None]] = defaultdict(set)
    for m in members:
        for other in m.main().get("distinct_from") or []:
            acknowledged_by[other].add(m.id)
    # Counted by member, not by id: members can share an id (then also a duplicate-id), and
    # counting ids made the count disagree with the names shown ("as  and 1 more").
    members_with_id = Counter(m.id for m in members)
    for record in members:
        acknowledged = set(record.main().get("distinct_from") or []) | acknowledged_by[record.id]
        silent = sum(members_with_id[a] for a in acknowledged) - (record.id in acknowledged)
        remaining = len(members) - 1 - silent
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
        prefixes = _with_dependents(
            [repository.rel(p) for p in paths], dataset.records, dataset.schema.model
        )
        kept = [i for i in dataset.issues if any(_under(i.file, p) for p in prefixes)]
        dataset.issues = IssueList(kept)
    return dataset


def _with_dependents(prefixes: list[str], records: list[Record], model: Model) -> list[str]:
    """A path into a source folder (say its text.txt) also selects its source.yaml, where the
    text's problems are reported, and the events that quote it: checking the file one
    changed must show what the change broke."""
    sources = {p.split("/")[1] for p in prefixes if p.startswith("sources/") and p.count("/") >= 1}
    if not sources:
        return prefixes
    out = prefixes + [f"sources/{sid}" for sid in sorted(sources)]
    for record in records:
        if any(_quoted_source(row, model) in sources for row in record.rows):
            out.append(record.file)
    return out


def _under(file: str, prefix: str) -> bool:
    return prefix in ("", ".") or file == prefix or file.startswith(prefix.rstrip("/") + "/")
