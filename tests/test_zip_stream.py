"""The release zip made in a process of its own as the build writes its files: the same bytes
as the zip of the finished folder, in name order whatever order the files came in; a file
that is not the one hashed stops it; a child that cannot start leaves the zip to the build,
one killed stops it."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.publish import release, zip_stream
from eventledger.publish.archive import ChangedOnDisk, zip_folder
from eventledger.publish.aside import AsideFolder
from eventledger.publish.children import ChildFailed
from eventledger.publish.release import ReleaseError, build
from eventledger.publish.zip_stream import StreamedZip
from eventledger.read.repository import Repository
from releasekit import make_release_repository

CREATED = dt.datetime(2026, 11, 22, 9, 30, 5, tzinfo=dt.UTC)
# Written in this order (not the name order), as a build writes its manifest, tables, site
# and, last, SHA256SUMS; large enough to span several copy chunks.
FILES = {
    "manifest.json": b"{}" * 40_000,
    "data/events.csv": bytes(range(256)) * 5000,
    "site/index.html": b"<p>hello</p>" * 3000,
    "site/a b.html": b"",
    "CHANGES.md": b"# changes\n",
    "SHA256SUMS": b"0" * 64 + b"  x\n",
}


def _write(folder: Path, zipping: StreamedZip | None = None) -> dict[str, str]:
    digests = {}
    for rel, data in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        digests[rel] = hashlib.sha256(data).hexdigest()
        if zipping is not None:  # with its size: the small files are sent in batches
            zipping.add(rel, digests[rel], len(data))
    return digests


def test_the_zip_made_as_files_come_is_the_zip_of_the_finished_folder(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    zipping = StreamedZip(folder, "pkg-1.0.0", CREATED, tmp_path / "pkg.zip")
    digests = _write(folder, zipping)
    zipping.finish()
    assert zipping.result() is True
    expected = io.BytesIO()
    zip_folder(folder, FILES, "pkg-1.0.0", CREATED, expected, digests)
    assert (tmp_path / "pkg.zip").read_bytes() == expected.getvalue()
    with zipfile.ZipFile(tmp_path / "pkg.zip") as zf:
        assert zf.namelist() == [f"pkg-1.0.0/{rel}" for rel in sorted(FILES)]
        assert zf.testzip() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg", "pkg.zip"]  # no scratch left


def test_a_file_that_is_not_the_one_hashed_stops_the_streamed_zip(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    digests = _write(folder)
    zipping = StreamedZip(folder, "pkg", CREATED, tmp_path / "pkg.zip")
    zipping.add("manifest.json", digests["manifest.json"])
    zipping.add("CHANGES.md", digests["data/events.csv"])
    zipping.finish()
    with pytest.raises(ChangedOnDisk, match=r"CHANGES\.md"):
        zipping.result()
    zipping.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_a_zip_child_that_was_killed_says_so_and_leaves_no_scratch(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    digests = _write(folder)
    zipping = StreamedZip(folder, "pkg", CREATED, tmp_path / "pkg.zip")
    zipping.add("manifest.json", digests["manifest.json"])
    assert zipping.proc is not None
    zipping.proc.kill()
    zipping.proc.wait()
    with pytest.raises(ChildFailed, match=r"the zip writer \(process \d+\) was killed by SIGKILL"):
        for rel, digest in digests.items():  # the first write to the dead child tells
            zipping.add(rel, digest)
        zipping.finish()
        zipping.result()
    zipping.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


class _DeadZip(StreamedZip):
    """A zip child that could not start."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.stop()  # as if it never started: no process, no scratch


def _sums_and_zip(root: Path) -> tuple[bytes, bytes]:
    result = build(Repository(root))
    return (result.folder / "SHA256SUMS").read_bytes(), result.archive.read_bytes()


def _built(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "build").iterdir() if p.name != "cache")


def test_a_build_whose_zip_child_could_not_start_zips_the_folder_itself_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_release_repository(tmp_path / "repo")
    streamed = _sums_and_zip(root)
    files = _built(root)
    for name in files:
        entry = root / "build" / name
        entry.unlink() if entry.is_file() else shutil.rmtree(entry)
    monkeypatch.setattr(release, "StreamedZip", _DeadZip)
    assert _sums_and_zip(root) == streamed
    assert _built(root) == files


def test_a_file_changed_behind_the_build_stops_it_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_release_repository(tmp_path / "repo")

    class Tampered(AsideFolder):
        def _known(self, rel: str, digest: str, size: int) -> None:
            if rel == "CHANGES.md":  # changed on disk once hashed, before the zip is told of it
                with open(self.folder / rel, "ab") as handle:
                    handle.write(b"tampered\n")
            super()._known(rel, digest, size)

    monkeypatch.setattr(release, "AsideFolder", Tampered)
    with pytest.raises(ReleaseError, match=r"CHANGES\.md changed on disk"):
        build(Repository(root))
    assert _built(root) == []


def test_a_write_that_fails_in_the_child_leaves_no_zipfile_to_finish_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the child deflated a file left a ZipFile holding the closed scratch;
    collected later, it tried to write its central directory and printed a traceback into the
    build's output. The child now lets go of it whatever happened, and removes the scratch."""
    import errno
    import gc
    import sys

    folder = tmp_path / "pkg"
    folder.mkdir()
    digests = _write(folder)

    def no_room(*args: object, **kwargs: object) -> zipfile.ZipInfo:
        raise OSError(errno.ENOSPC, "No space left on device")

    # Every file through zipfile's writer, which is what holds the scratch.
    monkeypatch.setattr(zip_stream, "small_member", lambda *args: None)
    monkeypatch.setattr(zip_stream, "add_member", no_room)
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    header = {
        "folder": str(folder),
        "prefix": "pkg",
        "created": CREATED.isoformat(),
        "zip": str(tmp_path / "pkg.zip"),
        "scratch": str(tmp_path / "pkg.zip.part"),
    }
    lines = [f"{digests[rel]} {rel}\n".encode() for rel in FILES]
    with pytest.raises(OSError, match="No space left"):
        zip_stream._stream(header, lines)
    gc.collect()
    assert unraisable == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def _zipfile_bytes(files: dict[str, bytes], prefix: str) -> bytes:
    """The release zip of files as zipfile's own writer makes it, whole file by whole file:
    what both of the build's zip writers must give, byte for byte."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as zf:
        for rel in sorted(files, key=lambda rel: f"{prefix}/{rel}"):
            info = zipfile.ZipInfo(f"{prefix}/{rel}", date_time=CREATED.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, files[rel], compresslevel=1)
    return sink.getvalue()


def _streamed(
    folder: Path, out: Path, files: dict[str, bytes], digests: dict[str, str]
) -> dict[str, object] | None:
    """The zip child's work on these files, in this process: its answer; the zip at out."""
    header = {
        "folder": str(folder),
        "prefix": "pkg-1.0.0",
        "created": CREATED.isoformat(),
        "zip": str(out),
        "scratch": str(out.with_name(out.name + ".part")),
    }
    lines = [f"{digests[rel]} {rel}\n".encode() for rel in files] + [b"\n"]
    return zip_stream._stream(header, lines)


def _both_zips_are_zipfiles(folder: Path, out: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    digests = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    expected = _zipfile_bytes(files, "pkg-1.0.0")
    assert _streamed(folder, out, files, digests) == {"ok": True}
    assert out.read_bytes() == expected
    folded = io.BytesIO()
    zip_folder(folder, files, "pkg-1.0.0", CREATED, folded, digests)
    assert folded.getvalue() == expected


_NAME = st.text(alphabet="abcxyz-_ éü名字", min_size=1, max_size=12)
_DATA = st.one_of(
    st.binary(max_size=3000),  # mostly incompressible
    st.builds(lambda text, times: text.encode() * times, st.text(max_size=40), st.integers(0, 500)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.tuples(st.sampled_from(["", "site/", "site/ü/"]), _NAME), _DATA, max_size=8)
)
def test_the_streamed_zip_is_zipfiles_own_bytes_for_any_small_files(
    files: dict[tuple[str, str], bytes],
) -> None:
    named = {f"{folder}{name}.html": data for (folder, name), data in files.items()}
    with tempfile.TemporaryDirectory() as tmp:
        _both_zips_are_zipfiles(Path(tmp) / "pkg", Path(tmp) / "pkg.zip", named)


# Either side of the largest file read whole, and of the chunks zipfile's writer is fed.
_EDGE = 1 << 20


@pytest.mark.parametrize(
    "size", [0, 1, _EDGE - 1, _EDGE, _EDGE + 1, 2 * _EDGE, 2 * _EDGE + 1, 3 * _EDGE + 12345]
)
def test_the_streamed_zip_is_zipfiles_own_bytes_around_the_chunk_size(
    tmp_path: Path, size: int
) -> None:
    noise = hashlib.shake_256(b"%d" % size).digest(size)  # does not deflate
    files = {
        "noise.bin": noise,
        "text.csv": (b"event,2026-11-22,kim\n" * (size // 20 + 1))[:size],
        "site/é.html": b"<p>x</p>",
    }
    _both_zips_are_zipfiles(tmp_path / "pkg", tmp_path / "pkg.zip", files)


def test_the_streamed_zip_of_many_files_is_zipfiles_own_bytes(tmp_path: Path) -> None:
    files = {
        f"site/events/{n:05d}.html": b"<p>event %d</p>" % n * (n * 7919 % 600 + 1)
        for n in range(1500)
    }
    _both_zips_are_zipfiles(tmp_path / "pkg", tmp_path / "pkg.zip", files)
    with zipfile.ZipFile(tmp_path / "pkg.zip") as zf:
        assert zf.testzip() is None


def test_members_sent_out_of_name_order_are_copied_in_ranges_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs of members in name order are copied as one range, by copy_file_range where the
    kernel has it and by reads and writes where it has not (not Linux, or another file
    system: here the function is taken away): the same bytes either way."""
    names = [f"site/events/{n:04d}.html" for n in range(600)]
    order = names[300:] + names[:150] + ["SHA256SUMS"] + names[150:300]  # three runs and more
    files = {rel: b"<p>%d</p>" % n * (n % 50 + 1) for n, rel in enumerate(order)}
    files["big.bin"] = hashlib.shake_256(b"big").digest(3 * (1 << 20) + 7)  # several chunks
    _both_zips_are_zipfiles(tmp_path / "kernel", tmp_path / "kernel.zip", files)
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    _both_zips_are_zipfiles(tmp_path / "plain", tmp_path / "plain.zip", files)
    assert (tmp_path / "plain.zip").read_bytes() == (tmp_path / "kernel.zip").read_bytes()


def test_a_file_whose_size_fstat_does_not_tell_is_read_through_zipfile(tmp_path: Path) -> None:
    """/proc's files say they are empty and are not: the whole read sees one byte more than
    fstat told and leaves the file to zipfile's writer, which reads all there is."""
    data = Path("/proc/version").read_bytes()
    assert data
    answer = _streamed(
        Path("/proc"),
        tmp_path / "pkg.zip",
        {"version": data},
        {"version": hashlib.sha256(data).hexdigest()},
    )
    assert answer == {"ok": True}
    assert (tmp_path / "pkg.zip").read_bytes() == _zipfile_bytes({"version": data}, "pkg-1.0.0")


@pytest.mark.parametrize(
    ("hashed", "on_disk"),
    [(b"x", b""), (b"<p>a</p>", b"<p>b</p>"), (b"e" * 3 * _EDGE, b"f" * 3 * _EDGE)],
)
def test_a_file_rewritten_after_it_was_hashed_is_refused(
    tmp_path: Path, hashed: bytes, on_disk: bytes
) -> None:
    """Emptied, or the same size with other bytes: only the digest tells, for a page read
    whole as for a large table streamed through zipfile."""
    folder = tmp_path / "pkg"
    files = {"a.html": b"<p>a</p>", "data/events.csv": on_disk, "z.html": b"<p>z</p>"}
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    digests = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    digests["data/events.csv"] = hashlib.sha256(hashed).hexdigest()
    answer = _streamed(folder, tmp_path / "pkg.zip", files, digests)
    assert answer == {"changed": "data/events.csv"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_a_kernel_copy_that_copies_nothing_is_done_by_reads_and_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some file systems (FUSE, CIFS) take copy_file_range and copy 0 bytes: the range is
    then copied by reads and writes, the same bytes, not taken for the scratch zip's end."""
    names = [f"site/events/{n:04d}.html" for n in range(300)]
    files = {rel: b"<p>%d</p>" % n * (n % 50 + 1) for n, rel in enumerate(names)}
    _both_zips_are_zipfiles(tmp_path / "kernel", tmp_path / "kernel.zip", files)
    monkeypatch.setattr(os, "copy_file_range", lambda *_: 0, raising=False)
    _both_zips_are_zipfiles(tmp_path / "zero", tmp_path / "zero.zip", files)
    assert (tmp_path / "zero.zip").read_bytes() == (tmp_path / "kernel.zip").read_bytes()


def test_a_zip_child_that_fails_on_its_own_says_why_and_one_never_sent_work_says_nothing(
    tmp_path: Path,
) -> None:
    """children.py's promise: a child that fails on its own has said why on stderr, the only
    trace of it once the build has zipped the folder itself. The real child, as the build
    starts it, with a scratch it cannot create (its folder is gone)."""
    import json
    import subprocess
    import sys

    header = {
        "folder": str(tmp_path),
        "prefix": "pkg",
        "created": CREATED.isoformat(),
        "zip": str(tmp_path / "gone" / "pkg.zip"),
        "scratch": str(tmp_path / "gone" / "pkg.zip.part"),
    }
    child = [sys.executable, "-m", "eventledger.publish.zip_stream"]
    failed = subprocess.run(
        child, input=json.dumps(header) + "\n", capture_output=True, text=True, check=False
    )
    assert failed.returncode == 1
    assert failed.stdout == ""  # no answer: the build zips the folder itself
    assert "the zip writer failed" in failed.stderr
    assert "No such file or directory" in failed.stderr
    assert "Traceback" not in failed.stderr
    # A build that ends before it sends anything (it failed early) hears nothing from it.
    quiet = subprocess.run(child, input="", capture_output=True, text=True, check=False)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
