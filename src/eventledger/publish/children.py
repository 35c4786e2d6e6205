"""The processes the build starts beside itself (the spreadsheet writer, the tables check,
the zip writer): fresh interpreters, so they neither copy the build's rows nor inherit its
descriptors (Python opens them non-inheritable), and they die with the build. Each is sent
its work on stdin and answers on stdout. If it cannot start, or ends on its own with a
failure (it has said why on stderr), or answers with something that is not an answer, its
caller does the work itself and the build says so. If it is killed, or stopped, or stuck,
the build stops with a ChildFailed that says so: Watch turns a child that would be waited
for for ever into one that is ended, and so into an answer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable

from eventledger.issues import IssuesError

# How often Watch looks at the children, and for how long a child may be stopped, or make
# no progress while the build waits for it, before it is ended. Stopped: the build cannot
# go on until someone resumes it, and the stop of a whole terminal job (^Z) stops the build
# with it, so a few seconds tell a stop meant for the child alone. No progress: the child
# used no CPU time at all while the build waited for its answer; a working child uses some
# every second (its longest steps, minutes at 1M events, are CPU-bound), so five minutes of
# none is a deadlock or a file system that does not answer, never a slow step.
EVERY = 0.5
STOPPED_FOR = 3.0
IDLE_FOR = 300.0

_AGAIN = (
    "Nothing was changed: the repository and earlier builds are as they were; run the release again"
)


class ChildFailed(IssuesError):
    """A child process was killed, stopped or stuck: the build cannot continue."""


class Child(subprocess.Popen[bytes]):
    """A child process, what it does for the build, and what Watch knows of it."""

    def __init__(self, module: str, step: str) -> None:
        # No preexec_fn: with one, subprocess forks the whole build (about 900 MB at 100k
        # events, counted twice by anyone summing memory until the exec) instead of using
        # vfork. The child ties itself to this process (die_with_parent), named in argv.
        super().__init__(
            [sys.executable, "-m", module, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.step = step
        self.awaited = False  # the build is blocked on it (reading its answer, writing to it)
        self.why: str | None = None  # why Watch ended it
        self.ended = False  # by the build itself (end): no failure of the child's
        self.stopped = 0  # Watch's looks in a row that found it stopped
        self.idle = 0  # and that found it awaited without CPU time used since the last
        self.cpu = -1

    def answered(self) -> int:
        """Its exit status, once it has ended (its stdout read to the end); ChildFailed when
        a signal ended it (Watch, the user, the out-of-memory killer)."""
        code = self.wait()
        if code < 0:
            raise ChildFailed(self.failure())
        return code

    def failure(self) -> str:
        said = f"{self.step} (process {self.pid})"
        if self.why is not None:
            return f"{said} {self.why}; it was ended, and the build with it. {_AGAIN}"
        code = self.returncode or 0
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if name == "SIGKILL":
            # The out-of-memory killer's signal: a second run on the same machine meets it
            # again unless memory is freed first.
            return (
                f"{said} was killed by SIGKILL; if not by you, the system may have run out of "
                "memory (`dmesg` says so): close other programs or add memory first. "
                f"{_AGAIN}"
            )
        return f"{said} was killed by {name}. {_AGAIN}"


def die_with_parent() -> None:
    """Called first by each child's main: a build killed mid-release leaves no process
    behind. The build that started it is named in argv; if it is gone already (it died
    before this ran), the child ends now, since the kernel would not tell it later."""
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        return  # not started by launch (a test calling main in its own process)
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: Linux only
    except (OSError, AttributeError):
        return
    if os.getppid() != int(sys.argv[1]):
        os._exit(1)


def launch(module: str, step: str) -> Child | None:
    """python -m module with pipes to and from it, or None when it cannot start; step says
    what it does, in the build's words."""
    try:
        return Child(module, step)
    except OSError:
        return None


def arrow_gives_memory_back() -> None:
    """Run first in a child that works in Arrow: its batches are allocated by malloc, which
    reuses what a freed batch held, not by Arrow's default pool (mimalloc), which kept it.
    At 100k events the tables check peaked 44 MB lower with it and the workbook 28 MB lower,
    for no more CPU; their memory counts in the build's, beside the main process's."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def end(proc: subprocess.Popen[bytes] | None) -> None:
    """Kill the process if it still runs, collect it and close its pipes."""
    if proc is None:
        return
    if isinstance(proc, Child):
        proc.ended = True
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class Watch:
    """A thread that looks at the children every `every` seconds while the build runs (a
    few system calls each: no cost the build notices). A child killed is noted in failure
    at once; one stopped for stopped_for seconds, or awaited without using CPU time for
    idle_for seconds, is noted and ended (SIGKILL), which ends any read of its answer or
    write to it that the build is blocked in. The build raises failure where it next
    touches a child; the child's own answered() says the same."""

    def __init__(
        self,
        children: Iterable[Child | None],
        *,
        every: float = EVERY,
        stopped_for: float = STOPPED_FOR,
        idle_for: float = IDLE_FOR,
    ) -> None:
        self.children = [child for child in children if child is not None]
        self.failure: ChildFailed | None = None
        self._stopped = max(1, round(stopped_for / every))
        self._idle = max(1, round(idle_for / every))
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="release-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join()

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        # Looks are counted, not timed: when the whole build is stopped (^Z) and resumed,
        # its children resume with it, and no time spent stopped counts against them.
        while not self._done.wait(self._every):
            for child in self.children:
                self._look(child)

    def _look(self, child: Child) -> None:
        if child.ended:
            return
        if child.poll() is not None:
            if child.ended:  # ended by the build between the look above and poll()
                return
            if child.returncode is not None and child.returncode < 0 and self.failure is None:
                self.failure = ChildFailed(child.failure())
            return
        stop = _stop_signal(child.pid)
        child.stopped = child.stopped + 1 if stop else 0
        if stop and child.stopped >= self._stopped:
            self._end(child, f"was stopped ({stop}) for {child.stopped * self._every:.0f} s")
            return
        cpu = _cpu_time(child.pid) if child.awaited else -1
        child.idle = child.idle + 1 if cpu >= 0 and cpu == child.cpu else 0
        child.cpu = cpu
        if child.idle >= self._idle:
            self._end(
                child,
                f"used no CPU time for {child.idle * self._every:.0f} s while the build waited "
                "for it (a deadlock, or a file system that does not answer)",
            )

    def _end(self, child: Child, why: str) -> None:
        child.why = why
        if self.failure is None:
            self.failure = ChildFailed(child.failure())
        with contextlib.suppress(ProcessLookupError):
            child.kill()


def _stop_signal(pid: int) -> str | None:
    """The name of the signal that stopped the child, or None when it is not stopped (a
    stop by a debugger or profiler that traces it is reported to that tracer, not here)."""
    try:
        found = os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG | os.WNOWAIT)
    except (ChildProcessError, AttributeError):  # collected meanwhile; no waitid here
        return None
    if found is None or found.si_code != os.CLD_STOPPED:
        return None
    try:
        return signal.Signals(found.si_status).name
    except ValueError:
        return f"signal {found.si_status}"


def _cpu_time(pid: int) -> int:
    """The child's user and system CPU time in clock ticks, from /proc (Linux); -1 where it
    cannot be read, which never counts as no progress."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    except (OSError, IndexError, ValueError):
        return -1
