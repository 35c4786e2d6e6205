"""The checks of a written package that read only its tables: the real `frictionless
validate` of datapackage.json (types, keys, foreign keys, bytes and hashes of the CSVs), and
that each Parquet table holds exactly the rows of its CSV twin.

A build writes the tables first and runs these checks in a process of its own while it
writes the rest. That process is a fresh interpreter, not a fork: it needs none of the
build's records, and a fork would count them again in the memory of every process.
It starts at once, loads frictionless and pyarrow while the build renders, and checks the
folder whose path it is then sent on stdin; it answers with a pickle on stdout.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

from eventledger.issues import Issue
from eventledger.publish.children import end, launch
from eventledger.publish.verify import compare_tables


def frictionless_problems(folder: Path) -> list[str]:
    from frictionless import validate

    report = validate(folder / "datapackage.json")
    if report.valid:
        return []
    return [
        f"{task.name}: {err.type}: {err.message}" for task in report.tasks for err in task.errors
    ] + [f"{err.type}: {err.message}" for err in report.errors]


def check_tables(folder: Path) -> tuple[list[str], list[Issue]]:
    """What frictionless says of the package, and which Parquet tables differ from their CSV."""
    return frictionless_problems(folder), compare_tables(folder)


class TablesCheck:
    """check_tables in its own process: started now, given its folder by start(folder)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = launch("eventledger.publish.tables_check")

    def start(self, folder: Path) -> None:
        self.folder = folder
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(os.fsencode(folder) + b"\n")
                self.proc.stdin.close()
            except OSError:
                self.stop()

    def result(self) -> tuple[list[str], list[Issue]]:
        if self.folder is None:
            raise RuntimeError("the tables' check was never given its folder")
        if self.proc is not None and self.proc.stdout is not None:
            out = self.proc.stdout.read()
            if self.proc.wait() == 0:
                with contextlib.suppress(pickle.UnpicklingError, EOFError, ValueError):
                    found: tuple[list[str], list[Issue]] = pickle.loads(out)  # noqa: S301 - our own child
                    return found
        # The process could not start or died (killed, out of memory): check here.
        return check_tables(self.folder)

    def stop(self) -> None:
        """Kill the process; a result asked for afterwards is checked here."""
        proc, self.proc = self.proc, None
        end(proc)


def main() -> None:
    import frictionless  # noqa: F401 - loaded while the build renders, before the folder comes
    import pyarrow.parquet  # noqa: F401

    line = sys.stdin.buffer.readline().rstrip(b"\n")
    if not line:
        return  # the build ended before its tables were written
    found = check_tables(Path(os.fsdecode(line)))
    sys.stdout.buffer.write(pickle.dumps(found))


if __name__ == "__main__":
    main()
