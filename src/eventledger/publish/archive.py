"""Deterministic zip archives: fixed order, timestamps, permissions and compression, no extras;
and a release given as its zip, unpacked safely."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath


def write_zip(
    entries: Sequence[tuple[str, bytes]], created: dt.datetime, *, sort: bool = True
) -> bytes:
    """A zip of (name, bytes) entries whose bytes depend only on the entries and `created`."""
    when = created.astimezone(dt.UTC)
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    buffer = io.BytesIO()
    items = sorted(entries) if sort else list(entries)
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever system builds it
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


class ArchiveError(Exception):
    """A zip that is not a release archive: unreadable, or with names that leave its folder."""


# A release zip holds one folder of a few dozen files; anything far larger is not one.
MAX_ENTRIES = 10_000
MAX_UNPACKED = 4 * 1024**3


@contextlib.contextmanager
def release_folder(path: Path) -> Iterator[Path]:
    """The folder of a release given as itself or as its zip (unpacked into a temporary
    folder that is removed afterwards).

    A zip's names are checked before anything is written: each one relative, inside one
    top folder, without '..', no links; so a crafted archive cannot write outside it.
    """
    if path.is_dir():
        yield path
        return
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise ArchiveError(f"{path}: not a folder and not a readable zip ({err})") from err
    with archive, tempfile.TemporaryDirectory(prefix="eventledger-release-") as tmp:
        entries = archive.infolist()
        tops = {PurePosixPath(e.filename).parts[0] for e in entries if e.filename}
        total = sum(e.file_size for e in entries)
        if len(entries) > MAX_ENTRIES or total > MAX_UNPACKED:
            raise ArchiveError(f"{path}: {len(entries)} entries, {total} bytes: not a release zip")
        for entry in entries:
            name = PurePosixPath(entry.filename)
            link = (entry.external_attr >> 16) & 0o170000 == 0o120000
            if name.is_absolute() or ".." in name.parts or "\\" in entry.filename or link:
                raise ArchiveError(f"{path}: refusing the entry {entry.filename!r}")
        if len(tops) != 1:
            raise ArchiveError(
                f"{path}: a release zip holds one folder (<name>-<version>/); found {len(tops)}"
            )
        archive.extractall(tmp)
        yield Path(tmp) / tops.pop()
