"""Commented record templates, projected from the Table Schemas: the file a contributor starts from."""

from __future__ import annotations

import textwrap

from eventledger.model.schema import FieldSpec, Schema, TableSpec
from eventledger.model.types import TYPES


def _comment(spec: FieldSpec, schema: Schema, indent: str) -> list[str]:
    need = "required" if spec.required else "optional"
    text = f"{spec.description} ({need}, {spec.type})"
    terms = schema.terms(spec)
    if terms is not None:
        text += " One of: " + ", ".join(terms) + "."
    return [f"{indent}# {line}" for line in textwrap.wrap(text, 88 - len(indent))]


def _fields(table: TableSpec, schema: Schema, indent: str, first_prefix: str = "") -> list[str]:
    lines: list[str] = []
    for n, spec in enumerate(table.written_fields):
        lines += _comment(spec, schema, indent)
        lead = first_prefix if n == 0 and first_prefix else indent
        lines.append(f"{lead}{spec.name}: {TYPES[spec.type].placeholder}".rstrip())
    return lines


def template(kind: str, schema: Schema) -> str:
    kind_model = schema.model.kind(kind)
    table = schema.tables[kind_model.table]
    depth = "/".join([".."] * kind_model.layout.depth)
    lines = [
        f"# yaml-language-server: $schema={depth}/schema/{kind}.record.schema.json",
        f"# A new {kind}: fill in the fields, delete the optional ones you do not use, keep the comments",
        "# or drop them as you like. Generated from schema/ by `eventledger generate`.",
    ]
    lines += _fields(table, schema, "")
    for child_model in kind_model.children:
        child, key = child_model.table, child_model.key
        lines.append(
            f"# {key}: one entry per {child[:-1] if child.endswith('s') else child} (see schema/{child}.tableschema.json)"
        )
        lines.append(f"{key}:")
        lines += _fields(schema.tables[child], schema, "    ", "  - ")
    return "\n".join(lines) + "\n"
