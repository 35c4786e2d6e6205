"""Whether a release zip holds exactly the files of its folder: what an unchanged build asks
of the zip it finds, since a build killed after renaming its folder into place and before
replacing the zip leaves an older zip beside the new folder."""

from __future__ import annotations

import hashlib
import lzma
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from eventledger.read.repository import open_regular

_CHUNK = 1 << 20

# What reading a damaged zip, or something that is no zip, raises; all mean "no match".
_UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,  # LZMA's decoder, on damaged data (bzip2's raises OSError)
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # a compression method zipfile cannot read
    RuntimeError,  # an encrypted member
)


def zip_holds(archive: Path, prefix: str, known: Mapping[str, tuple[str, int]]) -> bool:
    """Whether the zip at archive holds exactly the files known names (rel -> SHA-256 and
    size), each as prefix/rel with that SHA-256, and nothing else. Members are hashed a
    chunk at a time, and one whose stated size is not the file's is not read: a zip of any
    size, or a zip bomb, costs no more memory than a chunk. A link, a FIFO or a folder in
    the zip's place holds nothing (it is never followed or opened blocking)."""
    try:
        fd, _ = open_regular(archive)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        try:
            return _members_match(zipfile.ZipFile(handle), f"{prefix}/", known)
        except _UNREADABLE:
            return False


def _members_match(zf: zipfile.ZipFile, prefix: str, known: Mapping[str, tuple[str, int]]) -> bool:
    members = zf.infolist()
    if len(members) != len(known):
        return False
    seen: set[str] = set()
    for info in members:
        rel = info.filename.removeprefix(prefix)
        if rel == info.filename or rel not in known or rel in seen:
            return False
        seen.add(rel)
        digest, size = known[rel]
        if info.file_size != size:
            return False
        hashed = hashlib.sha256()
        with zf.open(info) as member:  # checks the member's CRC at its end, too
            while chunk := member.read(_CHUNK):
                hashed.update(chunk)
        if hashed.hexdigest() != digest:
            return False
    return True
