"""Render what the library found for people and programs: issues as text, JSON or GitHub
Actions annotations, and the summary of a release build."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eventledger.issues import Issue
from eventledger.issues.catalog import Severity
from eventledger.issues.excerpt import MAX_EXCERPT, printable

# A message quotes values too (ids, keys); it may be longer than an excerpt, never unbounded.
MAX_MESSAGE = 2 * MAX_EXCERPT


def shown(issue: Issue) -> Issue:
    """issue as it may be printed: every text one line of visible characters, capped.

    Values come from files anyone can write: unescaped, an ESC or BEL retitles a terminal,
    a newline forges an error line of its own and a 900 KB title floods the log.
    """
    # replace() keeps every other field (escalation, say) as it is.
    return replace(
        issue,
        file=printable(issue.file, MAX_MESSAGE),
        message=printable(issue.message, MAX_MESSAGE),
        path=tuple(printable(p) if isinstance(p, str) else p for p in issue.path),
        expected=None if issue.expected is None else printable(issue.expected),
        found=None if issue.found is None else printable(issue.found),
        hint=None if issue.hint is None else printable(issue.hint, MAX_MESSAGE),
        escalated=issue.escalated,  # --require-coverage's errors stay errors when shown
    )


@dataclass(frozen=True)
class Summary:
    files: int
    records: int
    errors: int
    warnings: int
    unit: str = "record"  # what was checked: records, or the files of a built package

    @property
    def valid(self) -> bool:
        return self.errors == 0


def summarize(issues: Sequence[Issue], records: int, unit: str = "record") -> Summary:
    return Summary(
        files=len({i.file for i in issues}),
        records=records,
        unit=unit,
        errors=sum(i.severity is Severity.ERROR for i in issues),
        warnings=sum(i.severity is Severity.WARNING for i in issues),
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def text(issues: Sequence[Issue], summary: Summary) -> str:
    lines = []
    for i in map(shown, issues):
        where = f"{i.file}:{i.line}:{i.column}" if i.line else i.file
        path = f" ({i.path_text})" if i.path else ""
        lines.append(f"{where}: {i.severity}[{i.code}] {i.message}{path}")
        for label, value in (("expected", i.expected), ("found", i.found), ("hint", i.hint)):
            if value:
                lines.append(f"    {label}: {value}")
    if summary.valid and not summary.warnings:
        lines.append(f"OK: {_plural(summary.records, summary.unit)} checked, no issues.")
    else:
        verdict = "OK" if summary.valid else "FAILED"
        lines.append(
            f"{verdict}: {_plural(summary.errors, 'error')}, {_plural(summary.warnings, 'warning')} "
            f"in {_plural(summary.files, 'file')} ({_plural(summary.records, summary.unit)} checked)."
        )
    return "\n".join(lines)


def as_json(issues: Sequence[Issue], summary: Summary) -> str:
    payload = {
        "valid": summary.valid,
        "summary": {
            f"{summary.unit}s": summary.records,
            "files_with_issues": summary.files,
            "errors": summary.errors,
            "warnings": summary.warnings,
        },
        # JSON escapes control characters itself; only the length is capped.
        "issues": [_capped(i) for i in issues],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)


def _capped(issue: Issue) -> dict[str, object]:
    data = issue.to_dict()
    for key, limit in (("message", MAX_MESSAGE), ("expected", MAX_EXCERPT), ("found", MAX_EXCERPT)):
        value = data[key]
        if isinstance(value, str) and len(value) > limit:
            data[key] = f"{value[:limit]}… ({len(value):,} characters)"
    return data


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(issues: Sequence[Issue], summary: Summary) -> str:
    """GitHub Actions workflow commands: each issue becomes an annotation on its file and line."""
    lines = []
    for i in map(shown, issues):
        level = "error" if i.severity is Severity.ERROR else "warning"
        props = [f"file={_escape_property(i.file)}"]
        if i.line:
            props += [f"line={i.line}", f"col={i.column}"]
        props.append(f"title={_escape_property(i.code)}")
        detail = "".join(
            f"\n{label}: {value}"
            for label, value in (("expected", i.expected), ("found", i.found), ("hint", i.hint))
            if value
        )
        lines.append(f"::{level} {','.join(props)}::{_escape_data(i.message + detail)}")
    lines.append(
        f"{_plural(summary.errors, 'error')}, {_plural(summary.warnings, 'warning')} in {_plural(summary.records, summary.unit)}"
    )
    return "\n".join(lines)


FORMATS = {"text": text, "json": as_json, "github": github}


def release_text(data: Mapping[str, Any]) -> str:
    """The release summary for people, from a build result's dict: what was written, what was
    held back, what to watch."""
    name, version = data["name"], data["version"]
    where = f"{data['folder']}/ and {data['archive']}"
    if data["status"] == "unchanged":
        lines = [f"{name} {version}: nothing changed; {where} already hold this build"]
    elif data["status"] == "replaced":
        lines = [f"{name} {version} built: {where} (replacing another, unrecorded build)"]
    else:
        lines = [f"{name} {version} built: {where}"]
    lines.append(f"  created {data['created']} ({data['created_from']})")
    rows = data["rows"]
    lines.append("  rows: " + ", ".join(f"{t} {n}" for t, n in rows.items()))
    drafts = data["drafts_withheld"]
    if drafts:
        lines.append(f"  drafts withheld ({len(drafts)}): {', '.join(drafts)}")
    else:
        lines.append("  drafts withheld: none")
    if rows.get("events", 0) == 0:
        lines.append("  note: no verified events yet; the package holds empty tables")
    changes = data["changes"]
    if changes is not None:
        previous = changes["previous"]
        since = (
            f"since {previous} (needs a {changes['required_bump']} step)"
            if previous
            else "(first release)"
        )
        counts = [sum(len(v) for v in changes[k].values()) for k in ("added", "removed", "changed")]
        lines.append(
            f"  changes {since}: {counts[0]} added, {counts[1]} removed, {counts[2]} changed"
        )
    cells = data["formula_like_cells"]
    if cells:
        lines.append(
            f"  {len(cells)} cell(s) a spreadsheet would run as a formula "
            f"(the CSV is for programs; open {name}-{version}.xlsx instead):"
        )
        lines += [f"    {c}" for c in cells]
    lines += [f"  spreadsheet: {note}" for note in data.get("spreadsheet_notes", [])]
    if data["status"] == "unchanged":
        lines.append(
            f"  {data['files']} files, re-checked against SHA256SUMS (verify: OK); nothing written"
        )
    else:
        lines.append(
            f"  {data['files']} files, checksums in SHA256SUMS; frictionless validate: valid; "
            "verify: OK"
        )
    if data.get("tag"):
        lines.append(
            f"  recorded: {data['manifest']} and CITATION.cff, committed ({data['commit'][:12]}) "
            f"and tagged {data['tag']}; push both: git push && git push origin {data['tag']}"
        )
    elif data["manifest"] is not None:
        rel = data["manifest"]
        lines.append(f"  release manifest: {rel} (commit it: git add {rel})")
    elif data.get("recorded"):
        lines.append(
            f"  {version} is a recorded release (releases/{version}.json): its records are fixed"
        )
    else:
        lines.append(
            f"  not a release yet: nothing is recorded; a maintainer publishes {version} with "
            "make publish"
        )
    return "\n".join(lines)
