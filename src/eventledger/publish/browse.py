"""The reviewer's view of the working tree (`eventledger browse`): the evidence browser built
from every record, drafts marked, with the full text and sentence coverage of every source.

The site package renders plain rows; this module and publish/release.py are the only places
that know where those rows come from (every record here, select() for a release).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from eventledger.check.checker import Dataset, load_dataset
from eventledger.check.coverage import coverage_by_source
from eventledger.model.codebook import codebook
from eventledger.model.terms import VERIFIED
from eventledger.publish.descriptor import read_base
from eventledger.publish.release import ReleaseError, commit_time
from eventledger.publish.select import REVIEW_FIELD, Row, select
from eventledger.publish.site import SiteInput, render_site
from eventledger.publish.site.model import Sentence
from eventledger.read.repository import Repository

BROWSE = "browse"  # build/browse/: the reviewer's view, rebuilt on every run


class BrowseError(Exception):
    """The reviewer's view cannot be built (nothing was replaced)."""


def review_rows(dataset: Dataset) -> tuple[dict[str, list[Row]], set[str]]:
    """Every event with rows, draft or not (drafts named), and every actor and source.

    Records with errors are shown as far as they could be read: a reviewer looks at the
    working tree to fix it, so a broken record must not hide the others.
    """
    schema = dataset.schema
    rows: dict[str, list[Row]] = {name: [] for name in schema.tables}
    drafts: set[str] = set()
    for record in dataset.records:
        if not record.rows:
            continue
        spec = schema.tables[record.table]
        unverified = record.main().get(REVIEW_FIELD) != VERIFIED
        if REVIEW_FIELD in spec.field_names and unverified and record.id:
            drafts.add(record.id)
        for row in record.rows:
            rows[row.table].append(row.values)  # a new dict already
    for name, spec in schema.tables.items():
        full = [{f: row.get(f) for f in spec.field_names} for row in rows[name]]
        rows[name] = [r for r in full if all(isinstance(r[k], str | int) for k in spec.primary_key)]
    return rows, drafts


def review_input(
    dataset: Dataset,
    name: str,
    version: str,
    created: str,
    coverage: dict[str, list[Sentence]] | None = None,
) -> SiteInput:
    """The reviewer's view: drafts marked, the full text of every readable source, coverage."""
    rows, drafts = review_rows(dataset)
    texts = {sid: t.text for sid, t in sorted(dataset.texts.items()) if t.text is not None}
    changes = _pending_changes(dataset, name, version, created)
    return SiteInput(
        name=name,
        version=version,
        created=created,
        rows=rows,
        full_texts=texts,
        review=True,
        drafts=frozenset(drafts),
        coverage=coverage,
        codebook_md=codebook(dataset.schema, name, version),
        changes_md=changes,
    )


def _pending_changes(dataset: Dataset, name: str, version: str, created: str) -> str:
    """What the next release would change since the last one, as CHANGES.md would say it."""
    from eventledger.publish.diff import full_manifest
    from eventledger.publish.manifest import (
        ManifestError,
        changes_markdown,
        compare,
        manifest,
        read_manifests,
        released_before,
    )

    try:
        manifests = read_manifests(dataset.repository.root / "releases")
        earlier = released_before(manifests, version)
        selection = select(dataset)
        new = manifest(name, version, created, dataset.schema, selection.rows, selection.drafts)
    except (ManifestError, ValueError, KeyError):
        return ""
    order = list(dataset.schema.model.record_tables)
    if not earlier:
        return changes_markdown(compare(None, new, order))
    build = dataset.repository.root / "build"
    previous, fields_from, fields = full_manifest(build, name, earlier[-1])
    try:
        changes = compare(previous, new, order, fields_from, old_fields=fields)
    except ManifestError:  # the previous build changed while it was read
        return ""
    return changes_markdown(changes)


def _created(root: Path) -> str:
    try:
        when, origin = commit_time(root)
        return f"{when.strftime('%Y-%m-%dT%H:%M:%SZ')} ({origin}; the working tree may differ)"
    except ReleaseError:
        return "from the working tree (no commit)"


def build_browse(repository: Repository) -> Path:
    """Write the reviewer's view to build/browse/ (aside, then renamed); return its index.html."""
    root = repository.root
    try:
        base = read_base(root)
    except (OSError, ValueError) as err:
        raise BrowseError(f"datapackage.json cannot be read: {err}") from err
    name = str(base.get("name") or "eventledger")
    version = str(base.get("version") or "unreleased")
    dataset = load_dataset(repository)
    coverage: dict[str, list[Sentence]] = {
        sid: [(c.start, c.end, c.status, c.reason) for c in found]  # type: ignore[misc]
        for sid, found in coverage_by_source(dataset).items()
    }
    files = render_site(review_input(dataset, name, version, _created(root), coverage))
    build = root / "build"
    build.mkdir(exist_ok=True)
    target = build / BROWSE
    aside = Path(tempfile.mkdtemp(prefix=f".{BROWSE}-", dir=build))
    old = build / f".{BROWSE}-old-{aside.name}"
    try:
        for rel, data in files:
            if rel.startswith("/") or ".." in rel.split("/"):  # never write outside build/
                raise BrowseError(f"the site names a file outside its folder: {rel!r}")
            path = aside / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        aside.chmod(0o755)
        # Two renames, never a half-written folder: a reviewer's open tab sees the old view
        # or the new one.
        if target.exists():
            target.rename(old)
        aside.rename(target)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return target / "index.html"
