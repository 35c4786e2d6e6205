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


# --- near misses: a quote that is almost in the text ------------------------------------------


def accept_near(repo: Path, rel: str) -> tuple[int, str]:
    args = ["locate", "--root", str(repo), "--write", str(repo / rel), "--accept-near"]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_a_near_miss_is_marked_and_written_only_when_accepted(repo: Path) -> None:
    path = repo / TALKS
    right = path.read_text(encoding="utf-8")
    typo = right.replace("„wichtigen Verhandlungen“", "„wichtgen Verhandlungen“")
    path.write_text(typo, encoding="utf-8")
    code, out = write_cli(repo, TALKS)
    assert code == 1
    assert "the closest passage (start: 125, end: 168, line 2) differs in 1 character" in out
    assert "character 24: the text has 'i' where the quote has nothing" in out
    assert "text:  Putin sprach von „wichti⟦i⟧gen" not in out  # one mark, at the difference
    assert "quote: Putin sprach von „wicht⟦⟧gen Verhandlungen“." in out
    assert "rerun with --accept-near" in out
    assert path.read_text(encoding="utf-8") == typo  # nothing written without the flag

    code, out = accept_near(repo, TALKS)
    assert code == 0, out
    assert path.read_text(encoding="utf-8") == right
    assert not [i for i in load_dataset(Repository(repo)).issues if i.file == TALKS]


def test_an_ambiguous_near_miss_is_not_written_even_when_accepted(repo: Path) -> None:
    text = repo / "sources" / SOURCE / "text.txt"
    twice = text.read_text(encoding="utf-8") + "\nPutin sprach von „wichtigen Verhandlungen“!"
    text.write_bytes(twice.encode("utf-8"))
    path = repo / TALKS
    near = path.read_text(encoding="utf-8").replace(
        '"Putin sprach von „wichtigen Verhandlungen“."',
        '"Putin sprach von „wichtigen Verhandlungen“?"',
    )
    path.write_text(near, encoding="utf-8")
    code, out = accept_near(repo, TALKS)
    assert code == 1
    assert "2 passages are almost the quote" in out
    assert "quote more words" in out and "nothing written" in out
    assert path.read_text(encoding="utf-8") == near


def test_validate_names_an_invisible_difference_and_points_at_the_fix(repo: Path) -> None:
    path = repo / TALKS
    path.write_text(
        path.read_text(encoding="utf-8").replace("Putin sprach von", "Putin sprach\\u202e von"),
        encoding="utf-8",
    )
    code, out = invoke(repo, "validate")
    assert code == 1
    assert f"{TALKS}:38:5: error[quote-near-miss]" in out
    assert "the quote has U+202E RIGHT-TO-LEFT OVERRIDE" in out
    assert "found: Putin sprach⟦<U+202E>⟧ von" in out
    assert f"eventledger locate --write {TALKS} --accept-near" in out


def test_the_near_miss_search_stays_fast_on_a_long_text() -> None:
    from time import perf_counter

    from eventledger.check.spans import closest_passages

    filler = " ".join(f"Wort{i % 5000} und Putin sagte am Donnerstag" for i in range(40_000))
    text = f"{filler} Das gemeinsame Treffen zwischen Kim Jong Un und Wladimir Putin. {filler}"
    began = perf_counter()
    misses = closest_passages(
        text, "Das gemeinsame Trefen zwischen Kim Jong Un und Wladimir Putin."
    )
    assert perf_counter() - began < 2.0  # about 0.05 s; a whole-text alignment takes minutes
    assert [(m.start, m.differing) for m in misses] == [(len(filler) + 1, 1)]


@pytest.mark.parametrize(
    ("date", "path", "start", "end", "precision"),
    [
        ("2019-04-25", "2019/2019-04-25-talks", "2019-04-25", "2019-04-25", "day"),
        ("2019-04", "2019/2019-04-talks", "2019-04-01", "2019-04-30", "month"),
        ("2024-02", "2024/2024-02-talks", "2024-02-01", "2024-02-29", "month"),
        ("1991", "1991/1991-talks", "1991-01-01", "1991-12-31", "year"),
        ("1980s", "1980/1980-talks", "1980-01-01", "1989-12-31", "decade"),
    ],
)
def test_new_event_takes_the_date_as_precisely_as_the_source_gives_it(
    repo: Path, date: str, path: str, start: str, end: str, precision: str
) -> None:
    code, out = invoke(repo, "new", "event", "talks", "--date", date)
    assert code == 0, out
    assert out.strip() == f"events/{path}.yaml"
    data = load((repo / out.strip()).read_bytes(), out.strip())[0]
    assert data is not None
    assert (data.data["date_start"], data.data["date_end"]) == (start, end)
    assert data.data["date_precision"] == precision
    issues = {i.code for i in load_dataset(Repository(repo)).issues if i.file == out.strip()}
    assert not issues & {"date-precision-mismatch", "invalid-date", "dates-out-of-order"}


@pytest.mark.parametrize("date", ["1985s", "2019-13", "2019-02-30", "19", "April 2019"])
def test_new_event_says_which_dates_it_takes(repo: Path, date: str) -> None:
    code, out = invoke(repo, "new", "event", "x", "--date", date)
    assert code == 2, out
    assert date in out
    assert not list((repo / "events").rglob("*-x.yaml"))


# --- new source, new actor ------------------------------------------------------------------


def new_source_cli(repo: Path, text: Path, *extra: str) -> tuple[int, str]:
    args = [
        "new",
        "source",
        "example-2019-04-26-kim-reise",
        "--root",
        str(repo),
        "--text",
        str(text),
        "--publisher",
        "Example Zeitung",
        "--title",
        "Kim reist nach Wladiwostok",
        "--published",
        "2019-04-26",
        "--language",
        "de",
        "--rights",
        "quotes-only",
        *extra,
    ]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_new_source_normalizes_the_text_and_says_every_change(repo: Path, tmp_path: Path) -> None:
    given = tmp_path / "article.txt"
    given.write_bytes(
        b"\xef\xbb\xbfKim reiste nach Wladiwostok.\r\n"
        b"Dort traf er Putin\xc2\xa0am Donnerstag. \r\n"
        b"Die Gespra\xcc\x88che dauerten lange.\r\n"
    )
    code, out = new_source_cli(
        repo,
        given,
        "--published-basis",
        "inferred",
        "--published-precision",
        "week",
        "--published-earliest",
        "2019-04-24",
        "--published-latest",
        "2019-04-27",
        "--published-note",
        "The talks 'am Donnerstag' are told as past.",
    )
    assert code == 0, out
    folder = repo / "sources" / "example-2019-04-26-kim-reise"
    text = (folder / "text.txt").read_text(encoding="utf-8")
    assert text == (
        "Kim reiste nach Wladiwostok.\nDort traf er Putin\u00a0am Donnerstag. \n"
        "Die Gespräche dauerten lange.\n"
    )
    assert "changed: removed the byte-order mark (U+FEFF) at the start" in out
    assert "changed: converted 3 CRLF line ending(s) to LF" in out
    assert "changed: normalized 1 line (first: line 3) to Unicode NFC" in out
    assert "kept: white space at the end of 1 line (first: line 2)" in out
    assert "kept: 1 U+00A0 NO-BREAK SPACE (first: line 2)" in out
    data = load((folder / "source.yaml").read_bytes(), "source.yaml")[0]
    assert data is not None
    assert data.data["characters"] == str(len(text))
    assert data.data["published_precision"] == "week"
    assert (data.data["published_earliest"], data.data["published_latest"]) == (
        "2019-04-24",
        "2019-04-27",
    )
    issues = load_dataset(Repository(repo)).issues
    # valid; its sentences wait for the records that code them (coverage warnings)
    assert not [i for i in issues.errors if i.file.startswith("sources/")], issues
    assert {i.code for i in issues if i.file.startswith("sources/")} <= {"sentence-not-accounted"}

    before = (folder / "text.txt").read_bytes()
    code, out = new_source_cli(repo, given)
    assert code == 2 and "exists already" in out
    assert (folder / "text.txt").read_bytes() == before


def test_new_source_writes_nothing_for_a_wrong_value(repo: Path, tmp_path: Path) -> None:
    given = tmp_path / "article.txt"
    given.write_text("Kim reiste nach Wladiwostok.\n", encoding="utf-8")
    code, out = new_source_cli(repo, given, "--published-precision", "weak")
    assert code == 2 and "'weak' is not one of" in out and "did you mean 'week'?" in out
    code, out = new_source_cli(repo, given, "--published-latest", "2019-04-01")
    assert code == 2 and "published_earliest <= published <= published_latest" in out
    given.write_bytes(b"Gespr\xe4che\n")  # Latin-1
    code, out = new_source_cli(repo, given)
    assert code == 2 and "not UTF-8 (byte 5, line 1)" in out
    assert not (repo / "sources" / "example-2019-04-26-kim-reise").exists()


def test_new_source_strips_trailing_white_space_only_when_asked(repo: Path, tmp_path: Path) -> None:
    given = tmp_path / "article.txt"
    given.write_text("Kim reiste ab. \nPutin blieb.\t\n", encoding="utf-8")
    code, out = new_source_cli(repo, given, "--strip-trailing-whitespace")
    assert code == 0, out
    assert "changed: removed white space at the end of 2 lines (first: line 1)" in out
    text = repo / "sources" / "example-2019-04-26-kim-reise" / "text.txt"
    assert text.read_text(encoding="utf-8") == "Kim reiste ab.\nPutin blieb.\n"


def test_new_actor_writes_a_record_that_validates(repo: Path) -> None:
    code, out = invoke(
        repo,
        "new",
        "actor",
        "kim-yo-jong",
        "--name",
        "Kim Yo Jong",
        "--kind",
        "person",
        "--written-as",
        "Kim Yo Jong",
        "--country",
        "PRK",
    )
    assert code == 0, out
    assert out.strip() == "actors/kim-yo-jong.yaml"
    issues = [i for i in load_dataset(Repository(repo)).issues if i.file == out.strip()]
    assert [i.code for i in issues] == ["unused-actor"]  # a warning until an event names it
    code, out = invoke(repo, "new", "actor", "kim-yo-jong", "--name", "X", "--kind", "person")
    assert code == 2 and "exists already" in out
    code, out = invoke(repo, "new", "actor", "x", "--name", "X", "--kind", "persn")
    assert code == 2 and "did you mean 'person'?" in out
    (repo / "actors" / "vladimir-putin.yaml").rename(repo / "putin.txt")
    commit_all(repo, "delete an actor")  # committed before, deleted now: the id stays used
    code, out = invoke(repo, "new", "actor", "vladimir-putin", "--name", "X", "--kind", "person")
    assert code == 2 and "was used before and deleted" in out


def test_a_near_miss_never_prints_an_invisible_character_as_it_is(repo: Path) -> None:
    """A bidi override the quote and the text share is shown by code point, not obeyed."""
    text = repo / "sources" / SOURCE / "text.txt"
    text.write_bytes(text.read_bytes() + "\nDas Treffen\u202e dauerte zwei Stunden.".encode())
    result = CliRunner().invoke(
        main, ["locate", "--root", str(repo), SOURCE, "Das Treffen\u202e dauerte zwie Stunden."]
    )
    assert result.exit_code == 1
    assert "\u202e" not in result.output
    assert "text:  Das Treffen<U+202E> dauerte zw" in result.output


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
