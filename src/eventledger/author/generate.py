"""Files derived from schema/ and the catalog that the repository keeps, so editors and readers have them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eventledger.atomic import write_atomically
from eventledger.author.cli_reference import cli_markdown
from eventledger.issues.errors_doc import errors_markdown
from eventledger.model.record_schema import record_schema
from eventledger.model.schema import load_schema
from eventledger.model.templates import template
from eventledger.read.repository import Repository


def derived_files(repository: Repository, cli: click.Group) -> dict[Path, str]:
    """Every derived file with the content it must have."""
    schema = load_schema(repository.schema_dir)
    out: dict[Path, str] = {}
    for kind in (k.name for k in schema.model.kinds):
        out[repository.schema_dir / f"{kind}.record.schema.json"] = (
            json.dumps(record_schema(kind, schema), indent=2, ensure_ascii=False) + "\n"
        )
        out[repository.schema_dir / "templates" / f"{kind}.yaml"] = template(kind, schema)
    out[repository.root / "docs" / "errors.md"] = errors_markdown()
    out[repository.root / "docs" / "cli.md"] = cli_markdown(cli)
    return out


def stale(repository: Repository, cli: click.Group) -> list[Path]:
    """Derived files whose committed content differs from what schema/ gives."""
    return [
        p
        for p, text in derived_files(repository, cli).items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]


def write(repository: Repository, cli: click.Group) -> list[Path]:
    written = []
    for path, text in derived_files(repository, cli).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text.encode("utf-8"))
        written.append(path)
    return written
