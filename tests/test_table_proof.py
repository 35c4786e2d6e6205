"""check/table_proof.py says "Pandera passes these rows" only when Pandera does: on random
rows of every table (valid values, nulls, wrong types, values out of range, repeats), and
it does say so for the corpus's own records, so a valid edit needs no pandas."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casekit import PROJECT, copy_corpus
from eventledger.check.parallel import read_files
from eventledger.check.table_proof import clean, passes
from eventledger.check.tables import failures, frame_of
from eventledger.model.codelists import codelist
from eventledger.model.pandera_schema import column_checks
from eventledger.model.schema import FieldSpec, Schema, load_schema
from eventledger.read.records import Row
from eventledger.read.repository import Repository

SCHEMA = load_schema(PROJECT / "schema")


def _fitting(spec: FieldSpec, schema: Schema) -> st.SearchStrategy[Any]:
    """Values that keep every rule of the field (or mostly: a drawn pattern may be long)."""
    terms = sorted(schema.terms(spec) or [])
    if terms:
        text: st.SearchStrategy[Any] = st.sampled_from(terms)
    elif spec.codelist is not None:
        text = st.sampled_from(sorted(codelist(spec.codelist).codes))
    elif spec.pattern is not None:
        text = st.from_regex(spec.pattern, fullmatch=True)
    else:
        text = st.text(min_size=spec.min_length or 0, max_size=spec.max_length or 12)
    low = -5 if spec.minimum is None else int(spec.minimum)
    high = 1000 if spec.maximum is None else int(spec.maximum)
    fitting: dict[str, st.SearchStrategy[Any]] = {
        "string": text,
        "integer": st.integers(low, high),
        "number": st.floats(low, high) | st.integers(low, high),
        "date": st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 1, 1)),
        "list": st.lists(text, max_size=3),
    }
    found = fitting[spec.type]
    return found if spec.required else found | st.none()


BREAKING: list[Any] = [
    None,
    True,
    "7",
    "",
    "x" * 200,
    3,
    -1,
    1 << 64,
    2.5,
    float("nan"),
    float("inf"),
]
BREAKING += [dt.date(2000, 1, 1), dt.datetime(2000, 1, 1), ["a"], ["nonsense"], [1]]


def _rows(name: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """One to three rows that keep the rules, then maybe one value broken or a row repeated."""
    table = SCHEMA.tables[name]
    row = st.fixed_dictionaries({f.name: _fitting(f, SCHEMA) for f in table.fields})

    @st.composite
    def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
        found = draw(st.lists(row, min_size=1, max_size=3))
        how = draw(st.sampled_from(["none", "value", "repeat"]))
        if how == "value":
            at = draw(st.integers(0, len(found) - 1))
            field = draw(st.sampled_from([f.name for f in table.fields]))
            found[at] = found[at] | {field: draw(st.sampled_from(BREAKING))}
        elif how == "repeat":
            found.append(dict(draw(st.sampled_from(found))))
        return found

    return rows()


@pytest.mark.parametrize("name", sorted(SCHEMA.tables))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_clean_only_where_pandera_finds_nothing(name: str, data: st.DataObject) -> None:
    table = SCHEMA.tables[name]
    rows = data.draw(_rows(name))
    if clean(table, rows, SCHEMA):
        try:
            frame = frame_of(table, rows)
        except (TypeError, ValueError, OverflowError) as err:  # pragma: no cover
            pytest.fail(f"called clean, but pandas cannot even build the table: {err}")
        cases, _ = failures(table, frame, SCHEMA)
        assert cases == [], rows


@pytest.mark.parametrize("name", sorted(SCHEMA.tables))
def test_each_pandera_check_reports_the_constraint_it_is_listed_for(name: str) -> None:
    # A failure is reported by the constraint at its check's place (check/table_report.py),
    # and the proof answers with the same list (model/constraints.field_constraints).
    for spec in SCHEMA.tables[name].fields:
        built = column_checks(spec, SCHEMA)
        assert [check.error for check in built.checks] == list(built.constraints), spec.name


def test_the_corpus_is_certainly_clean_as_pandera_says() -> None:
    repository = Repository(PROJECT)
    files, _ = repository.discover()
    records = read_files(files, SCHEMA)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMA.tables}
    for record in records:
        for row in record.rows:
            rows[row.table].append(row.values)
    found = passes(list(rows.items()), SCHEMA)
    assert found is not None
    for (name, values), answer in zip(rows.items(), found, strict=True):
        table = SCHEMA.tables[name]
        assert answer == failures(table, frame_of(table, values), SCHEMA)


def test_what_is_not_certain() -> None:
    events = SCHEMA.tables["events"]
    valid = {
        "event_id": "2019-a",
        "title": "A title",
        "summary": "A summary here",
        "event_type": "CONSULT",
        "factuality": "occurred",
        "date_start": dt.date(2019, 4, 25),
        "date_end": dt.date(2019, 4, 25),
        "date_precision": "day",
        "date_basis": "stated",
        "review_status": "verified",
    }
    assert clean(events, [valid], SCHEMA)
    assert clean(events, [], SCHEMA)
    for change in (
        {"title": None},  # required
        {"title": "x"},  # too short
        {"event_type": "MEET"},  # not a term
        {"latitude": float("nan")},  # pandas reads NaN as a null
        {"latitude": 91.0},
        {"geonames_id": True},  # a bool is no integer to pandas
        {"date_start": dt.datetime(2019, 4, 25)},  # a datetime is no date
        {"context": ["nonsense"]},
    ):
        assert not clean(events, [valid | change], SCHEMA), change
    assert not clean(events, [valid, valid], SCHEMA)  # a repeated unique id


@pytest.mark.parametrize("name", sorted(SCHEMA.tables))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rows_are_proved_as_their_dicts_are(name: str, data: st.DataObject) -> None:
    # A whole check proves the records' Rows, read a column at a time from their value
    # tuples when they share one shape; rows of several shapes (a field left out) are read
    # one by one. Either way the answer is the one for the same rows as dicts, which the
    # test above holds to Pandera's.
    table = SCHEMA.tables[name]
    rows = data.draw(_rows(name))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(rows) - 1))
        left_out = data.draw(st.sampled_from([f.name for f in table.fields]))
        rows[at] = {k: v for k, v in rows[at].items() if k != left_out}
    as_rows = [Row.of(name, dict(row), ()) for row in rows]
    assert clean(table, as_rows, SCHEMA) == clean(table, rows, SCHEMA)


def test_a_valid_repository_is_checked_without_pandas(tmp_path: Path) -> None:
    """The corpus's rows are certainly clean: a whole check (workers, cache, summaries) tells
    Pandera's verdict without importing pandas or Pandera, with the output of --no-cache."""
    root = copy_corpus(tmp_path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from eventledger.check.incremental import check_repository\n"
        "from eventledger.read.cache import Cache\n"
        "from eventledger.read.repository import Repository\n"
        "repository = Repository(Path(sys.argv[1]))\n"
        "cache = Cache.open(repository.root, repository.schema_dir, '')\n"
        "outcome = check_repository(repository, jobs=2, cache=cache)\n"
        "print(outcome.records, len(outcome.issues), outcome.from_cache)\n"
        "print(sorted(m for m in ('pandas', 'pandera') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    counts, imported = done.stdout.splitlines()
    assert imported == "[]"
    records, _, from_cache = counts.split()
    assert int(records) > 0 and from_cache == "False"
    plain = subprocess.run(
        [sys.executable, "-m", "eventledger", "validate", "--no-cache", "--root", str(root)],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 0, plain.stdout
    assert f"{records} records checked" in plain.stdout
