"""The cache of read records: a damaged, cut or foreign entry is ignored and rebuilt, a
second run re-reads only the files that changed, the folder stays within its bound, and
workers give exactly what one process gives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from casekit import CASES, make_repository
from eventledger.check.parallel import CHUNK, read_file, read_files
from eventledger.model.schema import Schema, load_schema
from eventledger.read.cache import FOLDER, Cache
from eventledger.read.records import Record
from eventledger.read.repository import RecordFile, Repository


def snapshot(records: list[Record]) -> list[object]:
    # Where every value stands, as a later check would place an issue on it: the record
    # parses its bytes again (it keeps them, not its parsed document).
    return [
        (
            r.kind,
            r.file,
            r.issues,
            [(w.table, w.values, w.prefix) for w in r.rows],
            r.flagged,
            r.raw,
            [r.position((*w.prefix, name)) for w in r.rows for name in w.values],
        )
        for r in records
    ]


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Repository, list[RecordFile], Schema]:
    """Every valid and invalid case as an event file of one repository (more than a chunk)."""
    root = tmp_path / "repo"
    make_repository(root)
    cases = sorted(
        p
        for p in CASES.rglob("*.yaml")
        if "_base" not in p.parts and p.is_file() and not p.is_symlink()
    )
    for i in range(CHUNK + 50):
        target = root / "events" / "2000" / f"2000-01-01-case-{i:04d}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cases[i % len(cases)], target)
    repository = Repository(root)
    files, _ = repository.discover()
    return repository, files, load_schema(repository.schema_dir)


def packs(repository: Repository) -> list[Path]:
    return sorted((repository.root / FOLDER / "packs").iterdir())


def cache_bytes(repository: Repository) -> int:
    return sum(p.stat().st_size for p in (repository.root / FOLDER).rglob("*") if p.is_file())


def open_cache(repository: Repository, limit: int = 1 << 30) -> Cache:
    cache = Cache.open(repository.root, repository.schema_dir, "test", limit)
    assert cache is not None
    return cache


def test_workers_and_cache_give_what_one_process_gives(
    corpus: tuple[Repository, list[RecordFile], Schema],
) -> None:
    repository, files, schema = corpus
    expected = snapshot([read_file(f, schema) for f in files])
    assert any(r[2] for r in expected) and any(not r[2] for r in expected)
    assert any(position[0] > 1 for r in expected for position in r[6])  # positions are real
    assert snapshot(read_files(files, schema, jobs=2)) == expected
    cache = open_cache(repository)
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected  # cold
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected  # warm
    assert snapshot(read_files(files, schema, jobs=1, cache=cache)) == expected


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "empty", "foreign payload"])
def test_a_damaged_entry_is_ignored_and_rebuilt(
    corpus: tuple[Repository, list[RecordFile], Schema], damage: str
) -> None:
    repository, files, schema = corpus
    expected = snapshot([read_file(f, schema) for f in files])
    read_files(files, schema, jobs=2, cache=open_cache(repository))
    cache = open_cache(repository)
    assert len(cache.index) == len(files)
    if damage == "foreign payload":  # a correct checksum over a payload that is no record
        cache.commit(cache.write_pack([(k, b'{"rows": "nothing"}') for k in cache.index]))
    else:
        for name, offset, length in cache.index.values():
            path = repository.root / FOLDER / "packs" / name
            blob = bytearray(path.read_bytes())
            if damage == "flip a byte":
                blob[offset + length - 2] ^= 0x20
            elif damage == "cut short":
                blob = blob[: offset + length // 2]
            else:
                blob = bytearray()
            path.write_bytes(bytes(blob))
    cache = open_cache(repository)
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected
    cache = open_cache(repository)  # rebuilt: every entry is whole again
    assert all(cache.lookup(key) is not None for key in cache.index)
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected


def test_a_second_run_reads_only_what_changed(
    corpus: tuple[Repository, list[RecordFile], Schema],
) -> None:
    repository, files, schema = corpus
    read_files(files, schema, jobs=2, cache=open_cache(repository))
    before = {p: p.stat().st_mtime_ns for p in packs(repository)}
    keys = set(open_cache(repository).index)
    changed = files[:3]
    for entry in changed:
        entry.path.write_bytes(entry.path.read_bytes() + b"# edited\n")
    records = read_files(files, schema, jobs=2, cache=open_cache(repository))
    new = [p for p in packs(repository) if p not in before]
    added = set(open_cache(repository).index) - keys
    assert len(new) == 1 and len(added) == len(changed)  # the 3 changed files, nothing else
    assert all(p.stat().st_mtime_ns == before[p] for p in before)
    assert snapshot(records) == snapshot([read_file(f, schema) for f in files])


def test_the_folder_stays_within_its_bound(
    corpus: tuple[Repository, list[RecordFile], Schema],
) -> None:
    repository, files, schema = corpus
    read_files(files, schema, cache=open_cache(repository))
    everything = cache_bytes(repository)
    shutil.rmtree(repository.root / FOLDER)
    limit = everything // 3
    for _ in range(3):  # cold, then warm runs that find part of it evicted
        records = read_files(files, schema, jobs=2, cache=open_cache(repository, limit))
        assert cache_bytes(repository) <= limit + 4096  # the ledger and index files aside
    assert open_cache(repository, limit).index  # what remains is still used
    assert snapshot(records) == snapshot([read_file(f, schema) for f in files])


@pytest.mark.parametrize("link", ["build", FOLDER])
def test_a_cache_folder_that_is_a_link_is_not_used(tmp_path: Path, link: str) -> None:
    root = tmp_path / "repo"
    make_repository(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / link).parent.mkdir(exist_ok=True)
    os.symlink(elsewhere, root / link)
    assert Cache.open(root, root / "schema", "test") is None
    assert Cache.open(root, root / "schema", "test", writable=False) is None
    assert list(elsewhere.iterdir()) == []


def test_the_cache_lives_in_build_and_never_ships(tmp_path: Path) -> None:
    """The tool writes nothing outside build/, the cache included; a release packs only
    build/<version>/, so the cache is in no folder or zip it publishes."""
    root = tmp_path / "repo"
    make_repository(root)
    assert Cache.open(root, root / "schema", "test") is not None
    assert FOLDER.startswith("build/") and (root / FOLDER).is_dir()
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []
