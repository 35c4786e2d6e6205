"""Fixture repositories for release tests: the test cases' base and valid records, plus one
verified event quoting an openly licensed source whose text starts cells with '-' and '@',
committed to a real git repository at a fixed time."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import gitkit
from casekit import make_repository, place_valid_cases

COMMIT_TIME = "2026-01-02T03:04:05+01:00"
CREATED = "2026-01-02T02:04:05Z"

OPEN_TEXT = "Am Bahnhof waren es -30 Grad.\n@kremlin meldete: Kim reist heute ab.\n"
OPEN_SOURCE = """\
source_id: example-open-bulletin
publisher: Example Bulletin
title: "Kalter Morgen"
published: "2019-04-26"
published_basis: stated
language: de
sha256: {sha}
characters: {n}
rights: open
"""
COLD_EVENT = """\
event_id: 2019-04-26-kim-cold-departure
title: -30 degrees as Kim leaves
summary: "=1+1 is text here: Kim Jong Un left Wladiwostok in the cold."
event_type: RETREAT
factuality: occurred
date_start: 2019-04-26
date_end: 2019-04-26
date_precision: day
date_basis: inferred
date_note: "@kremlin: the text says 'heute', read against the publication date."
participants:
  - actor_id: kim-jong-un
    role: actor
evidence:
  - source_id: example-open-bulletin
    start: 20
    end: 28
    quote: "-30 Grad"
    supports: [event]
  - source_id: example-open-bulletin
    start: 30
    end: 66
    quote: "@kremlin meldete: Kim reist heute ab"
    supports: [event, actor]
    actor_ids: [kim-jong-un]
review_status: verified
reviewed_by: case-reviewer
reviewed_on: 2026-11-22
"""

# The summit source's uncoded set in the release fixture: the first passage names the
# verified talks, the second the draft (whose id must not ship), and "Der Zug fuhr ..." is
# left to the draft's span: the repository accounts for it, the release (without the draft)
# counts it uncovered and never carries its words.
UNCODED = """\
source_id: example-2019-04-25-summit
passages:
  - start: 0
    end: 168
    quote: "Kim Jong Un und Wladimir Putin haben sich am Donnerstag in Wladiwostok getroffen. \
Das Tête-à-Tête dauerte fast zwei Stunden.\\nPutin sprach von „wichtigen Verhandlungen“."
    reason: same-event
    event_id: 2019-04-25-kim-putin-talks
  - start: 169
    end: 201
    quote: "Kim sagte: «Wir sind zufrieden.»"
    reason: same-event
    event_id: 2019-04-25-kim-train-departs
"""


def git(root: Path, *args: str, when: str = COMMIT_TIME) -> str:
    return gitkit.git(root, *args, when=when)


def make_release_repository(root: Path, *, commit: bool = True) -> Path:
    make_repository(root)
    place_valid_cases(root)
    (root / "sources" / "example-2019-04-25-summit" / "uncoded.yaml").write_text(UNCODED)
    source = root / "sources" / "example-open-bulletin"
    source.mkdir(parents=True)
    (source / "text.txt").write_bytes(OPEN_TEXT.encode())
    (source / "source.yaml").write_text(
        OPEN_SOURCE.format(sha=hashlib.sha256(OPEN_TEXT.encode()).hexdigest(), n=len(OPEN_TEXT))
    )
    (root / "events" / "2019" / "2019-04-26-kim-cold-departure.yaml").write_text(COLD_EVENT)
    if commit:
        git(root, "init", "-q", "-b", gitkit.BASE)
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", "fixture")
    return root


def make_package(folder: Path, files: dict[str, bytes]) -> Path:
    """A package folder of these files and a SHA256SUMS listing them (and no descriptors):
    enough for verify's walk and checksums, in a fraction of a build's time."""
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    sums = "".join(f"{hashlib.sha256(files[rel]).hexdigest()}  {rel}\n" for rel in sorted(files))
    (folder / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return folder


def damaged_zip(path: Path, members: dict[str, bytes], damaged: str, method: int) -> Path:
    """A zip of members compressed by method, with bytes flipped inside the compressed data
    of the member named damaged: what a bad download or disk gives each reader to refuse."""
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        info = zf.getinfo(damaged)
    raw = bytearray(path.read_bytes())
    # The data follows its local header: 30 bytes, the name, the extra field.
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    assert info.compress_size > 40
    for at in range(start + 16, start + 24):  # past LZMA's 9 bytes of properties
        raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path
