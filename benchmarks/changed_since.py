"""Time `validate --changed-since` against a full `validate` on a synthetic repository.

Run: .venv/bin/python benchmarks/changed_since.py [N] (default 10,000 events; builds in /tmp)

Not a test (no timing assertions): it prints wall-clock times of the real CLI, run as a
subprocess, for a full check (the baseline) and for --changed-since after changing one
event, and after changing an actor cited by about 1 % of the events.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from casekit import CASES, make_repository
from gitkit import commit_all, git

EXE = Path(sys.executable).parent / "eventledger"
TYPES = ["CONSULT", "AGREE", "SUPPORT", "COOPERATE", "REQUEST", "REJECT", "THREATEN", "PROTEST"]
ACTORS = 100


def build(root: Path, n: int) -> None:
    make_repository(root)
    template = (CASES / "valid" / "2019-04-25-kim-putin-talks.yaml").read_text(encoding="utf-8")
    actor = (root / "actors" / "kim-jong-un.yaml").read_text(encoding="utf-8")
    for a in range(ACTORS):
        (root / "actors" / f"actor-{a:03d}.yaml").write_text(
            actor.replace("kim-jong-un", f"actor-{a:03d}"), encoding="utf-8"
        )
    day0 = dt.date(1990, 1, 1)
    for i in range(n):
        day = day0 + dt.timedelta(days=i // 3)
        eid = f"{day.isoformat()}-event-{i:06d}"
        a, b = f"actor-{i % ACTORS:03d}", f"actor-{(i * 7 + 1) % ACTORS:03d}"
        if a == b:
            b = f"actor-{(i + 1) % ACTORS:03d}"
        text = (
            template.replace("2019-04-25-kim-putin-talks", eid)
            .replace("date_start: 2019-04-25", f"date_start: {day.isoformat()}")
            .replace("date_end: 2019-04-25", f"date_end: {day.isoformat()}")
            .replace("event_type: CONSULT", f"event_type: {TYPES[i % len(TYPES)]}")
            .replace("kim-jong-un", a)
            .replace("vladimir-putin", b)
        )
        path = root / "events" / f"{day.year}" / f"{eid}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for extra in ("kim-jong-un", "vladimir-putin"):
        (root / "actors" / f"{extra}.yaml").unlink()
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "synthetic")


def timed(root: Path, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(EXE), "validate", *args], cwd=root, capture_output=True, text=True, check=False
    )
    return time.perf_counter() - start, done.stdout.strip().splitlines()[-1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="eventledger-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        build(root, n)
        print(f"built {n:,} events, {ACTORS} actors in {time.perf_counter() - t0:.1f} s")
        seconds, last = timed(root)
        print(f"full validate:                        {seconds:6.2f} s  {last}")
        one = next((root / "events").rglob("*.yaml"))
        one.write_text(one.read_text().replace("start: 125", "start: 126"), encoding="utf-8")
        seconds, last = timed(root, "--changed-since", "HEAD")
        print(f"--changed-since HEAD, 1 event:        {seconds:6.2f} s  {last}")
        actor = root / "actors" / "actor-042.yaml"
        actor.write_text(actor.read_text().replace("kind: person", "kind: persn"))
        seconds, last = timed(root, "--changed-since", "HEAD")
        print(f"--changed-since HEAD, +1 actor cited: {seconds:6.2f} s  {last}")


if __name__ == "__main__":
    main()
