"""Re-check a built release: every checksum (Parquet included, which frictionless does not
verify) and that each Parquet table holds exactly the rows of its CSV twin.

verify is total over hostile packages: whatever the bytes of SHA256SUMS, the descriptors,
the CSV and the Parquet files, the answer is a list of issues, never an exception. No path
named inside the package is opened before it is known to stay inside it, no symbolic link
is followed, and files are hashed in chunks, so a huge file costs no memory.
"""

from __future__ import annotations

import array
import csv
import errno
import functools
import hashlib
import itertools
import lzma
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from eventledger.issues import Issue
from eventledger.issues.excerpt import printable
from eventledger.jsonfile import JsonFileError, read_json_from
from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import FieldSpec, TableSpec
from eventledger.model.types import LIST_DELIMITER
from eventledger.publish.cells import iter_csv_values
from eventledger.syntax.positions import line_of

SUMS = "SHA256SUMS"
DESCRIPTORS = ("datapackage.json", "parquet/datapackage.json")
TABLE_FOLDERS = ("data", "parquet")  # where a package's descriptors may put its tables
_SUM_LINE = re.compile(r"([0-9a-f]{64})  (.+)")
_SUM_ENTRY = "0" * 64 + "  \n"  # a line of SHA256SUMS without its path
_PATH_AT = len(_SUM_ENTRY) - 1  # where a line's path starts
# A whole SHA256SUMS whose every line _SUM_LINE matches with a path safe_relative passes: a
# part of a path is neither empty, "." nor ".." and holds no "/", backslash or control
# character, the first no ":". One pass over the text, where a match and a safe_relative
# call per line took most of verify's time past the walk (at 100k events, 101k lines).
_PART = r"(?!\.\.?(?:/|\n|\Z))[^/\\\x00-\x1f\x7f]+"
_FIRST_PART = r"(?!\.\.?(?:/|\n|\Z))[^/\\:\x00-\x1f\x7f]+"
# Possessive (*+): each line ends unambiguously, so nothing is given back, and the engine
# keeps no restart point per line (a plain * held about 450 bytes a line: 340 MB for a
# forged 64 MB SHA256SUMS).
_SAFE_SUMS = re.compile(rf"(?:[0-9a-f]{{64}}  {_FIRST_PART}(?:/{_PART})*(?:\n|\Z))*+")
SUMS_FLOOR = 64 * 1024**2
_CHUNK = 1 << 20
# The tables of a release are read whole to compare them; a file past this is refused first.
MAX_TABLE_BYTES = 2 * 1024**3
# What a zip may unpack to: 16 GiB, or 20 times the zip's own size when that is more. A
# million events' release is 3.1 GB zipped and 15.5 GiB unpacked (5.4x: deflated pages and
# tables); a zip bomb's members deflate by hundreds or thousands. A fixed bound would have
# refused every genuine release a little past a million events.
UNZIPPED_FLOOR = 16 * 1024**3
UNZIPPED_RATIO = 20
_BATCH = 16_384  # Parquet rows compared at a time


class NotAPackage(Exception):
    """The path is not a built package at all (a usage error, not a damaged package)."""


class NoRoomToUnpack(NotAPackage):
    """The zip may be intact, but the folder it would be unpacked into has too little free
    space to check it (a usage error: unpack it elsewhere, or give the folder)."""


def unzipped_limit(archive_bytes: int) -> int:
    """The most a release zip of this size may unpack to."""
    return max(UNZIPPED_FLOOR, UNZIPPED_RATIO * archive_bytes)


def room(folder: Path) -> tuple[int, int, int]:
    """Free bytes, free inodes and the block size of the disk that holds folder."""
    found = os.statvfs(folder)
    return found.f_bavail * found.f_frsize, found.f_favail, found.f_frsize


def _on_disk(sizes: Iterable[int], block: int) -> int:
    """What files of these sizes take on a disk of this block size: a whole block at least
    each (a release is mostly small pages), rounded up."""
    block = max(block, 1)
    return sum(max(1, -(-size // block)) * block for size in sizes)


def _issue(file: str, code: str, message: str, line: int = 0, **kw: Any) -> Issue:
    return Issue(printable(file), line, 1 if line else 0, code, message, **kw)


def _mismatch(file: str, message: str, **kw: Any) -> Issue:
    return _issue(file, "checksum-mismatch", message, **kw)


def _malformed(file: str, message: str, line: int = 0) -> Issue:
    return _issue(file, "package-file-malformed", message, line)


def _unsafe(file: str, message: str, line: int = 0) -> Issue:
    return _issue(file, "package-path-unsafe", message, line)


_CONTROL = re.compile("[\\x00-\\x1f\\x7f]")
_DOT_PARTS = frozenset({"", ".", ".."})


def safe_relative(rel: str) -> str | None:
    """rel as a plain relative POSIX path inside the package, or None if it could leave it
    or name something other than a file below it (absolute, '..', '.', empty parts,
    backslashes, drive letters, control characters)."""
    # Called for every file a build writes (tens of thousands): a regex and a split, where a
    # character loop and a PurePosixPath took seconds at 30k events.
    if not rel or rel.startswith("/") or "\\" in rel or _CONTROL.search(rel):
        return None
    parts = rel.split("/")
    # With no empty part and no leading "/", the first part is PurePosixPath(rel).parts[0].
    if _DOT_PARTS.intersection(parts) or ":" in parts[0]:
        return None
    return rel


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW
_LINK = "a symbolic link inside the package; it is not followed"


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _mode(entry: os.DirEntry[str]) -> int:
    """The type of entry as lstat gives it (the S_IFMT bits, all that is read of it): from
    the listing's d_type where the file system gives one, else DirEntry's own lstat."""
    if entry.is_symlink():
        return stat.S_IFLNK
    if entry.is_file(follow_symlinks=False):
        return stat.S_IFREG
    if entry.is_dir(follow_symlinks=False):
        return stat.S_IFDIR
    return entry.stat(follow_symlinks=False).st_mode  # a FIFO, a socket, a device, or gone


def _is_link(name: str, folder: int) -> bool:
    """Whether name in the open folder is a symbolic link (False when it cannot be told)."""
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


class _Package:
    """The regular files of a package folder, found without following links, and their
    SHA-256, each hashed once in chunks although SHA256SUMS and both descriptors ask."""

    def __init__(
        self,
        folder: Path,
        known: Mapping[str, tuple[str, int]] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        self.folder = folder
        self.files: set[str] = set()
        self.issues: list[Issue] = []
        # A build checks the folder it just wrote and hashed: it hands in those digests
        # rather than read every file again (its zip re-reads and re-hashes each file).
        # (sha256, size) by path: those handed in (copied whole, not a pair at a time: 101k
        # at 100k events), then those hashed here.
        self.hashed: dict[str, tuple[str, int]] = dict(known or {})
        self._top = -1  # the folder, open for the package's life; close() closes it
        self._last: tuple[str, int] | None = None  # the folder below it last read from
        self._walk(only)

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._last is not None:
            os.close(self._last[1])
            self._last = None
        if self._top >= 0:
            os.close(self._top)
            self._top = -1

    def _walk(self, only: Iterable[str] | None) -> None:
        """Every entry below the folder, a folder at a time in name order: regular files
        into files, links and other non-files into issues, never followed or opened."""
        # Each folder is opened relative to the one holding it, with O_NOFOLLOW: a folder
        # replaced by a link after it was listed is refused by the kernel, not followed, in
        # this walk, and in the reads of its files (opened).
        # Only the folder given is opened by its path (a link to it is what the user named).
        try:
            top = os.open(self.folder, _FOLDER_FLAGS & ~_NOFOLLOW)
        except OSError as err:
            self._unreadable(".", err)
            return
        self._top = os.dup(top)  # the walk closes its own
        # (descriptor, its folder's path with a trailing "/", the folders below it still to
        # walk): one descriptor open per level of depth, however many folders there are,
        # and no recursion, so a hostile depth ends in an issue (too many open files).
        stack: list[tuple[int, str, Iterator[str]]] = [(top, "", iter(()))]
        try:
            stack[-1] = (top, "", iter(self._list(top, "", only)))
            while stack:
                fd, prefix, below = stack[-1]
                name = next(below, None)
                if name is None:
                    os.close(stack.pop()[0])
                    continue
                rel = prefix + name
                try:
                    child = os.open(name, _FOLDER_FLAGS, dir_fd=fd)
                except OSError as err:
                    if _is_link(name, fd):  # by now: O_NOFOLLOW refused it
                        self.issues.append(_unsafe(rel, _LINK))
                    else:
                        self._unreadable(rel, err)
                    continue
                stack.append((child, f"{rel}/", iter(())))  # closed below whatever happens
                stack[-1] = (child, f"{rel}/", iter(self._list(child, f"{rel}/", None)))
        finally:
            for fd, _, _ in stack:
                os.close(fd)

    def _list(self, fd: int, prefix: str, only: Iterable[str] | None) -> list[str]:
        """The entries of the open folder fd (at prefix) sorted by name: files and issues
        noted; the names of the folders below it returned."""
        try:
            with os.scandir(fd) as found:
                entries = sorted(found, key=_name)
        except OSError as err:
            self._unreadable(prefix.removesuffix("/") or ".", err)
            return []
        # An entry's type comes from the listing itself (d_type), without a stat per file:
        # a Path, a relative_to and an lstat per file took 1.5 of the 1.9 CPU s of the
        # check that ends a 100k-event build. A folder that may be listed but not searched
        # gives types whose files cannot be reached: one lstat tells, and then every entry
        # is lstat-ed and reported unreadable, as each was when every entry was.
        searchable = True
        if entries:
            try:
                entries[0].stat(follow_symlinks=False)
            except OSError:
                searchable = False
        folders = []
        for entry in entries:
            rel = prefix + entry.name
            try:
                mode = _mode(entry) if searchable else entry.stat(follow_symlinks=False).st_mode
            except OSError as err:
                self.issues.append(_malformed(rel, f"cannot be read: {err.strerror}"))
                continue
            if stat.S_ISLNK(mode):
                self.issues.append(_unsafe(rel, _LINK))
            elif stat.S_ISREG(mode):
                self.files.add(rel)
            elif stat.S_ISDIR(mode):
                folders.append(entry.name)
            else:
                self.issues.append(_unsafe(rel, "not a regular file; it is not opened"))
        if only is not None:
            # Only these folders below the top one (the tables', not the site's pages).
            folders = [name for name in folders if name in only]
        return folders

    def _unreadable(self, rel: str, err: OSError) -> None:
        self.issues.append(_malformed(rel, f"folder cannot be read: {err.strerror}"))

    def opened(self, rel: str) -> int:
        """A file of the package open for reading, from the folder this package holds open
        one name at a time with O_NOFOLLOW: a folder swapped for a link after the walk is
        refused by the kernel (OSError), never followed. The folder last read from stays
        open: files are read in name order, so a folder is opened again only when the
        reads move on to another one, and a file costs one open, as by its path."""
        parent, _, name = rel.rpartition("/")
        if not parent:
            folder = self._top
        elif self._last is not None and self._last[0] == parent:
            folder = self._last[1]
        else:
            if self._last is not None:
                os.close(self._last[1])
                self._last = None
            folder = os.dup(self._top)
            try:
                for part in parent.split("/"):
                    below = os.open(part, _FOLDER_FLAGS, dir_fd=folder)
                    os.close(folder)
                    folder = below
            except BaseException:
                os.close(folder)
                raise
            self._last = (parent, folder)
        if folder < 0:
            raise OSError(errno.EBADF, "the package folder could not be opened")
        return os.open(name, _FILE_FLAGS, dir_fd=folder)

    def read(self, rel: str, limit: int = MAX_TABLE_BYTES) -> bytes:
        """The bytes of a regular file of the package (OSError if it is too large to read)."""
        with self.open(rel, limit) as handle:
            data: bytes = handle.read()
            return data

    @contextmanager
    def open(self, rel: str, limit: int = MAX_TABLE_BYTES) -> Iterator[BinaryIO]:
        """A regular file of the package, open to read (OSError if it is too large to read)."""
        with _open(self.opened(rel)) as handle:
            if os.fstat(handle.fileno()).st_size > limit:
                raise OSError(f"larger than {limit:,} bytes")
            yield handle

    def sha256(self, rel: str) -> str:
        found = self.hashed.get(rel)
        if found is None:
            with _open(self.opened(rel)) as handle:
                digest = hashlib.sha256()
                size = 0
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            found = self.hashed[rel] = (digest.hexdigest(), size)
        return found[0]

    def size(self, rel: str) -> int:
        self.sha256(rel)
        return self.hashed[rel][1]


# O_NONBLOCK: a FIFO put in place of a file after the walk is opened without waiting for
# a writer, then refused as not a regular file.
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)


@contextmanager
def _open(fd: int) -> Iterator[Any]:
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        yield handle


def table_spec(resource: dict[str, Any]) -> TableSpec:
    """A TableSpec from a published resource (enough to read its cells back)."""
    raw = resource["schema"]
    fields = tuple(
        FieldSpec(
            name=f["name"],
            type=f["type"],
            description=f.get("description", ""),
            delimiter=f.get("delimiter"),
        )
        for f in raw["fields"]
    )
    return TableSpec(
        resource["name"],
        fields,
        tuple(raw.get("primaryKey", [])),
        tuple(raw.get("foreignKeys", [])),
        raw,
    )


def _resources(package: _Package, descriptor: str) -> tuple[list[dict[str, Any]], list[Issue]]:
    """The resources of a descriptor whose name and path are usable, with the issues of the rest."""
    if descriptor not in package.files:
        return [], [_mismatch(descriptor, "the descriptor is missing")]
    try:
        try:
            fd = package.opened(descriptor)
        except OSError as err:
            raise JsonFileError(f"cannot read it: {err.strerror or err}") from err
        data = read_json_from(fd, max_bytes=64 * 1024**2)
    except JsonFileError as err:
        return [], [_malformed(descriptor, f"cannot read the descriptor: {err}", err.line)]
    resources = data.get("resources") if isinstance(data, dict) else None
    if not isinstance(resources, list):
        return [], [_malformed(descriptor, "not a Data Package: no list of resources")]
    issues = []
    usable = []
    for n, res in enumerate(resources):
        where = f"resources[{n}]"
        if not isinstance(res, dict) or not isinstance(res.get("name"), str):
            issues.append(_malformed(descriptor, f"{where} is not a resource with a name"))
            continue
        path = res.get("path")
        if not isinstance(path, str):
            issues.append(_malformed(descriptor, f"{where} has no path (a string)"))
            continue
        rel = safe_relative((PurePosixPath(descriptor).parent / path).as_posix().removeprefix("./"))
        if rel is None or safe_relative(path) is None:
            issues.append(
                _unsafe(descriptor, f"{where}: path {printable(path)!r} leaves the package")
            )
            continue
        if rel not in package.files:
            issues.append(_mismatch(rel, "the resource file is missing"))
            continue
        try:
            actual = {"bytes": package.size(rel), "hash": f"sha256:{package.sha256(rel)}"}
        except OSError as err:
            issues.append(_malformed(rel, f"cannot be read: {err}"))
            continue
        for key, label in (("bytes", "size"), ("hash", "hash")):
            if res.get(key) != actual[key]:
                issues.append(
                    _mismatch(
                        rel,
                        f"{label} differs from the descriptor",
                        expected=printable(res.get(key)),
                        found=str(actual[key]),
                    )
                )
        usable.append({**res, "path": rel})
    return usable, issues


def sums_limit(files: Iterable[str]) -> int:
    """The most bytes of SHA256SUMS read: 64 MiB, or, for a package of more files than that
    lists (a million events' site is over a million pages), the size of a SHA256SUMS naming
    each of its other files once. An honest one is never larger; a forged one is refused
    before it is read whole, so what it costs is bounded by the files actually there."""
    # UTF-8 encodes a joined text as the join of its parts' bytes: one encode, not one a
    # file. A name that is not UTF-8 (no SHA256SUMS can list it) counts as its bytes.
    others = [rel for rel in files if rel != SUMS]
    named = "".join(others).encode("utf-8", "surrogateescape")
    listing = len(_SUM_ENTRY) * len(others) + len(named)
    return max(SUMS_FLOOR, listing)


def _check_sums(package: _Package) -> list[Issue]:
    if SUMS not in package.files:
        return [_mismatch(SUMS, "SHA256SUMS is missing")]
    try:
        raw = package.read(SUMS, sums_limit(package.files))
        text = raw.decode("utf-8")
    except OSError as err:
        return [_malformed(SUMS, f"cannot be read: {err}")]
    except UnicodeDecodeError as err:
        return [_malformed(SUMS, f"bytes at {err.start} are not UTF-8", line_of(raw, err.start))]
    found = _intact_sums(package, text)
    return _sum_lines(package, text) if found is None else found


def _intact_sums(package: _Package, text: str) -> list[Issue] | None:
    """The issues of SHA256SUMS's text when it is intact, checked in bulk: every line
    well-formed and its path safe (one pass of one pattern), every path a file whose digest
    is the one listed; then only files it leaves out are issues. None for any other text,
    which _sum_lines reads a line at a time to say which lines and why."""
    if not _SAFE_SUMS.fullmatch(text):
        return None
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()  # after the end of the last line
    paths = [line[_PATH_AT:] for line in lines]
    files = package.files
    try:
        if not all(
            rel in files and package.sha256(rel) == line[:64]
            for rel, line in zip(paths, lines, strict=True)
        ):
            return None
    except OSError:
        return None
    unlisted = files.difference(paths, (SUMS,))
    return [_mismatch(rel, "file not listed in SHA256SUMS") for rel in sorted(unlisted)]


def _sum_lines(package: _Package, text: str) -> list[Issue]:
    """The issues of SHA256SUMS's text, read a line at a time."""
    issues: list[Issue] = []
    listed: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line and number == text.count("\n") + 1:
            break  # the end of the last line
        m = _SUM_LINE.fullmatch(line)
        if m is None:
            issues.append(
                _malformed(
                    SUMS,
                    f"line is not '<64 hex digits>  <path>': {printable(line, 80)!r}",
                    number,
                )
            )
            continue
        digest, rel = m.group(1), m.group(2)
        if safe_relative(rel) is None:
            issues.append(_unsafe(SUMS, f"{printable(rel)!r} leaves the package", number))
            continue
        listed.add(rel)
        if rel not in package.files:
            issues.append(_issue(SUMS, "checksum-mismatch", f"{rel} is listed but missing", number))
            continue
        try:
            actual = package.sha256(rel)
        except OSError as err:
            issues.append(_malformed(rel, f"cannot be read: {err}"))
            continue
        if actual != digest:
            issues.append(
                _issue(
                    SUMS,
                    "checksum-mismatch",
                    f"{rel} does not match its checksum",
                    number,
                    expected=digest,
                    found=actual,
                )
            )
    for rel in sorted(package.files - listed - {SUMS}):
        issues.append(_mismatch(rel, "file not listed in SHA256SUMS"))
    return issues


def verify(
    path: Path, known: Mapping[str, tuple[str, int]] | None = None, *, tables: bool = True
) -> list[Issue]:
    """Every problem found in the built package at path (its folder or its zip); an empty
    list means it is intact. NotAPackage when path is neither. For a folder a build has just
    written: known, the (sha256, size) of the files it hashed as it wrote them, taken instead
    of reading them again; tables=False leaves out compare_tables (the build ran it already)."""
    if (known is not None or not tables) and path.is_dir():
        return _verify_folder(path, known, tables=tables)[0]
    return verify_package(path)[0]


def verify_package(path: Path) -> tuple[list[Issue], int]:
    """The issues of the package at path and the number of files checked."""
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise NotAPackage(f"{path} is neither a package folder nor a zip of one")
        with tempfile.TemporaryDirectory(prefix="eventledger-verify-") as tmp:
            issues, folder = _unzip(path, Path(tmp))
            if folder is None:
                return issues, 0
            more, files = _verify_folder(folder)
            return issues + more, files
    if not path.is_dir():
        raise NotAPackage(f"{path} is neither a package folder nor a zip of one")
    if not any(os.path.lexists(path / name) for name in (SUMS, *DESCRIPTORS)):
        raise NotAPackage(
            f"{path} is not a built package: it holds no {SUMS} and no datapackage.json "
            "(give build/<version>/ or build/<name>-<version>.zip)"
        )
    return _verify_folder(path)


def _unzip(archive: Path, into: Path) -> tuple[list[Issue], Path | None]:
    """Extract a release zip (one top folder of regular files) without trusting its names or
    sizes. Raise NoRoomToUnpack, before writing anything, when into's disk has less free
    space than the members declare."""
    issues: list[Issue] = []
    name = archive.name
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            limit = unzipped_limit(archive.stat().st_size)
            # zipfile stops a member at its declared size (and checks its CRC there), so the
            # declared total bounds what is written; the count below is a second guard.
            declared = sum(info.file_size for info in infos if not info.is_dir())
            if declared > limit:  # a zip bomb fills no disk
                raise ValueError(
                    f"its members declare {declared:,} bytes unpacked, more than "
                    f"{limit:,} (a release unpacks to a few times its zip's size)"
                )
            free, inodes, block = room(into)
            needed = _on_disk((i.file_size for i in infos), block)
            if needed > free or len(infos) > inodes:
                raise NoRoomToUnpack(
                    f"{printable(str(archive))}: it unpacks to {len(infos):,} files taking "
                    f"{needed:,} bytes and {into.parent} has {free:,} bytes and {inodes:,} "
                    "files free; set TMPDIR to a folder on a disk with room, or unzip it "
                    "yourself and give the folder"
                )
            tops = set()
            unpacked = 0
            for info in infos:
                mode = info.external_attr >> 16
                rel = safe_relative(info.filename.rstrip("/") if info.is_dir() else info.filename)
                if rel is None:
                    issues.append(
                        _unsafe(name, f"member {printable(info.filename)!r} leaves the package")
                    )
                    continue
                if stat.S_ISLNK(mode):
                    issues.append(_unsafe(name, f"member {rel} is a symbolic link"))
                    continue
                tops.add(rel.split("/", 1)[0])
                if info.is_dir():
                    continue
                target = into / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as dest:
                    while chunk := src.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > declared:
                            raise ValueError(f"it unpacks to more than its {declared:,} bytes")
                        dest.write(chunk)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):  # the disk filled, not the zip's fault
            raise NoRoomToUnpack(
                f"{printable(str(archive))}: {into.parent} ran out of room while unpacking it "
                f"({err.strerror}); set TMPDIR to a folder on a disk with room, or unzip it "
                "yourself and give the folder"
            ) from err
        return [*issues, _malformed(name, f"cannot read the zip: {err}")], None
    except (zipfile.BadZipFile, ValueError, EOFError, zlib.error, lzma.LZMAError) as err:
        return [*issues, _malformed(name, f"cannot read the zip: {err}")], None
    if len(tops) != 1:
        return [
            *issues,
            _malformed(name, "a release zip holds one folder, <name>-<version>/"),
        ], None
    return issues, into / tops.pop()


def _verify_folder(
    folder: Path, known: Mapping[str, tuple[str, int]] | None = None, *, tables: bool = True
) -> tuple[list[Issue], int]:
    with _Package(folder, known) as package:
        issues = list(package.issues)
        issues += _check_sums(package)
        csv_resources, found = _resources(package, "datapackage.json")
        issues += found
        parquet_resources, found = _resources(package, "parquet/datapackage.json")
        issues += found
        files = len(package.files)
        if issues or not tables:
            return issues, files  # comparing the tables of damaged files says nothing more
        return _compare_twins(package, csv_resources, parquet_resources), files


def compare_tables(folder: Path) -> list[Issue]:
    """That each Parquet table holds exactly the rows of its CSV twin (what verify checks
    beyond checksums): a build runs it beside frictionless, on the tables written first."""
    # Only the descriptors and the tables' folders: a build runs this while it writes the
    # site beside them (tens of thousands of pages that a walk would list for nothing).
    with _Package(folder, only=TABLE_FOLDERS) as package:
        csv_resources, issues = _resources(package, "datapackage.json")
        parquet_resources, found = _resources(package, "parquet/datapackage.json")
        issues += found
        if issues:
            return issues
        return _compare_twins(package, csv_resources, parquet_resources)


def _compare_twins(
    package: _Package, csv_resources: list[dict[str, Any]], parquet_resources: list[dict[str, Any]]
) -> list[Issue]:
    issues: list[Issue] = []
    by_name = {r["name"]: r for r in parquet_resources}
    for res in csv_resources:
        twin = by_name.get(res["name"])
        if twin is None:
            issues.append(
                Issue(
                    f"parquet/{res['name']}.parquet",
                    0,
                    0,
                    "parquet-differs-from-csv",
                    "no Parquet twin",
                )
            )
            continue
        issues += _compare(package, res, twin["path"])
    return issues


# What makes the csv module quote a cell it writes; the proof below quotes exactly these, so
# the reader takes each quoted cell back whole. (The writer leaves a lone "\r" bare, which
# its reader splits: such a table is not proved, and the exact comparison says where.)
_QUOTED = '[,"\r\n]'
_FIRST_DAY = -719_162  # 0001-01-01 and 9999-12-31 in days from 1970-01-01: Python's dates
_LAST_DAY = 2_932_896


def _same_as_csv(spec: TableSpec, parquet: Any, source: BinaryIO) -> bool:
    """True only when source's bytes are, byte for byte, the CSV whose rows the exact
    comparison reads back as exactly the Parquet table's rows, and so would find no difference
    in. They are read a batch's lines at a time: a build runs this beside its own peak, and
    the evidence table alone is 57 MB at 100k events.

    It makes each Parquet column's cells in Arrow, as the build writes them (the CSV cell of
    each value, quoted where the csv module would), joins them into lines and compares the
    lines' bytes with the file's, a batch at a time. A value with no cell that reads back as
    itself ("" in a text column reads back as null, [""] in a list as [], NaN is no NaN it
    equals), a cell the csv reader refuses (longer than its field limit), bytes that are not
    UTF-8, a damaged Parquet file: False, and the exact comparison names the difference.
    False for an equal table is only slower; True must never hide one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = spec.fields
    limit = csv.field_size_limit()
    try:
        header = _header_line(spec.field_names, limit)
        if not fields or header is None or source.read(len(header)) != header:
            return False
        for batch in parquet.iter_batches(batch_size=_BATCH):
            cells = []
            for field, column in zip(fields, batch.columns, strict=True):
                text = _column_cells(field, column)
                if text is None or (pc.max(pc.binary_length(text)).as_py() or 0) >= limit:
                    return False
                cells.append(_csv_quoted(text, alone=len(fields) == 1))
            # Each line's end is put after its last cell, so its cells are joined once.
            cells[-1] = pc.binary_join_element_wise(cells[-1], _text("\n"), _text(""))
            lines = pc.binary_join_element_wise(*cells, _text(","))
            if lines.null_count:
                return False
            if not len(lines):
                continue
            lines.validate(full=True)  # bytes that are not UTF-8: ArrowInvalid
            chunk = _string_bytes(lines)
            piece = source.read(chunk.size)
            if len(piece) != chunk.size or not pa.py_buffer(piece).equals(chunk):
                return False
        return source.read(1) == b""
    except (OSError, ValueError, TypeError, KeyError, IndexError, pa.ArrowException):
        return False


def _header_line(names: tuple[str, ...], limit: int) -> bytes | None:
    """The header row as the csv module writes it, or None for names its reader would not
    give back."""
    cells = []
    for name in names:
        if not isinstance(name, str) or len(name.encode("utf-8")) >= limit:
            return None
        if re.search(_QUOTED, name) or (name == "" and len(names) == 1):
            name = '"' + name.replace('"', '""') + '"'
        cells.append(name)
    return (",".join(cells) + "\n").encode("utf-8")


def _column_cells(field: FieldSpec, column: Any) -> Any:
    """The CSV cells (an Arrow string array without nulls) that iter_csv_values reads back
    as exactly column's values, or None when some value has no such cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if field.type == "string":
        if _zeros(pc.binary_length(column)):
            return None  # an empty cell reads back as null
        text = column
    elif field.type == "integer":
        text = pc.cast(column, pa.string())
    elif field.type == "number":
        # Python's repr is the cell (cells.py); Arrow's text of a float is another one.
        values = column.to_pylist()
        if any(v != v for v in values if v is not None):
            return None  # NaN: the NaN read back is not equal to it
        return _strings(["" if v is None else repr(v) for v in values])
    elif field.type == "date":
        days = pc.min_max(column.cast(pa.int32())).as_py()
        if days["min"] is not None and (days["min"] < _FIRST_DAY or days["max"] > _LAST_DAY):
            return None  # no Python date: the Parquet row cannot be read as one
        text = pc.cast(column, pa.string())  # ISO 8601, as date.isoformat
    elif field.type == "list":
        delimiter = field.delimiter or LIST_DELIMITER
        if not isinstance(delimiter, str) or len(delimiter) != 1 or column.null_count:
            return None  # a longer delimiter may match across items; null reads back as []
        items = pc.list_flatten(column)
        if items.null_count or pc.any(pc.match_substring(items, delimiter)).as_py():
            return None  # an item holding the delimiter reads back as two
        text = pc.binary_join(column, _text(delimiter))
        # An empty cell is an empty list or [""] (a longer list's cell holds a delimiter).
        if _zeros(pc.binary_length(text)) != _zeros(pc.list_value_length(column)):
            return None  # [""] reads back as []
    else:
        return None
    return pc.fill_null(text, _text(""))


def _csv_quoted(text: Any, *, alone: bool) -> Any:
    """Cells as the csv module writes them: quoted, with their quotes doubled, where they hold
    a comma, a quote or a line break, or (the only cell of its row) are empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    needs = pc.match_substring_regex(text, _QUOTED)
    if alone:
        needs = pc.or_(needs, pc.invert(pc.cast(pc.binary_length(text), pa.bool_())))
    if not pc.any(needs).as_py():
        return text
    quote = _text('"')
    doubled = pc.replace_substring(text, '"', '""')
    quoted = pc.binary_join_element_wise(quote, doubled, quote, _text(""))
    return pc.if_else(needs, quoted, text)


# The Arrow arrays and scalars here are made from bytes, never from Python values: pyarrow
# imports pandas (0.3 CPU s) the first time it converts a Python value, in a process that
# otherwise never needs it.
def _strings(texts: list[str]) -> Any:
    """An Arrow string array of texts."""
    import pyarrow as pa

    data = "".join(texts).encode("utf-8")
    ends = array.array("q", itertools.accumulate(map(len, texts), initial=0))
    if ends[-1] != len(data):  # not all ASCII: a character may take more than one byte
        ends = array.array(
            "q", itertools.accumulate((len(t.encode("utf-8")) for t in texts), initial=0)
        )
    offsets = pa.py_buffer(ends)
    return pa.Array.from_buffers(
        pa.large_string(), len(texts), [None, offsets, pa.py_buffer(data)]
    ).cast(pa.string())


@functools.cache
def _text(value: str) -> Any:
    """value as an Arrow string scalar."""
    found = _strings([value])[0]
    return found


def _zeros(lengths: Any) -> int:
    """How many of these lengths (an Arrow integer array, nulls left out) are zero."""
    import pyarrow as pa
    import pyarrow.compute as pc

    nonzero = pc.sum(pc.cast(pc.cast(lengths, pa.bool_()), pa.int64())).as_py() or 0
    return int(len(lengths) - lengths.null_count - nonzero)


def _string_bytes(lines: Any) -> Any:
    """The bytes of an Arrow string array's values, one after another."""
    import pyarrow as pa

    offsets = pa.Array.from_buffers(
        pa.int32(), len(lines) + 1, [None, lines.buffers()[1]], offset=lines.offset
    )
    start, stop = offsets[0].as_py(), offsets[-1].as_py()
    return lines.buffers()[2].slice(start, stop - start)


def _compare(package: _Package, res: dict[str, Any], rel: str) -> list[Issue]:
    with ExitStack() as stack:
        return _compare_held(package, res, rel, stack)


def _compare_held(
    package: _Package, res: dict[str, Any], rel: str, stack: ExitStack
) -> list[Issue]:
    try:
        spec = table_spec(res)
        expected_schema = arrow_schema(spec)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return [_malformed("datapackage.json", f"the schema of {res['name']} is unusable: {err!r}")]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Read from a file opened as every file of the package is (package.opened), held
        # open until the comparison is done.
        handle = _open(package.opened(rel))
        parquet = pq.ParquetFile(stack.enter_context(handle))
        found_schema = parquet.schema_arrow
        parquet_count = int(parquet.metadata.num_rows)
    except (OSError, ValueError, pa.ArrowException) as err:
        return [_malformed(rel, f"not a readable Parquet file: {printable(err)}")]
    if not found_schema.equals(expected_schema):
        return [
            Issue(
                rel,
                0,
                0,
                "parquet-differs-from-csv",
                "Arrow schema differs from the Table Schema",
                expected=str(expected_schema),
                found=str(found_schema),
            )
        ]
    # The common case, an intact package, is proved in Arrow at a fraction of the cost; any
    # doubt goes to the exact comparison below, which names the first differing row.
    try:
        with package.open(res["path"]) as source:
            if _same_as_csv(spec, parquet, source):
                return []
        data = package.read(res["path"])
    except OSError as err:
        return [_malformed(res["path"], f"not a readable CSV table: {printable(err)}")]
    return _compare_rows(spec, parquet, data, res["path"], rel, parquet_count)


def _compare_rows(
    spec: TableSpec, parquet: Any, data: bytes, csv_rel: str, rel: str, parquet_count: int
) -> list[Issue]:
    """The exact comparison: each CSV row read back into values as a reader of the package
    would, against the Parquet row, the first difference and both counts reported."""
    import pyarrow as pa

    # Row by row, a batch of the Parquet table at a time: neither table is ever held whole
    # as Python rows (at a million events, gigabytes each).
    end = object()
    try:
        rows = iter_csv_values(spec, data)
        first = next(rows, end)
    except (ValueError, KeyError, TypeError, csv.Error) as err:
        return [_malformed(csv_rel, f"not a readable CSV table: {printable(err)}")]
    # Rows as tuples in the schema's order (the Arrow schema equals the Table Schema's), made
    # column by column: the same values as to_pylist's dicts at a fraction of the cost.
    twins = (
        row
        for batch in parquet.iter_batches(batch_size=_BATCH)
        for row in zip(*(column.to_pylist() for column in batch.columns), strict=True)
    )
    compared = 0
    row: Any = first
    while True:
        try:
            twin = next(twins, end)
        except (OSError, ValueError, pa.ArrowException) as err:
            return [_malformed(rel, f"not a readable Parquet file: {printable(err)}")]
        if row is end and twin is end:
            return []
        if row != twin:
            break
        compared += 1
        try:
            row = next(rows, end)
        except (ValueError, KeyError, TypeError, csv.Error) as err:
            return [_malformed(csv_rel, f"not a readable CSV table: {printable(err)}")]
    try:
        csv_count = compared + (row is not end) + sum(1 for _ in rows)
    except (ValueError, KeyError, TypeError, csv.Error) as err:
        return [_malformed(csv_rel, f"not a readable CSV table: {printable(err)}")]
    return [
        Issue(
            rel,
            0,
            0,
            "parquet-differs-from-csv",
            f"{parquet_count} rows against {csv_count} in {csv_rel}; first difference at row {compared + 1}",
        )
    ]
