"""The root datapackage.json: readable, with the name and version a release needs."""

from __future__ import annotations

from eventledger.issues import Issue
from eventledger.issues.excerpt import printable
from eventledger.jsonfile import JsonFileError, read_json
from eventledger.model.patterns import PACKAGE_NAME, SEMVER
from eventledger.read.repository import Repository


def check_package_metadata(repository: Repository) -> list[Issue]:
    """The root datapackage.json: readable, with the name and version a release needs."""
    try:
        data = read_json(repository.root / "datapackage.json")
    except JsonFileError as err:
        return [
            Issue(
                "datapackage.json",
                err.line,
                err.column,
                "package-metadata-invalid",
                err.reason,
            )
        ]
    if not isinstance(data, dict):
        return [
            Issue("datapackage.json", 1, 1, "package-metadata-invalid", "must be a JSON object")
        ]
    issues = []
    name = data.get("name")
    if not isinstance(name, str) or not name:
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
    elif not PACKAGE_NAME.fullmatch(name):
        # The name becomes file names in build/: '../../x' would write outside it.
        issues.append(
            Issue(
                "datapackage.json",
                1,
                1,
                "package-metadata-invalid",
                "'name' is not a Data Package name",
                path=("name",),
                expected="lower-case letters, digits, '.', '_' and '-', starting and ending "
                "with a letter or digit, for example eventledger-kim-putin",
                found=printable(name),
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
                found=printable(version),
            )
        )
    return issues
