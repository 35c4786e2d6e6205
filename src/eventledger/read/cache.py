"""A cache of what reading one record file found, keyed by what that result depends on.

Reading and checking one file is a pure function of its bytes, its path, the schema and
the tool's code, so its result is stored under the SHA-256 of all of them: a second run
re-reads only the files whose bytes changed, and any change to schema/ or to the code
(a new version, or an edited checkout) starts afresh.

Entries live in build/cache/ (build/ is git-ignored, and the tool writes nothing outside
it; a release's zip holds only build/<version>/, so no cache entry can ship). The entries of
a run are appended to pack files (one per worker task: one small file per record would
cost more to write than the parse it saves) and found through an index that the run
replaces in one rename when it ends; single entries (the file index, a run's outcome) are
files of their own, written aside and renamed. Every entry carries the SHA-256 of its key
and payload, so an entry cut short, damaged, written by another program or missing from a
pack that another run removed is ignored and rebuilt, never trusted. Concurrent runs each
write their own packs; the index last written wins, and what the other run added is only
read again next time. Payloads are marshal data of plain tuples, lists, texts and numbers
(JSON was a third of a cold run's cost and most of a warm one's), never pickle: unpickling
can call any function a payload names, while marshal only builds values (at worst a code
object, which nothing here runs), and every reader checks that what it got has exactly the
shape it expects, refusing anything else. So an entry can at worst describe a file wrongly
(which is why CI runs with --no-cache), never run code. A cache folder that
(or a build/ folder) that is a symbolic link is not used: the tool never follows a link out
of the repository. Nor is a cache git tracks: build/ is git-ignored, so a tracked entry
came in a commit, and a pull request that commits build/cache/ entries (forged under the
keys of its own files, which anyone can compute) would otherwise make a maintainer's
`validate` call its broken records clean.

The folder is bounded: a ledger counts the bytes written, and past the limit the oldest
packs and entries go until three quarters of it remain.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO

import eventledger
from eventledger.atomic import write_atomically
from eventledger.git import GitMissing, git
from eventledger.read.repository import FileTooLarge, open_regular, read_regular

BUILD = "build"
FOLDER = f"{BUILD}/cache"
MAGIC = b"eventledger-cache 2\n"  # 2: marshal payloads (1 was JSON)
DIGEST = 32  # bytes of a SHA-256
# A cold run at 30,000 synthetic events left 1.32 kB per record in packs and 0.45 kB per
# record of single entries (summaries, the pack index, the scan's snapshot): a million records
# take about 1.8 GB (the 2 GiB bound this replaced held 1.99 GB at a million and evicted
# entries that every run needed). Past the bound, eviction keeps three quarters (3 GiB):
# one whole set with room to spare, or the old set and most of a new one while the stale
# one (another code or schema) ages out.
DEFAULT_LIMIT = 4 << 30
LEDGER_BYTES = 20  # the ledger's width: every count is written with as many digits


@functools.cache
def code_digest() -> str:
    """The tool's version, the bytes of its code and the versions of what it depends on:
    an edited checkout, or another pysbd, is another tool."""
    package = Path(eventledger.__file__).parent
    digest = hashlib.sha256(eventledger.__version__.encode())
    try:
        for requirement in sorted(metadata.requires("eventledger") or []):
            name = re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0]
            if "extra ==" not in requirement:
                digest.update(f"{name}=={metadata.version(name)}\n".encode())
    except metadata.PackageNotFoundError:
        digest.update(b"not installed\n")
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def tracked_by_git(root: Path, folder: str) -> bool:
    """Whether git's index holds anything below root/folder (False outside git)."""
    try:
        done = git(root, "ls-files", "-z", "--cached", "--", folder)
    except GitMissing:
        return False
    return done.returncode == 0 and bool(done.stdout)


Location = tuple[str, int, int]  # pack file name, offset, length


@dataclass
class Cache:
    folder: Path
    namespace: bytes  # digest of the code, the schema and the reading options
    limit: int = DEFAULT_LIMIT
    _index: dict[str, Location] | None = field(default=None, repr=False)  # read when first used
    writable: bool = True  # False: entries are read, never written (build writes only build/)
    _packs: dict[str, IO[bytes]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(
        cls,
        root: Path,
        schema_dir: Path,
        options: str,
        limit: int = DEFAULT_LIMIT,
        *,
        writable: bool = True,
    ) -> Cache | None:
        """The cache of the repository at root, or None when it cannot be used. Not writable,
        it is only read, and only if it exists."""
        build, folder = root / BUILD, root / FOLDER
        inner = (folder / "entries", folder / "packs")
        if any(p.is_symlink() for p in (build, folder, *inner)) or tracked_by_git(root, BUILD):
            return None
        if not writable:
            if not folder.is_dir():
                return None
        else:
            try:
                build.mkdir(exist_ok=True)
                folder.mkdir(exist_ok=True)
                (folder / "entries").mkdir(exist_ok=True)
                (folder / "packs").mkdir(exist_ok=True)
                # Ignored by git wherever it is, whatever the repository's .gitignore says.
                ignore = folder / ".gitignore"
                if not ignore.exists():
                    write_atomically(ignore, b"# eventledger's cache, rebuilt when missing\n*\n")
            except OSError:
                return None  # a read-only checkout checks without a cache
        try:
            schema = folder_digest(schema_dir)
        except OSError:
            return None  # the checks report an unreadable schema; they need no cache for it
        namespace = hashlib.sha256(f"{code_digest()}\0{schema}\0{options}".encode()).digest()
        return cls(folder, namespace, limit, writable=writable)

    @property
    def index(self) -> dict[str, Location]:
        """key -> where its entry is in a pack. Read when first needed: a run answered whole
        from the cache (nothing changed) never needs it, and at a hundred thousand records
        it is megabytes. Read it before forking workers, so that they share it."""
        if self._index is None:
            self._index = self._read_index()
        return self._index

    @index.setter
    def index(self, value: dict[str, Location]) -> None:
        self._index = value

    def key(self, kind: str, rel: str, data: bytes) -> str:
        return self.key_of(kind, rel, hashlib.sha256(data).digest())

    def key_of(self, kind: str, rel: str, sha256: bytes) -> str:
        """The key of a file's entry from the SHA-256 of its bytes: the hash a worker takes
        anyway, which is also the one the scan's fingerprint needs (a cold run hashes each
        file once, in a worker). kind and rel hold no NUL, so what precedes the digest is
        unambiguous."""
        digest = self._keyed.copy()
        digest.update(f"{kind}\0{rel}\0".encode())
        digest.update(sha256)
        return digest.hexdigest()

    @functools.cached_property
    def _keyed(self) -> hashlib._Hash:
        return hashlib.sha256(self.namespace + b"\0entry\0")

    def _path(self, key: str) -> Path:
        return self.folder / "entries" / key[:2] / key[2:]

    def get(self, key: str) -> bytes | None:
        """The payload stored under key, or None when there is none or it fails its checksum."""
        path = self._path(key)
        try:
            # Never open()ed: a FIFO in an entry's place would block the run, and a link
            # would be followed out of the folder; so would a link in the key's folder's place.
            if not _real_folder(path.parent):
                return None
            blob = read_regular(path)
        except OSError:  # NotRegularFile too
            return None
        return self._payload(key, blob)

    def put(self, key: str, payload: bytes) -> int:
        """Store payload under key; return the bytes written (0 when the cache cannot write)."""
        if not self.writable:
            return 0
        path = self._path(key)
        blob = self._blob(key, payload)
        try:
            path.parent.mkdir(exist_ok=True)
            if not _real_folder(path.parent):
                return 0  # a link in its place would take the entry outside build/
            write_atomically(path, blob, durable=False)
        except OSError:
            return 0
        return len(blob)

    @staticmethod
    def _blob(key: str, payload: bytes) -> bytes:
        return b"".join((MAGIC, _checksum(key, payload), payload))

    @staticmethod
    def _payload(key: str, blob: bytes) -> bytes | None:
        head = len(MAGIC) + DIGEST
        if not blob.startswith(MAGIC) or len(blob) < head:
            return None
        if _checksum(key, memoryview(blob)[head:]) != blob[len(MAGIC) : head]:
            return None
        return blob[head:]

    def _index_key(self) -> str:
        return hashlib.sha256(self.namespace + b"\0pack index").hexdigest()

    def _read_index(self) -> dict[str, Location]:
        payload = self.get(self._index_key())
        if payload is None:
            return {}
        try:
            data = marshal.loads(payload)  # noqa: S302  # plain data only: checked below
        except (ValueError, TypeError, EOFError):
            return {}
        if type(data) is not dict:
            return {}
        for key, where in data.items():
            if (
                type(key) is not str
                or type(where) is not tuple
                or len(where) != 3
                or type(where[0]) is not str
                or "/" in where[0]
                or type(where[1]) is not int
                or type(where[2]) is not int
                or min(where[1], where[2]) < 0
            ):
                return {}
        return data

    def lookup(self, key: str) -> bytes | None:
        """The payload stored in a pack under key, or None (absent, gone or damaged)."""
        where = self.index.get(key)
        if where is None:
            return None
        name, offset, length = where
        try:
            handle = self._packs.get(name)
            if handle is None:
                fd, _ = open_regular(self.folder / "packs" / name)  # as get: no FIFO, no link
                handle = self._packs[name] = os.fdopen(fd, "rb")
            blob = os.pread(handle.fileno(), length, offset)
        except OSError:
            return None
        return self._payload(key, blob)

    def write_pack(self, entries: list[tuple[str, bytes]]) -> dict[str, Location]:
        """Write entries (key, payload) to a new pack; return where each is (empty on failure)."""
        if not entries or not self.writable:
            return {}
        name = f"{secrets.token_hex(8)}.pack"
        where: dict[str, Location] = {}
        parts, offset = [], 0
        for key, payload in entries:
            blob = self._blob(key, payload)
            where[key] = (name, offset, len(blob))
            parts.append(blob)
            offset += len(blob)
        try:
            write_atomically(self.folder / "packs" / name, b"".join(parts), durable=False)
        except OSError:
            return {}
        return where

    def commit(self, added: dict[str, Location]) -> None:
        """Record the entries this run wrote in the index; keep the folder within its bound."""
        if not added or not self.writable:
            return
        self.index.update(added)
        written = sum(length for _, _, length in added.values())
        self.account(written)
        self.put(self._index_key(), marshal.dumps(self.index, 4))

    def account(self, written: int) -> None:
        """Count bytes written in this run; past the limit, remove the oldest entries."""
        if written <= 0 or not self.writable:
            return
        ledger = self.folder / "ledger"
        try:
            # A ledger holds 20 digits; a link, a FIFO, a folder or anything larger in its
            # place is no ledger: what is there is counted and the ledger written afresh.
            total = int(read_regular(ledger, limit=LEDGER_BYTES)) + written
        except (OSError, ValueError, FileTooLarge):
            total = self._size()  # no ledger yet, or a damaged one: count what is there
        if total > self.limit:
            total = self._evict()
        _write_ledger(ledger, f"{total:0{LEDGER_BYTES}d}".encode())

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        folders = [self.folder / "packs"]
        with contextlib.suppress(OSError):
            # A link in a key folder's place is no folder of the cache: eviction would
            # delete the oldest files of wherever it points.
            entries = os.scandir(self.folder / "entries")
            folders += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        for folder in folders:
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        found.append((st.st_mtime, st.st_size, Path(entry.path)))
        return found

    def _size(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self) -> int:
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        gone: set[str] = set()
        for _, size, path in entries:
            if total <= self.limit * 3 // 4:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                gone.add(path.name)
        self.index = {k: v for k, v in self.index.items() if v[0] not in gone}
        return total


def _real_folder(path: Path) -> bool:
    return stat.S_ISDIR(os.lstat(path).st_mode)


def _checksum(key: str, payload: bytes | memoryview) -> bytes:
    # Hashed in two updates, not of key + payload: the summaries and the scan's snapshot
    # are tens of megabytes at 100k records, read and written on every run after an edit.
    digest = hashlib.sha256(key.encode())
    digest.update(payload)
    return digest.digest()


def _write_ledger(ledger: Path, data: bytes) -> None:
    """Write the ledger over the old one in place; replace whatever else is in its place."""
    # Overwritten in place, not written aside and renamed: on a busy disk a rename over a
    # file waited for the data written before it (0.37 s, twice in a run after 10 edits
    # at 100k). Every write is the same width, so none leaves another's tail; a ledger
    # that a crash cut reads as damaged and is counted again, and one that concurrent
    # runs both wrote is off by a run's bytes, which only moves when eviction starts.
    # O_NONBLOCK: opening a FIFO to write waits for a reader, for ever.
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(ledger, flags, 0o644)
    except OSError:
        fd = -1  # a link (ELOOP), a folder (EISDIR), a FIFO nobody reads (ENXIO), ...
    if fd >= 0:
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                with contextlib.suppress(OSError):
                    os.pwrite(fd, data, 0)
                    # A longer ledger (written by hand, or with a line end) would keep its
                    # tail and read as damaged, the whole cache recounted, on every run.
                    os.ftruncate(fd, len(data))
                return
        finally:
            os.close(fd)
    # Not a regular file: removed (the link itself, never what it points to) and written
    # afresh, so that the next run finds a ledger again instead of counting every entry.
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(os.lstat(ledger).st_mode):
            os.rmdir(ledger)  # only an empty one: what a folder holds is not the cache's
        else:
            os.unlink(ledger)
    with contextlib.suppress(OSError):
        write_atomically(ledger, data, durable=False)
