"""The cache of read records: a damaged, cut or foreign entry is ignored and rebuilt, a
second run re-reads only the files that changed, the folder stays within its bound, and
workers give exactly what one process gives."""

from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from casekit import CASES, make_repository, place_valid_cases
from eventledger.check.parallel import (
    CHUNK,
    Proof,
    _key,
    _values_clean,
    _work,
    read_file,
    read_files,
)
from eventledger.cli import main
from eventledger.model.schema import Schema, load_schema
from eventledger.read.cache import FOLDER, LEDGER_BYTES, Cache
from eventledger.read.records import Record
from eventledger.read.repository import RecordFile, Repository
from eventledger.syntax.strict_yaml import MAX_BYTES
from gitkit import case_repository, git


def snapshot(records: list[Record]) -> list[object]:
    # Where every value stands, as a later check would place an issue on it: the record
    # reads and parses its file again (it keeps where it is, not its bytes or document).
    return [
        (
            r.kind,
            r.file,
            r.issues,
            [(w.table, w.values, w.prefix) for w in r.rows],
            r.flagged,
            r.where,
            r.stamp,
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
    assert any(position[0] > 1 for r in expected for position in r[7])  # positions are real
    assert snapshot(read_files(files, schema, jobs=2)) == expected
    cache = open_cache(repository)
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected  # cold
    assert snapshot(read_files(files, schema, jobs=2, cache=cache)) == expected  # warm
    assert snapshot(read_files(files, schema, jobs=1, cache=cache)) == expected


@pytest.mark.parametrize("which", ["every case", "clean rows only"])
def test_a_worker_decodes_and_proves_what_the_cache_holds_as_what_it_reads(
    corpus: tuple[Repository, list[RecordFile], Schema], which: str
) -> None:
    """The parent is sent records, never an entry's payload or a file's bytes: a worker that
    finds a file's entry decodes it and proves its rows (check/table_proof.values_clean)
    itself, and says of them what a cold run says of the same files."""
    repository, files, schema = corpus
    if which == "clean rows only":  # rows that each pass every check of one value
        files = [f for f in files if _values_clean([read_file(f, schema)], schema)]
    assert len(files) > CHUNK // 2
    cold = Proof()
    expected = snapshot(read_files(files, schema, jobs=2, cache=open_cache(repository), proof=cold))
    assert cold.clean is (which == "clean rows only")  # the proof tells them apart
    results, wrote, proved = _work(files, schema, MAX_BYTES, open_cache(repository), prove=True)
    assert not wrote  # every entry was there and whole: nothing read again
    assert [sha256 for _, sha256 in results] == [
        hashlib.sha256(f.path.read_bytes()).digest() for f in files
    ]
    assert all(type(record) is Record for record, _ in results)
    assert snapshot([record for record, _ in results]) == expected
    assert proved is cold.clean
    warm = Proof()
    cache = open_cache(repository)
    assert snapshot(read_files(files, schema, jobs=2, cache=cache, proof=warm)) == expected
    assert warm.clean is cold.clean


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


def _swap_row_value(data: tuple[Any, ...], value: Any) -> tuple[Any, ...]:
    rows = list(data[4])
    table, prefix, index, items = rows[0]
    rows[0] = (table, prefix, index, (value, *items[1:]))
    return (*data[:4], tuple(rows), *data[5:])


def _code() -> Any:
    return compile("raise SystemExit(3)", "forged", "exec")


# Payloads that pass their checksum and are valid marshal data, but not a record as this
# tool writes one: each must be refused and the file read again, never trusted or run.
WRONG_SHAPES: dict[str, Callable[[tuple[Any, ...], str], Any]] = {
    "code object as a value": lambda d, rel: _swap_row_value(d, _code()),
    "code object as the record": lambda d, rel: _code(),
    "a mapping as a value": lambda d, rel: _swap_row_value(d, {"a": 1}),
    "a list of numbers as a value": lambda d, rel: _swap_row_value(d, [1, 2]),
    "a set as a value": lambda d, rel: _swap_row_value(d, frozenset({"a"})),
    "a row one value short": lambda d, rel: (
        *d[:4],
        tuple((t, p, i, v[:-1]) for t, p, i, v in d[4]),
        *d[5:],
    ),
    "a table the schema lacks": lambda d, rel: (
        *d[:4],
        tuple(("nowhere", p, i, v) for t, p, i, v in d[4]),
        *d[5:],
    ),
    "a shape of names instead of places": lambda d, rel: (
        *d[:3],
        tuple(tuple(f"field-{i}" for i in s) for s in d[3]),
        *d[4:],
    ),
    "a shape naming a place past its table's fields": lambda d, rel: (
        *d[:3],
        tuple(bytes([255]) + s[1:] for s in d[3]),
        *d[4:],
    ),
    "a shape naming a field twice": lambda d, rel: (
        *d[:3],
        tuple(s[:1] + s[:-1] for s in d[3]),
        *d[4:],
    ),
    "a shape index out of range": lambda d, rel: (
        *d[:4],
        tuple((t, p, 99, v) for t, p, i, v in d[4]),
        *d[5:],
    ),
    "a date that is no ordinal": lambda d, rel: (
        *d[:4],
        tuple(
            (t, p, i, tuple(("x",) if type(x) is tuple else x for x in v)) for t, p, i, v in d[4]
        ),
        *d[5:],
    ),
    "a date past the last day": lambda d, rel: (
        *d[:4],
        tuple(
            (t, p, i, tuple((2**70,) if type(x) is tuple else x for x in v)) for t, p, i, v in d[4]
        ),
        *d[5:],
    ),
    "a field path of floats": lambda d, rel: (*d[:6], ((1.5,),)),
    "an issue of another file": lambda d, rel: (
        *d[:5],
        (("elsewhere.yaml", 1, 1, "unknown-field", "m", (), None, None, None, False),),
        *d[6:],
    ),
    "an issue code the catalog lacks": lambda d, rel: (
        *d[:5],
        ((rel, 1, 1, "no-such-code", "m", (), None, None, None, False),),
        *d[6:],
    ),
    "one field too many": lambda d, rel: (*d, None),
    "a list instead of a tuple": lambda d, rel: list(d),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_SHAPES))
def test_a_well_checksummed_entry_of_the_wrong_shape_is_refused_and_rebuilt(
    corpus: tuple[Repository, list[RecordFile], Schema], wrong: str
) -> None:
    repository, files, schema = corpus
    expected = snapshot([read_file(f, schema) for f in files])
    read_files(files, schema, jobs=2, cache=open_cache(repository))
    cache = open_cache(repository)
    forged = []
    for entry in files:
        key = _key(cache, entry, entry.path.read_bytes(), MAX_BYTES)
        payload = cache.lookup(key)
        assert payload is not None
        data = marshal.loads(payload)  # noqa: S302  # our own test entry
        if not data[4]:
            continue  # a file that is no record: nothing to forge in its rows
        changed = WRONG_SHAPES[wrong](data, entry.rel)
        if changed != data:  # some records hold nothing this forgery changes
            forged.append((key, marshal.dumps(changed)))
    assert len(forged) > len(files) // 2  # most records, across more than one task
    cache.commit(cache.write_pack(forged))
    assert snapshot(read_files(files, schema, jobs=2, cache=open_cache(repository))) == expected
    cache = open_cache(repository)  # rebuilt: every forged entry was replaced by a true one
    for key, payload in forged:
        assert cache.lookup(key) not in (None, payload)
    assert snapshot(read_files(files, schema, jobs=1, cache=cache)) == expected


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


@pytest.mark.parametrize("inner", ["entries", "packs"])
def test_a_cache_whose_inner_folder_is_a_link_is_not_used(tmp_path: Path, inner: str) -> None:
    root = tmp_path / "repo"
    make_repository(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / FOLDER).mkdir(parents=True)
    os.symlink(elsewhere, root / FOLDER / inner)
    assert Cache.open(root, root / "schema", "test") is None
    assert Cache.open(root, root / "schema", "test", writable=False) is None
    result = CliRunner().invoke(main, ["validate", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert list(elsewhere.iterdir()) == []


def test_links_in_the_place_of_key_folders_are_never_written_read_or_evicted_through(
    corpus: tuple[Repository, list[RecordFile], Schema], tmp_path: Path
) -> None:
    """build/cache/entries/<xx>/ holds the index and check states. A link in the place of
    every such folder (someone's mistake, or another user's doing on a shared machine) must
    neither take an entry outside build/ nor lend the run what lies there, and eviction must
    not delete the files it points to."""
    repository, files, schema = corpus
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_bytes(b"not the cache's\n")
    os.utime(elsewhere / "precious", (0, 0))  # the oldest file anywhere: evicted first
    entries = repository.root / FOLDER / "entries"
    entries.mkdir(parents=True)
    for n in range(256):
        os.symlink(elsewhere, entries / f"{n:02x}")
    expected = snapshot([read_file(f, schema) for f in files])
    for _ in range(2):
        records = read_files(files, schema, jobs=2, cache=open_cache(repository, 1))
        assert snapshot(records) == expected
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious"]
    assert (elsewhere / "precious").read_bytes() == b"not the cache's\n"
    result = CliRunner().invoke(main, ["validate", "--root", str(repository.root)])
    assert result.exit_code == 1, result.output  # the corpus holds the invalid cases
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious"]


def test_the_cache_lives_in_build_and_never_ships(tmp_path: Path) -> None:
    """The tool writes nothing outside build/, the cache included; a release packs only
    build/<version>/, so the cache is in no folder or zip it publishes."""
    root = tmp_path / "repo"
    make_repository(root)
    assert Cache.open(root, root / "schema", "test") is not None
    assert FOLDER.startswith("build/") and (root / FOLDER).is_dir()
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []


def test_a_cache_that_came_in_a_commit_is_never_read(tmp_path: Path) -> None:
    """A pull request commits build/cache/ with an entry forged under the key of its broken
    record (anyone with the tool can compute keys and checksums) that holds a clean
    record's result; the maintainer's validate must find the error all the same."""
    root = case_repository(tmp_path / "repo")
    assert CliRunner().invoke(main, ["validate", "--root", str(root)]).exit_code == 0
    repository = Repository(root)
    files, _ = repository.discover()
    event = next(f for f in files if f.kind == "event")
    clean = event.path.read_bytes()
    broken = clean.replace(b"role: actor", b"role: actr", 1)
    assert broken != clean
    cache = Cache.open(root, repository.schema_dir, "")
    assert cache is not None
    payload = cache.lookup(_key(cache, event, clean, MAX_BYTES))
    assert payload is not None
    cache.commit(cache.write_pack([(_key(cache, event, broken, MAX_BYTES), payload)]))
    event.path.write_bytes(broken)
    git(root, "add", "-f", "build")
    git(root, "commit", "-q", "-m", "records, and a cache that says they are fine")

    result = CliRunner().invoke(main, ["validate", "--root", str(root)])
    assert result.exit_code == 1, result.output
    assert "error[" in result.output and "actr" in result.output
    assert Cache.open(root, repository.schema_dir, "") is None


def test_a_record_places_issues_from_the_bytes_it_checked(
    corpus: tuple[Repository, list[RecordFile], Schema],
) -> None:
    """A record keeps where its file is, not its bytes: a later check reads the file again
    to place an issue, and gives no line of a file that changed since it was checked."""
    _, files, schema = corpus
    entry = next(f for f in files if (r := read_file(f, schema)).rows and not r.issues)
    path = ("evidence", 0, "quote")
    fresh = read_file(entry, schema)
    assert fresh.doc is None and fresh.where == entry.where
    line, column = fresh.position(path)
    assert line > 1 and column > 1
    edited = read_file(entry, schema)
    entry.path.write_bytes(b"# moved down a line\n" + entry.path.read_bytes())
    assert edited.position(path) == (1, 1)  # not the line the quote has moved to
    moved = read_file(entry, schema)
    assert moved.where is not None and not moved.issues
    entry.path.unlink()
    assert moved.position(path) == (1, 1)  # gone: nothing to place it in, and no traceback


def _swap(data: tuple[Any, ...], column: int, at: int, value: Any) -> tuple[Any, ...]:
    """The stored base (check/summary.py: encode_base) with one file's value in one of its
    columns (ids, refs, dups, uniques, spans, issues) replaced."""
    columns = list(data[6:])
    changed = list(columns[column])
    changed[at] = value
    columns[column] = tuple(changed)
    return (*data[:6], *columns)


# Each takes the stored base and the place of a broken event in it.
WRONG_STATES: dict[str, Callable[[tuple[Any, ...], int], Any]] = {
    "not a tuple": lambda d, at: list(d),
    "another version": lambda d, at: (d[0] + 1, *d[1:]),
    "a column too short": lambda d, at: (*d[:6], d[6][:-1], *d[7:]),
    "a digest cut short": lambda d, at: (*d[:5], d[5][:-1], *d[6:]),
    "a code object among the references": lambda d, at: _swap(
        d, 1, at, (compile("0", "x", "eval"), "x")
    ),
    "a reference that is no text": lambda d, at: _swap(d, 1, at, (1,)),
    "a span of the wrong types": lambda d, at: _swap(d, 4, at, ("evidence", 1, "a", 2, None)),
    "an unhashable unique value": lambda d, at: _swap(d, 3, at, (("events", "event_id", [1]),)),
    "an issue of an unknown code": lambda d, at: _swap(
        d, 5, at, (("x", 1, 1, "no-such-code", "m", (), None, None, None, False),)
    ),
    "an issue of another file": lambda d, at: _swap(
        d,
        5,
        at,
        (("events/elsewhere.yaml", 1, 1, "unknown-actor", "m", (), None, None, None, False),),
    ),
    "the broken file's issues left out": lambda d, at: _swap(d, 5, at, ()),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_STATES))
def test_a_state_of_summaries_that_is_no_state_is_never_trusted(tmp_path: Path, wrong: str) -> None:
    """The summaries a partial check starts from are refused when they have any other shape
    than the one written (then everything is checked); one that passes its checksum and its
    shape is believed like any cache entry, so CI runs --no-cache: what a forged but
    well-shaped state can do is name the issues of the files it describes, never run code.
    Either way, the next run after a change says what a cold run says, or (well shaped and
    false) the stored issues of unchanged files, which is what this test pins down."""
    from eventledger.check.partial import _state_key

    root = tmp_path / "repo"
    make_repository(root)
    place_valid_cases(root)
    broken = root / "events" / "2019" / "2019-04-25-broken.yaml"
    shutil.copyfile(CASES / "invalid" / "unknown-actor" / "typo-in-participant.yaml", broken)
    runner = CliRunner()
    args = ["validate", "--root", str(root), "--format", "json"]
    runner.invoke(main, args)
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    assert cache is not None
    payload = cache.get(_state_key(cache))
    assert payload
    data = marshal.loads(payload)  # noqa: S302  # our own test entry
    at = data[3].split("\0").index(broken.relative_to(root).as_posix())
    cache.put(_state_key(cache), marshal.dumps(WRONG_STATES[wrong](data, at)))
    other = next((root / "events").rglob("*train-departs.yaml"))  # shares no id with broken
    other.write_text(
        other.read_text(encoding="utf-8").replace("title: ", "title: New ", 1), "utf-8"
    )
    cached = runner.invoke(main, args)
    cold = runner.invoke(main, [*args, "--no-cache"])
    if wrong == "the broken file's issues left out":
        assert cached.output != cold.output  # believed: a well-shaped entry names issues
        assert "unknown-actor" not in cached.output
    else:
        assert (cached.exit_code, cached.output) == (cold.exit_code, cold.output)
        assert "unknown-actor" in cold.output


def _validate(root: Path) -> subprocess.CompletedProcess[str]:
    # A process of its own with a timeout: a FIFO opened without O_NONBLOCK waits for ever.
    return subprocess.run(
        [sys.executable, "-m", "eventledger", "validate", "--root", str(root), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _edit_a_record(root: Path) -> None:
    """So that the next run writes entries, and counts them in the ledger."""
    record = sorted((root / "events").rglob("*.yaml"))[0]
    record.write_bytes(record.read_bytes() + b"# edited\n")


@pytest.mark.parametrize("instead", ["FIFO", "folder", "link"])
def test_a_ledger_that_is_no_file_is_ignored_and_written_afresh(
    tmp_path: Path, instead: str
) -> None:
    root = tmp_path / "repo"
    make_repository(root)
    place_valid_cases(root)
    first = _validate(root)
    assert first.returncode == 0, first.stdout + first.stderr
    ledger = root / FOLDER / "ledger"
    assert ledger.is_file()
    ledger.unlink()
    outside = tmp_path / "outside"
    outside.write_bytes(b"not the cache's\n")
    if instead == "FIFO":
        os.mkfifo(ledger)
    elif instead == "folder":
        ledger.mkdir()
    else:
        ledger.symlink_to(outside)
    _edit_a_record(root)
    again = _validate(root)
    assert (again.returncode, again.stdout) == (first.returncode, first.stdout), again.stderr
    assert "Traceback" not in again.stderr
    assert ledger.is_file() and not ledger.is_symlink()  # a ledger again, for the next run
    assert int(ledger.read_bytes()) > 0
    assert outside.read_bytes() == b"not the cache's\n"  # the link was never followed


def test_a_ledger_longer_than_its_width_is_written_back_to_its_width(tmp_path: Path) -> None:
    """A ledger with a line end (or edited by hand) is counted afresh once, then written at
    its width: not left with its tail, to be recounted on every later run."""
    root = tmp_path / "repo"
    make_repository(root)
    place_valid_cases(root)
    assert _validate(root).returncode == 0
    ledger = root / FOLDER / "ledger"
    ledger.write_bytes(ledger.read_bytes() + b"\n")
    _edit_a_record(root)
    assert _validate(root).returncode == 0
    assert len(ledger.read_bytes()) == LEDGER_BYTES and int(ledger.read_bytes()) > 0


def test_a_cache_whose_files_are_fifos_is_rebuilt_without_blocking(tmp_path: Path) -> None:
    """What a warm run trusts to skip reading files (the walk's snapshot, the run's outcome,
    the pack index, the packs) and the ledger, each a FIFO: nothing opened blocks."""
    root = tmp_path / "repo"
    make_repository(root)
    place_valid_cases(root)
    first = _validate(root)
    assert first.returncode == 0, first.stdout + first.stderr
    replaced = [p for p in (root / FOLDER).rglob("*") if p.is_file() and p.name != ".gitignore"]
    assert {"ledger", "packs", "entries"} <= {
        p.relative_to(root / FOLDER).parts[0] for p in replaced
    }
    for path in replaced:
        path.unlink()
        os.mkfifo(path)
    again = _validate(root)
    assert (again.returncode, again.stdout) == (first.returncode, first.stdout), again.stderr
    assert "Traceback" not in again.stderr
    assert (root / FOLDER / "ledger").is_file()
