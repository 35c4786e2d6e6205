"""Compare two built releases by the manifests they carry (build/<version>/manifest.json),
and find the full manifest of a release git keeps only in compact form."""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eventledger.jsonfile import MAX_JSON_BYTES, JsonFileError, read_json
from eventledger.publish.manifest import (
    Changes,
    compare,
    has_fields,
    is_manifest,
    same_content,
)


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


def _zipped_manifest(archive: Path, member: str) -> Any:
    """One member of a release zip, read by its exact name (nothing is unpacked); None when
    the zip or the member is missing, too large or unreadable."""
    try:
        with zipfile.ZipFile(archive) as zf:
            info = zf.getinfo(member)
            if info.file_size > MAX_JSON_BYTES:
                return None
            return json.loads(zf.read(info).decode("utf-8"))
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile, EOFError):
        return None


def full_manifest(
    build: Path, name: str, release: Mapping[str, Any]
) -> tuple[Mapping[str, Any], str | bool | None]:
    """The release with its field hashes, for listing which fields changed since it, and
    where they came from (Changes.fields_from): release itself when it is a full manifest
    (False), else the manifest of its build in build/ (build/<version>/ or the zip) when
    that holds the same records, else release itself (None: fields unknown). A build that
    differs from the recorded release (rebuilt from other records) is not used."""
    if has_fields(release):
        return release, False
    version = str(release["version"])
    folder = build / version / "manifest.json"
    zipped = build / f"{name}-{version}.zip"
    found: list[tuple[Any, str]] = []
    with contextlib.suppress(JsonFileError):
        found.append((read_json(folder), f"build/{version}/manifest.json"))
    if zipped.is_file():
        member = f"{name}-{version}/manifest.json"
        found.append((_zipped_manifest(zipped, member), f"build/{zipped.name} ({member})"))
    for data, where in found:
        if is_manifest(data) and same_content(data, release):
            return data, where
    return release, None
