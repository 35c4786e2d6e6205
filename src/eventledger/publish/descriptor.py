"""The published Table Schemas and Data Package descriptors of a release."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventledger.jsonfile import read_json
from eventledger.model.codelists import codelist
from eventledger.model.schema import CUSTOM_KEYS, Schema, TableSpec

Row = dict[str, Any]
PROFILE_PACKAGE = "https://datapackage.org/profiles/2.0/datapackage.json"
PROFILE_TABLE = "https://datapackage.org/profiles/2.0/tableschema.json"


def published_schema(spec: TableSpec, schema: Schema) -> dict[str, Any]:
    """The Table Schema as released: our custom keys removed, vocabularies as enum constraints."""
    raw = copy.deepcopy(spec.raw)
    raw["$schema"] = PROFILE_TABLE
    for out in raw["fields"]:
        vocabulary, listed = out.get("vocabulary"), out.get("codelist")
        for key in CUSTOM_KEYS:  # ours, acted on here or in the checks; not Table Schema's
            out.pop(key, None)
        if listed is not None and out["type"] != "list":
            # The codes travel with the package, so frictionless checks them too.
            out.setdefault("constraints", {})["enum"] = sorted(codelist(listed).codes)
        if out["type"] == "list" and "pattern" in out.get("constraints", {}):
            # Table Schema constraints of a list apply to the whole list, and frictionless
            # refuses a pattern on one; the item pattern is stated in the description.
            pattern = out["constraints"].pop("pattern")
            out["description"] = (
                f"{out.get('description', '')} Each item matches {pattern}.".strip()
            )
            if not out["constraints"]:
                del out["constraints"]
        if vocabulary is None:
            continue
        terms = schema.vocabularies[vocabulary].terms
        if out["type"] == "list":
            # A Table Schema enum constrains the whole list value, not its items, so the
            # terms of a list field are named in its description (and defined in CODEBOOK.md).
            out["description"] = (
                f"{out.get('description', '')} Items from the vocabulary '{vocabulary}': "
                + ", ".join(terms)
                + "."
            ).strip()
        else:
            out.setdefault("constraints", {})["enum"] = list(terms)
            out["categories"] = [{"value": t, "label": d} for t, d in terms.items()]
    return raw


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resource(
    name: str, path: str, data: bytes, fmt: str, spec: TableSpec, schema: Schema
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": "table", "path": path, "format": fmt}
    if fmt == "csv":
        out |= {"mediatype": "text/csv", "encoding": "utf-8"}
    else:
        out["mediatype"] = "application/vnd.apache.parquet"
    out |= {"bytes": len(data), "hash": f"sha256:{sha256(data)}"}
    out["schema"] = published_schema(spec, schema)
    return out


def descriptor(
    base: dict[str, Any],
    version: str,
    created: str,
    sources: Sequence[Row],
    resources: list[dict[str, Any]],
) -> dict[str, Any]:
    """The release's datapackage.json, from the root datapackage.json and what the build made."""
    keys = ("name", "title", "description", "homepage", "keywords", "licenses", "contributors")
    out: dict[str, Any] = {"$schema": PROFILE_PACKAGE}
    out |= {k: base[k] for k in keys if k in base}
    out["version"] = version
    out["created"] = created
    out["sources"] = [
        {
            "title": f"{s['publisher']}: {s['title']}",
            **({"path": s["url"]} if s.get("url") else {}),
        }
        for s in sources
    ]
    out["resources"] = resources
    return out


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def read_base(root: Path) -> dict[str, Any]:
    """The root datapackage.json, once check_package_metadata has found it sound."""
    data: dict[str, Any] = read_json(root / "datapackage.json")
    return data
