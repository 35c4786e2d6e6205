"""Every file under tests/cases/ is a test: valid cases pass clean, invalid ones report exactly what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from casekit import CASES, Case, invalid_cases, valid_cases
from eventledger.check.checker import load_dataset
from eventledger.issues.catalog import CODES, Layer
from eventledger.read.repository import Repository
from eventledger.read.strict_yaml import MAX_BYTES


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


def test_every_issue_code_has_an_invalid_case() -> None:
    """Every code a record can cause has a case. Package codes (layer 'package') concern a built
    release, not records, so they cannot be cases here: tests/test_release.py tampers with a
    build to produce each of them (and checks that it covers them all)."""
    have = {p.name for p in (CASES / "invalid").iterdir() if any(p.iterdir())}
    missing = sorted({c.code for c in CODES if c.layer is not Layer.PACKAGE} - have)
    assert missing == sorted(RUNTIME_ONLY)


# What git cannot carry (a FIFO, a file or folder without read permission) is made at run
# time by tests/test_hostile.py, which must show each of these codes in real CLI output.
RUNTIME_ONLY = ("file-unreadable", "folder-unreadable", "special-file")


def test_runtime_only_codes_are_proven_by_the_hostile_tests() -> None:
    source = (Path(__file__).parent / "test_hostile.py").read_text(encoding="utf-8")
    assert [c for c in RUNTIME_ONLY if f"error[{c}]" not in source] == []


def test_every_case_folder_is_an_issue_code() -> None:
    unknown = sorted({p.name for p in (CASES / "invalid").iterdir()} - {c.code for c in CODES})
    assert unknown == []
