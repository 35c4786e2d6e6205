"""`eventledger new event`: a new record file from the template, with an id nobody has used.

The date says how precisely it is known: 2019-04-25 (day), 2019-04 (month), 2019 (year)
or 1980s (decade). The record gets the whole interval of that unit and its date_precision,
and the id starts with the date as far as it is known (2019-04-25-..., 2019-04-..., 2019-...,
1980-... for a decade), as the corpus does.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from eventledger.atomic import write_atomically
from eventledger.git import GitMissing, git
from eventledger.model.patterns import ID_DAY_PREFIX, ISO_DAY
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


@dataclass(frozen=True)
class EventDate:
    """A date as precisely as the source gives it: the interval, its precision, the id prefix."""

    start: dt.date
    end: dt.date
    precision: str  # a term of the date_precision vocabulary
    prefix: str  # how the id starts: 2019-04-25, 2019-04, 2019 (a decade: its first year)

    @classmethod
    def day(cls, day: dt.date) -> EventDate:
        return cls(day, day, "day", day.isoformat())


_DECADE = re.compile(r"([0-9]{3}0)s")
_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_event_date(text: str) -> EventDate:
    """YYYY-MM-DD, YYYY-MM, YYYY or a decade such as 1980s, as an EventDate."""
    value = text.strip()
    try:
        if m := _DECADE.fullmatch(value):
            first = int(m.group(1))
            return EventDate(dt.date(first, 1, 1), dt.date(first + 9, 12, 31), "decade", m.group(1))
        if _YEAR.fullmatch(value):
            year = int(value)
            return EventDate(dt.date(year, 1, 1), dt.date(year, 12, 31), "year", value)
        if m := _MONTH.fullmatch(value):
            year, month = int(m.group(1)), int(m.group(2))
            last = calendar.monthrange(year, month)[1]
            return EventDate(dt.date(year, month, 1), dt.date(year, month, last), "month", value)
        if ISO_DAY.fullmatch(value):
            return EventDate.day(dt.date.fromisoformat(value))
    except ValueError as err:
        raise ScaffoldError(f"--date {text!r} is not a real date: {err}") from err
    raise ScaffoldError(
        f"--date {text!r}: give YYYY-MM-DD (day), YYYY-MM (month), YYYY (year) "
        "or a decade such as 1980s"
    )


def slugify(text: str) -> str:
    """Lowercase words joined by hyphens: 'Kim meets Putin!' -> 'kim-meets-putin'."""
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")


def deleted_ids(repository: Repository, folder: str, record_file: str | None = None) -> set[str]:
    """Ids of the records git remembers deleting under folder: ids are never reused. A record
    is a file <id>.yaml, or, with record_file, a folder <id>/ holding that file."""
    try:
        done = git(
            repository.root, "log", "--diff-filter=D", "--name-only", "--format=", "--", folder
        )
    except GitMissing:  # no git: the files on disk are all we know
        return set()
    if done.returncode != 0:
        return set()
    paths = [Path(p) for p in done.stdout.splitlines()]
    if record_file is not None:
        return {p.parent.name for p in paths if p.name == record_file}
    return {p.stem for p in paths if p.suffix == ".yaml"}


def used_event_ids(repository: Repository) -> set[str]:
    """Ids of every event file, and of every event file git remembers deleting."""
    files, _ = repository.discover()
    return {f.path.stem for f in files if f.kind == "event"} | deleted_ids(repository, "events")


def next_id(slug: str, day: dt.date | EventDate, used: set[str]) -> str:
    """<date>-<slug>, or <date>-<slug>-2, -3, ... when that id is taken; the date as far as
    it is known (2019-04-25, 2019-04, 2019)."""
    when = day if isinstance(day, EventDate) else EventDate.day(day)
    if _DATED.match(slug):
        slug = _DATED.sub("", slug, count=1)
    elif slug.startswith(f"{when.prefix}-"):
        slug = slug[len(when.prefix) + 1 :]
    clean = slugify(slug)
    if not clean:
        raise ScaffoldError(
            f"the slug {slug!r} has no letters or digits; give a few words, e.g. kim-putin-talks"
        )
    base = f"{when.prefix}-{clean}"
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
    schema_template: str,
    event_id: str,
    day: dt.date | EventDate,
    *,
    title: str | None,
    source: str | None,
) -> str:
    when = day if isinstance(day, EventDate) else EventDate.day(day)
    text = _set(schema_template, "event_id", event_id)
    text = _set(text, "date_start", double_quoted(when.start.isoformat()))
    text = _set(text, "date_end", double_quoted(when.end.isoformat()))
    text = _set(text, "date_precision", when.precision)
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
    day: dt.date | EventDate | None = None,
    title: str | None = None,
    source: str | None = None,
) -> NewEvent:
    """Write events/<yyyy>/<id>.yaml from the template; day defaults to a day the slug
    starts with, else today."""
    dated = _DATED.match(slug)
    if day is None and dated:
        try:
            day = dt.date.fromisoformat(dated.group(0)[:10])
        except ValueError as err:
            raise ScaffoldError(f"the slug starts with {dated.group(0)[:10]}, not a date") from err
    when = day if isinstance(day, EventDate) else EventDate.day(day or dt.date.today())
    event_id = next_id(slug, when, used_event_ids(repository))
    text = render(
        template("event", load_schema(repository.schema_dir)),
        event_id,
        when,
        title=title,
        source=source,
    )
    path = repository.root / "events" / f"{when.start.year:04d}" / f"{event_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(path, text.encode("utf-8"), exclusive=True)
    except FileExistsError as err:
        raise ScaffoldError(f"{repository.rel(path)} exists already") from err
    return NewEvent(path, event_id)
