"""Deterministic zip archives: fixed order, timestamps, permissions and compression, no extras.

Reading a release's zip back is verify's job (one unpacker, which trusts no name), or
manifest_stream's for the members diff reads where they are."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

_CHUNK = 1 << 20
# Deflate level 1. Level 9 -> 6 halved the zip's CPU for a zip 0.6% larger (10k synthetic
# events: 2.8 s -> 1.3 s, 27.17 -> 27.34 MB); 6 -> 1 halves it again for 11% more (30k
# events, 457 MB of files, mostly site pages: deflate 4.0 -> 2.2 s CPU, 81.9 -> 90.8 MB).
# The zip is made beside the rest of the build on the second core, which the tables' check
# and the workbook share: there, its CPU is the build's time.
LEVEL = 1
# Files up to this size are read whole and deflated by small_member; larger ones stream
# through zipfile a chunk at a time, so memory stays bounded whatever the package holds.
_WHOLE = _CHUNK
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class ChangedOnDisk(Exception):
    """A file read back for the zip is not the file whose checksum SHA256SUMS records."""


def _info(name: str, created: dt.datetime, size: int) -> zipfile.ZipInfo:
    when = created.astimezone(dt.UTC)
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever system builds it
    info.external_attr = (0o100644 & 0xFFFF) << 16
    # What writestr(..., compresslevel=LEVEL) sets; with the size known up front, open("w")
    # makes the same zip64 choice writestr makes, so both give the same bytes.
    info.file_size = size
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", LEVEL)
    return info


def zip_folder(
    folder: Path,
    names: Iterable[str],
    prefix: str,
    created: dt.datetime,
    sink: IO[bytes],
    digests: Mapping[str, str],
) -> None:
    """Zip the files of folder named by names (sorted, under prefix/) into sink, a chunk at a
    time, so a package of any size costs no memory; the same bytes
    zipfile's writestr gives for the same files. Each file is hashed as it is read, and ChangedOnDisk is raised unless it is
    the file digests records: the zip holds exactly what SHA256SUMS names."""
    with zipfile.ZipFile(sink, "w") as zf:
        for rel in sorted(names, key=lambda rel: f"{prefix}/{rel}"):
            add_member(zf, folder, rel, prefix, created, digests.get(rel))


def add_member(
    zf: zipfile.ZipFile,
    folder: Path,
    rel: str,
    prefix: str,
    created: dt.datetime,
    digest: str | None,
) -> zipfile.ZipInfo:
    """Append folder/rel to zf as prefix/rel, read a chunk at a time without following a
    link; ChangedOnDisk unless its SHA-256 is digest. Returns the member's ZipInfo."""
    fd = os.open(folder / rel, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "rb") as src:
        size = os.fstat(fd).st_size
        hashed = hashlib.sha256()
        info = _info(f"{prefix}/{rel}", created, size)
        with zf.open(info, "w") as dest:
            while chunk := src.read(_CHUNK):
                hashed.update(chunk)
                dest.write(chunk)
    if hashed.hexdigest() != digest:
        raise ChangedOnDisk(rel)
    return info


def small_member(
    folder: str, rel: str, prefix: str, created: dt.datetime, digest: str
) -> tuple[zipfile.ZipInfo, bytes] | None:
    """folder/rel, read whole without following a link, as the bytes zipfile's writer gives a
    member (local header, then the deflated data) and its ZipInfo, ready for the central
    directory; ChangedOnDisk unless its SHA-256 is digest. None for a file above _WHOLE bytes,
    or one whose size changed while read: add_member writes those through zipfile.

    Why not zipfile: at 100k events (101k members, mostly 7.7 KB site pages) its writer cost
    nearly as much again as the deflate itself (py-spy: 11 s deflating, about 9 s in opening a
    write handle, seeking back to rewrite each local header, buffered reads); the zip child
    went from 21.1 and 19.2 to 15.8 and 14.8 CPU seconds. What it does for a member that needs no
    zip64 (what _open_to_write and _ZipWriteFile.close do for a seekable file) is this:
    flag bits 0, one raw deflate stream (_get_compressor: the level, DEFLATED, wbits -15),
    CRC-32 and both sizes in the local header, which FileHeader(False) packs.
    tests/test_zip_stream.py holds the bytes to zipfile's own."""
    fd = os.open(f"{folder}/{rel}", os.O_RDONLY | _NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        if size > _WHOLE:
            return None
        # One byte more than fstat said: a file that grew since is seen, not cut short.
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    if len(data) != size:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        raise ChangedOnDisk(rel)
    info = _info(f"{prefix}/{rel}", created, size)
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush()
    info.flag_bits = 0
    info.CRC = zlib.crc32(data)
    info.compress_size = len(body)
    return info, info.FileHeader(False) + body
