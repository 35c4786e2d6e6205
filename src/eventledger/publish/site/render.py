"""render_site(): the evidence browser as files, a pure function of a SiteInput.

Pages are rendered by Jinja2 templates shipped in this package, with autoescaping on, so every
value from a record reaches the page as text. The events table is one static HTML page of
links per PAGE_SIZE events (it works without JavaScript) and, for readers with JavaScript, a
compact index (assets/events-index.js, a script assigning a global because browsers refuse
fetch() of file:// URLs) that assets/events.js filters, sorts and shows as a windowed table, so
100,000 events stay as quick to browse as forty.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from eventledger.publish.site import markdown
from eventledger.publish.site.model import Row, SiteInput
from eventledger.publish.site.text import Mark, coverage_counts, in_context, pieces
from eventledger.publish.site.timeline import Span, layout

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
    return env


def value_text(value: Any) -> str:
    """A cell as a reader sees it: dates in ISO form, lists comma-separated, nothing for null."""
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
    one_year = start.year == end.year and (start.month, start.day, end.month, end.day) == (
        1,
        1,
        12,
        31,
    )
    month_end = (end + dt.timedelta(days=1)).day == 1
    if start == end:
        core = start.isoformat()
    elif precision == "month" and start.day == 1 and month_end and start.month == end.month:
        core = f"{start.year:04d}-{start.month:02d}"
    elif precision == "year" and one_year:
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
    def iso(v: Any) -> str:
        return v.isoformat() if isinstance(v, dt.date) else "9999"

    return (iso(event.get("date_start")), iso(event.get("date_end")), str(event["event_id"]))


@dataclass
class _Data:
    """The rows regrouped for pages: by event, by actor, by source."""

    events: list[Row]
    drafts: set[str]
    actors: dict[str, Row]
    sources: dict[str, Row]
    participants: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    evidence: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    by_actor: dict[str, list[tuple[Row, str]]] = field(default_factory=lambda: defaultdict(list))
    by_source: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))

    def actor_name(self, actor_id: str) -> str:
        actor = self.actors.get(actor_id)
        return str(actor["name"]) if actor and actor.get("name") else actor_id

    def source_label(self, source_id: str) -> str:
        source = self.sources.get(source_id)
        if not source:
            return source_id
        return f"{source.get('publisher') or source_id}, {value_text(source.get('published'))}"


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
    for p in sorted(
        data.rows.get("participants", ()), key=lambda p: (p["event_id"], p["actor_id"])
    ):
        if p["event_id"] in ids:
            out.participants[p["event_id"]].append(p)
    for v in sorted(data.rows.get("evidence", ()), key=lambda v: (v["event_id"], v["span"])):
        if v["event_id"] in ids:
            out.evidence[v["event_id"]].append(v)
    for event in events:  # in date order, so actor and source pages list events by date
        eid = event["event_id"]
        for p in out.participants[eid]:
            out.by_actor[p["actor_id"]].append((event, str(p.get("role") or "")))
        for sid in sorted({v["source_id"] for v in out.evidence[eid]}):
            out.by_source[sid].append(event)
    return out


def _event_summary(d: _Data, event: Row) -> dict[str, Any]:
    eid = event["event_id"]
    return {
        "id": eid,
        "title": event.get("title") or eid,
        "date": date_label(
            event.get("date_start"), event.get("date_end"), event.get("date_precision")
        ),
        "type": event.get("event_type") or "",
        "factuality": event.get("factuality") or "",
        "actors": [d.actor_name(p["actor_id"]) for p in d.participants[eid]],
        "sources": len({v["source_id"] for v in d.evidence[eid]}),
        "draft": eid in d.drafts,
    }


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


def _index_script(d: _Data, f: _Facets) -> tuple[bytes, bytes]:
    """The compact index the table script reads, and the quotes it searches (loaded on demand)."""
    types, facts, actor_ids, source_ids = f.types, f.facts, f.actor_ids, f.source_ids
    type_at = {t: i for i, t in enumerate(types)}
    fact_at = {t: i for i, t in enumerate(facts)}
    actor_at = {a: i for i, a in enumerate(actor_ids)}
    source_at = {s: i for i, s in enumerate(source_ids)}
    rows = []
    quotes = []
    for e in d.events:
        eid = e["event_id"]
        start, end = e.get("date_start"), e.get("date_end")
        rows.append(
            [
                eid,
                e.get("title") or eid,
                start.isoformat() if isinstance(start, dt.date) else "",
                end.isoformat() if isinstance(end, dt.date) else "",
                date_label(start, end, e.get("date_precision")),
                type_at[str(e.get("event_type") or "")],
                fact_at[str(e.get("factuality") or "")],
                sorted({actor_at[p["actor_id"]] for p in d.participants[eid]}),
                sorted({source_at[v["source_id"]] for v in d.evidence[eid]}),
                1 if eid in d.drafts else 0,
            ]
        )
        quotes.append(
            "\n".join(
                f"{v.get('quote') or ''}\n{v.get('translation') or ''}" for v in d.evidence[eid]
            )
        )
    index = {
        "columns": [
            "id",
            "title",
            "start",
            "end",
            "date",
            "type",
            "factuality",
            "actors",
            "sources",
            "draft",
        ],
        "types": types,
        "factualities": facts,
        "actors": [d.actor_name(a) for a in actor_ids],
        "sources": [d.source_label(s) for s in source_ids],
        "events": rows,
    }

    def script(name: str, value: Any) -> bytes:
        # JSON.parse of a string literal: V8 reads that faster than the same data written as
        # a JavaScript object literal, which matters for megabytes of index at 100k events.
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        literal = json.dumps(text, ensure_ascii=False)
        # Legal in JSON, but they ended a string literal in JavaScript before ES2019.
        literal = literal.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return f"window.{name} = JSON.parse({literal});\n".encode()

    return script("EL_INDEX", index), script("EL_QUOTES", quotes)


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


def _spans(data: SiteInput, d: _Data, event: Row) -> list[dict[str, Any]]:
    out = []
    for v in d.evidence[event["event_id"]]:
        sid = v["source_id"]
        text = data.full_texts.get(sid)
        source = d.sources.get(sid, {})
        start, end = v.get("start"), v.get("end")
        shown = (
            in_context(text, start, end)
            if text is not None and isinstance(start, int) and isinstance(end, int)
            else None
        )
        out.append(
            {
                "row": v,
                "source_label": d.source_label(sid),
                "known_source": sid in d.sources,
                "context": shown,
                "sha256": source.get("sha256") or "",
                "lang": source.get("language") or "",
                "check": CHECK.format(start=start, end=end),
                "actors": [(a, d.actor_name(a), a in d.actors) for a in v.get("actor_ids") or ()],
            }
        )
    return out


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


def _pages(events: Sequence[Row]) -> list[Sequence[Row]]:
    return [events[i : i + PAGE_SIZE] for i in range(0, len(events), PAGE_SIZE)] or [[]]


def render_site(data: SiteInput) -> dict[str, bytes]:
    """Every file of the site: relative path under site/ -> bytes; the same input, the same bytes."""
    env = _environment()
    d = _regroup(data)
    files: dict[str, bytes] = {}
    site = {
        "name": data.name,
        "version": data.version,
        "created": data.created,
        "review": data.review,
    }

    templates: dict[str, jinja2.Template] = {}

    def page(path: str, template: str, **context: Any) -> None:
        root = "../" * path.count("/")
        if template not in templates:
            templates[template] = env.get_template(template)
        html = templates[template].render(site=site, root=root, path=path, **context)
        files[path] = html.encode("utf-8")

    summaries = [_event_summary(d, e) for e in d.events]
    # Actor and source pages list the same events again: summarize each once.
    summary_of = {s["id"]: s for s in summaries}
    pages = _pages(summaries)
    facets = _facets(d)
    index_js, quotes_js = _index_script(d, facets)
    files["assets/events-index.js"] = index_js
    files["assets/events-quotes.js"] = quotes_js
    for name in STATIC:
        files[f"assets/{name}"] = (
            resources.files("eventledger.publish.site").joinpath("static", name).read_bytes()
        )
    counts = {
        "events": len(d.events),
        "drafts": len(d.drafts),
        "actors": len(d.actors),
        "sources": len(d.sources),
        "spans": sum(len(v) for v in d.evidence.values()),
    }
    page(
        "index.html",
        "index.html",
        events=pages[0],
        pages=len(pages),
        number=1,
        filters=_filters(d, facets),
        counts=counts,
    )
    for n, rows in enumerate(pages, start=1):
        page(f"events/page-{n}.html", "events_page.html", events=rows, pages=len(pages), number=n)
    spans = [
        Span(
            e["event_id"],
            str(e.get("title") or e["event_id"]),
            date_label(e["date_start"], e["date_end"], e.get("date_precision")),
            str(e.get("event_type") or ""),
            e["date_start"],
            e["date_end"],
            str(e.get("date_precision") or ""),
            e["event_id"] in d.drafts,
        )
        for e in d.events
        if isinstance(e.get("date_start"), dt.date)
        and isinstance(e.get("date_end"), dt.date)
        and e["date_start"] <= e["date_end"]
    ]
    page(
        "timeline.html", "timeline.html", timeline=layout(spans), undated=len(d.events) - len(spans)
    )
    for event, summary in zip(d.events, summaries, strict=True):
        participants = [
            (
                p["actor_id"],
                d.actor_name(p["actor_id"]),
                p.get("role") or "",
                p["actor_id"] in d.actors,
            )
            for p in d.participants[event["event_id"]]
        ]
        page(
            f"events/{event['event_id']}.html",
            "event.html",
            event=event,
            summary=summary,
            participants=participants,
            spans=_spans(data, d, event),
        )
    page(
        "actors/index.html",
        "actors.html",
        actors=[(a, d.by_actor.get(a["actor_id"], [])) for a in d.actors.values()],
    )
    for actor in d.actors.values():
        page(
            f"actors/{actor['actor_id']}.html",
            "actor.html",
            actor=actor,
            events=[
                (summary_of[e["event_id"]], role)
                for e, role in d.by_actor.get(actor["actor_id"], [])
            ],
        )
    page(
        "sources/index.html",
        "sources.html",
        sources=[
            (s, len(d.by_source.get(s["source_id"], [])), s["source_id"] in data.full_texts)
            for s in d.sources.values()
        ],
    )
    for sid, source in d.sources.items():
        page(
            f"sources/{sid}.html",
            "source.html",
            source=source,
            events=[summary_of[e["event_id"]] for e in d.by_source.get(sid, [])],
            full=_source_text(data, d, sid),
            quotes=[
                (e["event_id"], v)
                for e in d.by_source.get(sid, [])
                for v in d.evidence[e["event_id"]]
                if v["source_id"] == sid
            ],
        )
    page(
        "codebook.html", "markdown.html", title="Codebook", blocks=markdown.parse(data.codebook_md)
    )
    page("changes.html", "markdown.html", title="Changes", blocks=markdown.parse(data.changes_md))
    return dict(sorted(files.items()))
