"""A whole repository's check after a few files changed: only the records whose issues may
change are read and checked again; every other record keeps the issues it had.

Which records those are follows from what the checks across records read of other
records (check/summary.py keeps it for every record): a changed or removed record's ids,
the ids it refers to, its duplicate key, its values of unique columns and its spans. The
records that refer to an id that came or went (and every record with an unknown
reference, whose hint names the ids that exist), the records whose id is used or no longer
used, the events with the same duplicate key, the rows with the same unique value and the
records a text's coverage is reported on are checked again, with everything they need of
each other (the part is closed under sharing a duplicate key or a unique value), against
the ids and uses of all the others.

Where the part cannot say what a check of everything would, everything is checked: a
changed source, uncoded set or source text (every span and the coverage may move), more
than an eighth of the files, a failure Pandera reports for a whole column, and one field
failing two Pandera checks (only the first is told, and which is first depends on the
whole table).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import chain, compress, count, repeat
from operator import and_, eq, not_
from pathlib import Path
from typing import Any

from eventledger.check.checker import (
    Dataset,
    Elsewhere,
    KnownIds,
    check_part,
    duplicate_key,
    stray_issue,
)
from eventledger.check.metadata import check_package_metadata
from eventledger.check.parallel import read_files
from eventledger.check.spans import SourceText, read_source_text
from eventledger.check.summary import (
    State,
    all_references,
    decode,
    encode_base,
    encode_patch,
    new_state,
    own_facts,
    summarize,
    unique_columns,
    use,
    whole_state,
)
from eventledger.check.table_proof import passes
from eventledger.check.tables_aside import Found, Rows, TablesAside
from eventledger.issues import Issue
from eventledger.model.kinds import PASSAGES, SOURCE_TABLE, Model
from eventledger.model.schema import Schema, load_schema
from eventledger.read.cache import Cache
from eventledger.read.records import Record
from eventledger.read.repository import RecordFile, Repository

READ_WITHOUT_CACHE = 256  # files of a part parsed again rather than looked up
SHARE = 8  # beyond one file in SHARE (and a few), checking everything costs less
FEW = 64


def _state_key(cache: Cache, part: str = "base") -> str:
    return hashlib.sha256(cache.namespace + f"\0summaries 2 {part}".encode()).hexdigest()


def keep_state(
    dataset: Dataset, files: list[RecordFile], digests: list[bytes], beside: str, cache: Cache
) -> None:
    """Store the summaries of a whole check, for the next run's partial check."""
    layers = dataset.layers
    if layers is None or layers.order_decided or layers.table_issues:
        cache.put(_state_key(cache), b"")  # the next run checks everything again
        return
    schema = dataset.schema
    uniques = unique_columns(schema)
    state = whole_state(
        beside,
        [
            (entry.rel, entry.kind, digest, summary)
            for entry, digest, summary in zip(
                files,
                digests,
                (
                    summarize(record, refs, key, schema, uniques, own)
                    for record, refs, key, own in zip(
                        dataset.records,
                        layers.references,
                        layers.duplicate_keys,
                        layers.own or repeat(None, len(dataset.records)),
                        strict=True,
                    )
                ),
                strict=True,
            )
        ],
    )
    cache.account(cache.put(_state_key(cache), encode_base(state)))


def _spans(flat: tuple[Any, ...]) -> Iterable[tuple[Any, ...]]:
    return zip(flat[0::5], flat[1::5], flat[2::5], flat[3::5], flat[4::5], strict=True)


def _folder(rel: str) -> str:
    return rel.rpartition("/")[0].rpartition("/")[2]


def check_changed(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    digests: list[bytes],
    beside: str,
    *,
    jobs: int,
    cache: Cache,
) -> tuple[list[Issue], int] | None:
    """The sorted issues of the whole repository and how many records it holds, found by
    checking again only what the changes since the last stored run touch; None when that
    cannot be done (no state, or too much changed): then check everything."""
    payload = cache.get(_state_key(cache))
    if not payload:
        return None
    patch = cache.get(_state_key(cache, "patch"))
    aside = _ProvedFirst(repository.schema_dir)
    try:
        state = decode(payload, patch)
        if state is None or state.beside != beside:
            return None
        return _check_changed(repository, files, stray, digests, state, jobs, cache, aside)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return None  # a state that does not fit this repository's model: never trusted
    finally:
        aside.close()


class _ProvedFirst(TablesAside):
    """The table layer of a part: Pandera's answer told by check/table_proof.py when the
    rows certainly pass (a valid edit: no pandas imported at all), else by Pandera in a
    child process. The child (a second and more to import and warm up) is started as soon as
    the changed records' own rows are not certainly clean, so that it gets ready on the
    other core while this process finds what else to check."""

    def __init__(self, schema_dir: Path) -> None:  # no child yet: started when needed
        self.schema_dir = schema_dir
        self.schema: Schema | None = None
        self.child: TablesAside | None = None
        self.started = False

    def start_child(self) -> None:
        if not self.started:
            self.started = True
            self.child = TablesAside.start(self.schema_dir)

    def check(self, rows: Rows) -> Found | None:
        rows = list(rows)
        if self.schema is None:
            self.schema = load_schema(self.schema_dir)
        found = passes(rows, self.schema)
        if found is not None:
            return found
        self.start_child()
        return None if self.child is None else self.child.check(rows)

    def close(self) -> None:
        if self.child is not None:
            self.child.close()


def _check_changed(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    digests: list[bytes],
    state: State,
    jobs: int,
    cache: Cache,
    aside: _ProvedFirst,
) -> tuple[list[Issue], int] | None:
    schema = load_schema(repository.schema_dir)
    model = schema.model
    table_of = {k.name: k.table for k in model.kinds}
    source_kind = model.kind_of_table(SOURCE_TABLE).name
    holders = {source_kind} | {
        k.name for k in model.kinds if any(c.table == PASSAGES for c in k.children)
    }
    rels = [f.rel for f in files]
    now = digests
    n = len(files)
    if not state.removed and state.rels == rels and state.kinds == [f.kind for f in files]:
        # The usual case (files only edited): compare in order, no lookups.
        changed = _differ(state.digests, now)
        old = dict(zip(range(n), range(n), strict=True))
        for j in changed:
            del old[j]
        gone = list(changed)
    else:
        at = {state.rels[i]: i for i in state.present()}
        old = {}  # file -> its place in the state, for a file unchanged since
        changed = []
        for j, entry in enumerate(files):
            i = at.get(entry.rel)
            if i is not None and state.kinds[i] == entry.kind and state.digests[i] == now[j]:
                old[j] = i
            else:
                changed.append(j)
        gone = sorted(set(at.values()) - set(old.values()))  # changed or removed
    budget = n // SHARE + FEW
    if len(changed) + len(gone) > budget:
        return None
    if any(files[j].kind in holders for j in changed) or any(
        state.kinds[i] in holders for i in gone
    ):
        return None  # a source or uncoded set: its text's spans and coverage may all move
    # Read without the cache: these files changed (the cache has no entry for them), and
    # loading its index of every entry costs more than parsing a few files.
    fresh = dict(zip(changed, read_files([files[j] for j in changed], schema), strict=True))
    aside.schema = schema
    own_rows: dict[str, list[Any]] = {name: [] for name in schema.tables}
    for record in fresh.values():
        for row in record.rows:
            own_rows[row.table].append(row.values)
    if passes(list(own_rows.items()), schema) is None:
        aside.start_child()  # Pandera will have a say: let it get ready meanwhile
    uniques = unique_columns(schema)
    # Facts of the records just read: id, every reference, duplicate key, unique values, spans.
    facts: dict[int, tuple[str | None, tuple[str, ...], Any, tuple[Any, ...], tuple[Any, ...]]] = {}
    for j, record in fresh.items():
        own = own_facts(record, schema, uniques, duplicate_key(record))
        facts[j] = (record.id, all_references(record, schema), *own)

    def ident(kind: str, rid: str | None) -> str | None:
        return None if rid is None else use(table_of[kind], rid)

    old_ids = Counter(ident(state.kinds[i], state.ids[i]) for i in gone)
    new_ids = Counter(ident(files[j].kind, f[0]) for j, f in facts.items())
    ids_moved = {
        k for k in old_ids.keys() | new_ids.keys() if k is not None and old_ids[k] != new_ids[k]
    }
    old_uses = Counter(u for i in gone for u in state.refs[i])
    new_uses = Counter(u for f in facts.values() for u in f[1])
    uses_moved = {k for k in old_uses.keys() | new_uses.keys() if old_uses[k] != new_uses[k]}
    keys = {state.dups[i] for i in gone} | {f[2] for f in facts.values()}
    values = {t for i in gone for t in state.uniques[i]}
    values |= {t for f in facts.values() for t in f[3]}
    old_spans = Counter(s for i in gone for s in _spans(state.spans[i]))
    new_spans = Counter(s for f in facts.values() for s in _spans(f[4]))
    sids = {s[1] for s in old_spans.keys() | new_spans.keys() if old_spans[s] != new_spans[s]}

    part = set(changed)
    if ids_moved or uses_moved:
        for j, i in old.items():
            if ids_moved and not ids_moved.isdisjoint(state.refs[i]):
                part.add(j)  # refers to an id that came or went
            elif ids_moved and any(t[3].startswith("unknown-") for t in state.issues[i]):
                part.add(j)  # its unknown reference's hint names the ids that exist
            elif uses_moved and ident(files[j].kind, state.ids[i]) in uses_moved:
                part.add(j)  # used or unused now
    # Who shares a duplicate key, a unique value or a text's coverage: all or none of them.
    # Found by scanning the columns for the keys and values wanted, a round at a time.
    file_of = dict(zip(old.values(), old.keys(), strict=True))
    texts_at = [j for j, entry in enumerate(files) if entry.kind in holders]
    covered: set[str] = set()
    seen_keys: set[Any] = set()
    seen_values: set[Any] = set()
    pending = list(part)
    keys.discard(None)
    while True:
        for j in pending:
            i = old.get(j)
            dup, found = (state.dups[i], state.uniques[i]) if i is not None else facts[j][2:4]
            if dup is not None:
                keys.add(dup)
            values.update(found)
            if i is not None and files[j].kind in holders:
                sids.update(x for x in (state.ids[i], _folder(files[j].rel)) if x is not None)
        keys -= seen_keys
        values -= seen_values
        sids -= covered
        if not keys and not values and not sids:
            break
        # compress() over map(), not loops in Python: 100k records, scanned each round.
        hits = list(compress(count(), map(keys.__contains__, state.dups)))
        hits += compress(count(), map(not_, map(values.isdisjoint, state.uniques)))
        more = [file_of[i] for i in hits if i in file_of]
        more += [j for j, f in facts.items() if f[2] in keys or not values.isdisjoint(f[3])]
        for j in texts_at:
            i = old[j]  # holders are unchanged (else everything is checked)
            if state.ids[i] in sids or _folder(files[j].rel) in sids:
                more.append(j)
        seen_keys |= keys
        seen_values |= values
        covered |= sids
        keys, values, sids = set(), set(), set()
        pending = [j for j in set(more) if j not in part]
        part.update(pending)
        if len(part) > budget:
            return None
    return _check_part(
        repository, files, stray, digests, state, old, fresh, part, covered, jobs, cache, aside
    )


def _check_part(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    digests: list[bytes],
    state: State,
    old: dict[int, int],
    fresh: dict[int, Record],
    part: set[int],
    covered: set[str],
    jobs: int,
    cache: Cache,
    aside: TablesAside | None,
) -> tuple[list[Issue], int] | None:
    schema = load_schema(repository.schema_dir)
    model = schema.model
    order = sorted(part)
    again = [j for j in order if j not in fresh]
    # A few files are parsed again faster than the cache's index of every entry loads.
    read = dict(
        zip(
            again,
            read_files(
                [files[j] for j in again],
                schema,
                jobs=jobs,
                cache=cache if len(again) > READ_WITHOUT_CACHE else None,
            ),
            strict=True,
        )
    )
    records = [fresh[j] if j in fresh else read[j] for j in order]
    # The ids and uses of every record outside the part, column by column.
    outside = [False] * len(state.rels)
    for i in old.values():
        outside[i] = True
    for j in part:
        if j in old:
            outside[old[j]] = False
    ids: dict[str, frozenset[str]] = {}
    for kind in model.kinds:
        mask = map(and_, outside, map(eq, state.kinds, repeat(kind.name)))
        found: frozenset[Any] = frozenset(compress(state.ids, mask))
        ids[kind.table] = found - {None}
    used: dict[str, set[str]] = defaultdict(set)
    for made in set(chain.from_iterable(compress(state.refs, outside))):
        table, _, value = made.partition("\0")
        used[table].add(value)
    texts = _texts(repository, files, state, old, records, covered, model)
    rows = _span_rows(model, state, old, part, records) if covered else {}
    elsewhere = Elsewhere(KnownIds(ids), used, rows, frozenset(covered))
    schema, records, layers = check_part(
        repository, [files[j] for j in order], records, texts, elsewhere, aside
    )
    if layers.order_decided or layers.table_issues:
        return None
    issues: list[Issue] = [stray_issue(s, model) for s in stray]
    issues.extend(check_package_metadata(repository))
    for j, i in old.items():
        if j not in part and state.issues[i]:
            issues.extend(state.issues_of(i))
    for record in records:
        issues.extend(record.issues)
    uniques = unique_columns(schema)
    new = {
        j: summarize(record, refs, key, schema, uniques)
        for j, record, refs, key in zip(
            order, records, layers.references, layers.duplicate_keys, strict=True
        )
    }
    # The stored files no file kept its place of: each rel is in the state once, and old
    # maps a file to the place of its rel there, so these are the rels no file kept.
    for i in sorted(set(range(len(state.rels))).difference(state.removed, old.values())):
        state.patch[state.rels[i]] = None  # changed (then put back below) or removed
    for j, summary in new.items():
        entry = files[j]
        state.patch[entry.rel] = (entry.rel, entry.kind, digests[j], summary)
    if len(state.patch) > len(files) // SHARE:  # the base again, the patch empty
        entries = []
        for j, entry in enumerate(files):
            summary = new[j] if j in new else state.summary(old[j])
            entries.append((entry.rel, entry.kind, digests[j], summary))
        cache.account(cache.put(_state_key(cache), encode_base(new_state(state.beside, entries))))
    else:
        cache.account(cache.put(_state_key(cache, "patch"), encode_patch(state)))
    return sorted(set(issues)), len(files)


def _differ(was: list[bytes], now: list[bytes]) -> list[int]:
    """Where two equally long lists of digests differ: a thousand compared at a time as one
    joined text, in C, and only a block that differs looked into (a hundred thousand
    digests, ten of them changed)."""
    block = 1024
    out: list[int] = []
    for start in range(0, len(now), block):
        a, b = was[start : start + block], now[start : start + block]
        if b"".join(a) != b"".join(b):
            out.extend(start + k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    return out


def _texts(
    repository: Repository,
    files: list[RecordFile],
    state: State,
    old: dict[int, int],
    records: list[Record],
    covered: set[str],
    model: Model,
) -> dict[str, SourceText]:
    """The texts the part's spans quote and its coverage reads, by source id, each read
    from the folder of the first source with that id (as the whole check takes them)."""
    wanted = set(covered)
    for record in records:
        for row in record.rows:
            table = model.span_table(row.table)
            sid = row.get(table.source_field) if table is not None else None
            if isinstance(sid, str):
                wanted.add(sid)
    source_kind = model.kind_of_table(SOURCE_TABLE).name
    texts: dict[str, SourceText] = {}
    for j, entry in enumerate(files):
        if entry.kind != source_kind:
            continue
        folder = Path(entry.rel).parent.name
        sid = state.ids[old[j]] or folder  # sources are unchanged in a partial check
        if sid in wanted and sid not in texts:
            texts[sid] = read_source_text(repository.source_text(folder), folder, repository.root)
    return texts


def _span_rows(
    model: Model,
    state: State,
    old: dict[int, int],
    part: set[int],
    records: list[Record],
) -> dict[str, list[dict[str, object]]]:
    """The rows of every span table that coverage reads: the part's from its records, the
    others' from their summaries."""
    rows: dict[str, list[dict[str, object]]] = defaultdict(list)
    field = {s.table: s.source_field for s in model.spans}
    for j, i in old.items():
        if j in part:
            continue
        for table, sid, start, end, reason in _spans(state.spans[i]):
            rows[table].append({field[table]: sid, "start": start, "end": end, "reason": reason})
    for record in records:
        for row in record.rows:
            if row.table in field:
                rows[row.table].append(row.values)
    return rows
