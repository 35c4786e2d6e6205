"""The dataset model: which record kinds exist, where their files live, which tables they
fill and how those tables refer to each other, derived from schema/.

The Table Schemas say almost everything: a table whose key field has `origin: parent` is
a child table written inside its parent's record (its foreign key on that field names the
parent), `origin: position` numbers the items of such a list, `primaryKey` gives each
record table its id field, and `foreignKeys` (plus `itemReference` on list fields, which
Table Schema cannot key) are the references the checks resolve. The one thing schema/
cannot say is where a record's file lives: that is LAYOUTS, one line per kind. A table
that no one writes because the tool computes it for a release is named in DERIVED.

A table whose rows quote a source (fields start, end and quote, and a reference that
leads to the source table) is a span table: every such row is checked against the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventledger.model.schema import TableSpec


class ModelError(Exception):
    """schema/ and the layout disagree: a bug in the repository, not in a record."""


@dataclass(frozen=True)
class Layout:
    """Where the records of one kind live, under its folder."""

    kind: str  # singular name, used in messages and in `eventledger new <kind>`
    table: str
    folder: str
    file: str = "{id}.yaml"  # the record's file name
    id_folder: bool = False  # the record sits in a folder named by its id
    year_from: str | None = None  # the record sits in a <yyyy> folder: the year of this date field
    companions: tuple[str, ...] = ()  # other files allowed beside the record
    children: tuple[str, ...] = ()  # child tables in the order a record lists them

    @property
    def depth(self) -> int:
        """How many folders down from the repository root a record file stands."""
        return 1 + (self.id_folder or self.year_from is not None)

    def place(self, record_id: str) -> str:
        """Where the record with this id is written (the folder, for a record in its own)."""
        if self.id_folder:
            return f"{self.folder}/{record_id}/"
        if self.year_from is not None:
            return f"{self.folder}/<yyyy>/{record_id}.yaml"
        return f"{self.folder}/{record_id}.yaml"

    def pattern(self) -> str:
        """The layout in words, for a file that fits no kind."""
        if self.id_folder:
            return " and ".join((f"{self.folder}/<id>/{self.file}", *self.companions))
        if self.year_from is not None:
            return f"{self.folder}/<yyyy>/{self.file.format(id='<id>')}"
        return f"{self.folder}/{self.file.format(id='<id>')}"


LAYOUTS: tuple[Layout, ...] = (
    Layout("event", "events", "events", year_from="date_start", children=("participants", "evidence")),
    Layout("actor", "actors", "actors"),
    Layout("source", "sources", "sources", file="source.yaml", id_folder=True, companions=("text.txt",)),
    Layout("uncoded", "uncoded", "sources", file="uncoded.yaml", id_folder=True, children=("passages",)),
)  # fmt: skip

# Tables the tool computes from the records when it builds a release; nobody writes them.
DERIVED: tuple[str, ...] = ("coverage",)

# The table whose records stand beside the texts that spans quote (sources/<id>/text.txt).
SOURCE_TABLE = "sources"
# The fields that make a row a span of a source text: text[start:end] == quote.
SPAN_FIELDS = ("start", "end", "quote")
# The span table whose rows set sentences of a source aside (with a reason) instead of coding them.
PASSAGES = "passages"


@dataclass(frozen=True)
class Child:
    """A table whose rows are written as a list inside a record of their parent."""

    table: str
    key: str  # the list's key in the record
    parent_field: str  # filled from the parent's id (origin: parent)
    position_field: str | None  # numbered 1, 2, ... by place in the list (origin: position)
    item_key: tuple[str, ...]  # what tells the items of one parent apart (primaryKey less parent)


@dataclass(frozen=True)
class Reference:
    """A field whose values (or list items) are ids of records of another table."""

    table: str
    field: str
    target: str
    target_field: str
    items: bool  # a list field: each item is a reference
    structural: bool  # a child's link to its parent, given by where it is written


@dataclass(frozen=True)
class SpanTable:
    """A table whose rows quote a source text: evidence of events, passages set aside."""

    table: str
    source_field: str  # holds the id of the source whose text the row quotes


@dataclass(frozen=True)
class Kind:
    """A record kind: one file per record, one row of `table`, and rows of its children."""

    layout: Layout
    id_field: str
    children: tuple[Child, ...]

    @property
    def name(self) -> str:
        return self.layout.kind

    @property
    def table(self) -> str:
        return self.layout.table


@dataclass(frozen=True)
class Model:
    kinds: tuple[Kind, ...]
    references: tuple[Reference, ...]
    spans: tuple[SpanTable, ...] = ()
    derived: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table, in the order a release lists them: each kind's table, then its
        children, then the derived tables."""
        written = (t for k in self.kinds for t in (k.table, *(c.table for c in k.children)))
        return (*written, *self.derived)

    def span_table(self, table: str) -> SpanTable | None:
        for s in self.spans:
            if s.table == table:
                return s
        return None

    def kind(self, name: str) -> Kind:
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(name)

    def kind_of_table(self, table: str) -> Kind:
        for k in self.kinds:
            if k.table == table:
                return k
        raise KeyError(table)

    @property
    def record_tables(self) -> dict[str, str]:
        """Each record table and its id field."""
        return {k.table: k.id_field for k in self.kinds}

    def references_to(self, target: str) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.target == target and not r.structural)

    def references_from(self, table: str) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.table == table and not r.structural)


def _references(table: TableSpec) -> list[Reference]:
    out = []
    for fk in table.foreign_keys:
        fields, ref = fk.get("fields"), fk.get("reference", {})
        targets = ref.get("fields")
        if (
            not isinstance(fields, list)
            or not isinstance(targets, list)
            or len(fields) != 1
            or len(targets) != 1
        ):
            raise ModelError(f"{table.name}: only single-field foreign keys are supported: {fk}")
        spec = table.field(fields[0])
        out.append(
            Reference(
                table.name,
                fields[0],
                str(ref.get("resource")),
                targets[0],
                items=False,
                structural=spec.origin == "parent",
            )
        )
    for spec in table.fields:
        ref = spec.item_reference
        if ref is not None:
            out.append(Reference(table.name, spec.name, ref["resource"], ref["field"], True, False))
    return out


def derive(tables: dict[str, TableSpec]) -> Model:
    """The model of a schema/ whose tables are read; raise ModelError when they disagree."""
    references = [r for t in tables.values() for r in _references(t)]
    for r in references:
        if r.target not in tables or r.target_field not in tables[r.target].field_names:
            raise ModelError(f"{r.table}.{r.field} refers to unknown {r.target}.{r.target_field}")
    kinds = []
    placed = set()
    for layout in LAYOUTS:
        spec = tables.get(layout.table)
        if spec is None:
            raise ModelError(f"the layout names table {layout.table}, which schema/ lacks")
        if len(spec.primary_key) != 1:
            raise ModelError(f"{layout.table}: a record table needs a one-field primaryKey")
        children = []
        for name in layout.children:
            child = tables.get(name)
            if child is None:
                raise ModelError(f"the layout names child table {name}, which schema/ lacks")
            parents = [f for f in child.fields if f.origin == "parent"]
            links = [r for r in references if r.table == name and r.structural]
            if len(parents) != 1 or len(links) != 1 or links[0].target != layout.table:
                raise ModelError(
                    f"{name}: a child table needs one field with origin 'parent' and a "
                    f"foreign key on it to {layout.table}"
                )
            positions = [f.name for f in child.fields if f.origin == "position"]
            children.append(
                Child(
                    table=name,
                    key=name,
                    parent_field=parents[0].name,
                    position_field=positions[0] if positions else None,
                    item_key=tuple(k for k in child.primary_key if k != parents[0].name),
                )
            )
            placed.add(name)
        kinds.append(Kind(layout, spec.primary_key[0], tuple(children)))
        placed.add(layout.table)
    for name in DERIVED:
        if name not in tables:
            raise ModelError(f"the derived table {name} is missing from schema/")
        placed.add(name)
    unplaced = sorted(set(tables) - placed)
    if unplaced:
        raise ModelError(f"tables with no layout and no parent: {', '.join(unplaced)}")
    spans = _span_tables(tables, references)
    return Model(tuple(kinds), tuple(references), spans, DERIVED)


def _span_tables(
    tables: dict[str, TableSpec], references: list[Reference]
) -> tuple[SpanTable, ...]:
    """Every written table with the span fields, and which of its fields leads to the source.

    The source is reached through a chain of single-field references: evidence.source_id
    names a source directly; passages.source_id names its uncoded set, which names the source.
    """
    by_field = {(r.table, r.field): r for r in references if not r.items}

    def leads_to_source(table: str, field: str) -> bool:
        seen = set()
        while (table, field) in by_field and (table, field) not in seen:
            seen.add((table, field))
            ref = by_field[(table, field)]
            if ref.target == SOURCE_TABLE:
                return True
            table, field = ref.target, ref.target_field
        return False

    out = []
    for name, spec in tables.items():
        if name in DERIVED or not set(SPAN_FIELDS) <= set(spec.field_names):
            continue
        fields = [f.name for f in spec.fields if leads_to_source(name, f.name)]
        if len(fields) != 1:
            raise ModelError(
                f"{name} has the span fields {', '.join(SPAN_FIELDS)} but {len(fields)} fields "
                f"that refer to {SOURCE_TABLE}; a span quotes exactly one source"
            )
        out.append(SpanTable(name, fields[0]))
    return tuple(out)


def item_reference(raw: dict[str, Any]) -> dict[str, str] | None:
    """The `itemReference` of a list field in a Table Schema, checked for shape."""
    ref = raw.get("itemReference")
    if ref is None:
        return None
    if not isinstance(ref, dict) or set(ref) != {"resource", "field"}:
        raise ModelError(f"field {raw.get('name')}: itemReference needs resource and field")
    return {"resource": str(ref["resource"]), "field": str(ref["field"])}
