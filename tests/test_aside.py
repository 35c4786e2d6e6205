"""The folder a build writes aside: each file written once, whole, and hashed as written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from eventledger.publish.aside import AsideFolder, UnsafeName


def test_a_file_is_written_whole_hashed_and_told(tmp_path: Path) -> None:
    told: list[tuple[str, str, int]] = []
    out = AsideFolder(tmp_path, lambda rel, digest, size: told.append((rel, digest, size)))
    data = "Ä page\n".encode() * 1000
    out.add("site/events/a.html", data)
    out.add("top.txt", b"")
    digest = hashlib.sha256(data).hexdigest()
    assert (tmp_path / "site/events/a.html").read_bytes() == data
    assert (tmp_path / "top.txt").read_bytes() == b""
    assert out.known["site/events/a.html"] == (digest, len(data))
    assert told[0] == ("site/events/a.html", digest, len(data))


def test_a_short_write_is_followed_by_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write may write less than it was given (a signal, a nearly full disk): the rest
    follows, so the file is whole; a write of nothing is a full disk, not a loop."""
    real = os.write
    monkeypatch.setattr(
        "eventledger.publish.aside.os.write", lambda fd, data: real(fd, bytes(data)[:100])
    )
    out = AsideFolder(tmp_path)
    data = bytes(range(256)) * 20
    out.add("a/b.bin", data)
    assert (tmp_path / "a/b.bin").read_bytes() == data
    assert out.known["a/b.bin"] == (hashlib.sha256(data).hexdigest(), len(data))
    monkeypatch.setattr("eventledger.publish.aside.os.write", lambda fd, data: 0)
    with pytest.raises(OSError, match="No space left"):
        out.add("a/c.bin", data)


def test_a_name_is_written_once_and_never_through_a_link(tmp_path: Path) -> None:
    out = AsideFolder(tmp_path)
    out.add("x/one.html", b"first")
    with pytest.raises(FileExistsError):
        out.add("x/one.html", b"second")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.write_bytes(b"kept")
    (tmp_path / "x/link.html").symlink_to(outside)
    with pytest.raises(FileExistsError):
        out.add("x/link.html", b"through the link")
    assert outside.read_bytes() == b"kept"
    assert (tmp_path / "x/one.html").read_bytes() == b"first"
    for bad in ("../up.html", "/abs.html", "a//b.html", "a/./b.html", ""):
        with pytest.raises(UnsafeName):
            out.add(bad, b"no")
    assert set(out.known) == {"x/one.html"}
