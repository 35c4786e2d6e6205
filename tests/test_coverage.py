"""Every sentence accounted for: sentences from the real segmenter, touched by spans and
passages as a reader would count them, reported by validate (a warning, an error with
--require-coverage), and what the reviewer's view is given per source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from casekit import PROJECT, make_repository, place_valid_cases
from eventledger.check.checker import load_dataset
from eventledger.check.coverage import Sentence, coverage, coverage_by_source, sentences
from eventledger.cli import main
from eventledger.issues.catalog import BY_CODE, CODES, Severity
from eventledger.read.repository import Repository

TEXT = "Kim reiste an. Putin wartete.  \n\nDer Zug fuhr um 10 Uhr ab. Dr. Müller sah zu."
SOURCE = "example-2019-04-25-summit"
UNCODED = f"sources/{SOURCE}/uncoded.yaml"


def test_sentences_are_cut_by_the_german_rules_without_surrounding_space() -> None:
    found = [TEXT[s:e] for s, e in sentences(TEXT, "de")]
    # "Dr." is an abbreviation in pysbd's German rules, not the end of a sentence.
    assert found == [
        "Kim reiste an.",
        "Putin wartete.",
        "Der Zug fuhr um 10 Uhr ab.",
        "Dr. Müller sah zu.",
    ]


def test_white_space_only_segments_are_no_sentences() -> None:
    assert sentences("  \n\n  ", "de") == []
    assert sentences("", "de") == []


def test_a_span_touches_a_sentence_only_with_a_character_that_is_not_space() -> None:
    # The span "an. " ends on the space before "Putin": it touches the first sentence only.
    end_of_first = TEXT.index("Putin")
    found = coverage(TEXT, [(TEXT.index("an."), end_of_first)], [], language="de")
    assert [s.status for s in found] == ["coded", "uncovered", "uncovered", "uncovered"]
    # A passage of white space between two sentences touches neither.
    gap = (TEXT.index("wartete.") + len("wartete."), TEXT.index("Der"))
    found = coverage(TEXT, [], [(*gap, "boilerplate")], language="de")
    assert {s.status for s in found} == {"uncovered"}


def test_coded_wins_over_set_aside_and_the_first_passage_gives_the_reason() -> None:
    whole = len(TEXT)
    found = coverage(
        TEXT,
        [(0, 3)],
        [(0, whole, "commentary"), (TEXT.index("Der"), whole, "background")],
        language="de",
    )
    assert found[0] == Sentence(0, 14, "coded", None)
    assert [(s.status, s.reason) for s in found[1:]] == [("set-aside", "commentary")] * 3


def test_a_span_over_several_sentences_touches_each_and_offsets_out_of_range_are_clipped() -> None:
    found = coverage(TEXT, [(5, 10_000)], [], language="de")
    assert {s.status for s in found} == {"coded"}


def test_an_unknown_language_falls_back_to_the_general_rules() -> None:
    assert sentences("One. Two.", "xx") == [(0, 4), (5, 9)]


def test_the_real_corpus_accounts_for_every_sentence() -> None:
    dataset = load_dataset(Repository(PROJECT))
    assert not [i for i in dataset.issues if i.code == "sentence-not-accounted"]
    by_source = coverage_by_source(dataset)
    assert sorted(by_source) == sorted(p.name for p in (PROJECT / "sources").iterdir())
    for sid, found in by_source.items():
        assert found, sid
        assert all(s.status in ("coded", "set-aside") for s in found), sid
        text = dataset.texts[sid].text or ""
        assert all(text[s.start : s.end].strip() == text[s.start : s.end] for s in found)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    make_repository(tmp_path)
    place_valid_cases(tmp_path)
    return tmp_path


def _drop_last_passage(repo: Path) -> None:
    path = repo / UNCODED
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-4]), encoding="utf-8")


def test_validate_warns_by_default_and_fails_with_require_coverage(repo: Path) -> None:
    _drop_last_passage(repo)  # "Der Zug fuhr um 10 Uhr ab." is coded by a valid case
    (repo / "events" / "2019" / "2019-04-25-kim-train-departs.yaml").unlink()
    runner = CliRunner()
    done = runner.invoke(main, ["validate", "--root", str(repo)])
    assert done.exit_code == 0, done.output
    assert f"{UNCODED}:4:1: warning[sentence-not-accounted] sentence 202..228" in done.output
    assert "start: 202, end: 228" in done.output
    assert done.output.splitlines()[-1].startswith("OK: 0 errors, 1 warning")
    done = runner.invoke(main, ["validate", "--root", str(repo), "--require-coverage"])
    assert done.exit_code == 1
    assert f"{UNCODED}:4:1: error[sentence-not-accounted]" in done.output
    done = runner.invoke(
        main, ["validate", "--root", str(repo), "--require-coverage", "--format", "json"]
    )
    [issue] = json.loads(done.output)["issues"]
    assert issue["severity"] == "error" and "escalated" not in issue


def test_require_coverage_escalates_nothing_else(repo: Path) -> None:
    # A suspected duplicate is a warning that no option escalates.
    talks = repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml"
    twin = talks.read_text(encoding="utf-8").replace(
        "event_id: 2019-04-25-kim-putin-talks", "event_id: 2019-04-25-kim-putin-talks-twin"
    )
    (talks.parent / "2019-04-25-kim-putin-talks-twin.yaml").write_text(twin, encoding="utf-8")
    done = CliRunner().invoke(main, ["validate", "--root", str(repo), "--require-coverage"])
    assert done.exit_code == 0, done.output
    assert "warning[duplicate-event-suspected]" in done.output


def test_only_warnings_name_an_option_that_escalates_them() -> None:
    escalable = {c.code: c.escalated_by for c in CODES if c.escalated_by}
    assert escalable == {"sentence-not-accounted": "--require-coverage"}
    assert BY_CODE["sentence-not-accounted"].severity is Severity.WARNING


def test_the_repository_runs_validate_with_require_coverage() -> None:
    makefile = (PROJECT / "Makefile").read_text(encoding="utf-8")
    assert "eventledger validate --require-coverage" in makefile
    workflow = (PROJECT / ".github" / "workflows" / "validate.yml").read_text(encoding="utf-8")
    assert "make validate" in workflow


def test_a_broken_uncoded_set_is_reported_once_not_sentence_by_sentence(repo: Path) -> None:
    (repo / UNCODED).write_text("source_id: [\n", encoding="utf-8")
    dataset = load_dataset(Repository(repo))
    codes = [i.code for i in dataset.issues if i.file == UNCODED]
    assert codes == ["yaml-syntax"]
    assert not [i for i in dataset.issues if i.code == "sentence-not-accounted"]
