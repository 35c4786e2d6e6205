"""A whole repository's check, answered from the cache when none of its inputs changed.

The issues of a full check are a pure function of its inputs: every record file (its
path and bytes), the files beside a record that has a folder of its own (a source's
text), the files that do not belong, datapackage.json, the schema and the tool's code. The run's fingerprint is the SHA-256 of all of them; when a
run with the same fingerprint is stored, its issues are the answer and nothing is parsed.

Hashing every file would still read every file, so, like git's index, the cache keeps
each file's size, times and inode beside its hash and trusts the hash while they are
unchanged. A file changed within a second before the run that hashed it is hashed again
(the times may not have moved), and any edit moves its modification time or size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventledger.check.parallel import issue_fields, issue_from
from eventledger.issues import Issue
from eventledger.read.cache import Cache
from eventledger.read.repository import RecordFile, Repository

RACY_NS = 1_000_000_000


@dataclass
class Outcome:
    issues: list[Issue]  # sorted
    records: int
    from_cache: bool = False


class _Index:
    """rel -> (size, mtime_ns, ctime_ns, inode, sha256) of the last run, stored in the cache."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.key = hashlib.sha256(cache.namespace + b"\0file index").hexdigest()
        self.started = time.time_ns()
        self.old: dict[str, list[Any]] = {}
        self.recorded = 0
        payload = cache.get(self.key)
        if payload is not None:
            try:
                data = json.loads(payload)
                self.old, self.recorded = dict(data["files"]), int(data["recorded"])
            except (ValueError, KeyError, TypeError):
                self.old = {}
        self.new: dict[str, list[Any]] = {}

    def digest(self, path: Path, rel: str) -> str:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return "missing"
        if not stat.S_ISREG(st.st_mode):  # never follow a link or open a special file
            return f"not a regular file {stat.S_IFMT(st.st_mode):o}"
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        old = self.old.get(rel)
        if (
            isinstance(old, list)
            and old[:4] == signature
            and st.st_mtime_ns < self.recorded - RACY_NS
        ):
            self.new[rel] = old
            return str(old[4])
        try:
            sha = _sha256_of(path)
        except OSError:
            return "unreadable"
        self.new[rel] = [*signature, sha]
        return sha

    def save(self) -> None:
        if self.new != self.old or not self.recorded:
            data = {"recorded": self.started, "files": self.new}
            self.cache.put(self.key, json.dumps(data, separators=(",", ":")).encode())


def _sha256_of(path: Path) -> str:
    """The file's SHA-256, read in chunks (a huge file costs time, never memory), without
    following a link or blocking on a FIFO swapped in since the stat."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    digest = hashlib.sha256()
    with os.fdopen(os.open(path, flags), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError("not a regular file")
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(
    repository: Repository, files: Iterable[RecordFile], stray: Iterable[RecordFile], cache: Cache
) -> str:
    index = _Index(cache)
    digest = hashlib.sha256(cache.namespace)
    for entry in files:
        digest.update(
            f"{entry.kind}\0{entry.rel}\0{index.digest(entry.path, entry.rel)}\n".encode()
        )
        if entry.id_folder:  # its folder's other files (a source's text.txt) are inputs too
            folder = entry.rel.rsplit("/", 1)[0]
            with contextlib.suppress(OSError):
                for name in sorted(os.listdir(entry.path.parent)):
                    if name != entry.path.name:
                        rel = f"{folder}/{name}"
                        sha = index.digest(entry.path.parent / name, rel)
                        digest.update(f"beside\0{rel}\0{sha}\n".encode())
    for entry in stray:  # what does not belong, and why (a link, an unreadable folder)
        digest.update(f"stray\0{entry.kind}\0{entry.rel}\0{entry.detail}\n".encode())
    meta = repository.root / "datapackage.json"
    digest.update(f"meta\0{index.digest(meta, 'datapackage.json')}\n".encode())
    index.save()
    return digest.hexdigest()


def _encode(outcome: Outcome) -> bytes:
    issues = [issue_fields(i) for i in outcome.issues]
    return json.dumps({"records": outcome.records, "issues": issues}).encode()


def _decode(payload: bytes) -> Outcome | None:
    try:
        data = json.loads(payload)
        issues = [issue_from(values) for values in data["issues"]]
        return Outcome(issues, int(data["records"]), from_cache=True)
    except (ValueError, KeyError, TypeError):
        return None


def check_repository(repository: Repository, *, jobs: int, cache: Cache | None) -> Outcome:
    """The issues of the whole repository, sorted, and how many records were checked."""
    files, stray = repository.discover()
    key = ""
    if cache is not None:
        run = fingerprint(repository, files, stray, cache)
        key = hashlib.sha256(cache.namespace + b"\0run\0" + run.encode()).hexdigest()
        payload = cache.get(key)
        stored = _decode(payload) if payload is not None else None
        if stored is not None:
            return stored
    from eventledger.check.checker import check_files  # pandas and Pandera: only on a miss

    dataset = check_files(repository, files, stray, jobs=jobs, cache=cache)
    outcome = Outcome(dataset.issues.sorted(), len(dataset.records))
    if cache is not None:
        cache.account(cache.put(key, _encode(outcome)))
    return outcome
