"""Where records live: the fixed layout of an eventledger repository."""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from eventledger.model.kinds import LAYOUTS, Layout

MARKERS = ("datapackage.json", "schema")


DATA_FOLDERS = tuple(dict.fromkeys(layout.folder for layout in LAYOUTS))


class RepositoryNotFound(Exception):
    """No eventledger repository at or above the given directory (a usage error)."""


class OutsideRepository(ValueError):
    """A path given on the command line that is not in the repository (a usage error)."""


class RecordFile(NamedTuple):
    """A file in a data folder. A named tuple, not a dataclass: a warm check makes one per
    file of the repository, and a tuple is made in a third of the time."""

    kind: str  # a Layout's kind ("event", ...); for a stray "unexpected", "symlink", ...
    where: str  # absolute, as text: a Path per file costs more than a warm check's stat
    rel: str  # repo-relative, POSIX
    id_folder: bool = False  # the record's id is its folder's name, not its file's stem
    detail: str = ""  # why a stray could not be read

    @property
    def path(self) -> Path:
        return Path(self.where)

    @property
    def name(self) -> str:
        return self.rel.rpartition("/")[2]

    @property
    def folder(self) -> str:
        """The name of the folder it is in."""
        return self.rel.rpartition("/")[0].rpartition("/")[2]

    @property
    def expected_id(self) -> str:
        if self.id_folder:
            return self.folder
        name = self.name
        dot = name.rfind(".")
        return name[:dot] if 0 < dot < len(name) - 1 else name  # Path.stem's rule


@dataclass(frozen=True)
class Repository:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Repository:
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if all((candidate / m).exists() for m in MARKERS):
                return cls(candidate)
        raise RepositoryNotFound(
            f"no eventledger repository (a folder with {' and '.join(MARKERS)}) at or above {here}"
        )

    def dataset_version(self) -> str:
        """'<name> <version>' from the root datapackage.json, or why it cannot be read."""
        try:
            data = json.loads((self.root / "datapackage.json").read_text(encoding="utf-8"))
            return f"{data['name']} {data['version']}"
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"unknown (datapackage.json: {err.__class__.__name__})"

    @property
    def schema_dir(self) -> Path:
        return self.root / "schema"

    def rel(self, path: Path) -> str:
        """path relative to the root (POSIX). The last part is not resolved, so a symbolic
        link is named as itself, not as what it points to; ValueError when outside."""
        path = Path(os.path.abspath(path))
        return (path.parent.resolve() / path.name).relative_to(self.root).as_posix()

    def inside(self, path: Path) -> str:
        """The repo-relative path of path, or OutsideRepository: the tool reads and writes
        nothing outside the repository it was given."""
        try:
            return self.rel(path)
        except ValueError:
            raise OutsideRepository(f"{path} is not in the repository {self.root}") from None

    def checkable(self, path: Path) -> str:
        """The repo-relative path of something validate can check: the root, a folder or file
        under events/, actors/ or sources/, or datapackage.json; OutsideRepository otherwise."""
        rel = self.inside(path)
        top = rel.split("/", 1)[0]
        if rel in (".", "datapackage.json") or top in DATA_FOLDERS:
            return rel
        raise OutsideRepository(
            f"{rel} is not a record, a source text or a folder of them; "
            f"validate checks {', '.join(f'{f}/' for f in DATA_FOLDERS)} and datapackage.json"
        )

    def source_text(self, source_id: str) -> Path:
        """Where the text of source_id lives. An id is one folder name, never a path: ValueError
        for anything that could leave sources/ ('..', a slash, a NUL)."""
        if (
            not source_id
            or source_id in (".", "..")
            or any(c in source_id for c in "/\\\0")
            or source_id.startswith(".")
        ):
            raise ValueError(f"source id {source_id!r} is a path, not an id")
        return self.root / "sources" / source_id / "text.txt"

    def layout_of(self, path: Path) -> Layout | None:
        """The layout of the kind whose record the file at path is, if it is one."""
        try:
            parts = path.resolve().relative_to(self.root).parts
        except ValueError:
            return None
        return next((x for x in LAYOUTS if parts[:1] == (x.folder,) and _fits(x, parts[1:])), None)

    def discover(
        self, seen: list[tuple[str, os.stat_result | None]] | None = None
    ) -> tuple[list[RecordFile], list[RecordFile]]:
        """Every record file, and every entry that is not one: files that do not belong where
        they are (kind 'unexpected'), symbolic links ('symlink'), FIFOs, sockets and devices
        ('special') and folders that cannot be listed ('unreadable-folder').

        Nothing is followed or opened: a link can point outside the repository and a FIFO
        blocks whoever opens it. A folder that cannot be listed is reported, never skipped:
        its records would silently be missing from the check and the release.

        Each folder is walked once, and each file in it is matched against every layout of
        that folder: two kinds can share one (sources/<id>/ holds a source and its uncoded
        set), and a file that is a record or companion of one is no stray of the other.

        seen, when given, receives every data folder and what lstat said of it before it
        was listed (None: it does not exist): check/incremental.py trusts the listing again
        while those stay the same, since adding, removing or renaming an entry changes its
        folder's times.
        """
        found: list[RecordFile] = []
        stray: list[RecordFile] = []
        folders: dict[str, list[Layout]] = {}
        for layout in LAYOUTS:
            folders.setdefault(layout.folder, []).append(layout)
        for folder, layouts in folders.items():
            base = self.root / folder
            try:
                info = os.lstat(base)
            except FileNotFoundError:
                if seen is not None:
                    seen.append((folder, None))
                continue
            except OSError as err:
                if seen is not None:
                    seen.append((folder, None))
                stray.append(
                    RecordFile("unreadable-folder", str(base), folder, detail=err.strerror or "")
                )
                continue
            if seen is not None:
                seen.append((folder, info))
            mode = info.st_mode
            if stat.S_ISLNK(mode):
                stray.append(RecordFile("symlink", str(base), folder))
            elif stat.S_ISDIR(mode):
                self._walk(layouts, folder, found, stray, seen)
        return found, stray

    def _walk(
        self,
        layouts: list[Layout],
        top: str,
        found: list[RecordFile],
        stray: list[RecordFile],
        seen: list[tuple[str, os.stat_result | None]] | None,
    ) -> None:
        # Paths as text throughout: at a hundred thousand files, pathlib's parsing costs more
        # than the listing itself.
        root = str(self.root)
        pending: list[tuple[str, tuple[str, ...]]] = [(top, ())]
        while pending:
            rel_folder, below = pending.pop()  # below: the folder's parts under top
            folder = f"{root}/{rel_folder}"
            if seen is not None and below:  # the top folder was stat-ed above
                try:
                    seen.append((rel_folder, os.lstat(folder)))
                except OSError:
                    seen.append((rel_folder, None))
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
                # Telling a folder from a file can itself fail (d_type unknown, no permission).
                kinds = [(e, _entry_kind(e)) for e in entries]
            except OSError as err:
                stray.append(
                    RecordFile("unreadable-folder", folder, rel_folder, detail=err.strerror or "")
                )
                continue
            subfolders: list[tuple[str, tuple[str, ...]]] = []
            for entry, what in kinds:
                name = entry.name
                if name.startswith("."):  # git's, editors' and the OS's own files
                    continue
                rel = f"{rel_folder}/{name}"
                if what == "folder":
                    subfolders.append((rel, (*below, name)))
                elif what != "file":
                    stray.append(RecordFile(what, entry.path, rel))
                elif name != "README.md":
                    parts = (*below, name)
                    fits = [layout for layout in layouts if _fits(layout, parts)]
                    if fits:
                        # A file two layouts claim is read as the one listed first.
                        layout = fits[0]
                        found.append(RecordFile(layout.kind, entry.path, rel, layout.id_folder))
                    elif not any(_companion(layout, parts) for layout in layouts):
                        stray.append(RecordFile("unexpected", entry.path, rel))
            pending.extend(reversed(subfolders))  # depth first, in name order


def _entry_kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "special"


class NotRegularFile(OSError):
    """A path the tool refuses to open: a symbolic link (anywhere below the repository root)
    or a FIFO, socket or device."""


class FileTooLarge(Exception):
    """A file larger than the caller's limit; it was not read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size:,} bytes")
        self.size = size


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor of path, which must be a regular file and not a symbolic link, and what
    fstat says of it: opened with O_NOFOLLOW | O_NONBLOCK (a FIFO never blocks the open).
    NotRegularFile otherwise; the caller closes it."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotRegularFile(errno.ELOOP, "is a symbolic link", str(path)) from err
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, "is not a regular file", str(path))
    return fd, info


def read_regular(path: Path, root: Path | None = None, limit: int | None = None) -> bytes:
    """The bytes of path, which must be a regular file reached without a symbolic link
    (checked from root down, when given). Never follows a link and never blocks on a FIFO:
    the file is opened with O_NOFOLLOW | O_NONBLOCK and checked with fstat before reading.
    FileTooLarge, without reading, when it holds more than limit bytes; FileTooLarge too
    when it grew past limit since, after reading at most limit + 1 bytes."""
    if root is not None:
        here = path.parent
        while here != root and root in here.parents:
            if here.is_symlink():
                raise NotRegularFile(
                    errno.ELOOP, "a folder on the way is a symbolic link", str(here)
                )
            here = here.parent
    fd, info = open_regular(path)
    try:
        return _read_all(fd, info.st_size, limit)
    finally:
        os.close(fd)


_GROWN_CHUNK = 1 << 16  # what is read at a time past the size fstat gave


def _read_all(fd: int, size: int, limit: int | None) -> bytes:
    # The first read asks for the size fstat gives plus one byte, not for limit + 1:
    # CPython allocates whatever a read asks for before it reads, and a megabyte per
    # record file, shrunk after, doubled the time to read 50k small files. The byte more
    # tells a file that grew since from one that did not; reading on until end of file
    # keeps every byte of one that grew (or whose size fstat does not give, as in /proc).
    if limit is not None and size > limit:
        raise FileTooLarge(size)
    parts: list[bytes] = []
    total = 0
    want = size + 1
    while want > 0:
        chunk = os.read(fd, want)
        if not chunk:
            return b"".join(parts)  # one part is returned as it is, not copied
        parts.append(chunk)
        total += len(chunk)
        want = _GROWN_CHUNK if limit is None else min(_GROWN_CHUNK, limit + 1 - total)
    raise FileTooLarge(total)  # limit + 1 bytes read: it grew past the limit since fstat


def _fits(layout: Layout, parts: tuple[str, ...]) -> bool:
    """Whether a path under the kind's folder is one of its records. A file directly in a
    year-foldered kind's folder fits too: its folder is then reported as wrong."""
    if layout.id_folder:
        return len(parts) == 2 and parts[1] == layout.file
    depth = (1, 2) if layout.year_from is not None else (1,)
    return len(parts) in depth and parts[-1].endswith(".yaml")


def _companion(layout: Layout, parts: tuple[str, ...]) -> bool:
    return layout.id_folder and len(parts) == 2 and parts[1] in layout.companions
