"""`eventledger new source` and `new actor`: a new source (its text and metadata) or actor
in one command, checked against schema/ before anything is written.

A source's text is stored as the tool reads it (UTF-8, NFC, LF, no byte-order mark), so
that offsets count the same characters everywhere. Normalizing changes the bytes, and the
recorded SHA-256 is that of the stored text, so every change made is reported: the
contributor must know that text.txt is not byte for byte the file they gave. Trailing
white space is kept unless asked: it is part of the text as published, and removing it
silently would shift every offset after it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from eventledger.atomic import write_atomically
from eventledger.author.scaffold import deleted_ids
from eventledger.issues.suggest import did_you_mean
from eventledger.model.patterns import ISO_DAY
from eventledger.model.schema import Schema, TableSpec, load_schema
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import double_quoted

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
# Written without quotes, as the corpus writes ids, terms and hashes; anything else (names,
# dates, free text) is double-quoted so that no editor or other YAML reader retypes it.
_PLAIN = re.compile(r"[a-z][a-z0-9-]*|[0-9a-f]{64}|[A-Z]{3}|Q[0-9]+")
_REUSED = "the {kind} id {id!r} was used before and deleted (git log); ids are never reused: choose another"
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


class NewRecordError(Exception):
    """The record cannot be created as asked (a usage error: bad value, file exists)."""


@dataclass
class NormalizedText:
    text: str
    changes: list[str] = field(default_factory=list)  # what was changed, one line each
    kept: list[str] = field(default_factory=list)  # what a reader may not see, kept as it is


def _name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED')}"


def _lines(n: int, first: int) -> str:
    return f"{n} line{'' if n == 1 else 's'} (first: line {first})"


def normalize_text(raw: bytes, *, strip_trailing_whitespace: bool = False) -> NormalizedText:
    """The text as stored in text.txt, with every change made and every invisible character kept."""
    if raw.startswith(_UTF16_BOMS):
        raise NewRecordError("the text is UTF-16; save it as UTF-8 and try again")
    out = NormalizedText("")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
        out.changes.append("removed the byte-order mark (U+FEFF) at the start")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise NewRecordError(
            f"the text is not UTF-8 (byte {err.start}, line {line}); save it as UTF-8 and try again"
        ) from err
    crlf = text.count("\r\n")
    if crlf:
        text = text.replace("\r\n", "\n")
        out.changes.append(f"converted {crlf} CRLF line ending(s) to LF")
    cr = text.count("\r")
    if cr:
        text = text.replace("\r", "\n")
        out.changes.append(f"converted {cr} CR line ending(s) to LF")
    if not unicodedata.is_normalized("NFC", text):
        lines = text.split("\n")
        changed = [
            i for i, line in enumerate(lines, 1) if not unicodedata.is_normalized("NFC", line)
        ]
        text = unicodedata.normalize("NFC", text)
        out.changes.append(f"normalized {_lines(len(changed), changed[0])} to Unicode NFC")
    trailing = [i for i, line in enumerate(text.split("\n"), 1) if _TRAILING.search(line)]
    if trailing and strip_trailing_whitespace:
        text = _TRAILING.sub("", text)
        out.changes.append(
            f"removed white space at the end of {_lines(len(trailing), trailing[0])}"
        )
    elif trailing:
        out.kept.append(
            f"white space at the end of {_lines(len(trailing), trailing[0])} "
            "(--strip-trailing-whitespace removes it)"
        )
    out.kept += _invisible(text)
    out.text = text
    return out


def _invisible(text: str) -> list[str]:
    """Characters a reader cannot tell apart from others or from nothing, by name and count."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        if (category in ("Cf", "Cc", "Zl", "Zp") and char not in "\n\t") or (
            category == "Zs" and char != " "
        ):
            counts[char] += 1
            first.setdefault(char, i)
    return [
        f"{n} {_name(c)} (first: line {text.count(chr(10), 0, first[c]) + 1})"
        for c, n in sorted(counts.items(), key=lambda item: first[item[0]])
    ]


def _check(table: TableSpec, schema: Schema, values: dict[str, object]) -> None:
    """Each value against its field in schema/: required, pattern, vocabulary, date."""
    for spec in table.written_fields:
        value = values.get(spec.name)
        if value is None or value == "" or value == []:
            if spec.required:
                raise NewRecordError(f"{spec.name} is required ({spec.description})")
            continue
        if not isinstance(value, str):
            continue
        option = "--" + spec.name.replace("_", "-")
        if spec.pattern and not re.search(spec.pattern, value):
            raise NewRecordError(f"{option} {value!r} does not match {spec.pattern}")
        terms = schema.terms(spec)
        if terms is not None and value not in terms:
            hint = did_you_mean(value, terms, ignore_case=True)
            raise NewRecordError(
                f"{option} {value!r} is not one of: {', '.join(terms)}"
                + (f"; {hint}" if hint else "")
            )
        if spec.type == "date":
            try:
                if not ISO_DAY.fullmatch(value):
                    raise ValueError("give YYYY-MM-DD")
                dt.date.fromisoformat(value)
            except ValueError as err:
                raise NewRecordError(f"{option} {value!r} is not a date: {err}") from err
        if spec.min_length and len(value) < spec.min_length:
            raise NewRecordError(f"{option} is empty")


def _yaml(table: TableSpec, values: dict[str, object]) -> bytes:
    """The record, one key per line in schema order, strings double-quoted."""
    lines = []
    for spec in table.written_fields:
        value = values.get(spec.name)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list):
            lines.append(f"{spec.name}: [{', '.join(double_quoted(str(v)) for v in value)}]")
        elif isinstance(value, int) or (_PLAIN.fullmatch(str(value)) and value not in _YAML_WORDS):
            lines.append(f"{spec.name}: {value}")
        else:
            lines.append(f"{spec.name}: {double_quoted(str(value))}")
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass(frozen=True)
class NewSource:
    folder: Path
    text: NormalizedText
    sha256: str
    characters: int


def new_source(
    repository: Repository,
    source_id: str,
    text_file: Path,
    metadata: dict[str, str | None],
    *,
    strip_trailing_whitespace: bool = False,
) -> NewSource:
    """Write sources/<id>/text.txt (normalized) and source.yaml (with its SHA-256 and length).

    metadata holds the other fields of schema/sources.tableschema.json by name. Refuses a
    source folder that exists; writes nothing when a value is wrong.
    """
    schema = load_schema(repository.schema_dir)
    table = schema.tables["sources"]
    try:
        raw = text_file.read_bytes()
    except OSError as err:
        raise NewRecordError(f"cannot read {text_file}: {err.strerror}") from err
    normalized = normalize_text(raw, strip_trailing_whitespace=strip_trailing_whitespace)
    stored = normalized.text.encode("utf-8")
    values: dict[str, object] = {
        **metadata,
        "source_id": source_id,
        "sha256": hashlib.sha256(stored).hexdigest(),
        "characters": len(normalized.text),
    }
    _check(table, schema, values)
    earliest, published, latest = (
        values.get(k) for k in ("published_earliest", "published", "published_latest")
    )
    bounds = [str(v) for v in (earliest, published, latest) if v]
    if bounds != sorted(bounds):
        raise NewRecordError(
            "published_earliest <= published <= published_latest does not hold: "
            f"{earliest or '-'} / {published} / {latest or '-'}"
        )
    if source_id in deleted_ids(repository, "sources", "source.yaml"):
        raise NewRecordError(_REUSED.format(kind="source", id=source_id))
    folder = repository.root / "sources" / source_id
    try:
        folder.mkdir(parents=True)
    except FileExistsError as err:
        raise NewRecordError(
            f"{repository.rel(folder)}/ exists already; sources are never overwritten"
        ) from err
    try:
        write_atomically(folder / "text.txt", stored, exclusive=True)
        write_atomically(folder / "source.yaml", _yaml(table, values), exclusive=True)
    except BaseException:
        for name in ("source.yaml", "text.txt"):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
        raise
    return NewSource(folder, normalized, str(values["sha256"]), len(normalized.text))


def new_actor(repository: Repository, actor_id: str, values: dict[str, object]) -> Path:
    """Write actors/<id>.yaml; refuses an actor that exists."""
    schema = load_schema(repository.schema_dir)
    table = schema.tables["actors"]
    record = {**values, "actor_id": actor_id}
    _check(table, schema, record)
    if actor_id in deleted_ids(repository, "actors"):
        raise NewRecordError(_REUSED.format(kind="actor", id=actor_id))
    path = repository.root / "actors" / f"{actor_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(path, _yaml(table, record), exclusive=True)
    except FileExistsError as err:
        raise NewRecordError(
            f"{repository.rel(path)} exists already; actors are never overwritten"
        ) from err
    return path


def source_report(repository: Repository, made: NewSource) -> list[str]:
    """What new source tells the contributor: what was written, and every change it made."""
    folder = repository.rel(made.folder)
    out = [f"{folder}/text.txt: {made.characters} characters, sha256 {made.sha256}"]
    if made.text.changes:
        out += [f"    changed: {c}" for c in made.text.changes]
    else:
        out.append("    changed: nothing (the text was UTF-8, NFC, LF, without a byte-order mark)")
    out += [f"    kept: {k}" for k in made.text.kept]
    out.append(f"{folder}/source.yaml: written")
    out.append(f"next: eventledger validate {folder}")
    return out
