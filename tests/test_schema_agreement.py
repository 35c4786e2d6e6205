"""One schema source: every field and constraint in schema/ is enforced by each projection of it.

For every field of every table and every constraint it carries, a valid value is
replaced by one that breaks exactly that constraint; the derived Pandera schema and
the derived record JSON Schema must both reject it (and accept the valid original).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pandera.pandas as pa
import pytest

from casekit import PROJECT, make_repository, place_valid_cases
from eventledger.author.generate import stale
from eventledger.check.checker import load_dataset
from eventledger.check.tables import Table, each_table, frame_of
from eventledger.cli import main
from eventledger.model.pandera_schema import table_schema
from eventledger.model.record_schema import record_schema
from eventledger.model.schema import FieldSpec, Schema, load_schema
from eventledger.publish.select import select
from eventledger.read.records import Record
from eventledger.read.repository import Repository

SCHEMA = load_schema(PROJECT / "schema")
TABLES = tuple(SCHEMA.tables)
KINDS = {k.name: k for k in SCHEMA.model.kinds}


@dataclass
class Read:
    """The records of every valid case and the tables the checks build of them."""

    records: list[Record]
    tables: dict[str, Table]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Read:
    root = tmp_path_factory.mktemp("repo")
    make_repository(root)
    place_valid_cases(root)
    ds = load_dataset(Repository(root))
    assert ds.issues.errors == []
    tables = {table.spec.name: table for table in each_table(ds.records, SCHEMA)}
    # Derived tables hold no records: take their rows from what a release would ship.
    shipped = select(ds).rows
    for name in SCHEMA.model.derived:
        tables[name] = Table(SCHEMA.tables[name], frame_of(SCHEMA.tables[name], shipped[name]))
    return Read(ds.records, tables)


def violations(spec: FieldSpec, schema: Schema) -> list[tuple[str, Any]]:
    """(constraint, a value that breaks only it) for every constraint of spec."""
    wrap = (lambda v: [v]) if spec.type == "list" else (lambda v: v)
    out: list[tuple[str, Any]] = []
    if spec.required:
        out.append(("required", None))
    if schema.terms(spec) is not None:
        out.append(("vocabulary", wrap("not-a-term")))
    if spec.pattern is not None:
        out.append(("pattern", wrap("!! not matching !!")))
    if spec.codelist is not None:
        # The right shape (it matches the pattern) but no code: QQQ is a user-assigned range.
        out.append(("codelist", wrap("QQQ")))
    if spec.minimum is not None:
        out.append(("minimum", type(spec.minimum)(spec.minimum) - 1))
    if spec.maximum is not None:
        out.append(("maximum", type(spec.maximum)(spec.maximum) + 1))
    if spec.min_length is not None:
        out.append(("minLength", "x" * (spec.min_length - 1)))
    if spec.max_length is not None:
        out.append(("maxLength", "x" * (spec.max_length + 1)))
    return out


CONSTRAINTS = [
    (table, spec.name, constraint, value)
    for table in TABLES
    for spec in SCHEMA.tables[table].fields
    for constraint, value in violations(spec, SCHEMA)
]


def test_every_constraint_in_schema_is_listed() -> None:
    """Guard the guard: the parametrization covers each constraint key the Table Schemas use."""
    used = set()
    for table in TABLES:
        for raw in SCHEMA.tables[table].raw["fields"]:
            used |= set(raw.get("constraints", {}))
            if "vocabulary" in raw:
                used.add("vocabulary")
            if "codelist" in raw:
                used.add("codelist")
    tested = {c for _, _, c, _ in CONSTRAINTS} | {"unique"}
    assert used <= tested


def _frame(dataset: Read, table: str, column: str, value: Any) -> pd.DataFrame:
    frame = dataset.tables[table].frame.head(1).copy()
    frame[column] = frame[column].astype(object)
    frame.at[frame.index[0], column] = value
    frame[column] = frame[column].astype(dataset.tables[table].frame[column].dtype)
    return frame


def _failing_columns(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> set[str]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return {str(c) for c in err.failure_cases["column"]}
    return set()


@pytest.mark.parametrize(
    ("table", "column", "constraint", "value"),
    CONSTRAINTS,
    ids=[f"{t}.{c}.{k}" for t, c, k, _ in CONSTRAINTS],
)
def test_pandera_enforces(
    dataset: Read, table: str, column: str, constraint: str, value: Any
) -> None:
    schema, _ = table_schema(SCHEMA.tables[table], SCHEMA)
    assert _failing_columns(schema, dataset.tables[table].frame) == set()
    assert column in _failing_columns(schema, _frame(dataset, table, column, value))


@pytest.mark.parametrize("table", TABLES)
def test_pandera_enforces_keys(dataset: Read, table: str) -> None:
    spec = SCHEMA.tables[table]
    schema, _ = table_schema(spec, SCHEMA)
    frame = dataset.tables[table].frame.head(1)
    doubled = pd.concat([frame, frame], ignore_index=True)
    failing = _failing_columns(schema, doubled)
    unique = [f.name for f in spec.fields if f.unique]
    assert set(unique) <= failing
    if len(spec.primary_key) > 1:
        assert failing  # the composite primary key repeats


def _json(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _document(dataset: Read, kind: str) -> dict[str, Any]:
    record = next(r for r in dataset.records if r.kind == kind)
    main = {
        f.name: _json(record.main()[f.name])
        for f in SCHEMA.tables[KINDS[kind].table].written_fields
    }
    doc = {k: v for k, v in main.items() if v is not None}
    for child in KINDS[kind].children:
        fields = SCHEMA.tables[child.table].written_fields
        doc[child.key] = [
            {f.name: _json(r.values[f.name]) for f in fields if r.values[f.name] is not None}
            for r in record.children(child.table)
        ]
    return doc


def _targets(table: str) -> tuple[str, str | None]:
    """(record kind, child list key) of the record in which a table's fields are written."""
    for kind in KINDS.values():
        if kind.table == table:
            return kind.name, None
        for child in kind.children:
            if child.table == table:
                return kind.name, child.key
    raise KeyError(table)


RECORD_CONSTRAINTS = [
    c
    for c in CONSTRAINTS
    if c[0] not in SCHEMA.model.derived and SCHEMA.tables[c[0]].field(c[1]).written
]


@pytest.mark.parametrize(
    ("table", "column", "constraint", "value"),
    RECORD_CONSTRAINTS,
    ids=[f"{t}.{c}.{k}" for t, c, k, _ in RECORD_CONSTRAINTS],
)
def test_record_json_schema_enforces(
    dataset: Read, table: str, column: str, constraint: str, value: Any
) -> None:
    kind, key = _targets(table)
    validator = jsonschema.Draft202012Validator(record_schema(kind, SCHEMA))
    doc = _document(dataset, kind)
    assert list(validator.iter_errors(doc)) == []
    target = doc[key][0] if key else doc
    if value is None:
        target.pop(column, None)
    else:
        target[column] = value
    assert list(validator.iter_errors(doc)) != []


def test_record_json_schema_rejects_unknown_keys(dataset: Read) -> None:
    validator = jsonschema.Draft202012Validator(record_schema("event", SCHEMA))
    doc = _document(dataset, "event")
    doc["date_strat"] = "2019-04-25"
    assert [e.validator for e in validator.iter_errors(doc)] == ["additionalProperties"]


def test_record_json_schemas_are_valid_json_schema() -> None:
    for kind in KINDS:
        jsonschema.Draft202012Validator.check_schema(record_schema(kind, SCHEMA))


def test_derived_files_are_up_to_date() -> None:
    assert [p.relative_to(PROJECT).as_posix() for p in stale(Repository(PROJECT), main)] == []


def test_every_vocabulary_term_has_a_definition() -> None:
    for vocab in SCHEMA.vocabularies.values():
        assert vocab.description
        assert all(definition.strip() for definition in vocab.terms.values()), vocab.name


def test_plover_types_are_the_sixteen() -> None:
    assert list(SCHEMA.vocabularies["event_type"].terms) == [
        "AGREE",
        "CONSULT",
        "SUPPORT",
        "CONCEDE",
        "COOPERATE",
        "AID",
        "RETREAT",
        "REQUEST",
        "ACCUSE",
        "REJECT",
        "THREATEN",
        "PROTEST",
        "SANCTION",
        "MOBILIZE",
        "COERCE",
        "ASSAULT",
    ]


def test_template_is_a_record_with_every_written_field(tmp_path: Path) -> None:
    from eventledger.syntax.strict_yaml import load

    text = (PROJECT / "schema" / "templates" / "event.yaml").read_bytes()
    doc, issues = load(text, "event.yaml")
    assert issues == [] and doc is not None
    assert set(doc.data) == {f.name for f in SCHEMA.tables["events"].written_fields} | {
        c.key for c in KINDS["event"].children
    }
