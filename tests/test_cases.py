"""Every file under tests/cases/ is a test: valid cases pass clean, invalid ones report exactly what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from casekit import CASES, Case, invalid_cases, valid_cases
from eventledger.check.checker import load_dataset
from eventledger.issues.catalog import CODES, Layer
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import MAX_BYTES


def run(case: Case, root: Path) -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]]]:
    expected = case.build(root)
    dataset = load_dataset(Repository(root), max_bytes=case.max_bytes() or MAX_BYTES)
    files = case.files(expected)
    found = {(i.file, i.code, i.line) for i in dataset.issues if i.file in files}
    return expected, found


@pytest.mark.parametrize("case", valid_cases(), ids=lambda c: c.id)
def test_valid_case_has_no_issues(case: Case, tmp_path: Path) -> None:
    expected, found = run(case, tmp_path)
    assert expected == set()
    assert found == set()


@pytest.mark.parametrize("case", invalid_cases(), ids=lambda c: c.id)
def test_invalid_case_reports_exactly_its_issues(case: Case, tmp_path: Path) -> None:
    expected, found = run(case, tmp_path)
    assert any(code == case.code for _, code, _ in expected), f"{case.id} expects no {case.code}"
    assert found == expected


# Codes that no file in a repository can cause on its own, each proven by the test named:
# a file that vanishes between listing and reading, a table check that fails as a whole.
PROVEN_BY_TESTS = {
    "file-unreadable": ("test_checker.py", "test_a_file_that_cannot_be_read_is_an_issue"),
    "table-check-failed": ("test_checker.py", "test_a_whole_table_failure_is_an_issue"),
    # What git cannot carry: a folder without read permission, a FIFO.
    "folder-unreadable": (
        "test_hostile.py",
        "test_unreadable_folder_fails_the_check_instead_of_dropping_its_records",
    ),
    "special-file": (
        "test_hostile.py",
        "test_fifo_named_like_a_record_is_reported_and_never_opened",
    ),
}


def test_every_issue_code_has_an_invalid_case() -> None:
    """Every code a record can cause has a case. Package codes (layer 'package') concern a built
    release, not records, so they cannot be cases here: tests/test_release.py tampers with a
    build to produce each of them (and checks that it covers them all)."""
    have = {p.name for p in (CASES / "invalid").iterdir() if any(p.iterdir())}
    missing = sorted(
        {c.code for c in CODES if c.layer is not Layer.PACKAGE} - have - set(PROVEN_BY_TESTS)
    )
    assert missing == []


def test_codes_without_a_case_are_proven_by_a_test() -> None:
    import ast

    for code, (module, name) in PROVEN_BY_TESTS.items():
        tree = ast.parse((Path(__file__).parent / module).read_text(encoding="utf-8"))
        assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, code


def test_every_case_folder_is_an_issue_code() -> None:
    unknown = sorted({p.name for p in (CASES / "invalid").iterdir()} - {c.code for c in CODES})
    assert unknown == []
