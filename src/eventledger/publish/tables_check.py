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
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard

from eventledger.issues import Issue
from eventledger.publish.children import (
    Child,
    arrow_gives_memory_back,
    die_with_parent,
    end,
    launch,
)
from eventledger.publish.verify import compare_tables


def frictionless_problems(folder: Path) -> list[str]:
    from frictionless import validate

    with lookups_read_once():
        report = validate(folder / "datapackage.json")
    if report.valid:
        return []
    return [
        f"{task.name}: {err.type}: {err.message}" for task in report.tasks for err in task.errors
    ] + [f"{err.type}: {err.message}" for err in report.errors]


@contextlib.contextmanager
def lookups_read_once() -> Iterator[None]:
    """While frictionless validates a package, each foreign key's lookup (the set of the keys
    of the table it refers to) is read once, not once for each table that refers to it.

    frictionless reads a table again, typed and checked, for every foreign key that names it:
    the events table (30k rows, 0.4 CPU s) three times more, for participants, evidence and
    passages, about 1-2 of its 8-9 CPU s. Here the first reading of (table, key) is kept for
    the others. It is frictionless's own reading (a copy of the resource, without foreign
    keys of its own, its row stream), with the same result: the lookup only answers whether
    a key is in it. Every check and every error of frictionless stays as it is; a resource
    that refers to itself, or outside a package, is left to frictionless's own code whole.
    The method replaced is private: any frictionless other than the 5.x read here keeps its
    own, unchanged (the test of this function fails then, so the saving is not lost quietly).
    """
    from importlib.metadata import version

    from frictionless.resources import TableResource

    own = getattr(TableResource, _OPEN_LOOKUP, None)
    if own is None or not version("frictionless").startswith("5."):
        yield
        return
    read: dict[tuple[int, str, tuple[str, ...]], set[tuple[Any, ...]]] = {}

    def open_lookup(self: Any) -> None:
        from frictionless.table.lookup import Lookup

        keys = self.schema.foreign_keys
        if not self.package or any(
            not fk["reference"]["resource"]
            or fk["reference"]["resource"] == self.name
            or not self.package.has_resource(fk["reference"]["resource"])
            for fk in keys
        ):
            own(self)  # its own errors and its own copy of a resource that refers to itself
            return
        lookup = Lookup()
        for fk in keys:
            source_name = fk["reference"]["resource"]
            source_key = tuple(fk["reference"]["fields"])
            lookup.setdefault(source_name, {})
            if source_key in lookup[source_name]:
                continue
            at = (id(self.package), source_name, source_key)
            if at not in read:
                read[at] = _lookup_of(self.package.get_resource(source_name), source_key)
            lookup[source_name][source_key] = read[at]
        setattr(self, _LOOKUP, lookup)

    setattr(TableResource, _OPEN_LOOKUP, open_lookup)
    try:
        yield
    finally:
        setattr(TableResource, _OPEN_LOOKUP, own)


# TableResource.__open_lookup and the lookup it sets, as Python names them from outside.
_OPEN_LOOKUP = "_TableResource__open_lookup"
_LOOKUP = "_TableResource__lookup"


def _lookup_of(resource: Any, key: tuple[str, ...]) -> set[tuple[Any, ...]]:
    """The keys of a resource as frictionless reads them for a foreign key (its code, in
    TableResource.__open_lookup): from a copy without foreign keys, all-null keys left out."""
    source = resource.to_copy()
    if source.schema:
        source.schema.foreign_keys = []
    found: set[tuple[Any, ...]] = set()
    if not source:
        return found
    with source:
        for row in source.row_stream:
            cells = tuple(row.get(name) for name in key)
            if set(cells) == {None}:
                continue
            found.add(cells)
    return found


def check_tables(folder: Path) -> tuple[list[str], list[Issue]]:
    """What frictionless says of the package, and which Parquet tables differ from their CSV."""
    return frictionless_problems(folder), compare_tables(folder)


def _an_answer(found: object) -> TypeGuard[tuple[list[str], list[Issue]]]:
    """Whether found is what check_tables returns: frictionless's problems, the tables that
    differ. Taken unchecked, a stray value failed the build (a TypeError) or had it report
    the package as rejected for no reason."""
    return (
        isinstance(found, tuple)
        and len(found) == 2
        and isinstance(found[0], list)
        and all(isinstance(problem, str) for problem in found[0])
        and isinstance(found[1], list)
        and all(isinstance(issue, Issue) for issue in found[1])
    )


class TablesCheck:
    """check_tables in its own process: started now, given its folder by start(folder)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.proc: Child | None = launch(
            "eventledger.publish.tables_check", "the tables check (frictionless)"
        )
        self.here = False  # result() did the check in this process (the child gave no answer)

    def start(self, folder: Path) -> None:
        self.folder = folder
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(os.fsencode(folder) + b"\n")
                self.proc.stdin.close()
            except OSError:  # it died: result() says how
                pass

    def result(self) -> tuple[list[str], list[Issue]]:
        if self.folder is None:
            raise RuntimeError("the tables' check was never given its folder")
        proc = self.proc
        if proc is not None and proc.stdout is not None:
            proc.awaited = True  # Watch ends it if it makes no progress
            out = proc.stdout.read()
            code = proc.answered()  # ChildFailed when a signal ended it
            proc.awaited = False
            if code == 0:
                found: object = None
                with contextlib.suppress(Exception):  # anything but an answer: checked here
                    found = pickle.loads(out)  # noqa: S301 - our own child wrote it
                if _an_answer(found):
                    return found
        # The process could not start, failed on its own (it said why) or answered with
        # something that is not an answer (a stray line, another value): check here.
        self.here = True
        return check_tables(self.folder)

    def stop(self) -> None:
        """Kill the process; a result asked for afterwards is checked here."""
        proc, self.proc = self.proc, None
        end(proc)


def main() -> None:
    die_with_parent()
    import frictionless  # noqa: F401 - loaded while the build renders, before the folder comes
    import pyarrow.parquet  # noqa: F401

    arrow_gives_memory_back()
    line = sys.stdin.buffer.readline().rstrip(b"\n")
    if not line:
        return  # the build ended before its tables were written
    found = check_tables(Path(os.fsdecode(line)))
    sys.stdout.buffer.write(pickle.dumps(found))


if __name__ == "__main__":
    main()
