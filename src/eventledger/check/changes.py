"""Check only what changed since a git revision, and what depends on it.

On a repository of many thousands of records a pull request touches a handful; parsing
every file to check them would cost seconds per thousand records. Because every id
equals its file stem (checked on every file that is parsed), the facts that need the
whole repository come from file names alone: the actor ids are the stems of
actors/*.yaml, the source ids the folders under sources/, and two events with one id
are two files with one stem. So only these files are parsed:

- the changed record files (git diff against the revision, plus untracked ones);
- source.yaml of every source whose text or metadata changed;
- the dependents: events that cite a changed or deleted actor or source, or name a
  deleted event in distinct_from. They are found
  with one `git grep -F` over events/ for the changed ids: a single multi-threaded
  process that reads no file into Python, where a Python scan would read and decode
  every event. A text match is a superset of a real reference (an id may also stand in
  a comment); parsing the matches narrows it to the events whose rows really cite it;
- context that is parsed but not reported: events sharing a changed event's stem (the
  duplicate ids) or its date prefix (the suspected duplicates).

Issues are reported for the changed files and the real dependents only. A change under
schema/ changes the meaning of every record, so it checks everything.

With staged=True (pre-commit) the records are those of the index, what the commit will
hold: the changes are the index against the revision, untracked files and unstaged edits
play no part, and the records are read from a copy of the index's record folders.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from eventledger.check.checker import Dataset, KnownIds, check_files
from eventledger.git import GitMissing, git
from eventledger.issues import IssueList
from eventledger.model.kinds import Model
from eventledger.model.patterns import ID_DAY_PREFIX
from eventledger.model.schema import load_schema
from eventledger.read.repository import RecordFile, Repository
from eventledger.syntax.strict_yaml import MAX_BYTES

WATCHED = ("events", "actors", "sources", "schema")
# What a checker needs besides the records: the root markers (see read/repository.py).
SNAPSHOT = (*WATCHED, "datapackage.json")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git hash-object -t tree /dev/null


class ChangesError(Exception):
    """The changes cannot be listed: not a git work tree, or an unknown revision."""


@dataclass
class ChangedCheck:
    """The outcome of a --changed-since check."""

    dataset: Dataset
    changed: list[str]  # repo-relative paths changed since the revision (deleted ones too)
    reported: set[str] = field(default_factory=set)  # files whose issues are kept
    full: bool = False  # schema/ changed, so everything was checked


def _git(
    repository: Repository, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return git(repository.root, *args, stdin=stdin)
    except GitMissing as err:
        raise ChangesError("git is not installed; --changed-since needs it") from err


def changed_paths(repository: Repository, rev: str, *, staged: bool = False) -> list[str]:
    """Paths under events/, actors/, sources/ and schema/ that differ from rev, untracked ones
    included; with staged, the paths whose staged content differs from rev, nothing else."""
    probe = _git(
        repository, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
    )
    base = probe.stdout.strip()
    if probe.returncode != 0 and rev == "HEAD" and _unborn(repository):
        base = EMPTY_TREE  # the first commit: everything is new (pre-commit in a fresh repository)
    elif probe.returncode != 0:
        inside = _git(repository, "rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            raise ChangesError(
                f"{repository.root} is not in a git work tree; --changed-since needs one"
            )
        raise ChangesError(
            f"unknown revision '{rev}'; give a commit, branch or tag (in CI: fetch it first)"
        )
    diff = _git(
        repository,
        "diff",
        *(["--cached"] if staged else []),
        "--name-only",
        "-z",
        "--no-renames",
        "--relative",
        base,
        "--",
        *WATCHED,
    )
    others = (
        subprocess.CompletedProcess([], 0, "", "")
        if staged
        else _git(repository, "ls-files", "-z", "--others", "--exclude-standard", "--", *WATCHED)
    )
    for done in (diff, others):
        if done.returncode != 0:
            raise ChangesError(f"git failed: {done.stderr.strip()}")
    return sorted({p for p in (diff.stdout + others.stdout).split("\0") if p})


def _unborn(repository: Repository) -> bool:
    """A work tree whose current branch has no commit yet."""
    inside = _git(repository, "rev-parse", "--is-inside-work-tree")
    head = _git(repository, "rev-parse", "--verify", "--quiet", "HEAD")
    return inside.returncode == 0 and head.returncode != 0


def _changed_ids(changed: list[str]) -> tuple[set[str], set[str]]:
    actors: set[str] = set()
    sources: set[str] = set()
    for path in changed:
        parts = PurePosixPath(path).parts
        if parts[0] == "actors" and len(parts) == 2 and parts[1].endswith(".yaml"):
            actors.add(PurePosixPath(parts[1]).stem)
        elif parts[0] == "sources" and len(parts) >= 3:
            sources.add(parts[1])
    return actors, sources


@contextmanager
def staged_snapshot(repository: Repository) -> Iterator[Repository]:
    """The record folders and root markers as staged in the index, copied into a temporary
    folder (git checkout-index: one process, no Python reading of the files)."""
    listed = _git(repository, "ls-files", "-z", "--cached", "--", *SNAPSHOT)
    if listed.returncode != 0:
        raise ChangesError(f"git failed: {listed.stderr.strip()}")
    with tempfile.TemporaryDirectory(prefix="eventledger-staged-") as tmp:
        done = _git(
            repository,
            "checkout-index",
            "-z",
            "--stdin",
            f"--prefix={Path(tmp).resolve()}/",
            stdin=listed.stdout,
        )
        if done.returncode != 0:
            raise ChangesError(f"git checkout-index failed: {done.stderr.strip()}")
        yield Repository(Path(tmp).resolve())


def _citing_paths(model: Model) -> list[str]:
    """Pathspecs of the record files that can name another record: those of every kind
    whose table or child tables hold a reference (events; sources/*/uncoded.yaml)."""
    out = []
    for kind in model.kinds:
        tables = (kind.table, *(c.table for c in kind.children))
        if not any(model.references_from(t) for t in tables):
            continue
        layout = kind.layout
        out.append(f":(glob){layout.folder}/*/{layout.file}" if layout.id_folder else layout.folder)
    return out


def citing_events(
    repository: Repository, ids: set[str], model: Model, *, staged: bool = False
) -> set[str]:
    """Record files (events, uncoded sets) whose text contains any of ids (a superset of
    those that cite them)."""
    if not ids:
        return set()
    done = _git(
        repository,
        "grep",
        "-l",
        "-z",
        "-F",
        "--cached" if staged else "--untracked",
        "-f",
        "-",
        "--",
        *_citing_paths(model),
        stdin="".join(f"{i}\n" for i in sorted(ids)),
    )
    if done.returncode not in (0, 1):  # 1: nothing matched
        raise ChangesError(f"git grep failed: {done.stderr.strip()}")
    return {p for p in done.stdout.split("\0") if p}


def check_changed(
    repository: Repository, rev: str, *, staged: bool = False, max_bytes: int = MAX_BYTES
) -> ChangedCheck:
    """Check the records changed since rev and the events that depend on them; with staged,
    the records as the index holds them (what a commit made now would contain)."""
    changed = changed_paths(repository, rev, staged=staged)
    if not staged:
        return _check_changed(repository, repository, changed, False, max_bytes)
    with staged_snapshot(repository) as snapshot:
        return _check_changed(repository, snapshot, changed, True, max_bytes)


def _check_changed(
    repository: Repository,
    tree: Repository,
    changed: list[str],
    staged: bool,
    max_bytes: int,
) -> ChangedCheck:
    """The check itself: git questions go to repository, files are read from tree."""
    files, stray = tree.discover()
    if any(p.startswith("schema/") for p in changed):
        dataset = check_files(tree, files, stray, max_bytes=max_bytes)
        return ChangedCheck(dataset, changed, {r.file for r in dataset.records}, full=True)
    by_rel = {f.rel: f for f in files}
    actors, sources = _changed_ids(changed)
    direct = {p for p in changed if p in by_rel}
    # Every record of a changed source's folder: its source.yaml, and its uncoded set,
    # whose passages quote the text.
    direct |= {rel for rel in by_rel if rel.startswith("sources/") and rel.split("/")[1] in sources}
    # A deleted event may still be named in another event's distinct_from.
    event_stems = {f.path.stem for f in files if f.kind == "event"}
    gone = {
        PurePosixPath(p).stem
        for p in changed
        if p.startswith("events/") and p.endswith(".yaml") and p not in by_rel
    } - event_stems
    model = load_schema(tree.schema_dir).model
    candidates = (
        citing_events(repository, actors | sources | gone, model, staged=staged) & by_rel.keys()
    )
    context = _context(files, [by_rel[p] for p in direct if by_rel[p].kind == "event"])
    parse = sorted(direct | candidates | context)
    known = KnownIds.from_files(files, model)
    changed_set = set(changed)
    # A link, a FIFO or a folder that cannot be read hides records whatever changed: always shown.
    hidden = {s.rel for s in stray if s.kind != "unexpected"}
    dataset = check_files(
        tree,
        [by_rel[p] for p in parse],
        [s for s in stray if s.rel in changed_set or s.rel in hidden],
        known=known,
        max_bytes=max_bytes,
    )
    dependents = {
        r.file
        for r in dataset.records
        if r.file in candidates
        and (
            any(
                row.get("actor_id") in actors
                or row.get("source_id") in sources
                or row.get("event_id") in gone  # a passage naming a deleted event
                for row in r.rows[1:]
            )
            or bool(gone.intersection(r.main().get("distinct_from") or []))
        )
    }
    reported = direct | dependents | changed_set | hidden
    dataset.issues = IssueList([i for i in dataset.issues if i.file in reported or i.file == ""])
    return ChangedCheck(dataset, changed, reported)


def _context(files: list[RecordFile], events: list[RecordFile]) -> set[str]:
    """Unchanged events a changed event must be compared with: same stem, or same date prefix."""
    stems = {e.path.stem for e in events}
    prefixes = {m.group(0) for e in events if (m := ID_DAY_PREFIX.match(e.path.stem))}
    if not stems:
        return set()
    out: set[str] = set()
    for f in files:
        if f.kind != "event":
            continue
        stem = f.path.stem
        if stem in stems or (prefixes and stem[:11] in prefixes):
            out.add(f.rel)
    return out
