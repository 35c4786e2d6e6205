"""zip_holds: a zip holds a folder's files when it holds exactly them, under the release's
prefix, byte for byte; anything else (another build's zip, a cut one, no zip) does not."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from eventledger.publish.archive import zip_folder
from eventledger.publish.zip_match import zip_holds
from releasekit import damaged_zip

PREFIX = "ledger-0.1.0"
FILES = {"SHA256SUMS": b"sums\n", "data/events.csv": b"id\n" * 1000, "site/index.html": b"<p>"}
WHEN = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


def known(files: dict[str, bytes]) -> dict[str, tuple[str, int]]:
    return {rel: (hashlib.sha256(data).hexdigest(), len(data)) for rel, data in files.items()}


def release_zip(tmp_path: Path, files: dict[str, bytes], prefix: str = PREFIX) -> Path:
    folder = tmp_path / "folder"
    folder.mkdir(exist_ok=True)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    path = tmp_path / "release.zip"
    digests = {rel: digest for rel, (digest, _) in known(files).items()}
    with path.open("wb") as sink:
        zip_folder(folder, digests, prefix, WHEN, sink, digests)
    return path


def test_the_zip_of_the_folder_holds_it(tmp_path: Path) -> None:
    assert zip_holds(release_zip(tmp_path, FILES), PREFIX, known(FILES))


@pytest.mark.parametrize(
    "other",
    [
        {**FILES, "data/events.csv": b"id\n" * 999 + b"ix\n"},  # same size, other bytes
        {**FILES, "data/extra.csv": b"more"},
        {rel: data for rel, data in FILES.items() if rel != "site/index.html"},
    ],
    ids=["other bytes", "a file more", "a file less"],
)
def test_a_zip_of_other_files_does_not(tmp_path: Path, other: dict[str, bytes]) -> None:
    assert not zip_holds(release_zip(tmp_path, other), PREFIX, known(FILES))


def test_a_zip_under_another_prefix_does_not(tmp_path: Path) -> None:
    assert not zip_holds(release_zip(tmp_path, FILES, "ledger-0.0.9"), PREFIX, known(FILES))


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_member_twice_does_not(tmp_path: Path) -> None:
    """As many members as files, but one twice and another missing."""
    path = tmp_path / "twice.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel in ("SHA256SUMS", "data/events.csv", "data/events.csv"):
            zf.writestr(f"{PREFIX}/{rel}", FILES[rel])
    assert not zip_holds(path, PREFIX, known(FILES))


@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
def test_a_zip_whose_member_is_damaged_does_not(tmp_path: Path, method: int) -> None:
    """In any compression zipfile reads: LZMA's decoder raises an error of its own."""
    noise = b"".join(hashlib.sha256(bytes([n])).digest() for n in range(99))  # no compression
    files = {**FILES, "data/events.csv": noise}
    members = {f"{PREFIX}/{rel}": data for rel, data in files.items()}
    path = damaged_zip(tmp_path / "damaged.zip", members, f"{PREFIX}/data/events.csv", method)
    assert not zip_holds(path, PREFIX, known(files))


@pytest.mark.parametrize("cut", [0, 22, 100, -1])
def test_a_zip_cut_short_does_not(tmp_path: Path, cut: int) -> None:
    path = release_zip(tmp_path, FILES)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    assert not zip_holds(path, PREFIX, known(FILES))


def test_what_is_no_zip_does_not_and_is_never_followed_or_waited_for(tmp_path: Path) -> None:
    text = tmp_path / "text.zip"
    text.write_bytes(b"not a zip at all\n")
    fifo = tmp_path / "fifo.zip"
    os.mkfifo(fifo)  # with no writer: opened to read without O_NONBLOCK, it waits for ever
    folder = tmp_path / "folder.zip"
    folder.mkdir()
    link = tmp_path / "link.zip"
    link.symlink_to(release_zip(tmp_path, FILES))
    for path in (text, fifo, folder, link, tmp_path / "missing.zip"):
        assert not zip_holds(path, PREFIX, known(FILES)), path
