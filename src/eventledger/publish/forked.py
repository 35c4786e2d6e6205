"""Work done beside the build in a forked child process: the second core is otherwise idle
while the build renders, and a fork shares the selected rows instead of pickling them.

The child closes the descriptors a build must not hand on (its version lock: a child outliving
a killed build would otherwise hold the lock), dies with its parent, and sends back its result
or its exception, pickled through a pipe."""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Descriptors no child may keep: the version lock of the running build.
CLOSE_IN_CHILD: set[int] = set()


class ChildDied(Exception):
    """The child ended without a result (killed, out of memory)."""


def can_fork() -> bool:
    return hasattr(os, "fork")


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; Linux only, harmless to miss
    except (OSError, AttributeError):
        return


class Forked(Generic[T]):
    """fn() running in a forked child; result() waits for it."""

    def __init__(self, fn: Callable[[], T]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            gc.freeze()  # the collector leaves the parent's objects (and their pages) alone
            status = 1
            try:
                os.close(read)
                for fd in CLOSE_IN_CHILD:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _die_with_parent()
                try:
                    payload = pickle.dumps((True, fn()))
                except Exception as err:
                    try:
                        payload = pickle.dumps((False, err))
                    except Exception:
                        payload = pickle.dumps((False, RuntimeError(repr(err))))
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self.pid = pid
        self._read = read
        self._done = False

    def result(self) -> T:
        """fn's result; its exception raised here; ChildDied if it ended without either."""
        with os.fdopen(self._read, "rb") as pipe:
            payload = pipe.read()
        self._reap()
        try:
            ok, value = pickle.loads(payload)  # noqa: S301 - our own child wrote it
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise ChildDied(f"process {self.pid} ended without a result") from err
        if not ok:
            raise value
        result: T = value
        return result

    def stop(self) -> None:
        """End the child (the build failed and no longer needs it)."""
        if self._done:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self._read)
        self._reap()

    def _reap(self) -> None:
        if not self._done:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self._done = True
