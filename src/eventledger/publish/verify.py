"""Re-check a built release: every checksum (Parquet included, which frictionless does not
verify) and that each Parquet table holds exactly the rows of its CSV twin."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from eventledger.issues import Issue
from eventledger.model.arrow_schema import arrow_schema
from eventledger.model.schema import FieldSpec, TableSpec
from eventledger.publish.cells import read_csv_rows

SUMS = "SHA256SUMS"


class _Digests:
    """SHA-256 of each file, read and hashed once although SHA256SUMS and both descriptors ask."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.known: dict[str, str] = {}

    def __call__(self, rel: str) -> str:
        if rel not in self.known:
            self.known[rel] = hashlib.sha256((self.folder / rel).read_bytes()).hexdigest()
        return self.known[rel]


def _mismatch(file: str, message: str, **kw: Any) -> Issue:
    return Issue(file, 0, 0, "checksum-mismatch", message, **kw)


def table_spec(resource: dict[str, Any]) -> TableSpec:
    """A TableSpec from a published resource (enough to read its cells back)."""
    raw = resource["schema"]
    fields = tuple(
        FieldSpec(
            name=f["name"],
            type=f["type"],
            description=f.get("description", ""),
            delimiter=f.get("delimiter"),
        )
        for f in raw["fields"]
    )
    return TableSpec(
        resource["name"],
        fields,
        tuple(raw.get("primaryKey", [])),
        tuple(raw.get("foreignKeys", [])),
        raw,
    )


def _resources(
    folder: Path, descriptor: str, sha: _Digests
) -> tuple[list[dict[str, Any]], list[Issue]]:
    path = folder / descriptor
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        return [], [_mismatch(descriptor, f"cannot read the descriptor: {err}")]
    issues = []
    resources: list[dict[str, Any]] = data.get("resources", [])
    for res in resources:
        rel = (Path(descriptor).parent / res["path"]).as_posix()
        target = folder / rel
        if not target.is_file():
            issues.append(_mismatch(rel, "the resource file is missing"))
            continue
        actual = {"bytes": target.stat().st_size, "hash": f"sha256:{sha(rel)}"}
        for key, label in (("bytes", "size"), ("hash", "hash")):
            if res.get(key) != actual[key]:
                issues.append(
                    _mismatch(
                        rel,
                        f"{label} differs from the descriptor",
                        expected=str(res.get(key)),
                        found=str(actual[key]),
                    )
                )
    return resources, issues


def verify(folder: Path) -> list[Issue]:
    """Every problem found in the build at folder; an empty list means it is intact."""
    issues: list[Issue] = []
    sha = _Digests(folder)
    sums = folder / SUMS
    listed: set[str] = set()
    if not sums.is_file():
        issues.append(_mismatch(SUMS, "SHA256SUMS is missing"))
    else:
        for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), start=1):
            digest, _, rel = line.partition("  ")
            listed.add(rel)
            target = folder / rel
            if not target.is_file():
                issues.append(
                    Issue(SUMS, number, 1, "checksum-mismatch", f"{rel} is listed but missing")
                )
            elif sha(rel) != digest:
                issues.append(
                    Issue(
                        SUMS,
                        number,
                        1,
                        "checksum-mismatch",
                        f"{rel} does not match its checksum",
                        expected=digest,
                        found=sha(rel),
                    )
                )
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {
            SUMS
        }
        for rel in sorted(present - listed):
            issues.append(_mismatch(rel, "file not listed in SHA256SUMS"))
    csv_resources, found = _resources(folder, "datapackage.json", sha)
    issues += found
    parquet_resources, found = _resources(folder, "parquet/datapackage.json", sha)
    issues += found
    if found or any(i.file.startswith(("data/", "parquet/")) for i in issues):
        return issues  # comparing the tables of damaged files says nothing more
    by_name = {r["name"]: r for r in parquet_resources}
    for res in csv_resources:
        twin = by_name.get(res["name"])
        rel = f"parquet/{twin['path']}" if twin else f"parquet/{res['name']}.parquet"
        if twin is None:
            issues.append(Issue(rel, 0, 0, "parquet-differs-from-csv", "no Parquet twin"))
            continue
        spec = table_spec(res)
        table = pq.read_table(folder / rel)
        if not table.schema.equals(arrow_schema(spec)):
            issues.append(
                Issue(
                    rel,
                    0,
                    0,
                    "parquet-differs-from-csv",
                    "Arrow schema differs from the Table Schema",
                    expected=str(arrow_schema(spec)),
                    found=str(table.schema),
                )
            )
            continue
        rows = read_csv_rows(spec, (folder / res["path"]).read_bytes())
        parquet_rows = table.to_pylist()
        if rows != parquet_rows:
            diff = next(
                (i for i, (a, b) in enumerate(zip(rows, parquet_rows, strict=False)) if a != b),
                min(len(rows), len(parquet_rows)),
            )
            issues.append(
                Issue(
                    rel,
                    0,
                    0,
                    "parquet-differs-from-csv",
                    f"{len(parquet_rows)} rows against {len(rows)} in {res['path']}; first difference at row {diff + 1}",
                )
            )
    return issues
