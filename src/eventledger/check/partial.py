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
    digest_bytes,
    encode_base,
    encode_patch,
    new_state,
    own_facts,
    summarize,
    unique_columns,
)
from eventledger.check.tables_aside import TablesAside
from eventledger.issues import Issue
from eventledger.model.kinds import PASSAGES, SOURCE_TABLE, Model
from eventledger.model.schema import load_schema
from eventledger.read.cache import Cache
from eventledger.read.records import Record
from eventledger.read.repository import RecordFile, Repository

SHARE = 8  # beyond one file in SHARE (and a few), checking everything costs less
FEW = 64


def _state_key(cache: Cache, part: str = "base") -> str:
    return hashlib.sha256(cache.namespace + f"\0summaries 2 {part}".encode()).hexdigest()


def keep_state(
    dataset: Dataset, files: list[RecordFile], digests: dict[str, str], beside: str, cache: Cache
) -> None:
    """Store the summaries of a whole check, for the next run's partial check."""
    layers = dataset.layers
    if layers is None or layers.order_decided or layers.table_issues:
        cache.put(_state_key(cache), b"")  # the next run checks everything again
        return
    schema = dataset.schema
    uniques = unique_columns(schema)
    state = new_state(
        beside,
        (
            (entry.rel, entry.kind, digest_bytes(digests[entry.rel]), summary)
            for entry, summary in zip(
                files,
                (
                    summarize(record, refs, key, schema, uniques)
                    for record, refs, key in zip(
                        dataset.records, layers.references, layers.duplicate_keys, strict=True
                    )
                ),
                strict=True,
            )
        ),
    )
    cache.account(cache.put(_state_key(cache), encode_base(state)))


def _pairs(flat: tuple[Any, ...]) -> Iterable[tuple[Any, Any]]:
    return zip(flat[0::2], flat[1::2], strict=True)


def _spans(flat: tuple[Any, ...]) -> Iterable[tuple[Any, ...]]:
    return zip(flat[0::5], flat[1::5], flat[2::5], flat[3::5], flat[4::5], strict=True)


def _folder(rel: str) -> str:
    return rel.rpartition("/")[0].rpartition("/")[2]


def check_changed(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    digests: dict[str, str],
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
    # Pandera (a second and more to import and warm up) gets ready on the other core while
    # this process finds what changed.
    aside = TablesAside.start(repository.schema_dir)
    try:
        state = decode(payload, patch)
        if state is None or state.beside != beside:
            return None
        return _check_changed(repository, files, stray, digests, state, jobs, cache, aside)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError):
        return None  # a state that does not fit this repository's model: never trusted
    finally:
        if aside is not None:
            aside.close()


def _check_changed(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    digests: dict[str, str],
    state: State,
    jobs: int,
    cache: Cache,
    aside: TablesAside | None,
) -> tuple[list[Issue], int] | None:
    schema = load_schema(repository.schema_dir)
    model = schema.model
    table_of = {k.name: k.table for k in model.kinds}
    source_kind = model.kind_of_table(SOURCE_TABLE).name
    holders = {source_kind} | {
        k.name for k in model.kinds if any(c.table == PASSAGES for c in k.children)
    }
    at = {state.rels[i]: i for i in state.present()}
    old: dict[int, int] = {}  # file -> its place in the state, for a file unchanged since
    changed: list[int] = []
    for j, entry in enumerate(files):
        i = at.get(entry.rel)
        if (
            i is not None
            and state.kinds[i] == entry.kind
            and state.digests[i] == digest_bytes(digests[entry.rel])
        ):
            old[j] = i
        else:
            changed.append(j)
    gone = sorted(set(at.values()) - set(old.values()))  # changed or removed
    budget = len(files) // SHARE + FEW
    if len(changed) + len(gone) > budget:
        return None
    if any(files[j].kind in holders for j in changed) or any(
        state.kinds[i] in holders for i in gone
    ):
        return None  # a source or uncoded set: its text's spans and coverage may all move
    fresh = dict(
        zip(changed, read_files([files[j] for j in changed], schema, cache=cache), strict=True)
    )
    uniques = unique_columns(schema)
    # Facts of every file as it is now: kept from the state, or of the record just read.
    facts: dict[int, tuple[str | None, tuple[str, ...], Any, tuple[Any, ...], tuple[Any, ...]]] = {}
    for j, record in fresh.items():
        own = own_facts(record, schema, uniques, duplicate_key(record))
        facts[j] = (record.id, all_references(record, schema), *own)

    def ident(kind: str, rid: str | None) -> tuple[str, str] | None:
        return None if rid is None else (table_of[kind], rid)

    old_ids = Counter(ident(state.kinds[i], state.ids[i]) for i in gone)
    new_ids = Counter(ident(files[j].kind, f[0]) for j, f in facts.items())
    ids_moved = {
        k for k in old_ids.keys() | new_ids.keys() if k is not None and old_ids[k] != new_ids[k]
    }
    old_uses = Counter(p for i in gone for p in _pairs(state.refs[i]))
    new_uses = Counter(p for f in facts.values() for p in _pairs(f[1]))
    uses_moved = {k for k in old_uses.keys() | new_uses.keys() if old_uses[k] != new_uses[k]}
    keys = {state.dups[i] for i in gone} | {f[2] for f in facts.values()}
    values = {t for i in gone for t in state.uniques[i]}
    values |= {t for f in facts.values() for t in f[3]}
    old_spans = Counter(s for i in gone for s in _spans(state.spans[i]))
    new_spans = Counter(s for f in facts.values() for s in _spans(f[4]))
    sids = {s[1] for s in old_spans.keys() | new_spans.keys() if old_spans[s] != new_spans[s]}

    part = set(changed)
    moved_values = {v for _, v in ids_moved}
    if ids_moved or uses_moved:
        for j, i in old.items():
            if moved_values and not moved_values.isdisjoint(state.refs[i]):
                part.add(j)  # refers to an id that came or went
            elif ids_moved and any(t[3].startswith("unknown-") for t in state.issues[i]):
                part.add(j)  # its unknown reference's hint names the ids that exist
            elif uses_moved and ident(files[j].kind, state.ids[i]) in uses_moved:
                part.add(j)  # used or unused now
    # Who shares a duplicate key, a unique value or a text's coverage: all or none of them.
    by_key: dict[Any, list[int]] = defaultdict(list)
    by_value: dict[Any, list[int]] = defaultdict(list)
    by_text: dict[str, list[int]] = defaultdict(list)
    for j, i in old.items():
        dup = state.dups[i]
        if dup is not None:
            by_key[dup].append(j)
        for t in state.uniques[i]:
            by_value[t].append(j)
    for j, f in facts.items():
        if f[2] is not None:
            by_key[f[2]].append(j)
        for t in f[3]:
            by_value[t].append(j)
    for j, entry in enumerate(files):
        if entry.kind in holders:
            rid = state.ids[old[j]]  # holders are unchanged (else everything is checked)
            by_text[_folder(files[j].rel)].append(j)
            if rid is not None:
                by_text[rid].append(j)
    queue = [j for k in keys if k is not None for j in by_key.get(k, ())]
    queue += [j for t in values for j in by_value.get(t, ())]
    queue += [j for sid in sids for j in by_text.get(sid, ())]
    queue += list(part)
    covered: set[str] = set(sids)
    done: set[int] = set()
    while queue:
        j = queue.pop()
        if j in done:
            continue
        done.add(j)
        part.add(j)
        if len(part) > budget:
            return None
        i = old.get(j)
        dup, found = (state.dups[i], state.uniques[i]) if i is not None else facts[j][2:4]
        more = list(by_key.get(dup, ())) if dup is not None else []
        for t in found:
            group = by_value.get(t, ())
            if len(group) > 1:
                more += group
        if files[j].kind in holders and i is not None:
            for sid in (state.ids[i], _folder(files[j].rel)):
                if sid is not None and sid not in covered:
                    covered.add(sid)
                    more += by_text.get(sid, ())
        queue += [m for m in more if m not in done]
    return _check_part(
        repository, files, stray, digests, state, old, fresh, part, covered, jobs, cache, aside
    )


def _check_part(
    repository: Repository,
    files: list[RecordFile],
    stray: list[RecordFile],
    digests: dict[str, str],
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
    read = dict(
        zip(
            again,
            read_files([files[j] for j in again], schema, jobs=jobs, cache=cache),
            strict=True,
        )
    )
    records = [fresh[j] if j in fresh else read[j] for j in order]
    ids: dict[str, set[str]] = {k.table: set() for k in model.kinds}
    uses: set[tuple[str, str]] = set()
    table_of = {k.name: k.table for k in model.kinds}
    for j, i in old.items():
        if j in part:
            continue
        rid = state.ids[i]
        if rid is not None:
            ids[table_of[files[j].kind]].add(rid)
        refs = state.refs[i]
        if refs:
            uses.update(zip(refs[0::2], refs[1::2], strict=True))
    used: dict[str, set[str]] = defaultdict(set)
    for table, value in uses:
        used[table].add(value)
    texts = _texts(repository, files, state, old, records, covered, model)
    rows = _span_rows(model, state, old, part, records) if covered else {}
    elsewhere = Elsewhere(
        KnownIds({t: frozenset(found) for t, found in ids.items()}), used, rows, frozenset(covered)
    )
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
    kept = {files[j].rel for j in old}
    for i in state.present():
        if state.rels[i] not in kept:
            state.patch[state.rels[i]] = None  # changed (then put back below) or removed
    for j, summary in new.items():
        entry = files[j]
        state.patch[entry.rel] = (entry.rel, entry.kind, digest_bytes(digests[entry.rel]), summary)
    if len(state.patch) > len(files) // SHARE:  # the base again, the patch empty
        entries = []
        for j, entry in enumerate(files):
            summary = new[j] if j in new else state.summary(old[j])
            entries.append((entry.rel, entry.kind, digest_bytes(digests[entry.rel]), summary))
        cache.account(cache.put(_state_key(cache), encode_base(new_state(state.beside, entries))))
    else:
        cache.account(cache.put(_state_key(cache, "patch"), encode_patch(state)))
    return sorted(set(issues)), len(files)


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
            sid = row.values.get(table.source_field) if table is not None else None
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
