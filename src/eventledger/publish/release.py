"""Build a release: check, select verified records, render every file, write them aside,
validate them with frictionless and our own checks, then rename them into place and zip them.

The steps read as the release rules: resolve_target (which version, built at what time,
after which releases), check_records (nothing with an error ships), render (the bytes of
every file, and the version rules against the releases before), write (aside, checked,
renamed: a failed build leaves nothing). Builds are deterministic: every byte depends only
on the repository's files and `created`, which is the commit time of HEAD (UTC), the time
a published version was released with, or SOURCE_DATE_EPOCH outside git.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventledger.atomic import write_atomically
from eventledger.check.checker import load_dataset
from eventledger.check.metadata import check_package_metadata
from eventledger.git import GitMissing, git
from eventledger.issues import IssuesError
from eventledger.model.codebook import codebook
from eventledger.model.kinds import SOURCE_TABLE
from eventledger.model.schema import Schema
from eventledger.publish.archive import write_zip
from eventledger.publish.cells import csv_bytes, formula_cells, unwritable
from eventledger.publish.coverage_doc import coverage_markdown
from eventledger.publish.descriptor import descriptor, json_bytes, read_base, resource, sha256
from eventledger.publish.manifest import (
    LEVELS,
    Changes,
    ManifestError,
    bump,
    changes_markdown,
    compare,
    manifest,
    manifest_bytes,
    ordered,
    parse_version,
    read_manifests,
    retired_ids,
    same_content,
)
from eventledger.publish.parquet import parquet_bytes
from eventledger.publish.select import COVERAGE_TABLE, Row, select
from eventledger.publish.site import SiteInput, render_site
from eventledger.publish.site.sqlite import sqlite_bytes
from eventledger.publish.spreadsheet import spreadsheet_aside
from eventledger.publish.verify import SUMS, verify
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
        key = parse_version(self.version)
        return ordered({v: m for v, m in self.manifests.items() if parse_version(v) < key})


@dataclass
class Rendered:
    """Every file of the package as bytes, and what the summary says about them."""

    files: dict[str, bytes]
    manifest: dict[str, Any]
    changes: Changes
    counts: dict[str, int]
    drafts: list[str]
    formula_cells: list[str]
    spreadsheet_notes: list[str] = field(default_factory=list)  # tables split over sheets


@dataclass
class BuildResult:
    name: str
    version: str
    created: str
    created_from: str
    folder: Path
    archive: Path
    status: str  # "built", or "unchanged" when the same content was already built
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


def commit_time(root: Path) -> dt.datetime:
    """When HEAD was committed (UTC); SOURCE_DATE_EPOCH outside git; otherwise refuse."""
    try:
        done = git(root, "log", "-1", "--format=%cI")
    except GitMissing:
        done = None
    out = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    if out:
        return dt.datetime.fromisoformat(out).astimezone(dt.UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
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
        created = commit_time(root).strftime(TIME_FORMAT)
        created_from = "commit time of HEAD"
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
    dataset = load_dataset(repository, jobs=jobs, cache=cache)
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
) -> Changes:
    if current is not None and not same_content(current, new):
        raise ReleaseError(
            f"version {version} was already released (releases/{version}.json) with different "
            "records; a published version is never changed. Raise the version in "
            "datapackage.json (see CONTRIBUTING.md, Versions)."
        )
    previous = earlier[-1] if earlier else None
    changes = compare(previous, new, order)
    if previous is None:
        return changes
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


def render(target: Target, dataset: Dataset, progress: Progress = _quiet) -> Rendered:
    """The bytes of every file of the package, after the version rules are met."""
    schema = dataset.schema
    selection = select(dataset)
    rows = selection.rows
    problems = [p for t, spec in schema.tables.items() for p in unwritable(spec, rows[t])]
    if problems:
        raise ReleaseError("values a CSV cell cannot hold unchanged:\n  " + "\n  ".join(problems))
    name, version, created = target.name, target.version, target.created
    new = manifest(name, version, created, schema, rows, selection.drafts)
    changes = _check_versions(
        version,
        new,
        target.earlier,
        target.manifests.get(version),
        list(schema.model.record_tables),
    )
    workbook = spreadsheet_aside(schema, rows, target.when)
    files: dict[str, bytes] = {}
    csv_res, parquet_res = [], []
    for table, spec in schema.tables.items():
        data = csv_bytes(spec, rows[table])
        files[f"data/{table}.csv"] = data
        csv_res.append(resource(table, f"data/{table}.csv", data, "csv", spec, schema))
        pdata = parquet_bytes(spec, rows[table])
        files[f"parquet/{table}.parquet"] = pdata
        parquet_res.append(resource(table, f"{table}.parquet", pdata, "parquet", spec, schema))
        progress(f"wrote {table}: {len(rows[table])} rows")
    sources = rows[SOURCE_TABLE]
    files["datapackage.json"] = json_bytes(
        descriptor(target.base, version, created, sources, csv_res)
    )
    files["parquet/datapackage.json"] = json_bytes(
        descriptor(target.base, version, created, sources, parquet_res)
    )
    for sid, text in selection.full_texts.items():
        files[f"texts/{sid}.txt"] = text.encode("utf-8")
    files["CODEBOOK.md"] = codebook(schema, name, version).encode("utf-8")
    files["COVERAGE.md"] = coverage_markdown(rows[COVERAGE_TABLE], name, version).encode("utf-8")
    files["CHANGES.md"] = changes_markdown(changes).encode("utf-8")
    files["changes.json"] = json_bytes(changes.to_dict())
    files["manifest.json"] = manifest_bytes(new)
    sheet = workbook()
    files[f"{name}-{version}.xlsx"] = sheet.data
    progress("wrote the spreadsheet copy")
    files |= site_files(
        name,
        version,
        created,
        schema,
        selection.rows,
        selection.full_texts,
        files["CODEBOOK.md"].decode("utf-8"),
        files["CHANGES.md"].decode("utf-8"),
    )
    progress("wrote the evidence browser (site/) and the SQLite copy")
    files[SUMS] = "".join(f"{sha256(files[p])}  {p}\n" for p in sorted(files)).encode("utf-8")
    return Rendered(
        files=files,
        manifest=new,
        changes=changes,
        counts={t: len(rows[t]) for t in schema.tables},
        drafts=selection.drafts,
        formula_cells=[
            c for t, spec in schema.tables.items() for c in formula_cells(spec, rows[t])
        ],
        spreadsheet_notes=sheet.notes,
    )


def site_files(
    name: str,
    version: str,
    created: str,
    schema: Schema,
    rows: dict[str, list[Row]],
    full_texts: dict[str, str],
    codebook_md: str,
    changes_md: str,
) -> dict[str, bytes]:
    """site/... and <name>-<version>.sqlite: only what the release publishes."""
    data = SiteInput(
        name=name,
        version=version,
        created=created,
        rows=rows,
        full_texts=full_texts,
        codebook_md=codebook_md,
        changes_md=changes_md,
    )
    files = {f"site/{path}": body for path, body in render_site(data).items()}
    files[f"{name}-{version}.sqlite"] = sqlite_bytes(schema.tables, rows)
    return files


def _frictionless(folder: Path) -> list[str]:
    from frictionless import validate

    report = validate(folder / "datapackage.json")
    if report.valid:
        return []
    return [
        f"{task.name}: {err.type}: {err.message}" for task in report.tasks for err in task.errors
    ] + [f"{err.type}: {err.message}" for err in report.errors]


def _zip(target: Target, files: dict[str, bytes]) -> bytes:
    """The release zip: every file under one <name>-<version>/ folder."""
    prefix = f"{target.name}-{target.version}"
    return write_zip([(f"{prefix}/{p}", d) for p, d in files.items()], target.when)


def write(
    repository: Repository, target: Target, rendered: Rendered, progress: Progress = _quiet
) -> BuildResult:
    """Write build/<version>/ and its zip aside, check them, rename them into place; or, when
    the same content is there already, check that and put back a zip that went missing."""
    folder = repository.root / "build" / target.version
    archive = repository.root / "build" / f"{target.name}-{target.version}.zip"
    result = BuildResult(
        name=target.name,
        version=target.version,
        created=target.created,
        created_from=target.created_from,
        folder=folder,
        archive=archive,
        status="built",
        counts=rendered.counts,
        drafts=rendered.drafts,
        formula_cells=rendered.formula_cells,
        spreadsheet_notes=rendered.spreadsheet_notes,
        changes=rendered.changes,
        files=len(rendered.files),
    )
    files = rendered.files
    if folder.exists():
        try:
            old = (folder / "manifest.json").read_bytes()
        except OSError:
            old = b""
        if not (old and same_content(_json(old), rendered.manifest)):
            raise ReleaseError(
                f"{repository.rel(folder)} already exists with different content; a built "
                "version is never overwritten. Raise the version in datapackage.json, or "
                f"remove {repository.rel(folder)} if it was never published."
            )
        result.status = "unchanged"
        # Same records, but the files on disk may have been touched since: check them
        # rather than repeat the old success, and put back a zip that went missing.
        damaged = verify(folder)
        if damaged:
            raise ReleaseError(
                f"{repository.rel(folder)} holds the same records but its files fail their "
                f"checks (it was changed after it was built); remove {repository.rel(folder)} "
                "and build again",
                damaged,
            )
        if not archive.exists():
            write_atomically(archive, _zip(target, files))
            progress(f"wrote the missing {repository.rel(archive)}")
        return result
    folder.parent.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f".{target.version}-", dir=folder.parent))
    aside.chmod(0o755)  # mkdtemp makes it private; a release is for everyone to read
    zip_aside = aside.with_suffix(".zip")
    try:
        for rel, data in files.items():
            path = aside / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        progress("validating with frictionless")
        problems = _frictionless(aside)
        if problems:
            raise ReleaseError("frictionless rejects the package:\n  " + "\n  ".join(problems))
        damaged = verify(aside)
        if damaged:
            raise ReleaseError("the built package fails its own checks", damaged)
        zip_aside.write_bytes(_zip(target, files))
        aside.rename(folder)
        zip_aside.replace(archive)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
        zip_aside.unlink(missing_ok=True)
    progress(f"wrote {repository.rel(folder)}/ and {repository.rel(archive)}")
    return result


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
    rendered = render(target, dataset, progress)
    result = write(repository, target, rendered, progress)
    if write_manifest:
        path = repository.root / "releases" / f"{target.version}.json"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            write_atomically(path, manifest_bytes(rendered.manifest))
        result.manifest_path = path
    return result


def _json(data: bytes) -> dict[str, Any]:
    import json

    out: dict[str, Any] = json.loads(data)
    return out
