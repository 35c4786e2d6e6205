"""The cache of read records: a damaged, cut or foreign entry is ignored and rebuilt, a
second run re-reads only the files that changed, the folder stays within its bound, and
workers give exactly what one process gives."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from casekit import CASES, make_repository
from eventledger.check.parallel import CHUNK, read_file, read_files
from eventledger.model.schema import Schema, load_schema
from eventledger.read.cache import FOLDER, MAGIC, Cache
from eventledger.read.records import Record
from eventledger.read.repository import RecordFile, Repository


def snapshot(records: list[Record]) -> list[object]:
    return [
        (r.kind, r.file, r.issues, [(w.table, w.values, w.prefix) for w in r.rows], r.flagged)
        for r in records
    ]


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Repository, list[RecordFile], Schema]:
    """Every valid and invalid case as an event file of one repository (more than a chunk)."""
    root = tmp_path / "repo"
    make_repository(root)
    cases = sorted(p for p in CASES.rglob("*.yaml") if "_base" not in p.parts)
    for i in range(CHUNK + 50):
        target = root / "events" / "2000" / f"2000-01-01-case-{i:04d}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cases[i % len(cases)], target)
    repository = Repository(root)
    files, _ = repository.discover()
    return repository, files, load_schema(repository.schema_dir)


def entries(repository: Repository) -> list[Path]:
    return sorted(p for p in (repository.root / FOLDER / "entries").rglob("*") if p.is_file())


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
    cache = open_cache(repository)
    read_files(files, schema, cache=cache)
    stored = entries(repository)
    assert stored
    for path in stored:
        blob = path.read_bytes()
        if damage == "flip a byte":
            blob = blob[:-5] + bytes([blob[-5] ^ 0x20]) + blob[-4:]
        elif damage == "cut short":
            blob = blob[: len(blob) // 2]
        elif damage == "empty":
            blob = b""
        else:  # a correct checksum over a payload that describes no record
            key = path.parent.name + path.name
            payload = b'{"rows": "nothing here"}'
            blob = MAGIC + hashlib.sha256(key.encode() + payload).digest() + payload
        path.write_bytes(blob)
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected
    for path in entries(repository):  # rebuilt: every entry is whole again
        key = path.parent.name + path.name
        assert cache.get(key) is not None


def test_a_second_run_reads_only_what_changed(
    corpus: tuple[Repository, list[RecordFile], Schema],
) -> None:
    repository, files, schema = corpus
    cache = open_cache(repository)
    read_files(files, schema, cache=cache)
    before = {p: p.stat().st_mtime_ns for p in entries(repository)}
    changed = files[:3]
    for entry in changed:
        entry.path.write_bytes(entry.path.read_bytes() + b"# edited\n")
    records = read_files(files, schema, cache=cache)
    after = entries(repository)
    new = [p for p in after if p not in before]
    assert len(new) == len(changed)  # one new entry per changed file, nothing else rewritten
    assert all(p.stat().st_mtime_ns == before[p] for p in after if p in before)
    assert snapshot(records) == snapshot([read_file(f, schema) for f in files])


def test_the_folder_stays_within_its_bound(
    corpus: tuple[Repository, list[RecordFile], Schema],
) -> None:
    repository, files, schema = corpus
    probe = open_cache(repository)
    read_files(files[:1], schema, cache=probe)
    one = entries(repository)[0].stat().st_size
    shutil.rmtree(repository.root / FOLDER)
    limit = one * 40
    cache = open_cache(repository, limit)
    read_files(files, schema, cache=cache)
    assert sum(p.stat().st_size for p in entries(repository)) <= limit


def test_a_cache_folder_that_is_a_link_is_not_used(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_repository(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, root / FOLDER)
    assert Cache.open(root, root / "schema", "test") is None
    assert list(elsewhere.iterdir()) == []
