"""write_atomically replaces a file in one step and keeps the permissions of the file it
replaces, never those of what a link in its place points to."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from eventledger.atomic import write_atomically


def default_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_permissions_of_the_replaced_file_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "record.yaml"
    path.write_bytes(b"old\n")
    path.chmod(0o640)
    write_atomically(path, b"new\n")
    assert path.read_bytes() == b"new\n" and mode(path) == 0o640


def test_set_id_bits_are_never_kept(tmp_path: Path) -> None:
    path = tmp_path / "record.yaml"
    path.write_bytes(b"old\n")
    path.chmod(0o4755 | stat.S_ISGID)
    write_atomically(path, b"new\n")
    assert mode(path) == 0o755


@pytest.mark.parametrize("target_mode", [0o600, 0o4755], ids=["private", "setuid"])
def test_a_link_is_replaced_and_what_it_points_to_lends_nothing(
    tmp_path: Path, target_mode: int
) -> None:
    target = tmp_path / "private"
    target.write_bytes(b"secret\n")
    target.chmod(target_mode)
    path = tmp_path / "manifest.json"
    path.symlink_to(target)
    write_atomically(path, b"{}\n")
    assert not path.is_symlink() and path.read_bytes() == b"{}\n"
    assert mode(path) == default_mode()
    assert target.read_bytes() == b"secret\n" and mode(target) == target_mode


def test_exclusive_refuses_a_file_that_exists_and_leaves_nothing_aside(tmp_path: Path) -> None:
    path = tmp_path / "source.yaml"
    path.write_bytes(b"old\n")
    with pytest.raises(FileExistsError):
        write_atomically(path, b"new\n", exclusive=True)
    assert path.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.yaml"]
