"""Compare two built releases by the manifests they carry (build/<version>/manifest.json),
and find the full manifest of a release git keeps only in compact form.

A full manifest is read as a stream (manifest_stream): its head and record hashes first,
then the fields of the changed records only, so that a release of any size compares (a
million events' manifest.json is about 1.06 GB)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from eventledger.jsonfile import JsonFileError, read_json
from eventledger.publish.manifest import (
    Changes,
    FieldsOf,
    ManifestError,
    compare,
    has_fields,
    same_content,
)
from eventledger.publish.manifest_stream import (
    Fields,
    ManifestStream,
    NotAManifest,
    Source,
    file_source,
    read_manifest,
    zip_member_source,
)


class DiffError(Exception):
    """A folder is not a built release: the comparison cannot start."""


def _not_read(path: Path, err: JsonFileError) -> DiffError:
    where = f", line {err.line}, column {err.column}" if err.line else ""
    return DiffError(f"{path}: not a built release ({err}{where}); pass build/<version> folders")


def _manifest(folder: Path) -> ManifestStream:
    path = folder / "manifest.json"
    try:
        return read_manifest(file_source(path))
    except JsonFileError as err:
        raise _not_read(path, err) from err
    except NotAManifest as err:
        raise DiffError(
            f"{path}: not the manifest of a built release ({err}); pass build/<version> folders"
        ) from err


def _table_order(folder: Path) -> list[str]:
    """The tables in the order the build's descriptor lists them (manifests keep them sorted)."""
    try:
        data = read_json(folder / "datapackage.json")
        return [str(r["name"]) for r in data["resources"]]
    except (JsonFileError, KeyError, TypeError):
        return []


def _fields(stream: ManifestStream, path: Path) -> FieldsOf:
    """The fields of stream's records, as diff's error when its file is no longer readable
    or no longer the file its hashes came from (the second pass): a release rebuilt
    meanwhile, not a folder that is none."""

    def fields(wanted: Mapping[str, Sequence[str]]) -> Fields:
        try:
            return stream.fields(wanted)
        except JsonFileError as err:
            raise DiffError(
                f"{path}: cannot read it a second time ({err}); run diff again once nothing "
                "writes it"
            ) from err

    return fields


def diff(old: Path, new: Path) -> Changes:
    before, after = _manifest(old), _manifest(new)
    return compare(
        before.manifest(),
        after.manifest(),
        _table_order(new),
        old_fields=_fields(before, old / "manifest.json"),
        new_fields=_fields(after, new / "manifest.json"),
    )


class FullManifest(NamedTuple):
    """What full_manifest found: the manifest to compare with, where its changed fields come
    from (Changes.fields_from), and how to read them (None: from the manifest's entries)."""

    manifest: Mapping[str, Any]
    fields_from: str | bool | None
    fields: FieldsOf | None = None


def full_manifest(build: Path, name: str, release: Mapping[str, Any]) -> FullManifest:
    """The release with its field hashes, for listing which fields changed since it, and
    where they came from (Changes.fields_from): release itself when it is a full manifest
    (False), else the manifest of its build in build/ (build/<version>/ or the zip) when
    that holds the same records, else release itself (None: fields unknown). A build that
    differs from the recorded release (rebuilt from other records) is not used.

    The build's manifest is read as a stream: its hashes now, the fields of the changed
    records when compare asks for them (fields)."""
    if has_fields(release):
        return FullManifest(release, False)
    version = str(release["version"])
    zipped = build / f"{name}-{version}.zip"
    member = f"{name}-{version}/manifest.json"
    candidates: list[tuple[Source, str]] = [
        (file_source(build / version / "manifest.json"), f"build/{version}/manifest.json"),
        (zip_member_source(zipped, member), f"build/{zipped.name} ({member})"),
    ]
    for source, where in candidates:
        try:
            found = read_manifest(source)
        except (JsonFileError, NotAManifest):
            continue
        data = found.manifest()
        if same_content(data, release):
            return FullManifest(data, where, _build_fields(found, where, version))
    return FullManifest(release, None)


def _build_fields(stream: ManifestStream, where: str, version: str) -> FieldsOf:
    """The fields of the build's records, as a ManifestError (the release cannot go on) when
    its manifest changed since its hashes were read (a build of that version meanwhile)."""

    def fields(wanted: Mapping[str, Sequence[str]]) -> Fields:
        try:
            return stream.fields(wanted)
        except JsonFileError as err:
            raise ManifestError(
                f"{where}: cannot read it a second time ({err}), as when {version} is built "
                "meanwhile; build again once it is not"
            ) from err

    return fields
