"""docs/errors.md: the error reference, generated from the catalog (CODEBOOK.md is codebook.py's)."""

from __future__ import annotations

from eventledger.issues.catalog import CODES, Code, Layer


def _severity(code: Code) -> str:
    if code.escalated_by is None:
        return str(code.severity)
    return f"{code.severity}; error with `{code.escalated_by}`"


def errors_markdown() -> str:
    lines = [
        "# Issue codes",
        "",
        "Generated from `src/eventledger/issues/catalog.py` by `eventledger generate`; do not edit by hand.",
        "Every code is stable: it is never renamed or given another meaning. Each has at least one",
        'example under `tests/cases/invalid/<code>/`. A warning marked "error with `--option`" is',
        "reported as an error by a command given that option (see `escalated_by` in the catalog).",
        "",
        "| code | severity | layer | what it means |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| [`{c.code}`](#{c.code}) | {_severity(c)} | {c.layer} | {c.title} |" for c in CODES
    ]
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
                f"**{c.title}** ({_severity(c)}).",
                "",
                c.explanation,
                "",
                f"Fix: {c.fix}",
            ]
    return "\n".join(lines) + "\n"
