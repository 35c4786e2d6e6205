"""How much the strict loader and the checks cost, side by side with plain libyaml in the same run.

Run: .venv/bin/python benchmarks/loader.py [N], default 5,000 events)

Each row reads the same N event files. The baselines are PyYAML's pure-Python
yaml.safe_load and libyaml's CSafeLoader, which build Python objects and check nothing;
the rows after them are what eventledger does: strict parsing (scalars as strings,
positions of every key), then typed rows with record checks, then the whole repository
check (spans against source texts, references, Pandera over the tables).
Times are the best of three rounds, in microseconds per record; memory is what stays
allocated while the result is kept (tracemalloc), in KB per record.
"""

from __future__ import annotations

import datetime as dt
import gc
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from casekit import CASES, make_repository
from eventledger.check.checker import load_dataset
from eventledger.model.schema import load_schema
from eventledger.read.records import read_record
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import load


def build(root: Path, n: int) -> list[Path]:
    make_repository(root)
    template = (CASES / "valid" / "2019-04-25-kim-putin-talks.yaml").read_text(encoding="utf-8")
    paths = []
    for i in range(n):
        day = dt.date(1990, 1, 1) + dt.timedelta(days=i)
        eid = f"{day.isoformat()}-event-{i:06d}"
        body = template.replace("2019-04-25-kim-putin-talks", eid)
        body = body.replace("date_start: 2019-04-25", f"date_start: {day.isoformat()}")
        body = body.replace("date_end: 2019-04-25", f"date_end: {day.isoformat()}")
        folder = root / "events" / str(day.year)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{eid}.yaml"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


def best_of(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()  # start each round without the garbage of the one before
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def kept(work: Callable[[], object]) -> int:
    """Bytes still allocated while the result of work is alive (the result is what a caller keeps)."""
    gc.collect()
    tracemalloc.start()
    result = work()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return held


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = build(root, n)
        blobs = [p.read_bytes() for p in paths]
        schema = load_schema(root / "schema")
        repository = Repository(root)
        # Time a valid repository: records with issues are parsed twice on purpose (see Record.position).
        errors = load_dataset(repository).issues.errors
        assert not errors, f"the synthetic repository is not valid: {errors[:3]}"

        def strict_rows() -> None:
            for p, b in zip(paths, blobs, strict=True):
                doc, _ = load(b, p.name)
                assert doc is not None
                read_record(schema.model.kind("event"), p.name, doc, schema)

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
        print(f"{n:,} event records, memory held (tracemalloc), KB per record")
        memory: list[tuple[str, Callable[[], object]]] = [
            ("baseline: the files parsed with CSafeLoader, kept", rows[1][1]),
            ("eventledger: whole repository check, result kept", rows[-1][1]),
        ]
        for label, work in memory:
            held = kept(work)
            print(f"  {label:<58} {held / n / 1024:9.1f} KB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
