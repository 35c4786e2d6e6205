"""<name>-<version>.sqlite: the release's five tables with their keys, and a full-text index.

Deterministic in bytes: the file is built with a fixed page size, no WAL, rows inserted in
key order, then VACUUMed, so the same rows give the same file (two builds are compared in the
tests). Lists are stored as JSON arrays,
which SQLite's json_each() and Datasette both read.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

PAGE_SIZE = 4096
SQL_TYPES = {
    "string": "TEXT",
    "integer": "INTEGER",
    "number": "REAL",
    "date": "TEXT",
    "list": "TEXT",
}
FTS = "search"  # the full-text table: one row per evidence span
# A list's JSON text, as json.dumps(value, ensure_ascii=False) writes it: dumps given keyword
# arguments builds a new encoder for every call: 100,000 lists of one to four strings took
# 0.33 s that way, 0.18 s this way. Only lists _JsonTexts does not keep pay it (items not
# all strings, or past its 4,096 entries); the synthetic 100k repository's 101 distinct
# actor_ids lists are all kept, so there it gains nothing.
_json_text = json.JSONEncoder(ensure_ascii=False).encode


class FieldLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def required(self) -> bool: ...


class TableLike(Protocol):
    """What sqlite_bytes needs of a table's schema (eventledger.schema.TableSpec has it)."""

    @property
    def name(self) -> str: ...
    @property
    def fields(self) -> Sequence[FieldLike]: ...
    @property
    def primary_key(self) -> Sequence[str]: ...
    @property
    def foreign_keys(self) -> Sequence[Mapping[str, Any]]: ...


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create(spec: TableLike) -> str:
    lines = []
    for f in spec.fields:
        # Only required fields: a composite key may hold an empty part (coverage.reason of a
        # coded sentence), which Table Schema allows and SQLite keeps for rowid tables.
        null = " NOT NULL" if f.required else ""
        column = _ident(f.name)
        # json_valid(NULL) is 0 in SQLite before 3.45, so an empty list cell is allowed by name.
        check = f" CHECK ({column} IS NULL OR json_valid({column}))" if f.type == "list" else ""
        lines.append(f"{column} {SQL_TYPES.get(f.type, 'TEXT')}{null}{check}")
    if spec.primary_key:
        lines.append("PRIMARY KEY (" + ", ".join(_ident(k) for k in spec.primary_key) + ")")
    for fk in spec.foreign_keys:
        ref = fk["reference"]
        lines.append(
            "FOREIGN KEY ("
            + ", ".join(_ident(k) for k in fk["fields"])
            + f") REFERENCES {_ident(ref['resource'])} ("
            + ", ".join(_ident(k) for k in ref["fields"])
            + ")"
        )
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {_ident(spec.name)} (\n  {body}\n)"


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "date" or isinstance(value, dt.date):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind == "list":
        return _json_text(list(value))
    return value


def _order(spec: TableLike, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(_value("", row[k]) for k in spec.primary_key)


_PLAIN = frozenset({str, int})  # key values _order leaves as they are and Python orders alike


def _sorted(spec: TableLike, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """rows in the order of _order. Where every key value is a str or an int (every released
    row: ids, span numbers, offsets), the values themselves order the rows as _order's tuples
    do, so they are taken by one C call a row; any other value (a date, None) sorts by
    _order itself."""
    names = list(spec.primary_key)
    if not names:
        return list(rows)
    if all(set(map(type, map(itemgetter(n), rows))) <= _PLAIN for n in names):
        return sorted(rows, key=itemgetter(*names))
    return sorted(rows, key=lambda r: _order(spec, r))


CHUNK = 4096  # rows made into SQLite's values at a time, column by column


def _stored_rows(spec: TableLike, rows: Sequence[Mapping[str, Any]]) -> Iterator[tuple[Any, ...]]:
    """Each row's values as the table's columns store them (_cells), made column by column:
    a chunk of rows is taken as tuples of its fields (one C call a row), and only the columns
    whose values SQLite does not store as they are (dates, lists, a date in another column)
    are converted. A row without one of the fields is made by _cells, which reads it as null."""
    names = [f.name for f in spec.fields]
    kinds = [f.type for f in spec.fields]
    cells = _cells(spec)
    if not names:
        yield from map(cells, rows)
        return
    take = itemgetter(*names)
    texts = _JsonTexts()
    as_json = _json_memo()
    for at in range(0, len(rows), CHUNK):
        chunk = rows[at : at + CHUNK]
        try:
            values = list(map(take, chunk)) if len(names) > 1 else [(take(r),) for r in chunk]
        except KeyError:
            yield from map(cells, chunk)
            continue
        columns: list[Sequence[Any]] = list(zip(*values, strict=True)) if values else []
        for j, kind in enumerate(kinds):
            column = columns[j]
            types = set(map(type, column))
            if kind == "list":
                try:
                    columns[j] = (
                        list(map(texts.__getitem__, map(tuple, column)))
                        if types == {list}
                        else [None if v is None else texts[tuple(v)] for v in column]
                    )
                except TypeError:  # a list holding a list (unhashable), or a number
                    columns[j] = [None if v is None else as_json(v) for v in column]
            elif kind == "date" or any(issubclass(t, dt.date) for t in types):
                if all(t is type(None) or issubclass(t, dt.date) for t in types):
                    columns[j] = [None if v is None else v.isoformat() for v in column]
                else:
                    columns[j] = [_value(kind, v) for v in column]
        yield from zip(*columns, strict=True)


class _JsonTexts(dict[tuple[Any, ...], str]):
    """A list's JSON text (_value) by the tuple of its items, kept when they are all strings:
    most lists recur (supports: ["event"]), and a tuple equal to one kept holds equal
    strings. A lookup is one C call; only a list not seen yet makes its text."""

    def __missing__(self, key: tuple[Any, ...]) -> str:
        text = _json_text(list(key))
        if len(self) < 4096 and all(type(v) is str for v in key):
            self[key] = text
        return text


def _json_memo() -> Callable[[Any], str]:
    """_JsonTexts for any value of a list column, a list holding a list too (unhashable)."""
    texts = _JsonTexts()

    def as_json(value: Any) -> str:
        try:
            return texts[tuple(value)]
        except TypeError:  # a list holding a list
            return _json_text(list(value))

    return as_json


def _cells(spec: TableLike) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values as the table's columns store them, with the work per field decided
    once per table rather than once per cell (a million events have 14 million cells)."""
    kinds = [(f.name, f.type) for f in spec.fields]
    as_json = _json_memo()

    def cells(row: Mapping[str, Any]) -> tuple[Any, ...]:
        out: list[Any] = []
        for name, kind in kinds:
            value = row.get(name)
            if kind == "list":
                out.append(None if value is None else as_json(value))
            elif kind != "date" and (value is None or type(value) is str or type(value) is int):
                out.append(value)  # what _value leaves as it is: most cells
            else:
                out.append(_value(kind, value))
        return tuple(out)

    return cells


def _fill(
    db: sqlite3.Connection,
    tables: Mapping[str, TableLike],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
) -> None:
    # Parents before children (the order of the tables in the file, so it stays as it was).
    order = sorted(tables, key=lambda t: (len(tables[t].foreign_keys), t))
    for name in order:
        db.execute(_create(tables[name]))
    for name in order:
        spec = tables[name]
        cols = ", ".join(_ident(f.name) for f in spec.fields)
        marks = ", ".join("?" for _ in spec.fields)
        # Names from schema/, quoted by _ident; every value is a bound parameter.
        db.executemany(
            f"INSERT INTO {_ident(name)} ({cols}) VALUES ({marks})",  # noqa: S608
            _stored_rows(spec, _sorted(spec, rows.get(name, ()))),
        )
    if "evidence" in tables and "events" in tables:
        # One row per span: the quote, its translation and its event's title, so one MATCH
        # finds an event by any of them; event_id and span lead back to the tables.
        db.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5("
            "event_id UNINDEXED, span UNINDEXED, title, quote, translation, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        db.execute(  # FTS is a constant of this module; nothing here comes from data
            f"INSERT INTO {FTS} (event_id, span, title, quote, translation) "  # noqa: S608
            "SELECT v.event_id, v.span, e.title, v.quote, coalesce(v.translation, '') "
            "FROM evidence AS v JOIN events AS e USING (event_id) ORDER BY v.event_id, v.span"
        )
        db.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('optimize')")  # noqa: S608


def sqlite_bytes(
    tables: Mapping[str, TableLike], rows: Mapping[str, Sequence[Mapping[str, Any]]]
) -> bytes:
    """The tables as one SQLite database file, with keys and the full-text table 'search'.

    Built in memory and serialized: for small packages and the tests; a release writes the
    same bytes with write_sqlite, which never holds the database in memory."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        _fill_checked(db, tables, rows)
        db.execute("VACUUM")
        return db.serialize()
    finally:
        db.close()


def _fill_checked(
    db: sqlite3.Connection,
    tables: Mapping[str, TableLike],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
) -> None:
    # The keys are checked once the tables are full (foreign_key_check below), each child row
    # against its parent's key index, rather than at every insert as well.
    db.execute("BEGIN")
    _fill(db, tables, rows)
    db.execute("COMMIT")
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        # As an insert refused them before: a sqlite3.Error, which the build reports, not a
        # traceback. Checked records cannot get here (the checks resolve every key).
        raise sqlite3.IntegrityError(f"rows whose foreign keys do not resolve: {broken[:5]}")


# What a file written by SQLite holds in its header and a serialized in-memory database does
# not (zeros there): the file change counter (bytes 24-27), the counter its version number is
# valid for (92-95) and the library's version number (96-99). Zeroed, the file is byte for
# byte what sqlite_bytes gives, and does not vary with the SQLite library that wrote it.
_HEADER_COUNTERS = ((24, 4), (92, 8))


def write_sqlite(
    tables: Mapping[str, TableLike],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    path: Path,
    scratch: Path,
) -> None:
    """The bytes of sqlite_bytes, written to the new file path without the database ever
    being whole in memory (at a million events it is gigabytes, and serializing it copied it
    again): filled in the file scratch, beside path, then VACUUMed INTO path; scratch is
    removed. Temporary data (index sorting) stays in memory: nothing is written elsewhere."""
    for made in (path, scratch):
        if made.exists() or made.is_symlink():
            raise FileExistsError(errno.EEXIST, "a file is in the way", str(made))
    try:
        db = sqlite3.connect(scratch, isolation_level=None)
        try:
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # A scratch file: removed whatever happens, so nothing to journal or sync.
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("PRAGMA temp_store = MEMORY")
            _fill_checked(db, tables, rows)
            db.execute("VACUUM INTO ?", (str(path),))
        finally:
            db.close()
    finally:
        scratch.unlink(missing_ok=True)
    with open(path, "r+b") as fh:
        for offset, size in _HEADER_COUNTERS:
            fh.seek(offset)
            fh.write(bytes(size))
