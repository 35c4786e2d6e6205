"""read_regular, through which every record file is read: all of a regular file and nothing
else, bounded by the caller's limit whatever fstat said, and no more memory than the file."""

from __future__ import annotations

import errno
import os
import tracemalloc
from pathlib import Path

import pytest

from eventledger.read.repository import FileTooLarge, NotRegularFile, read_regular
from eventledger.syntax.strict_yaml import MAX_BYTES

# A file of /proc that fstat calls a regular file of 0 bytes while it holds more: a file
# that grew between fstat and the read, made without a race.
UNDERSTATED = Path("/proc/self/cmdline")


@pytest.mark.parametrize("size", [0, 1, 4096, MAX_BYTES])
def test_a_regular_file_up_to_the_limit_is_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "record.yaml"
    data = os.urandom(size)
    path.write_bytes(data)
    assert read_regular(path, limit=MAX_BYTES) == data
    assert read_regular(path) == data


def test_a_file_past_the_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "record.yaml"
    path.write_bytes(b"x" * (MAX_BYTES + 1))
    with pytest.raises(FileTooLarge) as raised:
        read_regular(path, limit=MAX_BYTES)
    assert raised.value.size == MAX_BYTES + 1


def test_a_small_file_costs_memory_for_its_bytes_not_for_the_limit(tmp_path: Path) -> None:
    """Reading asked for limit + 1 bytes, and CPython allocates what a read asks for: a
    megabyte per record file, which doubled the time to read 50k of them."""
    path = tmp_path / "record.yaml"
    path.write_bytes(b"id: 2019-04-25-summit\n" * 20)
    tracemalloc.start()
    try:
        for _ in range(10):
            assert len(read_regular(path, limit=MAX_BYTES)) == 440
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_BYTES // 4  # asking for limit + 1 bytes peaked past MAX_BYTES


def test_a_file_larger_than_fstat_said_is_read_whole() -> None:
    expected = UNDERSTATED.read_bytes()
    assert os.stat(UNDERSTATED).st_size == 0 and len(expected) > 1  # more than size + 1
    assert read_regular(UNDERSTATED, limit=MAX_BYTES) == expected
    assert read_regular(UNDERSTATED) == expected


def test_a_file_that_grew_past_the_limit_since_fstat_is_refused() -> None:
    held = len(UNDERSTATED.read_bytes())
    with pytest.raises(FileTooLarge) as raised:
        read_regular(UNDERSTATED, limit=held - 1)
    assert raised.value.size == held  # read up to limit + 1 bytes, no further
    assert read_regular(UNDERSTATED, limit=held) == UNDERSTATED.read_bytes()


def test_a_fifo_a_folder_and_a_link_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # with no writer: an open without O_NONBLOCK would wait for ever
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    target = tmp_path / "target.yaml"
    target.write_bytes(b"private\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    for path in (fifo, folder):
        with pytest.raises(NotRegularFile) as raised:
            read_regular(path, limit=MAX_BYTES)
        assert raised.value.errno == errno.EINVAL
    with pytest.raises(NotRegularFile) as raised:
        read_regular(link, limit=MAX_BYTES)
    assert raised.value.errno == errno.ELOOP


def test_a_folder_on_the_way_that_is_a_link_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "record.yaml").write_bytes(b"id: x\n")
    (root / "events").mkdir(parents=True)
    (root / "events" / "2019").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotRegularFile) as raised:
        read_regular(root / "events" / "2019" / "record.yaml", root)
    assert raised.value.errno == errno.ELOOP
