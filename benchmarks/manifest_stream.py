"""Time reading a release's full manifest as a stream, at any size.

Run:
  .venv/bin/python benchmarks/manifest_stream.py write FOLDER [N] [CHANGED]
      writes FOLDER/old/manifest.json with N synthetic events (default 1,000,000; with 100
      actors and one source, as benchmarks/scale.py makes them) in the build's own layout,
      and FOLDER/new/manifest.json, the same with CHANGED events (default 10) changed in
      one field; each about 1.06 GB at a million events
  .venv/bin/python benchmarks/manifest_stream.py pass1 PATH
      reads PATH's head and record hashes (pass 1) and says how long that took
  .venv/bin/eventledger diff FOLDER/old FOLDER/new
      the whole comparison, both passes over both files (time it with /usr/bin/time -v)

Not a test (no timing assertions). Delete FOLDER afterwards: it is two large files.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

from eventledger.publish.manifest import manifest_blocks
from eventledger.publish.manifest_stream import file_source, read_manifest

# The fields of an event and an actor, as releases/0.1.0.json names them.
EVENT_FIELDS = [
    "cameo_code",
    "context",
    "country",
    "date_basis",
    "date_end",
    "date_note",
    "date_precision",
    "date_start",
    "distinct_from",
    "event_id",
    "event_type",
    "evidence",
    "factuality",
    "geo_precision",
    "geonames_id",
    "latitude",
    "longitude",
    "mode",
    "participants",
    "place_name",
    "review_status",
    "reviewed_by",
    "reviewed_on",
    "summary",
    "title",
]
ACTOR_FIELDS = [
    "actor_id",
    "country",
    "description",
    "kind",
    "name",
    "names_as_written",
    "wikidata",
]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def synthetic(n: int) -> dict[str, Any]:
    """A full manifest of n events whose field hashes repeat (so that it fits in memory
    while written) and whose record hashes do not."""
    shared = [{f: _hash(f"{f}{k}") for f in EVENT_FIELDS} for k in range(1000)]
    events = {
        f"{1990 + i // 36500}-{i % 12 + 1:02d}-{i % 28 + 1:02d}-synthetic-event-{i:07d}": {
            "hash": _hash(f"event{i}"),
            "fields": shared[i % 1000],
        }
        for i in range(n)
    }
    actors = {
        f"actor-{a:03d}": {
            "hash": _hash(f"actor{a}"),
            "fields": {f: _hash(f) for f in ACTOR_FIELDS},
        }
        for a in range(100)
    }
    sources = {"source-0": {"hash": _hash("source"), "fields": {"id": _hash("id")}}}
    return {
        "name": "eventledger-synthetic",
        "version": "0.1.0",
        "created": "2026-12-01T00:00:00Z",
        "schema": {"events": dict.fromkeys(EVENT_FIELDS, "string")},
        "vocabularies": {"event_type": ["AGREE", "CONSULT"]},
        "records": {"actors": actors, "events": events, "sources": sources},
    }


def write(folder: Path, n: int, changed: int) -> None:
    data = synthetic(n)
    for name in ("old", "new"):
        if name == "new":
            data["version"] = "0.1.1"
            events = data["records"]["events"]
            for rid in list(events)[:: max(1, n // changed)][:changed]:
                entry = events[rid]
                fields = entry["fields"] | {"title": _hash(rid)}
                events[rid] = {"hash": _hash(rid + "changed"), "fields": fields}
        (folder / name).mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with (folder / name / "manifest.json").open("wb") as out:
            for block in manifest_blocks(data):
                out.write(block)
        size = (folder / name / "manifest.json").stat().st_size
        print(
            f"{folder / name / 'manifest.json'}: {size:,} bytes in {time.perf_counter() - start:.1f} s"
        )


def pass1(path: Path) -> None:
    start = time.perf_counter()
    cpu = time.process_time()
    read = read_manifest(file_source(path))
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    count = sum(map(len, read.records.values()))
    size = path.stat().st_size
    print(
        f"pass 1 of {path}: {count:,} records, {size:,} bytes in {wall:.1f} s "
        f"({used:.1f} s CPU; {wall / (size / 1e9):.1f} s per GB)"
    )


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "write":
        n = int(argv[2]) if len(argv) > 2 else 1_000_000
        write(Path(argv[1]), n, int(argv[3]) if len(argv) > 3 else 10)
    elif len(argv) == 2 and argv[0] == "pass1":
        pass1(Path(argv[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
