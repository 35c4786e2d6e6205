"""The evidence browser and the SQLite copy, without a browser: what the files say."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import markupsafe
import pytest

from casekit import PROJECT
from eventledger.model.schema import load_schema
from eventledger.publish.release import BuildResult, build
from eventledger.publish.site import SiteInput, render_site
from eventledger.publish.site import render as site_render
from eventledger.publish.site.pager import FULL, pager_links
from eventledger.publish.site.render import date_label
from eventledger.publish.site.sqlite import sqlite_bytes, write_sqlite
from eventledger.publish.site.timeline import Span, layout
from eventledger.read.repository import Repository
from releasekit import make_release_repository
from sitekit import HOSTILE, OPEN_TEXT, PRESS_TEXT, event_row, source_row, span_row, synthetic

SCHEMA = load_schema(PROJECT / "schema")


def page(files: dict[str, bytes], path: str) -> str:
    return files[path].decode("utf-8")


def test_the_same_input_gives_the_same_bytes() -> None:
    first, second = (
        dict(render_site(synthetic(review=True, coverage=True))),
        dict(render_site(synthetic(review=True, coverage=True))),
    )
    assert first == second
    assert list(first) == sorted(first)


def test_record_text_is_escaped_never_markup() -> None:
    files = dict(render_site(synthetic()))
    event = page(files, "events/2019-04-25-talks.html")
    assert HOSTILE not in event and "<script>alert" not in event
    assert str(markupsafe.escape(HOSTILE)) in event
    rows = page(files, "assets/events/rows-0.js")
    literal = rows.removeprefix(
        '(window.EL_PARTS = window.EL_PARTS || []).push(["rows", 0, JSON.parse('
    )
    data = json.loads(json.loads(literal.rstrip().removesuffix(")]);")))
    assert any(title.endswith(HOSTILE) for title in data["title"])  # JSON, read as data


def test_the_published_site_leaves_drafts_out_and_the_reviewers_view_marks_them() -> None:
    published = dict(render_site(synthetic()))
    assert "events/2023-09-draft.html" not in published
    assert b"2023-09-draft" not in b"".join(published.values())
    review = dict(render_site(synthetic(review=True)))
    draft = page(review, "events/2023-09-draft.html")
    assert '<span class="badge draft">draft</span>' in draft
    assert "Reviewer's view" in page(review, "index.html")
    assert "Reviewer's view" not in page(published, "index.html")


def test_a_quote_is_highlighted_in_its_paragraph_where_the_text_may_be_shown() -> None:
    event = page(dict(render_site(synthetic())), "events/2019-04-25-talks.html")
    marks = re.findall(r'<mark class="quote">(.*?)</mark>', event, flags=re.DOTALL)
    assert [html.unescape(m) for m in marks] == [
        "trafen sich Kim und Putin in Wladiwostok",
        "<b>Borschtsch</b> & Sekt",
    ]
    paragraph = re.search(r'<p class="context" lang="de">(.*?)</p>', event, flags=re.DOTALL)
    assert paragraph is not None
    shown = html.unescape(re.sub(r"</?mark[^>]*>", "", paragraph.group(1)))
    assert shown == OPEN_TEXT.splitlines()[1]  # the whole line, nothing of the others


def test_a_quotes_only_source_gives_a_check_that_works_on_ones_own_copy(tmp_path: Path) -> None:
    files = dict(render_site(synthetic()))
    event = page(files, "events/1945-help.html")
    assert PRESS_TEXT not in event
    sha = synthetic().rows["sources"][1]["sha256"]
    assert sha in event
    found = re.search(r'<p class="check">.*?<code>(python3 .*?)</code>', event, re.DOTALL)
    assert found is not None
    command = html.unescape(found.group(1))
    # A reader's copy with Windows line ends still gives the quote.
    (tmp_path / "your-copy.txt").write_bytes(PRESS_TEXT.replace("\n", "\r\n").encode())
    argv = command.replace("python3", sys.executable, 1)
    # The one shell command the site shows its readers, run as a reader would run it.
    out = subprocess.run(argv, shell=True, cwd=tmp_path, capture_output=True, text=True, check=True)  # noqa: S602
    assert out.stdout == "Kim reiste ab\n"
    assert PRESS_TEXT not in page(files, "sources/press-text.html")


def test_the_reviewers_source_page_shows_spans_and_coverage() -> None:
    source = page(
        dict(render_site(synthetic(review=True, coverage=True))), "sources/open-bulletin.html"
    )
    assert "3 sentences" not in source  # counted from the input, not guessed
    assert re.search(
        r"(\d+) sentences: (\d+) coded, (\d+) set aside, (\d+) not covered yet", source
    )
    text = re.search(r'<div class="fulltext" lang="de">(.*?)</div>', source, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert html.unescape(re.sub(r"<[^>]+>", "", text)) == OPEN_TEXT  # every character, once
    assert 'href="../events/2019-04-25-talks.html#span-1"' in text
    assert 'href="../events/2023-09-draft.html#span-1"' in text
    assert 'class="cov-set-aside" title="set aside: no-event"' in text
    assert 'class="cov-uncovered"' in text


def test_an_id_that_is_not_a_file_name_makes_no_page() -> None:
    """The reviewer's view shows broken records; an id like '../x' must not become a path."""
    data = synthetic(review=True)
    events = [dict(e) for e in data.rows["events"]]
    events[0]["event_id"] = "../../escape"
    rows = {**data.rows, "events": events}
    files = dict(render_site(dataclasses.replace(data, rows=rows)))
    assert not [p for p in files if ".." in p.split("/") or p.startswith("/")]
    assert "events/1945-help.html" in files


def test_markdown_pages_keep_anchors_and_drop_script_links() -> None:
    files = dict(render_site(synthetic()))
    codebook = page(files, "codebook.html")
    assert '<h2 id="vocabulary-event_type">' in codebook
    assert "<td><code>AGREE</code></td>" in codebook
    assert 'href="#codebook"' in codebook and "javascript:" not in codebook.split("</a>")[-2]
    assert 'href="javascript' not in codebook
    assert "<li><strong>nothing</strong> removed</li>" in page(files, "changes.html")


# The macro that wrote inline pieces before markdown.inline_html did (a Jinja macro call per
# item of a 100,000-item list of changes): what inline_html must write, byte for byte.
_INLINE_MACRO = """{% macro inline(pieces) -%}
{%- for kind, text, href in pieces -%}
{%- if kind == "code" %}<code>{{ text }}</code>
{%- elif kind == "strong" %}<strong>{{ text }}</strong>
{%- elif kind == "em" %}<em>{{ text }}</em>
{%- elif kind == "link" %}<a href="{{ href }}">{{ text }}</a>
{%- else %}{{ text }}
{%- endif -%}
{%- endfor -%}
{%- endmacro %}"""


def test_markdown_inline_html_is_what_the_template_macro_wrote() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from eventledger.publish.site.markdown import inline_html, inlines

    macro: Any = site_render._environment().from_string(_INLINE_MACRO).module
    kinds = st.sampled_from(["text", "code", "strong", "em", "link"])

    @given(st.lists(st.tuples(kinds, st.text(), st.text())))
    def same(pieces: list[tuple[str, str, str]]) -> None:
        assert inline_html(pieces) == str(macro.inline(pieces))

    same()
    tricky = inlines("a `<b>` **&** *\"'* [x<](#y&z) [no](javascript:alert(1)) " + TRICKY)
    assert inline_html(tricky) == str(macro.inline(tricky))


def test_dates_read_as_precisely_as_they_are_known() -> None:
    d = dt.date
    assert date_label(d(2019, 4, 25), d(2019, 4, 25), "day") == "2019-04-25 (day)"
    assert date_label(d(2019, 4, 1), d(2019, 4, 30), "month") == "2019-04 (month)"
    assert date_label(d(2019, 1, 1), d(2019, 12, 31), "year") == "2019 (year)"
    assert date_label(d(1960, 1, 1), d(1969, 12, 31), "decade") == "1960s (decade)"
    assert date_label(d(2019, 4, 22), d(2019, 4, 28), "week") == "2019-04-22 – 2019-04-28 (week)"
    # Twelve whole months later is not the same month; the last day there is still ends one.
    assert date_label(d(2019, 4, 1), d(2020, 4, 30), "month") == "2019-04-01 – 2020-04-30 (month)"
    assert date_label(d(9999, 12, 1), d(9999, 12, 31), "month") == "9999-12 (month)"
    assert date_label(d(9999, 12, 30), d(9999, 12, 31), "day") == "9999-12-30 – 9999-12-31 (day)"


def test_the_timeline_draws_a_day_as_a_point_and_a_year_as_a_bar() -> None:
    d = dt.date
    spans = [
        Span("a", "A", "", "CONSULT", d(2019, 4, 25), d(2019, 4, 25), "day"),
        Span("b", "B", "", "CONSULT", d(2019, 4, 26), d(2019, 4, 26), "day"),
        Span("c", "C", "", "SUPPORT", d(1945, 1, 1), d(1945, 12, 31), "year"),
        Span("e", "E", "", "REQUEST", d(2023, 9, 1), d(2023, 9, 30), "month"),
    ]
    t = layout(spans)
    marks = {m.event_id: m for m in t.marks}
    assert marks["a"].width == 0 and marks["c"].width > 0
    assert marks["a"].x < marks["b"].x  # one day apart is visibly apart
    assert marks["c"].x < marks["a"].x < marks["e"].x
    assert t.width < 1000  # 1945..2023 without 78 years of empty axis
    assert [b.label for b in t.breaks] == ["1946–2018", "2020–2022"]


def test_timeline_marks_link_their_events() -> None:
    files = dict(render_site(synthetic()))
    timeline = page(files, "timeline.html")
    links = re.findall(
        r'<a href="events/([^"]+)\.html" class="mark" data-event="([^"]+)"', timeline
    )
    assert sorted(a for a, b in links if a == b) == ["1945-help", "1960-tries", "2019-04-25-talks"]


def test_no_page_asks_another_host_for_anything() -> None:
    """Scripts, styles and images come from the folder; only a reader's click may leave it."""
    for path, data in render_site(synthetic(review=True, coverage=True)):
        text = data.decode("utf-8")
        loads = re.findall(r'<(?:script|img|iframe|source)[^>]*\bsrc="([^"]*)"', text)
        loads += re.findall(r'<link[^>]*\bhref="([^"]*)"', text)
        loads += [u for pair in re.findall(r"url\(([^)]*)\)|@import\s+([^;]+)", text) for u in pair]
        for url in loads:
            assert not re.match(r"^\s*['\"]?(?:[a-z]+:)?//", str(url)), (path, url)


# --- SQLite -------------------------------------------------------------------------------


def readme_query() -> str:
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Browsing the evidence", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    return str(blocks[0])


@pytest.fixture(scope="module")
def corpus_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eventledger.check.checker import load_dataset
    from eventledger.publish.select import select

    dataset = load_dataset(Repository(PROJECT))
    rows = select(dataset).rows
    data = sqlite_bytes(dataset.schema.tables, rows)
    assert data == sqlite_bytes(dataset.schema.tables, rows)  # deterministic in bytes
    # A release writes it to disk without holding it: the very same bytes, no scratch left.
    folder = tmp_path_factory.mktemp("sqlite")
    path = folder / "corpus.sqlite"
    write_sqlite(dataset.schema.tables, rows, path, folder / ".corpus.sqlite.scratch")
    assert path.read_bytes() == data
    assert [p.name for p in folder.iterdir()] == ["corpus.sqlite"]
    return path


def test_the_readme_full_text_query_finds_the_spans_that_name_the_place(
    corpus_sqlite: Path,
) -> None:
    db = sqlite3.connect(corpus_sqlite)
    rows = db.execute(readme_query()).fetchall()
    assert len(rows) >= 5
    assert all("wladiwostok" in quote.lower() for _, _, _, quote in rows)


def test_the_sqlite_tables_have_their_keys_and_types(corpus_sqlite: Path) -> None:
    db = sqlite3.connect(corpus_sqlite)
    fks = {(r[2], r[3], r[4]) for r in db.execute("PRAGMA foreign_key_list(evidence)")}
    assert fks == {("events", "event_id", "event_id"), ("sources", "source_id", "source_id")}
    pk = [r[1] for r in db.execute("PRAGMA table_info(evidence)") if r[5]]
    assert pk == ["event_id", "span"]
    types = {r[1]: r[2] for r in db.execute("PRAGMA table_info(events)")}
    assert types["latitude"] == "REAL" and types["geonames_id"] == "INTEGER"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    context = db.execute("SELECT context FROM events WHERE context IS NOT NULL LIMIT 1").fetchone()
    assert isinstance(json.loads(context[0]), list)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_the_sqlite_file_opens_in_the_sqlite3_shell(corpus_sqlite: Path) -> None:
    shell = Path("/usr/bin/sqlite3")
    if not shell.exists():
        pytest.skip("the sqlite3 shell is not installed")
    out = subprocess.run(
        [str(shell), str(corpus_sqlite), readme_query()], capture_output=True, text=True, check=True
    )
    assert "Wladiwostok" in out.stdout


# --- wiring -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    root = make_release_repository(tmp_path_factory.mktemp("site-release") / "repo")
    return build(Repository(root))


def test_a_release_carries_the_site_and_the_sqlite_file_checksummed(release: BuildResult) -> None:
    folder = release.folder
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    sqlite_name = f"{release.name}-{release.version}.sqlite"
    for rel in ("site/index.html", "site/timeline.html", "site/assets/events.js", sqlite_name):
        assert (folder / rel).is_file()
        assert f"  {rel}\n" in sums
    with zipfile.ZipFile(release.archive) as z:
        names = set(z.namelist())
    assert f"{release.name}-{release.version}/site/index.html" in names
    # The fixture's open source shows its text; nothing else is published in full.
    cold = (folder / "site/events/2019-04-26-kim-cold-departure.html").read_text(encoding="utf-8")
    assert '<mark class="quote">-30 Grad</mark>' in cold


@pytest.mark.slow
def test_browse_builds_the_reviewers_view(tmp_path: Path) -> None:
    root = make_release_repository(tmp_path / "repo")
    out = subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "eventledger"), "browse", "--root", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    index = Path(out.stdout.strip())
    assert index == root / "build" / "browse" / "index.html"
    assert index.is_file()
    assert not [p for p in (root / "build").iterdir() if p.name.startswith(".")]  # no leftovers
    # Rebuilding replaces the view in place.
    subprocess.run(
        [str(PROJECT / ".venv" / "bin" / "eventledger"), "browse", "--root", str(root)],
        check=True,
        capture_output=True,
    )
    assert index.is_file()


def test_the_published_site_never_carries_a_quotes_only_text() -> None:
    """Only the quoted words of a press text ship; its other sentences appear nowhere."""
    from eventledger.check.checker import load_dataset
    from eventledger.publish.release import site_files
    from eventledger.publish.select import select

    dataset = load_dataset(Repository(PROJECT))
    selection = select(dataset)
    files = dict(
        site_files(
            "x",
            "0.0.1",
            "2026-01-01T00:00:00Z",
            selection.rows,
            selection.full_texts,
            "",
            "",
        )
    )
    files["x.sqlite"] = sqlite_bytes(dataset.schema.tables, selection.rows)
    published = b"\n".join(files.values()).decode("utf-8", errors="replace")
    quotes = [v["quote"] for v in selection.rows["evidence"]]
    checked = 0
    for source in selection.rows["sources"]:
        if source["rights"] != "quotes-only":
            continue
        text = dataset.texts[source["source_id"]].text or ""
        for line in text.splitlines():
            metadata = " ".join(str(v) for v in source.values())  # a headline is metadata
            if len(line) < 60 or line in metadata or any(line in q for q in quotes):
                continue
            assert line not in published and str(markupsafe.escape(line)) not in published
            checked += 1
    assert checked > 20


def test_an_actor_with_many_events_gets_pages_that_list_them_all_in_date_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(site_render, "LIST_SIZE", 2)
    day = dt.date(2001, 1, 1)
    events = [
        event_row(f"2001-e{i}", f"Event {i}", day + dt.timedelta(days=9 - i), day, "day")
        for i in range(5)
    ]
    for e in events:
        e["date_end"] = e["date_start"]
    rows = {
        "events": events,
        "participants": [
            {"event_id": e["event_id"], "actor_id": "kim", "role": "host"} for e in events
        ],
        "actors": [{"actor_id": "kim", "name": "Kim", "kind": "person"}],
    }
    files = dict(render_site(SiteInput("t", "0.0.1", "2026-01-01T00:00:00Z", rows)))
    paths = ["actors/kim.html", "actors/kim/page-2.html", "actors/kim/page-3.html"]
    assert [p for p in files if p.startswith("actors/kim")] == paths
    listed = []
    for path in paths:
        text = page(files, path)
        listed += re.findall(r'<td><a href="\.\./(?:\.\./)?events/([^"]+)\.html">', text)
        pager = re.findall(
            r'<li><a href="([^"]+)"', text.split('aria-label="Pages of this list"')[1]
        )
        assert [p.replace("../", "") for p in pager] == paths
    assert listed == [f"2001-e{i}" for i in range(4, -1, -1)]  # by date, every one once


@pytest.mark.parametrize("pages", [1, 2, FULL, FULL + 1, 500, 5_000])
def test_a_pager_links_a_few_pages_and_every_page_is_a_few_clicks_from_every_other(
    pages: int,
) -> None:
    """Linking every page from every page grew with the square of the pages (25 million
    links at a million events): beyond FULL pages a pager names few, and those reach all."""
    links = {n: [k for k in pager_links(pages, n) if k is not None] for n in range(1, pages + 1)}
    for n, shown in links.items():
        assert shown == sorted(set(shown)) and {1, n, pages} <= set(shown)
        assert len(shown) == pages if pages <= FULL else len(shown) <= 16
    for start in {1, pages // 2 + 1, pages}:
        clicks = {start: 0}
        frontier = [start]
        while frontier:
            reached = {k for n in frontier for k in links[n] if k not in clicks}
            clicks.update((k, clicks[frontier[0]] + 1) for k in reached)
            frontier = sorted(reached)
        assert len(clicks) == pages
        assert max(clicks.values()) <= (1 if pages <= FULL else 20)


def test_the_events_tables_pages_link_their_pagers_pages_and_they_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(site_render, "PAGE_SIZE", 1)
    day = dt.date(2001, 1, 1)
    events = [
        event_row(f"2001-e{i:03d}", f"Event {i}", day + dt.timedelta(days=i), day, "day")
        for i in range(FULL + 10)
    ]
    for e in events:
        e["date_end"] = e["date_start"]
    files = dict(render_site(SiteInput("t", "0.0.1", "2026-01-01T00:00:00Z", {"events": events})))
    for number in (1, 30, FULL + 10):
        text = page(files, f"events/page-{number}.html")
        nav = text.split('aria-label="Pages of the events table"')[1].split("</nav>")[0]
        hrefs = re.findall(r'<li><a href="\.\./events/(page-\d+)\.html"', nav)
        expected = pager_links(FULL + 10, number)
        assert hrefs == [f"page-{n}" for n in expected if n is not None]
        assert nav.count('<li aria-hidden="true">…</li>') == expected.count(None) > 0
        assert f'page-{number}.html" aria-current="page">' in nav
        assert all(f"events/{h}.html" in files for h in hrefs)


def test_a_passage_many_events_quote_is_marked_once_and_names_a_few_of_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every event quotes the same passage of one open text: its list has pages, but the text
    with every span marked is on the first page only (on each page it grew as the square of
    the events), and its tooltip names the first MAX_NAMED spans and counts the rest."""
    monkeypatch.setattr(site_render, "LIST_SIZE", 3)
    monkeypatch.setattr(site_render, "MAX_NAMED", 4)
    day = dt.date(2001, 1, 1)
    events = [event_row(f"2001-e{i}", f"Event {i}", day, day, "day") for i in range(7)]
    quote = "trafen sich Kim und Putin in Wladiwostok"
    rows = {
        "events": events,
        "evidence": [span_row(e["event_id"], 1, "open-bulletin", OPEN_TEXT, quote) for e in events],
        "sources": [source_row("open-bulletin", OPEN_TEXT, "open")],
    }
    files = dict(
        render_site(
            SiteInput("t", "0.0.1", "2026-01-01T00:00:00Z", rows, {"open-bulletin": OPEN_TEXT})
        )
    )
    first = page(files, "sources/open-bulletin.html")
    text = re.search(r'<div class="fulltext" lang="de">(.*?)</div>', first, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert html.unescape(re.sub(r"<[^>]+>", "", text)) == OPEN_TEXT
    titles = re.findall(r'class="span-link" href="[^"]+" title="([^"]*)"', text)
    assert titles == ["2001-e0 span 1; 2001-e1 span 1; 2001-e2 span 1; 2001-e3 span 1; and 3 more"]
    for n in (2, 3):
        later = page(files, f"sources/open-bulletin/page-{n}.html")
        assert 'class="fulltext"' not in later and "span-link" not in later
        assert 'href="../../sources/open-bulletin.html#text"' in later
        assert "Quoted spans" not in later  # the text is published: no quotes table instead


def test_render_site_makes_each_page_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer can put each file on disk before the next is made: the site is never whole
    in memory. Event pages (the bulk at scale) are rendered one per file taken."""
    made: list[str] = []
    real = site_render._event_page

    def counted(*args: Any) -> bytes:
        made.append(args[-1].id)  # the event's summary
        return real(*args)

    monkeypatch.setattr(site_render, "_event_page", counted)
    taken = 0
    paths = []
    for path, _ in render_site(synthetic(review=True)):
        paths.append(path)
        if path.startswith("events/") and not path.startswith("events/page-"):
            taken += 1
        assert len(made) == taken
    assert taken > 0 and paths == sorted(paths)


# Text that could confuse a skeleton (skeleton.py): its slot markers, format-string braces
# and percent signs, and everything Jinja escapes.
TRICKY = "\ue000title\ue001 {spans} {{x}} } { %s %% %(x)d <i>&amp;</i> \"' \ue000"


def _tricky_input(review: bool) -> SiteInput:
    base = synthetic(review=review)
    rows = {t: [dict(r) for r in base.rows[t]] for t in base.rows}
    long_text = "Anfang. " * 80 + "Kim traf Putin" + " Ende." * 80  # clipped on both sides
    rows["sources"].append(source_row("long-text", long_text, "open"))
    rows["sources"][0]["language"] = TRICKY
    rows["sources"][1]["publisher"] = TRICKY
    rows["actors"][0]["name"] = TRICKY
    events, evidence = rows["events"], rows["evidence"]
    events[1].update(title=TRICKY, summary=TRICKY, event_type=TRICKY, place_name=TRICKY)
    events[2].update(title="", latitude=1, longitude=True, geonames_id=1.0, date_note=[TRICKY])
    # Equal floats with different texts, and one float on two pages.
    events[0].update(latitude=0.0, longitude=1.0)
    events[1].update(latitude=-0.0, longitude=1.0)
    events.append(
        event_row("2000-lonely", "No participants", dt.date(2000, 1, 1), dt.date(2000, 1, 1), "day")
    )
    evidence[2].update(quote=TRICKY, translation=TRICKY, actor_ids=["kim-jong-un", "nobody"])
    evidence[3].update(supports=[TRICKY, "date"], translation="")
    evidence.append(span_row("2000-lonely", 1, "long-text", long_text, "Kim traf Putin"))
    evidence.append(span_row("2000-lonely", 2, "missing-source", "abc", "b"))
    if review:  # the reviewer's view shows broken records too
        evidence.append(
            dict(span_row("2000-lonely", 3, "open-bulletin", OPEN_TEXT, "Kim"), start=None)
        )
        # Types a broken record may hold where text belongs: shown as text, not a crash.
        events[3].update(title=12, event_type=["MEET", "AGREE"], factuality=True)
        # Equal as keys, not as text: a piece made once for 1 must not stand for True or 1.0.
        evidence[3]["actor_ids"] = [1, True, 1.0]
        evidence.append(
            dict(span_row("2000-lonely", 4, "open-bulletin", OPEN_TEXT, "Kim"), actor_ids=[True, 1])
        )
    return dataclasses.replace(
        base,
        rows=rows,
        full_texts={**base.full_texts, "long-text": long_text},
        name=TRICKY,
        version=TRICKY,
    )


def _event_page_by_jinja(data: SiteInput, eid: str) -> str:
    """An event page rendered by Jinja from the same templates, every value passed as itself:
    what the skeletons must fill to, byte for byte."""
    from types import SimpleNamespace

    from eventledger.publish.site.render import value_text
    from eventledger.publish.site.text import in_context

    env = site_render._environment()
    pieces: Any = env.get_template("pieces.html").module
    chrome: Any = env.get_template("chrome.html").module
    macros: Any = env.get_template("macros.html").module
    site = SimpleNamespace(
        name=data.name, version=data.version, created=data.created, review=data.review
    )
    actors = {a["actor_id"]: a for a in data.rows["actors"]}
    sources = {s["source_id"]: s for s in data.rows["sources"]}
    event = next(e for e in data.rows["events"] if e["event_id"] == eid)

    def name(a: str) -> str:
        return actors[a]["name"] if a in actors else a

    def label(sid: str) -> str:
        s = sources.get(sid)
        return f"{s['publisher'] or sid}, {value_text(s['published'])}" if s else sid

    participants = sorted(
        (p for p in data.rows["participants"] if p["event_id"] == eid),
        key=lambda p: p["actor_id"],
    )
    spans = sorted(
        (v for v in data.rows["evidence"] if v["event_id"] == eid), key=lambda v: v["span"]
    )
    sections = []
    for v in spans:
        sid, start, end = v["source_id"], v["start"], v["end"]
        full = data.full_texts.get(sid)
        shown = in_context(full, start, end) if full is not None and start is not None else None
        s = SimpleNamespace(
            span=v["span"],
            source_id=sid,
            start=start,
            end=end,
            source_ref=pieces.source_ref(sid, label(sid), sid in sources),
            supports=value_text(v["supports"]),
            actors=markupsafe.Markup(", ").join(
                pieces.actor_link(a, name(a), a in actors) for a in v["actor_ids"] or ()
            ),
            context=shown,
            lang=sources.get(sid, {}).get("language") or "",
            quote=value_text(v["quote"]),
            translation=value_text(v["translation"]),
            sha256=sources.get(sid, {}).get("sha256") or "",
            check=site_render._check(start, end),
        )
        sections.append(pieces.span(s))
    table = str(macros.field_table([(k, value_text(v)) for k, v in event.items()]))
    rows = table.removeprefix('<table class="fields">\n<tbody>\n').removesuffix(
        "</tbody>\n</table>"
    )
    return env.get_template("event.html").render(
        opening=chrome.opening(),
        top=chrome.top(site, "../", "events/"),
        bottom=chrome.bottom(site),
        name=data.name,
        version=data.version,
        title=value_text(event["title"]) or eid,  # text fields as text (a broken one too)
        draft=eid in data.drafts and data.review,
        type=value_text(event["event_type"]),
        factuality=value_text(event["factuality"]),
        date=date_label(event["date_start"], event["date_end"], event["date_precision"]),
        summary=value_text(event["summary"]),
        participants=markupsafe.Markup("").join(
            pieces.participant(
                p["actor_id"], name(p["actor_id"]), p["role"], p["actor_id"] in actors
            )
            + "\n"
            for p in participants
        ),
        span_count=f"{len(spans)} span{'' if len(spans) == 1 else 's'}",
        spans=markupsafe.Markup("").join(sections),
        quotes_only=any(
            data.full_texts.get(v["source_id"]) is None or v["start"] is None for v in spans
        ),
        fields=markupsafe.Markup(rows),  # noqa: S704 - the rows of Jinja's own field_table
    )


@pytest.mark.parametrize("review", [False, True])
def test_event_pages_filled_from_skeletons_are_what_jinja_renders(review: bool) -> None:
    """Event pages are filled into templates rendered once per shape (skeleton.py): every
    shape here (clipped context or not, translation or not, actors or not, no participants,
    quotes-only, a draft, a broken span) and text holding the skeleton's own markers and
    braces give the bytes Jinja gives for the same values."""
    data = _tricky_input(review)
    files = dict(render_site(data))
    events = [
        e["event_id"] for e in data.rows["events"] if review or e["event_id"] not in data.drafts
    ]
    for eid in events:
        assert page(files, f"events/{eid}.html") == _event_page_by_jinja(data, eid), eid
    assert TRICKY not in "".join(page(files, f"events/{eid}.html") for eid in events)


# The macro that wrote the events table's rows before _ListRows.events did: what those rows
# must be, byte for byte.
_EVENT_ROWS_MACRO = """{% macro event_rows(events, root) -%}
{% for e in events %}
<tr{% if e.draft %} class="draft"{% endif %}><td class="date">{{ e.date }}</td><td class="title"><a href="{{ root }}events/{{ e.id }}.html">{{ e.title }}</a>{% if e.draft %} <span class="badge draft">draft</span>{% endif %}</td><td>{{ e.type }}</td><td>{{ e.factuality }}</td><td class="actors">{{ e.actors }}</td><td class="num">{{ e.sources }}</td></tr>
{% endfor %}
{%- endmacro %}"""


@pytest.mark.parametrize("review", [False, True])
def test_events_table_rows_are_what_the_template_macro_wrote(review: bool) -> None:
    data = _tricky_input(review)
    d = site_render._regroup(data)
    summaries = [site_render._event_summary(d, e) for e in d.events]
    assert any(s.draft for s in summaries) == review
    macro: Any = site_render._environment().from_string(_EVENT_ROWS_MACRO).module
    files = dict(render_site(data))
    for path, root in (("index.html", ""), ("events/page-1.html", "../")):
        rows = str(macro.event_rows(summaries, root))
        assert f"<tbody>\n{rows}\n</tbody>" in page(files, path), path


def test_skeleton_text_escapes_as_jinja_does() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from eventledger.publish.site.skeleton import Memo, text, utf8

    memo = Memo(limit=3)

    @given(st.one_of(st.text(), st.integers(), st.none(), st.booleans(), st.floats()))
    def same(value: Any) -> None:
        assert text(value) == str(markupsafe.escape(value))
        assert utf8(value) == text(value).encode("utf-8") == memo(value)

    same()
    assert text(markupsafe.Markup("<b>")) == "<b>"


def test_the_shipped_templates_hold_no_slot_marker() -> None:
    """A skeleton takes the markers it finds for slots: only a value may bring one."""
    for template in (PROJECT / "src/eventledger/publish/site/templates").iterdir():
        assert not {"\ue000", "\ue001"} & set(template.read_text(encoding="utf-8")), template


def test_sqlite_cells_are_each_fields_value_as_stored() -> None:
    """write_sqlite decides each field's conversion once per table (sqlite._cells): the same
    values as converting every cell on its own, odd cells included (a list field holding a
    string, a date field holding text or a number, a float, a list of numbers)."""
    from eventledger.publish.site.sqlite import _cells, _value

    odd = {"supports": "event", "actor_ids": [1, "x"], "date_start": 2019, "latitude": 1.5}
    for table, rows in synthetic(review=True).rows.items():
        spec = SCHEMA.tables[table]
        cells = _cells(spec)
        for row in [*rows, *({**r, **odd} for r in rows)]:
            for _ in range(2):  # the second time from what _cells keeps
                assert cells(row) == tuple(_value(f.type, row.get(f.name)) for f in spec.fields)


def test_sqlite_rows_made_column_by_column_are_each_rows_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """write_sqlite makes a table's stored values a chunk of rows at a time, column by column
    (sqlite._stored_rows): the same tuples as converting every cell of every row on its own,
    across chunk ends, with odd cells in some rows only (a date in a text column, a list
    field holding a string, a list holding a list), and a row without a field (null)."""
    from eventledger.publish.site import sqlite as site_sqlite

    monkeypatch.setattr(site_sqlite, "CHUNK", 3)
    odd = {"supports": "event", "actor_ids": [1, ["x"]], "date_start": 2019, "latitude": 1.5}
    for table, rows in synthetic(review=True).rows.items():
        spec = SCHEMA.tables[table]
        first = spec.fields[0].name
        mixed = [
            *rows,
            *({**r, **odd} for r in rows[:4]),
            *({**r, first: dt.date(2020, 1, 2)} for r in rows[:2]),
            {k: v for k, v in rows[0].items() if k != spec.fields[-1].name},
            *rows[:5],
        ]
        expected = [
            tuple(site_sqlite._value(f.type, r.get(f.name)) for f in spec.fields) for r in mixed
        ]
        assert list(site_sqlite._stored_rows(spec, mixed)) == expected, table
        assert list(site_sqlite._stored_rows(spec, rows)) == expected[: len(rows)], table


def test_sqlite_rows_are_sorted_as_by_their_keys_stored_values() -> None:
    """_sorted takes the key values themselves where they order as _order's do (strings and
    integers), and _order otherwise (a date in a key): the same order either way."""
    import random

    from eventledger.publish.site import sqlite as site_sqlite

    for table, rows in synthetic(review=True).rows.items():
        spec = SCHEMA.tables[table]
        shuffled = list(rows)
        random.Random(7).shuffle(shuffled)  # noqa: S311 - an order, not a secret
        by_order = sorted(shuffled, key=lambda r: site_sqlite._order(spec, r))
        assert site_sqlite._sorted(spec, shuffled) == by_order, table
        if spec.primary_key:
            key = spec.primary_key[0]
            dated = [
                {**r, key: dt.date(2020, 1, 1) + dt.timedelta(days=i % 5)}
                for i, r in enumerate(shuffled)
            ]
            assert site_sqlite._sorted(spec, dated) == sorted(
                dated, key=lambda r: site_sqlite._order(spec, r)
            ), table


def test_sqlite_refuses_rows_whose_foreign_keys_do_not_resolve() -> None:
    """The keys are checked once the tables are full: a span of an event that is not there
    is an IntegrityError naming its table (the build reports a sqlite3.Error without a
    traceback), and no database is made."""
    data = synthetic()
    rows = {t: list(r) for t, r in data.rows.items()}
    rows["evidence"].append({**rows["evidence"][0], "event_id": "1999-nowhere", "span": 1})
    with pytest.raises(
        sqlite3.IntegrityError, match=r"do not resolve: \[\('evidence', \d+, 'events'"
    ):
        sqlite_bytes(SCHEMA.tables, rows)
