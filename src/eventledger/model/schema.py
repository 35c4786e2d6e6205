"""The schema of the dataset, read from schema/: Table Schemas and vocabularies.

This module only reads schema/; the dataset model (kinds.py), the per-type projections
(types.py) and the projections of whole tables (published Table Schema, record JSON
Schema, Pandera, Arrow, codebook, template) are all computed from the objects defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from eventledger.jsonfile import JsonFileError, read_json
from eventledger.model.codelists import NAMES as CODELISTS
from eventledger.model.kinds import Model, ModelError, derive, item_reference
from eventledger.model.terms import missing_terms
from eventledger.model.types import TYPES
from eventledger.syntax.strict_yaml import load

# Keys of ours in the Table Schemas: acted on here, removed from the published schemas.
CUSTOM_KEYS = ("vocabulary", "origin", "itemReference", "codelist")


class SchemaError(Exception):
    """schema/ itself is broken: the tool cannot continue (this is not a data problem)."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    description: str
    required: bool = False
    unique: bool = False
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    vocabulary: str | None = None
    item_type: str | None = None
    delimiter: str | None = None
    origin: str | None = None  # "parent" or "position": filled in from the record's structure
    format: str | None = None
    item_reference: dict[str, str] | None = None  # list items are ids of this resource's field
    codelist: str | None = None  # values are codes of this list (model/codelists.py)

    @property
    def written(self) -> bool:
        """Whether a contributor writes this field in the YAML record."""
        return self.origin is None


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[dict[str, Any], ...]
    raw: dict[str, Any]

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property  # asked for by every row of every record read
    def written_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.written)


@dataclass(frozen=True)
class Vocabulary:
    name: str
    description: str
    terms: dict[str, str]


@dataclass(frozen=True)
class Schema:
    directory: Path
    tables: dict[str, TableSpec]  # in the model's order
    vocabularies: dict[str, Vocabulary]
    model: Model

    def terms(self, spec: FieldSpec) -> tuple[str, ...] | None:
        if spec.vocabulary is None:
            return None
        return tuple(self.vocabularies[spec.vocabulary].terms)


def _field(raw: dict[str, Any], table: str) -> FieldSpec:
    cons = raw.get("constraints", {})
    if raw.get("type") not in TYPES:
        raise SchemaError(
            f"{table}.{raw.get('name')}: type {raw.get('type')!r} is not one of {tuple(TYPES)}"
        )
    return FieldSpec(
        name=raw["name"],
        type=raw["type"],
        description=raw.get("description", ""),
        required=bool(cons.get("required", False)),
        unique=bool(cons.get("unique", False)),
        pattern=cons.get("pattern"),
        minimum=cons.get("minimum"),
        maximum=cons.get("maximum"),
        min_length=cons.get("minLength"),
        max_length=cons.get("maxLength"),
        vocabulary=raw.get("vocabulary"),
        item_type=raw.get("itemType"),
        delimiter=raw.get("delimiter"),
        origin=raw.get("origin"),
        format=raw.get("format"),
        item_reference=item_reference(raw),
        codelist=raw.get("codelist"),
    )


def _read_vocabularies(path: Path) -> dict[str, Vocabulary]:
    doc, issues = load(path.read_bytes(), str(path))
    if doc is None or issues:
        raise SchemaError(f"{path}: " + "; ".join(f"line {i.line}: {i.message}" for i in issues))
    out = {}
    for name, body in doc.data.items():
        terms = body.get("terms") or {}
        missing = [t for t, d in terms.items() if not d]
        if missing:
            raise SchemaError(f"{path}: vocabulary {name}: terms without a definition: {missing}")
        out[name] = Vocabulary(
            name=name, description=" ".join(body.get("description", "").split()), terms=dict(terms)
        )
    return out


@cache
def load_schema(directory: Path) -> Schema:
    """Read schema/; raise SchemaError when it is inconsistent (a bug in the repository, not in a record)."""
    directory = directory.resolve()
    vocabularies = _read_vocabularies(directory / "vocabularies.yaml")
    missing = missing_terms({v.name: v.terms for v in vocabularies.values()})
    if missing:
        raise SchemaError(
            f"{directory / 'vocabularies.yaml'}: terms the checks rely on are missing: "
            + "; ".join(missing)
            + " (rename them in src/eventledger/model/terms.py too, or restore them)"
        )
    tables = {}
    for path in sorted(directory.glob("*.tableschema.json")):
        name = path.name.removesuffix(".tableschema.json")
        try:
            raw = read_json(path)
            fields = tuple(_field(f, name) for f in raw["fields"])
        except (JsonFileError, KeyError, TypeError, ModelError) as err:
            raise SchemaError(f"{path}: {err}") from err
        for f in fields:
            if f.vocabulary is not None and f.vocabulary not in vocabularies:
                raise SchemaError(
                    f"{path}: field {f.name} names unknown vocabulary {f.vocabulary!r}"
                )
            if f.codelist is not None and f.codelist not in CODELISTS:
                raise SchemaError(
                    f"{path}: field {f.name} names unknown codelist {f.codelist!r} "
                    f"(known: {', '.join(CODELISTS)})"
                )
        tables[name] = TableSpec(
            name=name,
            fields=fields,
            primary_key=tuple(raw.get("primaryKey", [])),
            foreign_keys=tuple(raw.get("foreignKeys", [])),
            raw=raw,
        )
    try:
        model = derive(tables)
    except ModelError as err:
        raise SchemaError(f"{directory}: {err}") from err
    ordered = {name: tables[name] for name in model.tables}
    return Schema(directory=directory, tables=ordered, vocabularies=vocabularies, model=model)
