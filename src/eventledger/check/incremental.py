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
import marshal
import os
import stat
import struct
import time
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import eq, itemgetter, ne
from typing import TYPE_CHECKING

from eventledger import collector
from eventledger.issues import Issue
from eventledger.issues.stored import issue_fields, issue_from
from eventledger.model.kinds import LAYOUTS
from eventledger.read.cache import DIGEST, Cache
from eventledger.read.repository import DATA_FOLDERS, RecordFile, Repository

if TYPE_CHECKING:
    from eventledger.check.checker import Dataset

RACY_NS = 1_000_000_000
STRAY_KINDS = frozenset({"unexpected", "symlink", "special", "unreadable-folder"})


@dataclass
class Outcome:
    issues: list[Issue]  # sorted
    records: int
    from_cache: bool = False


_SIG = struct.Struct("<qqqqq")  # mode, size, mtime_ns, ctime_ns, inode
_ABSENT = _SIG.pack(-1, -1, -1, -1, -1)  # a path that is not there
_MTIME = 2  # where mtime_ns is in a signature
_FIELDS = 5
_COUNT = struct.Struct("<q")
VERSION = 3
META = "datapackage.json"
BESIDE = "beside"


def _text(rel: str) -> bytes:
    # A file name need not be UTF-8: keep whatever the file system gave, byte for byte.
    return rel.encode("utf-8", "surrogateescape")


def _sig(st: os.stat_result | None) -> bytes:
    if st is None:
        return _ABSENT
    return _SIG.pack(st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _lstat_sig(path: str) -> bytes:
    try:
        return _sig(os.lstat(path))
    except OSError:
        return _ABSENT


@dataclass
class _Snapshot:
    """What the last run's scan saw, like git's index: every data folder and every file the
    fingerprint hashes (record files, the files beside them, datapackage.json), each with
    its lstat signature taken before it was listed or hashed, the files' SHA-256, what the
    walk found and the fingerprint it made.

    While every folder's signature is unchanged, no entry was added, removed or renamed in
    it (each of those moves its folder's times), so the walk's result holds without walking;
    while a file's signature is unchanged, its hash holds without reading it. A signature
    taken within RACY_NS before the scan started is not trusted (a change in the same clock
    tick would not move it). Stored as one marshal entry of columns (texts joined by NUL,
    signatures and hashes as fixed-size bytes): a hundred thousand files load in a few
    milliseconds, and decode() accepts nothing but that shape.
    """

    recorded: int  # time_ns when the scan started
    run: str  # the fingerprint
    beside: str  # the digest of the files beside records
    folders: list[str]
    folder_sigs: bytes
    tags: list[str]  # per hashed path: a record kind, BESIDE or "meta" (the last one)
    rels: list[str]
    id_folders: bytes  # per record file: 1 when its id is its folder's name
    sigs: bytes
    shas: bytes
    stray: list[tuple[str, str, str]]  # kind, rel, detail
    racy: list[int]  # hashed paths whose signature is too recent to trust
    folders_racy: bool

    def encode(self) -> bytes:
        return marshal.dumps(
            (
                VERSION,
                self.recorded,
                self.run,
                self.beside,
                "\0".join(self.folders),
                self.folder_sigs,
                "\0".join(self.tags),
                "\0".join(self.rels),
                self.id_folders,
                self.sigs,
                self.shas,
                tuple(self.stray),
                tuple(self.racy),
                self.folders_racy,
            ),
            4,
        )


def _split(joined: str) -> list[str]:
    return joined.split("\0") if joined else []


def _decode_snapshot(payload: bytes, kinds: frozenset[str]) -> _Snapshot | None:
    """The snapshot encode() wrote, or None for anything else."""
    try:
        data = marshal.loads(payload)  # noqa: S302  # plain data only: checked below, never run
        if type(data) is not tuple or len(data) != 14 or data[0] != VERSION:
            return None
        (_, recorded, run, beside, folders, folder_sigs, tags, rels, ids, sigs, shas) = data[:11]
        stray, racy, folders_racy = data[11:]
        texts = (run, beside, folders, tags, rels)
        blobs = (folder_sigs, ids, sigs, shas)
        if type(recorded) is not int or any(type(t) is not str for t in texts):
            return None
        if any(type(b) is not bytes for b in blobs) or type(folders_racy) is not bool:
            return None
        if type(stray) is not tuple or type(racy) is not tuple:
            return None
        snapshot = _Snapshot(
            recorded,
            run,
            beside,
            _split(folders),
            folder_sigs,
            _split(tags),
            _split(rels),
            ids,
            sigs,
            shas,
            list(stray),
            list(racy),
            folders_racy,
        )
    except (ValueError, TypeError, EOFError):
        return None
    return snapshot if _fits_shape(snapshot, kinds) else None


def _fits_shape(s: _Snapshot, kinds: frozenset[str]) -> bool:
    """Whether the columns agree with each other and every path stays inside the data
    folders: each folder under a top data folder through folders that are listed, each file
    directly in a listed folder (a forged path cannot lead the scan anywhere else)."""
    n = len(s.rels)
    if len(s.tags) != n or len(s.sigs) != n * _SIG.size or len(s.shas) != n * DIGEST:
        return False
    if len(s.folder_sigs) != len(s.folders) * _SIG.size or not n or s.tags[-1] != "meta":
        return False
    if s.rels[-1] != META or "meta" in s.tags[:-1] or not set(s.tags) <= kinds | {BESIDE, "meta"}:
        return False
    if len(s.id_folders) != n - s.tags.count(BESIDE) - 1:
        return False
    if not set(s.id_folders) <= {0, 1} or not set(map(type, s.racy)) <= {int}:
        return False
    if any(not 0 <= k < n for k in s.racy) or len(s.run) != 64 or len(s.beside) != 64:
        return False
    for entry in s.stray:
        if type(entry) is not tuple or len(entry) != 3 or not set(map(type, entry)) <= {str}:
            return False
    # compress() and map() rather than loops in Python: this runs on every warm run.
    records = list(compress(s.rels[:-1], map(ne, s.tags[:-1], repeat(BESIDE))))
    # Every path joined with "/" as well as between its own names: then a name that is
    # empty or starts with a dot is "//" or "/." anywhere in it.
    joined = "/".join((*s.folders, *records, *(e[1] for e in s.stray)))
    # No name is empty and none starts with a dot (the walk skips hidden entries), so none
    # is "." or "..": two scans of one text, in C (six, one per pair of separators, were 4%
    # of a warm run at 100k files). The files beside a record are all its folder holds,
    # hidden ones too: checked one by one (a few). A NUL in a name is no name either.
    if joined.startswith((".", "/")) or joined.endswith("/"):
        return False
    if "//" in joined or "/." in joined or "\0" in joined:
        return False
    known: set[str] = set()
    for folder in s.folders:  # parents come before their subfolders, as the walk lists them
        parent, _, name = folder.rpartition("/")
        if parent not in known if parent else name not in DATA_FOLDERS:
            return False
        known.add(folder)
    if not set(map(itemgetter(0), map(str.rpartition, s.rels[:-1], repeat("/")))) <= known:
        return False
    beside = list(compress(s.rels, map(eq, s.tags, repeat(BESIDE))))
    if any(rel.rpartition("/")[2] in ("", ".", "..") for rel in beside):
        return False
    for kind, rel, _ in s.stray:
        parent, _, name = rel.rpartition("/")
        if kind not in STRAY_KINDS or (parent not in known if parent else name not in DATA_FOLDERS):
            return False
    return True


class _Scan:
    """The run's fingerprint, and what made it: the record files and strays as a walk finds
    them, each record file's SHA-256 (by rel, 32 bytes) and the digest of the files beside
    records. A scan answered by an unchanged snapshot makes the files only when asked.

    With defer and no snapshot to start from (a cold run, which reads every file anyway),
    the record files are walked and lstat-ed but not hashed: pending lists them, the workers
    that read them take their hashes, and complete() makes the fingerprint from those. Here,
    on one core before any worker starts, hashing them was a tenth of a cold run."""

    def __init__(self, repository: Repository, cache: Cache, *, defer: bool = False) -> None:
        self.repository = repository
        self.root = str(repository.root)
        self.cache = cache
        self.key = hashlib.sha256(cache.namespace + b"\0walk snapshot 3").hexdigest()
        self.kinds = frozenset(layout.kind for layout in LAYOUTS)
        payload = cache.get(self.key)
        old = _decode_snapshot(payload, self.kinds) if payload is not None else None
        self.started = time.time_ns()
        self._files: list[RecordFile] | None = None  # made by the walk, or when asked
        self._stray: list[RecordFile] = []
        self.pending: list[int] = []  # hashed paths whose hash complete() fills in
        self._unhashed: list[tuple[int, str]] = []
        self._mtimes: list[int] = []
        again = self._again(old) if old is not None else None
        self.snapshot = again if again is not None else self._walk(old, defer and old is None)
        self.run = self.snapshot.run

    def _again(self, old: _Snapshot) -> _Snapshot | None:
        """The snapshot of now made from the old one without walking, when no folder changed
        (None: walk)."""
        root = self.root
        if old.folders_racy:
            return None
        if b"".join(_lstat_sig(f"{root}/{f}") for f in old.folders) != old.folder_sigs:
            return None
        size = _SIG.size
        now = _signatures([f"{root}/{rel}" for rel in old.rels])
        if now is None:
            return None  # gone since its folder was stat-ed: walk
        if now == old.sigs and not old.racy:
            return old  # nothing changed at all
        redo = set(old.racy)
        block = 1024 * size  # compare a thousand signatures at a time, then look inside
        for start in range(0, len(now), block):
            if now[start : start + block] != old.sigs[start : start + block]:
                for at in range(start, min(start + block, len(now)), size):
                    if now[at : at + size] != old.sigs[at : at + size]:
                        redo.add(at // size)
        shas = bytearray(old.shas)
        for k in sorted(redo):
            if not stat.S_ISREG(_SIG.unpack_from(now, k * size)[0]):
                return None  # no longer a file: walk (and report it as the walk does)
            try:
                shas[k * DIGEST : (k + 1) * DIGEST] = _sha256_of(f"{root}/{old.rels[k]}")
            except OSError:
                return None
        fresh = _Snapshot(**{**old.__dict__, "sigs": now, "shas": bytes(shas)})
        self._finish(fresh, [0] * len(old.folders))
        return fresh

    def _walk(self, old: _Snapshot | None, defer: bool = False) -> _Snapshot:
        """Walk the repository, hashing each file whose signature changed since old (with
        defer, each file beside records and datapackage.json only; see pending)."""
        root = self.root
        seen: list[tuple[str, os.stat_result | None]] = []
        files, stray = self.repository.discover(seen)
        known: dict[str, tuple[bytes, bytes]] = {}
        if old is not None:
            trusted = old.recorded - RACY_NS
            for k, rel in enumerate(old.rels):
                sig = old.sigs[k * _SIG.size : (k + 1) * _SIG.size]
                if _SIG.unpack(sig)[_MTIME] < trusted:
                    known[rel] = (sig, old.shas[k * DIGEST : (k + 1) * DIGEST])
        tags: list[str] = []
        rels: list[str] = []
        sigs: list[bytes] = []
        shas: list[bytes] = []
        ids = bytearray()
        unhashed: list[tuple[int, str]] = []  # a path without a hash, and why

        def add(tag: str, rel: str, where: str, later: bool = False) -> None:
            try:
                st = os.lstat(where)  # the signature is taken before the bytes are read
            except OSError:
                st = None
            sig = _sig(st)
            sha = bytes(DIGEST)
            found = known.get(rel)
            if st is None:
                unhashed.append((len(rels), "missing"))
            elif not stat.S_ISREG(st.st_mode):  # never follow a link or open a special file
                unhashed.append((len(rels), f"not a regular file {stat.S_IFMT(st.st_mode):o}"))
            elif found is not None and found[0] == sig:
                sha = found[1]
            elif later:
                self.pending.append(len(rels))
            else:
                try:
                    sha = _sha256_of(where)
                except OSError:
                    unhashed.append((len(rels), "unreadable"))
            tags.append(tag)
            rels.append(rel)
            sigs.append(sig)
            shas.append(sha)

        for entry in files:
            add(entry.kind, entry.rel, entry.where, defer)
            ids.append(entry.id_folder)
            if entry.id_folder:  # its folder's other files (a source's text.txt) are inputs too
                folder, _, own = entry.rel.rpartition("/")
                where = entry.where.rpartition("/")[0]
                with contextlib.suppress(OSError):
                    for name in sorted(os.listdir(where)):
                        if name != own:
                            add(BESIDE, f"{folder}/{name}", f"{where}/{name}")
        add("meta", META, f"{root}/{META}")
        snapshot = _Snapshot(
            self.started,
            "",
            "",
            [rel for rel, _ in seen],
            b"".join(_sig(st) for _, st in seen),
            tags,
            rels,
            bytes(ids),
            b"".join(sigs),
            b"".join(shas),
            [(s.kind, s.rel, s.detail) for s in stray],
            [],
            False,
        )
        self._files = files
        self._stray = stray
        mtimes = [st.st_mtime_ns if st is not None else 0 for _, st in seen]
        if self.pending:  # no fingerprint until complete()
            self._unhashed, self._mtimes = unhashed, mtimes
            return snapshot
        self._seal(snapshot, mtimes, unhashed)
        return snapshot

    def complete(self, digests: dict[str, bytes]) -> None:
        """Fill in the pending hashes from digests (rel -> the SHA-256 of the bytes a worker
        read), hashing here what no worker read (a file too large to parse, or one that
        changed since it was listed), then make the fingerprint and store the snapshot."""
        s = self.snapshot
        shas = bytearray(s.shas)
        for k in self.pending:
            rel = s.rels[k]
            sha = digests.get(rel)
            if sha is None or len(sha) != DIGEST:
                try:
                    sha = _sha256_of(f"{self.root}/{rel}")
                except OSError:
                    self._unhashed.append((k, "unreadable"))
                    continue
            shas[k * DIGEST : (k + 1) * DIGEST] = sha
        s.shas = bytes(shas)
        self.pending = []
        self._seal(s, self._mtimes, self._unhashed)
        self.run = s.run

    def _seal(
        self, snapshot: _Snapshot, mtimes: list[int], unhashed: list[tuple[int, str]]
    ) -> None:
        if unhashed:  # raced with a change: no snapshot kept, the fingerprint says why
            shas = [hashlib.sha256(words.encode()).digest() for _, words in unhashed]
            for (k, _), sha in zip(unhashed, shas, strict=True):
                shas_of = snapshot.shas
                snapshot.shas = shas_of[: k * DIGEST] + sha + shas_of[(k + 1) * DIGEST :]
        self._finish(snapshot, mtimes, save=not unhashed)
        if unhashed:  # never equal to a fingerprint of files that all have a hash
            snapshot.run += "-unhashed"

    def _finish(self, snapshot: _Snapshot, folder_mtimes: list[int], *, save: bool = True) -> None:
        """Fill in the fingerprint and what is too recent to trust; store the snapshot."""
        trusted = self.started - RACY_NS
        mtimes = memoryview(snapshot.sigs).cast("q")[_MTIME::_FIELDS].tolist()
        snapshot.racy = [k for k, m in enumerate(mtimes) if m >= trusted] if mtimes else []
        snapshot.folders_racy = any(m >= trusted for m in folder_mtimes)
        snapshot.recorded = self.started
        snapshot.run, snapshot.beside = self._fingerprint(snapshot)
        if save:
            self.cache.put(self.key, snapshot.encode())

    def _fingerprint(self, s: _Snapshot) -> tuple[str, str]:
        """The SHA-256 of every hashed path's kind and name and hash, and of the strays; and
        of the files beside records alone. Hashed section by section (names joined by NUL,
        which no name holds, each section after its length), so the bytes hashed cannot be
        read two ways; a hundred thousand files take a few joins, not a line each."""
        whole = hashlib.sha256(self.cache.namespace)
        stray = "\0".join(field for entry in s.stray for field in entry)
        for section in (
            _text("\0".join(s.tags)),
            _text("\0".join(s.rels)),
            s.shas,
            _text(stray),
        ):
            whole.update(_COUNT.pack(len(section)))
            whole.update(section)
        beside = hashlib.sha256()
        if BESIDE in s.tags:
            for k, tag in enumerate(s.tags):
                if tag == BESIDE:  # few: one text per source
                    beside.update(_text(f"{s.rels[k]}\0"))
                    beside.update(s.shas[k * DIGEST : k * DIGEST + DIGEST])
        return whole.hexdigest(), beside.hexdigest()

    def details(self) -> tuple[list[RecordFile], list[RecordFile], list[bytes], str]:
        """The record files, the strays, each record file's SHA-256 (in the files' order)
        and the beside digest."""
        s = self.snapshot
        # Selected with compress() and map(), in C: a loop over 100k paths in Python here
        # was a twentieth of a run after 10 edits.
        record = list(map(ne, s.tags, repeat(BESIDE)))
        for k in compress(count(), map(eq, s.tags, repeat("meta"))):
            record[k] = False
        at = list(compress(count(), record))
        rels = list(compress(s.rels, record))
        if self._files is None:
            prefix = f"{self.root}/"
            made = zip(
                list(compress(s.tags, record)),
                list(map(prefix.__add__, rels)),
                rels,
                map(bool, s.id_folders),
                repeat(""),
            )
            # tuple.__new__ straight away: RecordFile(...) is a Python call per file.
            self._files = list(map(tuple.__new__, repeat(RecordFile), made))
            self._stray = [
                RecordFile(kind, prefix + rel, rel, detail=detail) for kind, rel, detail in s.stray
            ]
        shas = s.shas
        # A list, not a dict by rel: every reader takes them in the files' order.
        digests = [shas[k * DIGEST : k * DIGEST + DIGEST] for k in at]
        return self._files, self._stray, digests, s.beside


def _signatures_of(paths: list[str]) -> bytes:
    pack = _SIG.pack
    return b"".join(
        [
            pack(st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            for st in map(os.lstat, paths)
        ]
    )


def _signatures(paths: list[str]) -> bytes | None:
    """The lstat signatures of paths, in order; None when one is gone."""
    try:
        return _signatures_of(paths)
    except OSError:
        return None


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


def fingerprint(repository: Repository, cache: Cache) -> str:
    """The fingerprint of everything a whole check reads."""
    return _Scan(repository, cache).run


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
    if cache is None:
        from eventledger.check.checker import check_files

        files, stray = repository.discover()
        dataset = check_files(repository, files, stray, jobs=jobs)
        return Outcome(dataset.issues.sorted(), len(dataset.records))
    # The scan's columns and the stored summaries are a few hundred thousand objects that
    # live until the run ends, and answering from them makes no garbage worth collecting:
    # the collector's passes over them cost a fifth of a run after 10 edits at 100k (1.2-1.35
    # s of CPU against 1.4-1.7 s with it). A whole check (read_files) pauses it itself.
    with collector.paused():
        scan = _Scan(repository, cache, defer=True)
        if not scan.pending:
            key = _run_key(cache, scan.run)
            payload = cache.get(key)
            stored = _decode(payload) if payload is not None else None
            if stored is not None:
                return stored
            files, stray, digests, beside = scan.details()
            from eventledger.check.partial import check_changed  # only when something changed

            found = check_changed(repository, files, stray, digests, beside, jobs=jobs, cache=cache)
            if found is not None:
                outcome = Outcome(*found)
                cache.account(cache.put(key, _encode(outcome)))
                return outcome
    # Not answered from the cache: check everything (the schema and the checks imported only
    # now; pandas and Pandera once the workers read).
    from eventledger.check.checker import check_files

    if scan.pending:  # a cold run: nothing stored to answer from, the workers hash
        files, stray, _, _ = scan.details()
        hashed: dict[str, bytes] = {}
        dataset = check_files(
            repository, files, stray, jobs=jobs, cache=cache, summaries=True, digests=hashed
        )
        scan.complete(hashed)
        _, _, digests, beside = scan.details()
        return _keep(dataset, _run_key(cache, scan.run), files, digests, beside, cache)
    dataset = check_files(repository, files, stray, jobs=jobs, cache=cache, summaries=True)
    return _keep(dataset, key, files, digests, beside, cache)


def _run_key(cache: Cache, run: str) -> str:
    return hashlib.sha256(cache.namespace + b"\0run\0" + run.encode()).hexdigest()


def _keep(
    dataset: Dataset,
    key: str,
    files: list[RecordFile],
    digests: list[bytes],
    beside: str,
    cache: Cache,
) -> Outcome:
    """The outcome of a whole check, stored with the summaries of its records."""
    from eventledger.check.partial import keep_state

    outcome = Outcome(dataset.issues.sorted(), len(dataset.records))
    cache.account(cache.put(key, _encode(outcome)))
    keep_state(dataset, files, digests, beside, cache)
    return outcome
