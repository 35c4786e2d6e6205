"""How much the strict loader and the checks cost, side by side with plain libyaml in the same run.

Run: make bench  (or .venv/bin/python benchmarks/loader.py [N], default 5,000 events)

Each row reads the same N event files. The baselines are PyYAML's pure-Python
yaml.safe_load and libyaml's CSafeLoader, which build Python objects and check nothing;
the rows after them are what eventledger does: strict parsing (scalars as strings,
positions of every key), then typed rows with record checks, then the whole repository
check (spans against source texts, references, Pandera over the tables).
Times are the best of three rounds, in microseconds per record.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from casekit import CASES, make_repository
from eventledger.checker import load_dataset
from eventledger.records import read_record
from eventledger.repository import Repository
from eventledger.schema import load_schema
from eventledger.strict_yaml import load


def build(root: Path, n: int) -> list[Path]:
    make_repository(root)
    template = (CASES / "valid" / "2019-04-25-kim-putin-talks.yaml").read_text(encoding="utf-8")
    paths = []
    for i in range(n):
        day = dt.date(1990, 1, 1) + dt.timedelta(days=i)
        eid = f"{day.isoformat()}-event-{i:06d}"
        body = template.replace("2019-04-25-kim-putin-talks", eid)
        body = body.replace("2019-04-25", day.isoformat())
        folder = root / "events" / str(day.year)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{eid}.yaml"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


def best_of(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = build(root, n)
        blobs = [p.read_bytes() for p in paths]
        schema = load_schema(root / "schema")
        repository = Repository(root)

        def strict_rows() -> None:
            for p, b in zip(paths, blobs, strict=True):
                doc, _ = load(b, p.name)
                assert doc is not None
                read_record("event", p.name, doc, schema)

        rows: list[tuple[str, Callable[[], object]]] = [
            ("baseline: yaml.safe_load (pure Python)", lambda: [yaml.safe_load(b) for b in blobs]),
            (
                "baseline: yaml.load, CSafeLoader (libyaml)",
                lambda: [yaml.load(b, Loader=yaml.CSafeLoader) for b in blobs],
            ),
            (
                "eventledger: strict parse (libyaml events)",
                lambda: [load(b, "f.yaml") for b in blobs],
            ),
            ("eventledger: strict parse + typed rows + record checks", strict_rows),
            (
                "eventledger: whole repository check (load_dataset)",
                lambda: load_dataset(repository),
            ),
        ]
        print(f"{n:,} event records, best of 3 rounds, µs per record")
        base = None
        for label, work in rows:
            seconds = best_of(3, work)
            per = seconds / n * 1e6
            base = base or per
            print(f"  {label:<58} {per:9.1f} µs  ({per / base:4.2f}x safe_load)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
