"""Pandera in a process of its own, started before the rows it will check are known.

A check after a few changes (check/partial.py) runs Pandera over a few dozen rows, but
importing pandas and Pandera and their first validation cost more than a second, longer
than everything else that check does. A child forked when the check starts imports them
and warms them up on the other core while the parent finds what changed; it then runs
Pandera over the rows the parent sends and sends back the failures as plain values
(check/table_report.py tells them). Both ends are this program's own processes, so the
pipe carries pickles, as the worker pool's does.

Where fork is missing, or the child fails, the parent runs Pandera itself: the answer is
the same, only later.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from collections.abc import Sequence
from multiprocessing import get_all_start_methods
from pathlib import Path
from typing import Any

from eventledger.check.table_report import Failure

_LENGTH = struct.Struct("<Q")

Rows = Sequence[tuple[str, list[dict[str, Any]]]]  # table name, the values of its rows
Found = list[tuple[list[Failure], dict[str, tuple[str, ...]]]]


def _send(fd: int, data: object) -> None:
    blob = pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(blob)) + blob)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> Any:
    """What _send sent, or None when the other end closed first."""
    head = _read(fd, _LENGTH.size)
    if head is None:
        return None
    body = _read(fd, _LENGTH.unpack(head)[0])
    return None if body is None else pickle.loads(body)  # noqa: S301  # our own child


def _read(fd: int, size: int) -> bytes | None:
    parts: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


class TablesAside:
    """A forked child holding pandas and Pandera, ready to check the rows it is sent once."""

    def __init__(self, pid: int, to_child: int, from_child: int) -> None:
        self.pid, self.to_child, self.from_child = pid, to_child, from_child

    @classmethod
    def start(cls, schema_dir: Path) -> TablesAside | None:
        if "fork" not in get_all_start_methods():
            return None
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                os.close(down_w)
                os.close(up_r)
                _serve(schema_dir, down_r, up_w)
                status = 0
            finally:
                os._exit(status)
        os.close(down_r)
        os.close(up_w)
        return cls(pid, down_w, up_r)

    def check(self, rows: Rows) -> Found | None:
        """Pandera's failures and each column's constraints, table by table, or None when the
        child could not give them."""
        try:
            _send(self.to_child, list(rows))
            found = _receive(self.from_child)
        except (OSError, pickle.PickleError, EOFError):
            found = None
        self.close()
        return found if isinstance(found, list) else None

    def close(self) -> None:
        """End the child (its own work only: importing, checking) and collect it."""
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)


def _serve(schema_dir: Path, down: int, up: int) -> None:
    from eventledger.check.tables import failures, frame_of
    from eventledger.model.schema import load_schema

    schema = load_schema(schema_dir)
    for spec in schema.tables.values():  # Pandera's first run imports and registers more
        failures(spec, frame_of(spec, []), schema)
    rows = _receive(down)
    if rows is None:
        return
    found = []
    for name, values in rows:
        spec = schema.tables[name]
        found.append(failures(spec, frame_of(spec, values), schema))
    _send(up, found)
