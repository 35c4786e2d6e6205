"""The command line: parse, call the library, render, exit. No checking happens here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from eventledger import __version__
from eventledger.author.generate import stale, write
from eventledger.author.locate_write import LocateWriteError, locate_write
from eventledger.author.locate_write import report_lines as locate_report
from eventledger.author.scaffold import ScaffoldError, new_event
from eventledger.check.parallel import available_cores
from eventledger.check.spans import locate as locate_quote
from eventledger.check.spans import near_miss, read_source_text
from eventledger.issues import IssueList, IssuesError
from eventledger.issues.reporters import FORMATS, release_text, summarize
from eventledger.model.schema import SchemaError
from eventledger.read.cache import FOLDER as CACHE_FOLDER
from eventledger.read.cache import Cache
from eventledger.read.repository import Repository, RepositoryNotFound
from eventledger.syntax.positions import line_of

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

# Commands that check tables or build packages import pandas, Pandera and pyarrow inside
# the command: that takes most of a second, which locate, new and generate (run from
# editors and hooks) should not pay.


def _repository(root: Path | None) -> Repository:
    try:
        return Repository.find(root)
    except RepositoryNotFound as err:
        raise click.UsageError(str(err)) from err


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eventledger")
def main() -> None:
    """Check, locate and publish hand-verified event records."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="text for people, json for programs, github for pull-request annotations.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Repository root (default: found from the current directory upwards).",
)
@click.option(
    "--changed-since",
    "since",
    metavar="REV",
    help="Check only the records changed since the git revision REV and the events citing them.",
)
@click.option(
    "--require-coverage",
    is_flag=True,
    help="Report a sentence that no record codes and no uncoded.yaml sets aside as an error, "
    "not a warning (what make validate and CI run).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that read records (default: the cores available).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help=f"Read every record afresh and keep nothing in {CACHE_FOLDER}/ (CI may use it).",
)
def validate(
    paths: tuple[Path, ...],
    fmt: str,
    root: Path | None,
    since: str | None,
    require_coverage: bool,
    jobs: int | None,
    no_cache: bool,
) -> None:
    """Check every record, or only the issues in PATHS (files or folders).

    With --changed-since REV, parse only the records changed since REV (committed,
    uncommitted or untracked) and the events that cite a changed or deleted actor or
    source; report on those files. Ids are checked against the whole repository; sentence
    coverage is not checked (it needs every record).

    Records are read in --jobs processes and kept in a cache keyed by their content
    (.eventledger-cache/, git-ignored), so a second run reads only what changed; the
    output is the same with any --jobs, with or without the cache.

    Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error.
    """
    if since is not None and paths:
        raise click.UsageError("give either PATHS or --changed-since, not both")
    # A warm run answered from the cache never imports pandas or Pandera (most of a second).
    from eventledger.check.incremental import check_repository

    repository = _repository(root or (paths[0].parent if paths else None))
    outside = [str(p) for p in paths if not p.resolve().is_relative_to(repository.root)]
    if outside:
        raise click.UsageError(f"not in the repository {repository.root}: {', '.join(outside)}")
    workers = jobs or available_cores()
    cache = None if no_cache else Cache.open(repository.root, repository.schema_dir, "")
    try:
        if since is not None:
            from eventledger.check.changes import ChangesError, check_changed

            try:
                dataset = check_changed(repository, since, jobs=workers, cache=cache).dataset
            except ChangesError as err:
                raise click.UsageError(str(err)) from err
            issues, checked = dataset.issues.sorted(), len(dataset.records)
        elif paths:
            from eventledger.check.checker import check

            dataset = check(repository, list(paths), jobs=workers, cache=cache)
            issues, checked = dataset.issues.sorted(), len(dataset.records)
        else:
            outcome = check_repository(repository, jobs=workers, cache=cache)
            issues, checked = outcome.issues, outcome.records
    except SchemaError as err:
        click.echo(f"error: schema/ is broken, cannot check records: {err}", err=True)
        sys.exit(EXIT_INVALID)
    if require_coverage:
        found = IssueList(issues)
        found.escalate("--require-coverage")
        issues = found.sorted()
    summary = summarize(issues, checked)
    click.echo(FORMATS[fmt](issues, summary))
    sys.exit(EXIT_VALID if summary.valid else EXIT_INVALID)


@main.command()
@click.argument("source_id", required=False)
@click.argument("quote", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--write",
    "record_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fill in or repair start and end of every span of the record FILE (the evidence of an event, the passages of an uncoded set) from its quote, in place.",
)
def locate(
    source_id: str | None, quote: str | None, fmt: str, root: Path | None, record_file: Path | None
) -> None:
    """Print the offsets of QUOTE in the text of SOURCE_ID (every occurrence).

    With --write FILE, set the offsets of every span of FILE instead; when a quote occurs
    more than once and the offsets point at none of them, write nothing and list the
    candidates. Exit status 1 when a quote does not occur or is ambiguous.
    """
    if record_file is not None:
        if source_id is not None:
            raise click.UsageError("give either SOURCE_ID QUOTE or --write FILE, not both")
        repository = _repository(root or record_file.resolve().parent)
        try:
            outcome = locate_write(repository, record_file.resolve())
        except LocateWriteError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_INVALID)
        click.echo("\n".join(locate_report(outcome)))
        sys.exit(EXIT_INVALID if outcome.refusals else EXIT_VALID)
    if source_id is None or quote is None:
        raise click.UsageError("give SOURCE_ID and QUOTE, or --write FILE")
    if not quote:
        raise click.UsageError("QUOTE is empty; give the exact words to find")
    repository = _repository(root)
    path = repository.source_text(source_id)
    source = read_source_text(path, source_id)
    if source.text is None:
        raise click.UsageError(
            f"no readable text for source '{source_id}' at {repository.rel(path) if path.exists() else path}"
        )
    places = locate_quote(source.text, quote)
    if fmt == "json":
        click.echo(
            json.dumps([{"start": s, "end": e, "line": line_of(source.text, s)} for s, e in places])
        )
    else:
        for s, e in places:
            click.echo(f"start: {s}, end: {e}  (line {line_of(source.text, s)})")
        if not places:
            click.echo(f"the quote does not occur in {source_id}", err=True)
            near = near_miss(source.text, quote)
            if near is not None:
                click.echo(
                    f"{near.sentence}; the text has it at start: {near.start}, end: {near.end}: "
                    f"{json.dumps(near.actual, ensure_ascii=False)}",
                    err=True,
                )
    sys.exit(EXIT_VALID if places else EXIT_INVALID)


@main.group()
def new() -> None:
    """Start a new record from the template."""


@new.command(name="event")
@click.argument("slug")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="date_start and date_end (YYYY-MM-DD); default: a date the SLUG starts with, else today.",
)
@click.option("--title", help="The short English title.")
@click.option("--source", "source_id", help="source_id of the first span.")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def new_event_command(
    slug: str, day: Any, title: str | None, source_id: str | None, root: Path | None
) -> None:
    """Write events/<yyyy>/<date>-<slug>.yaml from the template, review_status: draft.

    The id is <date>-<slug>, or <date>-<slug>-2, -3, ... when taken (ids are never reused).
    """
    repository = _repository(root)
    try:
        made = new_event(
            repository, slug, day=day.date() if day else None, title=title, source=source_id
        )
    except ScaffoldError as err:
        raise click.UsageError(str(err)) from err
    click.echo(repository.rel(made.path))


@main.command()
@click.option(
    "--check", is_flag=True, help="Only report derived files that are out of date (exit 1 if any)."
)
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def generate(check: bool, root: Path | None) -> None:
    """Regenerate the derived files: record JSON Schemas, templates, docs/errors.md, docs/cli.md."""
    repository = _repository(root)
    if check:
        old = stale(repository, main)
        for path in old:
            click.echo(f"{repository.rel(path)}: out of date; run eventledger generate")
        sys.exit(EXIT_INVALID if old else EXIT_VALID)
    for path in write(repository, main):
        click.echo(f"wrote {repository.rel(path)}")


def _publish(
    root: Path | None,
    fmt: str,
    quiet: bool,
    write_manifest: bool,
    jobs: int | None,
    no_cache: bool,
) -> None:
    from eventledger.publish.release import build

    repository = _repository(root)
    cache = None if no_cache else Cache.open(repository.root, repository.schema_dir, "")

    def progress(message: str) -> None:
        if not quiet and fmt == "text":
            click.echo(f"... {message}", err=True)

    try:
        result = build(
            repository,
            progress=progress,
            write_manifest=write_manifest,
            jobs=jobs or available_cores(),
            cache=cache,
        )
    except (IssuesError, SchemaError) as err:
        issues = err.issues if isinstance(err, IssuesError) else []
        if fmt == "json":
            click.echo(
                json.dumps(
                    {"ok": False, "error": str(err), "issues": [i.to_dict() for i in issues]},
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            if issues:
                checked = err.checked if isinstance(err, IssuesError) else 0
                click.echo(FORMATS["text"](sorted(issues), summarize(issues, checked)), err=True)
            click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_INVALID)
    data = result.to_dict(repository.root)
    if fmt == "json":
        click.echo(json.dumps({"ok": True, **data}, ensure_ascii=False, indent=2))
    else:
        click.echo(release_text(data))


_PUBLISH_OPTIONS = [
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json prints a machine-readable summary.",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress messages."),
    click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path)),
    click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=None,
        help="Processes that read records (default: the cores available).",
    ),
    click.option("--no-cache", is_flag=True, help="Read every record afresh (CI may use it)."),
]


def _publish_options(f: Any) -> Any:
    for option in reversed(_PUBLISH_OPTIONS):
        f = option(f)
    return f


@main.command(name="build")
@_publish_options
def build_command(
    fmt: str, quiet: bool, root: Path | None, jobs: int | None, no_cache: bool
) -> None:
    """Check everything and write build/<version>/ and build/<name>-<version>.zip.

    Exit status 1 (nothing written) when a record has errors, the package fails frictionless
    or its own checks, or the version exists with different content.
    """
    _publish(root, fmt, quiet, write_manifest=False, jobs=jobs, no_cache=no_cache)


@main.command()
@_publish_options
def release(fmt: str, quiet: bool, root: Path | None, jobs: int | None, no_cache: bool) -> None:
    """Build the release and record releases/<version>.json (commit it) for the next one's changes."""
    _publish(root, fmt, quiet, write_manifest=True, jobs=jobs, no_cache=no_cache)


@main.command()
@click.option("--open", "open_browser", is_flag=True, help="Open it in the default web browser.")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def browse(open_browser: bool, root: Path | None) -> None:
    """Build the reviewer's view of the working tree into build/browse/ and print its index.html.

    Drafts are included and marked, and every source shows its full text with each span
    highlighted: the folder is for this machine only, never to be published.
    """
    import webbrowser

    from eventledger.publish.browse import BrowseError, build_browse

    repository = _repository(root)
    try:
        index = build_browse(repository)
    except (BrowseError, SchemaError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(str(index))
    if open_browser:
        webbrowser.open(index.as_uri())


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True
)
def verify(folder: Path, fmt: str) -> None:
    """Re-check every checksum of a built release (Parquet included) and that each Parquet table
    holds the rows of its CSV twin. Exit status 1 when anything differs."""
    from eventledger.publish.verify import verify as verify_build

    issues = sorted(verify_build(folder))
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    summary = summarize(issues, files, unit="file")
    if fmt == "text" and summary.valid:
        click.echo(
            f"OK: {folder}: {files} files match SHA256SUMS and their descriptors; Parquet equals CSV."
        )
    else:
        click.echo(FORMATS[fmt](issues, summary))
    sys.exit(EXIT_VALID if summary.valid else EXIT_INVALID)


@main.command(name="diff")
@click.argument("old", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def diff_command(old: Path, new: Path, fmt: str) -> None:
    """Records added, removed and changed (with the fields) between two builds."""
    from eventledger.publish.diff import DiffError, diff
    from eventledger.publish.manifest import changes_markdown

    try:
        changes = diff(old, new)
    except DiffError as err:
        raise click.UsageError(str(err)) from err
    if fmt == "json":
        click.echo(json.dumps(changes.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(changes_markdown(changes).rstrip())
