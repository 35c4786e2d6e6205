"""The watch over a build's child processes, on real children: one the build waits for that
uses no CPU time is ended and named; one that answers is left alone. (A child killed or
stopped during a real build: test_release_faults.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from eventledger.publish.children import Child, ChildFailed, Watch, end
from prockit import still_running


def test_a_child_awaited_that_makes_no_progress_is_ended_and_named() -> None:
    # The zip child never sent its header waits on stdin for ever, using no CPU: a deadlock
    # as the build sees it, once the build waits for its answer.
    child = Child("eventledger.publish.zip_stream", "the zip writer")
    watch = Watch([child], every=0.05, idle_for=0.5)
    try:
        child.awaited = True
        assert child.stdout is not None
        started = time.monotonic()
        assert child.stdout.read() == b""  # ends when the watch ends the child
        with pytest.raises(ChildFailed, match=r"the zip writer \(process \d+\) used no CPU"):
            child.answered()
        assert time.monotonic() - started < 60
        assert watch.failure is not None
        assert "while the build waited for it" in str(watch.failure)
    finally:
        watch.close()
        end(child)


def test_a_child_not_awaited_may_wait_and_one_that_answers_is_no_failure() -> None:
    """Waiting for its work is no hang: the watch counts no progress only while awaited."""
    child = Child("eventledger.publish.zip_stream", "the zip writer")
    watch = Watch([child], every=0.05, idle_for=0.2)
    try:
        time.sleep(0.5)  # ten looks at an idle child nobody waits for
        assert child.poll() is None
        assert child.stdin is not None and child.stdout is not None
        child.stdin.close()  # no header (the build went no further): it ends on its own
        assert child.stdout.read() == b""
        assert child.answered() == 0  # silently, having nothing to do
        time.sleep(0.2)
        watch.check()  # no failure noted
    finally:
        watch.close()
        end(child)


_ORPHANING = """
import os, subprocess, sys, time
from eventledger.publish.children import launch
child = launch("eventledger.publish.zip_stream", "the zip writer")
# Another process keeps the child's stdin open: only the kernel's parent-death signal can
# end it once this process is gone, not the end of its input.
keeper = subprocess.Popen(["sleep", "120"], pass_fds=[child.stdin.fileno()])
print(child.pid, keeper.pid, flush=True)
time.sleep(120)
"""


def test_a_child_dies_with_the_build_that_started_it() -> None:
    """A build killed mid-release (SIGKILL: no cleanup runs) leaves no child working on."""
    build = subprocess.Popen([sys.executable, "-c", _ORPHANING], stdout=subprocess.PIPE, text=True)
    assert build.stdout is not None
    child, keeper = map(int, build.stdout.readline().split())
    try:
        # Killed before or after the child ties itself to it (its first step): ended either way.
        time.sleep(0.5)
        build.kill()
        build.wait()
        assert still_running([child]) == []  # its input still open: the signal ended it
    finally:
        for pid in (child, keeper):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
