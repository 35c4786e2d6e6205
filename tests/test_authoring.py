"""Authoring help: `new event` scaffolds a record, `locate --write` sets span offsets in place."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from casekit import CASES
from eventledger.author.scaffold import ScaffoldError, next_id
from eventledger.check.checker import load_dataset
from eventledger.cli import main
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import load
from gitkit import case_repository, commit_all

SOURCE = "example-2019-04-25-summit"
TALKS = "events/2019/2019-04-25-kim-putin-talks.yaml"
TRAIN = "events/2019/2019-04-25-kim-train-departs.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return case_repository(tmp_path / "repo")


def invoke(repo: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args[:2], "--root", str(repo), *args[2:]])
    return result.exit_code, result.output


def write_cli(repo: Path, rel: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["locate", "--root", str(repo), "--write", str(repo / rel)])
    return result.exit_code, result.output


# --- new event ---------------------------------------------------------------------------


def test_next_id_from_a_slug() -> None:
    day = dt.date(2019, 4, 26)
    assert next_id("Kim leaves, by train!", day, set()) == "2019-04-26-kim-leaves-by-train"
    assert next_id("2019-04-26-kim-leaves", day, set()) == "2019-04-26-kim-leaves"
    taken = {"2019-04-26-kim-leaves", "2019-04-26-kim-leaves-2"}
    assert next_id("kim-leaves", day, taken) == "2019-04-26-kim-leaves-3"
    with pytest.raises(ScaffoldError, match="no letters or digits"):
        next_id("!!!", day, set())


def test_new_event_writes_a_draft_from_the_template(repo: Path) -> None:
    code, out = invoke(
        repo, "new", "event", "kim leaves", "--date", "2019-04-26", "--source", SOURCE
    )
    assert code == 0, out
    rel = "events/2019/2019-04-26-kim-leaves.yaml"
    assert out.strip() == rel
    raw = (repo / rel).read_bytes()
    doc, issues = load(raw, rel)
    assert doc is not None and issues == []
    assert doc.data["event_id"] == "2019-04-26-kim-leaves"
    assert doc.data["date_start"] == doc.data["date_end"] == "2019-04-26"
    assert doc.data["review_status"] == "draft"
    assert doc.data["evidence"][0]["source_id"] == SOURCE
    assert b"# PLOVER event type." in raw  # the field descriptions stay as comments
    # A draft is not yet a valid record: validate says what is left to fill in.
    issues_left = {i.code for i in load_dataset(Repository(repo)).issues if i.file == rel}
    assert "missing-field" in issues_left


def test_new_event_takes_the_date_from_the_slug_or_today_and_never_reuses_an_id(
    repo: Path,
) -> None:
    code, out = invoke(repo, "new", "event", "2019-04-25-kim-putin-talks")
    assert code == 0 and out.strip() == "events/2019/2019-04-25-kim-putin-talks-2.yaml"
    (repo / TRAIN).unlink()
    commit_all(repo, "delete the train event")
    code, out = invoke(repo, "new", "event", "2019-04-25-kim-train-departs")
    assert out.strip() == "events/2019/2019-04-25-kim-train-departs-2.yaml"  # deleted ids stay used
    code, out = invoke(repo, "new", "event", "something")
    today = dt.date.today()
    assert out.strip() == f"events/{today.year}/{today.isoformat()}-something.yaml"


def test_new_event_rejects_a_bad_date_as_usage_error(repo: Path) -> None:
    code, out = invoke(repo, "new", "event", "x", "--date", "25.04.2019")
    assert code == 2 and "25.04.2019" in out


# --- locate --write ------------------------------------------------------------------------


def test_fills_in_empty_offsets_keeping_every_other_byte(repo: Path) -> None:
    path = repo / TRAIN
    original = path.read_text(encoding="utf-8")
    blank = original.replace("start: 218", "start:").replace("end: 201", "end:  # fill me")
    path.write_text(blank, encoding="utf-8")
    code, out = write_cli(repo, TRAIN)
    assert code == 0, out
    assert path.read_text(encoding="utf-8") == original.replace("end: 201", "end: 201  # fill me")
    assert '"10\\u00a0Uhr"' in path.read_text(encoding="utf-8")  # escapes stay escapes
    assert f"{TRAIN}:17: evidence[0]: start: 218, end: 224  (was start: , end: 224)" in out


def test_repairs_shifted_offsets(repo: Path) -> None:
    shutil.copyfile(CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml", repo / TALKS)
    code, _ = write_cli(repo, TALKS)
    assert code == 0
    assert not [i for i in load_dataset(Repository(repo)).issues if i.file == TALKS]
    shifted = (CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml").read_text()
    fixed = shifted.replace("start: 126\n    end: 169", "start: 125\n    end: 168")
    assert (repo / TALKS).read_text(encoding="utf-8") == fixed


def test_inserts_missing_offset_lines(repo: Path) -> None:
    path = repo / TALKS
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("    start: 125\n    end: 168\n", ""), encoding="utf-8")
    code, out = write_cli(repo, TALKS)
    assert code == 0, out
    assert path.read_text(encoding="utf-8") == original


def test_refuses_an_ambiguous_quote_listing_the_candidates(repo: Path) -> None:
    path = repo / TALKS
    ambiguous = path.read_text(encoding="utf-8").replace(
        '"Putin sprach von „wichtigen Verhandlungen“."', "Putin"
    )
    path.write_text(ambiguous, encoding="utf-8")
    code, out = write_cli(repo, TALKS)
    assert code == 1
    assert f"{TALKS}:35: evidence[1]: the quote occurs 2 times" in out
    assert "candidate: start: 25, end: 30  (line 1)" in out
    assert "candidate: start: 125, end: 130  (line 2)" in out
    assert "nothing written" in out
    assert path.read_text(encoding="utf-8") == ambiguous


def test_offsets_that_point_at_one_occurrence_choose_it(repo: Path) -> None:
    path = repo / TALKS
    text = path.read_text(encoding="utf-8").replace(
        '"Putin sprach von „wichtigen Verhandlungen“."', "Putin"
    )
    path.write_text(text.replace("end: 168", "end: 130"), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    code, out = write_cli(repo, TALKS)
    assert code == 0 and "already right; file unchanged" in out
    assert path.read_text(encoding="utf-8") == before


def test_nothing_is_written_when_one_span_cannot_be_settled(repo: Path) -> None:
    path = repo / TALKS
    broken = (
        path.read_text(encoding="utf-8")
        .replace("start: 0", "start: 3")  # repairable
        .replace("„wichtigen Verhandlungen“", "wichtige Verhandlungen")  # not in the text
    )
    path.write_text(broken, encoding="utf-8")
    code, out = write_cli(repo, TALKS)
    assert code == 1 and "the quote occurs nowhere" in out
    assert path.read_text(encoding="utf-8") == broken
    assert not list(path.parent.glob(".*.tmp"))


def test_a_file_that_is_not_yaml_is_a_clear_error(repo: Path) -> None:
    (repo / TALKS).write_text("event_id: [unclosed\n", encoding="utf-8")
    code, out = write_cli(repo, TALKS)
    assert code == 1 and f"{TALKS}: cannot read the record (line 2:" in out
    assert "Traceback" not in out


def test_fills_in_the_passages_of_an_uncoded_set(repo: Path) -> None:
    """The passages of sources/<id>/uncoded.yaml are spans too: their source is the set's id."""
    rel = f"sources/{SOURCE}/uncoded.yaml"
    path = repo / rel
    original = path.read_text(encoding="utf-8")
    blank = original.replace("  - start: 125\n    end: 201\n", "  - end: 7\n")
    assert blank != original
    path.write_text(blank, encoding="utf-8")
    code, out = write_cli(repo, rel)
    assert code == 0, out
    assert f"{rel}:10: passages[1]: start: 125, end: 201  (was start: , end: 7)" in out
    assert not [i for i in load_dataset(Repository(repo)).issues if i.file == rel]
    # A missing start goes after the quote (a passage names no source of its own).
    assert '«Wir sind zufrieden.»"\n    start: 125\n    reason: commentary' in path.read_text(
        encoding="utf-8"
    )
