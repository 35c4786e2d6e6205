"""Deterministic zip archives: fixed order, timestamps, permissions and compression, no extras.

Reading a release's zip back is verify.release_folder's job: one unpacker, which trusts no name."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence


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
