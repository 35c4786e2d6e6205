"""What one release holds: verified events with their participants and evidence, the
actors and sources they name, the uncoded sets of those sources, and the tables derived
from them (the coverage of each source).

Rows are plain dicts of typed values (str, int, float, datetime.date, list[str] or None), the
same values the checker produced from the YAML records, so nothing is re-parsed on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventledger import collector
from eventledger.check.coverage import LANGUAGE_FIELD, counts, coverage_of
from eventledger.model.kinds import SOURCE_TABLE, Model
from eventledger.model.schema import TableSpec
from eventledger.model.terms import FULL_TEXT_RIGHTS, VERIFIED

if TYPE_CHECKING:  # the checker brings pandas; selecting rows needs only its records
    from eventledger.check.checker import Dataset
    from eventledger.read.records import Record, Shape
    from eventledger.read.records import Row as ReadRow

Row = dict[str, Any]
REVIEW_FIELD = "review_status"  # a kind whose table has it ships only its verified records
COVERAGE_TABLE = "coverage"  # derived: sentences per source, status and reason


@dataclass
class Selection:
    """What one release holds: rows per table (sorted by key) and what was held back."""

    rows: dict[str, list[Row]]
    drafts: list[str] = field(default_factory=list)  # ids of events not verified, not shipped
    full_texts: dict[str, str] = field(default_factory=dict)  # source id -> text, open rights only


def _key(spec: TableSpec) -> Any:
    names = spec.primary_key
    # An empty cell (a coverage row's reason) sorts first; None never meets a str. Flat
    # (present, value, present, value, ...) orders as the pairs would, made without a
    # generator per row for the one- and two-field keys of the bulk tables.
    if len(names) == 1:
        (a,) = names
        return lambda row: (row[a] is not None, row[a])
    if len(names) == 2:
        a, b = names
        return lambda row: (row[a] is not None, row[a], row[b] is not None, row[b])

    def key(row: Row) -> tuple[Any, ...]:
        return tuple(x for n in names for x in (row[n] is not None, row[n]))

    return key


def select(dataset: Dataset, *, consume: bool = False) -> Selection:
    """Verified records with their child rows, the records they name, the records that
    name what ships, and the derived tables.

    A kind whose table has a review status ships its verified records; drafts are left out
    (and named). Any other kind ships the records that shipped rows name (so a release never
    carries actors or sources that only drafts name) and the records that name a shipped
    record (an uncoded set ships with its source), each with its child rows. An optional
    reference to a record that does not ship (a passage naming a draft event) is emptied,
    so every foreign key of the package resolves.

    With consume, the records of the reviewed kinds (the bulk: events) leave dataset.records
    one by one as their rows are copied, so the records and the rows that ship are never both
    whole in memory; a release needs nothing else of them.
    """
    # The garbage collector paused: the rows made here (a dict each, no cycles) made its
    # passes walk all of them and free nothing, a third of the time taken.
    with collector.paused():
        return _select(dataset, consume=consume)


def _select(dataset: Dataset, *, consume: bool) -> Selection:
    schema = dataset.schema
    model = schema.model
    rows: dict[str, list[Row]] = {name: [] for name in schema.tables}
    drafts: list[str] = []
    reviewed = {k.name for k in model.kinds if REVIEW_FIELD in schema.tables[k.table].field_names}
    copy = _RowCopier({name: spec.field_names for name, spec in schema.tables.items()})
    records = dataset.records
    others = []  # records of the kinds that ship when named, read again below
    if consume:
        records.reverse()  # popped from the end, in their order
    for record in _taken(records) if consume else records:
        if record.kind not in reviewed:
            others.append(record)
            continue
        if not record.rows:
            continue
        if record.main().get(REVIEW_FIELD) != VERIFIED:
            drafts.append(str(record.id or record.file))
            continue
        for row in record.rows:
            rows[row.table].append(copy(row))
    if consume:
        records.extend(others)
    for kind in model.kinds:
        if kind.name in reviewed:
            continue
        named = {
            row[ref.field]
            for ref in model.references_to(kind.table)
            if not ref.items
            for row in rows[ref.table]
        }
        naming = [
            (ref.field, {row[ref.target_field] for row in rows[ref.target]})
            for ref in model.references_from(kind.table)
            if not ref.items
        ]
        for record in others:
            if record.kind != kind.name or not record.rows:
                continue
            main = record.main()
            if record.id in named or any(main.get(f) in shipped for f, shipped in naming):
                for row in record.rows:
                    rows[row.table].append(copy(row))
    _empty_withheld_references(rows, schema.tables, model)
    rows[COVERAGE_TABLE] = coverage_rows(dataset, rows)
    _withhold_set_aside_quotes(rows, model, reviewed)
    for name, spec in schema.tables.items():
        # A list a record leaves out is the empty list, in every table and format: [] in
        # Parquet, an empty cell in CSV; a loader never has to tell null from [] apart.
        for f in spec.fields:
            if f.type == "list":
                for values in rows[name]:
                    if values.get(f.name) is None:
                        values[f.name] = []
        rows[name].sort(key=_key(spec))
    texts: dict[str, str] = {}
    for source in rows[SOURCE_TABLE]:
        text = dataset.texts.get(source["source_id"])
        if source.get("rights") in FULL_TEXT_RIGHTS and text is not None and text.text is not None:
            texts[source["source_id"]] = text.text
    return Selection(rows, sorted(drafts), texts)


class _RowCopier:
    """A read row as a dict of its table's fields in the table's order, a field it lacks None.

    Rows of a table come in a few shapes (the fields a record writes out). For each shape a
    function is made once that builds the dict as one literal, {"event_id": items[0], ...}:
    a third of the time of zipping names onto values (dict(zip(...))) or of looking each
    field up by name, for the hundreds of thousands of rows of a release."""

    def __init__(self, names: dict[str, tuple[str, ...]]) -> None:
        self.names = names
        self.makers: dict[tuple[str, Shape], Callable[[tuple[Any, ...]], Row]] = {}

    def __call__(self, row: ReadRow) -> Row:
        key = (row.table, row.shape)
        make = self.makers.get(key)
        if make is None:
            make = self.makers[key] = _dict_maker(self.names[row.table], row.shape.at)
        return make(row.items)


def _dict_maker(names: Sequence[str], at: Mapping[str, int]) -> Callable[[tuple[Any, ...]], Row]:
    """The function of values in the order of at to the dict of names: the code of one dict
    literal, as dataclasses and namedtuple make theirs. Only repr() of each name (a str
    literal, whatever the schema names a field) and whole numbers go into it."""
    entries = ", ".join(
        f"{str(name)!r}: {'None' if name not in at else f'items[{int(at[name])}]'}"
        for name in names
    )
    made: Callable[[tuple[Any, ...]], Row] = eval(f"lambda items: {{{entries}}}", {})  # noqa: S307
    return made


def _taken(records: list[Record]) -> Iterator[Record]:
    """The records popped off the end of the list, each dropped by it as it is handed out."""
    while records:
        yield records.pop()


def _empty_withheld_references(
    rows: dict[str, list[Row]], tables: dict[str, TableSpec], model: Model
) -> None:
    for ref in model.references:
        if ref.items or ref.structural or tables[ref.table].field(ref.field).required:
            continue
        shipped = {row[ref.target_field] for row in rows[ref.target]}
        for row in rows[ref.table]:
            if row.get(ref.field) is not None and row[ref.field] not in shipped:
                row[ref.field] = None


def _withhold_set_aside_quotes(
    rows: dict[str, list[Row]], model: Model, reviewed: set[str]
) -> None:
    """Passages set aside quote every sentence no record codes: with the evidence quotes
    they are nearly the whole article. For a source whose rights do not let its text ship
    (quotes-only press texts), they stay in the repository; the release carries only the
    counts in the coverage table."""
    full = {s["source_id"] for s in rows[SOURCE_TABLE] if s.get("rights") in FULL_TEXT_RIGHTS}
    for kind in model.kinds:
        spans = [model.span_table(c.table) for c in kind.children]
        if kind.name not in reviewed and any(spans):
            for child, span in zip(kind.children, spans, strict=True):
                if span is not None:
                    rows[child.table] = [
                        r for r in rows[child.table] if r[span.source_field] in full
                    ]
            keep = {r[child.parent_field] for child in kind.children for r in rows[child.table]}
            rows[kind.table] = [r for r in rows[kind.table] if r[kind.id_field] in keep]


def coverage_rows(dataset: Dataset, rows: dict[str, list[Row]]) -> list[Row]:
    """How many sentences of each shipped source are coded by shipped records, set aside
    (by reason) by shipped passages, or neither: one row per source, status and reason."""
    texts = {}
    languages = {}
    for source in rows[SOURCE_TABLE]:
        sid = source["source_id"]
        text = dataset.texts.get(sid)
        if text is not None and text.text is not None:
            texts[sid] = text.text
            languages[sid] = str(source.get(LANGUAGE_FIELD) or "")
    out: list[Row] = []
    for sid, found in coverage_of(dataset.schema.model, rows, texts, languages).items():
        for (status, reason), n in counts(found).items():
            out.append({"source_id": sid, "status": status, "reason": reason, "sentences": n})
    return out
