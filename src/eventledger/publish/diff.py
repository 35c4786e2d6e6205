"""Compare two built releases by the manifests they carry (build/<version>/manifest.json),
and find the full manifest of a release git keeps only in compact form.

A full manifest is read as a stream (manifest_stream): its head and record hashes first,
then the fields of the changed records only, so that a release of any size compares (a
million events' manifest.json is about 1.06 GB)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    zip_folder,
    zip_member_json,
    zip_member_source,
)


class DiffError(Exception):
    """A folder is not a built release: the comparison cannot start."""


class _Build(NamedTuple):
    """A build to compare: its manifest's hashes (and how to read its fields), where that
    manifest is (for messages), and its tables in the order its datapackage.json lists them
    (manifests keep them sorted; unknown: [])."""

    stream: ManifestStream
    where: str
    order: list[str]


def _build(path: Path) -> _Build:
    """The build at path, its folder (build/<version>) or its zip. Of a zip, the members
    manifest.json and datapackage.json are read where they are, as a stream: a million
    events' release unpacks to 15 GiB, of which diff reads the manifest alone."""
    if path.is_dir():
        manifest = path / "manifest.json"
        return _Build(_manifest(file_source(manifest), str(manifest)), str(manifest), _order(path))
    archive = path.resolve()  # the zip the user named, through a link if it is one
    try:
        folder = zip_folder(archive)
    except JsonFileError as err:
        raise DiffError(
            f"{path} is neither a release folder nor a zip of one ({err}); pass build/<version> "
            "folders or their zips"
        ) from err
    member = f"{folder}/manifest.json"
    where = f"{path} ({member})"
    try:
        data = zip_member_json(archive, f"{folder}/datapackage.json")
        order = [str(r["name"]) for r in data["resources"]]
    except (JsonFileError, KeyError, TypeError):
        order = []
    return _Build(_manifest(zip_member_source(archive, member), where), where, order)


def _not_read(where: str, err: JsonFileError) -> DiffError:
    at = f", line {err.line}, column {err.column}" if err.line else ""
    return DiffError(f"{where}: not a built release ({err}{at}); pass build/<version> folders")


def _manifest(source: Source, where: str) -> ManifestStream:
    try:
        return read_manifest(source)
    except JsonFileError as err:
        raise _not_read(where, err) from err
    except NotAManifest as err:
        raise DiffError(
            f"{where}: not the manifest of a built release ({err}); pass build/<version> folders"
        ) from err


def _order(folder: Path) -> list[str]:
    """The tables in the order the build's descriptor lists them (manifests keep them sorted)."""
    try:
        data = read_json(folder / "datapackage.json")
        return [str(r["name"]) for r in data["resources"]]
    except (JsonFileError, KeyError, TypeError):
        return []


def _reader(stream: ManifestStream, failed: Callable[[JsonFileError], Exception]) -> FieldsOf:
    """The fields of the stream's records, read again from its file; failed(err) is raised
    when that file is no longer readable or no longer the file its hashes came from."""

    def fields(wanted: Mapping[str, Sequence[str]]) -> Fields:
        try:
            return stream.fields(wanted)
        except JsonFileError as err:
            raise failed(err) from err

    return fields


def _fields(build: _Build) -> FieldsOf:
    """The fields of the build's records, as diff's error when its manifest changed since
    its hashes were read: a release rebuilt meanwhile, not a folder that is none."""
    return _reader(
        build.stream,
        lambda err: DiffError(
            f"{build.where}: cannot read it again ({err}); run diff again once nothing writes it"
        ),
    )


def diff(old: Path, new: Path) -> Changes:
    """What changed from the build old to the build new, each its folder or its zip."""
    before, after = _build(old), _build(new)
    return compare(
        before.stream.manifest(),
        after.stream.manifest(),
        after.order,
        old_fields=_fields(before),
        new_fields=_fields(after),
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
    return _reader(
        stream,
        lambda err: ManifestError(
            f"{where}: cannot read it again ({err}), as when {version} is built "
            "meanwhile; build again once it is not"
        ),
    )
