"""A release's full manifest (build/<version>/manifest.json, or its zip's member) read as a
stream, for a manifest of any size.

A million events make a manifest.json of about 1.06 GB: read whole it is refused
(jsonfile.MAX_JSON_BYTES), and json.loads of it would need many GB of Python objects. What
comparing two releases needs of it is small: the head (every top key but "records") and
each record's content hash; and, for the few records whose hash changed, their field
hashes. So a manifest is read in passes over its bytes, a chunk (about 1 MB) at a time:

1. read_manifest walks the top object, "records" and each table object by hand and decodes
   every other value (a head value, one record's entry) with json's own decoder
   (raw_decode), keeping the head and per table {record id: hash}: memory grows with the
   number of records, not with the file. It checks the shape of everything as
   manifest.is_manifest does for a manifest read whole.
2. ManifestStream.fields reads the file again and keeps the field hashes of the ids asked
   for only (the changed records), and refuses the file if its bytes are not the bytes of
   pass 1 (replaced between the passes). manifest.compare asks for at most
   manifest.FIELDS_AT_ONCE records at a time, so a release that changed more records is
   read once more for each such part.

Any JSON text is read as json.loads reads it: any whitespace and key order, a key given
twice holding its last value. The file comes from a download or a pull request: what is not
a manifest gives a JsonFileError (not UTF-8, not JSON with its line and column, nested too
deeply, one value longer than max_value, unreadable) or a NotAManifest naming what is wrong
with its shape, never another exception; and no single value, however long, is held beyond
max_value, nor more tables than MAX_TABLES.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import lzma
import os
import re
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, NoReturn

from eventledger.jsonfile import MAX_JSON_BYTES, JsonFileError, loads, long_number
from eventledger.publish.manifest import is_manifest
from eventledger.read.repository import open_regular

# Bytes read at a time: large enough that reading costs little per record, small enough
# to be nothing beside the records' hashes.
CHUNK = 1 << 20
# The longest single value (a head value, a record's entry, a key) read, in characters: a
# record's entry is about a kilobyte, the vocabularies a few. Bounds what one token can
# make the reader hold.
MAX_VALUE = 64 * 1024**2
# The most tables a manifest's records may hold (a release has a few: events, actors,
# sources). Each costs some 150 bytes held beside its 8 in the file ("t1":{},), so that a
# manifest of nothing else would take 20 times its size in memory.
MAX_TABLES = 1000

# Opens the manifest's bytes from their start, once per pass.
Source = Callable[[], AbstractContextManager[IO[bytes]]]
# Per table, record id -> its "fields" object.
Fields = dict[str, dict[str, dict[str, Any]]]

# What reading a file or a zip member can raise beyond OSError: a damaged zip's deflate or
# LZMA stream (bzip2's is an OSError) or CRC, a member cut short.
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError)
_NOT_WS = re.compile(r"[^ \t\n\r]")  # JSON's whitespace is these four, as json skips it
# A member's key without escapes, its colon and the whitespace to its value, with the
# value's first character in the text: one regex match per record, the common case. Any
# other key (escapes, or cut by the end of the text read so far) is read by _string.
_KEY = re.compile(r'[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*(?=[^ \t\n\r])')
_NEXT = re.compile(r"[ \t\n\r]*([,}])")
# A decode error this close to the end of the text read so far may be the end's doing (a
# number, literal or \uXXXX escape cut short): more is read and the value decoded again.
_NEAR_END = 12
# A number decoded whole may go on past the text read so far: "1" of "12", "-0" of "-0.5",
# "1" of "1e+5" (json ends a number where its fraction or exponent has no digit yet). With
# this many characters after a value, it cannot: else more is read first.
_AFTER = 3

_decode: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().raw_decode
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _ends_in_long_integer(text: str) -> bool:
    """Whether text ends in an integer of more digits than int() takes, maybe with the "."
    or "e" of a float cut off after it: so read as an integer it raised, where the whole
    number may be a float (json makes those of any length)."""
    limit = sys.get_int_max_str_digits()
    body = text[-(limit + 4) :].rstrip("+-").rstrip("eE.")
    return len(body) - len(body.rstrip("0123456789")) > limit


def _string(text: str, pos: int) -> tuple[str, int]:
    """The JSON string whose opening quote is at pos, as json reads a key (strict)."""
    return _scanstring(text, pos + 1, True)


class NotAManifest(ValueError):
    """Valid JSON that is not a release's full manifest: the reason says what is wrong."""


class _Walk:
    """One pass over a manifest's bytes. Pass 1 (wanted None) keeps the head and the record
    hashes; pass 2 keeps the fields of the wanted records only."""

    def __init__(
        self,
        handle: IO[bytes],
        chunk: int,
        max_value: int,
        wanted: Mapping[str, Collection[str]] | None,
    ) -> None:
        self.handle = handle
        self.chunk = max(1, chunk)
        # Read ahead of a record so that its key and entry are nearly always whole in the text.
        self.lookahead = self.chunk // 4
        self.max_value = max_value
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.digest = hashlib.sha256()
        self.text = ""
        self.pos = 0  # in text
        self.eof = False
        self.read_bytes = 0
        # Where text starts in the whole text, for errors' lines and columns: the characters
        # and line breaks dropped before it, and where the last dropped line break was.
        self.base = 0
        self.lines = 0
        self.line_break = -1
        self.head: dict[str, Any] = {}
        self.head_size = 0
        self.is_object = True
        self.has_records = False
        self.records_object = True
        self.tables: dict[str, dict[str, str]] = {}
        # Per table, the ids whose entry (their last) is not a record's: a later entry of
        # the same id replaces it, as json.loads keeps the last.
        self.bad: dict[str, dict[str, None]] = {}
        self.not_objects: set[str] = set()
        self.wanted = None if wanted is None else {table: set(ids) for table, ids in wanted.items()}
        self.fields: Fields = {}

    # -- the text, a window at a time ----------------------------------------------------

    def read(self, size: int) -> str:
        """The next size bytes, decoded ('' at the end, and eof)."""
        try:
            data = self.handle.read(size)
        except _READ_ERRORS as err:
            raise JsonFileError(f"cannot read it: {err}") from err
        self.digest.update(data)
        pending = self.decoder.getstate()[0]
        try:
            new = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as err:
            at = self.read_bytes - len(pending) + err.start
            raise JsonFileError(f"byte {at} is not UTF-8") from err
        self.read_bytes += len(data)
        self.eof = not data
        return new

    def more(self, size: int = 0) -> bool:
        """Read max(size, chunk) more bytes, dropping the text before pos; False at the end."""
        if self.eof:
            return False
        new = self.read(max(size, self.chunk))
        drop = self.pos
        if drop:
            self.lines += self.text.count("\n", 0, drop)
            last = self.text.rfind("\n", 0, drop)
            if last >= 0:
                self.line_break = self.base + last
            self.base += drop
        self.text = self.text[drop:] + new
        self.pos = 0
        return True

    def where(self, pos: int) -> tuple[int, int]:
        """The line and column of text[pos], counted as json counts them."""
        line = self.lines + self.text.count("\n", 0, pos) + 1
        last = self.text.rfind("\n", 0, pos)
        return line, (pos - last if last >= 0 else self.base + pos - self.line_break)

    def fail(self, message: str, pos: int) -> NoReturn:
        self.refuse(f"not valid JSON: {message}", pos)

    def refuse(self, reason: str, pos: int) -> NoReturn:
        """Raise reason, at text[pos], once the rest is read: the whole read decodes every
        byte before it parses, so a byte that is not UTF-8 anywhere is the file's error."""
        line, column = self.where(pos)
        while not self.eof:
            self.read(self.chunk)  # only decoded: a chunk held at a time
        raise JsonFileError(reason, line, column)

    def too_long(self, pos: int) -> NoReturn:
        line, column = self.where(pos)
        raise JsonFileError(
            f"one value (line {line}, column {column}) is longer than {self.max_value:,} "
            f"characters ({self.max_value / 1024**2:g} MiB at least), the most a manifest's "
            "value may be; not read further",
            line,
            column,
        )

    def skip_ws(self) -> str:
        """The character after any whitespace at pos ('' at the end), pos at it."""
        while True:
            found = _NOT_WS.search(self.text, self.pos)
            if found is not None:
                self.pos = found.start()
                return found.group()
            self.pos = len(self.text)
            if not self.more():
                return ""

    def expect(self, chars: str, message: str) -> str:
        """The next character after whitespace, one of chars, taken; else invalid JSON."""
        found = self.skip_ws()
        if not found or found not in chars:
            self.fail(message, self.pos)
        self.pos += 1
        return found

    def value(self, parse: Callable[[str, int], tuple[Any, int]]) -> tuple[Any, int]:
        """The value parse reads at pos and its length, read further while it may be cut by
        the end of the text so far, up to max_value characters."""
        while True:
            start = self.pos
            try:
                found, end = parse(self.text, start)
            except json.JSONDecodeError as err:
                cut = err.msg.startswith("Unterminated string") or (
                    err.pos >= len(self.text) - _NEAR_END
                )
                if self.eof or not cut:
                    self.fail(err.msg, err.pos)
            except RecursionError:
                self.fail("nested too deeply", start)
            except ValueError:  # an integer longer than int() takes: json's ValueError
                if self.eof or not _ends_in_long_integer(self.text):
                    self.refuse(long_number(), start)
            else:
                if end - start > self.max_value:
                    self.too_long(start)
                if end + _AFTER <= len(self.text) or self.eof:
                    self.pos = end
                    return found, end - start
            have = len(self.text) - start
            if have > self.max_value:
                self.too_long(start)
            # Double what is held, so that a long value is decoded a few times, not once a chunk.
            self.more(min(have, self.max_value + 1 - have) + 1)

    def key(self) -> str:
        """A member's key, its colon and the whitespace to its value."""
        if self.skip_ws() != '"':
            self.fail("Expecting property name enclosed in double quotes", self.pos)
        name, _ = self.value(_string)
        self.expect(":", "Expecting ':' delimiter")
        self.skip_ws()
        return str(name)

    def skip_value(self) -> None:
        """A value that is not what a manifest holds there: read (it must be JSON), let go."""
        if not self.skip_ws():
            self.fail("Expecting value", self.pos)
        self.value(_decode)

    # -- the manifest's levels -----------------------------------------------------------

    def run(self) -> None:
        first = self.skip_ws()
        if first == "\ufeff" and self.base + self.pos == 0:  # json.loads' own message
            self.fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)
        if first == "{":
            self.pos += 1
            self.members(self.top_member)
        else:
            self.skip_value()
            self.is_object = False
        if self.skip_ws():
            self.fail("Extra data", self.pos)

    def members(self, member: Callable[[str], None]) -> None:
        """An object's members after its "{", each handed to member with its key."""
        if self.skip_ws() == "}":
            self.pos += 1
            return
        while True:
            member(self.key())
            if self.expect(",}", "Expecting ',' delimiter") == "}":
                return

    def top_member(self, name: str) -> None:
        if name == "records":
            self.records()
            return
        if not self.skip_ws():
            self.fail("Expecting value", self.pos)
        found, size = self.value(_decode)
        self.head_size += len(name) + size  # its keys too: a million tiny ones are no head
        if self.head_size > self.max_value:
            raise JsonFileError(
                f"its values beside the records are longer than {self.max_value:,} characters, "
                "the most a manifest's may be; not read further"
            )
        self.head[name] = found  # a key given twice: the last value counts, in the first's place

    def records(self) -> None:
        # A second "records" replaces the first, as json.loads keeps the last.
        self.has_records = True
        self.tables, self.bad, self.not_objects, self.fields = {}, {}, set(), {}
        if self.skip_ws() != "{":
            self.skip_value()
            self.records_object = False
            return
        self.records_object = True
        self.pos += 1
        self.members(self.table)

    def table(self, name: str) -> None:
        """One table's records: the loop over every record of the manifest, kept tight. A
        table given twice is its last value, in the first's place (as json.loads keeps it)."""
        if self.wanted is None and name not in self.tables and len(self.tables) >= MAX_TABLES:
            raise NotAManifest(
                f"its records hold more than {MAX_TABLES:,} tables, more than a release has; "
                "not read further"
            )
        if self.skip_ws() != "{":
            self.skip_value()
            self.not_objects.add(name)
            if self.wanted is None:  # its place kept for a later object of that name
                self.tables[name] = {}
            self.bad.pop(name, None)
            self.fields.pop(name, None)
            return
        self.not_objects.discard(name)
        self.pos += 1
        hashes: dict[str, str] = {}
        bad: dict[str, None] = {}
        found: dict[str, dict[str, Any]] = {}
        first_pass = self.wanted is None
        want: Collection[str] = () if self.wanted is None else self.wanted.get(name, ())
        if first_pass:
            self.tables[name], self.bad[name] = hashes, bad
        elif self.wanted is not None and name in self.wanted:
            self.fields[name] = found
        if self.skip_ws() == "}":
            self.pos += 1
            return
        key_at, next_at, decode = _KEY.match, _NEXT.match, _decode
        limit, lookahead = self.max_value, self.lookahead
        while True:
            if len(self.text) - self.pos < lookahead:
                self.more()
            text, pos = self.text, self.pos
            m = key_at(text, pos)
            end = -1
            if m is not None and m.end() - pos <= limit:  # a longer key: refused by key()
                rid = m.group(1)
                pos = m.end()
                try:
                    entry, end = decode(text, pos)
                except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
                    end = -1
                if end < 0 or end + _AFTER > len(text) or end - pos > limit:
                    # Cut by the end of the text, too long or not JSON: the careful way.
                    self.pos = pos
                    entry, _ = self.value(decode)
                else:
                    self.pos = end
            else:
                rid = self.key()
                entry, _ = self.value(decode)
            # A record's entry as is_manifest wants it: a text hash and an object of fields.
            digest: Any = None
            fields: Any = None
            if type(entry) is dict:
                digest = entry.get("hash")
                fields = entry.get("fields")
            ok = type(digest) is str and type(fields) is dict
            if first_pass:
                if ok:
                    hashes[rid] = digest
                    if bad:
                        bad.pop(rid, None)
                else:
                    # Refused unless a later entry of the id replaces it: it keeps the
                    # id's place meanwhile, as json.loads keeps a key's first place.
                    bad[rid] = None
                    hashes[rid] = ""
            elif rid in want:
                if ok:
                    found[rid] = fields
                else:
                    found.pop(rid, None)
            m = next_at(self.text, self.pos)
            if m is not None:
                self.pos = m.end()
                closed = m.group(1) == "}"
            else:
                closed = self.expect(",}", "Expecting ',' delimiter") == "}"
            if closed:
                return

    def problem(self) -> str | None:
        """What is not a manifest's in what pass 1 read (None: a manifest)."""
        if not self.is_object:
            return "it is not a JSON object"
        if not self.has_records:
            return "it has no records"
        if not self.records_object:
            return "its records are not an object"
        if not is_manifest(self.head | {"records": {}}):
            return "its version, created, schema, vocabularies or withheld are not a manifest's"
        for name in self.not_objects:
            return f"its records of {name!r} are not an object"
        for name, ids in self.bad.items():
            for rid in ids:
                return (
                    f"its record {rid!r} of {name!r} is not an object with a text "
                    '"hash" and an object of "fields"'
                )
        return None


@dataclass(frozen=True)
class ManifestStream:
    """A full manifest read by pass 1: its head and record hashes, and how to read the
    fields of some records (pass 2)."""

    head: dict[str, Any]
    records: dict[str, dict[str, str]]  # table -> record id -> content hash
    source: Source
    digest: bytes  # of the bytes pass 1 read
    chunk: int = CHUNK
    max_value: int = MAX_VALUE

    def manifest(self) -> dict[str, Any]:
        """The manifest with each record's content hash alone, as a compact one holds them
        (manifest.compare, same_content and record_hashes read it as they read that)."""
        return {**self.head, "records": self.records}

    def fields(self, wanted: Mapping[str, Collection[str]]) -> Fields:
        """The "fields" of the wanted records (table -> ids), read again from the source.
        Raises JsonFileError when its bytes are no longer those pass 1 read."""
        walk = _walk(self.source, self.chunk, self.max_value, wanted)
        if walk.digest.digest() != self.digest:
            raise JsonFileError("it changed between two readings")
        return walk.fields


def _walk(
    source: Source, chunk: int, max_value: int, wanted: Mapping[str, Collection[str]] | None
) -> _Walk:
    with source() as handle:
        walk = _Walk(handle, chunk, max_value, wanted)
        walk.run()
    return walk


def read_manifest(
    source: Source, *, chunk: int = CHUNK, max_value: int = MAX_VALUE
) -> ManifestStream:
    """Pass 1 over the manifest source opens. Raises JsonFileError (not read, not JSON)
    or NotAManifest (JSON of another shape)."""
    walk = _walk(source, chunk, max_value, None)
    problem = walk.problem()
    if problem is not None:
        raise NotAManifest(problem)
    return ManifestStream(
        walk.head, walk.tables, source, walk.digest.digest(), chunk=chunk, max_value=max_value
    )


def _open(path: Path) -> BinaryIO:
    """The regular file at path, open for reading as the tool opens every file it reads (no
    symbolic link followed, no FIFO waited on), or a JsonFileError saying why not."""
    try:
        fd, _ = open_regular(path)
    except OSError as err:
        raise JsonFileError(f"cannot read it: {err.strerror or err}") from err
    return os.fdopen(fd, "rb")


def file_source(path: Path) -> Source:
    """The bytes of the regular file at path (a symbolic link is not followed)."""

    @contextmanager
    def opened() -> Iterator[IO[bytes]]:
        with _open(path) as handle:
            yield handle

    return opened


# What opening a zip, or one of its members, can raise beyond reading: not a zip, an
# encrypted member, one compressed by a method zipfile lacks.
_OPEN_ERRORS = (*_READ_ERRORS, RuntimeError, NotImplementedError, ValueError)


def zip_folder(archive: Path) -> str:
    """The one folder a release zip holds its files in (<name>-<version>), read from the
    zip's listing alone (nothing is unpacked)."""
    with _open(archive) as raw:
        try:
            with zipfile.ZipFile(raw) as zf:
                names = zf.namelist()
        except _OPEN_ERRORS as err:
            raise JsonFileError(f"cannot read it: {err}") from err
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1 or not all("/" in name for name in names):
        raise JsonFileError("a release zip holds one folder, <name>-<version>/; this one does not")
    return tops.pop()


def zip_member_json(archive: Path, member: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The value of a small JSON member of a zip (a descriptor), as read_json reads a file:
    refused past max_bytes unpacked, whatever the member says its size is."""
    with zip_member_source(archive, member)() as handle:
        try:
            raw = handle.read(max_bytes + 1)
        except _READ_ERRORS as err:
            raise JsonFileError(f"cannot read it: {err}") from err
    if len(raw) > max_bytes:
        raise JsonFileError(f"{member} is more than {max_bytes:,} bytes")
    return loads(raw)


def zip_member_source(archive: Path, member: str) -> Source:
    """The bytes of one member of a zip (the zip a regular file, the member a regular
    file's, by its exact name), unpacked as they are read: no size bound but the reader's."""

    @contextmanager
    def opened() -> Iterator[IO[bytes]]:
        with _open(archive) as raw:
            try:
                zf = zipfile.ZipFile(raw)
            except _OPEN_ERRORS as err:
                raise JsonFileError(f"cannot read it: {err}") from err
            with zf:
                # zipfile would give the last of two members of one name; verify, unpacking,
                # refuses such a zip: which one the release holds is not known.
                infos = [info for info in zf.infolist() if info.filename == member]
                if not infos:
                    raise JsonFileError(f"the zip holds no {member}")
                if len(infos) > 1:
                    raise JsonFileError(f"the zip holds {member} twice")
                info = infos[0]
                # A zip made elsewhere may give no file type (0): a link or a folder is refused.
                kind = stat.S_IFMT(info.external_attr >> 16)
                if info.is_dir() or kind not in (0, stat.S_IFREG):
                    raise JsonFileError(f"{member} is not a regular file in the zip")
                try:
                    handle = zf.open(info)
                except _OPEN_ERRORS as err:
                    raise JsonFileError(f"cannot read it: {err}") from err
                with handle:
                    yield handle

    return opened
