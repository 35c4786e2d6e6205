"""Reading and checking record files on every core, with a cache, merged in file order.

Reading one file (strict YAML, typed rows, the rules within one record) is a pure
function of its bytes, its path and the schema, so it runs in worker processes. Workers
send back records without their parsed documents (pickling those costs more than
parsing) or their bytes: typed rows, issues, the field paths already reported and a
stamp of the bytes (a later check that places an issue reads the file again). The pool
pickles them (a channel between our own processes, so it is trusted; read_row interns
short texts and rows share their table's field names, so a task's result holds each
term and each name once). What the cache stores is plain marshal data instead, never trusted:
the worker that looks an entry up decodes and checks it, reads the file again when it
describes no record and replaces it, and sends the parent the record it decoded as it sends
one it read (the parent's time is the run's critical path: decoding every entry there cost
it more than the workers' parse of the same files spread over the cores). Records are
merged in the order of the files, so they, and every check after them, come out the same
whatever the number of workers.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import marshal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass, field
from typing import Any

from eventledger import collector
from eventledger.check.rules import check_record
from eventledger.check.table_proof import rows_by_table, values_clean
from eventledger.issues import Issue, RecordPath
from eventledger.issues.stored import issue_from
from eventledger.model.schema import Schema
from eventledger.read.cache import Cache, Location
from eventledger.read.records import Record, Row, Shape, read_record, shape_of
from eventledger.read.repository import FileTooLarge, NotRegularFile, RecordFile, read_regular
from eventledger.syntax.strict_yaml import MAX_BYTES, load, too_large

CHUNK = 256  # files per task at most: enough to amortize a round trip, few enough to balance
SERIAL_BELOW = 64  # fewer files are read faster than worker processes start


def _raw(entry: RecordFile, max_bytes: int) -> bytes | Record:
    """The file's bytes, or the record of why they cannot be read."""
    try:
        return read_regular(entry.path, limit=max_bytes)
    except FileTooLarge as err:  # not read at all: a 3 GB file costs no memory
        record = Record(entry.kind, entry.rel, None)
        record.issues.append(too_large(entry.rel, err.size, max_bytes))
        return record
    except OSError as err:
        # The entry was a regular file when the folder was listed; it changed since.
        if not isinstance(err, NotRegularFile):
            code = "file-unreadable"
        else:
            code = "symlink-not-allowed" if err.errno == errno.ELOOP else "special-file"
        record = Record(entry.kind, entry.rel, None)
        record.issues.append(
            Issue(
                entry.rel,
                0,
                0,
                code,
                f"cannot read the file: {err.strerror}",
                hint={
                    "file-unreadable": "make the file readable (chmod a+r) or remove it",
                    "symlink-not-allowed": "replace the link with the file itself",
                }.get(code, "delete it; records are regular files"),
            )
        )
        return record


def read_file(entry: RecordFile, schema: Schema, max_bytes: int = MAX_BYTES) -> Record:
    """Read and check one record file on its own: a pure function of its bytes, its path
    and the schema (what a worker process can run and a cache can keep)."""
    raw = _raw(entry, max_bytes)
    return raw if isinstance(raw, Record) else _read(entry, raw, schema, max_bytes)


def _read(entry: RecordFile, raw: bytes, schema: Schema, max_bytes: int) -> Record:
    # Most files are clean: parse without recording where each key stands (most of the
    # parse), and parse again with positions only when the record has issues to place.
    positions = False
    while True:
        doc, issues = load(raw, entry.rel, max_bytes=max_bytes, positions=positions)
        if doc is None:
            record = Record(entry.kind, entry.rel, None)
            break
        record = read_record(schema.model.kind(entry.kind), entry.rel, doc, schema)
        check_record(record, schema)
        if positions or not record.issues:
            record.drop_document(entry.where, raw)
            break
        positions = True
    record.issues[:0] = issues
    return record


# The cache's payloads are marshal data of plain tuples, lists, texts and numbers: encoding
# and decoding them is C work, about ten times cheaper than JSON plus the Python loops that
# rebuilt each value, and marshal keeps what read_row interned interned (and stores each
# repeated object once). Dates, which marshal cannot hold, are stored as (ordinal,) in the
# table's date fields. A row's keys (its "shape") are stored as bytes, each the place of a
# key among its table's fields in the schema: the names themselves were 450 of the 1,600
# bytes of an event's entry, and a million records' entries must fit the cache's bound.
# marshal can describe code objects, never run them; decode() accepts nothing but the plain
# types a record holds, so an entry that passes its checksum but has any other shape is
# refused and the file read again.
MARSHAL_VERSION = 4
_PLAIN = frozenset({str, int, float, bool, type(None), dt.date})


@dataclass
class Columns:
    """Per table of the schema: its field names in order and where each stands, and its
    date fields. codes: (table, keys) -> the keys' code and where such a row holds dates;
    shapes: (table, code) -> the shape and where it holds dates. Both recur in every record:
    each is worked out (and checked) once per schema read."""

    names: dict[str, tuple[str, ...]]
    places: dict[str, dict[str, int]]
    dates: dict[str, frozenset[str]]
    codes: dict[tuple[str, tuple[str, ...]], tuple[bytes, tuple[int, ...]]] = field(
        default_factory=dict
    )
    shapes: dict[tuple[str, bytes], tuple[Shape, tuple[int, ...]]] = field(default_factory=dict)


def columns_of(schema: Schema) -> Columns:
    names = {name: tuple(f.name for f in table.fields) for name, table in schema.tables.items()}
    return Columns(
        names,
        {table: {n: i for i, n in enumerate(fields)} for table, fields in names.items()},
        {
            name: frozenset(f.name for f in table.fields if f.type == "date")
            for name, table in schema.tables.items()
        },
    )


def _code(table: str, keys: tuple[str, ...], columns: Columns) -> tuple[bytes, tuple[int, ...]]:
    found = columns.codes.get((table, keys))
    if found is None:
        places, dates = columns.places[table], columns.dates[table]
        # KeyError: a key that is no field; ValueError: a table of more than 255 fields.
        found = columns.codes[(table, keys)] = (
            bytes(places[k] for k in keys),
            tuple(i for i, k in enumerate(keys) if k in dates),
        )
    return found


def _shape(table: str, code: Any, columns: Columns) -> tuple[Shape, tuple[int, ...]]:
    found = columns.shapes.get((table, code))  # TypeError: unhashable, so no shape
    if found is None:
        names = columns.names[table]  # KeyError: a table the schema lacks
        if (
            type(code) is not bytes
            or len(set(code)) != len(code)
            or max(code, default=0) >= len(names)
        ):
            raise ValueError("not a row shape")
        keys = tuple(names[i] for i in code)
        dates = columns.dates[table]
        found = columns.shapes[(table, code)] = (
            shape_of(keys),
            tuple(i for i, k in enumerate(keys) if k in dates),
        )
    return found


def encode(record: Record, columns: Columns) -> bytes | None:
    """The compact result of reading one file, as the cache stores it, or None when the record
    holds a value the format cannot (then it is not cached). Rows are value tuples beside the
    codes of their keys ("shapes"), which a record's rows of one table share."""
    shapes: dict[bytes, int] = {}
    rows = []
    try:
        for row in record.rows:
            code, dates = _code(row.table, row.shape.keys, columns)
            index = shapes.setdefault(code, len(shapes))
            values = list(row.items)
            for at in dates:
                value = values[at]
                if type(value) is dt.date:
                    values[at] = (value.toordinal(),)
            rows.append((row.table, row.prefix, index, tuple(values)))
    except (KeyError, ValueError):  # a row this format cannot describe: not cached
        return None
    data = (
        record.where is not None,
        record.table,
        record.id_field,
        tuple(shapes),
        tuple(rows),
        tuple(astuple(issue) for issue in record.issues),
        tuple(sorted(record.flagged, key=repr)),
    )
    try:
        return marshal.dumps(data, MARSHAL_VERSION)
    except ValueError:  # a value of a type marshal does not hold (a date out of place)
        return None


# Field paths recur in every record: each distinct one is checked once, and every decoded
# row shares the checked one.
_PATHS: dict[Any, RecordPath] = {}
_TEXT = frozenset({str})


def _path(value: Any) -> RecordPath:
    found = _PATHS.get(value)  # TypeError: unhashable, so no path
    if found is None:
        if type(value) is not tuple or not set(map(type, value)) <= {str, int}:
            raise ValueError("not a field path")
        found = _PATHS[value] = value
    return found


def decode(
    entry: RecordFile,
    payload: bytes,
    raw: bytes | None,
    columns: Columns,
) -> Record:
    """The record encode() described. Raises ValueError, KeyError, TypeError, IndexError,
    OverflowError or EOFError on a payload that does not describe one (a damaged or foreign
    cache entry: a date's day number past what a date holds raises OverflowError)."""
    data = marshal.loads(payload)  # noqa: S302  # plain data only: checked below, never run
    if type(data) is not tuple or len(data) != 7:
        raise ValueError("not a record")
    parsed, table, id_field, shapes_data, rows_data, issues_data, flagged_data = data
    if type(table) is not str or type(id_field) is not str or type(parsed) is not bool:
        raise ValueError("not a record")
    if type(shapes_data) is not tuple or type(rows_data) is not tuple:
        raise ValueError("not a record")
    rows = []
    for row_table, prefix, index, items in rows_data:
        if type(index) is not int or index < 0 or type(items) is not tuple:
            raise ValueError("not a row")
        shape, at = _shape(row_table, shapes_data[index], columns)
        if len(shape.keys) != len(items):
            raise ValueError("not a row")
        values: Sequence[Any] = items
        if at:
            values = list(items)
            for i in at:
                value = values[i]
                if type(value) is tuple:
                    (ordinal,) = value
                    if type(ordinal) is not int:
                        raise ValueError("not a date")
                    values[i] = dt.date.fromordinal(ordinal)
        if not set(map(type, values)) <= _PLAIN:
            for value in values:
                if type(value) not in _PLAIN and (
                    type(value) is not list or not set(map(type, value)) <= _TEXT
                ):
                    raise ValueError("not a value of a record")
        rows.append(Row(row_table, tuple(values), _path(prefix), shape))
    issues = [issue_from(list(values)) for values in issues_data]
    if any(i.file != entry.rel for i in issues):
        raise ValueError("an issue of another file")
    record = Record(entry.kind, entry.rel, None, table, id_field, rows, issues)
    if flagged_data:
        record.flagged = {_path(p) for p in flagged_data}
    if parsed and raw is not None:
        record.drop_document(entry.where, raw)
    return record


# One result per file: the record read or decoded, and the SHA-256 of the bytes read (None
# when there was no cache to key, or nothing was read). Per task, where the entries it wrote
# to the cache are, and whether the rows of its records pass every check Pandera makes of
# one value (table_proof.values_clean; True when it was not asked).
Result = tuple[Record, bytes | None]
Done = tuple[list[Result], dict[str, Location], bool]


@dataclass
class Proof:
    """What read_files tells the table layer: whether the rows of every record read certainly
    pass every check Pandera makes of one value (each task proves its own records, whether
    it read or decoded them, on both cores). rows: the caller gathers each table's rows
    there as records arrive."""

    clean: bool = True
    rows: dict[str, list[Row]] = field(default_factory=dict)  # every row, by table (the caller's)


def _values_clean(records: Sequence[Record], schema: Schema) -> bool:
    for name, rows in rows_by_table(records).items():
        table = schema.tables.get(name)
        if table is None or not values_clean(table, rows, schema):
            return False
    return True


def _key(cache: Cache, entry: RecordFile, raw: bytes, max_bytes: int) -> str:
    return _key_of(cache, entry, hashlib.sha256(raw).digest(), max_bytes)


def _key_of(cache: Cache, entry: RecordFile, sha256: bytes, max_bytes: int) -> str:
    return cache.key_of(entry.kind, f"{entry.rel}\0{max_bytes}", sha256)


def _work(
    entries: Sequence[RecordFile],
    schema: Schema,
    max_bytes: int,
    cache: Cache | None,
    prove: bool = False,
) -> Done:
    out: list[Result] = []
    new: list[tuple[str, bytes]] = []
    read: list[Record] = []
    columns = columns_of(schema)
    for entry in entries:
        raw = _raw(entry, max_bytes)
        if isinstance(raw, Record):  # unreadable: the record says why
            out.append((raw, None))
            read.append(raw)
            continue
        if cache is None:
            record = _read(entry, raw, schema, max_bytes)
            out.append((record, None))
            read.append(record)
            continue
        sha256 = hashlib.sha256(raw).digest()
        key = _key_of(cache, entry, sha256, max_bytes)
        payload = cache.lookup(key)
        found = None
        if payload is not None:
            try:
                found = decode(entry, payload, raw, columns)
            except (ValueError, KeyError, TypeError, IndexError, OverflowError, EOFError):
                # An entry that passed its checksum but describes no record (written by
                # something else): never trusted; the file is read again, the entry replaced.
                found = None
        if found is None:
            found = _read(entry, raw, schema, max_bytes)
            payload = encode(found, columns)
            if payload is not None:
                new.append((key, payload))
        out.append((found, sha256))
        read.append(found)
    proved = not prove or _values_clean(read, schema)
    return out, cache.write_pack(new) if cache is not None else {}, proved


# Set in each worker by fork from the parent, so the schema is never pickled per task.
_SHARED: tuple[Schema, int, Cache | None, bool] | None = None


def _work_shared(entries: Sequence[RecordFile]) -> Done:
    if _SHARED is None:
        raise RuntimeError("a worker started without what the parent shares")
    return _work(entries, *_SHARED)


def _chunks(files: Sequence[RecordFile], size: int) -> Iterator[Sequence[RecordFile]]:
    for start in range(0, len(files), size):
        yield files[start : start + size]


def _can_fork() -> bool:
    # multiprocessing and concurrent.futures are imported only when workers start: a
    # validate after a few edits reads those few files here, and importing them was a
    # twentieth of that run.
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _results(
    files: Sequence[RecordFile],
    schema: Schema,
    max_bytes: int,
    jobs: int,
    cache: Cache | None,
    meanwhile: Callable[[], object] | None,
    prove: bool = False,
) -> Iterator[tuple[Sequence[RecordFile], Done]]:
    """Each chunk of files with its results, in order, as they come (decoded as they arrive,
    so the parent never holds every payload at once)."""
    global _SHARED
    # Workers are forked so that they share the schema and the cache's index with the
    # parent; where fork is missing (Windows), files are read here.
    if jobs <= 1 or len(files) < SERIAL_BELOW or not _can_fork():
        if meanwhile is not None:
            meanwhile()
        for part in _chunks(files, CHUNK):
            yield part, _work(part, schema, max_bytes, cache, prove)
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    size = min(CHUNK, -(-len(files) // (jobs * 4)))
    parts = list(_chunks(files, size))
    _SHARED = (schema, max_bytes, cache, prove)
    try:
        with ProcessPoolExecutor(jobs, mp_context=get_context("fork")) as pool:
            done = pool.map(_work_shared, parts)  # every worker started, every task queued
            if meanwhile is not None:
                meanwhile()
            yield from zip(parts, done, strict=True)
    finally:
        _SHARED = None


def read_files(
    files: Sequence[RecordFile],
    schema: Schema,
    *,
    max_bytes: int = MAX_BYTES,
    jobs: int = 1,
    cache: Cache | None = None,
    meanwhile: Callable[[], object] | None = None,
    each: Callable[[Record], object] | None = None,
    digests: dict[str, bytes] | None = None,
    proof: Proof | None = None,
) -> list[Record]:
    """Read every file (in workers when jobs > 1), in the order given. meanwhile is called
    once the workers have their tasks (before reading, without workers): the parent waits
    for them otherwise, so work of its own that does not need the records (importing
    pandas, a second of a run) is done for free there. each is called with every record,
    in order, as soon as it is read: work on one record alone is done there while the
    workers still read, instead of after them. digests, with a cache, receives the SHA-256
    of the bytes read of every file that could be read, by rel (what a cold run's scan
    needs, so that no file is hashed twice). proof: each task proves the rows of the
    records it read or decoded, and says whether they are clean there (see Proof)."""
    # Every record read stays alive until the end of the run: the collector's passes over
    # them find nothing to free, so pause it, and freeze what was read afterwards.
    with collector.paused(freeze=True):
        records: list[Record] = []
        added: dict[str, Location] = {}
        prove = proof is not None
        chunks = _results(files, schema, max_bytes, jobs, cache, meanwhile, prove)
        for part, (results, wrote, proved) in chunks:
            added.update(wrote)
            if proof is not None and not proved:
                proof.clean = False
            start = len(records)
            for entry, (record, sha256) in zip(part, results, strict=True):
                if digests is not None and sha256 is not None:
                    digests[entry.rel] = sha256
                if record.where is not None:
                    record.where = entry.where  # one text shared with the file list
                records.append(record)
            if each is not None:
                for record in records[start:]:
                    each(record)
        if cache is not None:
            cache.commit(added)
        return records
