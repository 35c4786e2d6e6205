"""What every process the build starts beside itself shares (the spreadsheet writer, the
tables check): they are fresh interpreters, so they neither copy the build's rows nor inherit
its descriptors (Python opens them non-inheritable), and they die with the build."""

from __future__ import annotations

import signal


def die_with_parent() -> None:
    """Run in the child before it execs: a build killed mid-release leaves no writer behind."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: Linux only
    except (OSError, AttributeError):
        return
