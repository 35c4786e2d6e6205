"""validate --changed-since REV in real git repositories: what changed, what depends on it, nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from casekit import CASES
from eventledger.check.changes import ChangesError, check_changed
from eventledger.check.checker import load_dataset
from eventledger.cli import main
from eventledger.read.repository import Repository
from gitkit import BASE, case_repository, commit_all, git

TALKS = "events/2019/2019-04-25-kim-putin-talks.yaml"
TRAIN = "events/2019/2019-04-25-kim-train-departs.yaml"
BROKEN = CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml"
UNCODED = "sources/example-2019-04-25-summit/uncoded.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return case_repository(tmp_path / "repo")


def found(root: Path, rev: str = "HEAD") -> set[tuple[str, str, int]]:
    result = check_changed(Repository(root), rev)
    return {(i.file, i.code, i.line) for i in result.dataset.issues}


def full(root: Path, files: set[str]) -> set[tuple[str, str, int]]:
    """What a full check reports for the same files: the changed check must agree with it."""
    issues = load_dataset(Repository(root)).issues
    return {(i.file, i.code, i.line) for i in issues if i.file in files}


def test_nothing_changed_checks_nothing(repo: Path) -> None:
    result = check_changed(Repository(repo), "HEAD")
    assert result.changed == [] and result.dataset.records == []
    assert list(result.dataset.issues) == []


def test_a_changed_event_is_reported_and_an_old_broken_one_is_not(repo: Path) -> None:
    old = "events/2019/2019-04-25-old-broken.yaml"
    (repo / old).write_text(
        BROKEN.read_text().replace("2019-04-25-kim-putin-talks", "2019-04-25-old-broken")
    )
    commit_all(repo, "an old broken record")
    shutil.copyfile(BROKEN, repo / TALKS)
    commit_all(repo, "break the talks")
    got = found(repo, "HEAD~1")
    # The old record is context (same date prefix: a suspected duplicate) but is not reported.
    assert {(TALKS, "quote-mismatch", 35), (TALKS, "duplicate-event-suspected", 4)} == got
    assert ("events/2019/2019-04-25-old-broken.yaml", "quote-mismatch", 35) in full(repo, {old})
    assert got == full(repo, {TALKS})


def test_uncommitted_and_untracked_changes_count(repo: Path) -> None:
    shutil.copyfile(BROKEN, repo / TALKS)  # modified, not committed
    new = repo / "events" / "2019" / "2019-04-26-new.yaml"
    new.write_text("event_id: 2019-04-26-new\ntitle: [unclosed\n")  # untracked
    assert {(f, c) for f, c, _ in found(repo)} == {
        (TALKS, "quote-mismatch"),
        ("events/2019/2019-04-26-new.yaml", "yaml-syntax"),
    }


def test_a_deleted_actor_still_cited_is_reported_on_the_citing_events(repo: Path) -> None:
    (repo / "actors" / "vladimir-putin.yaml").unlink()
    commit_all(repo, "delete putin")
    got = found(repo, "HEAD~1")
    assert (TALKS, "unknown-actor", 25) in got
    assert {f for f, _, _ in got} == {TALKS}  # the train event does not cite Putin
    assert got == full(repo, {TALKS})


def test_a_changed_source_text_reaches_the_events_that_quote_it(repo: Path) -> None:
    text = repo / "sources" / "example-2019-04-25-summit" / "text.txt"
    text.write_text(text.read_text(encoding="utf-8").replace("Kim Jong Un und", "Kim und"))
    got = found(repo)
    files = {f for f, _, _ in got}
    # The uncoded set of that source is checked too: its passages quote the text.
    assert files == {"sources/example-2019-04-25-summit/source.yaml", UNCODED, TALKS, TRAIN}
    assert ("sources/example-2019-04-25-summit/source.yaml", "source-hash-mismatch", 7) in got
    assert {c for f, c, _ in got if f == UNCODED} == {
        "quote-near-miss",  # "Kim und": the passage the text now holds, seven letters short
        "quote-mismatch",
        "offsets-out-of-range",
    }
    assert got == full(repo, files)


def test_a_changed_actor_is_checked_against_the_events_that_use_it(repo: Path) -> None:
    actor = repo / "actors" / "kim-jong-un.yaml"
    actor.write_text(actor.read_text().replace("kind: person", "kind: persn"))
    got = found(repo)
    assert {(f, c) for f, c, _ in got} == {("actors/kim-jong-un.yaml", "not-in-vocabulary")}
    assert got == full(repo, {"actors/kim-jong-un.yaml"})


def test_a_new_unused_actor_is_a_warning(repo: Path) -> None:
    (repo / "actors" / "nobody.yaml").write_text(
        "actor_id: nobody\nkind: person\nname: Nobody\ndescription: No one at all.\n"
    )
    got = found(repo)
    assert ("actors/nobody.yaml", "unused-actor", 1) in got
    assert got == full(repo, {"actors/nobody.yaml"})


def test_ids_stay_unique_across_the_whole_repository(repo: Path) -> None:
    copy = repo / "events" / "2023" / "2019-04-25-kim-putin-talks.yaml"
    copy.parent.mkdir()
    shutil.copyfile(repo / TALKS, copy)
    got = found(repo)
    rel = "events/2023/2019-04-25-kim-putin-talks.yaml"
    assert {(f, c) for f, c, _ in got} == {
        (rel, "duplicate-id"),
        (rel, "wrong-folder"),
        (rel, "duplicate-event-suspected"),
    }
    assert got == full(repo, {rel})


def test_a_schema_change_checks_everything(repo: Path) -> None:
    (repo / "schema" / "vocabularies.yaml").write_text(
        (repo / "schema" / "vocabularies.yaml").read_text() + "\n"
    )
    result = check_changed(Repository(repo), "HEAD")
    assert result.full and len(result.dataset.records) == len(
        load_dataset(Repository(repo)).records
    )


def test_a_stray_file_that_changed_is_reported(repo: Path) -> None:
    (repo / "events" / "2019" / "notes.txt").write_text("todo\n")
    assert found(repo) == {("events/2019/notes.txt", "unexpected-file", 0)}


def test_unknown_revision_and_no_git_are_usage_errors(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ChangesError, match="unknown revision 'nope'"):
        check_changed(Repository(repo), "nope")
    runner = CliRunner()
    result = runner.invoke(main, ["validate", "--root", str(repo), "--changed-since", "nope"])
    assert result.exit_code == 2 and "unknown revision 'nope'" in result.output
    shutil.rmtree(repo / ".git")
    result = runner.invoke(main, ["validate", "--root", str(repo), "--changed-since", "HEAD"])
    assert result.exit_code == 2 and "not in a git work tree" in result.output


def test_cli_annotates_the_changed_record_for_github(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "contribution")
    shutil.copyfile(BROKEN, repo / TALKS)
    commit_all(repo, "contribution")
    result = CliRunner().invoke(
        main, ["validate", "--root", str(repo), "--changed-since", BASE, "--format", "github"]
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        f"::error file={TALKS},line=35,col=5,title=quote-mismatch::the quote is not at"
    )
    result = CliRunner().invoke(main, ["validate", "--root", str(repo), "--changed-since", "HEAD"])
    assert result.exit_code == 0 and result.output.startswith("OK: 0 records checked")


def test_a_deleted_event_still_named_in_distinct_from_is_reported(repo: Path) -> None:
    talks = repo / TALKS
    talks.write_text(
        talks.read_text(encoding="utf-8").replace(
            "review_status:", "distinct_from: [2019-04-25-kim-train-departs]\nreview_status:"
        ),
        encoding="utf-8",
    )
    commit_all(repo, "talks are distinct from the train")
    (repo / TRAIN).unlink()
    got = found(repo)
    assert {(f, c) for f, c, _ in got} == {(TALKS, "unknown-event")}
    assert got == full(repo, {TALKS})


def test_staged_checks_the_index_not_the_work_tree(repo: Path) -> None:
    """What pre-commit runs: the commit holds the index, so the index is what is checked."""
    shutil.copyfile(BROKEN, repo / TALKS)
    git(repo, "add", TALKS)
    (repo / TALKS).write_bytes((CASES / "valid" / Path(TALKS).name).read_bytes())  # unstaged repair
    draft = repo / "events" / "2019" / "2019-04-26-unfinished.yaml"
    draft.write_text("event_id: [unclosed\n", encoding="utf-8")  # untracked, never staged

    staged = check_changed(Repository(repo), "HEAD", staged=True)
    assert {(i.file, i.code) for i in staged.dataset.issues} == {(TALKS, "quote-mismatch")}
    assert staged.changed == [TALKS]

    work_tree = {i.file for i in check_changed(Repository(repo), "HEAD").dataset.issues}
    assert work_tree == {"events/2019/2019-04-26-unfinished.yaml"}

    result = CliRunner().invoke(main, ["validate", "--root", str(repo), "--staged"])
    assert result.exit_code == 1 and f"{TALKS}:35:5: error[quote-mismatch]" in result.output


def test_a_deleted_event_still_named_by_a_passage_is_reported(repo: Path) -> None:
    uncoded = repo / UNCODED
    uncoded.write_text(
        uncoded.read_text(encoding="utf-8").replace(
            "    reason: background\n",
            "    reason: same-event\n    event_id: 2019-04-25-kim-train-departs\n",
            1,
        ),
        encoding="utf-8",
    )
    commit_all(repo, "the last sentence tells the departure")
    (repo / TRAIN).unlink()
    got = found(repo)
    assert {(f, c) for f, c, _ in got} == {(UNCODED, "unknown-event")}
    assert got == full(repo, {UNCODED})
