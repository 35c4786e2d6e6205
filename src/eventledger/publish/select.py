"""What one release holds: verified events with their participants and evidence, and the
actors and sources they name.

Rows are plain dicts of typed values (str, int, float, datetime.date, list[str] or None), the
same values the checker produced from the YAML records, so nothing is re-parsed on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventledger.model.schema import TABLES, TableSpec

if TYPE_CHECKING:  # the checker brings pandas; selecting rows needs only its records
    from eventledger.check.checker import Dataset

Row = dict[str, Any]
# Rights under which a source's full text may be published beside its metadata.
FULL_TEXT_RIGHTS = ("open", "public-domain")


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
    """Verified events with their participants and evidence; the actors and sources they name.

    Drafts are left out (and named); actors and sources no released event names are left out
    too, so a release never carries metadata that only drafts refer to.
    """
    schema = dataset.schema
    rows: dict[str, list[Row]] = {name: [] for name in TABLES}
    drafts: list[str] = []
    for record in dataset.records:
        if record.kind != "event" or not record.rows:
            continue
        if record.main().get("review_status") != "verified":
            drafts.append(str(record.id or record.file))
            continue
        for row in record.rows:
            rows[row.table].append(dict(row.values))
    actors = {p["actor_id"] for p in rows["participants"]}
    sources = {e["source_id"] for e in rows["evidence"]}
    for record in dataset.records:
        if record.kind == "actor" and record.id in actors:
            rows["actors"].append(dict(record.main()))
        elif record.kind == "source" and record.id in sources:
            rows["sources"].append(dict(record.main()))
    for name in TABLES:
        spec = schema.tables[name]
        rows[name] = [{f: row.get(f) for f in spec.field_names} for row in rows[name]]
        rows[name].sort(key=_key(spec))
    texts: dict[str, str] = {}
    for source in rows["sources"]:
        text = dataset.texts.get(source["source_id"])
        if source.get("rights") in FULL_TEXT_RIGHTS and text is not None and text.text is not None:
            texts[source["source_id"]] = text.text
    return Selection(rows, sorted(drafts), texts)
