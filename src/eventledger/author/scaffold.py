"""`eventledger new event`: a new record file from the template, with an id nobody has used."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from eventledger.atomic import write_atomically
from eventledger.git import GitMissing, git
from eventledger.model.patterns import ID_DAY_PREFIX
from eventledger.model.schema import load_schema
from eventledger.model.templates import template
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import double_quoted

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_DATED = ID_DAY_PREFIX


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
        done = git(
            repository.root, "log", "--diff-filter=D", "--name-only", "--format=", "--", "events"
        )
    except GitMissing:  # no git: the files on disk are all we know
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


def render(
    schema_template: str, event_id: str, day: dt.date, *, title: str | None, source: str | None
) -> str:
    text = _set(schema_template, "event_id", event_id)
    text = _set(text, "date_start", day.isoformat())
    text = _set(text, "date_end", day.isoformat())
    text = _set(text, "review_status", "draft")
    if title:
        text = _set(text, "title", double_quoted(title))
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
    try:
        write_atomically(path, text.encode("utf-8"), exclusive=True)
    except FileExistsError as err:
        raise ScaffoldError(f"{repository.rel(path)} exists already") from err
    return NewEvent(path, event_id)
