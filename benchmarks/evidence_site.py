"""What the evidence browser costs at scale: build time beside the tables' build, and how fast
the events table renders and filters in Chromium.

Run: make bench  (or .venv/bin/python benchmarks/evidence_site.py [N], default 100,000 events)

The site is written as render_site yields it, file by file, as a release writes it.

The input is a synthetic release of N events made directly as rows (three spans and two or
three participants per event, 500 actors, 2,000 quotes-only sources, dates from 1945 to 2023
at every precision), so the numbers measure the site, not the record reader. In the same run
the same rows are written as CSV and Parquet (the tables of a release) and as SQLite. In the
browser (Debian's Chromium, headless) the times come from performance.now() marks that
assets/events.js leaves in window.EL_TIMINGS. Nothing here is asserted; it is for reading.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eventledger.model.schema import load_schema
from eventledger.publish.cells import csv_bytes
from eventledger.publish.parquet import parquet_bytes
from eventledger.publish.site import SiteInput, render_site
from eventledger.publish.site.sqlite import sqlite_bytes

TABLES = (
    "events",
    "participants",
    "evidence",
    "actors",
    "sources",
)  # what the synthetic input fills
ROOT = Path(__file__).resolve().parents[1]
TYPES = ("AGREE", "CONSULT", "SUPPORT", "REQUEST", "REJECT", "ACCUSE", "SANCTION", "MOBILIZE")
FACTS = ("occurred", "occurred", "occurred", "planned", "claimed", "announced")
WORDS = [
    "Kim",
    "Putin",
    "Wladiwostok",
    "Gipfel",
    "Treffen",
    "Moskau",
    "Pjöngjang",
    "Sanktionen",
    "Waffen",
    "Zug",
    "Forum",
]


def rows(n: int, seed: int = 12) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    actors = [
        {
            "actor_id": f"actor-{i:03d}",
            "kind": "person",
            "name": f"Actor {i:03d}",
            "names_as_written": [f"Akteur {i}"],
            "country": "RUS",
            "wikidata": None,
            "description": "A synthetic actor.",
        }
        for i in range(500)
    ]
    sources = [
        {
            "source_id": f"source-{i:04d}",
            "publisher": f"Publisher {i % 50}",
            "title": f"Article {i}",
            "author": None,
            "published": dt.date(2019, 1, 1) + dt.timedelta(days=i),
            "published_basis": "stated",
            "published_note": None,
            "published_precision": None,  # stated to the day
            "published_earliest": None,
            "published_latest": None,
            "language": "de",
            "url": None,
            "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
            "characters": 5000,
            "rights": "quotes-only",
        }
        for i in range(2000)
    ]
    events, participants, evidence = [], [], []
    for i in range(n):
        precision = rng.choice(("day", "day", "day", "week", "month", "year", "decade"))
        start = dt.date(1945, 1, 1) + dt.timedelta(days=rng.randrange(78 * 365))
        if precision == "day":
            end = start
        elif precision == "week":
            end = start + dt.timedelta(days=6)
        elif precision == "month":
            start = start.replace(day=1)
            end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        elif precision == "year":
            start, end = dt.date(start.year, 1, 1), dt.date(start.year, 12, 31)
        else:
            decade = start.year - start.year % 10
            start, end = dt.date(decade, 1, 1), dt.date(min(decade + 9, 2023), 12, 31)
        eid = f"{start.year}-synthetic-event-{i:06d}"
        events.append(
            {
                "event_id": eid,
                "title": f"Synthetic event {i} between two actors about {rng.choice(WORDS)}",
                "summary": "A synthetic event of the site benchmark, with a summary of some length.",
                "event_type": rng.choice(TYPES),
                "mode": None,
                "context": ["diplomatic"],
                "cameo_code": None,
                "factuality": rng.choice(FACTS),
                "date_start": start,
                "date_end": end,
                "date_precision": precision,
                "date_basis": "stated",
                "date_note": None,
                "place_name": None,
                "country": None,
                "latitude": None,
                "longitude": None,
                "geo_precision": None,
                "geonames_id": None,
                "distinct_from": None,
                "review_status": "verified",
                "reviewed_by": "bench",
                "reviewed_on": dt.date(2026, 11, 22),
            }
        )
        for a in sorted(rng.sample(range(500), rng.choice((2, 3)))):
            participants.append({"event_id": eid, "actor_id": f"actor-{a:03d}", "role": "actor"})
        for k in range(3):
            quote = " ".join(rng.choice(WORDS) for _ in range(18))
            start_at = rng.randrange(4000)
            evidence.append(
                {
                    "event_id": eid,
                    "span": k + 1,
                    "source_id": f"source-{rng.randrange(2000):04d}",
                    "start": start_at,
                    "end": start_at + len(quote),
                    "quote": quote,
                    "translation": "A translation of the quote into English, of similar length.",
                    "supports": ["event"],
                    "actor_ids": None,
                }
            )
    events.sort(key=lambda e: e["event_id"])
    participants.sort(key=lambda p: (p["event_id"], p["actor_id"]))
    evidence.sort(key=lambda v: (v["event_id"], v["span"]))
    return {
        "events": events,
        "participants": participants,
        "evidence": evidence,
        "actors": actors,
        "sources": sources,
    }


def timed(label: str, work: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = work()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  {label:<46} {wall:7.2f} s  (CPU {cpu:6.2f} s)")
    return out, wall, cpu


def render_and_write(site: Path, data: SiteInput) -> dict[str, Any]:
    """render_site's files written as they come, as a release writes them: rendering and
    writing timed apart, and event pages (the bulk) apart from the rest."""
    cpu = {"event pages": 0.0, "other files": 0.0, "writing": 0.0}
    count = {"event pages": 0, "other files": 0}
    size = {"event pages": 0, "other files": 0}
    parts: dict[str, int] = {}
    made = set()
    files = render_site(data)
    while True:
        c0 = time.process_time()
        try:
            rel, body = next(files)
        except StopIteration:
            break
        kind = (
            "event pages"
            if rel.startswith("events/") and not rel.startswith("events/page-")
            else "other files"
        )
        cpu[kind] += time.process_time() - c0
        count[kind] += 1
        size[kind] += len(body)
        if rel.startswith("assets/"):
            name = rel.removeprefix("assets/").split("-")[0]
            parts[name] = parts.get(name, 0) + len(body)
        c0 = time.process_time()
        path = site / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(body)
        cpu["writing"] += time.process_time() - c0
    return {"cpu": cpu, "count": count, "size": size, "parts": parts}


def browser(site: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("  (playwright is not installed: no browser numbers)")
        return
    if not Path("/usr/bin/chromium").exists():
        print("  (Chromium is missing: apt-get install -y chromium; no browser numbers)")
        return
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=args, headless=True
        )
        page = ctx.new_page()
        page.goto((site / "index.html").as_uri())
        page.wait_for_function("window.EL_TIMINGS && window.EL_TIMINGS.firstRender !== null")
        paint = page.evaluate(
            "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || -1"
        )
        first = page.evaluate("window.EL_TIMINGS.firstRender")
        read = page.evaluate("performance.getEntriesByName('el-script-start')[0].startTime")
        rows = page.locator("#events tbody tr:not(.spacer)").count()
        print(
            f"  first paint (the static rows, no script yet)     {paint:7.0f} ms  since navigation"
        )
        print(
            f"  index and first rows read (events.js starts)     {read:7.0f} ms  since navigation"
        )
        print(
            f"  events table drawn, filters ready                {first:7.0f} ms  since navigation"
            f" ({rows} rows in the DOM)"
        )
        page.wait_for_function("window.EL_TIMINGS.allFilters !== null")
        options = page.evaluate("window.EL_TIMINGS.optionsFilled")
        links = page.evaluate("window.EL_TIMINGS.allFilters")
        print(
            f"  actor and source options in, their parts read   {max(options, links):7.0f} ms"
            "  since navigation (a filter by them before waits for these)"
        )
        # A filter: applied and drawn (synchronous), then every row in view has its title
        # (row parts of events spread over the whole table arrive).
        for control, index in (("#f-type", 2), ("#f-year", 40), ("#f-actor", 7)):
            ms = page.evaluate(
                """([sel, i]) => { const el = document.querySelector(sel);
                    document.querySelectorAll('#filters select').forEach(s => { s.selectedIndex = 0; });
                    el.selectedIndex = i; const t0 = performance.now();
                    el.dispatchEvent(new Event('change', {bubbles: true}));
                    window.EL_T0 = t0; return performance.now() - t0; }""",
                [control, index],
            )
            page.wait_for_function(
                "window.EL_TIMINGS.pending === 0 && window.EL_TIMINGS.reading === 0"
            )
            filled = page.evaluate("window.EL_TIMINGS.filled - window.EL_T0")
            shown = page.inner_text("#status")
            print(
                f"  filter {control:<10} applied and drawn {ms:5.0f} ms, every row titled"
                f" {max(filled, ms):5.0f} ms  ({shown})"
            )
        page.evaluate(
            "document.querySelectorAll('#filters select').forEach(s => { s.selectedIndex = 0; })"
        )
        before = page.evaluate("window.EL_TIMINGS.filters")
        t0 = time.perf_counter()
        page.fill("#f-search", "wladiwostok gipfel")
        page.wait_for_function(
            f"window.EL_TIMINGS.filters > {before} && /^Showing [1-9]/.test("
            "document.querySelector('#status').textContent) && window.EL_TIMINGS.pending === 0"
        )
        print(
            f"  first search: first results drawn               {1000 * (time.perf_counter() - t0):7.0f} ms"
            f"  ({page.inner_text('#status')}, incl. 120 ms typing pause)"
        )
        page.wait_for_function("window.EL_TIMINGS.searching === 0", timeout=120_000)
        print(
            f"  first search: every part read                   {1000 * (time.perf_counter() - t0):7.0f} ms"
            f"  ({page.inner_text('#status')})"
        )
        before = page.evaluate("window.EL_TIMINGS.filters")
        t0 = time.perf_counter()
        page.fill("#f-search", "wladiwostok zug")
        page.wait_for_function(
            f"window.EL_TIMINGS.filters > {before} && window.EL_TIMINGS.searching === 0"
            " && window.EL_TIMINGS.pending === 0"
        )
        print(
            f"  second search (every part read already)         {1000 * (time.perf_counter() - t0):7.0f} ms"
            f"  ({page.inner_text('#status')}, incl. 120 ms typing pause)"
        )
        before = page.evaluate("window.EL_TIMINGS.filters")
        page.fill("#f-search", "")
        page.wait_for_function(f"window.EL_TIMINGS.filters > {before}")
        t0 = time.perf_counter()
        page.click("th[data-sort=title] button")
        page.wait_for_function("!window.EL_TIMINGS.sorting && window.EL_TIMINGS.pending === 0")
        print(
            f"  first sort by title (reads the order) and draw  {1000 * (time.perf_counter() - t0):7.0f} ms"
        )
        t0 = time.perf_counter()
        page.eval_on_selector("#events-scroll", "el => { el.scrollTop = el.scrollHeight / 2; }")
        page.wait_for_timeout(50)
        page.wait_for_function("window.EL_TIMINGS.pending === 0")
        print(
            f"  scroll to the middle and draw                   {1000 * (time.perf_counter() - t0):7.0f} ms  (incl. a 50 ms wait)"
        )
        ctx.close()


def main(n: int) -> None:
    schema = load_schema(ROOT / "schema")
    print(f"{n:,} synthetic events")
    data, _, _ = timed("generating the rows", lambda: rows(n))
    print(
        "  rows: " + ", ".join(f"{t} {len(data[t]):,}" for t in TABLES),
    )
    _, w1, c1 = timed(
        "CSV + Parquet of the five tables (release)",
        lambda: [
            (csv_bytes(schema.tables[t], data[t]), parquet_bytes(schema.tables[t], data[t]))
            for t in TABLES
        ],
    )
    _, w2, c2 = timed(
        "SQLite with keys and full-text index", lambda: sqlite_bytes(schema.tables, data)
    )
    site_input = SiteInput("bench", "0.0.1", "2026-11-22T00:00:00Z", data)
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        t0 = time.perf_counter()
        done = render_and_write(site, site_input)
        wall = time.perf_counter() - t0
        cpu, count, size = done["cpu"], done["count"], done["size"]
        ev = count["event pages"] or 1
        print(
            f"  site: event pages  {count['event pages']:,} files, {size['event pages'] / 1e6:6.0f} MB,"
            f" {size['event pages'] / ev:6.0f} B and {1e6 * cpu['event pages'] / ev:4.0f} us CPU each"
        )
        print(
            f"  site: other files  {count['other files']:,} files, {size['other files'] / 1e6:6.0f} MB,"
            f" CPU {cpu['other files']:.2f} s (plan, index, parts, lists)"
        )
        print(
            "  site: scripts "
            + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in done["parts"].items())
        )
        rendered = cpu["event pages"] + cpu["other files"]
        print(
            f"  site, rendered and written                     {wall:7.2f} s  (CPU {rendered + cpu['writing']:6.2f} s,"
            f" of which writing {cpu['writing']:.2f} s)"
            f"  beside the tables: {w1 + w2:.2f} s (CPU {c1 + c2:.2f} s),"
            f" rendering {rendered / (c1 + c2):.2f}x their CPU"
        )
        browser(site)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
