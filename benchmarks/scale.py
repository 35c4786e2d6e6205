"""How eventledger scales: the real CLI on synthetic repositories of 10k and 100k events.

Run: make bench  (BENCH_1M=1 adds 1M events), or .venv/bin/python benchmarks/scale.py [N ...]

Not a test (no timing assertions). Every figure is a ratio against a baseline timed in the
same run on the same files, because the machine is shared and absolute times drift:

- bare parse: a single process that only reads every record file with yaml.CSafeLoader
  (libyaml) and checks nothing; what any YAML-based tool pays at least;
- check-jsonschema with our record JSON Schemas over the same files (batches of 5,000).

For each size: cold `validate` (no cache), warm `validate` (nothing changed), `validate`
after 10 records changed, and `build` (at 1M only the rows the targets read: no `--jobs 1`,
no `--no-cache` validate, one build, without the cache). Below a million events the bare
parse, cold `validate` and `build --no-cache` run three times each (BENCH_ROUNDS), in
alternating rounds, and their rows show the middle run by time (memory: the highest of the
runs). Each command runs as its own subprocess: time is
wall clock, and the ratios are of wall clock; "CPU s" is user + system time of the command and
of every process it waited for (its workers), the figure to trust when the machine is shared; memory is the peak resident set of the largest process (getrusage of the
waited child) and the peak of the sum over the process tree (sampled from /proc every
50 ms, so worker processes count). Every generated repository must validate with no issue
at all, and every run must exit 0: a benchmark of a failing check measures nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from casekit import make_repository

BIN = Path(sys.executable).parent
EXE = BIN / "eventledger"
ACTORS = 100
TYPES = ["CONSULT", "AGREE", "SUPPORT", "COOPERATE", "REQUEST", "REJECT", "THREATEN", "PROTEST"]
SOURCE = "example-2019-04-25-summit"
CACHE = "build/cache"
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE = 10_000
FULL_ROWS_BELOW = 1_000_000
# The rows every time target is measured against (the bare parse, cold validate) and the
# build are timed this many times below a million events, in rounds that alternate them, and
# each row shows its middle run: on this shared machine one cold validate of the same code
# and files took 26 to 55 s in different runs, enough to move a ratio across its target.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
REPEATED = ("bare parse (CSafeLoader)", "validate, cold", "build --no-cache")

# Four participants and three spans per event, as in the measurements (100k events:
# 400k participants, 300k spans). Offsets are those of tests/cases/_base's source text.
EVENT = """\
# yaml-language-server: $schema=../../schema/event.record.schema.json
event_id: {eid}
title: Synthetic event number {i}
summary: Actors {a} and {b} met; {c} and {d} took part. Generated for the benchmark.
event_type: {etype}
mode: visit
context: [diplomatic]
cameo_code: "036"
factuality: occurred
date_start: {day}
date_end: {day}
date_precision: day
date_basis: resolved
date_note: "'am Donnerstag' read against the publication date (a Thursday)."
place_name: Wladiwostok
country: RUS
latitude: 43.1056
longitude: 131.8735
geo_precision: city
participants:
  - actor_id: {a}
    role: actor
  - actor_id: {b}
    role: recipient
  - actor_id: {c}
    role: co-actor
  - actor_id: {d}
    role: third-party
evidence:
  - source_id: {source}
    start: 0
    end: 81
    quote: "Kim Jong Un und Wladimir Putin haben sich am Donnerstag in Wladiwostok getroffen."
    translation: Kim Jong Un and Vladimir Putin met on Thursday in Vladivostok.
    supports: [event, date, place, actor]
    actor_ids: [{a}, {b}]
  - source_id: {source}
    start: 125
    end: 168
    quote: "Putin sprach von „wichtigen Verhandlungen“."
    translation: Putin spoke of "important negotiations".
    supports: [event]
  - source_id: {source}
    start: 169
    end: 201
    quote: "Kim sagte: «Wir sind zufrieden.»"
    translation: 'Kim said: "We are satisfied."'
    supports: [actor]
    actor_ids: [{c}, {d}]
review_status: verified
reviewed_by: case-reviewer
reviewed_on: 2026-11-22
"""


def event_path(root: Path, i: int) -> Path:
    day = dt.date(1990, 1, 1) + dt.timedelta(days=i // 3)
    return root / "events" / f"{day.year}" / f"{day.isoformat()}-event-{i:07d}.yaml"


def generate(root: Path, n: int) -> None:
    """A valid repository of n events citing 100 actors and one source."""
    make_repository(root)
    actor = (root / "actors" / "kim-jong-un.yaml").read_text(encoding="utf-8")
    for a in range(ACTORS):
        (root / "actors" / f"actor-{a:03d}.yaml").write_text(
            actor.replace("kim-jong-un", f"actor-{a:03d}"), encoding="utf-8"
        )
    for extra in ("kim-jong-un", "vladimir-putin"):
        (root / "actors" / f"{extra}.yaml").unlink()
    folders: set[Path] = set()
    for i in range(n):
        path = event_path(root, i)
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
        # Three events a day, each of another type, so none is a suspected duplicate.
        a, b, c, d = (f"actor-{(i + k * 7) % ACTORS:03d}" for k in range(4))
        path.write_text(
            EVENT.format(
                eid=path.stem,
                i=i,
                day=path.stem[:10],
                etype=TYPES[i % len(TYPES)],
                a=a,
                b=b,
                c=c,
                d=d,
                source=SOURCE,
            ),
            encoding="utf-8",
        )


def change(root: Path, n: int, count: int = 10) -> None:
    """Edit the titles of count events spread over the repository; they stay valid. Each
    call edits them again (the title grows a word), so a second call changes bytes too."""
    for k in range(count):
        path = event_path(root, k * (n // count))
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("title: ", "title: Revised ", 1), "utf-8")


def clear_builds(root: Path, trash: Path) -> None:
    """Move what earlier builds wrote into trash (deleted once every timing is taken), but
    not the cache beside them in build/. Deleting a build's hundred thousand files here
    would tax the next timed build: ext4 without a journal (this machine's disk) skips
    inodes freed in the last minute or more when it allocates new ones, and a build made
    right after such a delete spent seconds of kernel time in open() for that alone."""
    trash.mkdir(exist_ok=True)
    for entry in (root / "build").glob("*"):
        if entry.as_posix() != (root / CACHE).as_posix():
            entry.rename(trash / f"{len(list(trash.iterdir()))}-{entry.name}")


def record_files(root: Path) -> dict[str, list[str]]:
    """The record files by kind (each kind has its record JSON Schema), relative to root."""
    from eventledger.read.repository import Repository

    out: dict[str, list[str]] = {}
    files, _ = Repository(root).discover()
    for entry in files:
        out.setdefault(entry.kind, []).append(entry.rel)
    return out


def bare_parse(root: Path) -> None:
    """The baseline: parse every record file with libyaml, check nothing (run in a subprocess)."""
    import yaml

    count = 0
    for paths in record_files(root).values():
        for rel in paths:
            with open(root / rel, "rb") as fh:
                yaml.load(fh.read(), Loader=yaml.CSafeLoader)
            count += 1
    print(count)


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds of the process and every child it waited for
    rss: int  # bytes, largest single process (getrusage of the waited child)
    tree: int  # bytes, largest sum over the process tree (sampled)
    code: int
    out: str


def _tree_rss(top: int) -> int:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [top]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except OSError:
            pass
        todo.extend(parents.get(pid, []))
    return total


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    out = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    rss = usage.ru_maxrss * 1024  # KB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, rss, max(peak[0], rss), proc.returncode, out)


def must(result: Run, what: str, codes: tuple[int, ...] = (0,)) -> Run:
    if result.code not in codes:
        sys.exit(f"{what} exited {result.code}:\n{result.out[-3000:]}")
    return result


def check_jsonschema(root: Path, files: dict[str, list[str]]) -> tuple[Run, str]:
    """check-jsonschema over the same files, in batches so the command lines stay short.

    It takes some 13 ms a file, so above SAMPLE files it runs over an even spread of SAMPLE
    of them and its time is scaled to all (BENCH_FULL_JSONSCHEMA=1 runs every file).
    """
    total = sum(len(p) for p in files.values())
    step = 1
    if total > SAMPLE and os.environ.get("BENCH_FULL_JSONSCHEMA") != "1":
        step = total // SAMPLE
    script = []
    for kind, paths in files.items():
        listing = root / f".bench-{kind}-files"
        listing.write_text("\0".join(paths[::step]), encoding="utf-8")
        schema = f"schema/{kind}.record.schema.json"
        script.append(
            f"xargs -0 -n 5000 {BIN / 'check-jsonschema'} -q --schemafile {schema} < {listing.name}"
        )
    result = run(["sh", "-ec", " && ".join(script)], root)
    if step == 1:
        return result, "check-jsonschema"
    checked = sum(len(p[::step]) for p in files.values())
    result.seconds *= total / checked
    result.cpu *= total / checked
    return result, f"check-jsonschema (1 file in {step}, time x{total / checked:.1f})"


def has_option(command: str, option: str) -> bool:
    out = subprocess.run([str(EXE), command, "--help"], capture_output=True, text=True).stdout
    return option in out


@dataclass
class Row:
    label: str
    run: Run  # of repeated rows, the middle run by time
    base: str  # the label of the row it is compared with ("" for none)
    runs: list[Run] = field(default_factory=list)  # every run of a repeated row


def middle(runs: list[Run]) -> Run:
    """The run in the middle by time (of an even count, the faster of the two middle ones),
    its time and CPU, with the highest memory of all the runs: a memory target is met only
    if every run meets it."""
    mid = sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]
    return replace(mid, rss=max(r.rss for r in runs), tree=max(r.tree for r in runs))


def measure(n: int, work: Path) -> list[Row]:
    root = work / f"repo-{n}"
    started = time.perf_counter()
    generate(root, n)
    print(f"  generated {n:,} events in {time.perf_counter() - started:.1f} s", flush=True)
    files = record_files(root)
    validate = [str(EXE), "validate", "--root", str(root)]
    rows: list[Row] = []

    def add(label: str, result: Run, base: str = "") -> Run:
        rows.append(Row(label, result, base))
        print(f"  {label}: {result.seconds:.1f} s", flush=True)
        return result

    # The files just written are still being flushed to disk; that would slow whatever
    # runs first. Flush them, then let the baseline read them first: both it and the cold
    # validate then find them in the page cache. "Cold" means without eventledger's cache.
    os.sync()
    bare = [sys.executable, __file__, "--bare-parse", str(root)]
    add("bare parse (CSafeLoader)", must(run(bare, root), "bare parse"))
    shutil.rmtree(root / CACHE, ignore_errors=True)
    cold = must(run(validate, root), "cold validate")
    if "checked, no issues" not in cold.out:
        sys.exit(f"the synthetic repository is not valid:\n{cold.out[-3000:]}")
    add("validate, cold", cold, "bare parse (CSafeLoader)")
    schema_run, schema_label = check_jsonschema(root, files)
    add("check-jsonschema", must(schema_run, "check-jsonschema"))
    if schema_label != "check-jsonschema":
        rows.append(Row(f"  ({schema_label})", schema_run, ""))
    add("validate, cold vs check-jsonschema", cold, "check-jsonschema")
    # At a million events each run takes minutes: only the rows the targets read.
    full = n < FULL_ROWS_BELOW
    if full and has_option("validate", "--jobs"):
        shutil.rmtree(root / CACHE, ignore_errors=True)
        add(
            "validate, cold, --jobs 1",
            must(run([*validate, "--jobs", "1"], root), "serial"),
            "validate, cold",
        )
    if full and has_option("validate", "--no-cache"):
        add(
            "validate --no-cache",
            must(run([*validate, "--no-cache"], root), "no cache"),
            "validate, cold",
        )
    add(
        "validate, warm (nothing changed)",
        must(run(validate, root), "warm validate"),
        "validate, cold",
    )
    change(root, n)
    os.sync()
    add(
        "validate, 10 records changed",
        must(run(validate, root), "validate after changes"),
        "validate, cold",
    )
    trash = work / f"trash-{n}"
    clear_builds(root, trash)
    build = [str(EXE), "build", "--quiet", "--root", str(root)]
    epoch = {"SOURCE_DATE_EPOCH": "1700000000"}
    # A maintainer builds after validating: the records come from the cache. The build
    # with --no-cache reads them all again, as CI would.
    if full:
        add("build (records cached)", must(run(build, root, epoch), "build"), "validate, cold")
        clear_builds(root, trash)
    if has_option("build", "--no-cache"):
        add(
            "build --no-cache",
            must(run([*build, "--no-cache"], root, epoch), "build --no-cache"),
            "validate, cold",
        )
    present = [label for label in REPEATED if any(row.label == label for row in rows)]
    if full and ROUNDS > 1 and len(present) == len(REPEATED):
        more = repeat(root, trash, bare, validate, [*build, "--no-cache"], epoch)
        for row in rows:
            if row.label in more:
                row.runs = [row.run, *more[row.label]]
                row.run = middle(row.runs)
        middle_cold = next(row.run for row in rows if row.label == "validate, cold")
        for row in rows:
            if row.label.startswith("validate, cold vs"):
                row.run = middle_cold
    # The repository joins the trash, which goes with the whole work folder after the last
    # size's timings (so no size is timed just after another's files were deleted).
    root.rename(trash / "repository")
    return rows


def repeat(
    root: Path,
    trash: Path,
    bare: list[str],
    validate: list[str],
    build: list[str],
    epoch: dict[str, str],
) -> dict[str, list[Run]]:
    """ROUNDS - 1 more runs of each row in REPEATED, alternated (bare parse, cold validate,
    build without the cache; again), so that a slow spell of the machine falls on all three
    rather than on one. The repository is the one with 10 records changed: the same size."""
    more: dict[str, list[Run]] = {label: [] for label in REPEATED}
    for round_ in range(2, ROUNDS + 1):
        for label in REPEATED:
            # As before round 1's bare parse: a build just wrote a whole release, and its
            # writeback would otherwise slow whatever runs next.
            os.sync()
            if label == "validate, cold":
                shutil.rmtree(root / CACHE, ignore_errors=True)
                result = must(run(validate, root), "cold validate")
            elif label == "build --no-cache":
                clear_builds(root, trash)
                result = must(run(build, root, epoch), "build --no-cache")
            else:
                result = must(run(bare, root), "bare parse")
            more[label].append(result)
            print(f"  {label} (round {round_}): {result.seconds:.1f} s", flush=True)
    return more


SHORT = {
    "bare parse (CSafeLoader)": "bare parse",
    "check-jsonschema": "check-jsonschema",
    "validate, cold": "cold",
}


def ratio_of(rows: list[Row], label: str, base: str) -> float:
    """label's time over base's. Where both were timed in the same rounds, the middle of the
    ratios of each round: the two ran minutes apart there, so a slow spell of the machine
    that takes both cancels out, where the ratio of two middle runs may pair a run from a
    quiet round with one from a busy round. Otherwise the ratio of the (middle) runs."""
    by = {r.label: r for r in rows}
    row, under = by[label], by[base]
    if len(row.runs) > 1 and len(row.runs) == len(under.runs):
        ratios = sorted(a.seconds / b.seconds for a, b in zip(row.runs, under.runs, strict=True))
        return ratios[(len(ratios) - 1) // 2]
    return row.run.seconds / under.run.seconds


def table(n: int, rows: list[Row]) -> list[str]:
    lines = [
        f"{n:,} events ({n * 4:,} participants, {n * 3:,} spans)",
        f"  {'':<36} {'seconds':>8} {'ratio':>24} {'peak RSS':>9} {'all procs':>9} {'CPU s':>7}",
    ]
    for row in rows:
        ratio = ""
        if row.base:
            ratio = f"{ratio_of(rows, row.label, row.base):6.2f}x {SHORT[row.base]}"
        if row.label.startswith("  ("):
            lines.append(f"  {row.label}")
            continue
        if row.label.startswith("validate, cold vs"):
            lines.append(f"  {row.label:<36} {'':>8} {ratio:>24}")
            continue
        spread = ""
        if len(row.runs) > 1:  # in the order of the rounds; the ratio is the rounds' middle
            spread = "  rounds: " + ", ".join(f"{r.seconds:.1f}" for r in row.runs)
        lines.append(
            f"  {row.label:<36} {row.run.seconds:8.1f} {ratio:>24} "
            f"{row.run.rss / 2**20:7.0f}MB {row.run.tree / 2**20:7.0f}MB {row.run.cpu:7.1f}"
            f"{spread}"
        )
    return lines


def growth(small: int, big: int, a: list[Row], b: list[Row]) -> list[str]:
    lines = [f"growth {small:,} -> {big:,} events ({big / small:.0f}x the records)"]
    # A size timed three times is compared by its middle run, also with a million's one run:
    # the middle is the better measure of the smaller size, where any one of its runs (the
    # first included, whose bare parse was 47 s against 64 and 66 in one bench) may be the
    # outlier.
    first = {r.label: r.run for r in a}
    for row in b:
        if row.label.startswith(("validate, cold vs", "  (")) or row.label not in first:
            continue
        old, new = first[row.label], row.run
        t, m = new.seconds / old.seconds, new.tree / old.tree
        # Linear: at most 20 % more time per record than at the small size.
        verdict = "linear or better" if t <= big / small * 1.2 else "WORSE than linear"
        lines.append(f"  {row.label:<36} time {t:5.1f}x  memory {m:5.1f}x  {verdict}")
    return lines


def targets(rows: list[Row]) -> list[str]:
    by = {r.label: r.run for r in rows}
    build = "build --no-cache" if "build --no-cache" in by else "build (records cached)"
    cold = by["validate, cold"].seconds
    checks = [
        (
            "cold validate <= 0.6x bare CSafeLoader parse",
            ratio_of(rows, "validate, cold", "bare parse (CSafeLoader)"),
            0.6,
        ),
        (
            "warm validate <= 0.05x cold",
            by["validate, warm (nothing changed)"].seconds / cold,
            0.05,
        ),
        ("10 changed <= 0.06x cold", by["validate, 10 records changed"].seconds / cold, 0.06),
        ("build <= 2x cold validate", ratio_of(rows, build, "validate, cold"), 2.0),
        ("validate peak memory <= 1 GB", by["validate, cold"].tree / 2**30, 1.0),
        ("build peak memory <= 1.5 GB", by[build].tree / 2**30, 1.5),
    ]
    lines = [
        f"  {'met ' if value <= limit else 'MISS'} {label}: {value:.2f}"
        for label, value, limit in checks
    ]
    runs = next(row.runs or [row.run] for row in rows if row.label == build)
    return [*lines, floor(min(r.cpu for r in runs), cold)]


def floor(cpu: float, cold: float) -> str:
    """The least time the build's CPU (the least of its runs) allows on this machine's
    cores, as a ratio to cold validate: what a schedule with no core ever idle would reach.
    Above 2x, no scheduling of the work that run did meets the build target."""
    cores = len(os.sched_getaffinity(0))
    least = cpu / cores
    return (
        f"  (build's {cpu:.1f} CPU s, the least of its runs, on {cores} cores: at least "
        f"{least:.1f} s, {least / cold:.2f}x cold validate, were no core ever idle)"
    )


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PHYS_PAGES") * PAGE / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GB, Python {sys.version.split()[0]}"


def compiled() -> None:
    """Compile eventledger's modules once, as pip does for a regular install and as Python
    does on a user's first run. An editable install under PYTHONDONTWRITEBYTECODE=1 (set on
    the machine these figures come from) otherwise compiles every module from source in
    every timed run: about 50 ms of CPU, a twentieth of a `validate` after 10 changes."""
    import compileall

    import eventledger

    compileall.compile_dir(Path(eventledger.__file__).parent, quiet=1)


def main(sizes: list[int]) -> None:
    compiled()
    print(f"machine: {machine()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results: dict[int, list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="eventledger-bench-") as tmp:
        for n in sizes:
            print(f"{n:,} events ...", flush=True)
            results[n] = measure(n, Path(tmp))
    print()
    for n, rows in results.items():
        print("\n".join(table(n, rows)))
        print("  targets:")
        print("\n".join(targets(rows)))
    ordered = sorted(results)
    for small, big in itertools.pairwise(ordered):
        print("\n".join(growth(small, big, results[small], results[big])))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare-parse"]:
        bare_parse(Path(sys.argv[2]))
    else:
        sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
        if os.environ.get("BENCH_1M") == "1" and not sys.argv[1:]:
            sizes.append(1_000_000)
        main(sizes)
