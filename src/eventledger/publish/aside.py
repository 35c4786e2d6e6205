"""The folder a build writes aside before it is checked and renamed into place: every file
is written once, as soon as it is made, and hashed as it is written, so no step holds the
whole package in memory and SHA256SUMS needs no second read."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from eventledger.publish.verify import SUMS, safe_relative

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class UnsafeName(ValueError):
    """A name that would leave the folder (names in a build come from the repository)."""


class AsideFolder:
    """A fresh, empty folder this build made itself (so it holds no link to follow), and the
    SHA-256 and size of every file written into it."""

    def __init__(
        self, folder: Path, written: Callable[[str, str, int], None] | None = None
    ) -> None:
        self.folder = folder
        self._root = os.fspath(folder)
        # told (path, sha256, size) of each file once it is written whole: the zip is made
        # as they come
        self.written = written
        self.known: dict[str, tuple[str, int]] = {}  # relative path -> (sha256, bytes)
        self._folders: set[str] = set()

    def path(self, rel: str) -> Path:
        if safe_relative(rel) is None:
            raise UnsafeName(rel)
        return self.folder / rel

    def add(self, rel: str, data: bytes) -> None:
        """Write a new file (never over one: each name is written once)."""
        if safe_relative(rel) is None:
            raise UnsafeName(rel)
        parent = rel.rpartition("/")[0]
        if parent and parent not in self._folders:
            (self.folder / parent).mkdir(parents=True, exist_ok=True)
            self._folders.add(parent)
        # A str path (safe_relative's rel has no empty, '.' or '..' part, so it is the same
        # path as self.folder / rel) and the descriptor itself: a Path and a buffered file
        # object per file were half the Python time of writing 30,000 pages of a site.
        fd = os.open(f"{self._root}/{rel}", _FLAGS, 0o666)
        try:
            written = os.write(fd, data)
            while written < len(data):  # a short write (a nearly full disk): the rest
                more = os.write(fd, memoryview(data)[written:])
                if not more:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path(rel)))
                written += more
        finally:
            os.close(fd)
        self._known(rel, hashlib.sha256(data).hexdigest(), len(data))

    def add_blocks(self, rel: str, blocks: Iterable[bytes]) -> None:
        """A new file written a block at a time as blocks yields them (a file too large to
        hold whole as bytes next to what it is made from), hashed as it is written."""
        path = self.path(rel)
        parent = rel.rpartition("/")[0]
        if parent and parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(parent)
        digest = hashlib.sha256()
        size = 0
        fd = os.open(path, _FLAGS, 0o666)
        with os.fdopen(fd, "wb") as handle:
            for block in blocks:
                handle.write(block)
                digest.update(block)
                size += len(block)
        self._known(rel, digest.hexdigest(), size)

    def add_made(self, rel: str, make: Callable[[Path, Path], None]) -> None:
        """A new file that make(path, scratch) writes itself (a database too large to hold as
        bytes); scratch is a name beside it for make's own temporary file, which make removes.
        The file is then hashed as it is read back, in blocks."""
        path = self.path(rel)
        parent = rel.rpartition("/")[0]
        if parent and parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(parent)
        make(path, path.with_name(f".{path.name}.scratch"))
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
                size += len(block)
        self._known(rel, digest.hexdigest(), size)

    def _known(self, rel: str, digest: str, size: int) -> None:
        self.known[rel] = (digest, size)
        if self.written is not None:
            self.written(rel, digest, size)

    def sums(self) -> bytes:
        """SHA256SUMS: every file written so far, sorted by path."""
        return "".join(f"{self.known[p][0]}  {p}\n" for p in sorted(self.known)).encode("utf-8")

    def add_sums(self) -> bytes:
        data = self.sums()
        self.add(SUMS, data)
        return data

    @property
    def digests(self) -> dict[str, str]:
        return {rel: digest for rel, (digest, _) in self.known.items()}
