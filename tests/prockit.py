"""The processes a test starts, as Linux's /proc shows them: which child runs a module, and
whether a process still runs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path


def child_of(parent: int, module: str) -> int:
    """The process id of parent's child running python -m module."""
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_bytes().rpartition(b")")[2].split()[1])
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue  # not a process, or one that ended meanwhile
        if ppid == parent and module.encode() in cmdline:
            return int(entry.name)
    raise AssertionError(f"no child {module} of process {parent}")


def running(pid: int) -> bool:
    """Whether pid is a process that has not ended (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"


def still_running(pids: Iterable[int], seconds: float = 30) -> list[int]:
    """Those of pids that still run after waiting up to seconds for them to end."""
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive
