"""What one release holds: verified events with their participants and evidence, and the
actors and sources they name.

Rows are plain dicts of typed values (str, int, float, datetime.date, list[str] or None), the
same values the checker produced from the YAML records, so nothing is re-parsed on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventledger.model.schema import TableSpec
from eventledger.model.terms import FULL_TEXT_RIGHTS, VERIFIED

if TYPE_CHECKING:  # the checker brings pandas; selecting rows needs only its records
    from eventledger.check.checker import Dataset

Row = dict[str, Any]
REVIEW_FIELD = "review_status"  # a kind whose table has it ships only its verified records
SOURCE_TABLE = "sources"  # whose texts ship in full where their rights allow


@dataclass
class Selection:
    """What one release holds: rows per table (sorted by key) and what was held back."""

    rows: dict[str, list[Row]]
    drafts: list[str] = field(default_factory=list)  # ids of events not verified, not shipped
    full_texts: dict[str, str] = field(default_factory=dict)  # source id -> text, open rights only


def _key(spec: TableSpec) -> Any:
    names = spec.primary_key

    def key(row: Row) -> tuple[Any, ...]:
        return tuple(row[n] for n in names)

    return key


def select(dataset: Dataset) -> Selection:
    """Verified records with their child rows, and the records they name.

    A kind whose table has a review status ships its verified records; drafts are left out
    (and named). Any other kind ships only the records that shipped rows refer to, so a
    release never carries actors or sources that only drafts name.
    """
    schema = dataset.schema
    model = schema.model
    rows: dict[str, list[Row]] = {name: [] for name in schema.tables}
    drafts: list[str] = []
    reviewed = {k.name for k in model.kinds if REVIEW_FIELD in schema.tables[k.table].field_names}
    for record in dataset.records:
        if record.kind not in reviewed or not record.rows:
            continue
        if record.main().get(REVIEW_FIELD) != VERIFIED:
            drafts.append(str(record.id or record.file))
            continue
        for row in record.rows:
            rows[row.table].append(dict(row.values))
    for kind in model.kinds:
        if kind.name in reviewed:
            continue
        named = {
            row[ref.field]
            for ref in model.references_to(kind.table)
            if not ref.items
            for row in rows[ref.table]
        }
        for record in dataset.records:
            if record.kind == kind.name and record.id in named:
                rows[kind.table].append(dict(record.main()))
    for name, spec in schema.tables.items():
        rows[name] = [{f: row.get(f) for f in spec.field_names} for row in rows[name]]
        rows[name].sort(key=_key(spec))
    texts: dict[str, str] = {}
    for source in rows[SOURCE_TABLE]:
        text = dataset.texts.get(source["source_id"])
        if source.get("rights") in FULL_TEXT_RIGHTS and text is not None and text.text is not None:
            texts[source["source_id"]] = text.text
    return Selection(rows, sorted(drafts), texts)
