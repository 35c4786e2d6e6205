"""The parts a build is written with: the zip streamed from disk, the children that work beside
it, and the tables' check in a process of its own."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from eventledger.publish.archive import LEVEL, ChangedOnDisk, zip_folder
from eventledger.publish.children import ChildFailed
from eventledger.publish.release import BuildResult, build
from eventledger.publish.tables_check import TablesCheck, check_tables
from eventledger.read.repository import Repository
from releasekit import make_release_repository

CREATED = dt.datetime(2026, 11, 22, 9, 30, 5, tzinfo=dt.UTC)
FILES = {"b/x.txt": b"hello " * 1000, "a/empty": b"", "c.bin": bytes(range(256)) * 300}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pkg"
    for rel, data in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def _digests() -> dict[str, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in FILES.items()}


def test_the_streamed_zip_is_what_writestr_gives_in_sorted_order(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    streamed = io.BytesIO()
    zip_folder(folder, FILES, "pkg-1.0.0", CREATED, streamed, _digests())
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w") as zf:
        for rel in sorted(FILES):
            info = zipfile.ZipInfo(f"pkg-1.0.0/{rel}", date_time=(2026, 11, 22, 9, 30, 5))
            info.create_system = 3
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, FILES[rel], compress_type=zipfile.ZIP_DEFLATED, compresslevel=LEVEL)
    assert streamed.getvalue() == expected.getvalue()
    with zipfile.ZipFile(streamed) as zf:
        assert zf.namelist() == [f"pkg-1.0.0/{rel}" for rel in sorted(FILES)]
        assert all(zf.read(f"pkg-1.0.0/{rel}") == data for rel, data in FILES.items())


def test_a_file_changed_after_it_was_hashed_stops_the_zip(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "c.bin").write_bytes(b"not what was hashed")
    with pytest.raises(ChangedOnDisk, match=r"c\.bin"):
        zip_folder(folder, FILES, "pkg", CREATED, io.BytesIO(), _digests())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    root = make_release_repository(tmp_path_factory.mktemp("steps") / "repo")
    return build(Repository(root))


def test_the_tables_check_in_its_own_process_finds_what_it_finds_here(
    built: BuildResult, tmp_path: Path
) -> None:
    copy = tmp_path / "pkg"
    shutil.copytree(built.folder, copy)
    csv = copy / "data" / "participants.csv"
    csv.write_bytes(csv.read_bytes().replace(b"kim-jong-un", b"nobody-here", 1))
    here = check_tables(copy)
    assert here[0] and here[1]  # frictionless: hash and foreign key; Parquet differs
    checking = TablesCheck()
    checking.start(copy)
    assert checking.result() == here


def test_a_tables_check_whose_process_was_killed_says_so(built: BuildResult) -> None:
    checking = TablesCheck()
    assert checking.proc is not None
    checking.proc.kill()
    checking.start(built.folder)
    with pytest.raises(ChildFailed, match=r"the tables check \(frictionless\) .* SIGKILL"):
        checking.result()
    checking.stop()


def test_a_tables_check_that_could_not_start_is_done_here(built: BuildResult) -> None:
    checking = TablesCheck()
    checking.stop()  # as when it cannot start: no process
    checking.start(built.folder)
    assert checking.result() == ([], [])


def test_a_tables_check_killed_before_it_takes_its_folder_says_so(built: BuildResult) -> None:
    """The process died before start() wrote to it (the write fails, the pipes are closed):
    the result says so, never a read of a closed pipe."""
    checking = TablesCheck()
    assert checking.proc is not None
    checking.proc.kill()
    # Dead but not reaped (as when it dies on its own during a build): writing its folder
    # fails with a broken pipe while Popen still thinks it runs.
    os.waitid(os.P_PID, checking.proc.pid, os.WEXITED | os.WNOWAIT)
    checking.start(built.folder)
    with pytest.raises(ChildFailed, match="SIGKILL"):
        checking.result()
    checking.stop()
