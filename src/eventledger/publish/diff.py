"""Compare two built releases by the manifests they carry (build/<version>/manifest.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventledger.jsonfile import JsonFileError, read_json
from eventledger.publish.manifest import Changes, compare, is_manifest


class DiffError(Exception):
    """A folder is not a built release: the comparison cannot start."""


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    try:
        data = read_json(path)
    except JsonFileError as err:
        raise DiffError(
            f"{path}: not a built release ({err}); pass build/<version> folders"
        ) from err
    if not is_manifest(data):
        raise DiffError(
            f"{path}: not the manifest of a built release; pass build/<version> folders"
        )
    out: dict[str, Any] = data
    return out


def _table_order(folder: Path) -> list[str]:
    """The tables in the order the build's descriptor lists them (manifests keep them sorted)."""
    try:
        data = read_json(folder / "datapackage.json")
        return [str(r["name"]) for r in data["resources"]]
    except (JsonFileError, KeyError, TypeError):
        return []


def diff(old: Path, new: Path) -> Changes:
    return compare(_manifest(old), _manifest(new), _table_order(new))
