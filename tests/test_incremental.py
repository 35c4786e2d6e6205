"""The contract of the cache: whatever happened to the repository since the last run, a
`validate` that reuses what earlier runs stored says exactly what a cold `--no-cache` run
says. Random edits, renames and deletions on a copy of the corpus add and remove errors
of every kind that needs more than one file (unknown references, duplicate ids, suspected
duplicate events, Pandera column and uniqueness failures, spans against a changed text),
and after each round both runs are compared byte for byte."""

from __future__ import annotations

import marshal
import os
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from casekit import PROJECT, copy_corpus
from eventledger.check.incremental import _decode_snapshot, _Scan, fingerprint
from eventledger.issues.reporters import as_json, summarize
from eventledger.model.kinds import LAYOUTS
from eventledger.read.cache import Cache
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import MAX_BYTES

EXE = PROJECT / ".venv" / "bin" / "eventledger"


def validate(root: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(EXE), "validate", "--root", str(root), "--format", "json", *args],
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout, done.stderr


def events(root: Path) -> list[Path]:
    return sorted((root / "events").rglob("*.yaml"))


def substitute(path: Path, pattern: str, replacement: str) -> bool:
    text = path.read_text(encoding="utf-8")
    new = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    path.write_text(new, encoding="utf-8")
    return new != text


# Each mutation changes one thing in the repository; several of them undo earlier ones
# (restore), so errors come and go between rounds.


def unknown_actor(root: Path, rng: random.Random) -> None:
    substitute(rng.choice(events(root)), r"actor_id: \S+", "actor_id: nobody-of-that-name")


def unknown_source(root: Path, rng: random.Random) -> None:
    substitute(rng.choice(events(root)), r"source_id: \S+", "source_id: no-such-source")


def duplicate_id(root: Path, rng: random.Random) -> None:
    """A copy under another name that keeps the id (duplicate-id, id-stem-mismatch)."""
    path = rng.choice(events(root))
    shutil.copyfile(path, path.with_name(f"{path.stem}-copy.yaml"))


def suspected_duplicate(root: Path, rng: random.Random) -> None:
    """A copy with an id of its own: the same event twice (duplicate-event-suspected)."""
    path = rng.choice(events(root))
    copy = path.with_name(f"{path.stem}-again.yaml")
    shutil.copyfile(path, copy)
    substitute(copy, r"^event_id: .*$", f"event_id: {copy.stem}")


def bad_vocabulary(root: Path, rng: random.Random) -> None:
    path = rng.choice(events(root))
    field = rng.choice(["event_type: \\S+", "factuality: \\S+", "role: \\S+"])
    substitute(path, field, field.split(":")[0] + ": NONSENSE")


def rename(root: Path, rng: random.Random) -> None:
    path = rng.choice(events(root))
    path.rename(path.with_name(f"renamed-{path.name}"))


def delete_actor(root: Path, rng: random.Random) -> None:
    rng.choice(sorted((root / "actors").glob("*.yaml"))).unlink()


def edit_text(root: Path, rng: random.Random) -> None:
    """A source text changed under its spans: quotes no longer match, coverage moves."""
    text = rng.choice(sorted((root / "sources").glob("*/text.txt")))
    data = text.read_text(encoding="utf-8")
    cut = rng.randrange(len(data))
    text.write_text(data[:cut] + "Eingefügt. " + data[cut:], encoding="utf-8")


def rename_actor(root: Path, rng: random.Random) -> None:
    """An actor's id renamed (file and id) while events still name the old one: they turn
    unknown-actor, the hint names the new id; restoring the folder turns them back."""
    path = rng.choice(sorted((root / "actors").glob("*.yaml")))
    new = path.with_name(f"{path.stem}-renamed.yaml")
    path.rename(new)
    substitute(new, r"^actor_id: .*$", f"actor_id: {new.stem}")


def break_duplicate(root: Path, rng: random.Random) -> None:
    """A suspected duplicate pair (or a duplicate id) broken again by removing the copy."""
    copies = [p for p in events(root) if p.stem.endswith(("-again", "-copy"))]
    if copies:
        rng.choice(copies).unlink()


def retitle(root: Path, rng: random.Random) -> None:
    """A change that breaks nothing (what most edits are)."""
    substitute(rng.choice(events(root)), r"^title: ", "title: Revised: ")


def wrong_folder(root: Path, rng: random.Random) -> None:
    path = rng.choice(events(root))
    target = root / "events" / "1900" / path.name
    target.parent.mkdir(exist_ok=True)
    path.rename(target)


MUTATIONS: list[Callable[[Path, random.Random], None]] = [
    unknown_actor,
    unknown_source,
    duplicate_id,
    suspected_duplicate,
    bad_vocabulary,
    rename,
    delete_actor,
    edit_text,
    wrong_folder,
    rename_actor,
    break_duplicate,
    retitle,
]


def restore(root: Path, rng: random.Random) -> None:
    """Put one data folder back as the project has it: errors go away again."""
    name = rng.choice(["events", "actors", "sources"])
    shutil.rmtree(root / name)
    shutil.copytree(PROJECT / name, root / name)


@pytest.mark.slow
def test_what_the_cache_answers_is_what_a_cold_run_says(tmp_path: Path) -> None:
    rng = random.Random(11)  # noqa: S311  # a repeatable sequence of edits, not a secret
    root = copy_corpus(tmp_path)
    assert validate(root)[0] == 0  # fills the cache
    kinds_seen: set[str] = set()
    for round in range(10):
        # The first round forms a duplicate pair, then every round is drawn at random.
        chosen = [duplicate_id, rename_actor, retitle] if round == 0 else rng.sample(MUTATIONS, 3)
        for mutation in chosen:
            mutation(root, rng)
        if rng.random() < 0.3:
            restore(root, rng)
        cached = validate(root, "--jobs", "2")
        assert cached == validate(root, "--jobs", "1", "--no-cache")
        kinds_seen.update(re.findall(r'"code": "([a-z-]+)"', cached[1]))
        assert validate(root, "--jobs", "2") == cached  # and again, now unchanged
    # The rounds did reach the checks that need more than one file.
    assert {"unknown-actor", "duplicate-id", "duplicate-event-suspected"} <= kinds_seen


def test_a_file_index_that_is_no_index_is_ignored(tmp_path: Path) -> None:
    """An entry that passes its checksum but holds no snapshot of the scan (another
    program's, or another version's) is read as none: every file is hashed again, same
    fingerprint."""
    root = copy_corpus(tmp_path)
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    assert cache is not None
    expected = fingerprint(repository, cache)
    index = next(p for p in (root / "build" / "cache" / "entries").rglob("*") if p.is_file())
    key = index.parent.name + index.name
    for junk in (
        b"",
        b"\0" * 7,
        b"\xff" * 16 + b"x" * 40,
        os.urandom(300),
        marshal.dumps((3, 0, "", "", "events/../..", b"", "", "", b"", b"", b"", (), (), False)),
    ):
        cache.put(key, junk)
        assert fingerprint(repository, cache) == expected


def test_the_scan_without_a_walk_sees_what_a_walk_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each change, the scan made from the last run's snapshot gives the fingerprint,
    files, strays and hashes that walking and hashing everything gives; it walks only when a
    folder changed, and reads only the files whose signature changed."""
    from eventledger.check import incremental

    # Times a moment old are trusted here (a real run trusts only those a second old), so
    # that every change below is seen through the snapshot and not just walked again.
    monkeypatch.setattr(incremental, "RACY_NS", 0)
    root = copy_corpus(tmp_path)
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    assert cache is not None
    some = events(root)
    same_size = some[0].read_text(encoding="utf-8").replace("title: ", "title:\u0020", 1)

    def edit_keeping_size_and_time() -> None:
        before = some[0].stat()
        text = some[0].read_text(encoding="utf-8")
        some[0].write_text(text.replace("a", "b", 1), encoding="utf-8")
        os.utime(some[0], ns=(before.st_atime_ns, before.st_mtime_ns))

    changes: list[tuple[str, Callable[[], object], bool]] = [
        ("nothing", lambda: None, False),
        ("edit", lambda: some[1].write_text(same_size, encoding="utf-8"), False),
        ("edit, same size and time", edit_keeping_size_and_time, False),
        ("delete", lambda: some[2].unlink(), True),
        ("stray", lambda: (root / "events" / "2019" / "notes.txt").write_text("x"), True),
        ("link", lambda: (root / "events" / "2019" / "l.yaml").symlink_to(some[3]), True),
        ("rename", lambda: some[3].rename(some[3].with_name("renamed.yaml")), True),
        ("new folder", lambda: (root / "events" / "2031").mkdir(), True),
        ("source text", lambda: next(root.glob("sources/*/text.txt")).write_text("t\n"), False),
        ("unreadable", lambda: (root / "events" / "2031").chmod(0), True),
    ]
    assert fingerprint(repository, cache)  # the first snapshot
    discover = Repository.discover
    for what, change, walks in changes:
        change()
        walked: list[bool] = []

        def counted(
            self: Repository, *args: object, _walked: list[bool] = walked, _d: Any = discover
        ) -> object:
            _walked.append(True)
            return _d(self, *args)

        with monkeypatch.context() as patched:
            patched.setattr(Repository, "discover", counted)
            scan = _Scan(repository, cache)
            got = (scan.run, scan.details())
        assert bool(walked) == walks, what
        cache.put(scan.key, b"")  # no snapshot: walk and hash everything
        fresh = _Scan(repository, cache)
        assert got == (fresh.run, fresh.details()), what
        assert got[1][:2] == repository.discover(), what
    (root / "events" / "2031").chmod(0o755)


def test_a_cold_run_hashes_each_file_once_and_stores_the_scan_a_walk_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a snapshot (a cold run) the scan only lists and lstat-s the record files: the
    worker that reads a file takes its hash. The snapshot that run stores is the one a scan
    hashing every file itself makes, a file too large to parse included (no worker read
    it: the scan hashes it after the read), and the next run is answered from it."""
    from eventledger.check import incremental

    monkeypatch.setattr(incremental, "RACY_NS", 0)  # trust the times just taken
    root = copy_corpus(tmp_path)
    big = root / "events" / "2019" / "2019-04-25-too-large.yaml"
    big.write_bytes(b"title: " + b"x" * MAX_BYTES)
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    assert cache is not None
    hashed: list[str] = []
    sha256_of = incremental._sha256_of

    def counted(path: str) -> bytes:
        hashed.append(path)
        return sha256_of(path)

    monkeypatch.setattr(incremental, "_sha256_of", counted)
    cold = incremental.check_repository(repository, jobs=2, cache=cache)
    assert not cold.from_cache
    # Of the events (the files of a source's folder are hashed beside each other, a few),
    # only the one no worker could read.
    assert {p for p in hashed if "/events/" in p} == {str(big)}
    key = _Scan(repository, cache).key
    stored = cache.get(key)
    assert stored is not None
    kinds = frozenset(layout.kind for layout in LAYOUTS)
    snapshot = _decode_snapshot(stored, kinds)
    assert snapshot is not None
    cache.put(key, b"")  # no snapshot: the scan walks and hashes everything itself
    walked = _Scan(repository, cache)
    assert (snapshot.run, snapshot.rels, snapshot.shas) == (
        walked.run,
        walked.snapshot.rels,
        walked.snapshot.shas,
    )
    warm = incremental.check_repository(repository, jobs=2, cache=cache)
    assert warm.from_cache
    assert warm.issues == cold.issues and warm.records == cold.records
    assert any(i.file == big.relative_to(root).as_posix() for i in cold.issues)


def test_a_snapshot_naming_paths_outside_the_data_folders_is_not_used(tmp_path: Path) -> None:
    """The scan stats and hashes the paths a stored snapshot names: one that names a path
    through "..", outside the data folders or in a folder it does not list is refused
    (then everything is walked), never followed."""
    root = copy_corpus(tmp_path)
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    assert cache is not None
    snapshot = _Scan(repository, cache).snapshot
    kinds = frozenset(layout.kind for layout in LAYOUTS)
    assert _decode_snapshot(snapshot.encode(), kinds) == snapshot
    first = snapshot.rels[0]
    at = snapshot.tags.index("beside")
    forgeries = [
        {"rels": ["events/../../../outside.yaml", *snapshot.rels[1:]]},
        {"rels": ["events/2019/../../x.yaml", *snapshot.rels[1:]]},
        {"rels": ["elsewhere/x.yaml", *snapshot.rels[1:]]},
        {"rels": [f"{first}/", *snapshot.rels[1:]]},
        {"rels": [*snapshot.rels[:at], "sources/x/..", *snapshot.rels[at + 1 :]]},
        {"folders": [*snapshot.folders, "events/.."]},
        {"folders": ["tmp", *snapshot.folders]},
        {"stray": [("unexpected", "/etc/passwd", "")]},
        {"stray": [("no such kind", "events/x", "")]},
        {"tags": ["meta", *snapshot.tags[1:]]},
        {"shas": snapshot.shas[:-1]},
    ]
    for change in forgeries:
        forged = replace(snapshot, **change)  # type: ignore[arg-type]
        forged.folder_sigs = forged.folder_sigs[: len(forged.folders) * 40]
        forged.folder_sigs += bytes(40 * (len(forged.folders) - len(snapshot.folders)))
        assert _decode_snapshot(forged.encode(), kinds) is None, change


def test_a_run_after_a_few_changes_checks_only_what_they_touch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a few edits (one breaks a reference, one forms a suspected duplicate, one a
    Pandera failure beside records whose failures are cached) the run re-checks a part of
    the repository, never all of it, and says what a cold run says."""
    from eventledger.check import checker
    from eventledger.check.incremental import check_repository

    root = copy_corpus(tmp_path)
    bad_vocabulary(root, random.Random(1))  # noqa: S311  # a Pandera failure that stays cached
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    check_repository(repository, jobs=1, cache=cache)
    rng = random.Random(5)  # noqa: S311  # a repeatable choice, not a secret
    for mutation in (unknown_actor, suspected_duplicate, bad_vocabulary, retitle):
        mutation(root, rng)

    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("the whole repository was checked")

    with monkeypatch.context() as patched:
        patched.setattr(checker, "check_files", whole)
        outcome = check_repository(repository, jobs=1, cache=cache)
    assert not outcome.from_cache
    codes = {i.code for i in outcome.issues}
    assert {"unknown-actor", "duplicate-event-suspected"} <= codes
    cold = validate(root, "--no-cache")[1]
    assert as_json(outcome.issues, summarize(outcome.issues, outcome.records)) + "\n" == cold


def test_pandera_aside_that_fails_is_replaced_by_pandera_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child that runs Pandera for a partial check may die (out of memory, killed): the
    parent then runs Pandera itself and says the same."""
    from eventledger.check import tables_aside
    from eventledger.check.incremental import check_repository

    root = copy_corpus(tmp_path)
    repository = Repository(root)
    cache = Cache.open(root, repository.schema_dir, "")
    check_repository(repository, jobs=1, cache=cache)
    bad_vocabulary(root, random.Random(3))  # noqa: S311  # a repeatable choice, not a secret

    def dies(*args: object) -> None:
        raise MemoryError

    monkeypatch.setattr(tables_aside, "_serve", dies)
    outcome = check_repository(repository, jobs=1, cache=cache)
    cold = validate(root, "--no-cache")[1]
    assert '"not-in-vocabulary"' in cold
    assert as_json(outcome.issues, summarize(outcome.issues, outcome.records)) + "\n" == cold


def test_a_whole_checks_state_is_made_column_by_column_as_entry_by_entry() -> None:
    from eventledger.check.summary import Summary, new_state, whole_state

    def entry(rel: str, sid: str | None) -> tuple[str, str, bytes, Summary]:
        summary = Summary(sid, (f"actors\0{sid}",), None, (("events", "event_id", sid),), (), ())
        return (rel, "event", bytes(32), summary)

    entries = [entry(f"events/2019/e{i}.yaml", f"e{i}" if i % 3 else None) for i in range(7)]
    columns = ("rels", "kinds", "digests", "ids", "refs", "dups", "uniques", "spans", "issues")
    whole, one_by_one = whole_state("b", entries), new_state("b", entries)
    assert [getattr(whole, c) for c in columns] == [getattr(one_by_one, c) for c in columns]
    # A file listed twice (never in a whole check) keeps its last entry, as new_state does.
    twice = whole_state("b", [*entries, entry(entries[0][0], "other")])
    assert twice.rels == one_by_one.rels and twice.ids[0] == "other"
