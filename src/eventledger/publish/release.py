"""Build a release: check, select verified records, render every file, write them aside,
validate them with frictionless and our own checks, then rename them into place and zip them.

The steps read as the release rules: resolve_target (which version, built at what time,
after which releases), check_records (nothing with an error ships), selected (the rows that
ship), write (aside, checked, renamed: a failed build leaves nothing), which writes the
tables first and, while their checks run on the second core, calls render (the manifest,
and the version rules against the releases before) before it writes the rest. Builds are
deterministic: every byte depends only on the repository's files and `created`, which is
the commit time of HEAD (UTC), the time a published version was released with, or
SOURCE_DATE_EPOCH outside git.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventledger import collector
from eventledger.atomic import write_atomically
from eventledger.check.checker import load_dataset
from eventledger.check.metadata import check_package_metadata
from eventledger.git import GitMissing, git
from eventledger.issues import IssuesError
from eventledger.issues.excerpt import printable
from eventledger.model.codebook import codebook
from eventledger.model.kinds import LAYOUTS, SOURCE_TABLE
from eventledger.model.schema import Schema
from eventledger.publish.archive import ChangedOnDisk, zip_folder
from eventledger.publish.aside import AsideFolder, UnsafeName
from eventledger.publish.cells import (
    columns_csv_bytes,
    columns_formula_cells,
    columns_unwritable,
    table_columns,
)
from eventledger.publish.children import Watch
from eventledger.publish.coverage_doc import coverage_markdown
from eventledger.publish.descriptor import descriptor, json_bytes, read_base, resource
from eventledger.publish.diff import full_manifest
from eventledger.publish.manifest import (
    LEVELS,
    Changes,
    ManifestError,
    as_published,
    bump,
    changes_markdown,
    compact_bytes,
    compare,
    field_hashes_dropped,
    manifest,
    manifest_blocks,
    parse_version,
    read_manifests,
    released_before,
    retired_ids,
    same_content,
)
from eventledger.publish.parquet import columns_parquet_bytes, get_ready, let_go_of_tables
from eventledger.publish.select import COVERAGE_TABLE, Row, Selection, select
from eventledger.publish.site import SiteInput, render_site
from eventledger.publish.site.sqlite import write_sqlite
from eventledger.publish.spreadsheet import WorkbookAside
from eventledger.publish.tables_check import TablesCheck
from eventledger.publish.verify import SUMS, safe_relative, verify
from eventledger.publish.zip_match import zip_holds
from eventledger.publish.zip_stream import StreamedZip
from eventledger.read.cache import Cache
from eventledger.read.repository import Repository

if TYPE_CHECKING:
    from eventledger.check.checker import Dataset

Progress = Callable[[str], None]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class ReleaseError(IssuesError):
    """The release cannot be built; nothing was written. issues holds the data problems, if any."""


@dataclass(frozen=True)
class Target:
    """What is being released: the package's name and version, the time it is built with,
    and the releases the repository records before it."""

    name: str
    version: str
    created: str  # ISO 8601, UTC, to the second
    created_from: str  # where that time comes from, for the summary
    base: dict[str, Any]  # the root datapackage.json
    manifests: dict[str, dict[str, Any]]  # releases/<version>.json by version

    @property
    def when(self) -> dt.datetime:
        return dt.datetime.strptime(self.created, TIME_FORMAT).replace(tzinfo=dt.UTC)

    @property
    def earlier(self) -> list[dict[str, Any]]:
        return released_before(self.manifests, self.version)


@dataclass(frozen=True)
class Selected:
    """The rows the package holds and what the summary says about them, before the version
    rules are met: all the tables need (they are written, and checked, while those rules
    are worked out)."""

    schema: Schema
    selection: Selection
    counts: dict[str, int]
    drafts: list[str]
    formula_cells: list[str]
    # Each table's columns (cells.table_columns), taken once for the checks above and
    # handed on to write_tables, which lets each table's go once its copies are written.
    columns: dict[str, list[list[Any]]]


@dataclass
class Rendered:
    """What the package holds once the version rules are met: the selected rows, the
    manifest, the changes, and what the summary says about them."""

    schema: Schema
    selection: Selection
    # the full manifest; once write_files has written manifest.json, its record hashes only
    manifest: dict[str, Any]
    changes: Changes
    counts: dict[str, int]
    drafts: list[str]
    formula_cells: list[str]
    spreadsheet_notes: list[str] = field(default_factory=list)  # set once the workbook is written


@dataclass
class BuildResult:
    name: str
    version: str
    created: str
    created_from: str
    folder: Path
    archive: Path
    # "built"; "unchanged" when build/<version>/ held these very files already; "replaced"
    # when it held another build of the version that no release recorded (a local copy)
    status: str
    recorded: bool = False  # releases/<version>.json records this version
    counts: dict[str, int] = field(default_factory=dict)
    drafts: list[str] = field(default_factory=list)
    formula_cells: list[str] = field(default_factory=list)
    spreadsheet_notes: list[str] = field(default_factory=list)
    changes: Changes | None = None
    files: int = 0
    manifest_path: Path | None = None

    def to_dict(self, root: Path) -> dict[str, Any]:
        def rel(p: Path) -> str:
            return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)

        return {
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "created_from": self.created_from,
            "status": self.status,
            "recorded": self.recorded,
            "folder": rel(self.folder),
            "archive": rel(self.archive),
            "rows": self.counts,
            "drafts_withheld": self.drafts,
            "formula_like_cells": self.formula_cells,
            "spreadsheet_notes": self.spreadsheet_notes,
            "changes": self.changes.to_dict() if self.changes else None,
            "files": self.files,
            "manifest": rel(self.manifest_path) if self.manifest_path else None,
        }


# What a zip can record: DOS timestamps run from 1980 to 2107.
ZIP_YEARS = (1980, 2107)


def source_date_epoch() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH as a time, None when unset; ReleaseError, with the reason, when it is
    not a whole number of seconds or names a time a zip cannot record."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ReleaseError(
            f"SOURCE_DATE_EPOCH={printable(raw, 40)} is not a whole number of seconds since 1970-01-01 UTC "
            "(for example 1767319445); set it to one, or unset it"
        )
    seconds = int(raw)
    low = dt.datetime(ZIP_YEARS[0], 1, 1, tzinfo=dt.UTC)
    high = dt.datetime(ZIP_YEARS[1], 12, 31, 23, 59, 58, tzinfo=dt.UTC)
    if not low.timestamp() <= seconds <= high.timestamp():
        raise ReleaseError(
            f"SOURCE_DATE_EPOCH={raw} is outside what a zip can record "
            f"({low:%Y-%m-%d} .. {high:%Y-%m-%d}); the release zip could not keep that time"
        )
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def commit_time(root: Path) -> tuple[dt.datetime, str]:
    """When HEAD was committed (UTC); SOURCE_DATE_EPOCH outside git; otherwise refuse.
    Returns the time and where it comes from, for the summary."""
    try:
        done = git(root, "log", "-1", "--format=%cI")
    except GitMissing:
        done = None
    out = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    epoch = source_date_epoch()  # a set but unusable value is refused even when unused
    if out:
        return dt.datetime.fromisoformat(out).astimezone(dt.UTC), "commit time of HEAD"
    if epoch is not None:
        return epoch, "SOURCE_DATE_EPOCH"
    raise ReleaseError(
        f"{root} is not a git repository with a commit, and SOURCE_DATE_EPOCH is not set: "
        "a release takes its 'created' time from the commit it is built from. "
        "Commit first (git init && git add . && git commit), or set SOURCE_DATE_EPOCH."
    )


def _quiet(_: str) -> None:
    return None


def resolve_target(repository: Repository) -> Target:
    """The version datapackage.json names, checked against the releases recorded before it,
    and the time it is built with."""
    root = repository.root
    broken = check_package_metadata(repository)
    if broken:
        raise ReleaseError("datapackage.json cannot name the release; fix it first", broken)
    base = read_base(root)
    name, version = str(base.get("name", "")), str(base.get("version", ""))
    try:
        key = parse_version(version)
    except ManifestError as err:
        raise ReleaseError(f"datapackage.json: {err}") from err
    try:
        manifests = read_manifests(root / "releases")
    except ManifestError as err:
        raise ReleaseError(str(err)) from err
    published = sorted(manifests, key=parse_version)
    if published and version not in manifests and key < parse_version(published[-1]):
        raise ReleaseError(
            f"version {version} is below the latest release {published[-1]}; "
            f"raise the version in datapackage.json above {published[-1]}"
        )
    if version in manifests:
        # Rebuilding a published version (at its tag, or after): its time is the one it was
        # released with, so the same records give the same bytes as the published package.
        created = str(manifests[version]["created"])
        created_from = f"as published in releases/{version}.json"
    else:
        when, created_from = commit_time(root)
        created = when.strftime(TIME_FORMAT)
    year = int(created[:4])
    if not ZIP_YEARS[0] <= year <= ZIP_YEARS[1]:
        raise ReleaseError(
            f"the release time {created} ({created_from}) is outside what a zip can record "
            f"({ZIP_YEARS[0]}..{ZIP_YEARS[1]}); commit again with a real date"
        )
    return Target(name, version, created, created_from, base, manifests)


def check_records(
    repository: Repository,
    progress: Progress = _quiet,
    *,
    jobs: int = 1,
    cache: Cache | None = None,
) -> Dataset:
    """Every record, checked (read in jobs processes); an error anywhere stops the release."""
    progress("checking records")
    dataset = load_dataset(repository, jobs=jobs, cache=cache, meanwhile=get_ready)
    errors = dataset.issues.errors
    if errors:
        raise ReleaseError(
            f"{len(errors)} error(s) in the records; fix them (make validate) before releasing",
            sorted(set(errors)),
            checked=len(dataset.records),
        )
    progress(f"checked {len(dataset.records)} records")
    return dataset


def _check_versions(
    version: str,
    new: dict[str, Any],
    earlier: list[dict[str, Any]],
    current: dict[str, Any] | None,
    order: list[str],
    build: Path,
) -> Changes:
    if current is not None and not same_content(current, new):
        raise ReleaseError(
            f"version {version} was already released (releases/{version}.json) with different "
            "records; a published version is never changed. Raise the version in "
            "datapackage.json (see CONTRIBUTING.md, Versions)."
        )
    if not earlier:
        return compare(None, new, order)
    if current is not None and "changes" in current:
        # A published version is rebuilt with the changed fields it was published with.
        previous: Mapping[str, Any] = earlier[-1]
        changes = as_published(compare(previous, new, order), current["changes"])
    else:
        # git keeps the last release compact: the fields that changed come from its build.
        previous, fields_from, fields = full_manifest(build, new["name"], earlier[-1])
        try:
            changes = compare(previous, new, order, fields_from, old_fields=fields)
        except ManifestError as err:  # the previous build's manifest, read again for its fields
            raise ReleaseError(str(err)) from err
    step = bump(previous["version"], version)
    if step == "none":
        raise ReleaseError(
            f"version {version} is not above the last release {previous['version']}; "
            "raise the version in datapackage.json"
        )
    if LEVELS.index(step) < LEVELS.index(changes.level):
        reasons = changes.schema or [f"records added or removed since {previous['version']}"]
        raise ReleaseError(
            f"{previous['version']} -> {version} is a {step} step, but the changes need a "
            f"{changes.level} step ({'; '.join(reasons)}). See CONTRIBUTING.md, Versions."
        )
    back = retired_ids(earlier) & set(new["records"]["events"])
    if back:
        raise ReleaseError(
            f"event ids removed in an earlier release come back: {', '.join(sorted(back))}; "
            "an id is never reused, choose new ids"
        )
    return changes


def selected(dataset: Dataset, *, consume: bool = False) -> Selected:
    """The rows the package holds, each of them one a CSV cell can hold unchanged. With
    consume, the records leave the dataset as their rows are copied (see select)."""
    schema = dataset.schema
    selection = select(dataset, consume=consume)
    rows = selection.rows
    # The values are looked through a column at a time, taken once for these checks and
    # the tables' copies (write_tables).
    columns = {t: table_columns(spec, rows[t]) for t, spec in schema.tables.items()}
    problems = [
        p for t, spec in schema.tables.items() for p in columns_unwritable(spec, columns[t])
    ]
    if problems:
        raise ReleaseError("values a CSV cell cannot hold unchanged:\n  " + "\n  ".join(problems))
    return Selected(
        schema=schema,
        selection=selection,
        counts={t: len(rows[t]) for t in schema.tables},
        drafts=selection.drafts,
        formula_cells=[
            c for t, spec in schema.tables.items() for c in columns_formula_cells(spec, columns[t])
        ],
        columns=columns,
    )


def render(target: Target, chosen: Selected, build: Path) -> Rendered:
    """The manifest of the selected rows, after the version rules are met against the
    releases before (and the build of the last one in build/, when at hand)."""
    schema, selection = chosen.schema, chosen.selection
    name, version, created = target.name, target.version, target.created
    new = manifest(name, version, created, schema, selection.rows, selection.drafts)
    changes = _check_versions(
        version,
        new,
        target.earlier,
        target.manifests.get(version),
        list(schema.model.record_tables),
        build,
    )
    return Rendered(
        schema=schema,
        selection=selection,
        manifest=new,
        changes=changes,
        counts=chosen.counts,
        drafts=chosen.drafts,
        formula_cells=chosen.formula_cells,
    )


def write_tables(
    target: Target,
    chosen: Selected,
    out: AsideFolder,
    progress: Progress,
    parquet_written: Callable[[], None] = lambda: None,
) -> None:
    """The tables, CSV and Parquet, and their descriptors: all that frictionless, the
    Parquet-against-CSV comparison and the workbook read, so they are written first. The
    Parquet copies come first, then parquet_written is called: the workbook reads only
    those, so its process starts on the second core while the CSVs are written."""
    schema, rows = chosen.schema, chosen.selection.rows
    sources = rows[SOURCE_TABLE]
    base, version, created = target.base, target.version, target.created
    parquet_res = []
    for table, spec in schema.tables.items():
        # Each table's values taken once, a column at a time, for both copies: by selected.
        pdata = columns_parquet_bytes(spec, chosen.columns[table])
        out.add(f"parquet/{table}.parquet", pdata)
        parquet_res.append(resource(table, f"{table}.parquet", pdata, "parquet", spec, schema))
        del pdata
    out.add(
        "parquet/datapackage.json",
        json_bytes(descriptor(base, version, created, sources, parquet_res)),
    )
    let_go_of_tables()
    parquet_written()
    csv_res = []
    for table, spec in schema.tables.items():
        data = columns_csv_bytes(spec, chosen.columns.pop(table))
        out.add(f"data/{table}.csv", data)
        csv_res.append(resource(table, f"data/{table}.csv", data, "csv", spec, schema))
        del data
        progress(f"{table}: {len(rows[table])} rows")
    out.add("datapackage.json", json_bytes(descriptor(base, version, created, sources, csv_res)))


def write_files(
    target: Target,
    rendered: Rendered,
    out: AsideFolder,
    workbook: WorkbookAside,
    progress: Progress = _quiet,
) -> None:
    """Every file of the package but the tables (write_tables wrote them) and SHA256SUMS,
    each written into out as soon as it is made; the workbook's process has been sent the
    tables. Leaves only the record hashes in rendered.manifest."""
    schema, selection = rendered.schema, rendered.selection
    rows = selection.rows
    name, version, created = target.name, target.version, target.created
    # The full manifest first, written as it is encoded; then only its record hashes are
    # kept (all that compact and the changes read of it later), so neither its text nor
    # its field hashes sit in memory while the site and the SQLite copy are made.
    out.add_blocks("manifest.json", manifest_blocks(rendered.manifest))
    rendered.manifest = field_hashes_dropped(rendered.manifest)
    rendered.changes.new_manifest = rendered.manifest
    try:
        for sid, text in selection.full_texts.items():
            out.add(f"texts/{sid}.txt", text.encode("utf-8"))
        codebook_md = codebook(schema, name, version)
        changes_md = changes_markdown(rendered.changes)
        out.add("CODEBOOK.md", codebook_md.encode("utf-8"))
        out.add(
            "COVERAGE.md", coverage_markdown(rows[COVERAGE_TABLE], name, version).encode("utf-8")
        )
        out.add("CHANGES.md", changes_md.encode("utf-8"))
        out.add("changes.json", json_bytes(rendered.changes.to_dict()))
        # The SQLite copy before the site: the zip's process deflates this large file while
        # the site is rendered, rather than after the last page, with the build waiting.
        out.add_made(
            f"{name}-{version}.sqlite",
            lambda path, scratch: write_sqlite(schema.tables, rows, path, scratch),
        )
        for rel, body in site_files(
            name, version, created, rows, selection.full_texts, codebook_md, changes_md
        ):
            out.add(rel, body)
        progress("the evidence browser (site/) and the SQLite copy")
        # The workbook's process has read the Parquet tables while the site was rendered.
        try:
            sheet = workbook.result()
        except OSError as err:  # its temporary files (a full disk, a file-size limit)
            where = Path(err.filename) if err.filename else Path(tempfile.gettempdir())
            raise _fault(
                "write the spreadsheet copy's temporary file", where, err, where.parent
            ) from err
        out.add(f"{name}-{version}.xlsx", sheet.data)
        rendered.spreadsheet_notes = sheet.notes
        if workbook.here:
            progress(_done_here("the spreadsheet (xlsx) writer", "wrote the workbook"))
        progress("the spreadsheet copy")
    finally:
        workbook.stop()


def site_files(
    name: str,
    version: str,
    created: str,
    rows: dict[str, list[Row]],
    full_texts: dict[str, str],
    codebook_md: str,
    changes_md: str,
) -> Iterator[tuple[str, bytes]]:
    """site/...: only what the release publishes, one file at a time."""
    data = SiteInput(
        name=name,
        version=version,
        created=created,
        rows=rows,
        full_texts=full_texts,
        codebook_md=codebook_md,
        changes_md=changes_md,
    )
    for path, body in render_site(data):  # one page at a time: the site never sits whole
        yield f"site/{path}", body


def _zip_into(target: Target, folder: Path, digests: Mapping[str, str], path: Path) -> None:
    """The release zip, every file under one <name>-<version>/ folder, streamed from the files
    of folder into the new file path; each is checked against its digest as it is read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    with os.fdopen(fd, "wb") as sink:
        zip_folder(folder, digests, f"{target.name}-{target.version}", target.when, sink, digests)


class _Zipping:
    """The zip written from the finished folder in a thread, when the zip's own process
    (zip_stream.py) could not make it: deflate and SHA-256 let go of the interpreter's lock."""

    def __init__(
        self, target: Target, folder: Path, digests: Mapping[str, str], path: Path
    ) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                _zip_into(target, folder, digests, path)
            except BaseException as err:  # handed to the thread that waits for it
                self.error = err

        self.thread = threading.Thread(target=run, name="release-zip", daemon=True)
        self.thread.start()

    def wait(self) -> None:
        self.thread.join()
        if isinstance(self.error, ChangedOnDisk):
            raise _changed_on_disk(self.error)
        if self.error is not None:
            raise self.error


def _changed_on_disk(err: ChangedOnDisk) -> ReleaseError:
    return ReleaseError(
        f"{err.args[0]} changed on disk while the release was being written "
        "(it no longer matches its checksum); run the release again"
    )


def _confined(base: Path, rel: str) -> Path:
    """base / rel, refused unless it stays below base: names in a build come from the
    repository (a package name, ids), and none of them may write outside build/."""
    if safe_relative(rel) is None:
        raise ReleaseError(f"refusing to write {rel!r}: the path would leave {base}")
    path = base / rel
    if not path.resolve().is_relative_to(base.resolve()):
        raise ReleaseError(f"refusing to write {rel!r}: it resolves outside {base}")
    return path


def _fault(action: str, path: Path, err: OSError, root: Path) -> ReleaseError:
    """A file-system fault as a release error that names the file, the reason and what to do."""
    try:
        where = path.relative_to(root).as_posix()
    except ValueError:
        where = str(path)
    advice = {
        errno.ENOSPC: "free disk space",
        errno.EDQUOT: "free disk space (the disk quota is full)",
        errno.EFBIG: "raise the file-size limit (ulimit -f)",
        errno.EACCES: "make it writable",
        errno.EPERM: "make it writable",
        errno.EROFS: "build on a writable file system",
        errno.ENOTDIR: "remove or rename the file that stands where a folder must be",
        errno.EEXIST: "remove or rename the file that stands where a folder must be",
    }.get(err.errno or 0, "fix the cause")
    return ReleaseError(
        f"cannot {action} {where}: {err.strerror or err}; {advice} and run the release again. "
        "Nothing was changed: the repository and earlier builds are as they were."
    )


class _VersionLock:
    """One build of a version at a time: an flock on build/.<version>.lock, which the kernel
    releases when its holder ends, however it ends (so a lock is never stale). The file
    names the holder, so a second build can say who it waits for; the holder removes it
    when done, so a finished build leaves nothing behind."""

    def __init__(self, build: Path, version: str) -> None:
        self.path = build / f".{version}.lock"
        self.fd = -1

    def __enter__(self) -> _VersionLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                raise ReleaseError(
                    f"another build of this version is running ({printable(holder) or 'holder unknown'}); "
                    f"wait until it ends (it holds {self.path.name} in build/)"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder before us removed the file we locked: lock the new one
        self.fd = fd
        started = dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)
        holder = f"process {os.getpid()} on {socket.gethostname()}, since {started}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode("utf-8"), 0)
        return self

    def __exit__(self, *_: object) -> None:
        try:
            os.unlink(self.path)  # while still holding the lock: see the check in __enter__
        finally:
            os.close(self.fd)


def _done_here(step: str, did: str) -> str:
    """What the build says when it did a child's work itself: the release is the same, but a
    maintainer who sees a build slower than usual, or the child's own words on stderr above,
    learns why."""
    return (
        f"{step} gave no usable answer (it could not start, failed, or answered with something"
        f" that is not an answer); the build {did} itself"
    )


def _remove_stale(build: Path, target: Target, progress: Progress) -> None:
    """Remove what a build of this version killed before it ended left aside: hidden
    .<version>-* folders and zips, and half-written .<name>-<version>.zip.*.tmp files. Only
    called under the version's lock, so no running build owns them."""
    prefixes = (f".{target.version}-", f".{target.name}-{target.version}.zip.")
    folder = build / target.version
    for entry in sorted(build.iterdir()):
        if not entry.name.startswith(prefixes):
            continue
        # An earlier build moved aside by a build killed before its own took its place:
        # put it back rather than lose it; the build that follows replaces it properly.
        moved_aside = entry.name.startswith(f".{target.version}-old-") and entry.is_dir()
        if moved_aside and not os.path.lexists(folder):
            entry.rename(folder)
            progress(f"put back {target.version}/, moved aside by an interrupted build")
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        progress(f"removed {entry.name}, left in build/ by an interrupted build")


def write(
    repository: Repository,
    target: Target,
    chosen: Selected,
    settle: Callable[[], Rendered],
    progress: Progress = _quiet,
) -> tuple[BuildResult, Rendered]:
    """Write build/<version>/ and its zip aside, check them, rename them into place; or, when
    the same content is there already, check that and put back a zip that went missing.
    settle applies the version rules (a ReleaseError when they are not met); it is called
    once the tables are written, so that their checks run beside it. Under a lock per
    version; every file-system fault is a ReleaseError naming the file."""
    root = repository.root
    build_dir = _confined(root, "build")
    folder = _confined(build_dir, target.version)
    archive = _confined(build_dir, f"{target.name}-{target.version}.zip")
    # The version rules are worked out once the tables are written: a release they refuse
    # leaves no build/ it made, as when they were worked out before anything was written.
    made = not os.path.lexists(build_dir)
    refused = False

    def settle_here() -> Rendered:
        nonlocal refused
        try:
            return settle()
        except ReleaseError:
            refused = True
            raise

    try:
        build_dir.mkdir(exist_ok=True)
    except OSError as err:
        raise _fault("create the folder", build_dir, err, root) from err
    if not build_dir.is_dir() or build_dir.is_symlink():
        raise ReleaseError(
            "build is not a folder; remove or rename the file build and run the release again"
        )
    try:
        lock = _VersionLock(build_dir, target.version)
        with lock:
            _remove_stale(build_dir, target, progress)
            return _write_locked(repository, target, chosen, settle_here, folder, archive, progress)
    except OSError as err:
        raise _fault("write", Path(err.filename or build_dir), err, root) from err
    finally:
        if refused and made:
            with contextlib.suppress(OSError):
                build_dir.rmdir()  # only when empty


def _write_locked(
    repository: Repository,
    target: Target,
    chosen: Selected,
    settle: Callable[[], Rendered],
    folder: Path,
    archive: Path,
    progress: Progress,
) -> tuple[BuildResult, Rendered]:
    result = BuildResult(
        name=target.name,
        version=target.version,
        created=target.created,
        created_from=target.created_from,
        folder=folder,
        archive=archive,
        status="built",
        counts=chosen.counts,
        drafts=chosen.drafts,
        formula_cells=chosen.formula_cells,
    )
    for path in (folder, archive):
        if path.is_symlink():
            raise ReleaseError(
                f"{repository.rel(path)} is a symbolic link; a build never writes through one. "
                "Remove it and run the release again"
            )
    folder.parent.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f".{target.version}-", dir=folder.parent))
    # Named after the whole folder name: with_suffix would cut ".1.2.0-xyz" to ".1.2.zip",
    # the same file for builds of 1.2.0 and 1.2.1 running at once (each version has its own
    # lock). As it is, _remove_stale of this version also finds it and its ".part".
    zip_aside = aside.parent / f"{aside.name}.zip"
    # The zip is made in a process of its own as each file is written (zip_stream.py).
    streaming = StreamedZip(aside, f"{target.name}-{target.version}", target.when, zip_aside)
    out = AsideFolder(aside, streaming.add)
    checking = TablesCheck()
    workbook = WorkbookAside(chosen.schema, chosen.selection.rows, target.when)
    # No wait on a child is for ever: one killed, stopped or stuck stops the build.
    watch = Watch([streaming.proc, checking.proc, workbook.proc])
    streaming.watch = watch
    try:
        aside.chmod(0o755)  # mkdtemp makes it private; a release is for everyone to read
        try:
            # frictionless, the Parquet-against-CSV comparison and the workbook read only the
            # tables and their descriptors: their processes work on the second core while
            # this one works out the manifest and the version rules and writes the rest. The
            # workbook needs only the Parquet copies: it starts while the CSVs are written.
            write_tables(target, chosen, out, progress, lambda: workbook.start(out.folder))
            progress("validating with frictionless")
            checking.start(aside)
            rendered = settle()
            result.changes = rendered.changes
            write_files(target, rendered, out, workbook, progress)
        except UnsafeName as err:
            raise ReleaseError(
                f"refusing to write {err.args[0]!r}: the path would leave {aside}"
            ) from err
        sums = out.add_sums()
        result.files = len(out.known)
        result.spreadsheet_notes = rendered.spreadsheet_notes
        if os.path.lexists(folder):
            try:
                old_sums = (folder / SUMS).read_bytes()
            except OSError:
                old_sums = b""
            if old_sums == sums:
                unchanged = _unchanged(repository, target, folder, archive, out, result, progress)
                return unchanged, rendered
            # Another build of this version, from other records or drafts: only a local copy,
            # since what is published is what releases/ records (render refused other content
            # for a recorded version). Replace it, so that no build ever blocks a later one.
            progress(
                f"replacing {repository.rel(folder)}/: it holds another build of {target.version}"
            )
            result.status = "replaced"
        streaming.finish()  # it puts the zip together while the package is checked
        damaged = verify(aside, out.known, tables=False)
        problems, unlike = checking.result()
        if checking.here:
            progress(_done_here("the tables check (frictionless)", "checked the tables"))
        damaged = damaged or unlike  # as verify: tables of damaged files are not compared
        if problems:
            raise ReleaseError("frictionless rejects the package:\n  " + "\n  ".join(problems))
        if damaged:
            raise ReleaseError("the built package fails its own checks", damaged)
        try:
            zipped = streaming.result()
        except ChangedOnDisk as err:
            raise _changed_on_disk(err) from err
        if not zipped:  # its process could not start or failed: zip the folder here
            progress(_done_here("the zip writer", "zips the folder"))
            streaming.stop()
            zip_aside.unlink(missing_ok=True)
            zipping = _Zipping(target, aside, out.digests, zip_aside)
            zipping.wait()
        if folder.exists():  # a folder cannot be renamed over another: move the old one aside
            old = Path(tempfile.mkdtemp(prefix=f".{target.version}-old-", dir=folder.parent))
            folder.rename(old / "build")
            aside.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            aside.rename(folder)
        zip_aside.replace(archive)
    finally:
        watch.close()
        workbook.stop()
        checking.stop()
        streaming.stop()
        if "zipping" in locals():
            zipping.thread.join()
        shutil.rmtree(aside, ignore_errors=True)
        zip_aside.unlink(missing_ok=True)
    progress(f"wrote {repository.rel(folder)}/ and {repository.rel(archive)}")
    return result, rendered


def _unchanged(
    repository: Repository,
    target: Target,
    folder: Path,
    archive: Path,
    out: AsideFolder,
    result: BuildResult,
    progress: Progress,
) -> BuildResult:
    """build/<version>/ holds these very files by their checksums: check them (they may have
    been touched since) rather than repeat the old success, and put back a zip that is
    missing or does not hold exactly those files (a build killed after renaming its folder
    into place, before replacing the zip, leaves the zip of an earlier build)."""
    result.status = "unchanged"
    damaged = verify(folder)
    if damaged:
        raise ReleaseError(
            f"{repository.rel(folder)} should hold this very build but its files fail "
            f"their checks (they were changed after the build); remove "
            f"{repository.rel(folder)} and build again",
            damaged,
        )
    if archive.is_dir() and not archive.is_symlink():
        raise ReleaseError(
            f"{repository.rel(archive)} is a folder, where the zip of "
            f"{repository.rel(folder)}/ belongs; remove or rename it and build again"
        )
    missing = not os.path.lexists(archive)
    if missing or not zip_holds(archive, f"{target.name}-{target.version}", out.known):
        tmp = archive.parent / f".{archive.name}.tmp"  # under the lock: no other build owns it
        tmp.unlink(missing_ok=True)
        try:
            _zip_into(target, folder, out.digests, tmp)
            tmp.replace(archive)
        finally:
            tmp.unlink(missing_ok=True)
        if missing:
            progress(f"wrote the missing {repository.rel(archive)}")
        else:
            progress(
                f"wrote {repository.rel(archive)} afresh: it did not hold the files of "
                f"{repository.rel(folder)}/"
            )
    progress(f"nothing changed: {repository.rel(folder)}/ already holds this build")
    return result


# Without git to say which files were deleted on purpose, a release may drop at most this
# share of the records of the one before it.
MAX_UNEXPLAINED_REMOVALS = 0.10


def _tracked_ids(repository: Repository) -> dict[str, set[str]] | None:
    """The ids whose record files git tracks (in the index), by table; None outside git."""
    try:
        done = git(repository.root, "ls-files", "-z", "--", *(lay.folder for lay in LAYOUTS))
    except GitMissing:
        return None
    if done.returncode != 0:
        return None
    ids: dict[str, set[str]] = {lay.table: set() for lay in LAYOUTS}
    for path in done.stdout.split("\0"):
        parts = path.split("/")
        for lay in LAYOUTS:
            if parts[0] != lay.folder or len(parts) < 2:
                continue
            if lay.id_folder and len(parts) == 3 and parts[2] == lay.file:
                ids[lay.table].add(parts[1])
            elif not lay.id_folder and parts[-1].endswith(".yaml"):
                ids[lay.table].add(parts[-1].removesuffix(".yaml"))
    return ids


def check_removals(
    repository: Repository, changes: Changes, read: dict[str, set[str]], previous_records: int
) -> None:
    """Refuse a release that drops records whose files were not deleted in git: a folder the
    walk could not see, or files lost from the disk, must not withdraw ids for ever. Records
    that were read but are not shipped (drafts, sources no shipped event cites) are not lost."""
    removed = {table: set(ids) - read.get(table, set()) for table, ids in changes.removed.items()}
    removed = {table: ids for table, ids in removed.items() if ids}
    if not removed:
        return
    tracked = _tracked_ids(repository)
    if tracked is not None:
        kept = sorted(
            f"{t}: {i}" for t, ids in removed.items() for i in ids & tracked.get(t, set())
        )
        if kept:
            shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
            raise ReleaseError(
                f"{len(kept)} record(s) of the last release would be removed although git "
                f"still tracks their files ({shown}); the files are missing or unreadable. "
                "Restore them (git checkout -- <file>), or withdraw them with git rm"
            )
        return
    count = sum(len(ids) for ids in removed.values())
    if previous_records and count / previous_records > MAX_UNEXPLAINED_REMOVALS:
        raise ReleaseError(
            f"{count} of the {previous_records} records of the last release would be removed, "
            f"more than {MAX_UNEXPLAINED_REMOVALS:.0%}, and without git nothing shows that "
            "their files were deleted on purpose; build from a git checkout"
        )


def build(
    repository: Repository,
    *,
    progress: Progress = _quiet,
    write_manifest: bool = False,
    jobs: int = 1,
    cache: Cache | None = None,
) -> BuildResult:
    """Write build/<version>/ and build/<name>-<version>.zip; with write_manifest, also record
    releases/<version>.json, from which the next release computes its changes. Records are
    read in jobs processes, through cache when given."""
    target = resolve_target(repository)
    dataset = check_records(repository, progress, jobs=jobs, cache=cache)
    # Past the records' checks the build makes rows, pages and tables that live until it
    # ends or die by reference count, none in a cycle: the collector's passes over them
    # (an eighth of the build process's time at 100k events) would free nothing.
    with collector.paused():
        # Which ids were read (against the last release), taken now: selected lets the records
        # go as it copies their rows.
        read: dict[str, set[str]] = {}
        for record in dataset.records if target.earlier else ():
            if record.id is not None:
                read.setdefault(record.table, set()).add(record.id)
        chosen = selected(dataset, consume=True)
        # The parsed records are not needed past here (the rows that ship are copies of theirs,
        # held by chosen): let them go before the files are written.
        del dataset

        def settle() -> Rendered:
            rendered = render(target, chosen, repository.root / "build")
            earlier = target.earlier
            if earlier:
                previous = sum(len(ids) for ids in earlier[-1]["records"].values())
                check_removals(repository, rendered.changes, read, previous)
            read.clear()
            return rendered

        try:
            result, rendered = write(repository, target, chosen, settle, progress)
        except sqlite3.Error as err:
            # SQLite writes the release's database without saying why it failed ("disk I/O
            # error"): a full disk or a file-size limit there is a fault, not a traceback.
            raise ReleaseError(
                f"cannot write the SQLite copy of the release in {repository.rel(repository.root / 'build')}/: "
                f"{err}; free disk space or raise the file-size limit (ulimit -f) and run the "
                "release again. Nothing was changed."
            ) from err
        result.recorded = target.version in target.manifests
        if write_manifest:
            path = repository.root / "releases" / f"{target.version}.json"
            try:
                path.parent.mkdir(exist_ok=True)
                if not path.exists():
                    write_atomically(
                        path, compact_bytes(rendered.manifest, rendered.changes.to_dict())
                    )
            except OSError as err:
                raise ReleaseError(
                    f"{repository.rel(result.folder)}/ is built and checked, but "
                    f"releases/{target.version}.json cannot be written: {err.strerror or err}; "
                    "make releases/ writable and run the release again (it reuses the build)"
                ) from err
            result.manifest_path = path
        return result
