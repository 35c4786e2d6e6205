"""The evidence browser in a real browser: Debian's Chromium, headless, driven by Playwright.

The site is built from the committed records through the real release and browse code and
opened from file://. Every page visited must log no console error and ask for nothing outside
its folder; axe-core (tests/browser/package-lock.json, `make test` runs npm ci) finds no
serious or critical accessibility violation. Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_api

from casekit import PROJECT
from eventledger.model.schema import load_schema
from eventledger.publish.cells import read_csv_rows
from eventledger.publish.release import BuildResult
from eventledger.publish.site import SiteInput, render_site
from eventledger.publish.site import render as site_render
from eventledger.publish.site.timeline import MAX_MARKS
from sitekit import clone_corpus, corpus_release, corpus_review, event_row

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
AXE = PROJECT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = PROJECT / "build" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROW = "#events tbody tr:not(.spacer)"


class Corpus:
    def __init__(self, clone: Path, release: BuildResult, review: Path) -> None:
        self.clone = clone
        self.release = release
        self.site = release.folder / "site"
        self.review = review
        schema = load_schema(clone / "schema")
        data = release.folder / "data"
        self.rows = {
            t: read_csv_rows(schema.tables[t], (data / f"{t}.csv").read_bytes())
            for t in schema.tables
        }

    def text(self, source_id: str) -> str:
        path = self.clone / "sources" / source_id / "text.txt"
        return path.read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    clone = clone_corpus(tmp_path_factory.mktemp("site-browser"))
    release = corpus_release(clone)
    return Corpus(clone, release, corpus_review(clone))


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing; install it with: apt-get install -y chromium")
    if not AXE.exists():
        pytest.fail("axe-core is missing; run: cd tests/browser && npm ci")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        yield ctx
        ctx.close()


class Visitor:
    """Opens pages of one site folder; records console errors and requests that leave it."""

    def __init__(self, ctx: Any, folder: Path) -> None:
        self.ctx = ctx
        self.prefix = folder.resolve().as_uri() + "/"
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.pages: list[Any] = []
        self.requested: list[str] = []

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requested.append(url.removeprefix(self.prefix))
        if url.startswith(self.prefix):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, rel: str) -> Any:
        page = self.ctx.new_page()
        self.pages.append(page)
        page.route("**/*", self._route)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto(self.prefix + rel)
        if rel.endswith("index.html") and "/" not in rel:
            page.wait_for_function("window.EL_TIMINGS && window.EL_TIMINGS.firstRender !== null")
        return page

    def close(self) -> None:
        for page in self.pages:
            page.close()
        assert self.errors == [], "console errors"
        assert self.outside == [], "requests outside the site folder"


@pytest.fixture
def visit(context: Any) -> Iterator[Callable[[Path], Visitor]]:
    visitors: list[Visitor] = []

    def make(folder: Path) -> Visitor:
        visitors.append(Visitor(context, folder))
        return visitors[-1]

    yield make
    for v in visitors:
        v.close()


def shown(page: Any) -> list[dict[str, str]]:
    # Rows whose part is still on its way have no link yet, and a sort by title waits for the
    # titles' order: wait until every row in view is drawn as it will stay.
    settle(page)
    return list(
        page.eval_on_selector_all(
            ROW,
            """rows => rows.map(tr => ({
                id: tr.querySelector('a').getAttribute('href').slice(7, -5),
                title: tr.querySelector('a').textContent,
                type: tr.cells[2].textContent,
                factuality: tr.cells[3].textContent}))""",
        )
    )


def settle(page: Any) -> None:
    """Wait for what the table asked for: the parts of the rows in view, the title order of a
    sort by title, the part naming each event's actors or sources for such a filter."""
    page.wait_for_function(
        "window.EL_TIMINGS.pending === 0 && !window.EL_TIMINGS.sorting"
        " && window.EL_TIMINGS.reading === 0"
    )


def status_count(page: Any) -> int:
    settle(page)
    text = page.inner_text("#status")
    return int(text.split()[1])


def axe_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    # preload off: axe would otherwise re-read the stylesheets with XMLHttpRequest, which
    # Chromium refuses for file:// (a console error of the harness, not of the site).
    result = page.evaluate("async () => (await axe.run(document, {preload: false})).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


# --- the events table ------------------------------------------------------------------------


def test_the_events_table_filters_by_every_facet(corpus: Corpus, visit: Any) -> None:
    events = corpus.rows["events"]
    page = visit(corpus.site).open("index.html")
    assert status_count(page) == len(events)

    page.select_option("#f-type", label="CONSULT")
    expected = {e["event_id"] for e in events if e["event_type"] == "CONSULT"}
    assert status_count(page) == len(expected) > 0
    assert {r["id"] for r in shown(page)} == expected

    page.select_option("#f-factuality", label="occurred")
    both = {
        e["event_id"]
        for e in events
        if e["event_type"] == "CONSULT" and e["factuality"] == "occurred"
    }
    assert {r["id"] for r in shown(page)} == both

    page.click("#f-reset")
    page.wait_for_function(
        f"document.querySelector('#status').textContent.includes('{len(events)} of')"
    )
    page.select_option("#f-year", label="2019")
    in_2019 = {e["event_id"] for e in events if e["date_start"].year <= 2019 <= e["date_end"].year}
    assert {r["id"] for r in shown(page)} == in_2019

    page.click("#f-reset")
    page.select_option("#f-actor", label="Vladimir Putin")
    putin = {
        p["event_id"] for p in corpus.rows["participants"] if p["actor_id"] == "vladimir-putin"
    }
    assert status_count(page) == len(putin)
    assert {r["id"] for r in shown(page)} <= putin

    page.click("#f-reset")
    source = corpus.rows["sources"][0]
    label = f"{source['publisher']}, {source['published'].isoformat()}"
    page.select_option("#f-source", label=label)
    citing = {
        v["event_id"] for v in corpus.rows["evidence"] if v["source_id"] == source["source_id"]
    }
    assert status_count(page) == len(citing)
    assert {r["id"] for r in shown(page)} <= citing


def test_the_events_table_sorts_and_searches_quotes(corpus: Corpus, visit: Any) -> None:
    page = visit(corpus.site).open("index.html")
    dates = [r["id"] for r in shown(page)]
    by_date = sorted(
        corpus.rows["events"], key=lambda e: (e["date_start"], e["date_end"], e["event_id"])
    )
    assert dates == [e["event_id"] for e in by_date][: len(dates)]

    page.click("th[data-sort=title] button")
    titles = [r["title"] for r in shown(page)]
    assert titles == sorted(titles, key=str.lower)
    assert page.get_attribute("th[data-sort=title]", "aria-sort") == "ascending"
    page.click("th[data-sort=title] button")
    titles = [r["title"] for r in shown(page)]
    assert titles == sorted(titles, key=str.lower, reverse=True)
    assert page.get_attribute("th[data-sort=title]", "aria-sort") == "descending"

    # German words stand only in the quotes (titles are English): search must read them.
    quoted = {
        v["event_id"]
        for v in corpus.rows["evidence"]
        if "wladiwostok" in (v["quote"] + (v["translation"] or "")).lower()
    }
    quoted |= {e["event_id"] for e in corpus.rows["events"] if "wladiwostok" in e["title"].lower()}
    page.fill("#f-search", "Wladiwostok")
    page.wait_for_function(
        f"document.querySelector('#status').textContent.startsWith('Showing {len(quoted)} of')"
    )
    assert quoted and {r["id"] for r in shown(page)} == quoted


def test_a_click_on_an_event_opens_its_page(corpus: Corpus, visit: Any) -> None:
    page = visit(corpus.site).open("index.html")
    first = shown(page)[0]
    page.click(f"{ROW} a >> nth=0")
    page.wait_for_url(f"**/events/{first['id']}.html")
    assert page.inner_text("h1").startswith(first["title"])


def test_without_javascript_the_table_is_plain_pages_of_links(corpus: Corpus, context: Any) -> None:
    # Scripts refused at the network layer: the page a reader without JavaScript gets.
    page = context.new_page()
    page.route("**/*.js", lambda route: route.abort())
    page.goto((corpus.site / "index.html").as_uri())
    links = page.eval_on_selector_all("#events tbody a", "as => as.map(a => a.href)")
    assert not page.is_visible("#filters")
    page.close()
    assert len(links) == len(corpus.rows["events"])
    assert all(Path(link.removeprefix("file://")).is_file() for link in links)


def test_a_large_table_keeps_only_the_rows_in_view(context: Any, tmp_path: Path) -> None:
    n = 5000
    day = dt.date(2000, 1, 1)
    events = [
        event_row(
            f"{2000 + i // 400}-event-{i:05d}",
            f"Synthetic event {i:05d}",
            day + dt.timedelta(days=i),
            day + dt.timedelta(days=i),
            "day",
            event_type=("CONSULT", "AGREE", "REJECT")[i % 3],
        )
        for i in range(n)
    ]
    rows: dict[str, list[dict[str, Any]]] = {"events": events}
    site = tmp_path / "site"
    for rel, data in render_site(SiteInput("big", "0.0.1", "2026-01-01T00:00:00Z", rows)):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    visitor = Visitor(context, site)
    page = visitor.open("index.html")
    assert status_count(page) == n
    assert page.locator(ROW).count() < 100
    page.eval_on_selector("#events-scroll", "el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('{ROW} a')).some(a => a.textContent.endsWith('{n - 1:05d}'))"
    )
    assert page.locator(ROW).count() < 100
    page.select_option("#f-type", label="REJECT")
    assert status_count(page) == len([e for e in events if e["event_type"] == "REJECT"])
    visitor.close()


def test_a_large_table_asks_for_parts_only_as_rows_come_into_view_or_search_needs_them(
    context: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_render, "CHUNK", 100)
    n = 2000
    day = dt.date(2000, 1, 1)
    events = [
        event_row(
            f"{(day + dt.timedelta(days=i)).year}-event-{i:05d}",
            f"Event {(i * 7919) % n:05d}",  # titles in another order than dates
            day + dt.timedelta(days=i),
            day + dt.timedelta(days=i),
            "day",
        )
        for i in range(n)
    ]
    evidence = [
        {
            "event_id": e["event_id"],
            "span": 1,
            "source_id": "press",
            "start": 0,
            "end": 20,
            "quote": "Gipfel in Wladiwostok" if i % 97 == 0 else "Treffen in Moskau",
            "translation": None,
            "supports": ["event"],
            "actor_ids": None,
        }
        for i, e in enumerate(events)
    ]
    site = tmp_path / "site"
    rows = {"events": events, "evidence": evidence}
    for rel, data in render_site(SiteInput("big", "0.0.1", "2026-01-01T00:00:00Z", rows)):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    visitor = Visitor(context, site)
    page = visitor.open("index.html")
    assert status_count(page) == n
    parts = lambda: sorted(u for u in visitor.requested if u.startswith("assets/events/"))  # noqa: E731
    # The first rows' part is in the page; which actors and sources each event names are
    # asked for once the table is drawn; nothing else yet.
    first = {"assets/events/rows-0.js", "assets/events/actors-0.js", "assets/events/sources-0.js"}
    assert "assets/events/rows-0.js" in parts() and set(parts()) <= first
    assert [r["id"] for r in shown(page)] == [e["event_id"] for e in events][: len(shown(page))]

    page.eval_on_selector("#events-scroll", "el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(
        f"Array.from(document.querySelectorAll('{ROW} a')).some(a => a.href.endsWith('{n - 1:05d}.html'))"
    )
    rows_asked = [u for u in parts() if "/rows-" in u]
    assert "assets/events/rows-19.js" in rows_asked and len(rows_asked) <= 3
    assert not any("search" in u for u in parts())

    # Search with a year chosen reads only the parts that hold that year's events.
    page.select_option("#f-year", label="2003")
    in_2003 = [i for i, e in enumerate(events) if e["date_start"].year == 2003]
    page.fill("#f-search", "wladiwostok")
    expected = [events[i]["event_id"] for i in in_2003 if i % 97 == 0]
    page.wait_for_function(
        f"document.querySelector('#status').textContent.startsWith('Showing {len(expected)} of')"
        " && window.EL_TIMINGS.searching === 0"
    )
    assert [r["id"] for r in shown(page)] == expected
    searched = {u for u in parts() if "search" in u}
    assert searched == {f"assets/events/search-{i // 100}.js" for i in in_2003}

    # Without the year, every part is read, and results come in date order.
    page.select_option("#f-year", index=0)
    everywhere = [e["event_id"] for i, e in enumerate(events) if i % 97 == 0]
    page.wait_for_function(
        f"document.querySelector('#status').textContent.startsWith('Showing {len(everywhere)} of')"
        " && window.EL_TIMINGS.searching === 0"
    )
    assert [r["id"] for r in shown(page)] == everywhere
    assert len([u for u in parts() if "search" in u]) == n // 100

    # Sorting by title asks for the titles' order once and sorts by it.
    page.fill("#f-search", "")
    page.wait_for_function(
        f"document.querySelector('#status').textContent.startsWith('Showing {n} of')"
    )
    page.click("th[data-sort=title] button")
    titles = [r["title"] for r in shown(page)]
    assert titles == [f"Event {i:05d}" for i in range(len(titles))]
    assert "assets/events/title-order-0.js" in parts()
    visitor.close()


def test_a_large_timeline_counts_per_year_and_links_to_the_filtered_table(
    context: Any, tmp_path: Path
) -> None:
    # Above MAX_MARKS events the timeline draws counts, not marks; a column's part opens the
    # table filtered to its year and type, and shows exactly the events it counted.
    types = ("CONSULT", "AGREE", "REJECT")
    events = [
        event_row(
            f"{1990 + i % 30}-event-{i:05d}",
            f"Synthetic event {i:05d}",
            dt.date(1990 + i % 30, 1 + i % 12, 1),
            dt.date(1990 + i % 30 + (i % 7 == 0), 1 + i % 12, 28),
            "day",
            event_type=types[i % 3],
        )
        for i in range(MAX_MARKS + 500)
    ]
    site = tmp_path / "site"
    for rel, data in render_site(
        SiteInput("big", "0.0.1", "2026-01-01T00:00:00Z", {"events": events})
    ):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    visitor = Visitor(context, site)
    page = visitor.open("timeline.html")
    assert page.locator("#timeline a.mark").count() == 0
    band = page.locator('#timeline a.band[aria-label^="2001, REJECT:"]')
    counted = int(band.get_attribute("aria-label").split(": ")[1].split()[0])
    expected = [
        e
        for e in events
        if e["event_type"] == "REJECT" and e["date_start"].year <= 2001 <= e["date_end"].year
    ]
    assert counted == len(expected) > 0
    band.click()
    page.wait_for_function("window.EL_TIMINGS && window.EL_TIMINGS.firstRender !== null")
    assert status_count(page) == len(expected)
    assert page.input_value("#f-year") == "2001"
    visitor.close()


# --- event, source and timeline pages --------------------------------------------------------


def test_each_highlight_is_the_source_text_at_its_offsets(corpus: Corpus, visit: Any) -> None:
    """In the reviewer's view every source text is shown: check every span of every event."""
    visitor = visit(corpus.review)
    page = visitor.open("index.html")
    checked = 0
    for event in corpus.rows["events"]:
        page.goto(visitor.prefix + f"events/{event['event_id']}.html")
        spans = page.eval_on_selector_all(
            "section.span",
            """ss => ss.map(s => ({source: s.dataset.source, start: +s.dataset.start,
                end: +s.dataset.end, mark: s.querySelector('mark.quote').textContent}))""",
        )
        for s in spans:
            assert s["mark"] == corpus.text(s["source"])[s["start"] : s["end"]]
            checked += 1
    assert checked == len(corpus.rows["evidence"])


def test_the_published_site_shows_quotes_only_texts_as_quotes_with_their_hash(
    corpus: Corpus, visit: Any
) -> None:
    event = corpus.rows["events"][0]["event_id"]
    page = visit(corpus.site).open(f"events/{event}.html")
    assert page.locator("mark.quote").count() == 0
    first = page.locator("section.span").first
    source = first.get_attribute("data-source")
    sha = next(s["sha256"] for s in corpus.rows["sources"] if s["source_id"] == source)
    assert sha in first.text_content()


def test_the_reviewers_source_page_colours_coverage(corpus: Corpus, visit: Any) -> None:
    source = corpus.rows["sources"][0]["source_id"]
    page = visit(corpus.review).open(f"sources/{source}.html")
    text = page.eval_on_selector(".fulltext", "el => el.textContent")
    assert text == corpus.text(source)
    assert page.locator(".fulltext .cov-coded").count() > 0
    marks = page.locator(".fulltext a.span-link")
    assert marks.count() > 0
    href = marks.first.get_attribute("href")
    marks.first.click()
    page.wait_for_url("**/events/*.html#span-*")
    assert page.url.endswith(href.removeprefix(".."))


def test_timeline_marks_link_to_their_events(corpus: Corpus, visit: Any) -> None:
    page = visit(corpus.site).open("timeline.html")
    marks = page.eval_on_selector_all(
        "#timeline a.mark", "as => as.map(a => [a.getAttribute('href'), a.dataset.event])"
    )
    assert sorted(e for _, e in marks) == sorted(e["event_id"] for e in corpus.rows["events"])
    assert all(href == f"events/{eid}.html" for href, eid in marks)
    day = next(e for e in corpus.rows["events"] if e["date_precision"] == "day")
    year = next(e for e in corpus.rows["events"] if e["date_precision"] == "year")
    assert page.locator(f'#timeline a[data-event="{day["event_id"]}"] circle').count() == 1
    assert page.locator(f'#timeline a[data-event="{year["event_id"]}"] rect').count() == 1
    page.click(f'#timeline a[data-event="{day["event_id"]}"]')
    page.wait_for_url(f"**/events/{day['event_id']}.html")
    assert page.inner_text("h1").startswith(day["title"])


# --- keyboard, accessibility, screenshots ----------------------------------------------------


def test_tab_reaches_every_control(corpus: Corpus, visit: Any) -> None:
    page = visit(corpus.site).open("index.html")
    controls = set(
        page.eval_on_selector_all(
            "#filters select, #filters input, #filters button, th button, #events-scroll",
            "els => els.map(e => e.id || e.dataset.sort)",
        )
    )
    assert len(controls) == 13  # five filters, search, reset, five sort buttons, the table
    reached: set[str] = set()
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; return e ? (e.id || e.dataset.sort || '') : '' }"
        )
        reached.add(focused)
        if controls <= reached:
            break
    assert controls - reached == set()


def test_no_serious_accessibility_violations(corpus: Corpus, visit: Any) -> None:
    event = "2019-04-25-kim-putin-vladivostok-talks"
    source = corpus.rows["sources"][0]["source_id"]
    actor = "kim-jong-un"
    found = {}
    for folder, pages in (
        (
            corpus.site,
            [
                "index.html",
                "timeline.html",
                f"events/{event}.html",
                f"actors/{actor}.html",
                "sources/index.html",
                "codebook.html",
                "changes.html",
                "events/page-1.html",
            ],
        ),
        (corpus.review, ["index.html", f"events/{event}.html", f"sources/{source}.html"]),
    ):
        visitor = visit(folder)
        for rel in pages:
            page = visitor.open(rel)
            found[f"{folder.name}/{rel}"] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}


def test_screenshots_of_the_reviewers_view(corpus: Corpus, visit: Any) -> None:
    """The README's pictures: taken here, copied to docs/img/ by hand after a run."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    visitor = visit(corpus.review)
    page = visitor.open("index.html")
    page.screenshot(path=str(SHOTS / "site-index.png"))
    page = visitor.open("events/2019-04-25-kim-putin-vladivostok-talks.html")
    page.evaluate("document.getElementById('evidence').scrollIntoView()")
    page.screenshot(path=str(SHOTS / "site-event.png"))
    page = visitor.open("sources/taz-2019-04-24-kim-putin-kommentar.html")
    page.evaluate("document.getElementById('text').scrollIntoView()")
    page.screenshot(path=str(SHOTS / "site-source.png"))
    for name in ("site-index.png", "site-event.png", "site-source.png"):
        assert (SHOTS / name).stat().st_size > 10_000
