"""The root datapackage.json: readable, with the name and version a release needs."""

from __future__ import annotations

import json

from eventledger.issues import Issue
from eventledger.model.patterns import SEMVER
from eventledger.read.repository import Repository


def check_package_metadata(repository: Repository) -> list[Issue]:
    """The root datapackage.json: readable, with the name and version a release needs."""
    path = repository.root / "datapackage.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        return [
            Issue("datapackage.json", 0, 0, "package-metadata-invalid", f"cannot read it: {err}")
        ]
    except json.JSONDecodeError as err:
        return [
            Issue(
                "datapackage.json",
                err.lineno,
                err.colno,
                "package-metadata-invalid",
                f"not valid JSON: {err.msg}",
            )
        ]
    if not isinstance(data, dict):
        return [
            Issue("datapackage.json", 1, 1, "package-metadata-invalid", "must be a JSON object")
        ]
    issues = []
    if not isinstance(data.get("name"), str) or not data["name"]:
        issues.append(
            Issue(
                "datapackage.json",
                1,
                1,
                "package-metadata-invalid",
                "'name' is missing",
                path=("name",),
                expected="the package name",
            )
        )
    version = data.get("version")
    if not isinstance(version, str) or not SEMVER.fullmatch(version):
        issues.append(
            Issue(
                "datapackage.json",
                1,
                1,
                "package-metadata-invalid",
                "'version' is not MAJOR.MINOR.PATCH",
                path=("version",),
                expected="for example 0.2.0",
                found=str(version),
            )
        )
    return issues
