"""CODEBOOK.md: every table, field, vocabulary term and code list of a release, generated
from schema/."""

from __future__ import annotations

from importlib.metadata import version

from eventledger.model.codelists import codelist
from eventledger.model.schema import FieldSpec, Schema


def _constraints(spec: FieldSpec) -> str:
    parts = []
    if spec.required:
        parts.append("required")
    if spec.unique:
        parts.append("unique")
    if spec.pattern:
        parts.append(f"pattern `{spec.pattern}`")
    if spec.minimum is not None:
        parts.append(f"min {spec.minimum:g}")
    if spec.maximum is not None:
        parts.append(f"max {spec.maximum:g}")
    if spec.min_length is not None:
        parts.append(f"at least {spec.min_length} characters")
    if spec.max_length is not None:
        parts.append(f"at most {spec.max_length} characters")
    if spec.vocabulary:
        parts.append(f"terms of [{spec.vocabulary}](#vocabulary-{spec.vocabulary})")
    if spec.codelist:
        parts.append(f"codes of [{spec.codelist}](#code-list-{spec.codelist})")
    if spec.type == "list":
        parts.append(f"items separated by `{spec.delimiter}` in the CSV")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _codelists(schema: Schema) -> list[str]:
    """Each code list a field uses, with its former codes named: a reader of SUN must learn
    that it is the USSR, and historical, from the release itself."""
    used = sorted({f.codelist for t in schema.tables.values() for f in t.fields if f.codelist})
    lines: list[str] = []
    if used:
        lines += ["## Code lists", ""]
    for name in used:
        codes = codelist(name)
        fields = [
            f"`{t}.{f.name}`" for t, spec in schema.tables.items() for f in spec.fields
            if f.codelist == name
        ]  # fmt: skip
        lines += [
            f"### Code list `{name}`",
            "",
            f"{', '.join(fields)}: codes of {codes.title} (as pycountry {version('pycountry')} "
            f"gives them): {len(codes.current)} current codes, and these former codes, allowed "
            "for states that no longer exist and historical:",
            "",
            "| code | name | withdrawn |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| `{code}` | {_cell(codes.former[code])} | {codes.withdrawn[code]} |"
            for code in sorted(codes.former)
        ]
        lines.append("")
    return lines


def codebook(schema: Schema, name: str, version: str) -> str:
    lines = [
        f"# Codebook: {name} {version}",
        "",
        "Generated from schema/ by `eventledger build`; do not edit.",
        "Dates are ISO 8601 (YYYY-MM-DD); an empty CSV cell is a missing value.",
        "",
    ]
    for table in schema.tables:
        spec = schema.tables[table]
        lines += [f"## Table `{table}`", ""]
        lines.append(f"Primary key: {', '.join(f'`{k}`' for k in spec.primary_key)}.")
        for fk in spec.foreign_keys:
            ref = fk["reference"]
            lines.append(
                f"`{', '.join(fk['fields'])}` refers to `{ref['resource']}.{', '.join(ref['fields'])}`."
            )
        lines += ["", "| field | type | constraints | description |", "| --- | --- | --- | --- |"]
        for f in spec.fields:
            lines.append(
                f"| `{f.name}` | {f.type} | {_cell(_constraints(f))} | {_cell(f.description)} |"
            )
        lines.append("")
    lines += _codelists(schema)
    lines += ["## Vocabularies", ""]
    for vocab in schema.vocabularies.values():
        lines += [f"### Vocabulary `{vocab.name}`", "", vocab.description, ""]
        lines += ["| term | definition |", "| --- | --- |"]
        lines += [f"| `{t}` | {_cell(d)} |" for t, d in vocab.terms.items()]
        lines.append("")
    return "\n".join(lines)
