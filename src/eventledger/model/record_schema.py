"""The JSON Schema of one YAML record, projected from the Table Schemas.

Editors use it through a '# yaml-language-server: $schema=' line for completion and
inline errors; the checker does not need it (it reads the Table Schemas directly), and a
test proves the two reject the same values.
"""

from __future__ import annotations

from typing import Any

from eventledger.model.codelists import codelist
from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import TYPES

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def field_schema(spec: FieldSpec, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {"description": spec.description}
    terms = schema.terms(spec)
    if spec.type == "list":
        item: dict[str, Any] = {"type": "string"}
        if terms is not None:
            item["enum"] = list(terms)
        if spec.pattern is not None:
            item["pattern"] = spec.pattern
        if spec.codelist is not None:
            item["enum"] = sorted(codelist(spec.codelist).codes)
        out.update(TYPES["list"].json_type)
        out.update({"items": item, "minItems": 1 if spec.required else 0})
        return out
    out.update(TYPES[spec.type].json_type)
    for keyword, value in (
        ("minimum", spec.minimum),
        ("maximum", spec.maximum),
        ("minLength", spec.min_length),
        ("maxLength", spec.max_length),
        ("pattern", spec.pattern),
    ):
        if value is not None:
            out[keyword] = value
    if terms is not None:
        out["enum"] = list(terms)
    if spec.codelist is not None:
        out["enum"] = sorted(codelist(spec.codelist).codes)
    if not spec.required:  # an optional field may be written empty
        out = {
            "description": spec.description,
            "anyOf": [{k: v for k, v in out.items() if k != "description"}, {"type": "null"}],
        }
    return out


def object_schema(table: TableSpec, schema: Schema) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f.name: field_schema(f, schema) for f in table.written_fields},
        "required": [f.name for f in table.written_fields if f.required],
        "additionalProperties": False,
    }


def record_schema(kind: str, schema: Schema) -> dict[str, Any]:
    kind_model = schema.model.kind(kind)
    table = schema.tables[kind_model.table]
    body = object_schema(table, schema)
    for child in kind_model.children:
        key = child.key
        body["properties"][key] = {
            "description": f"The {kind}'s {key}: one entry per row of the {child.table} table.",
            "type": "array",
            "minItems": 1,
            "items": object_schema(schema.tables[child.table], schema),
        }
        body["required"].append(key)
    return {
        "$schema": DIALECT,
        "$id": f"https://eventledger.example/schema/{kind}.record.schema.json",
        "title": f"eventledger {kind} record",
        "description": f"One YAML file under {kind_model.layout.folder}/; generated from schema/{table.name}.tableschema.json "
        "and schema/vocabularies.yaml by `eventledger generate`. Do not edit by hand.",
        **body,
    }
