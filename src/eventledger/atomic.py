"""Writing a file so that a reader sees the old bytes or the new ones, never a part.

Every file the tool writes into a user's tree (records, derived docs, release manifests)
goes through here: written aside in the same folder, flushed to disk, then renamed over
the target, so a crash, a full disk or a kill mid-write leaves the old file in place.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def _default_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _kept_mode(path: Path) -> int:
    """The permissions of the regular file at path, or the default ones. Never those of what
    a link there points to: a link to a private key would make the new file private, a link
    to a setuid program would lend it its bits. The rename replaces the link itself, so its
    target's mode has nothing to do with the file written. Set-id and sticky bits are never
    kept: a data file has no use for them."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return _default_mode()
    if not stat.S_ISREG(st.st_mode):
        return _default_mode()
    return st.st_mode & 0o777


def write_atomically(
    path: Path, data: bytes, *, exclusive: bool = False, durable: bool = True
) -> None:
    """Replace path with data in one step; keep the permissions of the file it replaces.

    With exclusive, refuse (FileExistsError) instead of replacing a file that exists,
    even one that appeared while the data was being written. durable=False skips the
    flush to disk, for files that can be rebuilt and check themselves when read (the
    cache): a crash may then leave them empty or cut, never half-replaced.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mode = _kept_mode(path)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # fails instead of overwriting
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
