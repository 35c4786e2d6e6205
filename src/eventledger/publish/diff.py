"""Compare two built releases by the manifests they carry (build/<version>/manifest.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventledger.publish.manifest import Changes, compare


class DiffError(Exception):
    """A folder is not a built release: the comparison cannot start."""


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DiffError(
            f"{path}: not a built release ({err}); pass build/<version> folders"
        ) from err
    return data


def _table_order(folder: Path) -> list[str]:
    """The tables in the order the build's descriptor lists them (manifests keep them sorted)."""
    try:
        data = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        return [str(r["name"]) for r in data["resources"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def diff(old: Path, new: Path) -> Changes:
    return compare(_manifest(old), _manifest(new), _table_order(new))
