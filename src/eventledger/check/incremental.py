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
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

from eventledger.check.parallel import Reading, issue_fields, issue_from
from eventledger.issues import Issue
from eventledger.read.cache import Cache
from eventledger.read.repository import RecordFile, Repository

RACY_NS = 1_000_000_000


@dataclass
class Outcome:
    issues: list[Issue]  # sorted
    records: int
    from_cache: bool = False


_ENTRY = struct.Struct("<qqqq32s")  # size, mtime_ns, ctime_ns, inode, SHA-256
_HEAD = struct.Struct("<qq")  # when the index was recorded, how many entries


def _text(rel: str) -> bytes:
    # A file name need not be UTF-8: keep whatever the file system gave, byte for byte.
    return rel.encode("utf-8", "surrogateescape")


class _Index:
    """rel -> (size, mtime_ns, ctime_ns, inode, sha256) of the last run, stored in the cache.

    Stored as fixed-size binary entries and the names after them (not JSON): a warm run at a
    hundred thousand files loads it in milliseconds. The cache checksums every entry, and a
    payload that does not add up is ignored like a missing one.
    """

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.key = hashlib.sha256(cache.namespace + b"\0file index 2").hexdigest()
        self.started = time.time_ns()
        self.old: dict[str, tuple[int, int, int, int, bytes]] = {}
        self.recorded = 0
        payload = cache.get(self.key)
        if payload is not None:
            with contextlib.suppress(ValueError, struct.error, UnicodeDecodeError):
                self.old, self.recorded = _decode_index(payload)
        self.new: dict[str, tuple[int, int, int, int, bytes]] = {}
        self.trusted_before = self.recorded - RACY_NS

    def digest(self, path: str, rel: str) -> str:
        """The SHA-256 of the file's bytes in hex, or words saying why there are none."""
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return "missing"
        if not stat.S_ISREG(st.st_mode):  # never follow a link or open a special file
            return f"not a regular file {stat.S_IFMT(st.st_mode):o}"
        old = self.old.get(rel)
        if (
            old is not None
            and old[0] == st.st_size
            and old[1] == st.st_mtime_ns
            and old[2] == st.st_ctime_ns
            and old[3] == st.st_ino
            and st.st_mtime_ns < self.trusted_before
        ):
            self.new[rel] = old
            return old[4].hex()
        try:
            sha = _sha256_of(path)
        except OSError:
            return "unreadable"
        self.new[rel] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, sha)
        return sha.hex()

    def save(self) -> None:
        if self.new != self.old or not self.recorded:
            self.cache.put(self.key, _encode_index(self.started, self.new))


def _encode_index(recorded: int, files: dict[str, tuple[int, int, int, int, bytes]]) -> bytes:
    entries = b"".join(_ENTRY.pack(*signature) for signature in files.values())
    names = b"\0".join(_text(rel) for rel in files)
    return _HEAD.pack(recorded, len(files)) + entries + names


def _decode_index(payload: bytes) -> tuple[dict[str, tuple[int, int, int, int, bytes]], int]:
    """The inverse of _encode_index; ValueError or struct.error on anything else."""
    recorded, count = _HEAD.unpack_from(payload)
    start = _HEAD.size
    end = start + count * _ENTRY.size
    if count < 0 or end > len(payload):
        raise ValueError("not a file index")
    names = payload[end:].decode("utf-8", "surrogateescape").split("\0") if count else []
    if len(names) != count:
        raise ValueError("not a file index")
    return dict(zip(names, _ENTRY.iter_unpack(payload[start:end]), strict=True)), recorded


def _sha256_of(path: str) -> bytes:
    """The file's SHA-256, read in chunks (a huge file costs time, never memory), without
    following a link or blocking on a FIFO swapped in since the stat."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    digest = hashlib.sha256()
    # A bare descriptor, not a file object: a cold run hashes every file before reading
    # any, on one core, and the buffered reader was a third of that.
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        while True:
            chunk = os.read(fd, _HASH_CHUNK)
            digest.update(chunk)
            if len(chunk) < _HASH_CHUNK:  # a regular file reads short only at its end
                break
    finally:
        os.close(fd)
    return digest.digest()


_HASH_CHUNK = 1 << 20


def fingerprint(
    repository: Repository, files: Iterable[RecordFile], stray: Iterable[RecordFile], cache: Cache
) -> str:
    return _fingerprint(repository, files, stray, cache)[0]


def _fingerprint(
    repository: Repository,
    files: Iterable[RecordFile],
    stray: Iterable[RecordFile],
    cache: Cache,
    index: _Index | None = None,
) -> tuple[str, dict[str, bytes], str]:
    """The run's fingerprint, each record file's digest (by rel, 32 bytes) and the digest of
    the files beside records (a source's text)."""
    if index is None:
        index = _Index(cache)
    parts: list[bytes] = [cache.namespace]
    digests: dict[str, bytes] = {}
    beside = hashlib.sha256()
    for entry in files:
        sha = index.digest(entry.where, entry.rel)
        found = index.new.get(entry.rel)
        # The SHA-256 in 32 bytes, or for words saying why there is none, theirs.
        digests[entry.rel] = (
            found[4]
            if found is not None and len(sha) == 64
            else hashlib.sha256(sha.encode()).digest()
        )
        parts.append(_text(f"\n{entry.kind}\0{entry.rel}\0{sha}"))
        if entry.id_folder:  # its folder's other files (a source's text.txt) are inputs too
            folder, _, own = entry.rel.rpartition("/")
            where = entry.where.rpartition("/")[0]
            with contextlib.suppress(OSError):
                for name in sorted(os.listdir(where)):
                    if name != own:
                        rel = f"{folder}/{name}"
                        sha = index.digest(f"{where}/{name}", rel)
                        parts.append(_text(f"\nbeside\0{rel}\0{sha}"))
                        beside.update(parts[-1])
    for entry in stray:  # what does not belong, and why (a link, an unreadable folder)
        parts.append(_text(f"\nstray\0{entry.kind}\0{entry.rel}\0{entry.detail}"))
    meta = str(repository.root / "datapackage.json")
    parts.append(f"\nmeta\0{index.digest(meta, 'datapackage.json')}".encode())
    index.save()
    # Every part is a line of fields separated by NUL (which no name holds) ending in a
    # hex SHA-256 or words from digest(): the joined bytes cannot be read two ways.
    return hashlib.sha256(b"".join(parts)).hexdigest(), digests, beside.hexdigest()


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
    reading: Reading | None = None
    try:
        if cache is not None:
            index = _Index(cache)
            if not index.old:  # a cache that knows no file: the records will be read
                reading = _read_early(repository, files, jobs, cache)
            run, digests, beside = _fingerprint(repository, files, stray, cache, index)
            key = hashlib.sha256(cache.namespace + b"\0run\0" + run.encode()).hexdigest()
            payload = cache.get(key)
            stored = _decode(payload) if payload is not None else None
            if stored is not None:
                return stored
            if reading is None:  # with no file index every file changed: no partial check
                from eventledger.check.partial import check_changed  # only when something changed

                found = check_changed(
                    repository, files, stray, digests, beside, jobs=jobs, cache=cache
                )
                if found is not None:
                    outcome = Outcome(*found)
                    cache.account(cache.put(key, _encode(outcome)))
                    return outcome
        from eventledger.check.checker import check_files  # pandas and Pandera: only on a miss

        dataset = check_files(
            repository,
            files,
            stray,
            jobs=jobs,
            cache=cache,
            summaries=cache is not None,
            reading=reading,
        )
    finally:
        if reading is not None:  # the records were not needed, or reading them failed
            reading.close()
    outcome = Outcome(dataset.issues.sorted(), len(dataset.records))
    if cache is not None:
        cache.account(cache.put(key, _encode(outcome)))
        from eventledger.check.partial import keep_state

        keep_state(dataset, files, digests, beside, cache)
    return outcome


def _read_early(
    repository: Repository, files: list[RecordFile], jobs: int, cache: Cache
) -> Reading | None:
    """Workers reading every record file while this process hashes them for the fingerprint
    (before, a core waited for that, seconds at a hundred thousand files), or None."""
    from eventledger.model.schema import SchemaError, load_schema

    try:
        schema = load_schema(repository.schema_dir)
    except SchemaError:  # reported where the check loads it
        return None
    return Reading.start(files, schema, jobs=jobs, cache=cache)
