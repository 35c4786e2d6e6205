"""Inputs for the site tests: a small synthetic SiteInput for edge cases, and the committed
corpus built through the real release and browse code."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

from casekit import PROJECT
from eventledger.publish.browse import build_browse
from eventledger.publish.release import BuildResult, build
from eventledger.publish.site import Sentence, SiteInput
from eventledger.read.repository import Repository
from releasekit import git

OPEN_TEXT = (
    "Erster Absatz ohne Ereignis.\n"
    "Am Donnerstag trafen sich Kim und Putin in Wladiwostok. Es gab <b>Borschtsch</b> & Sekt.\n"
    "Ein Satz, den niemand kodiert hat.\n"
)
PRESS_TEXT = "Ein Pressetext, dessen Wortlaut nicht veröffentlicht werden darf: Kim reiste ab.\n"
HOSTILE = '<script>alert("x")</script> & "quotes"'


def event_row(
    eid: str, title: str, start: dt.date, end: dt.date, precision: str, **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": eid,
        "title": title,
        "summary": "A synthetic event for the site tests.",
        "event_type": "CONSULT",
        "mode": None,
        "context": ["diplomatic"],
        "cameo_code": None,
        "factuality": "occurred",
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
        "reviewed_by": "tester",
        "reviewed_on": dt.date(2026, 11, 22),
    }
    row.update(kw)
    return row


def span_row(eid: str, n: int, source: str, text: str, quote: str, **kw: Any) -> dict[str, Any]:
    start = text.index(quote)
    return {
        "event_id": eid,
        "span": n,
        "source_id": source,
        "start": start,
        "end": start + len(quote),
        "quote": quote,
        "translation": kw.get("translation"),
        "supports": ["event"],
        "actor_ids": kw.get("actor_ids"),
    }


def source_row(sid: str, text: str, rights: str) -> dict[str, Any]:
    return {
        "source_id": sid,
        "publisher": f"Publisher of {sid}",
        "title": f"Title of {sid}",
        "author": None,
        "published": dt.date(2019, 4, 26),
        "published_basis": "stated",
        "published_note": None,
        "language": "de",
        "url": None,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "characters": len(text),
        "rights": rights,
    }


def synthetic(review: bool = False, coverage: bool = False) -> SiteInput:
    """Four events: a day, a year, a decade and a draft; an open and a quotes-only source."""
    talks = "2019-04-25-talks"
    events = [
        event_row(
            talks,
            "Kim and Putin meet " + HOSTILE,
            dt.date(2019, 4, 25),
            dt.date(2019, 4, 25),
            "day",
        ),
        event_row(
            "1945-help",
            "Help in 1945",
            dt.date(1945, 1, 1),
            dt.date(1945, 12, 31),
            "year",
            event_type="SUPPORT",
        ),
        event_row(
            "1960-tries",
            "A decade of tries",
            dt.date(1960, 1, 1),
            dt.date(1969, 12, 31),
            "decade",
            event_type="REQUEST",
            factuality="claimed",
        ),
        event_row(
            "2023-09-draft",
            "A draft not yet verified",
            dt.date(2023, 9, 1),
            dt.date(2023, 9, 30),
            "month",
            review_status="draft",
        ),
    ]
    evidence = [
        span_row(
            talks,
            1,
            "open-bulletin",
            OPEN_TEXT,
            "trafen sich Kim und Putin in Wladiwostok",
            translation="Kim and Putin met in Vladivostok",
            actor_ids=["kim-jong-un"],
        ),
        span_row(talks, 2, "open-bulletin", OPEN_TEXT, "<b>Borschtsch</b> & Sekt"),
        span_row("1945-help", 1, "press-text", PRESS_TEXT, "Kim reiste ab"),
        span_row("1960-tries", 1, "press-text", PRESS_TEXT, "Pressetext"),
        span_row("2023-09-draft", 1, "open-bulletin", OPEN_TEXT, "Am Donnerstag"),
    ]
    participants = [
        {"event_id": talks, "actor_id": "kim-jong-un", "role": "actor"},
        {"event_id": talks, "actor_id": "vladimir-putin", "role": "recipient"},
        {"event_id": "1945-help", "actor_id": "vladimir-putin", "role": "actor"},
        {"event_id": "2023-09-draft", "actor_id": "kim-jong-un", "role": "actor"},
    ]
    actors = [
        {
            "actor_id": "kim-jong-un",
            "kind": "person",
            "name": "Kim Jong Un",
            "names_as_written": ["Kim"],
            "country": "PRK",
            "wikidata": None,
            "description": "Leader.",
        },
        {
            "actor_id": "vladimir-putin",
            "kind": "person",
            "name": "Vladimir Putin",
            "names_as_written": ["Putin"],
            "country": "RUS",
            "wikidata": None,
            "description": "President.",
        },
    ]
    sources = [
        source_row("open-bulletin", OPEN_TEXT, "open"),
        source_row("press-text", PRESS_TEXT, "quotes-only"),
    ]
    texts = {"open-bulletin": OPEN_TEXT}
    if review:
        texts["press-text"] = PRESS_TEXT
    return SiteInput(
        name="test-ledger",
        version="1.2.3",
        created="2026-01-02T02:04:05Z",
        rows={
            "events": events,
            "participants": participants,
            "evidence": evidence,
            "actors": actors,
            "sources": sources,
        },
        full_texts=texts,
        review=review,
        drafts={"2023-09-draft"},
        coverage={"open-bulletin": naive_coverage(OPEN_TEXT, evidence, "open-bulletin", aside=0)}
        if coverage
        else None,
        codebook_md="# Codebook\n\n## Vocabulary `event_type`\n\n| term | definition |\n| --- | --- |\n| `AGREE` | Agree. |\n\n[back](#codebook) [bad](javascript:alert(1))\n",
        changes_md="# Changes\n\n- added `2019-04-25-talks`\n- **nothing** removed\n",
    )


_SENTENCE = re.compile(r"[^\n.!?]+[.!?]?")


def naive_coverage(
    text: str, evidence: list[dict[str, Any]], source_id: str, aside: int | None = None
) -> list[Sentence]:
    """A stand-in for the real segmentation (another piece of work): sentences split at . ! ?
    and line ends; coded when a span touches one; sentence number `aside` set aside."""
    spans = [(v["start"], v["end"]) for v in evidence if v["source_id"] == source_id]
    out: list[Sentence] = []
    for k, m in enumerate(m for m in _SENTENCE.finditer(text) if m.group().strip()):
        lead = len(m.group()) - len(m.group().lstrip())
        a, b = m.start() + lead, m.end()
        if k == aside:
            out.append((a, b, "set-aside", "no-event"))
        elif any(s < b and a < e for s, e in spans):
            out.append((a, b, "coded", None))
        else:
            out.append((a, b, "uncovered", None))
    return out


def clone_corpus(tmp: Path) -> Path:
    """The committed corpus, as a fresh clone: what a release of this commit is built from."""
    clone = tmp / "corpus"
    git(tmp, "clone", "-q", str(PROJECT), str(clone))
    return clone


def corpus_release(clone: Path) -> BuildResult:
    return build(Repository(clone))


def corpus_review(clone: Path) -> Path:
    """build/browse/ of the corpus, with the real sentence coverage."""
    return build_browse(Repository(clone)).parent
