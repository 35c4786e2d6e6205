"""Build a release: check, select verified records, write build/<version>/ aside, validate it
with frictionless and our own checks, then rename it into place and zip it.

Builds are deterministic: every byte depends only on the repository's files and `created`,
which is the commit time of HEAD (UTC), or SOURCE_DATE_EPOCH outside git.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventledger.atomic import write_atomically
from eventledger.check.checker import check_package_metadata, load_dataset
from eventledger.git import GitMissing, git
from eventledger.issues import Issue
from eventledger.model.codebook import codebook
from eventledger.publish.archive import write_zip
from eventledger.publish.cells import csv_bytes, formula_cells, unwritable
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
from eventledger.publish.select import select
from eventledger.publish.spreadsheet import workbook_bytes
from eventledger.publish.verify import SUMS, verify
from eventledger.read.repository import Repository

Progress = Callable[[str], None]


class ReleaseError(Exception):
    """The release cannot be built; nothing was written. issues holds the data problems, if any."""

    def __init__(self, message: str, issues: list[Issue] | None = None, checked: int = 0) -> None:
        super().__init__(message)
        self.issues = issues or []
        self.checked = checked  # how many records (or files) were checked to find the issues


@dataclass
class Result:
    name: str
    version: str
    created: str
    folder: Path
    archive: Path
    status: str  # "built", or "unchanged" when the same content was already built
    counts: dict[str, int] = field(default_factory=dict)
    drafts: list[str] = field(default_factory=list)
    formula_cells: list[str] = field(default_factory=list)
    changes: Changes | None = None
    files: int = 0
    manifest_path: Path | None = None
    created_from: str = "commit time of HEAD"

    def to_dict(self, root: Path) -> dict[str, Any]:
        def rel(p: Path) -> str:
            return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)

        return {
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "status": self.status,
            "folder": rel(self.folder),
            "archive": rel(self.archive),
            "rows": self.counts,
            "drafts_withheld": self.drafts,
            "formula_like_cells": self.formula_cells,
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


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _quiet(_: str) -> None:
    return None


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


def _files(
    repository: Repository, progress: Progress
) -> tuple[Result, dict[str, bytes], dict[str, Any]]:
    root = repository.root
    broken = check_package_metadata(repository)
    if broken:
        raise ReleaseError("datapackage.json cannot name the release; fix it first", broken)
    base = read_base(root)
    name, version = str(base.get("name", "")), str(base.get("version", ""))
    try:
        parse_version(version)
    except ManifestError as err:
        raise ReleaseError(f"datapackage.json: {err}") from err
    try:
        manifests = read_manifests(root / "releases")
        key = parse_version(version)
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
        when = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        created_from = f"as published in releases/{version}.json"
    else:
        when = commit_time(root)
        created = _iso(when)
        created_from = "commit time of HEAD"
    progress("checking records")
    dataset = load_dataset(repository)
    errors = dataset.issues.errors
    if errors:
        raise ReleaseError(
            f"{len(errors)} error(s) in the records; fix them (make validate) before releasing",
            sorted(set(errors)),
            checked=len(dataset.records),
        )
    progress(f"checked {len(dataset.records)} records")
    schema = dataset.schema
    selection = select(dataset)
    rows = selection.rows
    problems = [p for t, spec in schema.tables.items() for p in unwritable(spec, rows[t])]
    if problems:
        raise ReleaseError("values a CSV cell cannot hold unchanged:\n  " + "\n  ".join(problems))
    earlier = ordered({v: m for v, m in manifests.items() if parse_version(v) < key})
    new = manifest(name, version, created, schema, rows, selection.drafts)
    changes = _check_versions(
        version, new, earlier, manifests.get(version), list(schema.model.record_tables)
    )

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
    files["datapackage.json"] = json_bytes(
        descriptor(base, version, created, rows["sources"], csv_res)
    )
    files["parquet/datapackage.json"] = json_bytes(
        descriptor(base, version, created, rows["sources"], parquet_res)
    )
    for sid, text in selection.full_texts.items():
        files[f"texts/{sid}.txt"] = text.encode("utf-8")
    files["CODEBOOK.md"] = codebook(schema, name, version).encode("utf-8")
    files["CHANGES.md"] = changes_markdown(changes).encode("utf-8")
    files["changes.json"] = json_bytes(changes.to_dict())
    files["manifest.json"] = manifest_bytes(new)
    files[f"{name}-{version}.xlsx"] = workbook_bytes(schema, rows, when)
    progress("wrote the spreadsheet copy")
    files[SUMS] = "".join(f"{sha256(files[p])}  {p}\n" for p in sorted(files)).encode("utf-8")
    result = Result(
        name=name,
        version=version,
        created=created,
        folder=root / "build" / version,
        archive=root / "build" / f"{name}-{version}.zip",
        status="built",
        counts={t: len(rows[t]) for t in schema.tables},
        drafts=selection.drafts,
        formula_cells=[
            c for t, spec in schema.tables.items() for c in formula_cells(spec, rows[t])
        ],
        changes=changes,
        files=len(files),
        created_from=created_from,
    )
    return result, files, new


def _frictionless(folder: Path) -> list[str]:
    from frictionless import validate

    report = validate(folder / "datapackage.json")
    if report.valid:
        return []
    return [
        f"{task.name}: {err.type}: {err.message}" for task in report.tasks for err in task.errors
    ] + [f"{err.type}: {err.message}" for err in report.errors]


def build(repository: Repository, *, progress: Progress = _quiet, record: bool = False) -> Result:
    """Write build/<version>/ and build/<name>-<version>.zip; with record, also releases/<version>.json."""
    result, files, new = _files(repository, progress)
    target, archive = result.folder, result.archive
    if target.exists():
        try:
            old = (target / "manifest.json").read_bytes()
        except OSError:
            old = b""
        if old and same_content(_json(old), new):
            result.status = "unchanged"
            # Same records, but the files on disk may have been touched since: check them
            # rather than repeat the old success, and put back a zip that went missing.
            damaged = verify(target)
            if damaged:
                raise ReleaseError(
                    f"{repository.rel(target)} holds the same records but its files fail their "
                    f"checks (it was changed after it was built); remove {repository.rel(target)} "
                    "and build again",
                    damaged,
                )
            if not archive.exists():
                prefix = f"{result.name}-{result.version}"
                aside_zip = archive.with_name(f".{archive.name}.tmp")
                aside_zip.write_bytes(
                    write_zip(
                        [(f"{prefix}/{p}", d) for p, d in files.items()], commit_time_of(result)
                    )
                )
                aside_zip.replace(archive)
                progress(f"wrote the missing {repository.rel(archive)}")
        else:
            raise ReleaseError(
                f"{repository.rel(target)} already exists with different content; a built "
                "version is never overwritten. Raise the version in datapackage.json, or "
                f"remove {repository.rel(target)} if it was never published."
            )
    if result.status == "built":
        target.parent.mkdir(parents=True, exist_ok=True)
        aside = Path(tempfile.mkdtemp(prefix=f".{result.version}-", dir=target.parent))
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
            prefix = f"{result.name}-{result.version}"
            zip_aside.write_bytes(
                write_zip([(f"{prefix}/{p}", d) for p, d in files.items()], commit_time_of(result))
            )
            aside.rename(target)
            zip_aside.replace(archive)
        finally:
            shutil.rmtree(aside, ignore_errors=True)
            zip_aside.unlink(missing_ok=True)
        progress(f"wrote {repository.rel(target)}/ and {repository.rel(archive)}")
    if record:
        path = repository.root / "releases" / f"{result.version}.json"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            write_atomically(path, manifest_bytes(new))
        result.manifest_path = path
    return result


def commit_time_of(result: Result) -> dt.datetime:
    return dt.datetime.strptime(result.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _json(data: bytes) -> dict[str, Any]:
    import json

    out: dict[str, Any] = json.loads(data)
    return out


def summary_text(result: Result, root: Path) -> str:
    """The release summary for people: what was written, what was held back, what to watch."""
    data = result.to_dict(root)
    verb = "unchanged (same content already built)" if result.status == "unchanged" else "built"
    lines = [f"{result.name} {result.version} {verb}: {data['folder']}/ and {data['archive']}"]
    lines.append(f"  created {result.created} ({result.created_from})")
    lines.append("  rows: " + ", ".join(f"{t} {n}" for t, n in result.counts.items()))
    if result.drafts:
        lines.append(f"  drafts withheld ({len(result.drafts)}): {', '.join(result.drafts)}")
    else:
        lines.append("  drafts withheld: none")
    if result.counts.get("events", 0) == 0:
        lines.append("  note: no verified events yet; the package holds empty tables")
    if result.changes is not None:
        c = result.changes
        since = f"since {c.previous} (needs a {c.level} step)" if c.previous else "(first release)"
        added = sum(len(v) for v in c.added.values())
        removed = sum(len(v) for v in c.removed.values())
        changed = sum(len(v) for v in c.changed.values())
        lines.append(f"  changes {since}: {added} added, {removed} removed, {changed} changed")
    if result.formula_cells:
        lines.append(
            f"  {len(result.formula_cells)} cell(s) a spreadsheet would run as a formula "
            f"(the CSV is for programs; open {result.name}-{result.version}.xlsx instead):"
        )
        lines += [f"    {c}" for c in result.formula_cells]
    if result.status == "unchanged":
        lines.append(f"  {result.files} files, re-checked against SHA256SUMS; Parquet equals CSV")
    else:
        lines.append(
            f"  {result.files} files, checksums in SHA256SUMS; frictionless validate: valid"
        )
    if result.manifest_path is not None:
        rel = data["manifest"]
        lines.append(f"  release manifest: {rel} (commit it: git add {rel})")
    return "\n".join(lines)
