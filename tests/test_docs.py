"""Docs that fail when they fall behind: every command is in the README and in docs/cli.md."""

from __future__ import annotations

import re

from casekit import PROJECT
from eventledger.author.cli_reference import commands
from eventledger.cli import main
from eventledger.issues.catalog import CODES


def test_every_command_is_shown_in_the_readme() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in commands(main) if not re.search(rf"eventledger {name}\b", readme)]
    assert missing == []


def test_every_command_is_in_the_reference() -> None:
    reference = (PROJECT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert [name for name in commands(main) if f"## eventledger {name}\n" not in reference] == []


def test_every_issue_code_is_in_the_error_reference() -> None:
    errors = (PROJECT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert [c.code for c in CODES if f"### {c.code}\n" not in errors] == []


def test_readme_links_the_references() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    for target in ("docs/cli.md", "docs/errors.md", "CONTRIBUTING.md", "docs/coding-guide.md"):
        assert f"({target})" in readme


def test_coding_guide_names_only_records_that_exist() -> None:
    """The guide teaches by example; an example that was renamed or merged away misleads."""
    guide = (PROJECT / "docs" / "coding-guide.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([0-9]{4}(?:-[a-z0-9]+)+)`", guide))
    events = {p.stem for p in (PROJECT / "events").rglob("*.yaml")}
    sources = {p.name for p in (PROJECT / "sources").iterdir()}
    assert named, "the guide should point at real records"
    assert sorted(named - events - sources) == []
