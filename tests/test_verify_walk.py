"""The walk of a package folder that `eventledger verify` and every build run: what is not a
regular file (a link, a FIFO, a socket) is reported and never followed or opened, and a
folder swapped for a link after it was listed is not walked into. The cases are made at run
time: git carries neither FIFOs nor sockets. (Folders without permissions are in
test_hostile.py, run without root's override.)"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from pathlib import Path

import pytest

from eventledger.publish import verify as verify_module
from eventledger.publish.verify import verify, verify_package
from releasekit import make_package

LINK = "a symbolic link inside the package; it is not followed"
SPECIAL = "not a regular file; it is not opened"


def walk_issues(folder: Path) -> set[tuple[str, str, str]]:
    """What verify says of the folder, but for the two descriptors these packages lack."""
    return {
        (i.file, i.code, i.message)
        for i in verify(folder)
        if i.message != "the descriptor is missing"
    }


FILES = {"data/events.csv": b"a\n", "site/a/b/page.html": b"<p>", "site/index.html": b"<html>"}


def test_every_regular_file_at_every_depth_is_found(tmp_path: Path) -> None:
    package = make_package(tmp_path / "pkg", FILES)
    (package / "site" / "empty").mkdir()
    assert walk_issues(package) == set()
    _, checked = verify_package(package)
    assert checked == len(FILES) + 1  # and SHA256SUMS


def test_links_and_special_files_are_reported_not_followed_or_opened(tmp_path: Path) -> None:
    outside = make_package(tmp_path / "outside", {"secret.txt": b"secret"})
    package = make_package(tmp_path / "pkg", FILES)
    (package / "more").symlink_to(outside)  # a link to a folder
    (package / "data" / "linked.csv").symlink_to(outside / "secret.txt")
    (package / "site" / "gone.html").symlink_to(tmp_path / "nothing")  # dangling
    os.mkfifo(package / "site" / "a" / "pipe")  # no writer: opened to read, it would block
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(package / "site" / "sock"))
        found = walk_issues(package)
    assert found == {
        ("more", "package-path-unsafe", LINK),
        ("data/linked.csv", "package-path-unsafe", LINK),
        ("site/gone.html", "package-path-unsafe", LINK),
        ("site/a/pipe", "package-path-unsafe", SPECIAL),
        ("site/sock", "package-path-unsafe", SPECIAL),
    }  # and no "more/secret.txt ... not listed": the linked folder was not walked


def test_a_folder_given_as_a_link_is_walked(tmp_path: Path) -> None:
    """The user names the package; only links inside it are refused."""
    package = make_package(tmp_path / "pkg", FILES)
    (tmp_path / "named").symlink_to(package)
    assert walk_issues(tmp_path / "named") == set()


def test_a_folder_swapped_for_a_link_after_it_was_listed_is_not_walked_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between listing a folder and opening the folders in it, someone replaces one with a
    link to a folder outside. The moment cannot be reached from outside the walk: the real
    listing is run, then the real swap made on disk, before the walk goes on."""
    outside = make_package(tmp_path / "outside", {"secret.txt": b"secret"})
    package = make_package(tmp_path / "pkg", FILES)
    listed = verify_module._Package._list

    def then_swap(
        self: verify_module._Package, fd: int, prefix: str, only: Iterable[str] | None
    ) -> list[str]:
        folders = listed(self, fd, prefix, only)
        if prefix == "":
            (package / "site").rename(tmp_path / "site-moved")
            (package / "site").symlink_to(outside)
        return folders

    monkeypatch.setattr(verify_module._Package, "_list", then_swap)
    with verify_module._Package(package) as package_seen:
        assert "site" not in {rel.split("/")[0] for rel in package_seen.files}
        assert not any("secret" in rel for rel in package_seen.files)
        assert [(i.file, i.message) for i in package_seen.issues] == [("site", LINK)]


def test_a_file_whose_name_is_not_utf8_is_reported_not_a_traceback(tmp_path: Path) -> None:
    package = make_package(tmp_path / "pkg", FILES)
    (package / os.fsdecode(b"bad\xffname")).write_bytes(b"x")
    assert walk_issues(package) == {
        ("bad\\udcffname", "checksum-mismatch", "file not listed in SHA256SUMS")
    }


def test_a_folder_swapped_for_a_link_after_the_walk_is_not_followed_by_its_reads(
    tmp_path: Path,
) -> None:
    """Between the walk and the hashing of the files (a standalone verify of 100k events
    hashes for seconds), someone replaces a folder with a link to a folder outside holding
    the same names, and the same bytes: followed, the check would pass on files that are not
    in the package. Every read opens each folder below the package with O_NOFOLLOW."""
    outside = make_package(tmp_path / "outside", {"b/page.html": b"<p>"})
    package = make_package(tmp_path / "pkg", FILES)
    with verify_module._Package(package) as seen:
        assert "site/a/b/page.html" in seen.files
        (package / "site" / "a").rename(tmp_path / "a-moved")
        (package / "site" / "a").symlink_to(outside)
        with pytest.raises(OSError):
            seen.sha256("site/a/b/page.html")
        with pytest.raises(OSError):
            seen.read("site/a/b/page.html")
        assert seen.read("site/index.html") == b"<html>"  # the rest is read as ever
    # The same swap once its folder is being read from: the files read are still the ones
    # walked (the folder moved away), never the link's.
    (tmp_path / "a-moved" / "b" / "other.html").write_bytes(b"walked")
    (package / "site" / "a").unlink()
    (tmp_path / "a-moved").rename(package / "site" / "a")
    (outside / "b" / "other.html").write_bytes(b"outside")
    with verify_module._Package(package) as seen:
        assert seen.read("site/a/b/page.html") == b"<p>"
        (package / "site" / "a").rename(tmp_path / "a-moved-again")
        (package / "site" / "a").symlink_to(outside)
        assert seen.read("site/a/b/other.html") == b"walked"
