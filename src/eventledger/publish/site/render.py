"""render_site(): the evidence browser as files, a pure function of a SiteInput.

Pages are rendered by Jinja2 templates shipped in this package, with autoescaping on, so every
value from a record reaches the page as text; event pages (100,000 at scale) are filled into
their templates rendered once per shape (skeleton.py), each value escaped as Jinja escapes it. The events table is one static HTML page of
links per PAGE_SIZE events (it works without JavaScript) and, for readers with JavaScript, a
compact index (assets/events-index.js, a script assigning a global because browsers refuse
fetch() of file:// URLs) that assets/events.js filters, sorts and shows as a windowed table, so
100,000 events stay as quick to browse as forty.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from importlib import resources
from itertools import groupby
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar

import jinja2
import markupsafe

from eventledger import collector
from eventledger.publish.site import markdown
from eventledger.publish.site.model import Row, SiteInput
from eventledger.publish.site.pager import pager_links
from eventledger.publish.site.skeleton import Memo, Skeleton, slot, text, utf8
from eventledger.publish.site.text import Mark, coverage_counts, in_context, pieces
from eventledger.publish.site.timeline import MAX_MARKS, Span, bands, layout

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
PAGE_SIZE = 200  # events per static page of the table without JavaScript
STATIC = ("site.css", "events.js")
# Shown with every span whose source text the site may not show: how a reader with their own
# copy prints text[start:end]. open() in text mode turns CRLF into LF.
CHECK = (
    'python3 -c "import sys, unicodedata as u; '
    "t = u.normalize('NFC', open(sys.argv[1], encoding='utf-8').read()); "
    'print(t[{start}:{end}])" your-copy.txt'
)

# The command escaped once: three spans on each of 100,000 pages would escape it again each time.
_CHECK_HTML = str(markupsafe.escape(CHECK))
# ... and as an event page's slot takes it: UTF-8, the offsets put in by bytes' % (the command
# holds no % of its own; the replace keeps that so if it ever does).
_CHECK_UTF8 = (
    _CHECK_HTML.replace("%", "%%").replace("{start}", "%d").replace("{end}", "%d").encode("utf-8")
)


def _check(start: Any, end: Any) -> str:
    if type(start) is int and type(end) is int:  # numbers only: nothing to escape
        return markupsafe.Markup(_CHECK_HTML.format(start=start, end=end))  # noqa: S704
    return CHECK.format(start=start, end=end)  # a broken record in the reviewer's view


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("eventledger.publish.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates are package data: no stat() per page at 100k pages
    )
    env.filters["value"] = value_text
    env.globals["pager_links"] = pager_links
    # A filter, which Jinja calls directly: a global goes through Context.call (changes.html
    # of 30,000 changes: 0.10 s CPU as a global, 0.06 s as a filter).
    env.filters["inline"] = markdown.inline_html
    return env


def value_text(value: Any) -> str:
    """A cell as a reader sees it: dates in ISO form, lists comma-separated, nothing for null."""
    if type(value) is str:  # most cells, and this is asked for every field of every record
        return value
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def date_label(start: Any, end: Any, precision: Any) -> str:
    """The interval as short as its precision allows: 2019-04-25, 2019-04, 2019, 1960s."""
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        return "no date"
    # Each shape is tested only when the ones before it fail: asked for every event, and
    # most are a single day.
    if start == end:
        core = start.isoformat()
    elif (
        precision == "month"
        and start.day == 1
        and (start.year, start.month) == (end.year, end.month)
        # The month's last day; the last day there is has no day after it.
        and (end == dt.date.max or (end + dt.timedelta(days=1)).day == 1)
    ):
        core = f"{start.year:04d}-{start.month:02d}"
    elif (
        precision == "year"
        and start.year == end.year
        and (start.month, start.day, end.month, end.day) == (1, 1, 12, 31)
    ):
        core = f"{start.year:04d}"
    elif (
        precision == "decade"
        and start.year % 10 == 0
        and end.year == start.year + 9
        and (start.month, start.day, end.month, end.day) == (1, 1, 12, 31)
    ):
        core = f"{start.year:04d}s"
    else:
        core = f"{start.isoformat()} – {end.isoformat()}"
    return f"{core} ({precision})" if precision else core


def _sort_key(event: Row) -> tuple[str, str, str]:
    start, end = event.get("date_start"), event.get("date_end")
    return (
        start.isoformat() if isinstance(start, dt.date) else "9999",
        end.isoformat() if isinstance(end, dt.date) else "9999",
        str(event["event_id"]),
    )


@dataclass
class _Data:
    """The rows regrouped for pages: by event, by actor, by source."""

    events: list[Row]
    drafts: set[str]
    actors: dict[str, Row]
    sources: dict[str, Row]
    participants: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    evidence: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    # event id -> the ids of the sources its spans cite, sorted, each once
    cited: dict[str, list[str]] = field(default_factory=dict)
    # actor id -> the events naming it (their summaries, made by _plan) and its role there
    by_actor: dict[str, list[tuple[_Summary, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_source: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))

    labels: dict[str, str] = field(default_factory=dict)  # source id -> label, made once
    names: dict[str, str] = field(default_factory=dict)  # actor id -> name, made once

    def actor_name(self, actor_id: str) -> str:
        # An id no actor has is its own name (asked for every participant: a dict lookup).
        return self.names.get(actor_id, actor_id)

    def source_label(self, source_id: str) -> str:
        # Asked for every span (300,000 at 100k events) of 2,000 sources.
        label = self.labels.get(source_id)
        if label is None:
            source = self.sources.get(source_id)
            label = (
                f"{source.get('publisher') or source_id}, {value_text(source.get('published'))}"
                if source
                else source_id
            )
            self.labels[source_id] = label
        return label


def _safe(record_id: Any) -> bool:
    """Whether an id can name a file of the site. Released ids always can (their patterns are
    checked), but the reviewer's view shows broken records too, and an id such as '../x' must
    not become a path outside the site."""
    return isinstance(record_id, str) and _SAFE_ID.fullmatch(record_id) is not None


def _regroup(data: SiteInput) -> _Data:
    drafts = set(data.drafts)
    shown = [
        e
        for e in data.rows.get("events", ())
        if _safe(e["event_id"]) and (data.review or e["event_id"] not in drafts)
    ]
    events = sorted(shown, key=_sort_key)
    ids = {e["event_id"] for e in events}
    out = _Data(
        events=events,
        drafts=drafts & ids if data.review else set(),
        actors={
            a["actor_id"]: a
            for a in sorted(data.rows.get("actors", ()), key=lambda a: a["actor_id"])
            if _safe(a["actor_id"])
        },
        sources={
            s["source_id"]: s
            for s in sorted(data.rows.get("sources", ()), key=lambda s: s["source_id"])
            if _safe(s["source_id"])
        },
    )
    out.names = {
        aid: str(a["name"]) if a.get("name") else aid for aid, a in out.actors.items() if a
    }
    # Sorted by event first, so each event's rows are one run: one dict entry per event.
    for table, grouped, key in (
        ("participants", out.participants, itemgetter("event_id", "actor_id")),
        ("evidence", out.evidence, itemgetter("event_id", "span")),
    ):
        for eid, run in groupby(sorted(data.rows.get(table, ()), key=key), itemgetter("event_id")):
            if eid in ids:
                grouped[eid].extend(run)
    cited = out.cited
    for event in events:  # in date order, so source pages list events by date
        eid = event["event_id"]
        sids = cited[eid] = sorted({v["source_id"] for v in out.evidence[eid]})
        for sid in sids:
            out.by_source[sid].append(event)
    return out


def _by_actor(d: _Data, summary_of: dict[str, _Summary]) -> None:
    """d.by_actor, in date order, so actor pages list events by date."""
    by_actor = d.by_actor
    for event in d.events:
        eid = event["event_id"]
        summary = summary_of[eid]
        for p in d.participants[eid]:
            role = p.get("role")
            by_actor[p["actor_id"]].append(
                (summary, role if type(role) is str else str(role or ""))
            )


class _Summary(NamedTuple):
    """An event as lists show it. An object, not a dict: Jinja reads `e.title` from an object
    in one getattr, from a dict only after a failed getattr, at 100k rows per list; a named
    tuple, made in one C call (a frozen dataclass set each field by object.__setattr__)."""

    id: str
    title: str
    date: str
    type: str
    factuality: str
    actors: str  # names, comma-separated
    sources: int
    draft: bool


def _shown(value: Any) -> str:
    """A text field as lists, the timeline and search show it. In the reviewer's view a
    broken record may hold a list, a number or a boolean there: shown as text, it hides
    none of the others (it once ended the whole site in a TypeError)."""
    return value if type(value) is str else value_text(value)


def _event_summary(d: _Data, event: Row) -> _Summary:
    eid = event["event_id"]
    return _Summary(
        id=eid,
        title=_shown(event.get("title")) or eid,
        date=date_label(
            event.get("date_start"), event.get("date_end"), event.get("date_precision")
        ),
        type=_shown(event.get("event_type")),
        factuality=_shown(event.get("factuality")),
        actors=", ".join([d.actor_name(p["actor_id"]) for p in d.participants[eid]]),
        sources=len(d.cited[eid]),
        draft=eid in d.drafts,
    )


@dataclass(frozen=True, slots=True)
class _Site:
    name: str
    version: str
    created: str
    review: bool


@dataclass
class _Pieces:
    """Markup that recurs on thousands of event pages, made once (pieces.html) and reused."""

    macros: Any
    sources: dict[str, str] = field(default_factory=dict)
    participants: dict[tuple[type, str, type, str], str] = field(default_factory=dict)
    heads: dict[str, bytes] = field(default_factory=dict)
    links: dict[tuple[type, str], str] = field(default_factory=dict)
    lines: dict[str, dict[Any, bytes]] = field(default_factory=dict)
    lists: dict[str, dict[tuple[str, ...], bytes]] = field(default_factory=dict)
    LIMIT = 4096

    def source(self, d: _Data, sid: str) -> str:
        made = self.sources.get(sid)
        if made is None:
            made = self.sources[sid] = self.macros.source_ref(
                sid, d.source_label(sid), sid in d.sources
            )
        return made

    # Keyed with the values' types: the reviewer's view shows broken records, whose ids may
    # be 1, True or 1.0, equal as keys but not as text.
    def participant(self, d: _Data, actor_id: str, role: str) -> str:
        key = (type(actor_id), actor_id, type(role), role)
        made = self.participants.get(key)
        if made is None:
            made = self.participants[key] = self.macros.participant(
                actor_id, d.actor_name(actor_id), role, actor_id in d.actors
            )
        return made

    def actor_link(self, d: _Data, actor_id: str) -> str:
        key = (type(actor_id), actor_id)
        made = self.links.get(key)
        if made is None:
            made = self.links[key] = self.macros.actor_link(
                actor_id, d.actor_name(actor_id), actor_id in d.actors
            )
        return made

    def fields(self, row: Row) -> bytes:
        """Every field as the rows of event.html's last table, in UTF-8, each row's markup
        made once per distinct value of its field (up to LIMIT of them: types, dates and the
        review fields recur on every page, titles never)."""
        out: list[bytes] = []
        append = out.append
        lines, lists = self.lines, self.lists
        for name, v in row.items():
            kind = type(v)
            # Only keys that are equal when their texts are (1, 1.0 and True are not; nor
            # 0.0 and -0.0, but other equal floats are: a place's coordinates recur).
            if kind is str or kind is dt.date or v is None or (kind is float and v != 0.0):
                made = lines.get(name)
                line = made.get(v) if made is not None else None
            elif kind is list:
                # A list of strings, looked up as a tuple of them: a tuple equal to one kept
                # holds the same strings, so it has the same text.
                made = lists.get(name)
                try:
                    line = made.get(tuple(v)) if made is not None else None
                except TypeError:  # a list holding a list (a broken record)
                    line = None
            else:
                line = None
            append(line if line is not None else self._field_line(name, v))
        return b"".join(out)

    def _field_line(self, name: str, v: Any) -> bytes:
        """One field's row of the table, kept for its value if that may stand for others."""
        head = self.heads.get(name)
        if head is None:
            head = self.heads[name] = str(self.macros.field_head(name)).encode("utf-8")
        kind = type(v)
        if v is None:
            cell = b""
        elif kind is int or kind is float or kind is bool or kind is dt.date:
            # digits, signs, '.', 'e', 'inf', 'nan', True: nothing to escape
            cell = value_text(v).encode("utf-8")
        else:
            cell = utf8(value_text(v))
        line = b"".join((head, cell, b"</td></tr>\n"))
        if kind is str or kind is dt.date or v is None or (kind is float and v != 0.0):
            made = self.lines.get(name)
            if made is None:
                made = self.lines[name] = {}
            if len(made) < self.LIMIT:
                made[v] = line
        elif kind is list and all(type(x) is str for x in v):
            made = self.lists.get(name)
            if made is None:
                made = self.lists[name] = {}
            if len(made) < self.LIMIT:
                made[tuple(v)] = line
        return line


def _fields(row: Row) -> list[tuple[str, str]]:
    """Every field of a record as (name, text), for the table at the end of its page."""
    return [(name, value_text(v)) for name, v in row.items()]


@dataclass(frozen=True)
class _Facets:
    """The values the table filters by; the index stores positions in these lists, and the
    filter options carry the same positions, so the script compares small integers."""

    types: list[str]
    facts: list[str]
    actor_ids: list[str]
    source_ids: list[str]


def _facets(d: _Data) -> _Facets:
    return _Facets(
        types=sorted({str(e.get("event_type") or "") for e in d.events}),
        facts=sorted({str(e.get("factuality") or "") for e in d.events}),
        actor_ids=sorted({p["actor_id"] for ps in d.participants.values() for p in ps}),
        source_ids=sorted({v["source_id"] for vs in d.evidence.values() for v in vs}),
    )


CHUNK = 1000  # events per part of the rows and of the search text


def _script(value: Any, name: str | None = None, part: int | None = None) -> bytes:
    """value as a script: JSON.parse of a string literal, which V8 reads faster than the same
    data written as a JavaScript object literal. With a name and a part it is one part of the
    table, handed to the page through window.EL_PARTS, which the table script reads (and
    replaces) whether the part arrives before it or after."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    literal = json.dumps(text, ensure_ascii=False)
    # Legal in JSON, but they ended a string literal in JavaScript before ES2019.
    literal = literal.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if name is None:
        return f"window.EL_INDEX = JSON.parse({literal});\n".encode()
    return (
        f"(window.EL_PARTS = window.EL_PARTS || []).push"
        f'(["{name}", {part}, JSON.parse({literal})]);\n'
    ).encode()


def _index_script(d: _Data, f: _Facets) -> bytes:
    """The index the table script reads first: only what filtering and sorting need.

    Columnar and dictionary-encoded: one array per column of small integers (the type, the
    factuality, each actor and source a position in a lookup list; the first year an offset
    from the earliest), so the browser parses a few flat arrays of numbers. What only drawing
    a row needs (id, title, date label) is in the row parts, and the text to search in the
    search parts, CHUNK events each, loaded when rows come into view or someone searches.
    Which actors and sources each event names (two thirds of what filtering needs at scale)
    are two parts of their own (_links_part), asked for right after the table is drawn.
    """
    type_at = {t: i for i, t in enumerate(f.types)}
    fact_at = {t: i for i, t in enumerate(f.facts)}
    years = [
        (e["date_start"].year, e["date_end"].year)
        if isinstance(e.get("date_start"), dt.date) and isinstance(e.get("date_end"), dt.date)
        else None
        for e in d.events
    ]
    year0 = min((y[0] for y in years if y is not None), default=0)
    type_col: list[int] = []
    fact_col: list[int] = []
    source_n: list[int] = []  # the table's Sources column, and sorting by it
    drafts: list[int] = []
    for i, e in enumerate(d.events):
        eid = e["event_id"]
        type_col.append(type_at[str(e.get("event_type") or "")])
        fact_col.append(fact_at[str(e.get("factuality") or "")])
        source_n.append(len(d.cited[eid]))
        if eid in d.drafts:
            drafts.append(i)
    index = {
        "n": len(d.events),
        "chunk": CHUNK,
        "types": f.types,
        "factualities": f.facts,
        "year0": year0,
        # An undated event matches no year: -1.
        "year": [y[0] - year0 if y is not None else -1 for y in years],
        "years": [y[1] - y[0] if y is not None else 0 for y in years],
        "type": type_col,
        "factuality": fact_col,
        "source_n": source_n,
        "drafts": drafts,
    }
    return _script(index)


def _rows_part(summaries: Sequence[_Summary], k: int) -> bytes:
    """What drawing rows CHUNK * k onwards needs beyond the index: ids, titles, date labels and
    the names of the actors (as the other lists show them, in the order of their ids)."""
    part = summaries[k * CHUNK : (k + 1) * CHUNK]
    return _script(
        {
            "id": [s.id for s in part],
            "title": [s.title for s in part],
            "date": [s.date for s in part],
            "actors": [s.actors for s in part],
        },
        "rows",
        k,
    )


def _links_part(d: _Data, f: _Facets, table: str) -> bytes:
    """Which actors (or sources) each event names, as positions in the filter's list: n[i] of
    them for event i, one after the other in ids. Sources' counts are in the index already."""
    if table == "actors":
        at = {a: i for i, a in enumerate(f.actor_ids)}
        named = [
            sorted({at[p["actor_id"]] for p in d.participants[e["event_id"]]}) for e in d.events
        ]
        return _script(
            {"n": [len(x) for x in named], "ids": [i for x in named for i in x]}, "actors", 0
        )
    at = {s: i for i, s in enumerate(f.source_ids)}
    # Positions in the sorted list of ids, so in the order of each event's sorted ids.
    named = [[at[sid] for sid in d.cited[e["event_id"]]] for e in d.events]
    return _script({"ids": [i for x in named for i in x]}, "sources", 0)


def _search_part(d: _Data, summaries: Sequence[_Summary], k: int) -> bytes:
    """The text search reads for events CHUNK * k onwards: title, quotes and translations."""
    texts = []
    for s in summaries[k * CHUNK : (k + 1) * CHUNK]:
        words = [s.title]
        for v in d.evidence[s.id]:
            words.append(str(v.get("quote") or ""))
            words.append(str(v.get("translation") or ""))
        texts.append("\n".join(words))
    return _script(texts, "search", k)


def _title_order(summaries: Sequence[_Summary]) -> bytes:
    """Each event's rank in title order (case-insensitive), loaded when someone sorts by title."""
    # sorted() is stable: events with the same title keep their date order, as a key of
    # (title, position) gave, without a Python call and a tuple per event.
    lowered = [s.title.lower() for s in summaries]
    order = sorted(range(len(summaries)), key=lowered.__getitem__)
    rank = [0] * len(order)
    for r, i in enumerate(order):
        rank[i] = r
    return _script(rank, "title-order", 0)


def _filters(d: _Data, f: _Facets) -> dict[str, list[tuple[str, str]]]:
    years: set[int] = set()
    for e in d.events:
        start, end = e.get("date_start"), e.get("date_end")
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            years.update(range(start.year, end.year + 1))
    types, facts, actor_ids, source_ids = f.types, f.facts, f.actor_ids, f.source_ids
    return {
        "type": [(str(i), t) for i, t in enumerate(types)],
        "factuality": [(str(i), f) for i, f in enumerate(facts)],
        "year": [(str(y), str(y)) for y in sorted(years)],
        "actor": sorted(
            ((str(i), d.actor_name(a)) for i, a in enumerate(actor_ids)), key=lambda o: (o[1], o[0])
        ),
        "source": [(str(i), d.source_label(s)) for i, s in enumerate(source_ids)],
    }


def _source_text(data: SiteInput, d: _Data, sid: str) -> dict[str, Any] | None:
    text = data.full_texts.get(sid)
    if text is None:
        return None
    marks = [
        Mark(v["start"], v["end"], e["event_id"], v["span"], e["event_id"] in d.drafts)
        for e in d.by_source.get(sid, ())
        for v in d.evidence[e["event_id"]]
        if v["source_id"] == sid
        and isinstance(v.get("start"), int)
        and isinstance(v.get("end"), int)
    ]
    sentences = data.coverage.get(sid) if data.review and data.coverage is not None else None
    return {
        "pieces": pieces(text, marks, sentences),
        "counts": coverage_counts(sentences) if sentences is not None else None,
        "sentences": len(sentences) if sentences is not None else 0,
        "spans": len(marks),
    }


_esc = text  # markupsafe.escape's text as a str: these rows are joined, never re-escaped


@dataclass
class _ListRows:
    """The rows of the events table's static pages and of actors' and sources' lists of
    events, written here rather than looped over in the templates: at 100k events they hold
    half a million rows, and Jinja escaped each event's id, title, date, type and factuality
    again in every list naming it. Here each event's cells are escaped once, when it is first
    listed, and reused; the markup is exactly what the templates' loops wrote."""

    cells: dict[str, tuple[str, str, str, str, str]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def _cells(self, s: _Summary) -> tuple[str, str, str, str, str]:
        """One event's escaped id, title, draft badge and date, and its type and factuality
        cells."""
        made = self.cells.get(s.id)
        if made is None:
            made = self.cells[s.id] = (
                str(_esc(s.id)),
                str(_esc(s.title)),
                ' <span class="badge draft">draft</span>' if s.draft else "",
                str(_esc(s.date)),
                f"<td>{_esc(s.type)}</td><td>{_esc(s.factuality)}</td>",
            )
        return made

    def actor(self, root: str, listed: Sequence[tuple[_Summary, str]]) -> markupsafe.Markup:
        out = []
        roles = self.roles
        for s, role in listed:
            eid, title, badge, date, kinds = self._cells(s)
            role_html = roles.get(role)
            if role_html is None:
                role_html = roles[role] = str(_esc(role))
            out.append(
                f'<tr><td class="date">{date}</td><td><a href="{root}events/{eid}.html">{title}'
                f"</a>{badge}</td><td>{role_html}</td>{kinds}</tr>\n"
            )
        return markupsafe.Markup("".join(out))  # noqa: S704 - every value escaped above

    def events(self, root: str, listed: Sequence[_Summary]) -> markupsafe.Markup:
        out = []
        for s in listed:
            eid, title, badge, date, kinds = self._cells(s)
            draft = ' class="draft"' if s.draft else ""
            out.append(
                f'<tr{draft}><td class="date">{date}</td><td class="title">'
                f'<a href="{root}events/{eid}.html">{title}</a>{badge}</td>{kinds}'
                f'<td class="actors">{_esc(s.actors)}</td><td class="num">{s.sources}</td></tr>\n'
            )
        return markupsafe.Markup("".join(out))  # noqa: S704 - every value escaped above

    def source(self, root: str, listed: Sequence[_Summary]) -> markupsafe.Markup:
        out = []
        for s in listed:
            eid, title, badge, date, _ = self._cells(s)
            out.append(
                f'<li><a href="{root}events/{eid}.html">{title}</a>'
                f' <span class="when">{date}</span>{badge}</li>\n'
            )
        return markupsafe.Markup("".join(out))  # noqa: S704 - every value escaped above

    def quotes(self, root: str, lang: str, quotes: Sequence[tuple[str, Row]]) -> markupsafe.Markup:
        lang_html = _esc(lang)
        out = []
        for eid, v in quotes:
            e = _esc(eid)
            out.append(
                f'<tr><td><a href="{root}events/{e}.html#span-{_esc(v["span"])}">{e}</a></td>'
                f'<td class="num">{_esc(v["start"])}</td><td class="num">{_esc(v["end"])}</td>'
                f'<td lang="{lang_html}">{_esc(v["quote"])}</td></tr>\n'
            )
        return markupsafe.Markup("".join(out))  # noqa: S704 - every value escaped above


_T = TypeVar("_T")
LIST_SIZE = 1000  # events per page of an actor's or a source's list
# Spans a highlighted piece of a source's text names in its tooltip; the rest are counted. A
# passage that many events quote would otherwise name all of them, in one attribute.
MAX_NAMED = 20


@dataclass(frozen=True, slots=True)
class _Listing:
    """Which page of an actor's or a source's events this is: page 1 is <base>.html, page n
    <base>/page-<n>.html, so an actor with 50,000 events is fifty light pages, not one heavy one."""

    base: str
    number: int
    pages: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * LIST_SIZE

    @property
    def last(self) -> int:
        return min(self.offset + LIST_SIZE, self.total)


def _chunks(items: Sequence[_T]) -> list[Sequence[_T]]:
    return [items[i : i + LIST_SIZE] for i in range(0, len(items), LIST_SIZE)] or [[]]


def _pages(events: Sequence[_Summary]) -> list[Sequence[_Summary]]:
    return [events[i : i + PAGE_SIZE] for i in range(0, len(events), PAGE_SIZE)] or [[]]


def render_site(data: SiteInput) -> Iterator[tuple[str, bytes]]:
    """Every file of the site as (relative path under site/, bytes), in path order, each made
    only when asked for, so a writer can put one on disk before the next is rendered and the
    site never sits in memory whole. The same input gives the same files in the same order."""
    with collector.paused():
        plan = _plan(data)
    for path in sorted(plan):
        with collector.paused():
            body = plan.pop(path)()
        yield path, body


_Make = Callable[[], bytes]


def _plan(data: SiteInput) -> dict[str, _Make]:
    """Every path of the site and how to make its bytes: what several pages share is computed
    here once; each page's own work waits until it is asked for."""
    env = _environment()
    d = _regroup(data)
    plan: dict[str, _Make] = {}
    site = _Site(data.name, data.version, data.created, data.review)
    templates: dict[str, jinja2.Template] = {}

    def page(path: str, template: str, **context: Any) -> _Make:
        if template not in templates:
            templates[template] = env.get_template(template)
        compiled = templates[template]
        root = "../" * path.count("/")

        def make(**late: Any) -> bytes:
            # late: what is made only when the page is (an actor's rows).
            return compiled.render(site=site, root=root, path=path, **context, **late).encode(
                "utf-8"
            )

        return make

    def fixed(body: bytes) -> _Make:
        return lambda: body

    summaries = [_event_summary(d, e) for e in d.events]
    # Actor and source pages list the same events again: summarize each once.
    summary_of = {s.id: s for s in summaries}
    _by_actor(d, summary_of)
    pages = _pages(summaries)
    facets = _facets(d)
    plan["assets/events-index.js"] = fixed(_index_script(d, facets))
    plan["assets/events/title-order-0.js"] = lambda: _title_order(summaries)
    plan["assets/events/actors-0.js"] = partial(_links_part, d, facets, "actors")
    plan["assets/events/sources-0.js"] = partial(_links_part, d, facets, "sources")
    for k in range(max(1, -(-len(summaries) // CHUNK))):
        plan[f"assets/events/rows-{k}.js"] = partial(_rows_part, summaries, k)
        plan[f"assets/events/search-{k}.js"] = partial(_search_part, d, summaries, k)
    for name in STATIC:
        plan[f"assets/{name}"] = fixed(
            resources.files("eventledger.publish.site").joinpath("static", name).read_bytes()
        )
    counts = {
        "events": len(d.events),
        "drafts": len(d.drafts),
        "actors": len(d.actors),
        "sources": len(d.sources),
        "spans": sum(len(v) for v in d.evidence.values()),
    }
    list_rows = _ListRows()
    plan["index.html"] = partial(
        _table_page,
        page(
            "index.html",
            "index.html",
            events=pages[0],
            pages=len(pages),
            number=1,
            filters=_filters(d, facets),
            counts=counts,
        ),
        list_rows,
        "",
        pages[0],
    )
    for n, rows in enumerate(pages, start=1):
        path = f"events/page-{n}.html"
        plan[path] = partial(
            _table_page,
            page(path, "events_page.html", pages=len(pages), number=n),
            list_rows,
            "../",
            rows,
        )
    spans = [
        Span(
            e["event_id"],
            summary.title,
            summary.date,
            summary.type,
            e["date_start"],
            e["date_end"],
            str(e.get("date_precision") or ""),
            summary.draft,
        )
        for e, summary in zip(d.events, summaries, strict=True)
        if isinstance(e.get("date_start"), dt.date)
        and isinstance(e.get("date_end"), dt.date)
        and e["date_start"] <= e["date_end"]
    ]
    undated = len(d.events) - len(spans)
    if len(spans) > MAX_MARKS:
        drawn = bands(spans, facets.types)
        starts = [
            e["date_start"].year if isinstance(e.get("date_start"), dt.date) else 10_000
            for e in d.events
        ]
        year_pages = {
            t.label: f"events/page-{bisect.bisect_left(starts, int(t.label)) // PAGE_SIZE + 1}.html"
            for t in drawn.ticks
        }
        plan["timeline.html"] = page(
            "timeline.html",
            "timeline.html",
            bands=drawn,
            timeline=None,
            legend=drawn.legend,
            year_pages=year_pages,
            undated=undated,
        )
    else:
        marks = layout(spans)
        plan["timeline.html"] = page(
            "timeline.html",
            "timeline.html",
            bands=None,
            timeline=marks,
            legend=marks.legend,
            year_pages={},
            undated=undated,
        )
    pieces = _Pieces(env.get_template("pieces.html").module)
    event_pages = _EventPages(env, site, data, d, pieces)
    for event, summary in zip(d.events, summaries, strict=True):
        plan[f"events/{event['event_id']}.html"] = partial(_event_page, event_pages, event, summary)
    plan["actors/index.html"] = page(
        "actors/index.html",
        "actors.html",
        actors=[(a, d.by_actor.get(a["actor_id"], [])) for a in d.actors.values()],
    )
    for actor in d.actors.values():
        aid = actor["actor_id"]
        listed = d.by_actor.get(aid, [])
        chunks = _chunks(listed)
        for n, chunk in enumerate(chunks, start=1):
            path = f"actors/{aid}.html" if n == 1 else f"actors/{aid}/page-{n}.html"
            plan[path] = partial(
                _actor_page,
                page(
                    path,
                    "actor.html",
                    actor=actor,
                    fields=_fields(actor),
                    listing=_Listing(f"actors/{aid}", n, len(chunks), len(listed)),
                ),
                list_rows,
                "../" * path.count("/"),
                chunk,
            )
    plan["sources/index.html"] = page(
        "sources/index.html",
        "sources.html",
        sources=[
            (s, len(d.by_source.get(s["source_id"], [])), s["source_id"] in data.full_texts)
            for s in d.sources.values()
        ],
    )
    for sid, source in d.sources.items():
        citing = d.by_source.get(sid, [])
        parts = _chunks(citing)
        for n, part in enumerate(parts, start=1):
            path = f"sources/{sid}.html" if n == 1 else f"sources/{sid}/page-{n}.html"
            plan[path] = partial(
                _source_page,
                page,
                data,
                d,
                summary_of,
                list_rows,
                source,
                part,
                n,
                len(parts),
                len(citing),
            )
    plan["codebook.html"] = page(
        "codebook.html", "markdown.html", title="Codebook", blocks=markdown.parse(data.codebook_md)
    )
    plan["changes.html"] = page(
        "changes.html", "markdown.html", title="Changes", blocks=markdown.parse(data.changes_md)
    )
    return plan


def _event_page(pages: _EventPages, event: Row, summary: _Summary) -> bytes:
    return pages.page(event, summary)


_PageShape = tuple[bool, bool, bool]  # draft, has participants, has a quotes-only span
# in context, clipped before, clipped after, has a translation, names actors
_SpanShape = tuple[bool, bool, bool, bool, bool]
_PAGE_SLOTS = (
    *("opening", "top", "bottom", "name", "version", "title", "type", "factuality", "date"),
    *("summary", "participants", "span_count", "spans", "fields"),
)
_SPAN_SLOTS = (
    *("span", "source_id", "start", "end", "source_ref", "supports", "actors", "lang"),
    *("before", "quote_in", "after", "quote", "translation", "sha256", "check"),
)


class _EventPages:
    """Event pages filled into skeletons (skeleton.py) of event.html and of pieces.html's span
    macro, one per shape: at 100,000 pages Jinja's work per page and per value was most of the
    site's cost. The bytes are Jinja's (tests/test_site.py renders the same values both ways)."""

    def __init__(
        self, env: jinja2.Environment, site: _Site, data: SiteInput, d: _Data, pieces: _Pieces
    ) -> None:
        chrome = env.get_template("chrome.html").module
        self._template = env.get_template("event.html")
        self._data, self._d, self._pieces = data, d, pieces
        # The same on every page: slots like the others, baked into each page's skeleton
        # once it is made (Skeleton.baked), so no page looks them up.
        self._common = {
            "opening": str(chrome.opening()).encode("utf-8"),  # type: ignore[attr-defined]
            "top": str(chrome.top(site, "../", "events/")).encode("utf-8"),  # type: ignore[attr-defined]
            "bottom": str(chrome.bottom(site)).encode("utf-8"),  # type: ignore[attr-defined]
            "name": utf8(site.name),
            "version": utf8(site.version),
        }
        self._pages: dict[_PageShape, Skeleton] = {}
        self._spans: dict[_SpanShape, Skeleton] = {}
        self._memo = Memo()  # what recurs: types, factualities, date labels
        # Per source: its text (if shown) and the values of its spans' slots.
        self._by_source: dict[str, tuple[str | None, dict[str, bytes]]] = {}
        # Markup kept by strings only (the reviewer's view may hold ids such as 1, True and
        # 1.0, equal as keys but not as text: those are made each time): a participant's line
        # by (actor id, role), the actors a span names and what it supports by their lists.
        self._participants: dict[tuple[str, str], bytes] = {}
        self._actors: dict[tuple[str, ...], bytes] = {}
        self._supports: dict[tuple[str, ...], bytes] = {}

    def page(self, event: Row, summary: _Summary) -> bytes:
        d, memo = self._d, self._memo
        eid = event["event_id"]
        made = self._participants
        lines: list[bytes] = []
        for p in d.participants[eid]:
            actor_id, role = p["actor_id"], p.get("role") or ""
            line = made.get((actor_id, role))
            lines.append(line if line is not None else self._participant(actor_id, role))
        spans = d.evidence[eid]
        sections: list[bytes] = []
        quotes_only = False
        for v in spans:
            section, in_text = self._span(v)
            sections.append(section)
            quotes_only = quotes_only or not in_text
        shape = (summary.draft, bool(lines), quotes_only)
        skeleton = self._pages.get(shape)
        if skeleton is None:
            skeleton = self._pages[shape] = self._page_skeleton(shape)
        return skeleton.fill(
            {
                "title": utf8(summary.title),
                "type": memo(summary.type),
                "factuality": memo(summary.factuality),
                "date": memo(summary.date),
                "summary": utf8(value_text(event.get("summary"))),
                "participants": b"".join(lines),
                "span_count": b"1 span" if len(spans) == 1 else b"%d spans" % len(spans),
                "spans": b"".join(sections),
                "fields": self._pieces.fields(event),
            }
        )

    def _participant(self, actor_id: Any, role: Any) -> bytes:
        line = f"{self._pieces.participant(self._d, actor_id, role)}\n".encode()
        if type(actor_id) is str and type(role) is str:
            self._participants[actor_id, role] = line
        return line

    def _page_skeleton(self, shape: _PageShape) -> Skeleton:
        draft, has_participants, quotes_only = shape
        context: dict[str, Any] = {name: slot(name) for name in _PAGE_SLOTS}
        if not has_participants:
            context["participants"] = ""
        html = self._template.render(context, draft=draft, quotes_only=quotes_only)
        return Skeleton(html, _PAGE_SLOTS).baked(self._common)

    def _listed(
        self, made: dict[tuple[str, ...], bytes], value: Any, make: Callable[[Any], bytes]
    ) -> bytes:
        """make(value) of a list, kept in made by its strings when it holds only strings (a
        tuple equal to one kept holds equal strings, which have the same text)."""
        try:
            found = made.get(tuple(value))
        except TypeError:  # a list holding a list (a broken record)
            return make(value)
        if found is None:
            found = make(value)
            if len(made) < 4096 and all(type(x) is str for x in value):
                made[tuple(value)] = found
        return found

    def _actor_links(self, actor_ids: Any) -> bytes:
        pieces, d = self._pieces, self._d
        return ", ".join([pieces.actor_link(d, a) for a in actor_ids]).encode("utf-8")

    def _supported(self, supports: Any) -> bytes:
        return self._memo(value_text(supports))

    def _span(self, v: Row) -> tuple[bytes, bool]:
        """One span's section of the page, and whether it is shown inside its text."""
        d = self._d
        sid = v["source_id"]
        known = self._by_source.get(sid)
        if known is None:
            source = d.sources.get(sid, {})
            known = self._by_source[sid] = (
                self._data.full_texts.get(sid),
                {
                    "source_id": utf8(sid),
                    "source_ref": str(self._pieces.source(d, sid)).encode("utf-8"),
                    "lang": utf8(source.get("language") or ""),
                    "sha256": utf8(source.get("sha256") or ""),
                },
            )
        full, values = known[0], known[1].copy()
        start, end = v.get("start"), v.get("end")
        span = v["span"]
        # Numbers, the offsets and the span's number most of all, have nothing to escape.
        values["span"] = b"%d" % span if type(span) is int else utf8(span)
        values["start"] = b"%d" % start if type(start) is int else utf8(start)
        values["end"] = b"%d" % end if type(end) is int else utf8(end)
        supports = v.get("supports")
        values["supports"] = (
            self._listed(self._supports, supports, self._supported)
            if type(supports) is list
            else self._memo(value_text(supports))
        )
        actor_ids = v.get("actor_ids") or ()
        if type(actor_ids) is list:
            values["actors"] = self._listed(self._actors, actor_ids, self._actor_links)
        else:
            values["actors"] = self._actor_links(actor_ids)
        translation = value_text(v.get("translation"))
        values["translation"] = utf8(translation) if translation else b""
        shown = (
            in_context(full, start, end)
            if full is not None and isinstance(start, int) and isinstance(end, int)
            else None
        )
        if shown is not None:
            values["before"] = utf8(shown.before)
            values["quote_in"] = utf8(shown.quote)
            values["after"] = utf8(shown.after)
            shape = (
                True,
                shown.clipped_before,
                shown.clipped_after,
                bool(translation),
                bool(actor_ids),
            )
        else:
            values["quote"] = utf8(value_text(v.get("quote")))
            values["check"] = (
                _CHECK_UTF8 % (start, end)
                if type(start) is int and type(end) is int
                else utf8(CHECK.format(start=start, end=end))  # what _check gives, escaped
            )
            shape = (False, False, False, bool(translation), bool(actor_ids))
        skeleton = self._spans.get(shape)
        if skeleton is None:
            skeleton = self._spans[shape] = self._span_skeleton(shape)
        return skeleton.fill(values), shown is not None

    def _span_skeleton(self, shape: _SpanShape) -> Skeleton:
        in_text, clipped_before, clipped_after, translated, names_actors = shape
        s = SimpleNamespace(**{name: slot(name) for name in _SPAN_SLOTS})
        s.context = (
            SimpleNamespace(
                before=s.before,
                quote=s.quote_in,
                after=s.after,
                clipped_before=clipped_before,
                clipped_after=clipped_after,
            )
            if in_text
            else None
        )
        if not translated:
            s.translation = ""
        if not names_actors:
            s.actors = ""
        return Skeleton(self._pieces.macros.span(s), _SPAN_SLOTS)


def _table_page(
    page: Callable[..., bytes], list_rows: _ListRows, root: str, listed: Sequence[_Summary]
) -> bytes:
    return page(rows=list_rows.events(root, listed))


def _actor_page(
    page: Callable[..., bytes],
    list_rows: _ListRows,
    root: str,
    listed: Sequence[tuple[_Summary, str]],
) -> bytes:
    return page(rows=list_rows.actor(root, listed))


def _source_page(
    page: Callable[..., _Make],
    data: SiteInput,
    d: _Data,
    summary_of: dict[str, _Summary],
    list_rows: _ListRows,
    source: Row,
    part: Sequence[Row],
    number: int,
    pages: int,
    total: int,
) -> bytes:
    sid = source["source_id"]
    path = f"sources/{sid}.html" if number == 1 else f"sources/{sid}/page-{number}.html"
    root = "../" * path.count("/")
    # The full text with every span marked is on the first page only: it marks the spans of
    # every citing event, so repeating it on each page of a long list grew as the square of
    # the events (a source cited by a million events: a thousand pages of 3 million marks).
    full = _source_text(data, d, sid) if number == 1 else None
    return page(
        path,
        "source.html",
        source=source,
        fields=_fields(source),
        rows=list_rows.source(root, [summary_of[e["event_id"]] for e in part]),
        full=full,
        # Without the text the page lists the quoted spans instead.
        quotes=list_rows.quotes(
            root,
            value_text(source.get("language")),
            [
                (e["event_id"], v)
                for e in part
                for v in d.evidence[e["event_id"]]
                if v["source_id"] == sid
            ],
        )
        if sid not in data.full_texts
        else markupsafe.Markup(),
        listing=_Listing(f"sources/{sid}", number, pages, total),
        has_text=sid in data.full_texts,
        max_named=MAX_NAMED,
    )()
