"""The JSON Schema of one YAML record, projected from the Table Schemas.

Editors use it through a '# yaml-language-server: $schema=' line for completion and
inline errors; the checker does not need it (it reads the Table Schemas directly), and a
test proves the two reject the same values.
"""

from __future__ import annotations

from typing import Any

from eventledger.model.patterns import ISO_DAY
from eventledger.model.schema import CHILD_TABLES, FieldSpec, Schema, TableSpec
from eventledger.read.records import KINDS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATE_PATTERN = f"^{ISO_DAY.pattern}$"


def field_schema(spec: FieldSpec, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {"description": spec.description}
    terms = schema.terms(spec)
    if spec.type == "list":
        item: dict[str, Any] = {"type": "string"}
        if terms is not None:
            item["enum"] = list(terms)
        if spec.pattern is not None:
            item["pattern"] = spec.pattern
        out.update({"type": "array", "items": item, "minItems": 1 if spec.required else 0})
        return out
    if spec.type == "date":
        out.update({"type": "string", "format": "date", "pattern": DATE_PATTERN})
    elif spec.type in ("integer", "number"):
        out["type"] = spec.type
        if spec.minimum is not None:
            out["minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
    else:
        out["type"] = "string"
        if spec.min_length is not None:
            out["minLength"] = spec.min_length
        if spec.max_length is not None:
            out["maxLength"] = spec.max_length
        if spec.pattern is not None:
            out["pattern"] = spec.pattern
    if terms is not None:
        out["enum"] = list(terms)
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
    table = schema.tables[KINDS[kind]]
    body = object_schema(table, schema)
    if kind == "event":
        for child, key in CHILD_TABLES.items():
            body["properties"][key] = {
                "description": f"The event's {key}: one entry per row of the {child} table.",
                "type": "array",
                "minItems": 1,
                "items": object_schema(schema.tables[child], schema),
            }
            body["required"].append(key)
    return {
        "$schema": DIALECT,
        "$id": f"https://eventledger.example/schema/{kind}.record.schema.json",
        "title": f"eventledger {kind} record",
        "description": f"One YAML file under {KINDS[kind]}/; generated from schema/{table.name}.tableschema.json "
        "and schema/vocabularies.yaml by `eventledger generate`. Do not edit by hand.",
        **body,
    }
