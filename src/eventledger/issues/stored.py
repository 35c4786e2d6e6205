"""An issue as plain values and back: how the cache keeps the issues of a file or a run.

Apart from check/parallel.py (which reads records and imports the schema, the rules and
the YAML reader): a run answered whole from the cache decodes its stored issues with this
alone.
"""

from __future__ import annotations

from dataclasses import astuple, fields
from typing import Any

from eventledger.issues import Issue
from eventledger.issues.catalog import lookup

ISSUE_FIELDS = tuple(f.name for f in fields(Issue))


def issue_fields(issue: Issue) -> list[Any]:
    """An issue as a JSON list, every field in order (a path as a list)."""
    return [list(v) if isinstance(v, tuple) else v for v in astuple(issue)]


def issue_from(values: list[Any]) -> Issue:
    """The inverse of issue_fields. Raises on a list that is no issue of this tool's catalog."""
    if not isinstance(values, list) or len(values) != len(ISSUE_FIELDS):
        raise ValueError("not an issue")
    data = dict(zip(ISSUE_FIELDS, values, strict=True))
    data["path"] = tuple(data["path"])
    for name in ("file", "code", "message"):
        if type(data[name]) is not str:
            raise ValueError("not an issue")
    issue = Issue(**data)
    lookup(issue.code)  # KeyError on a code this tool does not know
    return issue
