"""Whole-repository behaviour that no single case file shows."""

from __future__ import annotations

import shutil
from pathlib import Path

from casekit import CASES, PROJECT, make_repository
from eventledger.check.checker import load_dataset
from eventledger.read.repository import Repository

EVENT = CASES / "valid" / "2019-04-25-kim-putin-talks.yaml"


def test_reports_stay_linear_when_many_records_collide(tmp_path: Path) -> None:
    """Six copies of one event: each names at most three others, never the whole group."""
    make_repository(tmp_path)
    for year in range(2019, 2025):
        folder = tmp_path / "events" / str(year)
        folder.mkdir(parents=True)
        shutil.copyfile(EVENT, folder / EVENT.name)
    issues = load_dataset(Repository(tmp_path)).issues
    dup_ids = [i for i in issues if i.code == "duplicate-id"]
    suspected = [i for i in issues if i.code == "duplicate-event-suspected"]
    assert len(dup_ids) == 6 and len(suspected) == 6
    for issue in dup_ids + suspected:
        assert issue.message.endswith("and 2 more")
        assert issue.message.count("events/") == 3


def test_one_broken_file_does_not_hide_errors_in_another(tmp_path: Path) -> None:
    make_repository(tmp_path)
    folder = tmp_path / "events" / "2019"
    folder.mkdir(parents=True)
    (folder / "2019-01-01-broken.yaml").write_bytes(b"event_id: [unclosed\n")
    shutil.copyfile(
        CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml", folder / EVENT.name
    )
    codes = {(i.file, i.code) for i in load_dataset(Repository(tmp_path)).issues}
    assert ("events/2019/2019-01-01-broken.yaml", "yaml-syntax") in codes
    assert (f"events/2019/{EVENT.name}", "quote-mismatch") in codes


def test_unknown_field_suggests_the_field_meant(tmp_path: Path) -> None:
    make_repository(tmp_path)
    folder = tmp_path / "events" / "2019"
    folder.mkdir(parents=True)
    shutil.copyfile(
        CASES / "invalid" / "unknown-field" / "typo-date-strat.yaml", folder / EVENT.name
    )
    [issue] = [i for i in load_dataset(Repository(tmp_path)).issues if i.code == "unknown-field"]
    assert issue.hint == "did you mean 'date_start'?"
    assert issue.line == 9


def test_vocabulary_mistake_suggests_the_term_meant(tmp_path: Path) -> None:
    make_repository(tmp_path)
    folder = tmp_path / "events" / "2019"
    folder.mkdir(parents=True)
    shutil.copyfile(
        CASES / "invalid" / "not-in-vocabulary" / "lowercase-type.yaml", folder / EVENT.name
    )
    [issue] = [
        i for i in load_dataset(Repository(tmp_path)).issues if i.code == "not-in-vocabulary"
    ]
    assert issue.hint == "did you mean 'CONSULT'?"
    assert issue.path == ("event_type",)


def test_distinct_from_acknowledges_a_suspected_duplicate_from_either_side(tmp_path: Path) -> None:
    make_repository(tmp_path)
    folder = tmp_path / "events" / "2019"
    folder.mkdir(parents=True)
    text = EVENT.read_text(encoding="utf-8")
    shutil.copyfile(EVENT, folder / EVENT.name)
    other = text.replace("2019-04-25-kim-putin-talks", "2019-04-25-kim-putin-banquet").replace(
        "geo_precision: city", "geo_precision: city\ndistinct_from: [2019-04-25-kim-putin-talks]"
    )
    (folder / "2019-04-25-kim-putin-banquet.yaml").write_text(other, encoding="utf-8")
    issues = load_dataset(Repository(tmp_path)).issues
    assert [i for i in issues if i.code == "duplicate-event-suspected"] == []
    third = text.replace("2019-04-25-kim-putin-talks", "2019-04-25-kim-putin-walk")
    (folder / "2019-04-25-kim-putin-walk.yaml").write_text(third, encoding="utf-8")
    warned = sorted(
        (i.file, i.found)
        for i in load_dataset(Repository(tmp_path)).issues
        if i.code == "duplicate-event-suspected"
    )
    walk = "events/2019/2019-04-25-kim-putin-walk.yaml"
    assert warned == [
        ("events/2019/2019-04-25-kim-putin-banquet.yaml", walk),
        ("events/2019/2019-04-25-kim-putin-talks.yaml", walk),
        (
            walk,
            "events/2019/2019-04-25-kim-putin-banquet.yaml, events/2019/2019-04-25-kim-putin-talks.yaml",
        ),
    ]


def test_a_suspected_duplicate_never_names_nobody(tmp_path: Path) -> None:
    """Two copies share the id the third acknowledges: the third is warned about no one, and
    no warning reads "as  and 1 more" (the count once went by ids, the names by records)."""
    make_repository(tmp_path)
    folder = tmp_path / "events" / "2019"
    folder.mkdir(parents=True)
    text = EVENT.read_text(encoding="utf-8")
    shutil.copyfile(EVENT, folder / EVENT.name)
    (folder / "2019-04-25-kim-putin-talks-copy.yaml").write_text(text, encoding="utf-8")
    third = text.replace("2019-04-25-kim-putin-talks", "2019-04-25-kim-putin-walk").replace(
        "geo_precision: city", "geo_precision: city\ndistinct_from: [2019-04-25-kim-putin-talks]"
    )
    (folder / "2019-04-25-kim-putin-walk.yaml").write_text(third, encoding="utf-8")
    warned = [
        i
        for i in load_dataset(Repository(tmp_path)).issues
        if i.code == "duplicate-event-suspected"
    ]
    assert all(i.found and not i.found.startswith(" ") for i in warned)
    assert "events/2019/2019-04-25-kim-putin-walk.yaml" not in {i.file for i in warned}


def test_a_file_that_cannot_be_read_is_an_issue(tmp_path: Path) -> None:
    """A record that vanishes (or is locked) between listing and reading is reported, never
    skipped: a skipped record would silently drop out of the release."""
    from eventledger.check.checker import check_files

    make_repository(tmp_path)
    repository = Repository(tmp_path)
    files, stray = repository.discover()
    victim = next(f for f in files if f.kind == "actor")
    victim.path.unlink()
    dataset = check_files(repository, files, stray)
    found = [(i.file, i.code) for i in dataset.issues if i.code == "file-unreadable"]
    assert found == [(victim.rel, "file-unreadable")]


def test_a_whole_table_failure_is_an_issue() -> None:
    """A Pandera failure that belongs to no row (here: a column missing from the frame)
    becomes the catalogued issue table-check-failed, not a KeyError."""
    import pandas as pd

    from eventledger.check.tables import Table, check_table
    from eventledger.model.schema import load_schema

    schema = load_schema(PROJECT / "schema")
    spec = schema.tables["actors"]
    frame = pd.DataFrame({name: pd.array([], dtype="string") for name in spec.field_names[1:]})
    issues = check_table(Table(spec, frame, []), schema)
    assert issues and {i.code for i in issues} == {"table-check-failed"}


def test_an_offset_before_an_ascii_character_splits_only_a_zero_width_joiner() -> None:
    from eventledger.check.spans import splits_cluster

    # The common case is answered before the Unicode lookups; the rest still runs them.
    assert not splits_cluster("a b", 1) and not splits_cluster("e\u0301x", 2)
    assert splits_cluster("a\u200db", 2)  # after a zero-width joiner, before ASCII
    assert splits_cluster("e\u0301", 1)  # before a combining accent
    assert splits_cluster("\U0001f1eb\U0001f1f7", 1)  # inside a flag
    assert not splits_cluster("\U0001f1eb\U0001f1f7x", 2)  # after the flag, before ASCII
