"""`eventledger new event`: a new record file from the template, with an id nobody has used."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from eventledger.model.schema import load_schema
from eventledger.model.templates import template
from eventledger.read.repository import Repository

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_DATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}-")


class ScaffoldError(Exception):
    """The record cannot be created (a usage error: bad slug, file exists)."""


@dataclass(frozen=True)
class NewEvent:
    path: Path
    event_id: str


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens: 'Kim meets Putin!' -> 'kim-meets-putin'."""
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")


def used_event_ids(repository: Repository) -> set[str]:
    """Ids of every event file, and of every event file git remembers deleting: ids are never reused."""
    files, _ = repository.discover()
    used = {f.path.stem for f in files if f.kind == "event"}
    try:
        done = subprocess.run(
            ["git", "-C", str(repository.root), "log", "--diff-filter=D", "--name-only",
             "--format=", "--", "events"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError:  # no git: the files on disk are all we know
        return used
    if done.returncode == 0:
        used |= {Path(p).stem for p in done.stdout.splitlines() if p.endswith(".yaml")}
    return used


def next_id(slug: str, day: dt.date, used: set[str]) -> str:
    """<date>-<slug>, or <date>-<slug>-2, -3, ... when that id is taken."""
    clean = slugify(_DATED.sub("", slug, count=1) if _DATED.match(slug) else slug)
    if not clean:
        raise ScaffoldError(
            f"the slug {slug!r} has no letters or digits; give a few words, e.g. kim-putin-talks"
        )
    base = f"{day.isoformat()}-{clean}"
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _set(text: str, key: str, value: str, indent: str = "") -> str:
    pattern = re.compile(rf"^{re.escape(indent)}{re.escape(key)}:.*$", re.MULTILINE)
    new, count = pattern.subn(lambda _: f"{indent}{key}: {value}", text, count=1)
    if count != 1:  # the template is generated from schema/; a missing key is a bug there
        raise ScaffoldError(f"the event template has no '{key}' line; run eventledger generate")
    return new


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def render(
    schema_template: str, event_id: str, day: dt.date, *, title: str | None, source: str | None
) -> str:
    text = _set(schema_template, "event_id", event_id)
    text = _set(text, "date_start", day.isoformat())
    text = _set(text, "date_end", day.isoformat())
    text = _set(text, "review_status", "draft")
    if title:
        text = _set(text, "title", _quoted(title))
    if source:
        text = _set(text, "source_id", source, indent="  - ")
    return text


def new_event(
    repository: Repository,
    slug: str,
    *,
    day: dt.date | None = None,
    title: str | None = None,
    source: str | None = None,
) -> NewEvent:
    """Write events/<yyyy>/<id>.yaml from the template; day defaults to today."""
    dated = _DATED.match(slug)
    if day is None and dated:
        try:
            day = dt.date.fromisoformat(dated.group(0)[:10])
        except ValueError as err:
            raise ScaffoldError(f"the slug starts with {dated.group(0)[:10]}, not a date") from err
    day = day or dt.date.today()
    event_id = next_id(slug, day, used_event_ids(repository))
    text = render(
        template("event", load_schema(repository.schema_dir)),
        event_id,
        day,
        title=title,
        source=source,
    )
    path = repository.root / "events" / f"{day.year:04d}" / f"{event_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{event_id}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.link(tmp, path)  # fails instead of overwriting when the file appeared meanwhile
    except FileExistsError as err:
        raise ScaffoldError(f"{repository.rel(path)} exists already") from err
    finally:
        os.unlink(tmp)
    return NewEvent(path, event_id)
