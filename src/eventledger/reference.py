"""Documents generated from the catalog and the schema: the error reference and the codebook."""

from __future__ import annotations

from eventledger.catalog import CODES, Layer
from eventledger.schema import TABLES, Schema


def errors_markdown() -> str:
    lines = [
        "# Issue codes",
        "",
        "Generated from `src/eventledger/catalog.py` by `eventledger generate`; do not edit by hand.",
        "Every code is stable: it is never renamed or given another meaning. Each has at least one",
        "example under `tests/cases/invalid/<code>/`.",
        "",
        "| code | severity | layer | what it means |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| [`{c.code}`](#{c.code}) | {c.severity} | {c.layer} | {c.title} |" for c in CODES]
    for layer in Layer:
        codes = [c for c in CODES if c.layer is layer]
        if not codes:
            continue
        lines += ["", f"## {layer.value.capitalize()} checks"]
        for c in codes:
            lines += [
                "",
                f"### {c.code}",
                "",
                f"**{c.title}** ({c.severity}).",
                "",
                c.explanation,
                "",
                f"Fix: {c.fix}",
            ]
    return "\n".join(lines) + "\n"


def codebook_markdown(schema: Schema, title: str = "Codebook") -> str:
    lines = [
        f"# {title}",
        "",
        "Generated from `schema/` (Table Schemas and vocabularies); do not edit by hand.",
        "",
    ]
    for name in TABLES:
        table = schema.tables[name]
        lines += [f"## Table `{name}`", "", f"Primary key: {', '.join(table.primary_key)}."]
        for fk in table.foreign_keys:
            ref = fk["reference"]
            lines.append(
                f"Foreign key: {', '.join(fk['fields'])} -> {ref['resource']}.{', '.join(ref['fields'])}."
            )
        lines += [
            "",
            "| field | type | required | constraints | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in table.fields:
            cons = []
            if f.vocabulary:
                cons.append(
                    f"vocabulary [{f.vocabulary}](#vocabulary-{f.vocabulary.replace('_', '-')})"
                )
            if f.pattern:
                cons.append(f"pattern `{f.pattern}`")
            if f.minimum is not None or f.maximum is not None:
                cons.append(
                    f"range {f.minimum if f.minimum is not None else ''}..{f.maximum if f.maximum is not None else ''}"
                )
            if f.min_length is not None or f.max_length is not None:
                cons.append(f"length {f.min_length or 0}..{f.max_length or ''}")
            if f.unique:
                cons.append("unique")
            if f.delimiter:
                cons.append(f"items separated by `{f.delimiter}`")
            typ = f"list of {f.item_type}" if f.type == "list" else f.type
            lines.append(
                f"| `{f.name}` | {typ} | {'yes' if f.required else 'no'} | {'; '.join(cons)} | {f.description} |"
            )
        lines.append("")
    for vocab in schema.vocabularies.values():
        lines += [
            f"## Vocabulary `{vocab.name}`",
            "",
            vocab.description,
            "",
            "| term | definition |",
            "| --- | --- |",
        ]
        lines += [f"| `{term}` | {definition} |" for term, definition in vocab.terms.items()]
        lines.append("")
    return "\n".join(lines)
