"""The release zip made in a process of its own while the build writes its files.

The zip used to be made after the last file was written, from the finished folder: at 100k
events a fifth of the build's time with the second core otherwise idle. Here a fresh
interpreter (not a fork: it needs none of the build's rows) is told each file as soon as the
build has written and hashed it, reads it back from the page cache, checks it against that
digest and deflates it into a scratch zip, beside the other work. When the build has
written its last file the members are copied, without compressing them again, into the
release zip in name order, with zipfile's own central directory: the bytes zip_folder gives
for the finished folder (tests/test_zip_stream.py holds them equal).

The protocol: a JSON line (folder, prefix, time, zip and scratch paths), then one line per
file, "<sha256> <relative path>", then an empty line; the answer is one JSON line,
{"ok": true} or {"changed": "<path>"}. Any other end of its own (it could not start, a full
disk) answers None and the build zips the folder itself, as before; killed, stopped or stuck,
it stops the build (children.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from eventledger.publish.archive import ChangedOnDisk, add_member, small_member
from eventledger.publish.children import Child, Watch, die_with_parent, end, launch

_FLAGS = os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_COPY = 1 << 20
# What copy_file_range answers where the kernel cannot copy between the two files.
_NO_KERNEL_COPY = frozenset(
    {errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}
)
# Room for about ten thousand file lines in the pipe, so the build writing small site pages
# quickly is not held up while this process deflates a large table.
_PIPE_BYTES = 1 << 20
# Lines are sent in batches of this many small files: a write to the pipe per file (30k
# files at 30k events, mostly small site pages) woke the child for each of them. A file of
# _SEND_NOW bytes or more is sent at once with those before it, so the child deflates the
# tables while the build works out the manifest.
_BATCH = 64
_SEND_NOW = 1 << 16


class StreamedZip:
    """The zip child: started now, told each file by add, ended by finish and result."""

    def __init__(self, folder: Path, prefix: str, created: dt.datetime, path: Path) -> None:
        self.path = path
        self.scratch = path.with_name(path.name + ".part")
        self.proc: Child | None = launch("eventledger.publish.zip_stream", "the zip writer")
        self.watch: Watch | None = None  # told of a child that failed, checked as files are sent
        self.pending = 0  # lines written into the pipe's buffer, not yet sent
        header = {
            "folder": os.fsdecode(folder),
            "prefix": prefix,
            "created": created.isoformat(),
            "zip": os.fsdecode(path),
            "scratch": os.fsdecode(self.scratch),
        }
        if self.proc is not None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):  # F_SETPIPE_SZ is Linux's; a smaller pipe works
                fcntl.fcntl(self.proc.stdin.fileno(), 1031, _PIPE_BYTES)  # F_SETPIPE_SZ
            try:
                self.proc.stdin.write(json.dumps(header).encode("utf-8") + b"\n")
                self.proc.stdin.flush()
            except OSError:
                # Dead already: the first file sent finds out how, inside the build's own
                # cleanup (raised here, its aside folder would be left behind).
                pass

    def _send(self, line: bytes, *, now: bool = True) -> None:
        proc = self.proc
        if proc is None or proc.stdin is None:
            return
        try:
            # A write blocks while the pipe is full: Watch ends the child if it is stopped
            # or makes no progress meanwhile, and the write fails.
            proc.awaited = True
            proc.stdin.write(line)
            self.pending += 1
            if now or self.pending >= _BATCH:
                proc.stdin.flush()  # the child starts on these files as they come
                self.pending = 0
                if self.watch is not None:
                    self.watch.check()  # a child that failed stops the build now
            proc.awaited = False
        except OSError:
            self._died()

    def _died(self) -> None:
        """Its pipe broke: it ended. Killed, it stops the build (ChildFailed); failed on its
        own (it said why), the build zips the folder itself."""
        if self.proc is not None:
            self.proc.answered()
        self.stop()

    def add(self, rel: str, digest: str, size: int | None = None) -> None:
        """rel is written and hashed (its name is one safe_relative passed: no line break).
        A small file (size known and below _SEND_NOW) may wait for a few more."""
        self._send(f"{digest} {rel}\n".encode(), now=size is None or size >= _SEND_NOW)

    def finish(self) -> None:
        """Every file is written: the child puts the zip together while the build checks."""
        self._send(b"\n")
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                self._died()

    def result(self) -> bool:
        """True when the zip is made; ChangedOnDisk when a file was not the one hashed; False
        when the child failed in any other way (the build then zips the folder itself)."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return False
        proc.awaited = True  # Watch ends it if it makes no progress
        out = proc.stdout.read()
        if proc.answered() != 0:  # ChildFailed when a signal ended it
            return False
        try:
            answer = json.loads(out)
        except ValueError:
            return False
        if isinstance(answer, dict) and isinstance(answer.get("changed"), str):
            raise ChangedOnDisk(answer["changed"])
        return isinstance(answer, dict) and answer.get("ok") is True

    def stop(self) -> None:
        """End the child (the build failed, or took over the zip) and remove its scratch."""
        proc, self.proc = self.proc, None
        end(proc)
        self.scratch.unlink(missing_ok=True)


def _assemble(
    scratch: int, members: dict[str, tuple[zipfile.ZipInfo, int, int]], path: Path
) -> None:
    """The release zip at path: the scratch zip's members (byte ranges of local header and
    data) in name order, then the central directory zipfile writes for them."""
    fd = os.open(path, os.O_WRONLY | _FLAGS, 0o666)
    with os.fdopen(fd, "wb") as sink, zipfile.ZipFile(sink, "w") as zf:
        # Members that follow each other in the scratch zip in name order too (files were
        # sent much in that order) are copied as one range: a pread and a write per member
        # were half the CPU of this step, which the build waits for at its very end.
        ranges: list[list[int]] = []  # [start, stop, where it goes in the release zip]
        at = 0
        for name in sorted(members):
            info, start, stop = members[name]
            info.header_offset = at
            if ranges and ranges[-1][1] == start:
                ranges[-1][1] = stop
            else:
                ranges.append([start, stop, at])
            at += stop - start
            zf.filelist.append(info)
            zf.NameToInfo[name] = info
        for start, stop, dest in ranges:
            _copy(scratch, fd, start, stop, dest)
        # What closing a ZipFile that wrote these members itself would write: the central
        # directory at the current end.
        sink.seek(at)
        zf.start_dir = at


def _copy(source: int, sink: int, start: int, stop: int, dest: int) -> None:
    """Bytes start to stop of source into sink at dest."""
    while start < stop:
        done = _kernel_copy(source, sink, stop - start, start, dest)
        if not done:
            # None where the kernel cannot copy between these files; 0 from some file
            # systems (FUSE, CIFS) that take the call and copy nothing: copied here then,
            # and only a read that finds no bytes is the scratch zip's end.
            chunk = os.pread(source, min(_COPY, stop - start), start)
            if not chunk:
                raise OSError("the scratch zip ended early")
            done = os.pwrite(sink, chunk, dest)
        start += done
        dest += done


def _kernel_copy(source: int, sink: int, count: int, start: int, dest: int) -> int | None:
    """How many bytes copy_file_range copied (in the kernel, not through this process), or
    None where it cannot copy between these files (not Linux, another file system)."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return None
    try:
        done: int = copy(source, sink, count, start, dest)
    except OSError as err:
        if err.errno in _NO_KERNEL_COPY:
            return None
        raise
    return done


def _stream(header: dict[str, str], lines: Iterable[bytes]) -> dict[str, object] | None:
    """Zip each file as its line comes; None when the lines end before the empty one."""
    folder = str(header["folder"])
    prefix = str(header["prefix"])
    created = dt.datetime.fromisoformat(header["created"])
    scratch = os.open(header["scratch"], os.O_RDWR | _FLAGS, 0o600)
    members: dict[str, tuple[zipfile.ZipInfo, int, int]] = {}
    answer: dict[str, object] | None = None
    try:
        with os.fdopen(scratch, "w+b", closefd=False) as handle:
            zf = zipfile.ZipFile(handle, "w")
            try:
                for line in lines:
                    text = line.decode("utf-8").rstrip("\n")
                    if not text:
                        answer = {"ok": True}
                        break
                    digest, rel = text.split(" ", 1)
                    try:
                        small = small_member(folder, rel, prefix, created, digest)
                        if small is None:
                            info = add_member(zf, Path(folder), rel, prefix, created, digest)
                            start = info.header_offset
                        else:
                            # Where zipfile would write it: its next member starts at
                            # start_dir, which is where the handle stands.
                            info, member = small
                            start = info.header_offset = zf.start_dir
                            handle.write(member)
                            zf.start_dir = start + len(member)
                    except ChangedOnDisk:
                        answer = {"changed": rel}
                        break
                    members[info.filename] = (info, start, zf.start_dir)
            finally:
                # Let go of the scratch without a central directory (none reads it), also
                # when a write failed: a ZipFile left holding it would try to finish it when
                # collected, after the file is closed, and print a traceback into the
                # build's output (a full disk did).
                zf.fp = None
            handle.flush()
        if answer is not None and "ok" in answer:
            _assemble(scratch, members, Path(header["zip"]))
    finally:
        os.close(scratch)
        os.unlink(header["scratch"])
    return answer


def main() -> None:
    die_with_parent()
    stdin = sys.stdin.buffer
    try:
        first = stdin.readline()
        if not first:
            return  # the build ended before it sent anything: nothing to say
        answer = _stream(json.loads(first), stdin)
    except (OSError, ValueError, KeyError, TypeError) as err:
        # The build sees no answer and, if it goes on, zips the folder itself; these words
        # are the only trace of why (a full disk under the scratch file, say).
        sys.stderr.write(
            f"eventledger: the zip writer failed ({err}); the build will zip the folder"
            " itself if it goes on\n"
        )
        sys.exit(1)
    if answer is not None:
        sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
