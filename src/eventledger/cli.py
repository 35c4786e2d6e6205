"""The command line: parse, call the library, render, exit. No checking happens here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from eventledger import __version__
from eventledger.cores import available_cores
from eventledger.issues import IssueList, IssuesError
from eventledger.issues.excerpt import MAX_EXCERPT, printable, printable_lines
from eventledger.issues.reporters import FORMATS, release_text, summarize
from eventledger.read.cache import FOLDER as CACHE_FOLDER
from eventledger.read.cache import Cache
from eventledger.read.repository import OutsideRepository, Repository, RepositoryNotFound

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_ROOT_HELP = "Repository root (default: found from the current directory upwards)."

# Commands import what only they need inside the command: pandas, Pandera and pyarrow take
# most of a second, which locate, new and generate (run from editors and hooks) should not
# pay, and a warm validate, answered from the cache in well under a second at a hundred
# thousand records, should not pay for the authoring commands either.


def _schema_error() -> type[Exception]:
    """SchemaError, imported only when an exception is being matched: schema/ is read (and
    model/schema.py imported) by the checks that raise it, never by a warm validate."""
    from eventledger.model.schema import SchemaError

    return SchemaError


def _repository(root: Path | None) -> Repository:
    try:
        return Repository.find(root)
    except RepositoryNotFound as err:
        raise click.UsageError(str(err)) from err


def _versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"eventledger {__version__}")
    try:
        repository = Repository.find(None)
    except RepositoryNotFound:
        click.echo("dataset: none here (no datapackage.json and schema/ at or above this folder)")
    else:
        click.echo(f"dataset: {repository.dataset_version()} ({repository.root})")
    ctx.exit(EXIT_VALID)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_versions,
    help="Print the version of the tool and of the dataset here (the next release), and exit.",
)
def main() -> None:
    """Check, locate and publish hand-verified event records.

    Every command exits 0 when it succeeds, 1 when the data is invalid or the work cannot
    be done, and 2 on a usage error; each command's --help says exactly when.
    """


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
    help=_ROOT_HELP,
)
@click.option(
    "--changed-since",
    "since",
    metavar="REV",
    help="Check only the records changed since the git revision REV and the events citing them.",
)
@click.option(
    "--staged",
    is_flag=True,
    help="Check the records as staged for the commit (the index), against --changed-since "
    "(default HEAD); untracked files and unstaged edits play no part (the pre-commit hook).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when there is no issue.")
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
    staged: bool,
    quiet: bool,
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
    (build/cache/, git-ignored), so a second run reads only what changed; the
    output is the same with any --jobs, with or without the cache.

    Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error.
    """
    if (since is not None or staged) and paths:
        raise click.UsageError("give either PATHS or --changed-since/--staged, not both")
    if staged and since is None:
        since = "HEAD"
    # A warm run answered from the cache never imports pandas or Pandera (most of a second).
    from eventledger.check.incremental import check_repository

    repository = _repository(root or (paths[0].parent if paths else None))
    try:
        for path in paths:
            repository.checkable(path)
    except OutsideRepository as err:
        raise click.UsageError(str(err)) from err
    workers = jobs or available_cores()
    cache = None if no_cache else Cache.open(repository.root, repository.schema_dir, "")
    try:
        if since is not None:
            from eventledger.check.changes import ChangesError, check_changed

            try:
                dataset = check_changed(repository, since, staged=staged).dataset
            except ChangesError as err:
                raise click.UsageError(str(err)) from err
            found, checked = dataset.issues, len(dataset.records)
        elif paths:
            from eventledger.check.checker import check

            dataset = check(repository, list(paths), jobs=workers, cache=cache)
            found, checked = dataset.issues, len(dataset.records)
        else:
            outcome = check_repository(repository, jobs=workers, cache=cache)
            found, checked = IssueList(outcome.issues), outcome.records
    except _schema_error() as err:
        click.echo(
            printable_lines(f"error: schema/ is broken, cannot check records: {err}"), err=True
        )
        sys.exit(EXIT_INVALID)
    if require_coverage:
        found.escalate("--require-coverage")
    issues = found.sorted()
    summary = summarize(issues, checked)
    if not (quiet and not issues):
        click.echo(FORMATS[fmt](issues, summary))
    sys.exit(EXIT_VALID if summary.valid else EXIT_INVALID)


@main.command()
@click.argument("source_id", required=False)
@click.argument("quote", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (a list of start, end and line) for programs.",
)
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
)
@click.option(
    "--write",
    "record_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fill in or repair start and end of every span of the record FILE (the evidence of an event, the passages of an uncoded set) from its quote, in place.",
)
@click.option(
    "--accept-near",
    is_flag=True,
    help="With --write: a quote that occurs nowhere but is almost exactly one passage takes "
    "that passage's words and offsets.",
)
def locate(
    source_id: str | None,
    quote: str | None,
    fmt: str,
    root: Path | None,
    record_file: Path | None,
    accept_near: bool,
) -> None:
    """Print the offsets of QUOTE in the text of SOURCE_ID (every occurrence).

    A quote that occurs nowhere is compared with the closest passages of the text: each
    difference is marked and invisible characters are named.

    With --write FILE, set the offsets of every span of FILE instead; when a quote occurs
    more than once and the offsets point at none of them, write nothing and list the
    candidates. With --accept-near as well, a quote that is almost exactly one passage
    takes that passage's words and offsets; when several passages are that close, nothing
    is written.

    Exit status: 0 found (or written), 1 a quote does not occur, is ambiguous, or only
    almost occurs (without --accept-near), 2 usage error.
    """
    from eventledger.author.locate_write import LocateWriteError, locate_write
    from eventledger.author.locate_write import report_lines as locate_report
    from eventledger.check.spans import (
        closest_passages,
        describe_near_miss,
        near_miss,
        read_source_text,
    )
    from eventledger.check.spans import locate as locate_quote
    from eventledger.syntax.positions import line_of

    if accept_near and record_file is None:
        raise click.UsageError("--accept-near goes with --write FILE")
    if record_file is not None:
        if source_id is not None:
            raise click.UsageError("give either SOURCE_ID QUOTE or --write FILE, not both")
        repository = _repository(root or record_file.resolve().parent)
        try:
            outcome = locate_write(repository, record_file.absolute(), accept_near=accept_near)
        except OutsideRepository as err:
            raise click.UsageError(str(err)) from err
        except LocateWriteError as err:
            click.echo(printable_lines(f"error: {err}"), err=True)
            sys.exit(EXIT_INVALID)
        click.echo(printable_lines("\n".join(locate_report(outcome))))
        sys.exit(EXIT_INVALID if outcome.refusals else EXIT_VALID)
    if source_id is None or quote is None:
        raise click.UsageError("give SOURCE_ID and QUOTE, or --write FILE")
    if not quote:
        raise click.UsageError("QUOTE is empty; give the exact words to find")
    repository = _repository(root)
    try:
        path = repository.source_text(source_id)
    except ValueError as err:
        raise click.UsageError(
            f"{err}; give the source's id, the name of its folder in sources/"
        ) from err
    source = read_source_text(path, source_id, repository.root)
    if source.text is None:
        raise click.UsageError(
            f"no readable text for source '{source_id}' at {repository.rel(path)}: {source.problem}"
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
            click.echo(f"the quote does not occur in {printable(source_id)}", err=True)
            # The same findings, in the same order and words, as validate reports them.
            near = near_miss(source.text, quote)
            if near is not None:
                click.echo(
                    printable(
                        f"{near.sentence}; the text has it at start: {near.start}, end: {near.end}: "
                        f"{json.dumps(near.actual, ensure_ascii=False)}",
                        2 * MAX_EXCERPT,
                    ),
                    err=True,
                )
            elif misses := closest_passages(source.text, quote):
                told = describe_near_miss(quote, source.text, misses)
                click.echo(f"{told.summary}\n    text:  {told.text_marked}", err=True)
                click.echo(f"    quote: {told.quote_marked}", err=True)
    sys.exit(EXIT_VALID if places else EXIT_INVALID)


@main.group()
def new() -> None:
    """Start a new record: an event from the template, a source from its text, an actor.

    Exit status: 0 written, 2 usage error (nothing written).
    """


@new.command(name="event")
@click.argument("slug")
@click.option(
    "--date",
    "day",
    metavar="DATE",
    help="When the event took place, as precisely as the source says: YYYY-MM-DD (day), "
    "YYYY-MM (month), YYYY (year) or a decade such as 1980s. Sets date_start, date_end "
    "(the whole day, month, year or decade) and date_precision. Default: a day the SLUG "
    "starts with, else today.",
)
@click.option("--title", help="The short English title.")
@click.option("--source", "source_id", help="source_id of the first span.")
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
)
def new_event_command(
    slug: str, day: str | None, title: str | None, source_id: str | None, root: Path | None
) -> None:
    """Write events/<yyyy>/<date>-<slug>.yaml from the template, review_status: draft.

    The id is <date>-<slug> with the date as far as it is known (2019-04-25-..., 2019-04-...,
    2019-..., 1980-... for the 1980s), or <date>-<slug>-2, -3, ... when taken (ids are never
    reused).

    Exit status: 0 written (the path is printed), 2 usage error (bad date or slug, file exists).
    """
    from eventledger.author.scaffold import ScaffoldError, new_event, parse_event_date

    repository = _repository(root)
    try:
        when = parse_event_date(day) if day is not None else None
        made = new_event(repository, slug, day=when, title=title, source=source_id)
    except ScaffoldError as err:
        raise click.UsageError(str(err)) from err
    click.echo(repository.rel(made.path))


@new.command(name="source")
@click.argument("source_id")
@click.option(
    "--text",
    "text_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The text as published (UTF-8); stored as sources/SOURCE_ID/text.txt in NFC with LF.",
)
@click.option("--publisher", required=True, help="Who published the text.")
@click.option("--title", required=True, help="Title of the text as published.")
@click.option("--author", help="Author, where the text names one.")
@click.option(
    "--published", required=True, metavar="YYYY-MM-DD", help="Publication day (recorded)."
)
@click.option(
    "--published-basis",
    default="stated",
    show_default=True,
    help="stated, or inferred from the text (then say how in --published-note).",
)
@click.option(
    "--published-precision",
    metavar="TERM",
    help="When the day is not known: week, month or year (schema/vocabularies.yaml).",
)
@click.option(
    "--published-earliest", metavar="YYYY-MM-DD", help="First day the text can have appeared."
)
@click.option(
    "--published-latest", metavar="YYYY-MM-DD", help="Last day the text can have appeared."
)
@click.option("--published-note", help="How an inferred or uncertain date was obtained.")
@click.option("--language", required=True, help="ISO 639-1 code of the text's language, e.g. de.")
@click.option("--url", help="Where the text was published.")
@click.option(
    "--rights",
    required=True,
    help="quotes-only (press texts: only the quoted spans ship), open or public-domain.",
)
@click.option(
    "--strip-trailing-whitespace",
    is_flag=True,
    help="Also remove spaces and tabs at the end of lines (kept by default, and reported).",
)
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
)
def new_source_command(
    source_id: str,
    text_file: Path,
    root: Path | None,
    strip_trailing_whitespace: bool,
    **fields: str | None,
) -> None:
    """Write sources/SOURCE_ID/text.txt and source.yaml: the text normalized to what the
    tool reads (UTF-8, NFC, LF, no byte-order mark), its SHA-256 and length recorded.

    Every change made to the text is reported; invisible characters kept are named. An
    existing source is never overwritten.

    Exit status: 0 written, 2 usage error (a value schema/ refuses, the source exists,
    the text is not UTF-8); nothing is written then.
    """
    from eventledger.author.new_record import NewRecordError, new_source, source_report

    repository = _repository(root)
    try:
        made = new_source(
            repository,
            source_id,
            text_file,
            fields,
            strip_trailing_whitespace=strip_trailing_whitespace,
        )
    except NewRecordError as err:
        raise click.UsageError(str(err)) from err
    click.echo("\n".join(source_report(repository, made)))


@new.command(name="actor")
@click.argument("actor_id")
@click.option("--name", required=True, help="Name in English.")
@click.option(
    "--kind",
    required=True,
    help="person, role, state, government, organization, media or group.",
)
@click.option(
    "--written-as",
    "names_as_written",
    multiple=True,
    help="A name as the sources write it (repeat for several).",
)
@click.option("--country", metavar="ISO3", help="ISO 3166-1 alpha-3 code, e.g. PRK.")
@click.option("--wikidata", metavar="QID", help="Wikidata QID, only where certain.")
@click.option("--description", help="One English sentence saying who or what the actor is.")
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
)
def new_actor_command(
    actor_id: str, names_as_written: tuple[str, ...], root: Path | None, **fields: str | None
) -> None:
    """Write actors/ACTOR_ID.yaml. An existing actor is never overwritten.

    Exit status: 0 written (the path is printed), 2 usage error (a value schema/ refuses,
    the actor exists).
    """
    from eventledger.author.new_record import NewRecordError, new_actor

    repository = _repository(root)
    try:
        path = new_actor(
            repository, actor_id, {**fields, "names_as_written": list(names_as_written)}
        )
    except NewRecordError as err:
        raise click.UsageError(str(err)) from err
    click.echo(repository.rel(path))


@main.command()
@click.option(
    "--check", is_flag=True, help="Only report derived files that are out of date (exit 1 if any)."
)
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
)
def generate(check: bool, root: Path | None) -> None:
    """Regenerate the derived files: record JSON Schemas, templates, docs/errors.md, docs/cli.md.

    Exit status: 0 written (or, with --check, all up to date), 1 with --check when a
    derived file is out of date, 2 usage error.
    """
    from eventledger.author.generate import stale, write

    repository = _repository(root)
    if check:
        old = stale(repository, main)
        for path in old:
            click.echo(f"{repository.rel(path)}: out of date; run eventledger generate")
        sys.exit(EXIT_INVALID if old else EXIT_VALID)
    for path in write(repository, main):
        click.echo(f"wrote {repository.rel(path)}")


def _publish(
    root: Path | None, fmt: str, quiet: bool, record: bool, jobs: int | None, no_cache: bool
) -> None:
    from eventledger.publish.record import record_release, refuse_uncommitted
    from eventledger.publish.release import build

    repository = _repository(root)
    # A build writes nothing outside build/: it reads what validate left in the cache.
    cache = (
        None if no_cache else Cache.open(repository.root, repository.schema_dir, "", writable=False)
    )

    def progress(message: str) -> None:
        if not quiet and fmt == "text":
            click.echo(f"... {message}", err=True)

    try:
        if record:
            refuse_uncommitted(repository)
        result = build(repository, progress=progress, jobs=jobs or available_cores(), cache=cache)
        data = result.to_dict(repository.root)
        if record:
            progress(f"recording {result.version}")
            recorded = record_release(repository, result.version, result.folder / "manifest.json")
            data |= {
                "manifest": repository.rel(recorded.manifest),
                "tag": recorded.tag,
                "commit": recorded.commit,
                "recorded": True,
            }
    except (IssuesError, _schema_error()) as err:
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
                click.echo(FORMATS[fmt](sorted(issues), summarize(issues, checked)), err=True)
            click.echo(printable_lines(f"error: {err}"), err=True)
        sys.exit(EXIT_INVALID)
    if fmt == "json":
        click.echo(json.dumps({"ok": True, **data}, ensure_ascii=False, indent=2))
    else:
        click.echo(release_text(data))


_PUBLISH_OPTIONS = [
    click.option(
        "--format",
        "fmt",
        type=click.Choice(sorted(FORMATS)),
        default="text",
        show_default=True,
        help="text for people; json prints a machine-readable summary; github writes the "
        "records' errors as pull-request annotations.",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress messages."),
    click.option(
        "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
    ),
    click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=None,
        help="Processes that read records (default: the cores available).",
    ),
    click.option(
        "--no-cache",
        is_flag=True,
        help="Read every record afresh, not from what validate left in the cache.",
    ),
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
    """Check every record, write build/<version>/ and build/<name>-<version>.zip, verify
    them, and say where they are (what `make release` runs). Records nothing: build as often
    as you like, on any branch. An earlier build of the version is replaced, unless it holds
    these very files (then nothing is written); a version that releases/ records must keep
    its records.

    Exit status: 0 built (or nothing changed), 1 nothing written: a record has errors, the
    package fails frictionless or its own checks, or a recorded version's records differ;
    2 usage error.
    """
    _publish(root, fmt, quiet, record=False, jobs=jobs, no_cache=no_cache)


@main.command()
@_publish_options
def release(fmt: str, quiet: bool, root: Path | None, jobs: int | None, no_cache: bool) -> None:
    """Build the version, then record it (the maintainer's act, `make publish`): write
    releases/<version>.json, from which the next release computes its changes, cite the
    version in CITATION.cff, commit both ("Release <version>") and tag v<version>.

    Needs git and no uncommitted change to tracked files. Recording a version that is
    recorded and tagged already does nothing.

    Exit status: 0 built and recorded, 1 nothing recorded (as for build, or git refuses),
    2 usage error.
    """
    _publish(root, fmt, quiet, record=True, jobs=jobs, no_cache=no_cache)


@main.command()
@click.option("--open", "open_browser", is_flag=True, help="Open it in the default web browser.")
@click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), help=_ROOT_HELP
)
def browse(open_browser: bool, root: Path | None) -> None:
    """Build the reviewer's view of the working tree into build/browse/ and print its index.html.

    Drafts are included and marked, and every source shows its full text with each span
    highlighted: the folder is for this machine only, never to be published.

    Exit status: 0 written (the path of index.html is printed), 1 it cannot be built, 2 usage
    error.
    """
    import webbrowser

    from eventledger.publish.browse import BrowseError, build_browse

    repository = _repository(root)
    try:
        index = build_browse(repository)
    except (BrowseError, _schema_error()) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(str(index))
    if open_browser:
        webbrowser.open(index.as_uri())


@main.command()
@click.argument("release_path", metavar="RELEASE", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="text for people, json for programs, github for annotations.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when everything matches.")
def verify(release_path: Path, fmt: str, quiet: bool) -> None:
    """Re-check every checksum of a built release (Parquet included) and that each Parquet
    table holds the rows of its CSV twin. RELEASE is its folder (build/<version>) or its zip;
    a zip's members are checked before anything is unpacked.

    Exit status: 0 everything matches, 1 anything differs, 2 usage error (neither a release
    folder nor a zip, or too little free space to unpack the zip: set TMPDIR).
    """
    from eventledger.publish.verify import NotAPackage, verify_package

    try:
        found, files = verify_package(release_path)
    except NotAPackage as err:
        raise click.UsageError(str(err)) from err
    issues = sorted(found)
    summary = summarize(issues, files, unit="file")
    if quiet and summary.valid:
        pass
    elif fmt == "text" and summary.valid:
        click.echo(
            f"OK: {printable(str(release_path))}: {files} files match SHA256SUMS and their "
            "descriptors; Parquet equals CSV."
        )
    else:
        click.echo(FORMATS[fmt](issues, summary))
    sys.exit(EXIT_VALID if summary.valid else EXIT_INVALID)


@main.command(name="diff")
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text (Markdown) for people, json for programs.",
)
def diff_command(old: Path, new: Path, fmt: str) -> None:
    """Records added, removed and changed (with the fields) between two builds, each given
    as its folder (build/<version>) or its zip (read where it is, nothing unpacked).

    Exit status: 0 compared (whatever changed), 2 usage error (not a built release).
    """
    from eventledger.publish.diff import DiffError, diff
    from eventledger.publish.manifest import changes_markdown

    try:
        changes = diff(old, new)
    except DiffError as err:
        raise click.UsageError(str(err)) from err
    if fmt == "json":
        text = json.dumps(changes.to_dict(), ensure_ascii=False, indent=2)
        # A lone surrogate (JSON may hold "\udc00") has no UTF-8: its JSON escape is what
        # backslashreplace writes, so the output is the same JSON, every character kept.
        click.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"))
    else:
        click.echo(changes_markdown(changes).rstrip())
